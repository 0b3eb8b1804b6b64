//! The transports against the fake Bot API, with a recording handler instead of the engine:
//! updates arrive in order, offsets are confirmed only for recorded updates, the webhook checks
//! its secret and answers 503 when it cannot record, shutdown drains.

use std::sync::{Arc, Mutex};

use serde_json::json;
use telegram::transport::{self, Intake, LaneKey, UpdateLanes};
use teloxide::types::{Update, UpdateKind};
use teloxide::Bot;
use tokio::sync::{mpsc, oneshot, Semaphore};

use testkit::doubles::bot_api::{FakeBotApi, TgUser};

/// An intake recording into a fresh database with the declared schema.
async fn intake(lanes: &UpdateLanes) -> (Intake, testkit::TestDb, sqlx::PgPool) {
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let owner = store::delivery::Owner::random();
    (Intake::new(pool.clone(), owner, lanes.clone()), db, pool)
}

fn bot_for(api: &FakeBotApi) -> Bot {
    Bot::new(api.token.clone()).set_api_url(api.url().parse().unwrap())
}

fn text_of(update: &Update) -> String {
    match &update.kind {
        UpdateKind::Message(m) => m.text().unwrap_or("").to_string(),
        UpdateKind::CallbackQuery(q) => format!("button:{}", q.data.clone().unwrap_or_default()),
        UpdateKind::PreCheckoutQuery(q) => format!("pre_checkout:{}", q.invoice_payload),
        _ => "other".into(),
    }
}

/// (user, what) of each update handled.
type Seen = Arc<Mutex<Vec<(u64, String)>>>;

/// Lanes whose handler records (user, what) of each update and reports the count seen so far.
fn recording_lanes() -> (UpdateLanes, Seen, mpsc::UnboundedReceiver<usize>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::unbounded_channel();
    let s = seen.clone();
    let lanes = UpdateLanes::new(8, move |u: Update| {
        let (s, tx) = (s.clone(), tx.clone());
        async move {
            let who = match LaneKey::of(&u) {
                LaneKey::User(id) => id,
                LaneKey::Orphan(_) => 0,
            };
            let n = {
                let mut seen = s.lock().unwrap();
                seen.push((who, text_of(&u)));
                seen.len()
            };
            let _ = tx.send(n);
        }
    });
    (lanes, seen, rx)
}

/// Waits until the handler has seen `n` updates (a deadline turns a hang into a failure).
async fn until_seen(rx: &mut mpsc::UnboundedReceiver<usize>, n: usize) {
    let wait = async {
        while let Some(count) = rx.recv().await {
            if count >= n {
                return;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), wait)
        .await
        .expect("updates never arrived");
}

#[tokio::test]
async fn long_polling_delivers_every_update_in_order_and_confirms_the_offset_on_shutdown() {
    let api = FakeBotApi::start().await;
    let (lanes, seen, mut counts) = recording_lanes();
    let anna = TgUser::new(555_000_001);
    let boris = TgUser::new(555_000_002);
    for i in 0..5 {
        api.push(anna.text(&format!("a{i}")));
        api.push(boris.text(&format!("b{i}")));
    }
    api.push(anna.press("like:x", 42));
    api.push(anna.pre_checkout("pcq-1", "premium:1:150", 150));
    let (intake, _db, pool) = intake(&lanes).await;
    let (stop, stopped) = oneshot::channel::<()>();
    let polling = tokio::spawn(transport::poll(bot_for(&api), intake, async move {
        let _ = stopped.await;
    }));
    until_seen(&mut counts, 12).await;
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM update_inbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(recorded, 12, "every update handed on was recorded first");
    stop.send(()).unwrap();
    polling.await.unwrap();
    let seen = seen.lock().unwrap().clone();
    // Pre-checkout queries have a lane of their own (never queued behind a user's updates).
    let anna_seen: Vec<String> = seen
        .iter()
        .filter(|(u, t)| *u == 555_000_001 && !t.starts_with("pre_checkout"))
        .map(|(_, t)| t.clone())
        .collect();
    assert_eq!(
        anna_seen,
        vec!["a0", "a1", "a2", "a3", "a4", "button:like:x"]
    );
    assert!(seen
        .iter()
        .any(|(u, t)| *u == 555_000_001 && t == "pre_checkout:premium:1:150"));
    let boris_seen: Vec<String> = seen
        .iter()
        .filter(|(u, _)| *u == 555_000_002)
        .map(|(_, t)| t.clone())
        .collect();
    assert_eq!(boris_seen, vec!["b0", "b1", "b2", "b3", "b4"]);
    // The last getUpdates passed an offset past every update: Telegram will not re-deliver them.
    assert_eq!(api.unconfirmed(), 0);
    assert!(
        api.calls_of("deleteWebhook").len() == 1,
        "polling removes a stale webhook first"
    );
}

#[tokio::test]
async fn shutdown_waits_for_an_update_in_progress() {
    let api = FakeBotApi::start().await;
    let gate = Arc::new(Semaphore::new(0));
    let done = Arc::new(Mutex::new(Vec::new()));
    let (started_tx, mut started) = mpsc::unbounded_channel::<()>();
    let (g, d) = (gate.clone(), done.clone());
    let lanes = UpdateLanes::new(4, move |u: Update| {
        let (g, d, started_tx) = (g.clone(), d.clone(), started_tx.clone());
        async move {
            let _ = started_tx.send(());
            g.acquire().await.unwrap().forget();
            d.lock().unwrap().push(text_of(&u));
        }
    });
    api.push(TgUser::new(777).text("slow one"));
    let (intake, _db, _pool) = intake(&lanes).await;
    let (stop, stopped) = oneshot::channel::<()>();
    let polling = tokio::spawn(transport::poll(bot_for(&api), intake, async move {
        let _ = stopped.await;
    }));
    started.recv().await.unwrap();
    stop.send(()).unwrap();
    // Shutdown has begun, but the update is still being handled: the poller must not be done.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(!polling.is_finished());
    gate.add_permits(1);
    polling.await.unwrap();
    assert_eq!(done.lock().unwrap().clone(), vec!["slow one".to_string()]);
}

#[tokio::test]
async fn the_webhook_takes_updates_only_with_the_secret_token() {
    let api = FakeBotApi::start().await;
    let (lanes, seen, _counts) = recording_lanes();
    let (intake, _db, _pool) = intake(&lanes).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/telegram", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let public: reqwest::Url = "https://bot.example.org/telegram".parse().unwrap();
    let server = tokio::spawn(transport::webhook_on(
        bot_for(&api),
        intake,
        listener,
        "s3cret-token".into(),
        Some(public),
        async move {
            let _ = stopped.await;
        },
    ));
    let user = TgUser::new(888);
    let update = api.with_id(user.text("через вебхук"));
    // setWebhook was called with the secret and the public URL before serving.
    let set = api
        .wait_until("setWebhook", |c| c.iter().any(|c| c.method == "setWebhook"))
        .await;
    let set = set.iter().find(|c| c.method == "setWebhook").unwrap();
    assert_eq!(set.str("secret_token"), Some("s3cret-token"));
    assert_eq!(set.str("url"), Some("https://bot.example.org/telegram"));

    assert_eq!(api.post_webhook(&url, None, &update).await, 401);
    assert_eq!(api.post_webhook(&url, Some("wrong"), &update).await, 401);
    assert_eq!(
        api.post_webhook(&url, Some("s3cret-token"), &update).await,
        200
    );
    // Telegram re-sending an update that was recorded: taken, not handed on twice.
    assert_eq!(
        api.post_webhook(&url, Some("s3cret-token"), &update).await,
        200
    );
    // Garbage with the right secret is taken (Telegram would re-send it forever) and dropped.
    assert_eq!(
        api.post_webhook(&url, Some("s3cret-token"), &json!({"nonsense": true}))
            .await,
        200
    );
    lanes.wait_idle().await;
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec![(888, "через вебхук".to_string())]
    );
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn polling_does_not_move_the_offset_past_updates_it_could_not_record() {
    let api = FakeBotApi::start().await;
    let (lanes, seen, mut counts) = recording_lanes();
    let (intake, _db, pool) = intake(&lanes).await;
    // The inbox refuses writes until the test lifts the block: the database is "down".
    sqlx::raw_sql(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'inbox unavailable (test)'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON update_inbox FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let anna = TgUser::new(556_000_001);
    api.push(anna.text("первое"));
    api.push(anna.text("второе"));
    let (stop, stopped) = oneshot::channel::<()>();
    let polling = tokio::spawn(transport::poll(bot_for(&api), intake, async move {
        let _ = stopped.await;
    }));
    // getUpdates is asked again and again with the old offset: nothing is confirmed or handled.
    api.wait_until("two failed recording rounds", |_| api_polls(&api) >= 3)
        .await;
    assert_eq!(api.unconfirmed(), 2);
    assert!(seen.lock().unwrap().is_empty());
    sqlx::raw_sql("DROP TRIGGER refuse ON update_inbox")
        .execute(&pool)
        .await
        .unwrap();
    until_seen(&mut counts, 2).await;
    stop.send(()).unwrap();
    polling.await.unwrap();
    assert_eq!(api.unconfirmed(), 0);
    let texts: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, t)| t.clone())
        .collect();
    assert_eq!(texts, vec!["первое", "второе"]);
}

fn api_polls(api: &FakeBotApi) -> usize {
    api.polls()
}

#[tokio::test]
async fn a_webhook_replica_that_cannot_record_answers_503_so_telegram_delivers_again() {
    let api = FakeBotApi::start().await;
    let (lanes, seen, _counts) = recording_lanes();
    let (intake, _db, pool) = intake(&lanes).await;
    sqlx::raw_sql(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'inbox unavailable (test)'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON update_inbox FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/telegram", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(transport::webhook_on(
        bot_for(&api),
        intake,
        listener,
        "s3cret".into(),
        None,
        async move {
            let _ = stopped.await;
        },
    ));
    let update = api.with_id(TgUser::new(889).text("важное"));
    assert_eq!(api.post_webhook(&url, Some("s3cret"), &update).await, 503);
    assert!(seen.lock().unwrap().is_empty());
    sqlx::raw_sql("DROP TRIGGER refuse ON update_inbox")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(api.post_webhook(&url, Some("s3cret"), &update).await, 200);
    lanes.wait_idle().await;
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec![(889, "важное".to_string())]
    );
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_fake_records_which_bot_process_made_a_call_when_each_has_its_own_api_url() {
    use teloxide::prelude::Requester;
    let api = FakeBotApi::start().await;
    let chat = teloxide::types::ChatId(42);
    let third = Bot::new(api.token.clone()).set_api_url(api.url_for_process(3).parse().unwrap());
    third.send_message(chat, "from the third").await.unwrap();
    bot_for(&api).send_message(chat, "untagged").await.unwrap();
    let made: Vec<(String, Option<usize>)> = api
        .messages_to(42)
        .iter()
        .map(|c| (c.text().to_string(), c.process))
        .collect();
    assert_eq!(
        made,
        vec![
            ("from the third".to_string(), Some(3)),
            ("untagged".to_string(), None)
        ]
    );
}
