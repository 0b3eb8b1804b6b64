//! The note of which users a transaction touched, kept until its commit refreshes their summaries:
//! transaction-local settings for the usual few users, a table past that, and nothing left behind
//! by either (see 056_analytics_commit.sql).

use sqlx::{Connection, PgConnection};

async fn signup(conn: &mut PgConnection, telegram_id: i64, source: &str) {
    sqlx::query(
        "WITH u AS (INSERT INTO users (telegram_user_id) VALUES ($1) RETURNING id)
         INSERT INTO acquisition_channels (user_id, utm_source) SELECT id, $2 FROM u",
    )
    .bind(telegram_id)
    .bind(source)
    .execute(&mut *conn)
    .await
    .unwrap();
}

async fn counted(conn: &mut PgConnection, source: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT coalesce(sum(users), 0)::bigint FROM analytics_cohort_counts WHERE channel = $1",
    )
    .bind(source)
    .fetch_one(&mut *conn)
    .await
    .unwrap()
}

async fn left_noted(conn: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM analytics_pending) + (SELECT count(*) FROM analytics_pending_xact)",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn each_transaction_of_one_connection_is_summarised_at_its_own_commit() {
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    for (n, telegram_id) in [701, 702, 703].into_iter().enumerate() {
        let mut tx = conn.begin().await.unwrap();
        signup(&mut tx, telegram_id, "blog").await;
        tx.commit().await.unwrap();
        // The note and the "flush queued" mark end with their transaction; a mark that outlived
        // it would leave the next transaction's users out.
        assert_eq!(counted(&mut conn, "blog").await, n as i64 + 1);
    }
    assert_eq!(left_noted(&mut conn).await, 0);
}

#[tokio::test]
async fn writes_after_a_flush_forced_early_are_summarised_at_commit_too() {
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SET CONSTRAINTS analytics_flush_at_commit IMMEDIATE")
        .execute(&mut *tx)
        .await
        .unwrap();
    signup(&mut tx, 711, "ads").await;
    assert_eq!(counted(&mut tx, "ads").await, 1, "flushed when asked");
    sqlx::query("SET CONSTRAINTS analytics_flush_at_commit DEFERRED")
        .execute(&mut *tx)
        .await
        .unwrap();
    signup(&mut tx, 712, "ads").await;
    tx.commit().await.unwrap();
    assert_eq!(counted(&mut conn, "ads").await, 2);
    assert_eq!(left_noted(&mut conn).await, 0);
}

#[tokio::test]
async fn a_savepoint_rolled_back_takes_its_users_out_of_the_note() {
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    signup(&mut tx, 721, "mail").await;
    {
        let mut sp = tx.begin().await.unwrap();
        signup(&mut sp, 722, "mail").await;
        sp.rollback().await.unwrap();
    }
    let noted: String =
        sqlx::query_scalar("SELECT current_setting('soprovod.analytics_cohort', true)")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    let mine: i64 = sqlx::query_scalar("SELECT id FROM users WHERE telegram_user_id = 721")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    // One signup writes users and acquisition_channels: the same user noted twice is harmless.
    let ids: Vec<i64> = noted.split(',').map(|s| s.parse().unwrap()).collect();
    assert!(
        !ids.is_empty() && ids.iter().all(|id| *id == mine),
        "{noted}"
    );
    tx.commit().await.unwrap();
    assert_eq!(counted(&mut conn, "mail").await, 1);
}

#[tokio::test]
async fn a_transaction_touching_thousands_of_users_spills_its_note_to_the_table_and_leaves_nothing()
{
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    // 300 users in one statement (past what one call notes in the setting), then 2 500 one by
    // one (past the setting's length).
    sqlx::query(
        "WITH u AS (INSERT INTO users (telegram_user_id) SELECT g FROM generate_series(1, 300) g
                    RETURNING id)
         INSERT INTO acquisition_channels (user_id, utm_source) SELECT id, 'batch' FROM u",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "DO $$
         DECLARE v_id bigint;
         BEGIN
             FOR g IN 1001 .. 3500 LOOP
                 INSERT INTO users (telegram_user_id) VALUES (g) RETURNING id INTO v_id;
                 INSERT INTO acquisition_channels (user_id, utm_source) VALUES (v_id, 'one-by-one');
             END LOOP;
         END $$",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    let spilled: i64 = sqlx::query_scalar("SELECT count(DISTINCT user_id) FROM analytics_pending")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert!(
        spilled >= 300,
        "the big statement's users are in the table: {spilled}"
    );
    tx.commit().await.unwrap();
    assert_eq!(counted(&mut conn, "batch").await, 300);
    assert_eq!(counted(&mut conn, "one-by-one").await, 2500);
    let facts: i64 = sqlx::query_scalar("SELECT count(*) FROM analytics_user_facts")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(facts, 2800);
    assert_eq!(left_noted(&mut conn).await, 0);
}
