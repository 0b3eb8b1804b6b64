//! Composite and range types are modelled: created, altered in place and dropped so that apply
//! converges; what PostgreSQL cannot alter in place is a blocker. An enum whose new label the plan
//! uses at once is recreated, not given the label in place.

use schema::CompareOptions;

use crate::support::{converges, db_from, model, scalar_text, step_at};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composite_and_range_types_are_created_before_the_tables_and_functions_that_use_them() {
    let (plan, db) = converges(
        "",
        "CREATE DOMAIN cents AS bigint CHECK (VALUE >= 0);
         CREATE TYPE money_pair AS (amount cents, currency text COLLATE \"C\");
         CREATE TYPE priced AS (item text, price money_pair);
         COMMENT ON TYPE priced IS 'an item with its price';
         COMMENT ON COLUMN priced.item IS 'what is sold';
         CREATE TYPE span AS RANGE (subtype = float8, subtype_diff = float8mi);
         CREATE FUNCTION first_price(p priced) RETURNS cents LANGUAGE sql IMMUTABLE AS $$ SELECT (p.price).amount $$;
         CREATE TABLE orders (id integer, what priced, valid span);",
    )
    .await;
    let pos = |needle: &str| step_at(&plan, needle);
    assert!(pos("CREATE DOMAIN public.cents") < pos("CREATE TYPE public.money_pair"));
    assert!(pos("CREATE TYPE public.money_pair") < pos("CREATE TYPE public.priced"));
    assert!(pos("CREATE TYPE public.priced") < pos("FUNCTION public.first_price"));
    let mut conn = db.connect().await;
    sqlx::raw_sql("INSERT INTO orders VALUES (1, ROW('tea', ROW(250, 'RUB')), '[1,2)')")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT public.first_price(what)::text FROM orders"
        )
        .await,
        "250"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_composite_type_gains_loses_and_retypes_attributes_in_place() {
    let (plan, _) = converges(
        "CREATE TYPE pair AS (x integer, y integer, z text);
         CREATE FUNCTION sum_of(p pair) RETURNS bigint LANGUAGE sql AS $$ SELECT p.x + p.y $$;",
        "CREATE TYPE pair AS (x integer, y bigint, w numeric);
         COMMENT ON COLUMN pair.w IS 'weight';
         CREATE FUNCTION sum_of(p pair) RETURNS bigint LANGUAGE sql AS $$ SELECT p.x + p.y $$;",
    )
    .await;
    assert!(
        plan.steps.iter().all(|s| !s.sql.contains("DROP TYPE")),
        "{:#?}",
        plan.steps
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn types_only_in_the_database_are_dropped_after_what_uses_them() {
    converges(
        "CREATE DOMAIN cents AS bigint;
         CREATE TYPE money_pair AS (amount cents, currency text);
         CREATE TYPE span AS RANGE (subtype = float8);
         CREATE FUNCTION amount_of(p money_pair) RETURNS cents LANGUAGE sql AS $$ SELECT p.amount $$;
         CREATE TABLE t (id integer, s span, m money_pair);",
        "CREATE TABLE t (id integer);",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordered_attributes_and_a_changed_range_are_blockers() {
    let db = db_from(
        "CREATE TYPE pair AS (x integer, y integer); CREATE TYPE span AS RANGE (subtype = float8);",
    )
    .await;
    let target = model(
        &db_from(
            "CREATE TYPE pair AS (y integer, x integer); CREATE TYPE span AS RANGE (subtype = numeric);",
        )
        .await,
    )
    .await;
    let plan = schema::plan(&model(&db).await, &target, CompareOptions::default());
    assert!(
        plan.unmodelled
            .iter()
            .any(|b| b.starts_with("composite type public.pair: its attributes change order")),
        "{:?}",
        plan.unmodelled
    );
    assert!(
        plan.unmodelled
            .iter()
            .any(|b| b.starts_with("range type public.span:")),
        "{:?}",
        plan.unmodelled
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enum_label_the_plan_uses_at_once_is_not_added_in_place_but_the_type_recreated() {
    // `ADD VALUE` in the transaction would leave 'archived' unusable until COMMIT, and the new
    // default uses it in the same transaction.
    let (plan, db) = converges(
        "CREATE TYPE status AS ENUM ('active', 'pending');
         CREATE TABLE work (id int PRIMARY KEY, state status NOT NULL DEFAULT 'pending');
         INSERT INTO work (id) VALUES (1);",
        "CREATE TYPE status AS ENUM ('active', 'pending', 'archived');
         CREATE TABLE work (id int PRIMARY KEY, state status NOT NULL DEFAULT 'archived');",
    )
    .await;
    let sql: Vec<&str> = plan.steps.iter().map(|s| s.sql.as_str()).collect();
    assert!(!sql.iter().any(|s| s.contains("ADD VALUE")), "{sql:?}");
    let mut conn = db.connect().await;
    sqlx::raw_sql("INSERT INTO work (id) VALUES (2)")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT string_agg(state::text, ',' ORDER BY id) FROM work"
        )
        .await,
        "pending,archived"
    );
}
