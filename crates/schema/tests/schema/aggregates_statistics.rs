//! Aggregates and extended statistics are modelled: created, changed and dropped so that apply
//! converges (checked before COMMIT) and a second plan is empty.

use crate::support::{converges, scalar_text, step_at};

const SUM_SQ: &str = "CREATE FUNCTION add_sq(s bigint, v integer) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT s + v * v $$;
CREATE FUNCTION add_cube(s bigint, v integer) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT s + v * v * v $$;
CREATE TABLE nums (n integer); INSERT INTO nums VALUES (1), (2), (3);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_aggregate_with_comment_and_grant_is_created_after_its_function_and_a_view_uses_it() {
    let (plan, db) = converges(
        "CREATE TABLE nums (n integer); INSERT INTO nums VALUES (1), (2), (3);",
        &format!(
            "{SUM_SQ}
             CREATE AGGREGATE sum_sq(integer) (sfunc = add_sq, stype = bigint, initcond = '0', parallel = safe);
             COMMENT ON AGGREGATE sum_sq(integer) IS 'sum of squares';
             REVOKE EXECUTE ON FUNCTION sum_sq(integer) FROM PUBLIC;
             GRANT EXECUTE ON FUNCTION sum_sq(integer) TO reporting;
             CREATE VIEW squares AS SELECT sum_sq(n) AS s FROM nums;"
        ),
    )
    .await;
    let pos = |needle: &str| step_at(&plan, needle);
    assert!(pos("FUNCTION public.add_sq") < pos("CREATE AGGREGATE public.sum_sq"));
    assert!(pos("CREATE AGGREGATE public.sum_sq") < pos("CREATE VIEW public.squares"));
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(&mut conn, "SELECT s::text FROM squares").await,
        "14"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aggregate_changes_its_function_and_initial_state_in_place() {
    let (plan, db) = converges(
        &format!("{SUM_SQ} CREATE AGGREGATE agg(integer) (sfunc = add_sq, stype = bigint, initcond = '0');"),
        &format!("{SUM_SQ} CREATE AGGREGATE agg(integer) (sfunc = add_cube, stype = bigint, initcond = '100');"),
    )
    .await;
    assert!(
        plan.steps
            .iter()
            .any(|s| s.sql.starts_with("CREATE OR REPLACE AGGREGATE public.agg")),
        "{:#?}",
        plan.steps
    );
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(&mut conn, "SELECT agg(n)::text FROM nums").await,
        "136"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aggregate_only_in_the_database_is_dropped_before_its_function() {
    let (plan, db) = converges(
        "CREATE FUNCTION add_sq(s bigint, v integer) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT s + v * v $$;
         CREATE AGGREGATE sum_sq(integer) (sfunc = add_sq, stype = bigint, initcond = '0');",
        "",
    )
    .await;
    let pos = |needle: &str| step_at(&plan, needle);
    assert!(pos("DROP AGGREGATE public.sum_sq(integer)") < pos("DROP FUNCTION public.add_sq"));
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT count(*)::text FROM pg_proc WHERE proname IN ('sum_sq', 'add_sq')"
        )
        .await,
        "0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordered_set_aggregate_converges() {
    converges(
        "",
        "CREATE FUNCTION os_state(s internal, v double precision) RETURNS internal LANGUAGE internal AS 'ordered_set_transition';
         CREATE FUNCTION os_final(s internal, p double precision, v double precision) RETURNS double precision
           LANGUAGE internal AS 'percentile_cont_float8_final';
         CREATE AGGREGATE my_percentile(double precision ORDER BY double precision)
           (sfunc = os_state, stype = internal, finalfunc = os_final, finalfunc_extra, finalfunc_modify = read_write);",
    )
    .await;
}

const T: &str = "CREATE TABLE t (a integer, b integer, c text);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_statistics_are_created_with_a_new_table_and_carry_their_target_and_comment() {
    let (plan, _) = converges(
        "",
        &format!(
            "{T} CREATE STATISTICS t_ab (ndistinct, dependencies) ON a, b FROM t;
             ALTER STATISTICS t_ab SET STATISTICS 300;
             COMMENT ON STATISTICS t_ab IS 'a and b move together';"
        ),
    )
    .await;
    let pos = |needle: &str| step_at(&plan, needle);
    assert!(pos("CREATE TABLE public.t") < pos("CREATE STATISTICS public.t_ab"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_statistics_of_another_kind_are_recreated_and_dropped_ones_go_before_their_column()
{
    converges(
        &format!(
            "{T} CREATE STATISTICS t_ab (ndistinct) ON a, b FROM t;
             CREATE STATISTICS t_bc (mcv) ON b, c FROM t; INSERT INTO t VALUES (1, 2, 'x');"
        ),
        "CREATE TABLE t (a integer, b integer);
         CREATE STATISTICS t_ab (dependencies) ON a, b FROM t;",
    )
    .await;
}
