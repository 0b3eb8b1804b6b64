//! The online path: indexes built concurrently, constraints validated after the transaction, a
//! NOT NULL through a validated CHECK, an integer → bigint retype by expand/contract with its
//! views; each resumable after an interruption, and writers not held up by the backfill.

use std::time::Duration;

use schema::online::{self, Mode, OnlinePlan, OnlineProgress, PathKind, TailStep};
use schema::{CompareOptions, Model};
use sqlx::Connection;

use crate::support::{db_from, model, scalar_text};

pub async fn online_plan(db: &testkit::TestDb, target: &Model, mode: Mode) -> (Model, OnlinePlan) {
    let before = model(db).await;
    let plan = schema::plan(&before, target, CompareOptions::default());
    let online = online::plan(&before, target, &plan, mode);
    (before, online)
}

pub async fn run(
    db: &testkit::TestDb,
    before: &Model,
    online: &OnlinePlan,
    target: &Model,
    options: schema::ApplyOptions,
) -> Result<online::OnlineReport, schema::SchemaError> {
    online::apply(&db.url, before, online, target, options, 1_000, &mut |_| {}).await
}

/// Nothing left to do and no drift, on the plain planner's own terms.
pub async fn at_target(db: &testkit::TestDb, target: &Model) {
    let now = model(db).await;
    let drift = schema::compare(&now, target, CompareOptions::default());
    assert!(
        drift.is_empty(),
        "{}",
        schema::format::drift_text(&drift, "db", "target")
    );
    assert!(schema::plan(&now, target, CompareOptions::default()).is_empty());
}

pub async fn scalar_i64(conn: &mut sqlx::PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

const ITEMS: &str = r#"
CREATE TABLE owners (id integer PRIMARY KEY);
CREATE TABLE items (id integer PRIMARY KEY, owner_id integer, code text);
INSERT INTO owners SELECT g FROM generate_series(1, 100) g;
INSERT INTO items SELECT g, 1 + g % 100, 'c' || g FROM generate_series(1, 5000) g;
"#;

#[tokio::test]
async fn a_plan_of_only_a_new_index_builds_it_concurrently_by_default() {
    let db = db_from(ITEMS).await;
    let target = model(
        &db_from(&format!(
            "{ITEMS} CREATE INDEX items_code_idx ON items (code);"
        ))
        .await,
    )
    .await;
    let (before, online) = online_plan(&db, &target, Mode::Auto).await;
    assert!(online.main.steps.is_empty(), "{:?}", online.main.steps);
    assert_eq!(
        online.tail,
        vec![TailStep::BuildIndex {
            table: schema::QName::new("public", "items"),
            name: "items_code_idx".into(),
            definition: "CREATE INDEX items_code_idx ON public.items USING btree (code)".into(),
        }]
    );
    assert_eq!(online.paths.len(), 1);
    assert_eq!(online.paths[0].path, PathKind::Online);
    assert!(
        online.text().contains("CREATE INDEX CONCURRENTLY"),
        "{}",
        online.text()
    );
    assert!(online
        .sql()
        .contains("CREATE INDEX CONCURRENTLY items_code_idx ON public.items"));

    let report = run(&db, &before, &online, &target, Default::default())
        .await
        .expect("online apply");
    assert!(report.main.is_none(), "no main transaction was needed");
    assert_eq!(report.tail_steps, 1);
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT i.indisvalid::text FROM pg_index i WHERE i.indexrelid = 'items_code_idx'::regclass"
        )
        .await,
        "true"
    );
    at_target(&db, &target).await;
}

#[tokio::test]
async fn a_mixed_plan_keeps_its_index_in_the_transaction_unless_online_is_asked() {
    let db = db_from(ITEMS).await;
    let target = model(
        &db_from(&format!(
            "{ITEMS} CREATE INDEX items_code_idx ON items (code); CREATE TABLE notes (id integer);"
        ))
        .await,
    )
    .await;
    let (_, auto) = online_plan(&db, &target, Mode::Auto).await;
    assert!(auto.tail.is_empty());
    assert_eq!(auto.paths.len(), 1);
    assert_eq!(auto.paths[0].path, PathKind::InTransaction);
    assert!(
        auto.paths[0].why.contains("--online"),
        "{}",
        auto.paths[0].why
    );

    let (before, on) = online_plan(&db, &target, Mode::On).await;
    assert_eq!(on.tail.len(), 1);
    assert!(on
        .main
        .steps
        .iter()
        .all(|s| !s.sql.contains("CREATE INDEX")));
    run(&db, &before, &on, &target, Default::default())
        .await
        .expect("online apply");
    at_target(&db, &target).await;

    let off_db = db_from(ITEMS).await;
    let (_, off) = online_plan(&off_db, &target, Mode::Off).await;
    assert!(off.tail.is_empty() && off.paths[0].path == PathKind::InTransaction);
}

#[tokio::test]
async fn a_new_foreign_key_is_added_not_valid_and_validated_after_the_transaction() {
    let db = db_from(ITEMS).await;
    // A new table besides: the NOT VALID statements share the main transaction with it.
    let target = model(
        &db_from(&format!(
            "{ITEMS} ALTER TABLE items ADD CONSTRAINT items_owner_fk FOREIGN KEY (owner_id) REFERENCES owners (id);
             ALTER TABLE items ADD CONSTRAINT items_code_check CHECK (code <> '');
             ALTER TABLE items ALTER COLUMN code SET NOT NULL;
             CREATE TABLE notes (id integer);"
        ))
        .await,
    )
    .await;
    let (before, online) = online_plan(&db, &target, Mode::On).await;
    let main_sql: Vec<&str> = online.main.steps.iter().map(|s| s.sql.as_str()).collect();
    assert_eq!(main_sql.len(), 4, "{main_sql:?}");
    assert_eq!(
        main_sql
            .iter()
            .filter(|s| s.ends_with("NOT VALID;"))
            .count(),
        3,
        "{main_sql:?}"
    );
    assert!(main_sql.contains(
        &"ALTER TABLE public.items ADD CONSTRAINT code__online_not_null CHECK (code IS NOT NULL) NOT VALID;"
    ));
    assert_eq!(online.tail.len(), 3);
    assert_eq!(
        online
            .tail
            .iter()
            .filter(|t| matches!(t, TailStep::Validate { add: None, .. }))
            .count(),
        2
    );

    run(&db, &before, &online, &target, Default::default())
        .await
        .expect("online apply");
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_i64(
            &mut conn,
            "SELECT count(*) FROM pg_constraint WHERE conname IN ('items_owner_fk', 'items_code_check') AND convalidated"
        )
        .await,
        2
    );
    assert_eq!(
        scalar_i64(
            &mut conn,
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'code' AND attnotnull"
        )
        .await,
        1
    );
    at_target(&db, &target).await;
}

#[tokio::test]
async fn a_plan_of_only_new_constraints_adds_and_validates_them_without_a_main_transaction() {
    let db = db_from(ITEMS).await;
    let target = model(
        &db_from(&format!(
            "{ITEMS} ALTER TABLE items ADD CONSTRAINT items_owner_fk FOREIGN KEY (owner_id) REFERENCES owners (id);"
        ))
        .await,
    )
    .await;
    let (before, online) = online_plan(&db, &target, Mode::Auto).await;
    assert!(online.main.steps.is_empty(), "{:?}", online.main.steps);
    assert_eq!(
        online.tail,
        vec![TailStep::Validate {
            table: schema::QName::new("public", "items"),
            constraint: "items_owner_fk".into(),
            add: Some("FOREIGN KEY (owner_id) REFERENCES public.owners(id)".into()),
        }]
    );
    let report = run(&db, &before, &online, &target, Default::default())
        .await
        .expect("online apply");
    assert!(report.main.is_none());
    at_target(&db, &target).await;
}

#[tokio::test]
async fn a_constraint_left_not_valid_by_an_interrupted_run_is_only_validated() {
    let db = db_from(&format!(
        "{ITEMS} ALTER TABLE items ADD CONSTRAINT items_owner_fk FOREIGN KEY (owner_id) REFERENCES owners (id) NOT VALID;"
    ))
    .await;
    let target = model(
        &db_from(&format!(
            "{ITEMS} ALTER TABLE items ADD CONSTRAINT items_owner_fk FOREIGN KEY (owner_id) REFERENCES owners (id);"
        ))
        .await,
    )
    .await;
    let (before, online) = online_plan(&db, &target, Mode::Auto).await;
    assert!(online.main.steps.is_empty(), "{:?}", online.main.steps);
    assert_eq!(
        online.tail,
        vec![TailStep::Validate {
            table: schema::QName::new("public", "items"),
            constraint: "items_owner_fk".into(),
            add: None,
        }]
    );
    run(&db, &before, &online, &target, Default::default())
        .await
        .expect("online apply");
    at_target(&db, &target).await;
}

#[tokio::test]
async fn a_new_not_null_goes_through_a_validated_check_that_is_dropped_afterwards() {
    let db = db_from(ITEMS).await;
    let target =
        model(&db_from(&ITEMS.replace("owner_id integer,", "owner_id integer NOT NULL,")).await)
            .await;
    let (before, online) = online_plan(&db, &target, Mode::Auto).await;
    assert!(online.main.steps.is_empty(), "{:?}", online.main.steps);
    assert!(matches!(online.tail[..], [TailStep::SetNotNull { .. }]));
    let mut seen = Vec::new();
    online::apply(
        &db.url,
        &before,
        &online,
        &target,
        Default::default(),
        1_000,
        &mut |p| {
            if let OnlineProgress::Ran { what, .. } = p {
                seen.push(what);
            }
        },
    )
    .await
    .expect("online apply");
    assert_eq!(
        seen,
        vec![
            "ALTER TABLE public.items ADD CONSTRAINT owner_id__online_not_null CHECK (owner_id IS NOT NULL) NOT VALID;",
            "ALTER TABLE public.items VALIDATE CONSTRAINT owner_id__online_not_null;",
            "ALTER TABLE public.items ALTER COLUMN owner_id SET NOT NULL;",
            "ALTER TABLE public.items DROP CONSTRAINT IF EXISTS owner_id__online_not_null;",
        ]
    );
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_i64(
            &mut conn,
            "SELECT count(*) FROM pg_constraint WHERE conname LIKE '%__online%'"
        )
        .await,
        0
    );
    at_target(&db, &target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_concurrent_build_leaves_an_invalid_index_that_a_rerun_rebuilds() {
    let db = db_from(ITEMS).await;
    let target = model(
        &db_from(&format!(
            "{ITEMS} CREATE INDEX items_code_idx ON items (code);"
        ))
        .await,
    )
    .await;
    let (before, online) = online_plan(&db, &target, Mode::Auto).await;
    // A transaction that wrote to the table and stays open: the concurrent build creates its
    // index, then waits for that writer, past lock_timeout, and gives up with the index INVALID.
    let mut holder = db.connect().await;
    let mut tx = holder.begin().await.unwrap();
    sqlx::query("INSERT INTO items VALUES (100000, 1, 'held')")
        .execute(&mut *tx)
        .await
        .unwrap();
    let options = schema::ApplyOptions {
        lock_timeout: Duration::from_millis(300),
        retries: 0,
        ..Default::default()
    };
    let err = run(&db, &before, &online, &target, options)
        .await
        .expect_err("the build cannot finish while the writer is open");
    assert!(
        matches!(&err, schema::SchemaError::Online { stage: "tail", .. }),
        "{err}"
    );
    tx.rollback().await.unwrap();

    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'items_code_idx'::regclass"
        )
        .await,
        "false"
    );
    // Verify does not take the leftover for the index.
    let drift = schema::compare(&model(&db).await, &target, CompareOptions::default());
    assert_eq!(drift.differences.len(), 1, "{drift:?}");

    let (before, rerun) = online_plan(&db, &target, Mode::Auto).await;
    assert!(rerun.main.steps.is_empty(), "{:?}", rerun.main.steps);
    assert_eq!(rerun.tail.len(), 1);
    let mut ran = Vec::new();
    online::apply(
        &db.url,
        &before,
        &rerun,
        &target,
        Default::default(),
        1_000,
        &mut |p| {
            if let OnlineProgress::Ran { what, .. } = p {
                ran.push(what);
            }
        },
    )
    .await
    .expect("the re-run finishes");
    assert_eq!(
        ran,
        vec![
            "DROP INDEX CONCURRENTLY IF EXISTS public.items_code_idx;",
            "CREATE INDEX CONCURRENTLY items_code_idx ON public.items USING btree (code);",
        ]
    );
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'items_code_idx'::regclass"
        )
        .await,
        "true"
    );
    at_target(&db, &target).await;
}
