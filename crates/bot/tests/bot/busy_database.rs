//! A migration holding the bot's tables: the engine's statements give up on the lock instead of
//! queueing behind it, the event is tried again, and the user is told to try again in a minute.

use std::time::Duration;

use sqlx::Connection;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_locked_by_a_migration_gets_a_try_again_in_a_minute_reply_not_a_hung_chat() {
    let h = Harness::new().await;
    let pool = store::connect(&h.url, 2).await.unwrap();
    let engine = bot::Engine::with_clock(
        pool,
        llm::Writer::from_settings(h.llm.settings()),
        h.config.clone(),
        h.clock.clone(),
    );
    // What `db apply` does on a live database: an exclusive lock held for the whole migration.
    let mut migration = sqlx::PgConnection::connect(&h.url).await.unwrap();
    let mut tx = migration.begin().await.unwrap();
    sqlx::query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();

    let anna = User::new(7101);
    // Three tries of a 3 s lock timeout with 2 s of pauses: well inside the guard below, which
    // only keeps a hanging engine from hanging the test run.
    let replies = tokio::time::timeout(Duration::from_secs(60), send(&engine, anna.text("/start")))
        .await
        .expect("the engine answers while the table is locked");
    tx.rollback().await.unwrap();
    let text = replies.text();
    assert!(text.contains("через минуту"), "{text}");

    // Once the migration is over, the same user is served normally.
    let again = send(&engine, anna.text("/help")).await;
    assert!(!again.text().contains("недоступен"), "{}", again.text());
}
