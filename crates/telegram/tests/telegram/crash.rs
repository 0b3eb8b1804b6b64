//! What goes wrong short of a crash: a payment in an unexpected currency, a refund whose record
//! fails once, a button pressed while a letter is being written. (Crashes at each step of an
//! update's life are real `kill -9`s of the process: the cli tests' `kill_nine`.)

use std::time::{Duration, Instant};

use domain::TelegramUserId;

use crate::support::harness::{World, RESUME, VACANCY};
use crate::support::{button, message_containing, sent_to};
use testkit::doubles::bot_api::TgUser;

/// /start and the vacancy, answered once each; the user is asked for the resume.
async fn up_to_the_resume(w: &World, u: &TgUser) {
    w.api.push(u.text("/start"));
    w.api.push(u.text(VACANCY));
    message_containing(&w.api, u.id, 1, "Шаг 2 из 2").await;
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
    message_containing(&w.api, ADMIN, 2, "Возврат charge-r сделан").await;
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
