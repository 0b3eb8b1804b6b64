//! Kills around a letter: while the model writes it, once it is stored but before Telegram took
//! it, and after Telegram took it but before the bot heard back; and while an improvement is
//! written.

use std::time::{Duration, Instant};

use testkit::doubles::bot_api::{button, message_containing, sent_to, HoldAt, TgUser};
use testkit::doubles::texts::RESUME;

use super::bot_process::World;
use super::{assert_posted_once_and_accepted, assert_steps_answered_once, count, kill_at};
use super::{up_to_the_resume, Point};

const LETTER: &str = "Версия письма номер";

/// Kill while the model writes the letter: after the restart the user is told, the letter is
/// given back, and the notice's retry button writes it. Returns the resume's update id.
async fn killed_mid_generation(w: &World, telegram_id: i64) -> i64 {
    let u = TgUser::new(telegram_id);
    let bot = w.start();
    up_to_the_resume(w, &u).await;
    let resume = kill_at(w, bot, Point::ModelCall, u.text(RESUME)).await;
    assert_eq!(w.letters_used(u.id).await, 1, "the letter was taken");

    let restarted = Instant::now();
    let next = w.start();
    let notice = message_containing(&w.api, u.id, 3, "прервалась").await;
    assert!(
        restarted.elapsed() < Duration::from_secs(30),
        "taken over after {:?}",
        restarted.elapsed()
    );
    assert_eq!(w.letters_used(u.id).await, 0, "the letter was given back");
    w.api.push(u.press(&button(&notice, "gen:"), 5));
    message_containing(&w.api, u.id, 4, LETTER).await;
    next.stop().await;
    assert_eq!(w.letters_used(u.id).await, 1);
    assert_eq!(count(w, u.id, LETTER), 1);
    assert_eq!(count(w, u.id, "прервалась"), 1);
    assert_steps_answered_once(w, u.id);
    resume
}

/// Kill while the stored letter's message waits before Telegram took it: sent once after the
/// restart, counted once, not written again.
async fn killed_with_the_letter_stored_not_sent(w: &World, telegram_id: i64) -> i64 {
    let u = TgUser::new(telegram_id);
    let bot = w.start();
    up_to_the_resume(w, &u).await;
    let stored = Point::Message(LETTER, HoldAt::BeforeTaking);
    let resume = kill_at(w, bot, stored, u.text(RESUME)).await;
    assert_eq!(count(w, u.id, LETTER), 0);

    let next = w.start();
    message_containing(&w.api, u.id, 3, LETTER).await;
    next.stop().await;
    assert_eq!(count(w, u.id, LETTER), 1);
    assert_eq!(
        w.letters_used(u.id).await,
        1,
        "one letter counted, one delivered"
    );
    assert_eq!(w.llm.count(), 1, "the letter was not written twice");
    assert_steps_answered_once(w, u.id);
    resume
}

/// Kill after Telegram took the letter, before the bot heard back: the bot cannot know, so it
/// sends it again rather than risk losing it (the one place a message can arrive twice).
async fn killed_after_telegram_took_the_letter(w: &World, telegram_id: i64) -> i64 {
    let u = TgUser::new(telegram_id);
    let bot = w.start();
    up_to_the_resume(w, &u).await;
    let sent = Point::Message(LETTER, HoldAt::AfterTaking);
    let resume = kill_at(w, bot, sent, u.text(RESUME)).await;
    assert_eq!(count(w, u.id, LETTER), 1, "Telegram has it");

    let next = w.start();
    w.api
        .wait_chat(u.id, |t| {
            t.iter().filter(|t| t.contains(LETTER)).count() == 2
        })
        .await;
    w.api.push(u.text("/help"));
    message_containing(&w.api, u.id, 4, "Как это работает").await;
    next.stop().await;
    assert_eq!(count(w, u.id, LETTER), 2);
    assert_eq!(
        w.letters_used(u.id).await,
        1,
        "the same letter, counted once"
    );
    assert_eq!(w.llm.count(), 1);
    assert_steps_answered_once(w, u.id);
    resume
}

#[tokio::test]
async fn kill_nine_mid_generation_by_polling_gives_the_letter_back_and_offers_the_retry() {
    killed_mid_generation(&World::polling().await, 810_000_003).await;
}

#[tokio::test]
async fn kill_nine_mid_generation_through_the_webhook_gives_the_letter_back_and_offers_the_retry() {
    let w = &World::webhook().await;
    let resume = killed_mid_generation(w, 810_000_013).await;
    assert_posted_once_and_accepted(w, resume);
}

#[tokio::test]
async fn kill_nine_with_a_letter_stored_but_not_sent_by_polling_sends_it_once_after_the_restart() {
    killed_with_the_letter_stored_not_sent(&World::polling().await, 810_000_004).await;
}

#[tokio::test]
async fn kill_nine_with_a_letter_stored_but_not_sent_through_the_webhook_sends_it_once() {
    let w = &World::webhook().await;
    let resume = killed_with_the_letter_stored_not_sent(w, 810_000_014).await;
    assert_posted_once_and_accepted(w, resume);
}

#[tokio::test]
async fn kill_nine_after_telegram_took_the_letter_by_polling_sends_it_again_and_counts_it_once() {
    killed_after_telegram_took_the_letter(&World::polling().await, 810_000_005).await;
}

#[tokio::test]
async fn kill_nine_after_telegram_took_the_letter_through_the_webhook_counts_it_once() {
    let w = &World::webhook().await;
    let resume = killed_after_telegram_took_the_letter(w, 810_000_015).await;
    assert_posted_once_and_accepted(w, resume);
}

#[tokio::test]
async fn kill_nine_mid_improvement_offers_improve_and_variant_again_on_the_notice() {
    let w = &World::polling().await;
    let u = TgUser::new(810_000_007);
    let bot = w.start();
    up_to_the_resume(w, &u).await;
    w.api.push(u.text(RESUME));
    let letter = message_containing(&w.api, u.id, 2, "Версия письма номер 1").await;
    w.api.push(u.press(&button(&letter, "imp:"), 1));
    message_containing(&w.api, u.id, 3, "Что изменить").await;
    kill_at(w, bot, Point::ModelCall, u.text("Сделай письмо короче")).await;

    let next = w.start();
    let notice = message_containing(&w.api, u.id, 4, "прервалась").await;
    assert!(button(&notice, "var:").starts_with("var:"));
    let asked = sent_to(&w.api.calls(), u.id).len();
    w.api.push(u.press(&button(&notice, "imp:"), 5));
    message_containing(&w.api, u.id, asked, "Что изменить").await;
    w.api.push(u.text("Сделай письмо короче"));
    message_containing(&w.api, u.id, asked, "Версия письма номер 3").await;
    next.stop().await;
    assert_eq!(w.letters_used(u.id).await, 1, "improvements use no quota");
    assert_eq!(count(w, u.id, "прервалась"), 1);
    assert_eq!(count(w, u.id, "Версия письма номер 3"), 1);
    assert_steps_answered_once(w, u.id);
}
