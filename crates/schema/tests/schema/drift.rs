//! Functions and triggers: created, replaced and dropped in dependency order; enums gain and lose
//! labels; the drift report names each object and what differs.

use schema::{CompareOptions, Presence};

use crate::support::{converge, db_from, model, scalar_text, step_at};

const BEFORE: &str = r#"
CREATE TYPE mood AS ENUM ('good', 'bad');
CREATE TYPE size AS ENUM ('s', 'm', 'l');
CREATE TABLE notes (id bigserial PRIMARY KEY, body text, mood mood DEFAULT 'good', sz size, touched timestamptz);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.touched := now(); RETURN NEW; END $$;
CREATE FUNCTION obsolete(x integer) RETURNS integer LANGUAGE sql AS $$ SELECT x + 1 $$;
CREATE TRIGGER notes_touch BEFORE UPDATE ON notes FOR EACH ROW EXECUTE FUNCTION touch();
INSERT INTO notes (body, mood, sz) VALUES ('a', 'good', 's'), ('b', 'bad', 'm'), ('c', 'good', 'l');
"#;

const AFTER: &str = r#"
CREATE TYPE mood AS ENUM ('great', 'good', 'meh', 'bad');
CREATE TYPE size AS ENUM ('l', 'm', 's');
CREATE TABLE notes (id bigserial PRIMARY KEY, body text, mood mood DEFAULT 'good', sz size, touched timestamptz, edits integer NOT NULL DEFAULT 0);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.touched := now(); NEW.edits := OLD.edits + 1; RETURN NEW; END $$;
CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER notes_touch BEFORE UPDATE ON notes FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TRIGGER notes_audit AFTER INSERT ON notes FOR EACH ROW EXECUTE FUNCTION audit();
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_triggers_and_enums_change_in_dependency_order_and_the_trigger_works_after() {
    let db = db_from(BEFORE).await;
    let target_db = db_from(AFTER).await;
    let target = model(&target_db).await;

    let drift = schema::compare(&model(&db).await, &target, CompareOptions::default());
    let find = |kind: &str, name: &str| {
        drift
            .differences
            .iter()
            .find(|d| d.kind == kind && d.name == name)
            .cloned()
    };
    assert_eq!(
        find("function", "public.obsolete(x integer)").map(|d| d.presence),
        Some(Presence::OnlyInFrom)
    );
    assert_eq!(
        find("function", "public.audit()").map(|d| d.presence),
        Some(Presence::OnlyInTo)
    );
    let notes = find("table", "public.notes").expect("notes differs");
    assert!(
        notes
            .details
            .iter()
            .any(|d| d.starts_with("column edits") && d.ends_with("only in TO")),
        "{:?}",
        notes.details
    );
    assert!(
        notes
            .details
            .iter()
            .any(|d| d.starts_with("trigger notes_audit only in TO")),
        "{:?}",
        notes.details
    );

    let plan = converge(&db, &target, CompareOptions::default()).await;
    let pos = |needle: &str| step_at(&plan, needle);
    assert!(
        pos("FUNCTION public.audit()") < pos("CREATE TRIGGER notes_audit"),
        "functions before triggers"
    );
    assert!(pos("ADD VALUE 'great' BEFORE 'good'") < pos("ADD VALUE 'meh' AFTER 'good'"));
    assert!(
        plan.hazard_kinds().contains(&schema::HazardKind::LossyCast),
        "reordering an enum recreates it"
    );

    let mut conn = db.connect().await;
    sqlx::raw_sql("UPDATE notes SET body = body || '!' WHERE body = 'a'")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT edits::text || ' ' || (touched IS NOT NULL)::text FROM notes WHERE body = 'a!'"
        )
        .await,
        "1 true"
    );
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT string_agg(body || '=' || mood || '/' || sz, ',' ORDER BY id) FROM notes"
        )
        .await,
        "a!=good/s,b=bad/m,c=good/l"
    );
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT count(*)::text FROM pg_proc WHERE proname = 'obsolete'"
        )
        .await,
        "0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmodelled_difference_blocks_a_plan_that_also_has_modelled_steps() {
    let db = db_from(
        "CREATE TABLE t (id integer, n integer); CREATE RULE keep AS ON DELETE TO t DO INSTEAD NOTHING;",
    )
    .await;
    let target_db = db_from("CREATE TABLE t (id bigint, n integer);").await;
    let target = model(&target_db).await;
    let from = model(&db).await;
    let plan = schema::plan(&from, &target, CompareOptions::default());
    assert!(!plan.is_empty(), "the retype is planned");
    assert!(
        plan.unmodelled.iter().any(
            |u| u.starts_with("rule public.t.keep is only in the database and is not modelled")
        ),
        "{:?}",
        plan.unmodelled
    );
    assert!(schema::format::plan_text(&plan).contains("Blockers"));
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
    assert!(matches!(err, schema::SchemaError::Blocked(_)), "{err}");
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'id'"
        )
        .await,
        "integer",
        "nothing ran"
    );
    let drift = schema::compare(&model(&db).await, &target, CompareOptions::default());
    assert!(
        drift
            .differences
            .iter()
            .any(|d| d.kind == "rule (not modelled)" && d.name == "public.t.keep"),
        "verify reports it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serial_id_becoming_an_identity_keeps_its_values_and_continues_after_them() {
    let db = db_from("CREATE TABLE people (id serial PRIMARY KEY, name text); INSERT INTO people (name) SELECT 'p' || g FROM generate_series(1, 40) g;").await;
    let target_db = db_from(
        "CREATE TABLE people (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text);",
    )
    .await;
    let target = model(&target_db).await;
    let plan = converge(&db, &target, CompareOptions::default()).await;
    let pos = |needle: &str| step_at(&plan, needle);
    assert!(
        pos("DROP SEQUENCE public.people_id_seq") < pos("ADD GENERATED BY DEFAULT AS IDENTITY")
    );
    let mut conn = db.connect().await;
    let id = scalar_text(
        &mut conn,
        "INSERT INTO people (name) VALUES ('new') RETURNING id::text",
    )
    .await;
    assert_eq!(id, "41", "the identity continues after the existing ids");
    assert_eq!(
        scalar_text(&mut conn, "SELECT count(DISTINCT id)::text FROM people").await,
        "41"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_and_extensions_are_dropped_after_the_objects_in_or_using_them() {
    let db = db_from(
        "CREATE SCHEMA old;
         CREATE TYPE old.kind AS ENUM ('a', 'b');
         CREATE FUNCTION old.pick(k old.kind) RETURNS integer LANGUAGE sql AS 'SELECT 1';
         CREATE EXTENSION hstore;
         CREATE FUNCTION public.size_of(x public.hstore) RETURNS integer LANGUAGE sql AS 'SELECT 1';
         CREATE TABLE keep (id integer);",
    )
    .await;
    let target_db = db_from("CREATE TABLE keep (id integer);").await;
    let target = model(&target_db).await;
    let plan = converge(&db, &target, CompareOptions::default()).await;
    let pos = |needle: &str| {
        plan.steps
            .iter()
            .position(|s| s.sql.starts_with(needle))
            .unwrap_or_else(|| panic!("no step {needle}"))
    };
    assert!(pos("DROP FUNCTION old.pick") < pos("DROP SCHEMA old"));
    assert!(pos("DROP TYPE old.kind") < pos("DROP SCHEMA old"));
    assert!(pos("DROP FUNCTION public.size_of") < pos("DROP EXTENSION hstore"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_tables_that_reference_each_other_drop_in_one_plan() {
    let db = db_from(
        "CREATE TABLE alpha (id integer PRIMARY KEY);
         CREATE TABLE beta (id integer PRIMARY KEY, alpha_id integer REFERENCES alpha (id));
         ALTER TABLE alpha ADD COLUMN beta_id integer REFERENCES beta (id);
         CREATE TABLE keep (id integer);",
    )
    .await;
    let target = model(&db_from("CREATE TABLE keep (id integer);").await).await;
    let plan = converge(&db, &target, CompareOptions::default()).await;
    assert_eq!(
        plan.hazard_kinds().into_iter().collect::<Vec<_>>(),
        vec![schema::HazardKind::DataLoss]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_whose_result_type_changes_is_recreated_between_the_views_that_call_it() {
    let db = db_from(
        "CREATE FUNCTION answer() RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT 42';
         CREATE VIEW asks AS SELECT answer() AS a;
         CREATE VIEW asks_twice AS SELECT a * 2 AS b FROM asks;",
    )
    .await;
    let target = model(
        &db_from(
            "CREATE FUNCTION answer() RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT 42::bigint';
             CREATE VIEW asks AS SELECT answer() AS a;
             CREATE VIEW asks_twice AS SELECT a * 2 AS b FROM asks;",
        )
        .await,
    )
    .await;
    let plan = converge(&db, &target, CompareOptions::default()).await;
    let pos = |needle: &str| {
        plan.steps
            .iter()
            .position(|s| s.sql.starts_with(needle))
            .unwrap_or_else(|| panic!("no step {needle}"))
    };
    assert!(pos("DROP VIEW public.asks") < pos("DROP FUNCTION public.answer"));
    assert!(pos("CREATE OR REPLACE FUNCTION public.answer") < pos("CREATE VIEW public.asks"));
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT b::text || ' ' || pg_typeof(b)::text FROM asks_twice"
        )
        .await,
        "84 bigint"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_recreated_as_partitioned_gets_its_indexes_constraints_and_partitions() {
    let db = db_from(
        "CREATE TABLE m (id integer NOT NULL, d date NOT NULL, PRIMARY KEY (id));
         CREATE INDEX m_d ON m (d);
         CREATE VIEW m_days AS SELECT d FROM m;",
    )
    .await;
    let target = model(
        &db_from(
            "CREATE TABLE m (id integer NOT NULL, d date NOT NULL, PRIMARY KEY (id, d)) PARTITION BY RANGE (d);
             CREATE INDEX m_d ON m (d);
             CREATE TABLE m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
             CREATE VIEW m_days AS SELECT d FROM m;",
        )
        .await,
    )
    .await;
    let plan = converge(&db, &target, CompareOptions::default()).await;
    assert!(
        plan.hazard_kinds().contains(&schema::HazardKind::DataLoss),
        "recreating the table is data loss"
    );
    let mut conn = db.connect().await;
    sqlx::raw_sql("INSERT INTO m VALUES (1, '2024-05-01')")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        scalar_text(&mut conn, "SELECT tableoid::regclass::text FROM m").await,
        "m_2024"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_whose_columns_were_created_in_another_order_is_the_same_key() {
    // A renamed column keeps its place in the table, so a key over it can list its columns in an
    // order other than the table's; the key is what the constraint says, not the table's order.
    let renamed = db_from(
        "CREATE TABLE pay (ref text, id int, provider text);
         ALTER TABLE pay ADD CONSTRAINT pay_key UNIQUE (provider, ref);
         CREATE TABLE parent (a int, b int, UNIQUE (b, a));
         CREATE TABLE child (x int, y int, CONSTRAINT child_fk FOREIGN KEY (y, x) REFERENCES parent (b, a));",
    )
    .await;
    let declared = db_from(
        "CREATE TABLE pay (id int, provider text, ref text, CONSTRAINT pay_key UNIQUE (provider, ref));
         CREATE TABLE parent (b int, a int, UNIQUE (b, a));
         CREATE TABLE child (y int, x int, CONSTRAINT child_fk FOREIGN KEY (y, x) REFERENCES parent (b, a));",
    )
    .await;
    let drift = schema::compare(
        &model(&renamed).await,
        &model(&declared).await,
        CompareOptions::default(),
    );
    assert!(drift.is_empty(), "{:?}", drift.differences);
}
