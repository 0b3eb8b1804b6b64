//! Stars payments through the engine: invoice, pre-checkout validation, idempotent activation in
//! the payment's transaction, and an admin refund that revokes the days.

use bot::{Lang, PreCheckout, Signal, SuccessfulPayment};

use crate::support::*;

fn paid(user: &User, update: &str, charge: &str, payload: &str) -> SuccessfulPayment {
    SuccessfulPayment {
        event_id: bot::EventId::parse(update).unwrap(),
        from: user.profile.clone(),
        currency: "XTR".into(),
        total_amount: 150,
        payload: payload.into(),
        telegram_payment_charge_id: charge.into(),
        provider_payment_charge_id: Some("prov-1".into()),
    }
}

#[tokio::test]
async fn premium_is_bought_once_per_charge_and_refunded_by_an_admin() {
    let mut config = bot::Config::default();
    config
        .admins
        .push(domain::TelegramUserId::parse(9902).unwrap());
    let h = Harness::with_config(config).await;
    let engine = h.engine();
    let anna = User::new(9901);
    send(&engine, anna.text("/start")).await;

    let r = send(&engine, anna.text("/premium")).await;
    assert!(r.text().contains("150 ⭐"), "{}", r.text());
    let r = send(&engine, anna.press(&button(&r, "Купить Premium"))).await;
    let Some(Signal::SendInvoice(invoice)) = r.signals.first().cloned() else {
        panic!("no invoice: {r:?}")
    };
    assert_eq!(
        (invoice.currency.as_str(), invoice.amount_stars),
        ("XTR", 150)
    );
    assert!(invoice.payload.len() <= 128);

    let q = |payload: &str, amount: i64, from: &User| PreCheckout {
        from: from.tg,
        language_code: Some("ru".into()),
        currency: "XTR".into(),
        total_amount: amount,
        payload: payload.into(),
    };
    assert_eq!(
        engine.pre_checkout(&q(&invoice.payload, 150, &anna)).await,
        Ok(())
    );
    assert!(
        engine
            .pre_checkout(&q(&invoice.payload, 100, &anna))
            .await
            .is_err(),
        "wrong amount"
    );
    let bob = User::new(9903);
    send(&engine, bob.text("/start")).await;
    assert!(
        engine
            .pre_checkout(&q(&invoice.payload, 150, &bob))
            .await
            .is_err(),
        "another user's invoice"
    );
    assert!(
        engine
            .pre_checkout(&q("premium:1:1:30", 1, &anna))
            .await
            .is_err(),
        "an old price"
    );

    let done = engine
        .payment_succeeded(paid(&anna, "tg:100", "charge-A", &invoice.payload))
        .await;
    assert!(done.text().contains("09.04.2026"), "{}", done.text());
    // The same payment again (re-delivered with another update id): nothing changes.
    let again = engine
        .payment_succeeded(paid(&anna, "tg:101", "charge-A", &invoice.payload))
        .await;
    assert!(again.messages.is_empty());
    assert_eq!(h.scalar_i64("SELECT count(*) FROM payments").await, 1);
    let end: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "SELECT period_end FROM subscriptions WHERE status = 'active' AND plan_type = 'premium'",
    )
    .fetch_one(&h.pool)
    .await
    .unwrap();
    assert_eq!(end, t("2026-04-09T09:00:00Z"));

    // A second payment while premium is active extends it from its end.
    h.advance(60);
    let second = engine
        .payment_succeeded(paid(&anna, "tg:102", "charge-B", &invoice.payload))
        .await;
    assert!(second.text().contains("09.05.2026"), "{}", second.text());

    // Refund: only admins; the transport refunds through the Bot API, then the engine records it.
    let r = send(&engine, anna.text("/refund charge-B")).await;
    assert!(r.signals.is_empty() && r.text().contains("/help"));
    let admin = User::new(9902);
    let r = send(&engine, admin.text("/refund charge-B")).await;
    assert_eq!(
        r.signals,
        vec![Signal::RefundStars {
            user: anna.tg,
            charge_id: "charge-B".into(),
            lang: Lang::Ru,
        }]
    );
    let done = engine.refund_completed("charge-B", Lang::En).await;
    assert!(done.text().contains("09.04.2026"), "{}", done.text());
    let twice = engine.refund_completed("charge-B", Lang::En).await;
    assert!(
        twice.text().contains("already refunded"),
        "{}",
        twice.text()
    );
    let done = engine.refund_completed("charge-A", Lang::Ru).await;
    assert!(done.text().contains("бесплатном плане"), "{}", done.text());
    let s = send(&engine, anna.text("/subscription")).await;
    assert!(s.text().contains("бесплатный"), "{}", s.text());
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM payments WHERE status = 'refunded'")
            .await,
        2
    );
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM user_events WHERE event_type = 'payment_refunded'")
            .await,
        2
    );
}
