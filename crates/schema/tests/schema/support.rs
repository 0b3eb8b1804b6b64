//! Helpers shared by the engine's tests: databases from SQL, the roles the peer corpus expects.

use schema::{CompareOptions, Model};
use sqlx::PgConnection;
use testkit::TestDb;

static ROLES: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// Roles that fixtures grant to; roles are cluster-wide, so they are made once per process.
pub async fn ensure_roles() {
    ROLES
        .get_or_init(|| async {
            let db = testkit::empty_db().await;
            let mut conn = db.connect().await;
            for role in ["schemainspect_test_role", "postgres", "reporting", "analyst"] {
                let sql = format!(
                    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN CREATE ROLE {role}; END IF; END $$"
                );
                sqlx::raw_sql(&sql).execute(&mut conn).await.expect("creating a test role");
            }
        })
        .await;
}

/// A fresh database holding what `sql` creates.
pub async fn db_from(sql: &str) -> TestDb {
    ensure_roles().await;
    let db = testkit::empty_db().await;
    let mut conn = db.connect().await;
    sqlx::raw_sql(sql)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("loading fixture into {}: {e}", db.name));
    db
}

pub async fn model(db: &TestDb) -> Model {
    schema::introspect_url(&db.url)
        .await
        .expect("introspecting")
}

pub async fn scalar_text(conn: &mut PgConnection, sql: &str) -> String {
    sqlx::query_scalar::<_, String>(sql)
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Plans FROM -> TO, applies it, and returns the plan; panics with the plan text on failure.
pub async fn converge(from: &TestDb, to: &Model, opts: CompareOptions) -> schema::Plan {
    let before = model(from).await;
    let plan = schema::plan(&before, to, opts);
    let options = schema::ApplyOptions {
        compare: opts,
        ..Default::default()
    };
    schema::apply(&from.url, &before, &plan, to, options, &mut |_| {})
        .await
        .unwrap_or_else(|e| {
            panic!(
                "apply failed: {e}\n{}\n{}",
                schema::format::plan_text(&plan),
                leftover(&e)
            )
        });
    plan
}

pub fn leftover(e: &schema::SchemaError) -> String {
    match e {
        schema::SchemaError::Leftover(d) => schema::format::drift_text(d, "database", "target"),
        _ => String::new(),
    }
}

/// Loads `a` and `b`, brings a database holding `a` to `b`'s model, and checks that nothing is left
/// to do: no drift and an empty second plan.
pub async fn converges(a: &str, b: &str) -> (schema::Plan, testkit::TestDb) {
    let db = db_from(a).await;
    let target = model(&db_from(b).await).await;
    let plan = converge(&db, &target, CompareOptions::default()).await;
    let drift = schema::compare(&model(&db).await, &target, CompareOptions::default());
    assert!(
        drift.is_empty(),
        "{}",
        schema::format::drift_text(&drift, "db", "target")
    );
    assert!(
        schema::plan(&model(&db).await, &target, CompareOptions::default()).is_empty(),
        "a second plan is empty"
    );
    (plan, db)
}

/// Applying `plan` (which has blockers) from `before` to `target` is refused as blocked, and the
/// database is left as `before`.
pub async fn assert_refused_unchanged(
    db: &TestDb,
    before: &Model,
    plan: &schema::Plan,
    target: &Model,
) {
    let err = schema::apply(
        &db.url,
        before,
        plan,
        target,
        schema::ApplyOptions::default(),
        &mut |_| {},
    )
    .await
    .expect_err("a blocked plan is refused");
    assert!(matches!(err, schema::SchemaError::Blocked(_)), "{err}");
    assert_eq!(&model(db).await, before);
}

/// The plan's statements, one after the other.
pub fn sqls(plan: &schema::Plan) -> String {
    plan.steps
        .iter()
        .map(|s| s.sql.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where `needle` starts in `sql` (to compare the order of statements); panics naming it if absent.
pub fn position(sql: &str, needle: &str) -> usize {
    sql.find(needle)
        .unwrap_or_else(|| panic!("no {needle} in\n{sql}"))
}

/// The index of the plan's first step whose SQL contains `needle`; panics naming it if none.
pub fn step_at(plan: &schema::Plan, needle: &str) -> usize {
    plan.steps
        .iter()
        .position(|s| s.sql.contains(needle))
        .unwrap_or_else(|| panic!("no step {needle}"))
}
