//! A Stars payment through the real process: its insert fails once (redelivered, recorded once),
//! and a `kill -9` after it is recorded but before it is confirmed (one row, 30 days, exactly).

use serde_json::Value;
use testkit::doubles::bot_api::{message_containing, HoldAt, TgUser};

use super::bot_process::World;
use super::{count, kill_at, Point};

const CONFIRMED: &str = "Premium активен до";

/// /start, answered; the user's internal id.
async fn started(w: &World, u: &TgUser) -> i64 {
    w.api.push(u.text("/start"));
    message_containing(&w.api, u.id, 0, "Шаг 1 из 2").await;
    w.user_id(u.id).await
}

/// `successful_payment` of 150 Stars for 30 days with this charge id.
fn paid(u: &TgUser, uid: i64, charge: &str) -> Value {
    u.successful_payment(charge, &format!("premium:{uid}:150:30"), 150)
}

/// Exactly one payment row for `charge`, and the active premium row lasts exactly 30 days.
async fn assert_one_payment_of_30_days(w: &World, charge: &str) {
    assert_eq!(
        w.scalar(&format!(
            "SELECT count(*) FROM payments WHERE provider_payment_id = '{charge}'"
        ))
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
    assert_eq!(
        w.scalar("SELECT count(*) FROM subscriptions WHERE plan_type = 'premium'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_payment_whose_insert_fails_once_is_recorded_once_with_30_days_by_the_real_process() {
    let w = &World::polling().await;
    let u = TgUser::new(810_000_006);
    let bot = w.start();
    let uid = started(w, &u).await;
    sqlx::raw_sql(
        "CREATE SEQUENCE fail_once;
         CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN IF nextval('fail_once') = 1 THEN RAISE EXCEPTION 'payments unavailable (test)'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER fail_once BEFORE INSERT ON payments FOR EACH ROW EXECUTE FUNCTION fail_once();",
    )
    .execute(&w.pool)
    .await
    .unwrap();
    let payment = paid(&u, uid, "charge-once");
    let update_id = w.api.push(payment.clone());
    message_containing(&w.api, u.id, 1, CONFIRMED).await;
    // Telegram delivering the same update again changes nothing.
    let mut again = payment;
    again["update_id"] = serde_json::json!(update_id);
    w.api.redeliver(again);
    w.api.push(u.text("/help"));
    message_containing(&w.api, u.id, 2, "Как это работает").await;
    bot.stop().await;
    assert_one_payment_of_30_days(w, "charge-once").await;
    assert_eq!(count(w, u.id, CONFIRMED), 1);
    assert!(
        w.scalar("SELECT last_value FROM fail_once").await >= 2,
        "the first insert did fail"
    );
}

/// The payment is recorded (its transaction committed with the confirmation in the outbox),
/// the confirmation's sendMessage waits before Telegram took it, and the process is killed.
/// Telegram delivers the update again as well, as it does when it is not sure it was heard.
async fn killed_after_a_payment_is_recorded(w: &World, telegram_id: i64) -> i64 {
    let u = TgUser::new(telegram_id);
    let bot = w.start();
    let uid = started(w, &u).await;
    let charge = format!("charge-kill-{telegram_id}");
    let payment = paid(&u, uid, &charge);
    let recorded = Point::Message(CONFIRMED, HoldAt::BeforeTaking);
    let update_id = kill_at(w, bot, recorded, payment.clone()).await;
    assert_eq!(
        w.scalar(&format!(
            "SELECT count(*) FROM payments WHERE provider_payment_id = '{charge}'"
        ))
        .await,
        1,
        "recorded before the kill"
    );
    assert_eq!(
        count(w, u.id, CONFIRMED),
        0,
        "not confirmed before the kill"
    );
    let mut again = payment;
    again["update_id"] = serde_json::json!(update_id);
    w.api.redeliver(again);

    let next = w.start();
    message_containing(&w.api, u.id, 1, CONFIRMED).await;
    w.api.push(u.text("/help"));
    message_containing(&w.api, u.id, 2, "Как это работает").await;
    next.stop().await;
    assert_one_payment_of_30_days(w, &charge).await;
    assert_eq!(count(w, u.id, CONFIRMED), 1, "confirmed once");
    update_id
}

#[tokio::test]
async fn kill_nine_after_a_payment_is_recorded_by_polling_leaves_one_payment_of_30_days() {
    killed_after_a_payment_is_recorded(&World::polling().await, 810_000_008).await;
}

#[tokio::test]
async fn kill_nine_after_a_payment_is_recorded_through_the_webhook_leaves_one_payment_of_30_days() {
    let w = &World::webhook().await;
    let update = killed_after_a_payment_is_recorded(w, 810_000_018).await;
    // Accepted once before the kill; the redelivery is Telegram's second post of the same id.
    let accepted = w
        .api
        .webhook_posts()
        .into_iter()
        .filter(|p| p.update_id == update && p.accepted())
        .count();
    assert_eq!(accepted, 2, "the first post and the redelivery");
}
