//! The engine manages the schemas the target declares: `auth`, a platform's own schemas, their
//! functions and the extensions installed there are left alone unless `--schema` names them.

use schema::{CompareOptions, HazardKind, Model};
use testkit::TestDb;

use crate::support::{db_from, model, scalar_text};

const LIVE: &str = "
    CREATE SCHEMA auth;
    CREATE TABLE auth.users (id uuid PRIMARY KEY);
    CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT NULL::uuid $$;
    CREATE SCHEMA extensions;
    CREATE EXTENSION pgcrypto SCHEMA extensions;
    CREATE TABLE public.profiles (id bigint PRIMARY KEY);";

const TARGET: &str = "CREATE TABLE public.profiles (id bigint PRIMARY KEY, name text);";

/// Live and target models cut to the scope `explicit` (or the target's schemas).
async fn scoped(db: &TestDb, target: &Model, explicit: &[&str]) -> (Model, Model) {
    let mut from = model(db).await;
    let mut to = target.clone();
    let explicit: Vec<String> = explicit.iter().map(|s| s.to_string()).collect();
    schema::scope::restrict_both(&mut from, &mut to, &explicit);
    (from, to)
}

#[tokio::test]
async fn the_auth_schema_its_functions_and_an_extension_elsewhere_are_untouched_by_default() {
    let db = db_from(LIVE).await;
    let target = model(&db_from(TARGET).await).await;
    let (from, to) = scoped(&db, &target, &[]).await;
    let plan = schema::plan(&from, &to, CompareOptions::default());
    assert_eq!(plan.steps.len(), 1, "{}", schema::format::plan_text(&plan));
    assert!(
        plan.steps[0].sql.contains("ADD COLUMN \"name\" text"),
        "{}",
        plan.steps[0].sql
    );
    schema::apply(&db.url, &from, &plan, &to, Default::default(), &mut |_| {})
        .await
        .expect("applies");
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT concat_ws(',', to_regclass('auth.users')::text, to_regprocedure('auth.uid()')::text,
                    (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pgcrypto'))"
        )
        .await,
        "auth.users,auth.uid(),extensions"
    );
    let (after, to) = scoped(&db, &target, &[]).await;
    let drift = schema::compare(&after, &to, CompareOptions::default());
    assert!(
        drift.is_empty(),
        "{}",
        schema::format::drift_text(&drift, "db", "target")
    );
}

#[tokio::test]
async fn naming_schemas_widens_what_the_engine_manages() {
    let db = db_from(LIVE).await;
    let target = model(&db_from(TARGET).await).await;
    let (from, to) = scoped(&db, &target, &["public", "auth"]).await;
    let plan = schema::plan(&from, &to, CompareOptions::default());
    let sql: Vec<&str> = plan.steps.iter().map(|s| s.sql.as_str()).collect();
    assert!(sql.contains(&"DROP TABLE auth.users;"), "{sql:?}");
    assert!(
        sql.iter().any(|s| s.starts_with("DROP FUNCTION auth.uid")),
        "{sql:?}"
    );
    assert!(
        !sql.iter().any(|s| s.contains("pgcrypto")),
        "the extensions schema is still not managed: {sql:?}"
    );
    // And narrowing to a schema the target does not touch plans nothing at all.
    let (from, to) = scoped(&db, &target, &["extensions"]).await;
    let plan = schema::plan(&from, &to, CompareOptions::default());
    let sql: Vec<&str> = plan.steps.iter().map(|s| s.sql.as_str()).collect();
    assert!(
        sql.iter()
            .all(|s| !s.contains("profiles") && !s.contains("auth")),
        "{sql:?}"
    );
}

#[tokio::test]
async fn dropping_an_extension_in_a_managed_schema_is_a_named_data_loss_hazard() {
    let db =
        db_from("CREATE EXTENSION citext; CREATE TABLE public.t (id bigint PRIMARY KEY);").await;
    let target = model(&db_from("CREATE TABLE public.t (id bigint PRIMARY KEY);").await).await;
    let (from, to) = scoped(&db, &target, &[]).await;
    let plan = schema::plan(&from, &to, CompareOptions::default());
    let drop = plan
        .steps
        .iter()
        .find(|s| s.sql == "DROP EXTENSION citext;")
        .expect("the extension in public is managed and dropped");
    assert_eq!(drop.hazards.len(), 1);
    assert_eq!(drop.hazards[0].kind, HazardKind::DataLoss);
    assert!(drop.hazards[0].reason.contains("extension citext"));
}
