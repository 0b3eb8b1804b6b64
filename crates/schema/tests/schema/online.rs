//! The online path: indexes built concurrently, constraints validated after the transaction, a
//! NOT NULL through a validated CHECK, an integer → bigint retype by expand/contract with its
//! views; each resumable after an interruption, and writers not held up by the backfill.

use std::time::Duration;

use schema::online::{self, Mode, OnlinePlan, OnlineProgress, PathKind, TailStep};
use schema::{CompareOptions, Model};
use sqlx::Connection;

use crate::support::{db_from, model, scalar_text};

async fn online_plan(db: &testkit::TestDb, target: &Model, mode: Mode) -> (Model, OnlinePlan) {
    let before = model(db).await;
    let plan = schema::plan(&before, target, CompareOptions::default());
    let online = online::plan(&before, target, &plan, mode);
    (before, online)
}

async fn run(
    db: &testkit::TestDb,
    before: &Model,
    online: &OnlinePlan,
    target: &Model,
    options: schema::ApplyOptions,
) -> Result<online::OnlineReport, schema::SchemaError> {
    online::apply(&db.url, before, online, target, options, 1_000, &mut |_| {}).await
}

/// Nothing left to do and no drift, on the plain planner's own terms.
async fn at_target(db: &testkit::TestDb, target: &Model) {
    let now = model(db).await;
    let drift = schema::compare(&now, target, CompareOptions::default());
    assert!(
        drift.is_empty(),
        "{}",
        schema::format::drift_text(&drift, "db", "target")
    );
    assert!(schema::plan(&now, target, CompareOptions::default()).is_empty());
}

async fn scalar_i64(conn: &mut sqlx::PgConnection, sql: &str) -> i64 {
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

const SESSIONS: &str = r#"
CREATE TABLE users (id integer PRIMARY KEY, name text);
CREATE TABLE letter_sessions (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'new'
);
COMMENT ON COLUMN letter_sessions.user_id IS 'who writes';
CREATE INDEX letter_sessions_user_idx ON letter_sessions (user_id, status);
CREATE VIEW session_counts AS SELECT user_id, count(*) AS n FROM letter_sessions GROUP BY user_id;
CREATE VIEW busy_users AS SELECT user_id FROM session_counts WHERE n > 20;
GRANT SELECT ON session_counts TO reporting;
"#;

const SESSION_ROWS: &str = r#"
INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 100) g;
INSERT INTO letter_sessions (user_id, status) SELECT 1 + g % 100, 'done' FROM generate_series(1, 3000) g;
"#;

async fn sessions() -> (testkit::TestDb, Model) {
    let db = db_from(&format!("{SESSIONS}{SESSION_ROWS}")).await;
    let target = model(
        &db_from(&SESSIONS.replace("user_id integer NOT NULL", "user_id bigint NOT NULL")).await,
    )
    .await;
    (db, target)
}

const ROWS_DIGEST: &str = "SELECT md5(string_agg(id || ':' || user_id || ':' || status, ',' ORDER BY id)) FROM letter_sessions";

#[tokio::test]
async fn an_integer_to_bigint_retype_goes_expand_contract_and_keeps_views_keys_and_rows() {
    let (db, target) = sessions().await;
    let (before, online) = online_plan(&db, &target, Mode::On).await;
    assert_eq!(online.retypes.len(), 1);
    assert!(
        online.main.steps.is_empty(),
        "the retype and its views leave the main transaction: {:?}",
        online.main.steps
    );
    let path = &online.paths[0];
    assert_eq!(path.path, PathKind::Online, "{path:?}");
    assert!(path.how.contains("expand/contract"));
    let swap = online.retypes[0].swap.join("\n");
    assert!(swap.contains("DROP VIEW public.busy_users;"), "{swap}");
    assert!(swap.contains("CREATE VIEW public.session_counts"), "{swap}");
    assert!(
        swap.contains("RENAME TO letter_sessions_user_idx;"),
        "{swap}"
    );

    let mut conn = db.connect().await;
    let digest = scalar_text(&mut conn, ROWS_DIGEST).await;
    let report = run(&db, &before, &online, &target, Default::default())
        .await
        .expect("online retype");
    assert_eq!(report.backfilled_rows, 3000);
    assert_eq!(report.swaps.len(), 1);
    assert_eq!(
        scalar_text(&mut conn, ROWS_DIGEST).await,
        digest,
        "every row as it was"
    );
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'letter_sessions'::regclass AND attname = 'user_id'"
        )
        .await,
        "bigint"
    );
    assert_eq!(
        scalar_i64(
            &mut conn,
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'letter_sessions'::regclass AND contype = 'f' AND convalidated"
        )
        .await,
        1
    );
    assert_eq!(
        scalar_i64(&mut conn, "SELECT count(*) FROM busy_users").await,
        100
    );
    at_target(&db, &target).await;
}

#[tokio::test]
async fn writes_go_on_while_the_backfill_copies_rows() {
    let (db, target) = sessions().await;
    let (before, online) = online_plan(&db, &target, Mode::On).await;
    // A writer on its own thread and connection; the apply hands it the floor after its first
    // backfill batch and waits (bounded) until the writer says its statements committed.
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Result<i64, String>>();
    let url = db.url.clone();
    let writer = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::raw_sql("SET lock_timeout = '5s'")
                .execute(&mut conn)
                .await
                .unwrap();
            go_rx.recv().unwrap();
            let result: Result<i64, sqlx::Error> = async {
                // A row already copied, one not yet copied, and a new one.
                sqlx::query("UPDATE letter_sessions SET user_id = 99 WHERE id = 1")
                    .execute(&mut conn)
                    .await?;
                sqlx::query("UPDATE letter_sessions SET user_id = 98 WHERE id = 2990")
                    .execute(&mut conn)
                    .await?;
                sqlx::query_scalar(
                    "INSERT INTO letter_sessions (user_id, status) VALUES (97, 'during') RETURNING id",
                )
                .fetch_one(&mut conn)
                .await
            }
            .await;
            done_tx.send(result.map_err(|e| e.to_string())).unwrap();
        })
    });
    // A Receiver is not Sync, and the progress callback must be Send.
    let done_rx = std::sync::Mutex::new(done_rx);
    let mut written: Option<Result<i64, String>> = None;
    let mut batches = 0;
    online::apply(
        &db.url,
        &before,
        &online,
        &target,
        Default::default(),
        500,
        &mut |p| {
            if let OnlineProgress::Backfilled { .. } = p {
                batches += 1;
                if batches == 1 {
                    go_tx.send(()).unwrap();
                    written = Some(
                        done_rx
                            .lock()
                            .unwrap()
                            .recv_timeout(Duration::from_secs(30))
                            .unwrap_or_else(|_| Err("the writer was held up".into())),
                    );
                }
            }
        },
    )
    .await
    .expect("online retype");
    writer.join().unwrap();
    let new_id = written
        .expect("the writer ran during the backfill")
        .expect("the writer's statements committed while the backfill was running");
    assert!(batches >= 6, "3000 rows in batches of 500: {batches}");

    let mut conn = db.connect().await;
    let got: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, user_id FROM letter_sessions WHERE id IN (1, 2990, $1) ORDER BY id",
    )
    .bind(new_id)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(got, vec![(1, 99), (2990, 98), (new_id, 97)]);
    assert_eq!(
        scalar_i64(&mut conn, "SELECT count(*) FROM letter_sessions").await,
        3001
    );
    at_target(&db, &target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retype_interrupted_before_its_swap_is_finished_by_a_rerun() {
    let (db, target) = sessions().await;
    let (before, online) = online_plan(&db, &target, Mode::On).await;
    // Once the expand is done, a reader opens a transaction on the table and keeps it open:
    // the swap cannot have its lock in time.
    let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
    let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let url = db.url.clone();
    let reader = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            hold_rx.recv().unwrap();
            let mut tx = conn.begin().await.unwrap();
            sqlx::query("SELECT count(*) FROM letter_sessions")
                .execute(&mut *tx)
                .await
                .unwrap();
            held_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            tx.rollback().await.unwrap();
        })
    });
    let held_rx = std::sync::Mutex::new(held_rx);
    let options = schema::ApplyOptions {
        lock_timeout: Duration::from_millis(300),
        retries: 1,
        ..Default::default()
    };
    let last_prepare = "ALTER TABLE public.letter_sessions VALIDATE CONSTRAINT user_id__online_new__online_not_null;";
    let err = online::apply(
        &db.url,
        &before,
        &online,
        &target,
        options,
        1_000,
        &mut |p| {
            if matches!(&p, OnlineProgress::Ran { what, .. } if what == last_prepare) {
                hold_tx.send(()).unwrap();
                held_rx
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(30))
                    .expect("the reader holds the table");
            }
        },
    )
    .await
    .expect_err("the swap cannot take its lock");
    assert!(
        matches!(&err, schema::SchemaError::Online { stage: "swap", .. }),
        "{err}"
    );
    release_tx.send(()).unwrap();
    reader.join().unwrap();

    let mut conn = db.connect().await;
    assert_eq!(
        scalar_i64(
            &mut conn,
            "SELECT count(*) FROM letter_sessions WHERE user_id__online_new IS DISTINCT FROM user_id"
        )
        .await,
        0,
        "the shadow column is filled"
    );
    // Written between the runs: the trigger keeps the shadow column in step.
    sqlx::query("INSERT INTO letter_sessions (user_id) VALUES (5)")
        .execute(&mut conn)
        .await
        .unwrap();

    let (before, rerun) = online_plan(&db, &target, Mode::On).await;
    assert_eq!(rerun.retypes.len(), 1);
    assert!(
        rerun.main.steps.is_empty(),
        "the shadow objects are not dropped by the main transaction: {:?}",
        rerun.main.steps
    );
    run(&db, &before, &rerun, &target, Default::default())
        .await
        .expect("the re-run swaps");
    assert_eq!(
        scalar_i64(
            &mut conn,
            "SELECT count(*) FROM letter_sessions WHERE user_id = 5"
        )
        .await,
        31
    );
    at_target(&db, &target).await;
}

#[tokio::test]
async fn a_retype_stays_in_the_transaction_without_online_and_the_plan_says_why() {
    let (db, target) = sessions().await;
    let (_, auto) = online_plan(&db, &target, Mode::Auto).await;
    assert!(auto.retypes.is_empty());
    assert_eq!(auto.paths.len(), 1);
    assert_eq!(auto.paths[0].path, PathKind::InTransaction);
    assert!(auto.paths[0].why.contains("--online"));
    assert!(
        auto.text().contains("in the transaction"),
        "{}",
        auto.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleanup_interrupted_after_the_swap_is_finished_by_a_plain_rerun_without_data_loss() {
    let (db, target) = sessions().await;
    let (before, online) = online_plan(&db, &target, Mode::On).await;
    // Right after the swap commits, a reader opens a transaction on the table: the concurrent
    // drop of the retired index waits for it past lock_timeout.
    let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
    let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let url = db.url.clone();
    let reader = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            hold_rx.recv().unwrap();
            let mut tx = conn.begin().await.unwrap();
            sqlx::query("SELECT count(*) FROM letter_sessions")
                .execute(&mut *tx)
                .await
                .unwrap();
            held_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            tx.rollback().await.unwrap();
        })
    });
    let held_rx = std::sync::Mutex::new(held_rx);
    let options = schema::ApplyOptions {
        lock_timeout: Duration::from_millis(300),
        retries: 0,
        ..Default::default()
    };
    let err = online::apply(
        &db.url,
        &before,
        &online,
        &target,
        options,
        1_000,
        &mut |p| {
            if matches!(p, OnlineProgress::Swapped { .. }) {
                hold_tx.send(()).unwrap();
                held_rx
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(30))
                    .expect("the reader holds the table");
            }
        },
    )
    .await
    .expect_err("the cleanup cannot drop the retired index in time");
    assert!(
        matches!(
            &err,
            schema::SchemaError::Online {
                stage: "cleanup",
                ..
            }
        ),
        "{err}"
    );
    release_tx.send(()).unwrap();
    reader.join().unwrap();

    let mut conn = db.connect().await;
    assert_eq!(
        scalar_i64(
            &mut conn,
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'letter_sessions'::regclass AND attname = 'user_id__online_old' AND NOT attisdropped"
        )
        .await,
        1,
        "the retired column is still there"
    );
    // Without --online: the leftovers are dropped in the transaction, and that is no data loss
    // (their values live on in the column that took the name).
    let (before, rerun) = online_plan(&db, &target, Mode::Auto).await;
    assert!(rerun.retypes.is_empty() && rerun.tail.is_empty());
    assert!(
        rerun
            .main
            .steps
            .iter()
            .any(|s| s.sql.contains("user_id__online_old")),
        "{:?}",
        rerun.main.steps
    );
    assert!(
        rerun.main.hazard_kinds().is_empty(),
        "{:?}",
        rerun.main.hazards()
    );
    run(&db, &before, &rerun, &target, Default::default())
        .await
        .expect("the re-run drops the leftovers");
    at_target(&db, &target).await;
}
