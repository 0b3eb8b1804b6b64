//! A step that cannot get its lock within lock_timeout fails the whole apply: everything before it
//! rolls back and the database is exactly as it was.

use std::time::Duration;

use sqlx::Connection;

use crate::support::{db_from, model, scalar_text};

const BEFORE: &str = r#"
CREATE TABLE alpha (id integer PRIMARY KEY, n integer);
CREATE TABLE omega (id integer PRIMARY KEY, n integer);
INSERT INTO alpha SELECT g, g FROM generate_series(1, 500) g;
INSERT INTO omega SELECT g, g FROM generate_series(1, 500) g;
CREATE VIEW alpha_n AS SELECT n FROM alpha;
"#;

const AFTER: &str = r#"
CREATE TABLE alpha (id bigint PRIMARY KEY, n double precision, note text);
CREATE TABLE omega (id bigint PRIMARY KEY, n double precision);
CREATE VIEW alpha_n AS SELECT n FROM alpha;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_timeout_in_the_middle_leaves_the_database_exactly_as_it_was() {
    let db = db_from(BEFORE).await;
    let target_db = db_from(AFTER).await;
    let before = model(&db).await;
    let target = model(&target_db).await;
    let plan = schema::plan(&before, &target, schema::CompareOptions::default());
    let first_omega = plan
        .steps
        .iter()
        .position(|s| s.sql.contains("public.omega"))
        .expect("a step on omega");
    let first_alpha = plan
        .steps
        .iter()
        .position(|s| s.sql.contains("public.alpha"))
        .expect("a step on alpha");
    assert!(
        first_alpha < first_omega,
        "alpha changes before omega, so a failure on omega has work to undo"
    );

    // Another session reads omega in an open transaction: ALTER TABLE omega must wait for it.
    let mut holder = db.connect().await;
    let mut tx = holder.begin().await.unwrap();
    sqlx::query("LOCK TABLE omega IN ACCESS SHARE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();

    let options = schema::ApplyOptions {
        lock_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let mut finished = Vec::new();
    let result = schema::apply(&db.url, &before, &plan, &target, options, &mut |p| {
        if let schema::Progress::Finished { index, .. } = p {
            finished.push(index);
        }
    })
    .await;
    tx.rollback().await.unwrap();

    let err = result.expect_err("the apply must fail on the lock");
    let schema::SchemaError::Step { step, source, .. } = &err else {
        panic!("unexpected error {err}")
    };
    assert_eq!(*step, first_omega + 1);
    assert!(source.to_string().contains("lock timeout"), "{source}");
    assert_eq!(finished.len(), first_omega, "the steps before it had run");

    let after = model(&db).await;
    assert_eq!(after, before, "the catalog is exactly as before");
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT sum(n)::text || '/' || pg_typeof(n)::text FROM alpha GROUP BY pg_typeof(n)"
        )
        .await,
        "125250/integer"
    );
}
