//! Default privileges are modelled: what a created object is granted by the live database's
//! defaults is converged to the target's grants, defaults themselves are planned, and verify
//! agrees after apply.

use schema::{CompareOptions, HazardKind, Model};
use testkit::TestDb;

use crate::support::{db_from, model, scalar_text};

static API_ROLES: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// Supabase's API roles; roles are cluster-wide, so they are made once per process.
async fn api_roles() {
    API_ROLES
        .get_or_init(|| async {
            let db = testkit::empty_db().await;
            let mut conn = db.connect().await;
            sqlx::raw_sql(
                "DO $$ BEGIN
                   IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN; END IF;
                   IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN; END IF;
                   IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN CREATE ROLE service_role NOLOGIN; END IF;
                 END $$",
            )
            .execute(&mut conn)
            .await
            .expect("creating the API roles");
        })
        .await;
}

/// What a Supabase project has on `public` before anything else runs.
pub const SUPABASE_DEFAULTS: &str = "
    GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;";

const OBJECTS: &str = "
    CREATE TABLE public.users (id bigserial PRIMARY KEY, name text);
    CREATE VIEW public.names AS SELECT name FROM public.users;
    CREATE FUNCTION public.user_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM public.users $$;";

async fn scoped(db: &TestDb, target: &Model) -> (Model, Model) {
    let mut from = model(db).await;
    let mut to = target.clone();
    schema::scope::restrict_both(&mut from, &mut to, &[]);
    (from, to)
}

/// Applies `target` to `db` and returns the plan; then verify (compare) must find no drift.
async fn apply_and_verify(db: &TestDb, target: &Model) -> schema::Plan {
    let (from, to) = scoped(db, target).await;
    let plan = schema::plan(&from, &to, CompareOptions::default());
    schema::apply(&db.url, &from, &plan, &to, Default::default(), &mut |_| {})
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", schema::format::plan_text(&plan)));
    let (after, to) = scoped(db, target).await;
    let drift = schema::compare(&after, &to, CompareOptions::default());
    assert!(
        drift.is_empty(),
        "verify after apply: {}",
        schema::format::drift_text(&drift, "db", "target")
    );
    plan
}

async fn acl(db: &TestDb, object: &str) -> String {
    let mut conn = db.connect().await;
    scalar_text(
        &mut conn,
        &format!(
            "SELECT coalesce(string_agg(DISTINCT pg_get_userbyid(a.grantee), ',' ORDER BY pg_get_userbyid(a.grantee)), '')
               FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = '{object}'::regclass AND a.grantee <> c.relowner"
        ),
    )
    .await
}

#[tokio::test]
async fn a_target_without_grants_converges_objects_created_under_supabase_defaults_and_verify_agrees(
) {
    api_roles().await;
    let db = db_from(&format!(
        "{SUPABASE_DEFAULTS} CREATE TABLE public.old (id bigint PRIMARY KEY);"
    ))
    .await;
    assert_eq!(
        acl(&db, "public.old").await,
        "anon,authenticated,service_role"
    );
    let target = model(
        &db_from(&format!(
            "CREATE TABLE public.old (id bigint PRIMARY KEY); {OBJECTS}"
        ))
        .await,
    )
    .await;
    let plan = apply_and_verify(&db, &target).await;
    assert_eq!(
        acl(&db, "public.users").await,
        "",
        "the target grants nothing"
    );
    assert_eq!(acl(&db, "public.old").await, "");
    // Taking grants from the old table and the defaults is a security hazard; from new objects it
    // is not (they never had them before this transaction).
    let security: Vec<&str> = plan
        .hazards()
        .into_iter()
        .filter(|(_, h)| h.kind == HazardKind::Security)
        .map(|(s, _)| s.object.as_str())
        .collect();
    assert!(security.contains(&"table public.old"), "{security:?}");
    assert!(security
        .iter()
        .any(|o| o.starts_with("default privileges on TABLES in schema public")));
    assert!(!security.contains(&"table public.users"), "{security:?}");
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(&mut conn, "SELECT count(*)::text FROM pg_default_acl").await,
        "0",
        "the defaults the target does not state are removed"
    );
}

#[tokio::test]
async fn a_target_stating_the_same_defaults_keeps_them_and_created_objects_keep_their_grants() {
    api_roles().await;
    let db = db_from(SUPABASE_DEFAULTS).await;
    let target = model(&db_from(&format!("{SUPABASE_DEFAULTS} {OBJECTS}")).await).await;
    let plan = apply_and_verify(&db, &target).await;
    assert!(
        plan.steps
            .iter()
            .all(|s| !s.action.starts_with("grant") && !s.action.starts_with("revoke")),
        "the live defaults already give what the target states:\n{}",
        schema::format::plan_text(&plan)
    );
    assert_eq!(
        acl(&db, "public.users").await,
        "anon,authenticated,service_role"
    );
    assert_eq!(
        acl(&db, "public.users_id_seq").await,
        "anon,authenticated,service_role"
    );
}

#[tokio::test]
async fn default_privileges_the_target_states_are_added_after_the_objects_are_created() {
    api_roles().await;
    let db = db_from("").await;
    let target = model(&db_from(&format!("{SUPABASE_DEFAULTS} {OBJECTS}")).await).await;
    let plan = apply_and_verify(&db, &target).await;
    let defaults = plan
        .steps
        .iter()
        .position(|s| s.sql.starts_with("ALTER DEFAULT PRIVILEGES"))
        .expect("the defaults are planned");
    let created = plan
        .steps
        .iter()
        .rposition(|s| s.sql.starts_with("CREATE"))
        .unwrap();
    assert!(created < defaults);
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(&mut conn, "SELECT count(*)::text FROM pg_default_acl WHERE defaclnamespace = 'public'::regnamespace").await,
        "3"
    );
}

/// The legacy platform file itself, as the old bot's operators have it.
#[cfg(legacy_corpus)]
#[tokio::test]
async fn the_legacy_supabase_platform_file_then_a_declared_schema_converges_and_leaves_auth_alone()
{
    api_roles().await;
    let platform = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/reference/legacy/00_supabase_platform.sql"
    ))
    .expect("reading the platform file");
    let db = db_from(&format!(
        "{platform}\nCREATE TABLE public.error_logs (id bigint PRIMARY KEY);"
    ))
    .await;
    let target = model(
        &db_from(&format!(
            "CREATE TABLE public.error_logs (id bigint PRIMARY KEY); {OBJECTS}"
        ))
        .await,
    )
    .await;
    apply_and_verify(&db, &target).await;
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(&mut conn, "SELECT concat_ws(',', to_regprocedure('auth.uid()')::text, to_regprocedure('auth.role()')::text)").await,
        "auth.uid(),auth.role()"
    );
    assert_eq!(acl(&db, "public.users").await, "");
}

/// The default privileges of the database as `FOR ROLE r IN SCHEMA s ON TABLES: grantee=privs`
/// lines, sorted.
async fn defaults(db: &TestDb) -> String {
    let mut conn = db.connect().await;
    scalar_text(
        &mut conn,
        "SELECT coalesce(string_agg(pg_get_userbyid(d.defaclrole) || ' ' || coalesce(n.nspname, '*') || ' '
                  || d.defaclobjtype::text || ' ' || d.defaclacl::text, '; ' ORDER BY 1), '')
         FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace",
    )
    .await
}

#[tokio::test]
async fn another_roles_default_privileges_are_granted_and_revoked_for_that_role() {
    let db = db_from(
        "ALTER DEFAULT PRIVILEGES FOR ROLE analyst IN SCHEMA public GRANT SELECT ON TABLES TO reporting;",
    )
    .await;
    let target_db = db_from(
        "ALTER DEFAULT PRIVILEGES FOR ROLE analyst IN SCHEMA public GRANT INSERT ON TABLES TO reporting;
         ALTER DEFAULT PRIVILEGES FOR ROLE reporting GRANT USAGE ON SEQUENCES TO analyst;",
    )
    .await;
    let plan = apply_and_verify(&db, &model(&target_db).await).await;
    let sql: Vec<&str> = plan.steps.iter().map(|s| s.sql.as_str()).collect();
    assert!(
        sql.contains(&"ALTER DEFAULT PRIVILEGES FOR ROLE analyst IN SCHEMA public REVOKE SELECT ON TABLES FROM reporting;"),
        "{sql:?}"
    );
    assert_eq!(defaults(&db).await, defaults(&target_db).await);
}

#[tokio::test]
async fn default_privileges_in_every_schema_that_the_target_lacks_are_revoked() {
    let db = db_from(
        "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO reporting;
         CREATE TABLE public.users (id int);",
    )
    .await;
    let target_db = db_from("CREATE TABLE public.users (id int);").await;
    let plan = apply_and_verify(&db, &model(&target_db).await).await;
    assert!(
        plan.hazards()
            .iter()
            .any(|(s, h)| h.kind == HazardKind::Security
                && s.object
                    .starts_with("default privileges on TABLES in every schema")),
        "{}",
        schema::format::plan_text(&plan)
    );
    assert_eq!(defaults(&db).await, "");
}
