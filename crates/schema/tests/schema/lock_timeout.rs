//! The apply takes its locks before its first step: a lock held elsewhere makes it wait at most
//! lock_timeout per try and retry a bounded number of times, and when the lock never comes nothing
//! has changed; when it is released during the retries, the apply goes through.

use std::time::Duration;

use sqlx::Connection;
use tokio::sync::mpsc;

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

async fn prepared() -> (testkit::TestDb, schema::Model, schema::Model, schema::Plan) {
    let db = db_from(BEFORE).await;
    let target_db = db_from(AFTER).await;
    let before = model(&db).await;
    let target = model(&target_db).await;
    let plan = schema::plan(&before, &target, schema::CompareOptions::default());
    (db, before, target, plan)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_that_never_comes_fails_after_the_retries_and_changes_nothing() {
    let (db, before, target, plan) = prepared().await;
    // Another session reads omega in an open transaction: the apply cannot lock it.
    let mut holder = db.connect().await;
    let mut tx = holder.begin().await.unwrap();
    sqlx::query("LOCK TABLE omega IN ACCESS SHARE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();

    let options = schema::ApplyOptions {
        lock_timeout: Duration::from_millis(200),
        retries: 2,
        ..Default::default()
    };
    let (mut finished, mut retries) = (0, 0);
    let result = schema::apply(
        &db.url,
        &before,
        &plan,
        &target,
        options,
        &mut |p| match p {
            schema::Progress::Finished { .. } => finished += 1,
            schema::Progress::Retrying { .. } => retries += 1,
            _ => {}
        },
    )
    .await;
    tx.rollback().await.unwrap();

    let err = result.expect_err("the apply must fail on the lock");
    let schema::SchemaError::Lock { table, source } = &err else {
        panic!("unexpected error {err}")
    };
    assert_eq!(table, "public.omega");
    assert!(source.to_string().contains("lock timeout"), "{source}");
    assert_eq!(retries, 2, "tried again exactly --retries times");
    assert_eq!(finished, 0, "no step ran before the locks were held");

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_released_during_the_retries_lets_the_apply_through() {
    let (db, before, target, plan) = prepared().await;
    let mut holder = db.connect().await;
    let (release, mut released) = mpsc::unbounded_channel::<()>();
    let (locked_tx, locked_rx) = tokio::sync::oneshot::channel::<()>();
    let holding = tokio::spawn(async move {
        let mut tx = holder.begin().await.unwrap();
        sqlx::query("LOCK TABLE alpha IN ACCESS SHARE MODE")
            .execute(&mut *tx)
            .await
            .unwrap();
        locked_tx.send(()).unwrap();
        // Hold the lock until the apply has given up once.
        released.recv().await;
        tx.rollback().await.unwrap();
    });
    locked_rx.await.unwrap();

    let options = schema::ApplyOptions {
        lock_timeout: Duration::from_millis(200),
        retries: 5,
        ..Default::default()
    };
    let report = schema::apply(&db.url, &before, &plan, &target, options, &mut |p| {
        if let schema::Progress::Retrying { .. } = p {
            let _ = release.send(());
        }
    })
    .await
    .expect("the apply goes through once the lock is released");
    holding.await.unwrap();
    assert!(report.retries >= 1, "it had to retry: {report:?}");
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT sum(n)::text || '/' || pg_typeof(n)::text FROM alpha GROUP BY pg_typeof(n)"
        )
        .await,
        "125250/double precision"
    );
}
