//! Steps placed by what they create, drop, rename and need rather than by phase: an enum
//! recreated with other labels (the old type renamed away, what uses it moved to the new one,
//! then the old one dropped), and the objects whose statements once declared nothing.

use schema::CompareOptions;

use crate::support::{assert_refused_unchanged, converges, db_from, model, scalar_text};

/// Where the first step whose SQL contains `needle` is.
fn pos(plan: &schema::Plan, needle: &str) -> usize {
    plan.steps
        .iter()
        .position(|s| s.sql.contains(needle))
        .unwrap_or_else(|| panic!("no step {needle}:\n{}", schema::format::plan_text(plan)))
}

const MOODS: &str = "CREATE TABLE t (id integer PRIMARY KEY, m mood, ms mood[] DEFAULT '{sad}');
     CREATE VIEW v AS SELECT id, m FROM t;
     CREATE FUNCTION is_happy(x mood) RETURNS boolean LANGUAGE sql RETURN x = 'happy';";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_over_an_enum_recreated_with_fewer_labels_is_dropped_before_the_rename_and_made_again_over_the_new_type(
) {
    let (plan, db) = converges(
        &format!(
            "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); {MOODS}
             INSERT INTO t VALUES (1, 'sad', '{{sad,happy}}'), (2, 'happy', DEFAULT);"
        ),
        &format!("CREATE TYPE mood AS ENUM ('sad', 'happy'); {MOODS}"),
    )
    .await;
    // By phase the function's drop came after the rename, when its signature names the new type.
    let rename = pos(&plan, "RENAME TO mood__soprovod_old");
    assert!(pos(&plan, "DROP FUNCTION public.is_happy") < rename);
    assert!(rename < pos(&plan, "CREATE TYPE public.mood"));
    assert!(
        pos(&plan, "CREATE TYPE public.mood")
            < pos(&plan, "CREATE OR REPLACE FUNCTION public.is_happy")
    );
    let retype = pos(&plan, "ALTER COLUMN m TYPE public.mood");
    assert!(pos(&plan, "DROP VIEW public.v") < retype);
    assert!(retype < pos(&plan, "CREATE VIEW public.v"));
    assert!(retype < pos(&plan, "DROP TYPE public.mood__soprovod_old"));
    // A column of an array of the enum moves with it.
    assert_eq!(
        retype,
        pos(
            &plan,
            "ALTER COLUMN ms TYPE public.mood[] USING ms::text::public.mood[]"
        )
    );
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT string_agg(ms::text, ' ' ORDER BY id) FROM t"
        )
        .await,
        "{sad,happy} {sad}"
    );
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT string_agg(id || ':' || is_happy(m), ',' ORDER BY id) FROM v"
        )
        .await,
        "1:false,2:true"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_partial_index_and_policy_naming_labels_are_made_again_around_the_enums_column_retype(
) {
    let parts =
        "CREATE TABLE t (id integer PRIMARY KEY, m mood DEFAULT 'sad' CHECK (m <> 'happy'));
         CREATE INDEX t_sad ON t (id) WHERE m = 'sad';
         CREATE POLICY sad_only ON t USING (m = 'sad');";
    let (plan, db) = converges(
        &format!(
            "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); {parts}
             INSERT INTO t VALUES (1, 'sad');"
        ),
        &format!("CREATE TYPE mood AS ENUM ('sad', 'happy'); {parts}"),
    )
    .await;
    let retype = pos(&plan, "ALTER COLUMN m TYPE public.mood");
    for drop in [
        "DROP CONSTRAINT t_m_check",
        "DROP INDEX public.t_sad",
        "DROP POLICY sad_only",
    ] {
        assert!(pos(&plan, drop) < retype, "{drop}");
    }
    for create in [
        "ADD CONSTRAINT t_m_check",
        "CREATE INDEX t_sad",
        "CREATE POLICY sad_only",
    ] {
        assert!(retype < pos(&plan, create), "{create}");
    }
    let mut conn = db.connect().await;
    let err = sqlx::raw_sql("INSERT INTO t VALUES (2, 'happy')")
        .execute(&mut conn)
        .await
        .expect_err("the check holds on the new type");
    assert!(err.to_string().contains("t_m_check"), "{err}");
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT pg_get_expr(polqual, polrelid) FROM pg_policy"
        )
        .await,
        "(m = 'sad'::mood)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_or_aggregate_over_an_enum_recreated_with_other_labels_is_a_blocker_and_apply_changes_nothing(
) {
    let uses = "CREATE DOMAIN happy_mood AS mood;
         CREATE TABLE t (id integer PRIMARY KEY, m happy_mood);
         CREATE FUNCTION last_mood(a mood, b mood) RETURNS mood LANGUAGE sql RETURN b;
         CREATE AGGREGATE latest(mood) (sfunc = last_mood, stype = mood);";
    let target = model(
        &db_from(&format!(
            "CREATE TYPE mood AS ENUM ('sad', 'happy'); {uses}"
        ))
        .await,
    )
    .await;
    let db = db_from(&format!(
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); {uses}"
    ))
    .await;
    let before = model(&db).await;
    let plan = schema::plan(&before, &target, CompareOptions::default());
    let blockers = plan.unmodelled.join("\n");
    assert!(
        blockers.contains("type public.happy_mood uses enum public.mood"),
        "{blockers}"
    );
    assert!(
        blockers.contains("aggregate public.latest(public.mood) uses enum public.mood"),
        "{blockers}"
    );
    assert_refused_unchanged(&db, &before, &plan, &target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_default_calling_a_new_function_is_set_after_the_function() {
    let (plan, db) = converges(
        "CREATE DOMAIN code AS text;
         CREATE TABLE t (id integer PRIMARY KEY, c code);",
        "CREATE FUNCTION next_code() RETURNS text LANGUAGE sql RETURN 'x';
         CREATE DOMAIN code AS text DEFAULT public.next_code();
         CREATE TABLE t (id integer PRIMARY KEY, c code);",
    )
    .await;
    // By phase (types before functions) the default came first and named a missing function.
    assert!(
        pos(&plan, "FUNCTION public.next_code")
            < pos(&plan, "ALTER DOMAIN public.code SET DEFAULT")
    );
    let mut conn = db.connect().await;
    sqlx::raw_sql("INSERT INTO t (id) VALUES (1)")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(scalar_text(&mut conn, "SELECT c FROM t").await, "x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_composite_gaining_an_attribute_of_a_new_range_type_is_altered_after_the_range_exists() {
    let (plan, db) = converges(
        "CREATE TYPE pair AS (a integer);",
        "CREATE TYPE span AS RANGE (subtype = integer);
         CREATE TYPE pair AS (a integer, s span);",
    )
    .await;
    // By phase the composites were altered before the ranges were created.
    assert!(pos(&plan, "CREATE TYPE public.span") < pos(&plan, "ADD ATTRIBUTE s public.span"));
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(&mut conn, "SELECT (ROW(1, '[1,3)')::pair).s::text").await,
        "[1,3)"
    );
}

const EVERY_KIND_FROM: &str = "
    CREATE SCHEMA old_s;
    CREATE COLLATION coll (provider = icu, locale = 'de');
    CREATE TYPE mood AS ENUM ('sad', 'happy');
    CREATE DOMAIN code AS text;
    CREATE TYPE pair AS (a integer);
    CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
    CREATE TABLE t (id integer PRIMARY KEY, c code, m mood, gone text, n text);
    CREATE INDEX t_n ON t (n);
    ALTER TABLE t ADD CONSTRAINT t_n_check CHECK (n <> '') NOT VALID;
    CREATE TRIGGER tg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION trg();
    CREATE POLICY pol ON t USING (true);
    CREATE SEQUENCE s;
    CREATE TABLE a (id integer PRIMARY KEY);
    CREATE PUBLICATION p FOR TABLE a;
    CREATE STATISTICS st ON id, n FROM t;
    CREATE VIEW v AS SELECT id FROM t;";

const EVERY_KIND_TO: &str = "
    CREATE SCHEMA new_s;
    COMMENT ON SCHEMA new_s IS 'new';
    CREATE COLLATION coll (provider = icu, locale = 'fr');
    COMMENT ON COLLATION coll IS 'french';
    CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
    COMMENT ON TYPE mood IS 'moods';
    CREATE FUNCTION next_code() RETURNS text LANGUAGE sql RETURN 'x';
    COMMENT ON FUNCTION next_code() IS 'next';
    CREATE DOMAIN code AS text DEFAULT public.next_code() NOT NULL;
    COMMENT ON DOMAIN code IS 'codes';
    CREATE TYPE span AS RANGE (subtype = integer);
    CREATE TYPE pair AS (a integer, s span);
    COMMENT ON COLUMN pair.s IS 'a span';
    CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
    CREATE TABLE t (id integer PRIMARY KEY, c code, m mood NOT NULL, n text DEFAULT 'n', extra integer)
        WITH (fillfactor = 90);
    COMMENT ON COLUMN t.n IS 'n';
    CREATE INDEX t_n ON t (n);
    COMMENT ON INDEX t_n IS 'by n';
    GRANT SELECT ON t TO analyst;
    GRANT SELECT (n) ON t TO reporting;
    ALTER TABLE t ADD CONSTRAINT t_n_check CHECK (n <> '');
    COMMENT ON CONSTRAINT t_n_check ON t IS 'not empty';
    CREATE TRIGGER tg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION trg();
    ALTER TABLE t DISABLE TRIGGER tg;
    COMMENT ON TRIGGER tg ON t IS 'off';
    ALTER TABLE t ENABLE ROW LEVEL SECURITY;
    CREATE POLICY pol ON t USING (true);
    COMMENT ON POLICY pol ON t IS 'everyone';
    CREATE SEQUENCE s INCREMENT 2;
    COMMENT ON SEQUENCE s IS 'by two';
    CREATE TABLE a (id integer PRIMARY KEY);
    CREATE TABLE b (id integer PRIMARY KEY);
    CREATE PUBLICATION p FOR TABLE b WITH (publish = 'insert');
    CREATE PUBLICATION p2 FOR TABLE a;
    COMMENT ON PUBLICATION p2 IS 'a only';
    CREATE STATISTICS st ON id, n FROM t;
    ALTER STATISTICS st SET STATISTICS 50;
    CREATE VIEW v WITH (security_barrier) AS SELECT id FROM t;
    COMMENT ON COLUMN v.id IS 'id';
    CREATE VIEW w AS SELECT id FROM b;
    GRANT SELECT ON w TO reporting;
    ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO reporting;
    ALTER DEFAULT PRIVILEGES IN SCHEMA new_s GRANT USAGE ON TYPES TO analyst;";

/// The steps of `plan` on `object` whose SQL starts with `head`.
fn steps_like<'p>(plan: &'p schema::Plan, head: &str) -> Vec<&'p schema::Step> {
    let found: Vec<&schema::Step> = plan
        .steps
        .iter()
        .filter(|s| s.sql.starts_with(head))
        .collect();
    assert!(
        !found.is_empty(),
        "no step {head}:\n{}",
        schema::format::plan_text(plan)
    );
    found
}

fn named(keys: &[schema::objects::ObjKey]) -> Vec<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_statement_of_a_plan_over_every_kind_names_what_it_creates_drops_or_needs() {
    let (plan, _db) = converges(EVERY_KIND_FROM, EVERY_KIND_TO).await;
    let silent: Vec<String> = plan
        .steps
        .iter()
        .filter(|s| {
            s.creates().is_empty()
                && s.drops().is_empty()
                && s.renames().is_empty()
                && s.needs().is_empty()
        })
        .map(|s| format!("{}: {}", s.object, s.sql))
        .collect();
    assert!(
        silent.is_empty(),
        "steps left to the phases:\n{}",
        silent.join("\n")
    );
    for s in steps_like(&plan, "COMMENT ON FUNCTION public.next_code()") {
        assert_eq!(named(s.needs()), ["function public.next_code()"]);
    }
    for s in steps_like(&plan, "GRANT SELECT ON TABLE public.w") {
        assert_eq!(named(s.needs()), ["relation public.w"]);
    }
    for s in steps_like(&plan, "GRANT SELECT (n) ON TABLE public.t") {
        assert_eq!(named(s.needs()), ["column public.t.n"]);
    }
    for s in steps_like(&plan, "CREATE PUBLICATION p2") {
        assert_eq!(named(s.creates()), ["publication p2"]);
    }
    for s in steps_like(&plan, "ALTER PUBLICATION p ADD TABLE public.b") {
        assert_eq!(named(s.creates()), ["public.b in publication p"]);
    }
    for s in steps_like(&plan, "ALTER PUBLICATION p DROP TABLE public.a") {
        assert_eq!(named(s.drops()), ["public.a in publication p"]);
    }
    for s in steps_like(&plan, "DROP COLLATION public.coll") {
        assert_eq!(named(s.drops()), ["collation public.coll"]);
    }
    for s in steps_like(&plan, "ALTER TYPE public.mood ADD VALUE") {
        assert_eq!(named(s.creates()), ["type public.mood"]);
    }
    // Default privileges change after every object the plan makes, in their schema.
    for s in steps_like(&plan, "ALTER DEFAULT PRIVILEGES") {
        let needs = named(s.needs());
        for made in [
            "relation public.b",
            "relation public.w",
            "function public.next_code()",
        ] {
            assert!(needs.iter().any(|n| n == made), "{}: {needs:?}", s.sql);
        }
    }
    for s in steps_like(&plan, "ALTER DEFAULT PRIVILEGES IN SCHEMA new_s") {
        assert!(named(s.needs()).iter().any(|n| n == "schema new_s"));
    }
    // The publication's member, read from the catalog, needs its table: added after it exists.
    assert!(pos(&plan, "CREATE TABLE public.b") < pos(&plan, "ALTER PUBLICATION p ADD TABLE"));
    let last_create = plan
        .steps
        .iter()
        .rposition(|s| s.sql.starts_with("CREATE"))
        .expect("creates");
    assert!(last_create < pos(&plan, "ALTER DEFAULT PRIVILEGES"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_counts_the_array_elements_that_are_no_label_of_the_recreated_enum() {
    let table = "CREATE TABLE t (id integer PRIMARY KEY, ms mood[]);";
    let db = db_from(&format!(
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); {table}
         INSERT INTO t VALUES (1, '{{sad,ok}}'), (2, '{{happy}}'), (3, '{{ok,ok}}');"
    ))
    .await;
    let target = model(
        &db_from(&format!(
            "CREATE TYPE mood AS ENUM ('sad', 'happy'); {table}"
        ))
        .await,
    )
    .await;
    let from = model(&db).await;
    let plan = schema::plan(&from, &target, CompareOptions::default());
    let pf = schema::preflight(&db.url, &from, &plan, &[]).await.unwrap();
    let cast = pf
        .blockers
        .iter()
        .find(|b| b.kind == "cast")
        .unwrap_or_else(|| panic!("no cast blocker: {}", pf.text()));
    // Three elements in two rows hold the removed label.
    assert_eq!(cast.count, 3, "{}", pf.text());
    assert!(
        cast.examples.iter().any(|e| e.contains("'ok'")),
        "{:?}",
        cast.examples
    );
}
