//! Functions whose new version `CREATE OR REPLACE` refuses: a renamed input parameter (the
//! engine's key has the names, PostgreSQL's identity does not), a removed default, OUT
//! parameters that make another row type. Each is dropped and created, its dependents with it.

use crate::support::{converges, scalar_text};

fn sqls(plan: &schema::Plan) -> String {
    plan.steps
        .iter()
        .map(|s| s.sql.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_input_parameter_drops_the_old_function_first_and_recreates_the_view_over_it() {
    let (plan, db) = converges(
        "CREATE FUNCTION greet(old_name text) RETURNS text LANGUAGE sql AS $$ SELECT 'hi ' || old_name $$;
         CREATE VIEW greeting AS SELECT greet('ann') AS g;",
        "CREATE FUNCTION greet(new_name text) RETURNS text LANGUAGE sql AS $$ SELECT 'hello ' || new_name $$;
         COMMENT ON FUNCTION greet(text) IS 'says hello';
         CREATE VIEW greeting AS SELECT greet('ann') AS g;",
    )
    .await;
    let sql = sqls(&plan);
    let pos = |needle: &str| {
        sql.find(needle)
            .unwrap_or_else(|| panic!("no {needle} in\n{sql}"))
    };
    assert!(
        pos("DROP FUNCTION public.greet(old_name text)")
            < pos("CREATE OR REPLACE FUNCTION public.greet(new_name text)")
    );
    assert_eq!(sql.matches("DROP FUNCTION").count(), 1, "{sql}");
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(&mut conn, "SELECT g FROM greeting").await,
        "hello ann"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_default_or_another_out_row_type_recreates_the_function() {
    let (plan, db) = converges(
        "CREATE FUNCTION add(a int, b int DEFAULT 1) RETURNS int LANGUAGE sql AS $$ SELECT a + b $$;
         CREATE FUNCTION pair(a int, OUT x int, OUT y int) LANGUAGE sql AS $$ SELECT a, a $$;",
        "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql AS $$ SELECT a + b $$;
         CREATE FUNCTION pair(a int, OUT x int, OUT z text) LANGUAGE sql AS $$ SELECT a, a::text $$;",
    )
    .await;
    let sql = sqls(&plan);
    assert!(
        sql.contains("DROP FUNCTION public.add(a integer, b integer)"),
        "{sql}"
    );
    assert!(
        sql.contains("DROP FUNCTION public.pair(a integer, OUT x integer, OUT y integer)"),
        "{sql}"
    );
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(&mut conn, "SELECT add(2, 3)::text || (pair(4)).z").await,
        "54"
    );
}
