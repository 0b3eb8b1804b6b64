//! `kill -9` of the real `soprovod serve` process at each step of an update's life: received
//! (its insert into the inbox waits), recorded (the engine's transaction waits), generation
//! started (the model holds the request), letter stored (the letter's sendMessage is held before
//! Telegram takes it) and letter sent (Telegram took it, the bot died before hearing back). After
//! a restart every update is answered exactly once — except the last case, where the bot cannot
//! know Telegram took the letter and sends it again (at least once, never lost) — and the quota
//! counts exactly the letters delivered. Polling for all five, the webhook for the first two.
//! Also a payment whose insert fails once: redelivered, recorded once, 30 days.

mod bot_process;

use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};
use testkit::doubles::bot_api::{button, message_containing, sent_to, HoldAt, TgUser};
use testkit::doubles::texts::{RESUME, VACANCY};

use bot_process::World;

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
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
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

/// Lets whatever waits at the gate through (a dead process's session may still finish its
/// statement: that is part of what is tested) and removes the gate.
async fn open_gate(w: &World, table: &str, holder: PgConnection) {
    holder.close().await.unwrap();
    sqlx::raw_sql(&format!("DROP TRIGGER test_gate ON {table}"))
        .execute(&w.pool)
        .await
        .unwrap();
}

/// How many messages the user got that contain `needle`.
fn count(w: &World, chat: i64, needle: &str) -> usize {
    sent_to(&w.api.calls(), chat)
        .iter()
        .filter(|c| c.text().contains(needle))
        .count()
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

/// Kill while the update's insert into the inbox waits: not recorded, so not acknowledged.
async fn killed_while_an_update_is_received(w: &World) -> i64 {
    let u = TgUser::new(810_000_001);
    let doomed = w.start();
    up_to_the_resume(w, &u).await;
    let gate = gate_inserts(w, "update_inbox").await;
    let help = w.api.push(u.text("/help"));
    until_someone_waits_at_the_gate(w).await;
    doomed.kill().await;
    // Not recorded, so not acknowledged: Telegram still holds it.
    assert!(w.api.unconfirmed() >= 1);
    open_gate(w, "update_inbox", gate).await;

    let next = w.start();
    message_containing(&w.api, u.id, 2, "Как это работает").await;
    if w.is_webhook() {
        // The answer can come before Telegram hears the 200 for it.
        w.api.wait_accepted(help).await;
    }
    next.stop().await;
    assert_eq!(count(w, u.id, "Как это работает"), 1);
    assert_eq!(
        sent_to(&w.api.calls(), u.id).len(),
        3,
        "start, vacancy and help: each answered once"
    );
    assert_steps_answered_once(w, u.id);
    assert_eq!(
        w.scalar(&format!(
            "SELECT count(*) FROM update_inbox WHERE update_id = {help}"
        ))
        .await,
        1
    );
    help
}

/// Kill while the engine's transaction for a recorded update waits.
async fn killed_after_an_update_is_recorded(w: &World) -> i64 {
    let u = TgUser::new(810_000_002);
    let doomed = w.start();
    up_to_the_resume(w, &u).await;
    let gate = gate_inserts(w, "processed_events").await;
    let help = w.api.push(u.text("/help"));
    until_someone_waits_at_the_gate(w).await;
    assert_eq!(
        w.scalar("SELECT count(*) FROM update_inbox WHERE done_at IS NULL")
            .await,
        1,
        "recorded, not handled"
    );
    doomed.kill().await;
    open_gate(w, "processed_events", gate).await;

    let next = w.start();
    message_containing(&w.api, u.id, 2, "Как это работает").await;
    if w.is_webhook() {
        // The answer can come before Telegram hears the 200 for it.
        w.api.wait_accepted(help).await;
    }
    next.stop().await;
    assert_eq!(
        sent_to(&w.api.calls(), u.id).len(),
        3,
        "start, vacancy and help: each answered once"
    );
    assert_steps_answered_once(w, u.id);
    assert_eq!(
        w.scalar("SELECT count(*) FROM update_inbox WHERE done_at IS NULL")
            .await,
        0
    );
    help
}

#[tokio::test]
async fn kill_nine_while_an_update_is_received_by_polling_loses_nothing() {
    killed_while_an_update_is_received(&World::polling().await).await;
}

#[tokio::test]
async fn kill_nine_while_an_update_is_received_by_the_webhook_loses_nothing() {
    let w = &World::webhook().await;
    let help = killed_while_an_update_is_received(w).await;
    // Telegram's post of /help got no answer from the killed process and was posted again
    // until the restarted one took it.
    let posts: Vec<_> = w
        .api
        .webhook_posts()
        .into_iter()
        .filter(|p| p.update_id == help)
        .collect();
    assert!(!posts[0].accepted(), "{posts:?}");
    assert_eq!(
        posts.iter().filter(|p| p.accepted()).count(),
        1,
        "{posts:?}"
    );
}

#[tokio::test]
async fn kill_nine_after_an_update_is_recorded_by_polling_answers_it_once_after_the_restart() {
    killed_after_an_update_is_recorded(&World::polling().await).await;
}

#[tokio::test]
async fn kill_nine_after_an_update_is_recorded_by_the_webhook_answers_it_once_after_the_restart() {
    let w = &World::webhook().await;
    let help = killed_after_an_update_is_recorded(w).await;
    // Recorded means acknowledged: the webhook answered 200 before the kill, never posted again.
    let posts: Vec<_> = w
        .api
        .webhook_posts()
        .into_iter()
        .filter(|p| p.update_id == help)
        .collect();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(posts[0].accepted());
}

#[tokio::test]
async fn kill_nine_mid_generation_gives_the_letter_back_and_offers_the_retry_after_the_restart() {
    let w = &World::polling().await;
    let u = TgUser::new(810_000_003);
    let doomed = w.start();
    up_to_the_resume(w, &u).await;
    let held = w.llm.hold();
    w.api.push(u.text(RESUME));
    w.llm.wait_requests(1).await;
    assert_eq!(w.letters_used(u.id).await, 1, "the letter is taken");
    doomed.kill().await;
    w.llm.release_hold();
    held.add_permits(1);

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
    message_containing(&w.api, u.id, 4, "Версия письма номер").await;
    next.stop().await;
    assert_eq!(w.letters_used(u.id).await, 1);
    assert_eq!(count(w, u.id, "Версия письма номер"), 1);
    assert_eq!(count(w, u.id, "прервалась"), 1);
    assert_steps_answered_once(w, u.id);
}

#[tokio::test]
async fn kill_nine_with_a_letter_stored_but_not_sent_sends_it_once_after_the_restart() {
    let w = &World::polling().await;
    let u = TgUser::new(810_000_004);
    let doomed = w.start();
    up_to_the_resume(w, &u).await;
    let hold = w
        .api
        .hold_message("Версия письма номер", HoldAt::BeforeTaking);
    w.api.push(u.text(RESUME));
    hold.reached().await;
    doomed.kill().await;
    hold.release();
    assert_eq!(count(w, u.id, "Версия письма номер"), 0);

    let next = w.start();
    message_containing(&w.api, u.id, 3, "Версия письма номер").await;
    next.stop().await;
    assert_eq!(count(w, u.id, "Версия письма номер"), 1);
    assert_eq!(
        w.letters_used(u.id).await,
        1,
        "one letter counted, one delivered"
    );
    assert_eq!(w.llm.count(), 1, "the letter was not written twice");
    assert_steps_answered_once(w, u.id);
}

#[tokio::test]
async fn kill_nine_after_telegram_took_the_letter_sends_it_again_and_counts_it_once() {
    let w = &World::polling().await;
    let u = TgUser::new(810_000_005);
    let doomed = w.start();
    up_to_the_resume(w, &u).await;
    let hold = w
        .api
        .hold_message("Версия письма номер", HoldAt::AfterTaking);
    w.api.push(u.text(RESUME));
    hold.reached().await;
    doomed.kill().await;
    hold.release();
    assert_eq!(count(w, u.id, "Версия письма номер"), 1, "Telegram has it");

    let next = w.start();
    // The bot never heard that Telegram took it, so it cannot know: it sends it again rather
    // than risk losing it (the one place a message can arrive twice).
    w.api
        .wait_chat(u.id, |t| {
            t.iter()
                .filter(|t| t.contains("Версия письма номер"))
                .count()
                == 2
        })
        .await;
    w.api.push(u.text("/help"));
    message_containing(&w.api, u.id, 4, "Как это работает").await;
    next.stop().await;
    assert_eq!(count(w, u.id, "Версия письма номер"), 2);
    assert_eq!(
        w.letters_used(u.id).await,
        1,
        "the same letter, counted once"
    );
    assert_eq!(w.llm.count(), 1);
    assert_steps_answered_once(w, u.id);
}

#[tokio::test]
async fn a_payment_whose_insert_fails_once_is_recorded_once_with_30_days_by_the_real_process() {
    let w = &World::polling().await;
    let u = TgUser::new(810_000_006);
    let bot = w.start();
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
    let paid = u.successful_payment("charge-once", &format!("premium:{uid}:150:30"), 150);
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
    assert_eq!(count(w, u.id, "Premium активен до"), 1);
    assert!(
        w.scalar("SELECT last_value FROM fail_once").await >= 2,
        "the first insert did fail"
    );
}

#[tokio::test]
async fn kill_nine_mid_improvement_offers_improve_and_variant_again_on_the_notice() {
    let w = &World::polling().await;
    let u = TgUser::new(810_000_007);
    let doomed = w.start();
    up_to_the_resume(w, &u).await;
    w.api.push(u.text(RESUME));
    let letter = message_containing(&w.api, u.id, 2, "Версия письма номер 1").await;
    w.api.push(u.press(&button(&letter, "imp:"), 1));
    message_containing(&w.api, u.id, 3, "Что изменить").await;
    let held = w.llm.hold();
    w.api.push(u.text("Сделай письмо короче"));
    w.llm.wait_requests(2).await;
    doomed.kill().await;
    w.llm.release_hold();
    held.add_permits(1);

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
