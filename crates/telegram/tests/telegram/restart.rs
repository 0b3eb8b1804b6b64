//! Restarts: a graceful stop finishes the letter being written; a restart between steps
//! continues the conversation. (A crash mid-generation is a real `kill -9` in the cli tests'
//! `kill_nine`.)

use crate::support::harness::{World, RESUME, VACANCY};
use crate::support::message_containing;
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
