//! Webhook replicas: two bot processes on one database behind a "load balancer" that sends
//! every update to both; each update is processed once, a user's updates in their order whichever
//! replica got them, and the secret token is required.

use serde_json::Value;

use crate::support::harness::{RunningBot, World, RESUME, VACANCY};
use crate::support::sent_to;
use testkit::doubles::bot_api::{HoldAt, TgUser};

const SECRET: &str = "replica-secret_42";

/// Two webhook replicas on one database, both listening (each registers its command menu after
/// getMe).
async fn two_replicas() -> (World, RunningBot, RunningBot) {
    let w = World::with_pool_size(20).await;
    let a = w.start_webhook(w.config(), SECRET).await;
    let b = w.start_webhook(w.config(), SECRET).await;
    w.api
        .wait_until("both replicas up", |c| {
            c.iter().filter(|c| c.method == "setMyCommands").count() >= 6
        })
        .await;
    (w, a, b)
}

#[tokio::test]
async fn two_replicas_given_the_same_updates_process_each_once() {
    let (w, a, b) = two_replicas().await;
    let (url_a, url_b) = (
        a.webhook_url.clone().unwrap(),
        b.webhook_url.clone().unwrap(),
    );

    let users: Vec<TgUser> = (0..4).map(|i| TgUser::new(800_000_001 + i)).collect();
    let mut updates: Vec<Value> = Vec::new();
    for step in ["/start", VACANCY, RESUME] {
        for u in &users {
            updates.push(w.api.with_id(u.text(step)));
        }
    }
    let unique_ids = updates.len() as i64;
    for update in &updates {
        // Both replicas get every update, at the same time.
        let (sa, sb) = tokio::join!(
            w.api.post_webhook(&url_a, Some(SECRET), update),
            w.api.post_webhook(&url_b, Some(SECRET), update)
        );
        assert_eq!((sa, sb), (200, 200));
    }
    // Without the secret, nothing is taken.
    let stray = w.api.with_id(TgUser::new(800_000_099).text("/start"));
    assert_eq!(w.api.post_webhook(&url_a, None, &stray).await, 401);
    assert_eq!(w.api.post_webhook(&url_b, Some("guess"), &stray).await, 401);

    for u in &users {
        w.api
            .wait_chat(u.id, |texts| {
                texts.iter().any(|t| t.contains("Версия письма номер"))
            })
            .await;
    }
    a.stop().await;
    b.stop().await;

    let calls = w.api.calls();
    for u in &users {
        let texts: Vec<String> = sent_to(&calls, u.id)
            .iter()
            .map(|c| c.text().to_string())
            .collect();
        let count = |needle: &str| texts.iter().filter(|t| t.contains(needle)).count();
        assert_eq!(
            (
                count("Шаг 1 из 2"),
                count("Шаг 2 из 2"),
                count("Версия письма номер")
            ),
            (1, 1, 1),
            "{texts:?}"
        );
    }
    assert_eq!(w.llm.count(), users.len(), "one generation per user");
    assert_eq!(
        w.scalar("SELECT count(*) FROM letter_sessions").await,
        users.len() as i64
    );
    assert_eq!(
        w.scalar("SELECT count(*) FROM openai_requests").await,
        users.len() as i64
    );
    assert_eq!(
        w.scalar("SELECT count(*) FROM user_events WHERE event_type = 'start'")
            .await,
        users.len() as i64
    );
    assert_eq!(
        w.scalar("SELECT count(*) FROM processed_events").await,
        unique_ids
    );
    assert_eq!(
        w.scalar("SELECT count(*) FROM users WHERE telegram_user_id = 800000099")
            .await,
        0
    );
}

#[tokio::test]
async fn a_users_next_update_given_to_another_replica_waits_until_the_first_is_answered() {
    let (w, a, b) = two_replicas().await;
    let (url_a, url_b) = (
        a.webhook_url.clone().unwrap(),
        b.webhook_url.clone().unwrap(),
    );
    let u = TgUser::new(800_000_201);
    // Replica A is answering /start (its reply held before Telegram takes it) when the user's
    // vacancy reaches replica B.
    let held = w.api.hold_message("Шаг 1 из 2", HoldAt::BeforeTaking);
    let start = w.api.with_id(u.text("/start"));
    assert_eq!(w.api.post_webhook(&url_a, Some(SECRET), &start).await, 200);
    held.reached().await;
    let vacancy = w.api.with_id(u.text(VACANCY));
    assert_eq!(
        w.api.post_webhook(&url_b, Some(SECRET), &vacancy).await,
        200
    );
    // Recorded (so Telegram may forget it), and left for whoever finishes /start.
    let waiting = w
        .scalar(&format!(
            "SELECT count(*) FROM update_inbox WHERE update_id = {} AND owner IS NULL AND done_at IS NULL",
            vacancy["update_id"]
        ))
        .await;
    assert_eq!(waiting, 1, "the vacancy waits for /start");
    // The held reply fails once (Telegram did not take it) and is sent again.
    held.release();
    w.api
        .wait_chat(u.id, |texts| texts.iter().any(|t| t.contains("Шаг 2 из 2")))
        .await;
    a.stop().await;
    b.stop().await;

    let texts: Vec<String> = sent_to(&w.api.calls(), u.id)
        .iter()
        .map(|c| c.text().to_string())
        .collect();
    let step1 = texts.iter().position(|t| t.contains("Шаг 1 из 2"));
    let step2 = texts.iter().position(|t| t.contains("Шаг 2 из 2"));
    assert!(
        step1.is_some() && step1 < step2,
        "answers in the order of the updates: {texts:?}"
    );
    assert_eq!(texts.iter().filter(|t| t.contains("Шаг 2 из 2")).count(), 1);
    assert_eq!(
        w.scalar("SELECT count(*) FROM update_inbox WHERE done_at IS NULL")
            .await,
        0
    );
}
