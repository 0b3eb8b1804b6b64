//! CHECKs, domain checks and partial-index predicates that PostgreSQL renders differently after a
//! round trip (`varchar … IN (…)`): the engine converges on them, a database restored from the
//! rendered text shows no difference, a genuinely changed definition is still planned, and one
//! left NOT VALID is validated in place.

use schema::{CompareOptions, Model, Target};
use testkit::TestDb;

use crate::support::{db_from, leftover, model, scalar_text};

const OLD: &str =
    "CREATE TABLE public.orders (id integer PRIMARY KEY, status varchar(10) NOT NULL);
                   INSERT INTO public.orders SELECT g, 'pending' FROM generate_series(1, 50) g;";

const NEW: &str = "CREATE TABLE public.orders (id integer PRIMARY KEY, status varchar(10) NOT NULL,
                     CONSTRAINT orders_status CHECK (status IN ('pending', 'shipped')));";

/// The model of SQL `sql`, loaded in a scratch database next to `db`.
async fn target(db: &TestDb, sql: &str) -> Model {
    schema::load_target(&db.url, &Target::Sql(sql.to_string()))
        .await
        .expect("loading the target")
}

/// `db`'s model and `to` with what renders the same taken from it, as the commands compare them.
async fn reconciled(db: &TestDb, to: &Model) -> (Model, Model) {
    let from = model(db).await;
    let mut to = to.clone();
    schema::reconcile_url(&db.url, &from, &mut to)
        .await
        .expect("reconciling");
    (from, to)
}

fn check(m: &Model, table: &str, name: &str) -> String {
    m.tables[&schema::QName::new("public", table)].constraints[name]
        .definition
        .clone()
}

/// Plans `db` → `to` as the commands do, applies it in one transaction (which verifies before
/// COMMIT), and returns the plan's SQL.
async fn apply(db: &TestDb, to: &Model) -> String {
    let (from, to) = reconciled(db, to).await;
    let plan = schema::plan(&from, &to, CompareOptions::default());
    schema::apply(&db.url, &from, &plan, &to, Default::default(), &mut |_| {})
        .await
        .unwrap_or_else(|e| {
            panic!(
                "apply failed: {e}\n{}\n{}",
                schema::format::plan_text(&plan),
                leftover(&e)
            )
        });
    plan.steps
        .iter()
        .map(|s| s.sql.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// No drift and an empty plan between `db` and `to`, compared as the commands compare.
async fn assert_at(db: &TestDb, to: &Model) {
    let (from, to) = reconciled(db, to).await;
    let drift = schema::compare(&from, &to, CompareOptions::default());
    assert!(
        drift.is_empty(),
        "{}",
        schema::format::drift_text(&drift, "database", "target")
    );
    let plan = schema::plan(&from, &to, CompareOptions::default());
    assert!(
        plan.is_empty(),
        "a second plan is empty: {}",
        schema::format::plan_text(&plan)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_varchar_check_in_added_to_an_existing_table_converges_and_a_second_plan_is_empty() {
    let db = db_from(OLD).await;
    let to = target(&db, NEW).await;
    let sql = apply(&db, &to).await;
    assert!(sql.contains("ADD CONSTRAINT orders_status"), "{sql}");

    // Added as the target's text, the check would render differently; the plan spelled it so
    // that the database holds exactly the target's text (what a dump of the target shows).
    assert!(sql.contains("::character varying[]::text[]"), "{sql}");
    let live = model(&db).await;
    assert_eq!(
        check(&live, "orders", "orders_status"),
        check(&to, "orders", "orders_status")
    );
    assert_at(&db, &to).await;
    let mut conn = db.connect().await;
    let refused = sqlx::raw_sql("INSERT INTO public.orders VALUES (100, 'lost')")
        .execute(&mut conn)
        .await
        .expect_err("the check is in force");
    assert!(refused.to_string().contains("orders_status"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_table_with_a_varchar_check_in_is_made_with_the_targets_own_text() {
    let db = db_from("CREATE TABLE public.other (id integer);").await;
    let to = target(&db, NEW).await;
    let sql = apply(&db, &to).await;
    assert!(sql.contains("CREATE TABLE public.orders"), "{sql}");
    let live = model(&db).await;
    assert_eq!(
        check(&live, "orders", "orders_status"),
        check(&to, "orders", "orders_status")
    );
    assert_at(&db, &to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_built_from_the_in_source_or_restored_from_its_rendering_shows_no_difference() {
    let same_source = db_from(NEW).await;
    let to = target(&same_source, NEW).await;
    assert_at(&same_source, &to).await;

    // What pg_dump writes and a restore runs: the rendered text, which renders differently again.
    let rendered = check(&to, "orders", "orders_status");
    let restored = db_from(&format!(
        "CREATE TABLE public.orders (id integer PRIMARY KEY, status varchar(10) NOT NULL);
         ALTER TABLE public.orders ADD CONSTRAINT orders_status {rendered};"
    ))
    .await;
    let live = model(&restored).await;
    assert_ne!(check(&live, "orders", "orders_status"), rendered);
    assert!(
        !schema::compare(&live, &to, CompareOptions::default()).is_empty(),
        "as text the two differ"
    );
    assert_at(&restored, &to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_in_list_is_still_planned_and_applied() {
    let db = db_from(&format!(
        "{NEW} INSERT INTO public.orders SELECT g, 'shipped' FROM generate_series(1, 20) g;"
    ))
    .await;
    let to = target(
        &db,
        &NEW.replace("'pending', 'shipped'", "'pending', 'shipped', 'lost'"),
    )
    .await;
    let (from, reconciled_to) = reconciled(&db, &to).await;
    let drift = schema::compare(&from, &reconciled_to, CompareOptions::default());
    let text = schema::format::drift_text(&drift, "database", "target");
    assert!(text.contains("constraint orders_status"), "{text}");
    assert!(text.contains("'lost'"), "{text}");

    let sql = apply(&db, &to).await;
    assert!(sql.contains("ADD CONSTRAINT orders_status"), "{sql}");
    assert_at(&db, &to).await;
    let mut conn = db.connect().await;
    sqlx::raw_sql("INSERT INTO public.orders VALUES (100, 'lost')")
        .execute(&mut conn)
        .await
        .expect("the new list allows it");
    assert_eq!(
        scalar_text(&mut conn, "SELECT count(*)::text FROM public.orders").await,
        "21"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_check_in_and_a_partial_index_over_varchar_converge() {
    let db = db_from(
        "CREATE DOMAIN public.kind AS varchar(10);
         CREATE TABLE public.items (id integer PRIMARY KEY, kind public.kind, status varchar(10));
         INSERT INTO public.items SELECT g, 'a', 'open' FROM generate_series(1, 30) g;",
    )
    .await;
    let to = target(
        &db,
        "CREATE DOMAIN public.kind AS varchar(10) CONSTRAINT kind_check CHECK (VALUE IN ('a', 'b'));
         CREATE TABLE public.items (id integer PRIMARY KEY, kind public.kind, status varchar(10));
         CREATE INDEX items_open ON public.items (id) WHERE status IN ('open', 'held');",
    )
    .await;
    let sql = apply(&db, &to).await;
    assert!(sql.contains("ADD CONSTRAINT kind_check"), "{sql}");
    assert!(sql.contains("CREATE INDEX items_open"), "{sql}");

    // The plan wrote both spelled so that they render back as the target's own text: the
    // database holds what a dump of the target holds, not the second rendering.
    let live = model(&db).await;
    let kind = schema::QName::new("public", "kind");
    let items = schema::QName::new("public", "items");
    assert_eq!(
        live.domains[&kind].constraints["kind_check"].definition,
        to.domains[&kind].constraints["kind_check"].definition
    );
    assert_eq!(
        live.tables[&items].indexes["items_open"].definition,
        to.tables[&items].indexes["items_open"].definition
    );
    assert!(sql.contains("::character varying[]::text[]"), "{sql}");
    assert_at(&db, &to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rendered_check_left_not_valid_is_validated_in_place_not_dropped_and_added() {
    // What an interrupted online apply leaves: the target's text added NOT VALID, not validated.
    let db = db_from(OLD).await;
    let to = target(&db, NEW).await;
    let rendered = check(&to, "orders", "orders_status");
    let mut conn = db.connect().await;
    sqlx::raw_sql(&format!(
        "ALTER TABLE public.orders ADD CONSTRAINT orders_status {rendered} NOT VALID"
    ))
    .execute(&mut conn)
    .await
    .unwrap();

    let (from, reconciled_to) = reconciled(&db, &to).await;
    let plan = schema::plan(&from, &reconciled_to, CompareOptions::default());
    let sql: Vec<&str> = plan.steps.iter().map(|s| s.sql.as_str()).collect();
    assert_eq!(
        sql,
        ["ALTER TABLE public.orders VALIDATE CONSTRAINT orders_status;"],
        "{}",
        schema::format::plan_text(&plan)
    );
    apply(&db, &to).await;
    assert_at(&db, &to).await;
}

const TICKETS: &str = "CREATE TABLE public.tickets (id integer PRIMARY KEY, status varchar(10),
                         open boolean GENERATED ALWAYS AS (status IN ('new', 'held')) STORED);
                       CREATE POLICY open_only ON public.tickets USING (status IN ('new', 'held'))
                         WITH CHECK (status IN ('new', 'held', 'done'));";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_column_and_a_policy_over_varchar_in_converge_and_a_restored_copy_shows_no_difference(
) {
    let db = db_from(
        "CREATE TABLE public.tickets (id integer PRIMARY KEY, status varchar(10));
         INSERT INTO public.tickets SELECT g, 'new' FROM generate_series(1, 20) g;",
    )
    .await;
    let to = target(&db, TICKETS).await;
    let sql = apply(&db, &to).await;
    assert!(sql.contains("GENERATED ALWAYS AS"), "{sql}");
    assert!(sql.contains("CREATE POLICY open_only"), "{sql}");
    assert_at(&db, &to).await;

    let tickets = schema::QName::new("public", "tickets");
    let (generated, policy) = {
        let t = &to.tables[&tickets];
        (
            t.column("open").unwrap().generated.clone().unwrap(),
            t.policies["open_only"].clone(),
        )
    };
    let (using, with_check) = (policy.using.unwrap(), policy.with_check.unwrap());
    let restored = db_from(&format!(
        "CREATE TABLE public.tickets (id integer PRIMARY KEY, status varchar(10),
           open boolean GENERATED ALWAYS AS ({generated}) STORED);
         CREATE POLICY open_only ON public.tickets USING ({using}) WITH CHECK ({with_check});"
    ))
    .await;
    let live = model(&restored).await;
    let t = &live.tables[&tickets];
    assert_ne!(
        t.column("open").unwrap().generated.as_ref(),
        Some(&generated)
    );
    assert_ne!(t.policies["open_only"].using.as_ref(), Some(&using));
    assert_ne!(
        t.policies["open_only"].with_check.as_ref(),
        Some(&with_check)
    );
    assert_at(&restored, &to).await;
}
