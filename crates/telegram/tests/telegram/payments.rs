//! Telegram Stars end to end: quota reached, /premium, the invoice, pre-checkout, the payment
//! (once, however often it is delivered), the confirmation with the end date, an admin refund.

use chrono::{TimeZone, Utc};
use domain::TelegramUserId;
use serde_json::Value;

use crate::support::harness::{World, RESUME, VACANCY};
use crate::support::{button, message_containing, sent_to};
use testkit::doubles::bot_api::TgUser;

const TG_ID: i64 = 777_000_111;
const ADMIN: i64 = 777_000_999;

fn invoice_prices(call: &testkit::doubles::bot_api::Call) -> Value {
    match &call.body["prices"] {
        Value::String(s) => serde_json::from_str(s).unwrap(),
        v => v.clone(),
    }
}

#[tokio::test]
async fn quota_reached_then_premium_is_bought_with_stars_once_and_refunded_by_an_admin() {
    let w = World::new().await;
    let mut config = w.config();
    config.quota.free_letters_per_month = 1;
    config.admins = vec![TelegramUserId::parse(ADMIN).unwrap()];
    let bot = w.start_polling(config).await;
    let anna = TgUser::new(TG_ID);

    w.api.push(anna.text("/start"));
    message_containing(&w.api, TG_ID, 0, "Шаг 1 из 2").await;
    w.api.push(anna.text(VACANCY));
    message_containing(&w.api, TG_ID, 1, "Шаг 2 из 2").await;
    w.api.push(anna.text(RESUME));
    let letter = message_containing(&w.api, TG_ID, 2, "Версия письма номер 1").await;

    // The only free letter is used: another variant hits the limit, and the model is not called.
    w.api.push(anna.press(&button(&letter, "var:"), 1));
    message_containing(&w.api, TG_ID, 3, "Лимит исчерпан").await;
    assert_eq!(w.llm.count(), 1);

    w.api.push(anna.text("/premium"));
    let offer = message_containing(&w.api, TG_ID, 3, "Повторная оплата продлевает").await;
    w.api.push(anna.press(&button(&offer, "buy"), 2));
    let calls = w
        .api
        .wait_until("an invoice", |c| {
            c.iter().any(|c| c.method == "sendInvoice")
        })
        .await;
    let invoice = calls.iter().find(|c| c.method == "sendInvoice").unwrap();
    assert_eq!(invoice.str("currency"), Some("XTR"));
    assert!(
        invoice
            .body
            .get("provider_token")
            .is_none_or(|t| t.as_str() == Some("")),
        "Stars need no provider token"
    );
    let prices = invoice_prices(invoice);
    assert_eq!(prices.as_array().unwrap().len(), 1);
    assert_eq!(prices[0]["amount"], 150);
    assert_eq!(invoice.chat_id(), Some(TG_ID));
    let payload = invoice.str("payload").unwrap().to_string();
    let uid = w.user_id(TG_ID).await;
    assert!(
        payload.contains(&uid.to_string()) && !payload.contains(&TG_ID.to_string()),
        "{payload}"
    );

    // Pre-checkout: the right payload and price is accepted; a wrong amount or someone else's
    // payload is refused with a message.
    w.api.push(anna.pre_checkout("pcq-ok", &payload, 150));
    w.api.push(anna.pre_checkout("pcq-cheap", &payload, 1));
    w.api
        .push(TgUser::new(TG_ID + 1).pre_checkout("pcq-other", &payload, 150));
    let calls = w
        .api
        .wait_until("three pre-checkout answers", |c| {
            c.iter()
                .filter(|c| c.method == "answerPreCheckoutQuery")
                .count()
                >= 3
        })
        .await;
    let answer = |id: &str| {
        calls
            .iter()
            .find(|c| {
                c.method == "answerPreCheckoutQuery" && c.str("pre_checkout_query_id") == Some(id)
            })
            .unwrap()
            .clone()
    };
    assert_eq!(answer("pcq-ok").body["ok"], true);
    for refused in ["pcq-cheap", "pcq-other"] {
        let a = answer(refused);
        assert_eq!(a.body["ok"], false, "{refused}");
        assert!(
            !a.str("error_message").unwrap_or("").is_empty(),
            "{refused} needs a reason"
        );
    }

    // The payment, then the very same update re-delivered, then the same charge in a new update.
    let paid = w
        .api
        .with_id(anna.successful_payment("charge-1", &payload, 150));
    w.api.redeliver(paid.clone());
    let confirmation = message_containing(&w.api, TG_ID, 3, "Premium активен до").await;
    // 30 days from the fake clock's 10.03.2026 09:00 UTC.
    assert!(
        confirmation.text().contains("09.04.2026"),
        "{}",
        confirmation.text()
    );
    w.api.redeliver(paid);
    w.api
        .push(anna.successful_payment("charge-1", &payload, 150));
    w.api.push(anna.text("/subscription"));
    message_containing(&w.api, TG_ID, 3, "09.04.2026").await;
    w.api.wait_all_confirmed().await;

    let payments: Vec<(i64, String, String, i64, String, String)> = sqlx::query_as(
        "SELECT user_id, provider, provider_payment_id, amount_minor, currency, status FROM payments",
    )
    .fetch_all(&w.pool)
    .await
    .unwrap();
    assert_eq!(
        payments,
        vec![(
            uid,
            "telegram_stars".into(),
            "charge-1".into(),
            150,
            "XTR".into(),
            "succeeded".into()
        )]
    );
    let end: chrono::DateTime<Utc> = sqlx::query_scalar(
        "SELECT period_end FROM subscriptions WHERE user_id = $1 AND plan_type = 'premium' AND status = 'active'",
    )
    .bind(uid)
    .fetch_one(&w.pool)
    .await
    .unwrap();
    assert_eq!(
        end,
        Utc.with_ymd_and_hms(2026, 4, 9, 9, 0, 0).unwrap(),
        "one payment, one extension"
    );
    let confirmations = sent_to(&w.api.calls(), TG_ID)
        .iter()
        .filter(|m| m.text().contains("Premium активен до"))
        .count();
    assert_eq!(confirmations, 1);
    assert_eq!(
        w.scalar("SELECT count(*) FROM user_events WHERE event_type = 'payment_succeeded'")
            .await,
        1
    );
    assert_eq!(
        w.scalar("SELECT count(*) FROM user_events WHERE event_type = 'invoice_sent'")
            .await,
        1
    );

    // A user who is not an admin cannot refund; the admin can, through the Bot API.
    w.api.push(anna.text("/refund charge-1"));
    w.api.push(TgUser::new(ADMIN).text("/refund charge-1"));
    let calls = w
        .api
        .wait_until("a refund", |c| {
            c.iter().any(|c| c.method == "refundStarPayment")
        })
        .await;
    let refund = calls
        .iter()
        .find(|c| c.method == "refundStarPayment")
        .unwrap();
    assert_eq!(refund.body["user_id"], TG_ID);
    assert_eq!(refund.str("telegram_payment_charge_id"), Some("charge-1"));
    message_containing(&w.api, ADMIN, 0, "Возврат charge-1 сделан").await;
    bot.stop().await;
    assert_eq!(w.api.calls_of("refundStarPayment").len(), 1);
    assert_eq!(
        w.scalar("SELECT count(*) FROM payments WHERE status = 'refunded'")
            .await,
        1
    );
    assert_eq!(
        w.scalar(&format!(
            "SELECT count(*) FROM subscriptions WHERE user_id = {uid} AND plan_type = 'premium' AND status = 'active' AND period_end > '2026-03-10 09:00:00+00'"
        ))
        .await,
        0,
        "the refunded days are revoked"
    );
}
