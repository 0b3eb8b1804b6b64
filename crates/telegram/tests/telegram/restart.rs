//! Restarts: a graceful stop finishes the letter being written; a crash mid-generation is
//! recovered by the next process; a restart between steps continues the conversation.

use chrono::Duration;

use crate::support::harness::{World, RESUME, VACANCY};
use crate::support::{button, message_containing};
use testkit::doubles::bot_api::TgUser;

#[tokio::test]
async fn a_restart_between_steps_continues_the_conversation() {
    let w = World::new().await;
    let u = TgUser::new(700_000_001);
    let first = w.start_polling(w.config()).await;
    w.api.push(u.text("/start"));
    w.api.push(u.text(VACANCY));
    message_containing(&w.api, 700_000_001, 1, "Шаг 2 из 2").await;
    first.stop().await;

    let second = w.start_polling(w.config()).await;
    w.api.push(u.text(RESUME));
    message_containing(&w.api, 700_000_001, 2, "Версия письма номер 1").await;
    second.stop().await;
    assert_eq!(
        w.scalar("SELECT count(*) FROM letter_sessions WHERE status = 'completed'")
            .await,
        1
    );
}

#[tokio::test]
async fn stopping_waits_for_the_letter_being_written_and_delivers_it() {
    let w = World::new().await;
    let u = TgUser::new(700_000_002);
    let bot = w.start_polling(w.config()).await;
    w.api.push(u.text("/start"));
    w.api.push(u.text(VACANCY));
    message_containing(&w.api, 700_000_002, 1, "Шаг 2 из 2").await;
    let gate = w.llm.hold();
    w.api.push(u.text(RESUME));
    // The model has the request: the generation is in flight.
    w.api
        .wait_until("typing shown", |c| {
            c.iter().any(|c| c.method == "sendChatAction")
        })
        .await;
    while w.llm.requests().is_empty() {
        tokio::task::yield_now().await;
    }
    let stopping = tokio::spawn(bot.stop());
    // SIGTERM arrived; the letter is not written yet, so the process must still be running.
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(
        !stopping.is_finished(),
        "stopped before the generation in flight ended"
    );
    gate.add_permits(1);
    stopping.await.unwrap();
    message_containing(&w.api, 700_000_002, 2, "Версия письма номер 1").await;
    assert_eq!(
        w.scalar("SELECT count(*) FROM letter_sessions WHERE status = 'completed'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_process_killed_mid_generation_is_recovered_by_the_next_one() {
    let w = World::new().await;
    let u = TgUser::new(700_000_003);
    let chat = 700_000_003;
    let doomed = w.start_polling(w.config()).await;
    w.api.push(u.text("/start"));
    w.api.push(u.text(VACANCY));
    message_containing(&w.api, chat, 1, "Шаг 2 из 2").await;
    let _never = w.llm.hold();
    w.api.push(u.text(RESUME));
    while w.llm.requests().is_empty() {
        tokio::task::yield_now().await;
    }
    // The process dies while the model is writing: no letter, the letter taken from the quota.
    doomed.kill();
    w.llm.release_hold();
    let used: i32 =
        sqlx::query_scalar("SELECT letters_used FROM subscriptions WHERE status = 'active'")
            .fetch_one(&w.pool)
            .await
            .unwrap();
    assert_eq!(used, 1);

    // Later a new process starts; the user writes again and gets the interrupted letter back.
    w.clock.advance(Duration::minutes(10));
    let next = w.start_polling(w.config()).await;
    w.api.push(u.text("Ну что там?"));
    // The notice comes whether or not the user writes (the restarted bot takes the dead
    // generation over at once); here it may come before or after the answer to the message.
    let notice = message_containing(&w.api, chat, 3, "прервалась").await;
    let retry = button(&notice, "gen:");
    let used: i32 =
        sqlx::query_scalar("SELECT letters_used FROM subscriptions WHERE status = 'active'")
            .fetch_one(&w.pool)
            .await
            .unwrap();
    assert_eq!(used, 0, "the interrupted generation gave its letter back");
    w.api.push(u.press(&retry, 5));
    message_containing(&w.api, chat, 4, "Версия письма номер").await;
    next.stop().await;
    assert_eq!(
        w.scalar("SELECT count(*) FROM letter_sessions WHERE status = 'completed'")
            .await,
        1
    );
}
