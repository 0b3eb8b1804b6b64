//! Functions whose new version `CREATE OR REPLACE` refuses: a renamed input parameter (the
//! engine's key has the names, PostgreSQL's identity does not), a removed default, OUT
//! parameters that make another row type. Each is dropped and created, its dependents with it.

use crate::support::{converges, position, scalar_text, sqls};

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
    let pos = |needle: &str| position(&sql, needle);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_checks_indexes_policies_and_trigger_conditions_calling_a_recreated_function_follow_it(
) {
    // Same text on both sides for every dependent: only the functions change (result type, a
    // parameter name), and PostgreSQL refuses to drop a function something still calls.
    let tables = "CREATE TABLE orders (
             id integer PRIMARY KEY,
             tenant integer DEFAULT current_tenant(),
             code text,
             qty integer CHECK (qty <= max_qty()),
             audited boolean DEFAULT false);
         CREATE UNIQUE INDEX orders_code_key ON orders ((normalize_code(code)));
         COMMENT ON INDEX orders_code_key IS 'case-insensitive';
         CREATE INDEX orders_large ON orders (id) WHERE qty > max_qty() / 2;
         ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
         CREATE POLICY mine ON orders USING (tenant = current_tenant());
         CREATE FUNCTION mark() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.audited := true; RETURN NEW; END $$;
         CREATE TRIGGER audit BEFORE INSERT ON orders FOR EACH ROW WHEN (NEW.qty > max_qty() / 10) EXECUTE FUNCTION mark();";
    let (plan, db) = converges(
        &format!(
            "CREATE FUNCTION max_qty() RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 100 $$;
             CREATE FUNCTION normalize_code(code text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(code) $$;
             CREATE FUNCTION current_tenant() RETURNS integer LANGUAGE sql STABLE AS $$ SELECT 7 $$;
             {tables}"
        ),
        &format!(
            "CREATE FUNCTION max_qty() RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT 100 $$;
             CREATE FUNCTION normalize_code(input text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(input) $$;
             CREATE FUNCTION current_tenant() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT 7 $$;
             {tables}"
        ),
    )
    .await;
    let sql = sqls(&plan);
    let pos = |needle: &str| position(&sql, needle);
    assert!(
        pos("DROP INDEX public.orders_code_key")
            < pos("DROP FUNCTION public.normalize_code(code text)")
    );
    assert!(pos("DROP POLICY mine") < pos("DROP FUNCTION public.current_tenant()"));
    assert!(pos("CREATE OR REPLACE FUNCTION public.max_qty()") < pos("CREATE TRIGGER audit"));
    let mut conn = db.connect().await;
    sqlx::raw_sql("INSERT INTO orders (id, code, qty) VALUES (1, 'AB', 20)")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        scalar_text(&mut conn, "SELECT tenant || ',' || audited FROM orders").await,
        "7,true"
    );
    let duplicate = sqlx::raw_sql("INSERT INTO orders (id, code, qty) VALUES (2, 'ab', 1)")
        .execute(&mut conn)
        .await;
    assert!(duplicate.is_err(), "the rebuilt unique index still holds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domains_default_and_check_calling_a_recreated_function_follow_it() {
    let uses = "CREATE DOMAIN amount AS integer DEFAULT start_at() CONSTRAINT amount_cap CHECK (VALUE <= cap());
         CREATE TABLE stock (id integer PRIMARY KEY, n amount, code text,
             CONSTRAINT stock_code_excl EXCLUDE USING btree ((lower(code) || cap()::text) WITH =));
         ALTER TABLE stock ADD CONSTRAINT stock_id_cap CHECK (id <= cap()) NOT VALID;";
    let (plan, db) = converges(
        &format!(
            "CREATE FUNCTION cap() RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 100 $$;
             CREATE FUNCTION start_at() RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 5 $$;
             {uses}"
        ),
        &format!(
            "CREATE FUNCTION cap() RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT 100 $$;
             CREATE FUNCTION start_at() RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT 5 $$;
             {uses}"
        ),
    )
    .await;
    let sql = sqls(&plan);
    let pos = |needle: &str| position(&sql, needle);
    assert!(
        pos("ALTER DOMAIN public.amount DROP DEFAULT") < pos("DROP FUNCTION public.start_at()")
    );
    assert!(pos("DROP CONSTRAINT amount_cap") < pos("DROP FUNCTION public.cap()"));
    let mut conn = db.connect().await;
    sqlx::raw_sql("INSERT INTO stock (id, code) VALUES (1, 'a')")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        scalar_text(&mut conn, "SELECT n::text FROM stock").await,
        "5"
    );
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT convalidated::text FROM pg_constraint WHERE conname = 'stock_id_cap'"
        )
        .await,
        "false",
        "the NOT VALID check is made again NOT VALID"
    );
}
