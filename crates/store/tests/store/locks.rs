//! Concurrent writers and the analytics summaries: the interleavings the bot produces under load
//! (a signup with a start parameter beside a letter being completed) commit without deadlock, and
//! the counters come out exact.

use sqlx::{Connection, PgConnection};

async fn new_user(conn: &mut PgConnection, telegram_id: i64) -> i64 {
    sqlx::query_scalar("INSERT INTO users (telegram_user_id) VALUES ($1) RETURNING id")
        .bind(telegram_id)
        .fetch_one(&mut *conn)
        .await
        .unwrap()
}

async fn came_from(conn: &mut PgConnection, user: i64, source: &str) {
    sqlx::query("INSERT INTO acquisition_channels (user_id, utm_source) VALUES ($1, $2)")
        .bind(user)
        .bind(source)
        .execute(&mut *conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_signup_and_a_finished_letter_of_another_channel_do_not_deadlock_on_the_counters() {
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let mut setup = PgConnection::connect(&db.url).await.unwrap();
    // A user who came through "ads" and has a letter being written.
    let writer = new_user(&mut setup, 501).await;
    came_from(&mut setup, writer, "ads").await;
    let session: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO letter_sessions (user_id, status) VALUES ($1, 'generating') RETURNING id",
    )
    .bind(writer)
    .fetch_one(&mut setup)
    .await
    .unwrap();

    let mut a = PgConnection::connect(&db.url).await.unwrap();
    let mut b = PgConnection::connect(&db.url).await.unwrap();
    // Bounded: a wait that used to end in a deadlock now fails the test as a timeout instead.
    for c in [&mut a, &mut b] {
        sqlx::query("SET lock_timeout = '5s'")
            .execute(&mut *c)
            .await
            .unwrap();
    }
    let mut ta = a.begin().await.unwrap();
    let mut tb = b.begin().await.unwrap();
    // A: a new user (the month's "direct" counter moves).
    let newcomer = new_user(&mut ta, 502).await;
    // B: the letter is finished (the "ads" counter moves).
    sqlx::query(
        "UPDATE letter_sessions SET status = 'completed', completed_at = now() WHERE id = $1",
    )
    .bind(session)
    .execute(&mut *tb)
    .await
    .unwrap();
    // Now each needs the counter the other one moved: B signs up another direct user while A
    // records that its newcomer came through "ads". Per-statement counters took these locks in
    // opposite orders and PostgreSQL broke the cycle by failing one of them.
    tokio::join!(came_from(&mut ta, newcomer, "ads"), async {
        new_user(&mut tb, 503).await;
    });
    ta.commit().await.unwrap();
    tb.commit().await.unwrap();

    let counts: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT channel, users, activated FROM analytics_cohort_counts
         WHERE users <> 0 OR activated <> 0 ORDER BY channel",
    )
    .fetch_all(&mut setup)
    .await
    .unwrap();
    assert_eq!(
        counts,
        vec![("ads".to_string(), 2, 1), ("direct".to_string(), 1, 0)]
    );
    let pending: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM analytics_pending) + (SELECT count(*) FROM analytics_pending_xact)",
    )
    .fetch_one(&mut setup)
    .await
    .unwrap();
    assert_eq!(pending, 0, "nothing is left noted after the commits");
}

#[tokio::test]
async fn the_summaries_are_brought_up_to_date_when_the_writing_transaction_commits() {
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let mut reader = PgConnection::connect(&db.url).await.unwrap();
    let mut writer = PgConnection::connect(&db.url).await.unwrap();
    let mut tx = writer.begin().await.unwrap();
    let user = new_user(&mut tx, 601).await;
    came_from(&mut tx, user, "blog").await;
    let before: i64 =
        sqlx::query_scalar("SELECT coalesce(sum(users), 0)::bigint FROM analytics_cohort_counts")
            .fetch_one(&mut reader)
            .await
            .unwrap();
    assert_eq!(before, 0, "nothing is visible before the commit");
    tx.commit().await.unwrap();
    let after: Vec<(String, i64)> = sqlx::query_as(
        "SELECT channel, users FROM analytics_cohort_counts WHERE users <> 0 ORDER BY channel",
    )
    .fetch_all(&mut reader)
    .await
    .unwrap();
    assert_eq!(after, vec![("blog".to_string(), 1)]);
    let funnel: i64 =
        sqlx::query_scalar("SELECT count(*) FROM analytics_user_funnel WHERE user_id = $1")
            .bind(user)
            .fetch_one(&mut reader)
            .await
            .unwrap();
    assert_eq!(funnel, 1, "the funnel row came with the same commit");
}
