//! Plans are ordered by what each statement creates, drops and needs (pg_depend of both sides),
//! not by kind: functions over row types, SQL-standard function bodies that read tables and views,
//! defaults and domain checks calling them, views over functions returning a table's rows, and
//! drops of what used a dropped object.

use schema::CompareOptions;

use crate::support::{assert_refused_unchanged, converges, db_from, model, scalar_text};

/// Where the first step whose SQL contains `needle` is.
fn pos(plan: &schema::Plan, needle: &str) -> usize {
    plan.steps
        .iter()
        .position(|s| s.sql.contains(needle))
        .unwrap_or_else(|| panic!("no step {needle}:\n{}", schema::format::plan_text(plan)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_calling_a_function_over_a_new_tables_row_type_is_created_after_that_function() {
    let (plan, db) = converges(
        "",
        "CREATE TABLE people (id integer PRIMARY KEY, first text, last text);
         CREATE FUNCTION full_name(p people) RETURNS text LANGUAGE sql IMMUTABLE
             RETURN p.first || ' ' || p.last;
         CREATE VIEW names AS SELECT id, full_name(people) AS name FROM people;",
    )
    .await;
    assert!(pos(&plan, "CREATE TABLE public.people") < pos(&plan, "FUNCTION public.full_name"));
    assert!(pos(&plan, "FUNCTION public.full_name") < pos(&plan, "CREATE VIEW public.names"));
    let mut conn = db.connect().await;
    sqlx::raw_sql("INSERT INTO people VALUES (1, 'Ada', 'Lovelace')")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        scalar_text(&mut conn, "SELECT name FROM names WHERE id = 1").await,
        "Ada Lovelace"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_over_a_function_returning_a_new_tables_rows_is_created_after_that_function() {
    let (plan, db) = converges(
        "CREATE TABLE kept (id integer PRIMARY KEY);",
        "CREATE TABLE kept (id integer PRIMARY KEY);
         CREATE TABLE events (id integer PRIMARY KEY, kind text NOT NULL);
         CREATE FUNCTION signups() RETURNS SETOF events LANGUAGE sql STABLE
             AS $$ SELECT * FROM public.events WHERE kind = 'signup' $$;
         CREATE VIEW signup_count AS SELECT count(*) AS n FROM signups();",
    )
    .await;
    assert!(pos(&plan, "CREATE TABLE public.events") < pos(&plan, "FUNCTION public.signups"));
    assert!(pos(&plan, "FUNCTION public.signups") < pos(&plan, "CREATE VIEW public.signup_count"));
    let mut conn = db.connect().await;
    sqlx::raw_sql("INSERT INTO events VALUES (1, 'signup'), (2, 'login'), (3, 'signup')")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        scalar_text(&mut conn, "SELECT n::text FROM signup_count").await,
        "2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_whose_standard_bodies_read_new_tables_and_views_come_after_them_and_before_their_users(
) {
    let (plan, db) = converges(
        "CREATE TABLE kept (id integer PRIMARY KEY);",
        "CREATE TABLE kept (id integer PRIMARY KEY);
         CREATE TABLE counters (n integer NOT NULL);
         CREATE FUNCTION next_number() RETURNS integer LANGUAGE sql
             BEGIN ATOMIC SELECT coalesce(max(n), 0) + 1 FROM public.counters; END;
         CREATE TABLE tickets (
             n integer NOT NULL DEFAULT public.next_number() CHECK (n > 0),
             label text
         );
         CREATE VIEW labelled AS SELECT n, label FROM tickets WHERE label IS NOT NULL;
         CREATE FUNCTION labelled_count() RETURNS bigint LANGUAGE sql
             BEGIN ATOMIC SELECT count(*) FROM public.labelled; END;
         CREATE VIEW summary AS SELECT public.labelled_count() AS labelled;",
    )
    .await;
    assert!(pos(&plan, "CREATE TABLE public.counters") < pos(&plan, "public.next_number()"));
    assert!(pos(&plan, "public.next_number()") < pos(&plan, "CREATE TABLE public.tickets"));
    assert!(
        pos(&plan, "CREATE VIEW public.labelled") < pos(&plan, "FUNCTION public.labelled_count")
    );
    assert!(
        pos(&plan, "FUNCTION public.labelled_count") < pos(&plan, "CREATE VIEW public.summary")
    );
    let mut conn = db.connect().await;
    sqlx::raw_sql(
        "INSERT INTO counters VALUES (41);
         INSERT INTO tickets (label) VALUES ('first');",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        scalar_text(&mut conn, "SELECT n::text FROM tickets").await,
        "42"
    );
    assert_eq!(
        scalar_text(&mut conn, "SELECT labelled::text FROM summary").await,
        "1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_whose_check_calls_a_function_reading_a_new_table_gets_its_check_after_both() {
    let (plan, db) = converges(
        "",
        "CREATE TABLE codes (code text PRIMARY KEY);
         CREATE FUNCTION is_known(c text) RETURNS boolean LANGUAGE sql STABLE
             BEGIN ATOMIC SELECT EXISTS (SELECT 1 FROM public.codes WHERE code = c); END;
         CREATE DOMAIN known_code AS text CONSTRAINT known CHECK (public.is_known(VALUE));
         CREATE TABLE orders (id integer PRIMARY KEY, code known_code);",
    )
    .await;
    assert!(pos(&plan, "CREATE TABLE public.codes") < pos(&plan, "FUNCTION public.is_known"));
    assert!(pos(&plan, "FUNCTION public.is_known") < pos(&plan, "ADD CONSTRAINT known"));
    let mut conn = db.connect().await;
    sqlx::raw_sql("INSERT INTO codes VALUES ('a'); INSERT INTO orders VALUES (1, 'a');")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = sqlx::raw_sql("INSERT INTO orders VALUES (2, 'zzz')")
        .execute(&mut conn)
        .await
        .expect_err("an unknown code breaks the domain's check");
    assert!(err.to_string().contains("known"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_function_whose_body_reads_a_dropped_table_goes_before_the_table() {
    let (plan, db) = converges(
        "CREATE TABLE stays (id integer PRIMARY KEY);
         CREATE TABLE old_counts (n integer);
         CREATE FUNCTION old_total() RETURNS bigint LANGUAGE sql
             BEGIN ATOMIC SELECT sum(n) FROM public.old_counts; END;
         CREATE FUNCTION code() RETURNS text LANGUAGE sql RETURN 'c';
         CREATE TABLE items (id integer PRIMARY KEY, c text DEFAULT public.code());",
        "CREATE TABLE stays (id integer PRIMARY KEY);
         CREATE TABLE items (id integer PRIMARY KEY, c text);",
    )
    .await;
    assert!(
        pos(&plan, "DROP FUNCTION public.old_total") < pos(&plan, "DROP TABLE public.old_counts")
    );
    assert!(pos(&plan, "DROP DEFAULT") < pos(&plan, "DROP FUNCTION public.code"));
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT count(*)::text FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
        )
        .await,
        "0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_calling_a_function_over_its_own_tables_row_type_is_set_after_the_table_and_the_function(
) {
    let (plan, db) = converges(
        "CREATE TABLE other (id integer);",
        "CREATE TABLE t (id integer PRIMARY KEY, label text);
         CREATE FUNCTION label_of(r t) RETURNS text LANGUAGE sql RETURN 'x' || coalesce(r.id, 0);
         ALTER TABLE t ALTER COLUMN label SET DEFAULT public.label_of(NULL::public.t);",
    )
    .await;
    // In one CREATE TABLE the default would need the function, which needs the table.
    let create = pos(&plan, "CREATE TABLE public.t");
    assert!(!plan.steps[create].sql.contains("label_of"));
    assert!(create < pos(&plan, "FUNCTION public.label_of"));
    assert!(pos(&plan, "FUNCTION public.label_of") < pos(&plan, "SET DEFAULT public.label_of"));
    let mut conn = db.connect().await;
    sqlx::raw_sql("INSERT INTO t (id) VALUES (1)")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(scalar_text(&mut conn, "SELECT label FROM t").await, "x0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_calling_a_function_that_reads_a_view_over_it_is_made_first_as_a_stand_in() {
    // v1 calls a function whose body reads v2, which reads v1: no order of whole statements
    // makes all three, and PostgreSQL made it through CREATE OR REPLACE VIEW as the plan does.
    let (plan, db) = converges(
        "CREATE TABLE base (id integer);",
        "CREATE TABLE base (id integer);
         CREATE VIEW v1 AS SELECT id FROM base;
         CREATE VIEW v2 AS SELECT id FROM v1;
         CREATE FUNCTION n() RETURNS bigint LANGUAGE sql STABLE
             BEGIN ATOMIC SELECT count(*) FROM public.v2; END;
         CREATE OR REPLACE VIEW v1 AS SELECT id FROM base WHERE public.n() >= 0;",
    )
    .await;
    let stand_in = pos(
        &plan,
        "CREATE VIEW public.v1 AS SELECT NULL::integer AS id;",
    );
    assert!(stand_in < pos(&plan, "CREATE VIEW public.v2"));
    assert!(pos(&plan, "CREATE VIEW public.v2") < pos(&plan, "FUNCTION public.n()"));
    assert!(pos(&plan, "FUNCTION public.n()") < pos(&plan, "CREATE OR REPLACE VIEW public.v1"));
    assert!(
        plan.notes.iter().any(|n| n.contains("stand-in")),
        "{:?}",
        plan.notes
    );
    // (Reading v2 would recurse forever: the schema is the test's, not a useful one.)
    let mut conn = db.connect().await;
    let v1 = scalar_text(&mut conn, "SELECT pg_get_viewdef('public.v1'::regclass)").await;
    assert!(v1.contains("n() >= 0"), "{v1}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_whose_defaults_call_functions_reading_each_other_get_their_defaults_after_the_functions(
) {
    let (plan, db) = converges(
        "",
        "CREATE TABLE a (id integer, b_count bigint);
         CREATE TABLE b (id integer, a_count bigint);
         CREATE FUNCTION count_a() RETURNS bigint LANGUAGE sql STABLE
             BEGIN ATOMIC SELECT count(*) FROM public.a; END;
         CREATE FUNCTION count_b() RETURNS bigint LANGUAGE sql STABLE
             BEGIN ATOMIC SELECT count(*) FROM public.b; END;
         ALTER TABLE a ALTER COLUMN b_count SET DEFAULT public.count_b();
         ALTER TABLE b ALTER COLUMN a_count SET DEFAULT public.count_a();",
    )
    .await;
    assert!(
        plan.notes.iter().any(|n| n.contains("dependency cycle")),
        "{:?}",
        plan.notes
    );
    let set = pos(&plan, "SET DEFAULT public.count_");
    assert!(pos(&plan, "FUNCTION public.count_a()") < set);
    assert!(pos(&plan, "FUNCTION public.count_b()") < set);
    let mut conn = db.connect().await;
    sqlx::raw_sql("INSERT INTO b (id) VALUES (1); INSERT INTO a (id) VALUES (1);")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        scalar_text(&mut conn, "SELECT b_count::text FROM a").await,
        "1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_that_need_each_other_are_a_blocker_and_apply_changes_nothing() {
    // t's generated column calls a function whose body reads u, which inherits from t:
    // PostgreSQL made it by adding the generated column last, which the engine does not.
    let target = model(
        &db_from(
            "CREATE TABLE t (x integer);
             CREATE TABLE u () INHERITS (t);
             CREATE FUNCTION u_count(i integer) RETURNS integer LANGUAGE sql IMMUTABLE
                 BEGIN ATOMIC SELECT count(*)::integer + i FROM public.u; END;
             ALTER TABLE t ADD COLUMN g integer GENERATED ALWAYS AS (public.u_count(x)) STORED;",
        )
        .await,
    )
    .await;
    let db = db_from("CREATE TABLE other (id integer);").await;
    let before = model(&db).await;
    let plan = schema::plan(&before, &target, CompareOptions::default());
    assert!(plan.is_blocked());
    let cycle = plan
        .unmodelled
        .iter()
        .find(|b| b.contains("dependency cycle"))
        .unwrap_or_else(|| panic!("no cycle blocker: {:?}", plan.unmodelled));
    assert!(
        cycle.contains("table public.t") && cycle.contains("function public.u_count"),
        "{cycle}"
    );
    // Every statement is still in the plan: none is dropped to break the cycle.
    for made in [
        "CREATE TABLE public.t",
        "CREATE TABLE public.u",
        "FUNCTION public.u_count",
    ] {
        assert!(plan.steps.iter().any(|s| s.sql.contains(made)), "{made}");
    }
    assert_refused_unchanged(&db, &before, &plan, &target).await;
}
