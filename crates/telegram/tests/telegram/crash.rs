//! Crashes at every step of an update's life (received, recorded, generation started, letter
//! stored, letter sent): after a restart every update is answered, nothing twice except where
//! the crash hid whether Telegram took a message, and the quota counts exactly the letters
//! delivered. Also: a payment whose insert fails once, a refund whose record fails once, and a
//! button pressed while a letter is being written.

use std::time::{Duration, Instant};

use domain::TelegramUserId;
use sqlx::{Connection, PgConnection};

use crate::support::harness::{World, RESUME, VACANCY};
use crate::support::{button, message_containing, sent_to};
use testkit::doubles::bot_api::{HoldAt, TgUser};

/// The advisory lock a gate trigger waits on while the test holds it.
const GATE_KEY: i64 = 424_242;

/// Makes every insert into `table` wait while the returned connection holds the gate.
async fn gate_inserts(w: &World, table: &str) -> PgConnection {
    let sql = format!(
        "CREATE OR REPLACE FUNCTION test_gate() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN PERFORM pg_advisory_xact_lock_shared({GATE_KEY}); RETURN NEW; END $$;
         CREATE TRIGGER test_gate BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION test_gate();"
    );
    sqlx::raw_sql(&sql).execute(&w.pool).await.unwrap();
    let mut holder = PgConnection::connect(&w.db.url).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(GATE_KEY)
        .execute(&mut holder)
        .await
        .unwrap();
    holder
}

/// Waits until some session waits at the gate.
async fn until_someone_waits_at_the_gate(w: &World) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1",
        )
        .bind(GATE_KEY)
        .fetch_one(&w.pool)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "nobody reached the gate");
        // Polling the condition itself: another session's lock wait sends no signal a test can
        // await, so pg_locks is read again; the pause only spaces the reads.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn open_gate(w: &World, table: &str, holder: PgConnection) {
    holder.close().await.unwrap();
    sqlx::raw_sql(&format!("DROP TRIGGER test_gate ON {table}"))
        .execute(&w.pool)
        .await
        .unwrap();
}

/// Texts of the messages the user got that contain `needle`.
fn count(w: &World, chat: i64, needle: &str) -> usize {
    sent_to(&w.api.calls(), chat)
        .iter()
        .filter(|c| c.text().contains(needle))
        .count()
}

async fn letters_used(w: &World, chat: i64) -> i64 {
    let uid = w.user_id(chat).await;
    sqlx::query_scalar::<_, i32>(
        "SELECT letters_used FROM subscriptions WHERE user_id = $1 AND status = 'active'",
    )
    .bind(uid)
    .fetch_one(&w.pool)
    .await
    .map(i64::from)
    .unwrap()
}

/// /start and the vacancy, answered once each; the user is asked for the resume.
async fn up_to_the_resume(w: &World, u: &TgUser) {
    w.api.push(u.text("/start"));
    w.api.push(u.text(VACANCY));
    message_containing(&w.api, u.id, 1, "Шаг 2 из 2").await;
}

fn assert_steps_answered_once(w: &World, chat: i64) {
    assert_eq!(count(w, chat, "Шаг 1 из 2"), 1);
    assert_eq!(count(w, chat, "Шаг 2 из 2"), 1);
}

#[tokio::test]
async fn a_crash_while_an_update_is_being_recorded_loses_nothing() {
    let w = World::new().await;
    let u = TgUser::new(710_000_001);
    let doomed = w.start_polling(w.config()).await;
    up_to_the_resume(&w, &u).await;
    let gate = gate_inserts(&w, "update_inbox").await;
    w.api.push(u.text("/help"));
    until_someone_waits_at_the_gate(&w).await;
    doomed.kill();
    open_gate(&w, "update_inbox", gate).await;
    // Not recorded, so not acknowledged: Telegram still holds it.
    assert!(w.api.unconfirmed() >= 1);

    let next = w.start_polling(w.config()).await;
    message_containing(&w.api, u.id, 2, "Как это работает").await;
    next.stop().await;
    assert_eq!(count(&w, u.id, "Как это работает"), 1);
    assert_eq!(
        sent_to(&w.api.calls(), u.id).len(),
        3,
        "start, vacancy and help: each answered once"
    );
    assert_steps_answered_once(&w, u.id);
}

#[tokio::test]
async fn a_crash_after_an_update_was_recorded_is_taken_over_at_restart() {
    let w = World::new().await;
    let u = TgUser::new(710_000_002);
    let doomed = w.start_polling(w.config()).await;
    up_to_the_resume(&w, &u).await;
    // The engine's transaction waits: the update is in the inbox, not handled.
    let gate = gate_inserts(&w, "processed_events").await;
    w.api.push(u.text("/help"));
    until_someone_waits_at_the_gate(&w).await;
    assert_eq!(
        w.scalar("SELECT count(*) FROM update_inbox WHERE done_at IS NULL")
            .await,
        1
    );
    doomed.kill();
    open_gate(&w, "processed_events", gate).await;

    let next = w.start_polling(w.config()).await;
    w.api.wait_chat(u.id, |texts| texts.len() >= 3).await;
    next.stop().await;
    assert_eq!(
        sent_to(&w.api.calls(), u.id).len(),
        3,
        "start, vacancy and help: each answered once"
    );
    assert_steps_answered_once(&w, u.id);
    assert_eq!(
        w.scalar("SELECT count(*) FROM update_inbox WHERE done_at IS NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn a_crash_mid_generation_is_taken_over_within_seconds_with_the_letter_given_back() {
    let w = World::new().await;
    let u = TgUser::new(710_000_003);
    let doomed = w.start_polling(w.config()).await;
    up_to_the_resume(&w, &u).await;
    let _held = w.llm.hold();
    w.api.push(u.text(RESUME));
    while w.llm.requests().is_empty() {
        tokio::task::yield_now().await;
    }
    assert_eq!(letters_used(&w, u.id).await, 1);
    doomed.kill();
    w.llm.release_hold();

    // No clock moves: the dead replica's lease is seen as dead at once.
    let restarted = Instant::now();
    let next = w.start_polling(w.config()).await;
    let notice = message_containing(&w.api, u.id, 3, "прервалась").await;
    assert!(restarted.elapsed() < Duration::from_secs(30));
    assert_eq!(letters_used(&w, u.id).await, 0, "the letter was given back");
    w.api.push(u.press(&button(&notice, "gen:"), 5));
    message_containing(&w.api, u.id, 4, "Версия письма номер").await;
    next.stop().await;
    assert_eq!(letters_used(&w, u.id).await, 1);
    assert_eq!(count(&w, u.id, "Версия письма номер"), 1);
    assert_steps_answered_once(&w, u.id);
}

#[tokio::test]
async fn a_letter_stored_but_not_yet_sent_when_the_bot_died_is_sent_after_the_restart() {
    let w = World::new().await;
    let u = TgUser::new(710_000_004);
    let doomed = w.start_polling(w.config()).await;
    up_to_the_resume(&w, &u).await;
    let hold = w
        .api
        .hold_message("Версия письма номер", HoldAt::BeforeTaking);
    w.api.push(u.text(RESUME));
    hold.reached().await;
    doomed.kill();
    hold.release();
    assert_eq!(count(&w, u.id, "Версия письма номер"), 0);

    let next = w.start_polling(w.config()).await;
    message_containing(&w.api, u.id, 3, "Версия письма номер").await;
    next.stop().await;
    assert_eq!(count(&w, u.id, "Версия письма номер"), 1);
    assert_eq!(
        letters_used(&w, u.id).await,
        1,
        "one letter counted, one delivered"
    );
    assert_eq!(w.llm.count(), 1, "the letter was not written twice");
    assert_steps_answered_once(&w, u.id);
}

#[tokio::test]
async fn a_letter_telegram_took_just_before_the_crash_is_sent_again_never_lost() {
    let w = World::new().await;
    let u = TgUser::new(710_000_005);
    let doomed = w.start_polling(w.config()).await;
    up_to_the_resume(&w, &u).await;
    let hold = w
        .api
        .hold_message("Версия письма номер", HoldAt::AfterTaking);
    w.api.push(u.text(RESUME));
    hold.reached().await;
    doomed.kill();
    hold.release();

    let next = w.start_polling(w.config()).await;
    // Telegram took it but the bot never heard back: it cannot know, so it sends it again
    // rather than risk losing it (the one place a message can arrive twice).
    w.api
        .wait_chat(u.id, |t| {
            t.iter()
                .filter(|t| t.contains("Версия письма номер"))
                .count()
                == 2
        })
        .await;
    next.stop().await;
    assert_eq!(
        letters_used(&w, u.id).await,
        1,
        "the same letter, counted once"
    );
    assert_eq!(w.llm.count(), 1);
    assert_steps_answered_once(&w, u.id);
}

#[tokio::test]
async fn a_payment_whose_insert_fails_once_is_recorded_once_on_the_next_attempt() {
    let w = World::new().await;
    let u = TgUser::new(710_000_006);
    let bot = w.start_polling(w.config()).await;
    w.api.push(u.text("/start"));
    message_containing(&w.api, u.id, 0, "Шаг 1 из 2").await;
    let uid = w.user_id(u.id).await;
    sqlx::raw_sql(
        "CREATE SEQUENCE fail_once;
         CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN IF nextval('fail_once') = 1 THEN RAISE EXCEPTION 'payments unavailable (test)'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER fail_once BEFORE INSERT ON payments FOR EACH ROW EXECUTE FUNCTION fail_once();",
    )
    .execute(&w.pool)
    .await
    .unwrap();
    let payload = format!("premium:{uid}:150:30");
    let paid = u.successful_payment("charge-once", &payload, 150);
    let update_id = w.api.push(paid.clone());
    message_containing(&w.api, u.id, 1, "Premium активен до").await;
    // Telegram delivering the same update again changes nothing.
    let mut again = paid;
    again["update_id"] = serde_json::json!(update_id);
    w.api.redeliver(again);
    w.api.push(u.text("/help"));
    message_containing(&w.api, u.id, 2, "Как это работает").await;
    bot.stop().await;
    assert_eq!(
        w.scalar("SELECT count(*) FROM payments WHERE provider_payment_id = 'charge-once'")
            .await,
        1
    );
    assert_eq!(
        w.scalar(
            "SELECT (extract(epoch FROM period_end - period_start) / 86400)::bigint FROM subscriptions
             WHERE plan_type = 'premium' AND status = 'active'"
        )
        .await,
        30
    );
    assert_eq!(count(&w, u.id, "Premium активен до"), 1);
    assert!(
        w.scalar("SELECT last_value FROM fail_once").await >= 2,
        "the first insert did fail"
    );
}

#[tokio::test]
async fn a_payment_in_an_unexpected_currency_is_refused_loudly_and_grants_nothing() {
    let w = World::new().await;
    let u = TgUser::new(710_000_007);
    let bot = w.start_polling(w.config()).await;
    w.api.push(u.text("/start"));
    message_containing(&w.api, u.id, 0, "Шаг 1 из 2").await;
    let uid = w.user_id(u.id).await;
    let mut paid = u.successful_payment("charge-usd", &format!("premium:{uid}:150:30"), 150);
    paid["message"]["successful_payment"]["currency"] = serde_json::json!("USD");
    w.api.push(paid);
    message_containing(&w.api, u.id, 1, "/support").await;
    bot.stop().await;
    assert_eq!(w.scalar("SELECT count(*) FROM payments").await, 0);
    assert_eq!(
        w.scalar("SELECT count(*) FROM subscriptions WHERE plan_type = 'premium'")
            .await,
        0
    );
}

#[tokio::test]
async fn a_refund_whose_record_failed_is_completed_by_the_next_refund_command() {
    const ADMIN: i64 = 710_000_999;
    let w = World::new().await;
    let mut config = w.config();
    config.admins = vec![TelegramUserId::parse(ADMIN).unwrap()];
    let bot = w.start_polling(config).await;
    let u = TgUser::new(710_000_008);
    let admin = TgUser::new(ADMIN);
    w.api.push(u.text("/start"));
    message_containing(&w.api, u.id, 0, "Шаг 1 из 2").await;
    let uid = w.user_id(u.id).await;
    w.api
        .push(u.successful_payment("charge-r", &format!("premium:{uid}:150:30"), 150));
    message_containing(&w.api, u.id, 1, "Premium активен до").await;
    sqlx::raw_sql(
        "CREATE SEQUENCE fail_once;
         CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN IF NEW.state = 'refunded' AND nextval('fail_once') = 1 THEN RAISE EXCEPTION 'refunds unavailable (test)'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER fail_once BEFORE INSERT OR UPDATE ON refunds FOR EACH ROW EXECUTE FUNCTION fail_once();",
    )
    .execute(&w.pool)
    .await
    .unwrap();

    w.api.push(admin.text("/refund charge-r"));
    w.api
        .wait_until("the refund and the failed record", |c| {
            c.iter().filter(|c| c.method == "refundStarPayment").count() == 1
                && sent_to(c, ADMIN).len() >= 2
        })
        .await;
    // Telegram refunded, the record failed: the payment still looks paid.
    assert_eq!(
        w.scalar("SELECT count(*) FROM payments WHERE status = 'succeeded'")
            .await,
        1
    );
    w.api.push(admin.text("/refund charge-r"));
    message_containing(&w.api, ADMIN, 2, "Refunded charge-r").await;
    bot.stop().await;
    assert_eq!(
        w.scalar("SELECT count(*) FROM payments WHERE status = 'refunded'")
            .await,
        1
    );
    assert_eq!(
        w.scalar("SELECT count(*) FROM refunds WHERE state = 'refunded'")
            .await,
        1
    );
    assert_eq!(
        w.scalar("SELECT count(*) FROM user_events WHERE event_type = 'payment_refunded'")
            .await,
        1
    );
    assert_eq!(
        w.scalar(
            "SELECT count(*) FROM subscriptions WHERE plan_type = 'premium' AND status = 'active'"
        )
        .await,
        0,
        "the paid days were revoked"
    );
    assert_eq!(w.api.calls_of("refundStarPayment").len(), 2);
}

#[tokio::test]
async fn a_button_pressed_while_a_letter_is_written_is_answered_within_a_second() {
    let w = World::new().await;
    let u = TgUser::new(710_000_009);
    let bot = w.start_polling(w.config()).await;
    up_to_the_resume(&w, &u).await;
    w.api.push(u.text(RESUME));
    let letter = message_containing(&w.api, u.id, 2, "Версия письма номер 1").await;
    // The next letter takes as long as the test wants (it stands in for a 10-second one).
    let gate = w.llm.hold();
    w.api.push(u.press(&button(&letter, "var:"), 1));
    while w.llm.requests().len() < 2 {
        tokio::task::yield_now().await;
    }
    let press = u.press(&button(&letter, "fb:l:"), 1);
    let id = press["callback_query"]["id"].as_str().unwrap().to_string();
    let pushed = Instant::now();
    w.api.push(press);
    w.api.wait_answered(&id).await;
    let answer = w
        .api
        .calls_of("answerCallbackQuery")
        .into_iter()
        .find(|c| c.str("callback_query_id") == Some(id.as_str()))
        .unwrap();
    let took = answer.at.duration_since(pushed);
    assert!(took < Duration::from_secs(1), "answered after {took:?}");
    assert!(answer.str("text").unwrap_or("").contains("Ещё пишу"));
    // A command is answered too, while the model is still writing.
    w.api.push(u.text("/help"));
    message_containing(&w.api, u.id, 4, "Как это работает").await;
    assert_eq!(w.llm.count(), 1, "the second letter is still being written");
    gate.add_permits(1);
    message_containing(&w.api, u.id, 4, "Версия письма номер").await;
    bot.stop().await;
}
