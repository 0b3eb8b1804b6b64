//! No silent success: a difference in any object kind the engine does not model is drift, blocks
//! the plan and makes apply refuse with nothing changed; the same objects on both sides are no
//! difference at all.

use schema::{CompareOptions, SchemaError};

use crate::support::{db_from, model};

/// FROM is `a`, TO is `b`; they differ only in `kind name`, which the engine does not model.
async fn differs_and_blocks(kind: &str, name: &str, a: &str, b: &str) {
    let db = db_from(a).await;
    let target_db = db_from(b).await;
    let from = model(&db).await;
    let to = model(&target_db).await;
    let opts = CompareOptions::default();

    let drift = schema::compare(&from, &to, opts);
    let report = schema::format::drift_text(&drift, "a", "b");
    assert!(
        drift
            .differences
            .iter()
            .any(|d| d.kind == format!("{kind} (not modelled)") && d.name == name),
        "no drift in {kind} {name}:\n{report}"
    );

    let plan = schema::plan(&from, &to, opts);
    assert!(
        plan.unmodelled
            .iter()
            .any(|u| u.starts_with(&format!("{kind} {name} "))),
        "no blocker for {kind} {name}: {:?}",
        plan.unmodelled
    );
    assert!(schema::format::plan_text(&plan).contains("Blockers"));

    let options = schema::ApplyOptions {
        compare: opts,
        ..Default::default()
    };
    let err = schema::apply(&db.url, &from, &plan, &to, options, &mut |_| {})
        .await
        .expect_err("a blocked plan must not apply");
    assert!(matches!(err, SchemaError::Blocked(_)), "{err}");
    assert_eq!(model(&db).await, from, "nothing changed");
}

const T: &str = "CREATE TABLE t (a integer, b integer, c text);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shell_type_only_in_the_database_is_drift() {
    differs_and_blocks("shell type", "public.later", "CREATE TYPE later;", "").await;
}

const OPS: &str = "CREATE FUNCTION near(a integer, b integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT abs(a - b) < 2 $$;
CREATE FUNCTION far(a integer, b integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT abs(a - b) > 10 $$;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_over_another_function_is_drift() {
    differs_and_blocks(
        "operator",
        "public.~~~(integer, integer)",
        &format!(
            "{OPS} CREATE OPERATOR ~~~ (leftarg = integer, rightarg = integer, function = near);"
        ),
        &format!(
            "{OPS} CREATE OPERATOR ~~~ (leftarg = integer, rightarg = integer, function = far);"
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_family_only_in_the_target_is_drift() {
    differs_and_blocks(
        "operator family",
        "public.fam using btree",
        "",
        "CREATE OPERATOR FAMILY fam USING btree;",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cast_with_another_context_is_drift() {
    let base = "CREATE TYPE pair AS (x integer, y integer);
        CREATE FUNCTION pair_text(p pair) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT p.x || ',' || p.y $$;";
    differs_and_blocks(
        "cast",
        "(public.pair AS text)",
        &format!("{base} CREATE CAST (pair AS text) WITH FUNCTION pair_text(pair);"),
        &format!("{base} CREATE CAST (pair AS text) WITH FUNCTION pair_text(pair) AS ASSIGNMENT;"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversion_only_in_the_database_is_drift() {
    differs_and_blocks(
        "conversion",
        "public.latin_to_utf",
        "CREATE CONVERSION latin_to_utf FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;",
        "",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_search_configuration_with_other_mappings_is_drift() {
    differs_and_blocks(
        "text search configuration",
        "public.docs",
        "CREATE TEXT SEARCH CONFIGURATION docs (COPY = pg_catalog.english);",
        "CREATE TEXT SEARCH CONFIGURATION docs (COPY = pg_catalog.simple);",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_search_dictionary_with_other_options_is_drift() {
    differs_and_blocks(
        "text search dictionary",
        "public.words",
        "CREATE TEXT SEARCH DICTIONARY words (TEMPLATE = pg_catalog.simple);",
        "CREATE TEXT SEARCH DICTIONARY words (TEMPLATE = pg_catalog.simple, STOPWORDS = english);",
    )
    .await;
}

const EVT: &str =
    "CREATE FUNCTION on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_trigger_with_other_tags_is_drift() {
    differs_and_blocks(
        "event trigger",
        "watch_ddl",
        &format!("{EVT} CREATE EVENT TRIGGER watch_ddl ON ddl_command_end EXECUTE FUNCTION on_ddl();"),
        &format!("{EVT} CREATE EVENT TRIGGER watch_ddl ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION on_ddl();"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_server_with_other_options_is_drift() {
    differs_and_blocks(
        "server",
        "archive",
        FDW,
        "CREATE FOREIGN DATA WRAPPER files; CREATE SERVER archive FOREIGN DATA WRAPPER files OPTIONS (path '/srv');",
    )
    .await;
}

const FDW: &str =
    "CREATE FOREIGN DATA WRAPPER files; CREATE SERVER archive FOREIGN DATA WRAPPER files;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_table_column_of_another_type_is_drift() {
    differs_and_blocks(
        "foreign table",
        "public.old_rows",
        &format!("{FDW} CREATE FOREIGN TABLE old_rows (id integer) SERVER archive;"),
        &format!("{FDW} CREATE FOREIGN TABLE old_rows (id bigint) SERVER archive;"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_with_another_action_is_drift() {
    differs_and_blocks(
        "rule",
        "public.t.no_delete",
        &format!("{T} CREATE RULE no_delete AS ON DELETE TO t DO INSTEAD NOTHING;"),
        &format!("{T} CREATE RULE no_delete AS ON DELETE TO t DO ALSO NOTHING;"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_access_method_only_in_the_target_is_drift() {
    differs_and_blocks(
        "access method",
        "heap2",
        "",
        "CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_identity_and_column_storage_are_drift() {
    differs_and_blocks(
        "relation settings",
        "public.t",
        T,
        &format!(
            "{T} ALTER TABLE t REPLICA IDENTITY FULL; ALTER TABLE t ALTER COLUMN c SET STORAGE EXTERNAL;"
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_comment_on_an_extension_is_drift() {
    differs_and_blocks(
        "comment on extension",
        "plpgsql",
        "",
        "COMMENT ON EXTENSION plpgsql IS 'our procedural language';",
    )
    .await;
}

/// Every unmodelled kind at once, loaded twice: equal definitions must compare equal (no oid or
/// database name may leak into a definition).
const EVERYTHING: &str = r#"
CREATE TABLE t (a integer, b integer, c text);
CREATE DOMAIN posint AS integer NOT NULL DEFAULT 1 CHECK (VALUE > 0);
COMMENT ON DOMAIN posint IS 'positive';
CREATE TYPE pair AS (x integer, y posint);
CREATE TYPE span AS RANGE (subtype = float8);
CREATE TYPE later;
CREATE FUNCTION add_sq(s bigint, v integer) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT s + v * v $$;
CREATE AGGREGATE sum_sq(integer) (sfunc = add_sq, stype = bigint, initcond = '0');
CREATE FUNCTION near(a integer, b integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT abs(a - b) < 2 $$;
CREATE OPERATOR ~~~ (leftarg = integer, rightarg = integer, function = near, commutator = ~~~);
CREATE OPERATOR FAMILY fam USING btree;
CREATE FUNCTION pair_text(p pair) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT p.x || ',' || p.y $$;
CREATE CAST (pair AS text) WITH FUNCTION pair_text(pair);
CREATE CONVERSION latin_to_utf FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;
CREATE TEXT SEARCH CONFIGURATION docs (COPY = pg_catalog.english);
CREATE TEXT SEARCH DICTIONARY words (TEMPLATE = pg_catalog.simple, STOPWORDS = english);
CREATE FUNCTION on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER watch_ddl ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION on_ddl();
CREATE STATISTICS t_ab (ndistinct) ON a, b FROM t;
CREATE PUBLICATION changes FOR TABLE t;
CREATE FOREIGN DATA WRAPPER files;
CREATE SERVER archive FOREIGN DATA WRAPPER files OPTIONS (path '/srv');
CREATE FOREIGN TABLE old_rows (id integer NOT NULL) SERVER archive OPTIONS (name 'x');
CREATE RULE no_delete AS ON DELETE TO t DO INSTEAD NOTHING;
CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
ALTER TABLE t REPLICA IDENTITY FULL;
ALTER TABLE t ALTER COLUMN c SET STORAGE EXTERNAL;
ALTER TABLE t ALTER COLUMN a SET STATISTICS 500;
CREATE POLICY mine ON t USING (a = 1);
COMMENT ON POLICY mine ON t IS 'only ones';
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_unmodelled_objects_on_both_sides_are_no_drift_and_no_blocker() {
    let a = model(&db_from(EVERYTHING).await).await;
    let b = model(&db_from(EVERYTHING).await).await;
    let kinds: std::collections::BTreeSet<&str> =
        a.unmodelled.values().map(|u| u.kind.as_str()).collect();
    for kind in [
        "shell type",
        "operator",
        "operator family",
        "cast",
        "conversion",
        "text search configuration",
        "text search dictionary",
        "event trigger",
        "foreign-data wrapper",
        "server",
        "foreign table",
        "rule",
        "access method",
        "relation settings",
    ] {
        assert!(kinds.contains(kind), "{kind} not read: {kinds:?}");
    }
    let drift = schema::compare(&a, &b, CompareOptions::default());
    assert!(
        drift.is_empty(),
        "{}",
        schema::format::drift_text(&drift, "a", "b")
    );
    assert!(!schema::plan(&a, &b, CompareOptions::default()).is_blocked());
}
