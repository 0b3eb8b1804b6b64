//! Steps placed by what they create, drop, rename and need rather than by phase: an enum
//! recreated with other labels (the old type renamed away, what uses it moved to the new one,
//! then the old one dropped), and the objects whose statements once declared nothing.

use schema::{CompareOptions, SchemaError};

use crate::support::{converges, db_from, model, scalar_text};

/// Where the first step whose SQL contains `needle` is.
fn pos(plan: &schema::Plan, needle: &str) -> usize {
    plan.steps
        .iter()
        .position(|s| s.sql.contains(needle))
        .unwrap_or_else(|| panic!("no step {needle}:\n{}", schema::format::plan_text(plan)))
}

const MOODS: &str = "CREATE TABLE t (id integer PRIMARY KEY, m mood);
     CREATE VIEW v AS SELECT id, m FROM t;
     CREATE FUNCTION is_happy(x mood) RETURNS boolean LANGUAGE sql RETURN x = 'happy';";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_over_an_enum_recreated_with_fewer_labels_is_dropped_before_the_rename_and_made_again_over_the_new_type(
) {
    let (plan, db) = converges(
        &format!(
            "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); {MOODS}
             INSERT INTO t VALUES (1, 'sad'), (2, 'happy');"
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
    let mut conn = db.connect().await;
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
async fn a_domain_over_an_enum_recreated_with_other_labels_is_a_blocker_and_apply_changes_nothing()
{
    let uses = "CREATE DOMAIN happy_mood AS mood;
         CREATE TABLE t (id integer PRIMARY KEY, m happy_mood, ms mood[]);";
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
        blockers.contains("column public.t.ms uses enum public.mood"),
        "{blockers}"
    );
    let err = schema::apply(
        &db.url,
        &before,
        &plan,
        &target,
        schema::ApplyOptions::default(),
        &mut |_| {},
    )
    .await
    .expect_err("a blocked plan is refused");
    assert!(matches!(err, SchemaError::Blocked(_)), "{err}");
    assert_eq!(model(&db).await, before);
}
