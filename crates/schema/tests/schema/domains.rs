//! Domains are modelled: created, altered and dropped so that apply converges (the apply itself
//! compares with the target before COMMIT) and a second comparison finds nothing.

use schema::CompareOptions;

use crate::support::{converges, db_from, model, scalar_text, step_at};

const IS_EVEN: &str = "CREATE FUNCTION is_even(i integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT i % 2 = 0 $$;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_domain_checked_by_a_new_function_is_created_before_the_table_that_uses_it() {
    let (plan, db) = converges(
        "",
        &format!(
            "{IS_EVEN}
             CREATE DOMAIN even AS integer NOT NULL DEFAULT 0 CONSTRAINT even_check CHECK (public.is_even(VALUE));
             COMMENT ON DOMAIN even IS 'an even number';
             COMMENT ON CONSTRAINT even_check ON DOMAIN even IS 'divisible by two';
             REVOKE USAGE ON DOMAIN even FROM PUBLIC; GRANT USAGE ON DOMAIN even TO reporting WITH GRANT OPTION;
             CREATE TABLE pairs (id integer PRIMARY KEY, n even);"
        ),
    )
    .await;
    let pos = |needle: &str| step_at(&plan, needle);
    assert!(pos("CREATE DOMAIN public.even") < pos("CREATE TABLE public.pairs"));
    assert!(pos("FUNCTION public.is_even") < pos("ADD CONSTRAINT even_check"));
    let mut conn = db.connect().await;
    let err = sqlx::raw_sql("INSERT INTO pairs VALUES (1, 3)")
        .execute(&mut conn)
        .await
        .expect_err("3 is not even");
    assert!(err.to_string().contains("even_check"), "{err}");
    sqlx::raw_sql("INSERT INTO pairs (id) VALUES (2)")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        scalar_text(&mut conn, "SELECT n::text FROM pairs WHERE id = 2").await,
        "0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_changes_its_check_default_not_null_comment_and_grants_in_place() {
    let (plan, db) = converges(
        "CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
         CREATE DOMAIN code AS text DEFAULT 'x' CONSTRAINT code_short CHECK (length(VALUE) < 10);
         CREATE TABLE t (id integer PRIMARY KEY, n posint, c code);
         INSERT INTO t VALUES (1, 5, 'ab'), (2, 7, 'cd');",
        "CREATE DOMAIN posint AS integer NOT NULL DEFAULT 1 CHECK (VALUE > 1);
         COMMENT ON DOMAIN posint IS 'more than one';
         CREATE DOMAIN code AS text; ALTER DOMAIN code ADD CONSTRAINT code_lower CHECK (VALUE = lower(VALUE)) NOT VALID;
         GRANT USAGE ON DOMAIN code TO analyst;
         CREATE TABLE t (id integer PRIMARY KEY, n posint, c code);",
    )
    .await;
    assert!(
        plan.steps.iter().all(|s| !s.sql.contains("DROP DOMAIN")),
        "altered in place: {:#?}",
        plan.steps
    );
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT string_agg(id || '=' || n || c, ',' ORDER BY id) FROM t"
        )
        .await,
        "1=5ab,2=7cd",
        "rows kept"
    );
    assert!(sqlx::raw_sql("INSERT INTO t VALUES (3, 1, 'e')")
        .execute(&mut conn)
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_only_in_the_database_is_dropped_after_the_column_that_used_it() {
    let (plan, db) = converges(
        &format!(
            "{IS_EVEN} CREATE DOMAIN even AS integer CHECK (public.is_even(VALUE));
             CREATE TABLE t (id integer, n even); INSERT INTO t VALUES (1, 2);"
        ),
        "CREATE TABLE t (id integer, n integer);",
    )
    .await;
    let pos = |needle: &str| step_at(&plan, needle);
    assert!(pos("ALTER COLUMN n TYPE") < pos("DROP DOMAIN public.even"));
    assert!(pos("DROP CONSTRAINT even_check") < pos("DROP FUNCTION public.is_even"));
    let mut conn = db.connect().await;
    assert_eq!(scalar_text(&mut conn, "SELECT n::text FROM t").await, "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_whose_base_type_changes_blocks_the_plan() {
    let db = db_from("CREATE DOMAIN amount AS integer;").await;
    let target = model(&db_from("CREATE DOMAIN amount AS bigint;").await).await;
    let from = model(&db).await;
    let drift = schema::compare(&from, &target, CompareOptions::default());
    assert!(drift
        .differences
        .iter()
        .any(|d| d.kind == "domain" && d.details.iter().any(|l| l.starts_with("base type"))));
    let plan = schema::plan(&from, &target, CompareOptions::default());
    assert!(
        plan.unmodelled
            .iter()
            .any(|b| b.starts_with("domain public.amount: base type")),
        "{:?}",
        plan.unmodelled
    );
    let err = schema::apply(
        &db.url,
        &from,
        &plan,
        &target,
        Default::default(),
        &mut |_| {},
    )
    .await
    .expect_err("blocked");
    assert!(matches!(err, schema::SchemaError::Blocked(_)));
}
