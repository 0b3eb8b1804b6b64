//! Object kinds issue 12 lists, each brought from one state to another by a plan that the apply
//! checks before COMMIT, with a second comparison that finds nothing (`converges`).

use crate::support::{converges, position, scalar_text, sqls};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn procedures_are_created_replaced_and_dropped() {
    let (plan, db) = converges(
        "CREATE TABLE log (n integer);
         CREATE PROCEDURE add_one() LANGUAGE sql AS $$ INSERT INTO log VALUES (1) $$;
         CREATE PROCEDURE old_one() LANGUAGE sql AS $$ SELECT 1 $$;",
        "CREATE TABLE log (n integer);
         CREATE PROCEDURE add_one() LANGUAGE sql AS $$ INSERT INTO log VALUES (2) $$;
         CREATE PROCEDURE add_many(k integer) LANGUAGE plpgsql AS $$ BEGIN INSERT INTO log SELECT generate_series(1, k); END $$;
         COMMENT ON PROCEDURE add_many(integer) IS 'k rows';",
    )
    .await;
    let sql = sqls(&plan);
    assert!(sql.contains("DROP PROCEDURE public.old_one()"), "{sql}");
    let mut conn = db.connect().await;
    sqlx::raw_sql("CALL add_one(); CALL add_many(3);")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT string_agg(n::text, ',' ORDER BY n) FROM log"
        )
        .await,
        "1,2,2,3"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collation_is_created_before_the_column_that_uses_it_and_an_unused_one_is_dropped() {
    let (plan, _db) = converges(
        "CREATE COLLATION old_c (provider = libc, locale = 'C');",
        "CREATE COLLATION plain (provider = libc, locale = 'C');
         COMMENT ON COLLATION plain IS 'byte order';
         CREATE COLLATION caseless (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
         CREATE TABLE names (n text COLLATE plain, m text COLLATE caseless);",
    )
    .await;
    let sql = sqls(&plan);
    let pos = |needle: &str| position(&sql, needle);
    assert!(pos("CREATE COLLATION public.plain") < pos("CREATE TABLE public.names"));
    assert!(pos("DROP COLLATION public.old_c") > pos("CREATE TABLE public.names"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn column_level_grants_are_granted_and_revoked_per_column() {
    let (plan, db) = converges(
        "CREATE TABLE t (a integer, b integer, c integer);
         GRANT SELECT (c) ON t TO analyst; GRANT UPDATE (a) ON t TO reporting;",
        "CREATE TABLE t (a integer, b integer, c integer);
         GRANT SELECT (a, b) ON t TO analyst; GRANT UPDATE (a) ON t TO reporting WITH GRANT OPTION;",
    )
    .await;
    assert!(sqls(&plan).contains("REVOKE"), "{}", sqls(&plan));
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT string_agg(a.attname || ':' || g.privilege_type || ':' || g.is_grantable, ',' ORDER BY 1)
             FROM pg_attribute a, aclexplode(a.attacl) g
             WHERE a.attrelid = 'public.t'::regclass AND g.grantee <> 'public.t'::regclass::oid
               AND pg_get_userbyid(g.grantee) IN ('analyst', 'reporting')"
        )
        .await,
        "a:SELECT:false,a:UPDATE:true,b:SELECT:false"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_with_grant_option_on_schemas_types_functions_and_sequences_converge() {
    let base = "CREATE SCHEMA app; CREATE TYPE app.mood AS ENUM ('ok');
                CREATE FUNCTION app.f() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;
                CREATE SEQUENCE app.s;";
    let (_plan, db) = converges(
        &format!(
            "{base} GRANT USAGE ON SCHEMA app TO reporting; GRANT USAGE ON TYPE app.mood TO reporting;
             GRANT USAGE ON SEQUENCE app.s TO analyst;"
        ),
        &format!(
            "{base} GRANT USAGE ON SCHEMA app TO reporting WITH GRANT OPTION;
             GRANT USAGE ON TYPE app.mood TO reporting WITH GRANT OPTION;
             REVOKE EXECUTE ON FUNCTION app.f() FROM PUBLIC; GRANT EXECUTE ON FUNCTION app.f() TO analyst WITH GRANT OPTION;
             GRANT USAGE, SELECT ON SEQUENCE app.s TO analyst WITH GRANT OPTION;"
        ),
    )
    .await;
    let mut conn = db.connect().await;
    for (acl, from, want) in [
        (
            "n.nspacl",
            "pg_namespace n WHERE n.nspname = 'app'",
            "reporting:USAGE:true",
        ),
        (
            "t.typacl",
            "pg_type t WHERE t.typname = 'mood'",
            "reporting:USAGE:true",
        ),
        (
            "p.proacl",
            "pg_proc p WHERE p.proname = 'f'",
            "analyst:EXECUTE:true",
        ),
        (
            "c.relacl",
            "pg_class c WHERE c.relname = 's'",
            "analyst:SELECT:true,analyst:USAGE:true",
        ),
    ] {
        let sql = format!(
            "SELECT string_agg(pg_get_userbyid(g.grantee) || ':' || g.privilege_type || ':' || g.is_grantable, ',' ORDER BY 1)
             FROM (SELECT {acl} AS acl FROM {from}) o, aclexplode(o.acl) g
             WHERE g.grantee <> 0 AND pg_get_userbyid(g.grantee) IN ('analyst', 'reporting')"
        );
        assert_eq!(scalar_text(&mut conn, &sql).await, want, "{sql}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constraint_triggers_and_every_trigger_enable_state_converge() {
    let base = "CREATE TABLE t (id integer);
        CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        CREATE TRIGGER a AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();
        CREATE TRIGGER b AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();
        CREATE TRIGGER c AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();";
    let (plan, db) = converges(
        &format!("{base} ALTER TABLE t DISABLE TRIGGER c;"),
        &format!(
            "{base} ALTER TABLE t DISABLE TRIGGER a; ALTER TABLE t ENABLE REPLICA TRIGGER b;
             ALTER TABLE t ENABLE ALWAYS TRIGGER c;
             CREATE CONSTRAINT TRIGGER d AFTER INSERT ON t DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION f();"
        ),
    )
    .await;
    let sql = sqls(&plan);
    assert!(
        !sql.contains("DROP TRIGGER a"),
        "a state change keeps the trigger: {sql}"
    );
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT string_agg(tgname || tgenabled::text || tgdeferrable::text, ',' ORDER BY tgname) FROM pg_trigger
             WHERE tgrelid = 'public.t'::regclass AND NOT tgisinternal"
        )
        .await,
        "aDfalse,bRfalse,cAfalse,dOtrue"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_not_valid_constraint_is_added_without_checking_old_rows_and_a_validated_one_is_validated(
) {
    let (plan, db) = converges(
        "CREATE TABLE t (id integer, n integer);
         INSERT INTO t VALUES (1, -1), (2, 5);
         ALTER TABLE t ADD CONSTRAINT id_small CHECK (id < 10) NOT VALID;",
        "CREATE TABLE t (id integer, n integer);
         ALTER TABLE t ADD CONSTRAINT id_small CHECK (id < 10);
         ALTER TABLE t ADD CONSTRAINT n_positive CHECK (n > 0) NOT VALID;",
    )
    .await;
    let sql = sqls(&plan);
    assert!(
        sql.contains("VALIDATE CONSTRAINT id_small"),
        "validated in place: {sql}"
    );
    assert!(!sql.contains("DROP CONSTRAINT id_small"), "{sql}");
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT string_agg(conname || ':' || convalidated, ',' ORDER BY conname) FROM pg_constraint
             WHERE conrelid = 'public.t'::regclass"
        )
        .await,
        "id_small:true,n_positive:false"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_an_extension_owns_are_left_to_it() {
    let (plan, db) = converges(
        "",
        "CREATE EXTENSION citext; CREATE TABLE users (email citext PRIMARY KEY);",
    )
    .await;
    let sql = sqls(&plan);
    assert!(sql.contains("CREATE EXTENSION"), "{sql}");
    assert!(
        !sql.contains("CREATE FUNCTION")
            && !sql.contains("CREATE TYPE")
            && !sql.contains("CREATE OPERATOR"),
        "the extension's own objects are not planned: {sql}"
    );
    let mut conn = db.connect().await;
    sqlx::raw_sql("INSERT INTO users VALUES ('A@x.org')")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = sqlx::raw_sql("INSERT INTO users VALUES ('a@X.org')")
        .execute(&mut conn)
        .await
        .expect_err("citext compares without case");
    assert!(err.to_string().contains("users_pkey"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_on_every_modelled_kind_are_set_changed_and_removed() {
    let objects = "CREATE SCHEMA app;
        CREATE TYPE app.mood AS ENUM ('ok');
        CREATE TYPE app.pair AS (x integer, y integer);
        CREATE DOMAIN app.posint AS integer CONSTRAINT positive CHECK (VALUE > 0);
        CREATE COLLATION app.plain (provider = libc, locale = 'C');
        CREATE SEQUENCE app.s;
        CREATE TABLE app.t (id integer CONSTRAINT t_pk PRIMARY KEY, n app.posint, CONSTRAINT small CHECK (id < 100));
        CREATE INDEX t_n ON app.t (n);
        CREATE VIEW app.v AS SELECT id, n FROM app.t;
        CREATE MATERIALIZED VIEW app.mv AS SELECT id FROM app.t;
        CREATE FUNCTION app.f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        CREATE PROCEDURE app.p() LANGUAGE sql AS $$ SELECT 1 $$;
        CREATE TRIGGER tr BEFORE INSERT ON app.t FOR EACH ROW EXECUTE FUNCTION app.f();
        CREATE FUNCTION app.add(a integer, b integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;
        CREATE AGGREGATE app.total(integer) (sfunc = app.add, stype = integer, initcond = '0');
        CREATE STATISTICS app.st ON id, n FROM app.t;
        ALTER TABLE app.t ENABLE ROW LEVEL SECURITY;
        CREATE POLICY mine ON app.t USING (id > 0);
        CREATE PUBLICATION pub FOR TABLE app.t;";
    let kinds = [
        "SCHEMA app",
        "TYPE app.mood",
        "TYPE app.pair",
        "COLUMN app.pair.x",
        "DOMAIN app.posint",
        "CONSTRAINT positive ON DOMAIN app.posint",
        "COLLATION app.plain",
        "SEQUENCE app.s",
        "TABLE app.t",
        "COLUMN app.t.n",
        "CONSTRAINT t_pk ON app.t",
        "CONSTRAINT small ON app.t",
        "INDEX app.t_n",
        "VIEW app.v",
        "COLUMN app.v.n",
        "MATERIALIZED VIEW app.mv",
        "FUNCTION app.f()",
        "PROCEDURE app.p()",
        "TRIGGER tr ON app.t",
        "AGGREGATE app.total(integer)",
        "STATISTICS app.st",
        "POLICY mine ON app.t",
        "PUBLICATION pub",
    ];
    let comments = |text: &str, every: usize| {
        kinds
            .iter()
            .enumerate()
            .filter(|(i, _)| i % every == 0)
            .map(|(_, k)| format!("COMMENT ON {k} IS '{text}';"))
            .collect::<String>()
    };
    // Every other kind commented in FROM; every kind with another text in TO; then none.
    let from = format!("{objects}{}", comments("old", 2));
    let to = format!("{objects}{}", comments("new", 1));
    let (plan, db) = converges(&from, &to).await;
    assert!(plan.steps.len() >= kinds.len(), "{}", sqls(&plan));
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT count(*)::text FROM pg_description d WHERE d.description = 'new'
               AND d.classoid <> 'pg_namespace'::regclass OR d.objoid = 'app'::regnamespace"
        )
        .await,
        kinds.len().to_string()
    );
    let (plan, _db) = converges(&to, objects).await;
    assert!(plan.steps.len() >= kinds.len(), "{}", sqls(&plan));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publications_are_created_altered_and_dropped() {
    let tables =
        "CREATE TABLE a (id integer PRIMARY KEY); CREATE TABLE b (id integer PRIMARY KEY);";
    let (plan, db) = converges(
        &format!(
            "{tables} CREATE PUBLICATION changes FOR TABLE a; CREATE PUBLICATION gone FOR TABLE b;"
        ),
        &format!(
            "{tables} CREATE PUBLICATION changes FOR TABLE a, b WITH (publish = 'insert, update');
             CREATE PUBLICATION fresh FOR TABLE b; COMMENT ON PUBLICATION fresh IS 'new one';"
        ),
    )
    .await;
    let sql = sqls(&plan);
    assert!(sql.contains("DROP PUBLICATION gone"), "{sql}");
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT string_agg(pubname || ':' || tablename, ',' ORDER BY 1) FROM pg_publication_tables"
        )
        .await,
        "changes:a,changes:b,fresh:b"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_grant_narrowed_to_one_column_keeps_the_column_grant() {
    // Revoking UPDATE on the table takes it from every column too: the column grant goes after.
    let (_plan, db) = converges(
        "CREATE TABLE notes (body text, author text); GRANT SELECT, UPDATE ON notes TO reporting;",
        "CREATE TABLE notes (body text, author text); GRANT SELECT ON notes TO reporting;
         GRANT UPDATE (body) ON notes TO reporting;",
    )
    .await;
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT has_column_privilege('reporting', 'notes', 'body', 'UPDATE')::text
                 || ',' || has_column_privilege('reporting', 'notes', 'author', 'UPDATE')::text"
        )
        .await,
        "true,false"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_key_turned_primary_key_takes_the_foreign_keys_that_use_its_index_along() {
    // The foreign keys' text is the same on both sides; they need the unique key's index, which
    // goes, so they are dropped first and added again over the primary key.
    let notes = "CREATE TABLE notes (id int PRIMARY KEY,
             case_id int CONSTRAINT notes_case_fkey REFERENCES cases (id) ON DELETE CASCADE);";
    let (plan, db) = converges(
        &format!(
            "CREATE TABLE cases (id int NOT NULL, CONSTRAINT cases_id_key UNIQUE (id)); {notes}"
        ),
        &format!("CREATE TABLE cases (id int PRIMARY KEY); {notes}"),
    )
    .await;
    let sql = sqls(&plan);
    let pos = |needle: &str| position(&sql, needle);
    assert!(pos("DROP CONSTRAINT notes_case_fkey") < pos("DROP CONSTRAINT cases_id_key"));
    assert!(pos("ADD CONSTRAINT cases_pkey") < pos("ADD CONSTRAINT notes_case_fkey"));
    let mut conn = db.connect().await;
    sqlx::raw_sql(
        "INSERT INTO cases VALUES (1); INSERT INTO notes VALUES (1, 1); DELETE FROM cases;",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        scalar_text(&mut conn, "SELECT count(*)::text FROM notes").await,
        "0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_that_becomes_generated_is_added_back_with_what_reads_it() {
    // Indexes, an exclusion constraint, a policy, a trigger condition, a column grant and a
    // foreign key over its unique index all read `code`, which is dropped and added back.
    let rest = "CREATE UNIQUE INDEX orders_code_key ON orders (code);
         CREATE INDEX orders_code_len ON orders (length(code));
         ALTER TABLE orders ADD CONSTRAINT orders_code_excl EXCLUDE USING btree ((code || '') WITH =);
         CREATE TABLE shipments (id int PRIMARY KEY, order_code text REFERENCES orders (code));
         ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
         CREATE POLICY coded ON orders USING (code IS NOT NULL);
         CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
         CREATE TRIGGER coded AFTER UPDATE ON orders FOR EACH ROW WHEN (NEW.code <> '') EXECUTE FUNCTION noop();
         GRANT SELECT (id, code) ON orders TO reporting;";
    let (_plan, db) = converges(
        &format!("CREATE TABLE orders (id int PRIMARY KEY, code text); {rest}"),
        &format!(
            "CREATE TABLE orders (id int PRIMARY KEY, code text GENERATED ALWAYS AS ('ORD-' || id::text) STORED); {rest}"
        ),
    )
    .await;
    let mut conn = db.connect().await;
    sqlx::raw_sql("INSERT INTO orders (id) VALUES (7); INSERT INTO shipments VALUES (1, 'ORD-7');")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT has_column_privilege('reporting', 'orders', 'code', 'SELECT')::text"
        )
        .await,
        "true"
    );
}
