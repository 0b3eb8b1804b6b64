//! The apply's two safety nets: a plan that does not reach the target is rolled back by the
//! verification before COMMIT, and a database that changed after the plan was made is refused.

use crate::support::{db_from, model};

const BEFORE: &str = r#"
CREATE TABLE notes (id bigint PRIMARY KEY, body text);
INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 50) g;
"#;

const AFTER: &str = r#"
CREATE TABLE notes (id bigint PRIMARY KEY, body text, created_at timestamptz);
CREATE TABLE tags (id bigint PRIMARY KEY, name text NOT NULL);
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_that_leaves_a_difference_is_rolled_back_before_commit() {
    let db = db_from(BEFORE).await;
    let target_db = db_from(AFTER).await;
    let before = model(&db).await;
    let target = model(&target_db).await;
    let mut plan = schema::plan(&before, &target, schema::CompareOptions::default());
    let steps = plan.steps.len();
    // The plan loses the steps that make `tags` (as a buggy planner would): the rest runs, and
    // the check before COMMIT must catch what is missing.
    plan.steps.retain(|s| !s.sql.contains("public.tags"));
    assert!(plan.steps.len() < steps, "the plan had steps for tags");
    assert!(!plan.steps.is_empty(), "the other steps still run");

    let result = schema::apply(
        &db.url,
        &before,
        &plan,
        &target,
        schema::ApplyOptions::default(),
        &mut |_| {},
    )
    .await;
    match result {
        Err(schema::SchemaError::Leftover(drift)) => assert!(!drift.is_empty()),
        other => panic!("expected a leftover error, got {other:?}"),
    }
    let after = model(&db).await;
    assert!(
        schema::compare(&after, &before, schema::CompareOptions::default()).is_empty(),
        "the steps that ran were rolled back: the database is as before"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_changed_after_the_plan_is_refused_and_left_alone() {
    let db = db_from(BEFORE).await;
    let target_db = db_from(AFTER).await;
    let before = model(&db).await;
    let target = model(&target_db).await;
    let plan = schema::plan(&before, &target, schema::CompareOptions::default());
    assert!(!plan.is_empty());

    // Someone changes the database between `plan` and `apply`.
    let mut conn = db.connect().await;
    sqlx::raw_sql("ALTER TABLE notes ADD COLUMN author text")
        .execute(&mut conn)
        .await
        .unwrap();
    let changed = model(&db).await;

    let result = schema::apply(
        &db.url,
        &before,
        &plan,
        &target,
        schema::ApplyOptions::default(),
        &mut |_| {},
    )
    .await;
    assert!(
        matches!(result, Err(schema::SchemaError::ChangedSincePlan(n)) if n > 0),
        "{result:?}"
    );
    let after = model(&db).await;
    assert!(
        schema::compare(&after, &changed, schema::CompareOptions::default()).is_empty(),
        "nothing of the plan ran"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM notes")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 50);
}
