//! A fake Telegram Bot API on 127.0.0.1 for the end-to-end tests and the benchmark.
//!
//! It speaks the real wire format: `POST /bot<token>/<method>` with a JSON or form body, answers
//! `{"ok":true,"result":...}` the way Telegram does, serves scripted updates through `getUpdates`
//! (honouring `offset`, `limit` and `timeout`) or, once a webhook is set, posts them to it with
//! the secret-token header until it answers 2xx (`webhook`), serves files under `/file/bot<token>/<path>`, and records every call with its body.
//! It can be told to answer a method with 429 and `parameters.retry_after`, to fail it with a
//! 5xx, and to hold a message (before Telegram would have taken it, or after) so a test can kill
//! the bot at that moment.

mod reading;
mod server;
mod updates;
mod webhook;
mod wire;

pub use reading::{button, message_containing, sent_to};
pub use updates::TgUser;
pub use webhook::WebhookPost;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::Notify;
use wire::short;

pub const BOT_ID: i64 = 7_000_000_001;
pub const BOT_USERNAME: &str = "soprovod_test_bot";

/// One recorded Bot API call.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub body: Value,
    pub at: Instant,
    /// The answer was a scripted 429.
    pub throttled: bool,
    /// Which bot process made the call, when it was given [`FakeBotApi::url_for_process`]: a
    /// call the fake handles after that process was killed is still its call (the request was
    /// in the socket before the kill; the fake only got to it later).
    pub process: Option<usize>,
}

impl Call {
    pub fn str(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }

    pub fn chat_id(&self) -> Option<i64> {
        match self.body.get("chat_id") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
    }

    /// The text of a sendMessage (or editMessageText) call.
    pub fn text(&self) -> &str {
        self.str("text").unwrap_or("")
    }

    /// Callback data of every inline button of the call's reply markup.
    pub fn callback_data(&self) -> Vec<String> {
        self.buttons().into_iter().filter_map(|(_, d)| d).collect()
    }

    /// (label, callback data) of every inline button, row by row.
    pub fn buttons(&self) -> Vec<(String, Option<String>)> {
        let markup = match self.body.get("reply_markup") {
            Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
            Some(v) => v.clone(),
            None => Value::Null,
        };
        let mut out = Vec::new();
        if let Some(rows) = markup.get("inline_keyboard").and_then(Value::as_array) {
            for row in rows {
                for b in row.as_array().into_iter().flatten() {
                    let label = b
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    let data = b
                        .get("callback_data")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    out.push((label, data));
                }
            }
        }
        out
    }
}

#[derive(Default)]
struct State {
    /// Updates not yet confirmed by an offset, oldest first.
    pending: VecDeque<Value>,
    calls: Vec<Call>,
    /// Scripted 429 answers per method: the retry_after of each, consumed in order.
    throttle: HashMap<String, VecDeque<u32>>,
    files: HashMap<String, (String, Vec<u8>)>,
    /// Scripted 5xx answers per method, consumed in order.
    failures: HashMap<String, VecDeque<u16>>,
    /// Held calls (method, needle): the first call of the method whose text contains the
    /// needle waits on the hold.
    holds: Vec<(String, String, Hold)>,
    /// Charges refunded through refundStarPayment.
    refunded: std::collections::HashSet<String>,
    /// Highest offset a getUpdates call has confirmed.
    confirmed_offset: i64,
    /// Texts delivered per chat and callback ids answered, for cheap waiting under load.
    texts_by_chat: HashMap<i64, Vec<String>>,
    /// Woken when a text reaches the chat: a waiter for one chat is not woken by every call of
    /// the others (hundreds of waiting users would each wake on each of thousands of calls).
    chat_changed: HashMap<i64, Arc<Notify>>,
    answered: HashSet<String>,
    /// Woken when the callback or pre-checkout query is answered (same reason as `chat_changed`).
    answer_waiters: HashMap<String, Arc<Notify>>,
    /// The webhook, once set: updates are posted there instead of waiting for getUpdates.
    webhook: Option<webhook::Webhook>,
    /// Updates per chat not yet accepted by the webhook, oldest first.
    webhook_queues: HashMap<i64, VecDeque<Value>>,
    /// Chats whose deliverer is running.
    webhook_busy: HashSet<i64>,
    webhook_posts: Vec<WebhookPost>,
}

/// The running fake. Dropping it does not stop the server; the test process ends it.
#[derive(Clone)]
pub struct FakeBotApi {
    pub addr: SocketAddr,
    pub token: String,
    state: Arc<Mutex<State>>,
    /// Woken on every new update (long polling) and every recorded call (waiters).
    updates_changed: Arc<Notify>,
    calls_changed: Arc<Notify>,
    next_update_id: Arc<AtomicI64>,
    next_message_id: Arc<AtomicI64>,
    http: reqwest::Client,
    /// getUpdates answers that carried updates.
    polls: Arc<std::sync::atomic::AtomicUsize>,
}

/// When a held message waits: before the fake takes it (a kill then means Telegram never got
/// it) or after it recorded it (a kill then means Telegram got it and the bot never heard back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldAt {
    BeforeTaking,
    AfterTaking,
}

/// A held message; see [`FakeBotApi::hold_message`].
#[derive(Clone)]
pub struct Hold {
    at: HoldAt,
    reached: Arc<tokio::sync::Semaphore>,
    gate: Arc<tokio::sync::Semaphore>,
    used: Arc<std::sync::atomic::AtomicBool>,
}

impl Hold {
    /// Waits until the bot sent the held message.
    pub async fn reached(&self) {
        let deadline = Duration::from_secs(60);
        tokio::time::timeout(deadline, self.reached.acquire())
            .await
            .expect("the held message was never sent")
            .unwrap()
            .forget();
    }

    /// Lets the held request go on (its client may be gone by then).
    pub fn release(&self) {
        self.gate.add_permits(1000);
    }
}

impl FakeBotApi {
    pub async fn start() -> Self {
        let token = "123456:TEST-token_not-a-secret".to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake Bot API");
        let addr = listener.local_addr().unwrap();
        let api = Self {
            addr,
            token,
            state,
            updates_changed: Arc::new(Notify::new()),
            calls_changed: Arc::new(Notify::new()),
            next_update_id: Arc::new(AtomicI64::new(100_000)),
            next_message_id: Arc::new(AtomicI64::new(1)),
            http: reqwest::Client::new(),
            polls: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        };
        let served = api.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let api = served.clone();
                async move { api.handle(method, uri, headers, body).await }
            },
        );
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("fake Bot API server");
        });
        api
    }

    /// What TELEGRAM_API_URL should be for the bot under test.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// TELEGRAM_API_URL for bot process number `n`: its calls are recorded with
    /// `process: Some(n)` (the path carries the number; the bot appends `/bot<token>/<method>`).
    pub fn url_for_process(&self, n: usize) -> String {
        format!("http://{}/{}{n}", self.addr, wire::PROCESS_PREFIX)
    }

    // ---- scripting -------------------------------------------------------------------------

    /// Queues an update for getUpdates; `body` is the update without `update_id`, e.g.
    /// `{"message": {...}}`. Returns the update id.
    pub fn push(&self, body: Value) -> i64 {
        // Ids are taken under the lock so the queue is in id order, as Telegram's is: an update
        // queued behind a higher id would be dropped by the next offset.
        let mut st = self.state.lock().unwrap();
        let update = self.with_id(body);
        let id = update["update_id"].as_i64().unwrap();
        if st.webhook.is_some() {
            self.enqueue_post(&mut st, update);
        } else {
            st.pending.push_back(update);
        }
        drop(st);
        self.updates_changed.notify_waiters();
        id
    }

    /// Queues an update that already has an id: Telegram re-delivering an update.
    pub fn redeliver(&self, update: Value) {
        let mut st = self.state.lock().unwrap();
        if st.webhook.is_some() {
            self.enqueue_post(&mut st, update);
        } else {
            st.pending.push_back(update);
        }
        drop(st);
        self.updates_changed.notify_waiters();
    }

    /// Gives the update body an id without queuing it (for webhook posts).
    pub fn with_id(&self, body: Value) -> Value {
        let id = self.next_update_id.fetch_add(1, Ordering::SeqCst);
        let mut update = body;
        update
            .as_object_mut()
            .expect("an update is an object")
            .insert("update_id".into(), json!(id));
        update
    }

    /// Posts an update to a webhook the way Telegram does; returns the HTTP status.
    pub async fn post_webhook(&self, url: &str, secret: Option<&str>, update: &Value) -> u16 {
        let mut req = self.http.post(url).json(update);
        if let Some(s) = secret {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        req.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
    }

    /// The next `times` calls of `method` are answered 429 with `retry_after` seconds.
    pub fn throttle(&self, method: &str, retry_after: u32, times: usize) {
        let mut st = self.state.lock().unwrap();
        let q = st.throttle.entry(method.to_string()).or_default();
        q.extend(std::iter::repeat_n(retry_after, times));
    }

    /// The next `times` calls of `method` are answered with HTTP `status` (a 5xx) and Telegram's
    /// error body, and not taken.
    pub fn fail(&self, method: &str, status: u16, times: usize) {
        let mut st = self.state.lock().unwrap();
        let q = st.failures.entry(method.to_string()).or_default();
        q.extend(std::iter::repeat_n(status, times));
    }

    /// Holds the first sendMessage whose text contains `needle`, at `at`, until released.
    pub fn hold_message(&self, needle: &str, at: HoldAt) -> Hold {
        self.hold("sendMessage", needle, at)
    }

    /// Holds the next call of `method` (e.g. `getMe`, which a starting bot makes first) before
    /// the fake takes it, until released; then it is answered 500.
    pub fn hold_call(&self, method: &str) -> Hold {
        self.hold(method, "", HoldAt::BeforeTaking)
    }

    fn hold(&self, method: &str, needle: &str, at: HoldAt) -> Hold {
        let hold = Hold {
            at,
            reached: Arc::new(tokio::sync::Semaphore::new(0)),
            gate: Arc::new(tokio::sync::Semaphore::new(0)),
            used: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        };
        self.state.lock().unwrap().holds.push((
            method.to_string(),
            needle.to_string(),
            hold.clone(),
        ));
        hold
    }

    /// getUpdates answers that carried updates so far.
    pub fn polls(&self) -> usize {
        self.polls.load(Ordering::SeqCst)
    }

    /// A file getFile can describe and the file endpoint can serve.
    pub fn add_file(&self, file_id: &str, file_path: &str, bytes: Vec<u8>) {
        self.state
            .lock()
            .unwrap()
            .files
            .insert(file_id.to_string(), (file_path.to_string(), bytes));
    }

    // ---- observing -------------------------------------------------------------------------

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// Messages sent to one chat, in order.
    pub fn messages_to(&self, chat: i64) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == "sendMessage" && c.chat_id() == Some(chat) && !c.throttled)
            .collect()
    }

    /// Updates still waiting to be confirmed by an offset or accepted by the webhook.
    pub fn unconfirmed(&self) -> usize {
        let st = self.state.lock().unwrap();
        st.pending.len() + st.webhook_queues.values().map(VecDeque::len).sum::<usize>()
    }

    pub fn confirmed_offset(&self) -> i64 {
        self.state.lock().unwrap().confirmed_offset
    }

    /// Waits until `cond` holds over the recorded calls; panics with `what` after a generous
    /// deadline (a real failure, not a timing assumption).
    pub async fn wait_until<F: Fn(&[Call]) -> bool>(&self, what: &str, cond: F) -> Vec<Call> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let notified = self.calls_changed.notified();
            {
                let st = self.state.lock().unwrap();
                if cond(&st.calls) {
                    return st.calls.clone();
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let st = self.state.lock().unwrap();
                let seen: Vec<String> = st
                    .calls
                    .iter()
                    .map(|c| format!("{} {}", c.method, short(&c.body.to_string())))
                    .collect();
                panic!(
                    "timed out waiting for {what}; calls so far:\n{}",
                    seen.join("\n")
                );
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(500)), notified).await;
        }
    }

    /// Texts delivered to `chat` so far, in order (cheap: kept apart from the call log).
    pub fn texts_to(&self, chat: i64) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .texts_by_chat
            .get(&chat)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether the callback query or pre-checkout query `id` has been answered.
    pub fn is_answered(&self, id: &str) -> bool {
        self.state.lock().unwrap().answered.contains(id)
    }

    /// Waits up to `within` for `cond` (checked after every recorded call); false if it never
    /// held. For callers that count failures instead of panicking (the benchmarks).
    pub async fn holds_within<F: FnMut() -> bool>(&self, within: Duration, mut cond: F) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let notified = self.calls_changed.notified();
            if cond() {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(500)), notified).await;
        }
    }

    /// Waits until the texts sent to `chat` satisfy `cond`; returns how many there are.
    pub async fn wait_chat<F: Fn(&[String]) -> bool>(&self, chat: i64, cond: F) -> usize {
        let deadline = Instant::now() + Duration::from_secs(120);
        let changed = self
            .state
            .lock()
            .unwrap()
            .chat_changed
            .entry(chat)
            .or_default()
            .clone();
        loop {
            let notified = changed.notified();
            {
                let st = self.state.lock().unwrap();
                let texts = st
                    .texts_by_chat
                    .get(&chat)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                if cond(texts) {
                    return texts.len();
                }
            }
            assert!(
                Instant::now() < deadline,
                "chat {chat} never got what was expected"
            );
            let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
        }
    }

    /// Waits until the callback query or pre-checkout query `id` has been answered.
    pub async fn wait_answered(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let answered = self
            .state
            .lock()
            .unwrap()
            .answer_waiters
            .entry(id.to_string())
            .or_default()
            .clone();
        loop {
            let notified = answered.notified();
            if self.state.lock().unwrap().answered.contains(id) {
                return;
            }
            assert!(Instant::now() < deadline, "callback {id} never answered");
            let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
        }
    }

    /// The last message to `chat` whose text contains `needle` (without copying the call log,
    /// which hundreds of simulated users would each copy).
    pub fn last_message_to(&self, chat: i64, needle: &str) -> Option<Call> {
        self.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .rev()
            .find(|c| {
                c.method == "sendMessage"
                    && !c.throttled
                    && c.chat_id() == Some(chat)
                    && c.text().contains(needle)
            })
            .cloned()
    }

    /// Waits for the `n`-th (1-based) message to `chat` and returns it.
    pub async fn nth_message_to(&self, chat: i64, n: usize) -> Call {
        let calls = self
            .wait_until(&format!("message #{n} to chat {chat}"), |calls| {
                calls
                    .iter()
                    .filter(|c| {
                        c.method == "sendMessage" && c.chat_id() == Some(chat) && !c.throttled
                    })
                    .count()
                    >= n
            })
            .await;
        calls
            .into_iter()
            .filter(|c| c.method == "sendMessage" && c.chat_id() == Some(chat) && !c.throttled)
            .nth(n - 1)
            .unwrap()
    }

    /// Waits until every queued update has been confirmed by a getUpdates offset.
    pub async fn wait_all_confirmed(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            // getUpdates notifies `calls_changed` each time it applies an offset.
            let notified = self.calls_changed.notified();
            let left = self.state.lock().unwrap().pending.len();
            if left == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "{left} updates never confirmed");
            let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
        }
    }
}
