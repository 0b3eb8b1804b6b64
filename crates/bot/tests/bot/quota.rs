//! Quota through the engine: the race for the last letter, the letter given back on failure,
//! month and day rollovers and premium expiry with a fake clock, and refusal when the database is
//! down.

use bot::{Engine, Signal, Step};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_variants_with_one_letter_left_produce_exactly_one_letter() {
    let h = Harness::new().await;
    let engine = h.engine();
    let anna = User::new(6001);
    let r = first_letter(&engine, &anna).await;
    sqlx::query(
        "UPDATE subscriptions SET letters_used = letters_limit - 1 WHERE status = 'active'",
    )
    .execute(&h.pool)
    .await
    .unwrap();
    let data = button(&r, "Ещё вариант");
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (engine, event) = (engine.clone(), anna.press(&data));
        tasks.push(tokio::spawn(async move { engine.handle(event).await }));
    }
    let mut pending = Vec::new();
    for task in tasks {
        if let Step::Generating(p) = task.await.unwrap() {
            pending.push(p);
        }
    }
    assert_eq!(pending.len(), 1);
    let done = engine.complete(pending.pop().unwrap()).await;
    assert!(done.messages.iter().any(|m| m.letter));
    assert_eq!(h.llm.requests(), 2);
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM letter_sessions WHERE status = 'completed'")
            .await,
        2
    );
    let (used, limit): (i32, i32) = sqlx::query_as(
        "SELECT letters_used, letters_limit FROM subscriptions WHERE status = 'active'",
    )
    .fetch_one(&h.pool)
    .await
    .unwrap();
    assert_eq!(used, limit);
}

#[tokio::test]
async fn a_failed_generation_gives_the_letter_back_and_retry_works() {
    let h = Harness::new().await;
    let engine = h.engine();
    let anna = User::new(6002);
    h.llm.script(vec![
        Behaviour::Status(500),
        Behaviour::Status(502),
        Behaviour::Status(503),
        Behaviour::Status(500),
    ]);
    let r = first_letter(&engine, &anna).await;
    assert!(
        r.text().contains("Не получилось написать письмо") && r.text().contains("не списано"),
        "{}",
        r.text()
    );
    assert_eq!(h.letters_used(&anna).await, 0);
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM openai_requests WHERE NOT success")
            .await,
        4
    );
    let status: String = sqlx::query_scalar("SELECT status FROM letter_sessions")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(status, "failed");

    let r = send(&engine, anna.press(&button(&r, "Повторить"))).await;
    assert!(r.messages.iter().any(|m| m.letter), "{}", r.text());
    assert_eq!(h.letters_used(&anna).await, 1);
    let status: String = sqlx::query_scalar("SELECT status FROM letter_sessions")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(status, "completed");
}

#[tokio::test]
async fn the_free_quota_rolls_over_at_the_utc_month() {
    let h = Harness::new().await;
    h.clock.set(t("2026-01-31T22:00:00Z"));
    let engine = h.engine();
    let anna = User::new(6003);
    let mut r = first_letter(&engine, &anna).await;
    for _ in 0..2 {
        h.advance(6);
        r = send(&engine, anna.press(&button(&r, "Ещё вариант"))).await;
    }
    assert_eq!(h.letters_used(&anna).await, 3);
    h.advance(6);
    let refused = send(&engine, anna.press(&button(&r, "Ещё вариант"))).await;
    assert!(
        refused.text().contains("Лимит исчерпан") && refused.text().contains("01.02.2026"),
        "{}",
        refused.text()
    );
    // 02:59 on 1 February in Moscow is still 31 January in UTC: still January's quota.
    h.clock.set(t("2026-01-31T23:59:59Z"));
    let still = send(&engine, anna.press(&button(&r, "Ещё вариант"))).await;
    assert!(still.text().contains("Лимит исчерпан"), "{}", still.text());
    // One minute past midnight UTC it is February.
    h.clock.set(t("2026-02-01T00:01:00Z"));
    let r = send(&engine, anna.press(&button(&r, "Ещё вариант"))).await;
    assert!(r.messages.iter().any(|m| m.letter), "{}", r.text());
    assert_eq!(h.letters_used(&anna).await, 1);
}

#[tokio::test]
async fn premium_gives_a_daily_quota_and_expires_back_to_free() {
    let mut config = bot::Config::default();
    config.quota.premium_letters_per_day = 2;
    let h = Harness::with_config(config).await;
    h.clock.set(t("2026-05-01T10:00:00Z"));
    let engine = h.engine();
    let anna = User::new(6004);
    send(&engine, anna.text("/start")).await;
    let paid = engine
        .payment_succeeded(bot::SuccessfulPayment {
            event_id: bot::EventId::parse("pay-6004").unwrap(),
            from: anna.profile.clone(),
            currency: "XTR".into(),
            total_amount: 150,
            payload: "premium:1:150:30".into(),
            telegram_payment_charge_id: "charge-6004".into(),
            provider_payment_charge_id: None,
        })
        .await;
    assert!(paid.text().contains("31.05.2026"), "{}", paid.text());
    send(&engine, anna.text(VACANCY)).await;
    let mut r = send(&engine, anna.text(RESUME)).await;
    assert!(
        r.text().contains("1/2") && r.text().contains("Premium"),
        "{}",
        r.text()
    );
    assert!(
        has_button(&r, "Улучшить (3)"),
        "premium letters get three improvements"
    );
    h.advance(6);
    r = send(&engine, anna.press(&button(&r, "Ещё вариант"))).await;
    h.advance(6);
    let refused = send(&engine, anna.press(&button(&r, "Ещё вариант"))).await;
    assert!(
        refused.text().contains("на сегодня исчерпан"),
        "{}",
        refused.text()
    );
    // The next UTC day brings a fresh daily quota.
    h.clock.set(t("2026-05-02T00:00:30Z"));
    let r = send(&engine, anna.press(&button(&r, "Ещё вариант"))).await;
    assert!(r.text().contains("1/2"), "{}", r.text());
    // After the paid period: free again.
    h.clock.set(t("2026-05-31T10:00:01Z"));
    let s = send(&engine, anna.text("/subscription")).await;
    assert!(
        s.text().contains("бесплатный") && s.text().contains("3/3"),
        "{}",
        s.text()
    );
    let plans: Vec<(String, String)> =
        sqlx::query_as("SELECT plan_type, status FROM subscriptions ORDER BY id")
            .fetch_all(&h.pool)
            .await
            .unwrap();
    assert_eq!(
        plans.last().unwrap(),
        &("free".to_string(), "active".to_string())
    );
    assert!(plans.contains(&("premium".to_string(), "expired".to_string())));
}

#[tokio::test]
async fn an_unreachable_database_refuses_generation() {
    let h = Harness::new().await;
    let dead = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy("postgres://nobody@127.0.0.1:1/nothing")
        .unwrap();
    let engine = Engine::new(
        dead,
        llm::Writer::from_settings(h.llm.settings()),
        bot::Config::default(),
    );
    let anna = User::new(6005);
    for event in [
        anna.text("/start"),
        anna.text(VACANCY),
        anna.text(RESUME),
        anna.press("var:0123456789abcdef0123456789abcdef"),
    ] {
        let r = send(&engine, event).await;
        assert!(r.text().contains("временно недоступен"), "{}", r.text());
        assert!(r.signals.contains(&Signal::Unavailable));
    }
    assert_eq!(h.llm.requests(), 0);
}

#[tokio::test]
async fn a_generation_interrupted_by_a_crash_is_given_back_and_can_be_retried() {
    let h = Harness::new().await;
    let anna = User::new(6006);
    {
        let dying = h.engine();
        send(&dying, anna.text("/start")).await;
        send(&dying, anna.text(VACANCY)).await;
        let Step::Generating(pending) = dying.handle(anna.text(RESUME)).await else {
            panic!("no generation started")
        };
        // The process dies here: the model is never called, the result never stored.
        drop(pending);
    }
    assert_eq!(h.letters_used(&anna).await, 1);
    let engine = h.engine();
    let r = send(&engine, anna.text("ну что там?")).await;
    assert!(r.text().contains("Ещё пишу"), "{}", r.text());
    h.advance(6);
    let r = send(&engine, anna.text("ну что там?")).await;
    assert!(
        r.text().contains("прервалась") && r.text().contains("не списано"),
        "{}",
        r.text()
    );
    assert_eq!(h.letters_used(&anna).await, 0);
    let r = send(&engine, anna.press(&button(&r, "Повторить"))).await;
    assert!(r.messages.iter().any(|m| m.letter), "{}", r.text());
    assert_eq!(h.letters_used(&anna).await, 1);
}

#[tokio::test]
async fn cancel_during_a_generation_gives_the_letter_back_and_drops_the_late_result() {
    let h = Harness::new().await;
    let engine = h.engine();
    let anna = User::new(6007);
    send(&engine, anna.text("/start")).await;
    send(&engine, anna.text(VACANCY)).await;
    let Step::Generating(pending) = engine.handle(anna.text(RESUME)).await else {
        panic!("no generation started")
    };
    assert_eq!(h.letters_used(&anna).await, 1);
    let r = send(&engine, anna.text("/cancel")).await;
    assert!(r.text().contains("отменено"));
    assert_eq!(h.letters_used(&anna).await, 0);
    let late = engine.complete(pending).await;
    assert!(late.messages.is_empty(), "{late:?}");
    assert_eq!(h.letters_used(&anna).await, 0);
    let status: String = sqlx::query_scalar("SELECT status FROM letter_sessions")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(status, "abandoned");
    // The call itself happened and is accounted for.
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM openai_requests WHERE success")
            .await,
        1
    );
}
