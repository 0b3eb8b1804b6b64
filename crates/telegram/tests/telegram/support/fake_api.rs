//! A fake Telegram Bot API on 127.0.0.1 for the end-to-end tests and the benchmark.
//!
//! It speaks the real wire format: `POST /bot<token>/<method>` with a JSON or form body, answers
//! `{"ok":true,"result":...}` the way Telegram does, serves scripted updates through `getUpdates`
//! (honouring `offset`, `limit` and `timeout`) or posts them to a webhook with the secret-token
//! header, serves files under `/file/bot<token>/<path>`, and records every call with its body.
//! It can be told to answer a method with 429 and `parameters.retry_after`, to fail it with a
//! 5xx, and to hold a message (before Telegram would have taken it, or after) so a test can kill
//! the bot at that moment.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::Notify;

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
    token: String,
    /// Updates not yet confirmed by an offset, oldest first.
    pending: VecDeque<Value>,
    calls: Vec<Call>,
    /// Scripted 429 answers per method: the retry_after of each, consumed in order.
    throttle: HashMap<String, VecDeque<u32>>,
    files: HashMap<String, (String, Vec<u8>)>,
    /// Scripted 5xx answers per method, consumed in order.
    failures: HashMap<String, VecDeque<u16>>,
    /// Held messages: the first sendMessage whose text contains the needle waits on the hold.
    holds: Vec<(String, Hold)>,
    /// Charges refunded through refundStarPayment.
    refunded: std::collections::HashSet<String>,
    /// Highest offset a getUpdates call has confirmed.
    confirmed_offset: i64,
    /// Texts delivered per chat and callback ids answered, for cheap waiting under load.
    texts_by_chat: HashMap<i64, Vec<String>>,
    answered: std::collections::HashSet<String>,
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
        let state = Arc::new(Mutex::new(State {
            token: token.clone(),
            ..State::default()
        }));
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

    // ---- scripting -------------------------------------------------------------------------

    /// Queues an update for getUpdates; `body` is the update without `update_id`, e.g.
    /// `{"message": {...}}`. Returns the update id.
    pub fn push(&self, body: Value) -> i64 {
        // Ids are taken under the lock so the queue is in id order, as Telegram's is: an update
        // queued behind a higher id would be dropped by the next offset.
        let mut st = self.state.lock().unwrap();
        let update = self.with_id(body);
        let id = update["update_id"].as_i64().unwrap();
        st.pending.push_back(update);
        drop(st);
        self.updates_changed.notify_waiters();
        id
    }

    /// Queues an update that already has an id: Telegram re-delivering an update.
    pub fn redeliver(&self, update: Value) {
        self.state.lock().unwrap().pending.push_back(update);
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
        let hold = Hold {
            at,
            reached: Arc::new(tokio::sync::Semaphore::new(0)),
            gate: Arc::new(tokio::sync::Semaphore::new(0)),
            used: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        };
        self.state
            .lock()
            .unwrap()
            .holds
            .push((needle.to_string(), hold.clone()));
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

    /// Updates still waiting to be confirmed by an offset.
    pub fn unconfirmed(&self) -> usize {
        self.state.lock().unwrap().pending.len()
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

    /// Waits until the texts sent to `chat` satisfy `cond`; returns how many there are.
    pub async fn wait_chat<F: Fn(&[String]) -> bool>(&self, chat: i64, cond: F) -> usize {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let notified = self.calls_changed.notified();
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

    /// Waits until the callback query `id` has been answered.
    pub async fn wait_answered(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let notified = self.calls_changed.notified();
            if self.state.lock().unwrap().answered.contains(id) {
                return;
            }
            assert!(Instant::now() < deadline, "callback {id} never answered");
            let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
        }
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

    // ---- the server ------------------------------------------------------------------------

    async fn handle(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let path = uri.path().to_string();
        let token = self.token.clone();
        if method == Method::GET {
            if let Some(rest) = path.strip_prefix(&format!("/file/bot{token}/")) {
                let files = &self.state.lock().unwrap().files;
                return match files.values().find(|(p, _)| p == rest) {
                    Some((_, bytes)) => (StatusCode::OK, bytes.clone()).into_response(),
                    None => (StatusCode::NOT_FOUND, "Not Found").into_response(),
                };
            }
        }
        let Some(rest) = path.strip_prefix("/bot") else {
            return err(404, "Not Found");
        };
        let Some((tok, method_name)) = rest.split_once('/') else {
            return err(404, "Not Found");
        };
        if tok != token {
            return err(401, "Unauthorized");
        }
        let body = parse_body(&headers, &body);
        let method_name = canonical(method_name);

        if method_name == "getUpdates" {
            // Not recorded as a call: the bot polls all the time and tests look at its answers.
            return self.get_updates(&body).await;
        }

        let (failure, hold) = {
            let mut st = self.state.lock().unwrap();
            let failure = st
                .failures
                .get_mut(&method_name)
                .and_then(VecDeque::pop_front);
            let text = body.get("text").and_then(Value::as_str).unwrap_or("");
            let hold = if method_name == "sendMessage" && failure.is_none() {
                st.holds
                    .iter()
                    .find(|(needle, h)| {
                        text.contains(needle.as_str())
                            && !h.used.load(std::sync::atomic::Ordering::SeqCst)
                    })
                    .map(|(_, h)| {
                        h.used.store(true, std::sync::atomic::Ordering::SeqCst);
                        h.clone()
                    })
            } else {
                None
            };
            (failure, hold)
        };
        if let Some(status) = failure {
            return err(status, "Internal Server Error");
        }
        if let Some(h) = hold.as_ref().filter(|h| h.at == HoldAt::BeforeTaking) {
            h.reached.add_permits(1);
            let _ = h.gate.acquire().await;
            // Released after the bot was killed: nobody is listening, and Telegram never took it.
            return err(500, "Internal Server Error");
        }
        let retry_after = {
            let mut st = self.state.lock().unwrap();
            let r = st
                .throttle
                .get_mut(&method_name)
                .and_then(VecDeque::pop_front);
            if r.is_none() {
                let call = Call {
                    method: method_name.clone(),
                    body: body.clone(),
                    at: Instant::now(),
                    throttled: false,
                };
                if method_name == "sendMessage" {
                    if let Some(chat) = call.chat_id() {
                        st.texts_by_chat
                            .entry(chat)
                            .or_default()
                            .push(call.text().to_string());
                    }
                }
                if method_name == "answerCallbackQuery" {
                    if let Some(id) = call.str("callback_query_id") {
                        st.answered.insert(id.to_string());
                    }
                }
            }
            st.calls.push(Call {
                method: method_name.clone(),
                body: body.clone(),
                at: Instant::now(),
                throttled: r.is_some(),
            });
            r
        };
        self.calls_changed.notify_waiters();
        if let Some(h) = hold.as_ref().filter(|h| h.at == HoldAt::AfterTaking) {
            h.reached.add_permits(1);
            let _ = h.gate.acquire().await;
        }
        if let Some(secs) = retry_after {
            let payload = json!({
                "ok": false, "error_code": 429,
                "description": format!("Too Many Requests: retry after {secs}"),
                "parameters": {"retry_after": secs}
            });
            return (StatusCode::TOO_MANY_REQUESTS, axum::Json(payload)).into_response();
        }
        if method_name == "refundStarPayment" {
            let charge = body
                .get("telegram_payment_charge_id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if !self.state.lock().unwrap().refunded.insert(charge) {
                return err(400, "Bad Request: CHARGE_ALREADY_REFUNDED");
            }
        }
        match self.answer(&method_name, &body) {
            Some(result) => ok(result),
            None => err(404, "Not Found: method not found"),
        }
    }

    async fn get_updates(&self, body: &Value) -> Response {
        let offset = num(body, "offset").unwrap_or(0);
        let limit = num(body, "limit").unwrap_or(100).clamp(1, 100) as usize;
        let timeout = num(body, "timeout").unwrap_or(0).clamp(0, 50) as u64;
        let deadline = Instant::now() + Duration::from_secs(timeout);
        loop {
            let notified = self.updates_changed.notified();
            let batch: Vec<Value> = {
                let mut st = self.state.lock().unwrap();
                if offset > 0 {
                    // Telegram forgets every update below the offset: it is confirmed.
                    while st
                        .pending
                        .front()
                        .and_then(|u| u["update_id"].as_i64())
                        .is_some_and(|id| id < offset)
                    {
                        st.pending.pop_front();
                    }
                    st.confirmed_offset = st.confirmed_offset.max(offset);
                }
                st.pending.iter().take(limit).cloned().collect()
            };
            if !batch.is_empty() {
                self.polls.fetch_add(1, Ordering::SeqCst);
            }
            self.calls_changed.notify_waiters();
            if !batch.is_empty() {
                return ok(Value::Array(batch));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return ok(json!([]));
            }
            let _ = tokio::time::timeout(left, notified).await;
        }
    }

    fn answer(&self, method: &str, body: &Value) -> Option<Value> {
        let now = chrono_now();
        Some(match method {
            "getMe" => json!({
                "id": BOT_ID, "is_bot": true, "first_name": "Сопровод", "username": BOT_USERNAME,
                "can_join_groups": false, "can_read_all_group_messages": false, "supports_inline_queries": false,
                "can_connect_to_business": false, "has_main_web_app": false
            }),
            "sendMessage" => {
                let chat = body.get("chat_id").cloned().unwrap_or(json!(0));
                let mut m = json!({
                    "message_id": self.next_message_id.fetch_add(1, Ordering::SeqCst),
                    "from": bot_user(),
                    "chat": {"id": chat, "type": "private", "first_name": "User"},
                    "date": now,
                    "text": strip_tags(body.get("text").and_then(Value::as_str).unwrap_or("")),
                });
                if let Some(markup) = body.get("reply_markup") {
                    let markup = match markup {
                        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
                        v => v.clone(),
                    };
                    if markup.get("inline_keyboard").is_some() {
                        m["reply_markup"] = markup;
                    }
                }
                m
            }
            "sendInvoice" => {
                let chat = body.get("chat_id").cloned().unwrap_or(json!(0));
                let total: i64 = body
                    .get("prices")
                    .map(|p| match p {
                        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
                        v => v.clone(),
                    })
                    .and_then(|p| p.as_array().cloned())
                    .map(|a| a.iter().filter_map(|x| x["amount"].as_i64()).sum())
                    .unwrap_or(0);
                json!({
                    "message_id": self.next_message_id.fetch_add(1, Ordering::SeqCst),
                    "from": bot_user(),
                    "chat": {"id": chat, "type": "private", "first_name": "User"},
                    "date": now,
                    "invoice": {
                        "title": body.get("title").cloned().unwrap_or(json!("")),
                        "description": body.get("description").cloned().unwrap_or(json!("")),
                        "start_parameter": "",
                        "currency": body.get("currency").cloned().unwrap_or(json!("")),
                        "total_amount": total
                    }
                })
            }
            "getFile" => {
                let id = body.get("file_id").and_then(Value::as_str).unwrap_or("");
                let st = self.state.lock().unwrap();
                let (path, bytes) = st.files.get(id)?;
                json!({"file_id": id, "file_unique_id": format!("u{id}"), "file_size": bytes.len(), "file_path": path})
            }
            "sendChatAction"
            | "answerCallbackQuery"
            | "answerPreCheckoutQuery"
            | "setMyCommands"
            | "refundStarPayment"
            | "setWebhook"
            | "deleteWebhook"
            | "editMessageReplyMarkup"
            | "deleteMessage" => json!(true),
            _ => return None,
        })
    }
}

/// Telegram matches method names case-insensitively (teloxide sends `SendMessage`); calls are
/// recorded under the documented spelling.
fn canonical(name: &str) -> String {
    const KNOWN: &[&str] = &[
        "getUpdates",
        "getMe",
        "sendMessage",
        "sendChatAction",
        "answerCallbackQuery",
        "sendInvoice",
        "answerPreCheckoutQuery",
        "setMyCommands",
        "getFile",
        "refundStarPayment",
        "setWebhook",
        "deleteWebhook",
        "editMessageReplyMarkup",
        "editMessageText",
        "deleteMessage",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .map(|k| k.to_string())
        .unwrap_or_else(|| name.to_string())
}

fn ok(result: Value) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({"ok": true, "result": result})),
    )
        .into_response()
}

fn err(code: u16, description: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        axum::Json(json!({"ok": false, "error_code": code, "description": description})),
    )
        .into_response()
}

fn num(body: &Value, key: &str) -> Option<i64> {
    match body.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// JSON bodies as they are; form bodies (urlencoded) as an object of strings.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Value {
    let ctype = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if body.is_empty() {
        return json!({});
    }
    if ctype.starts_with("application/x-www-form-urlencoded") {
        let map: serde_json::Map<String, Value> = url_pairs(body)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        return Value::Object(map);
    }
    if let Some(boundary) = ctype
        .strip_prefix("multipart/form-data")
        .and_then(|rest| rest.split("boundary=").nth(1))
    {
        return multipart_fields(body, boundary.trim_matches('"'));
    }
    serde_json::from_slice(body).unwrap_or_else(|_| json!({"_raw": String::from_utf8_lossy(body)}))
}

/// The text fields of a multipart body (teloxide sends methods that could carry files this way).
fn multipart_fields(body: &[u8], boundary: &str) -> Value {
    let text = String::from_utf8_lossy(body);
    let mut map = serde_json::Map::new();
    for part in text.split(&format!("--{boundary}")) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let Some(name) = head
            .split("name=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
        else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        let parsed = serde_json::from_str::<Value>(value)
            .ok()
            .filter(|v| v.is_array() || v.is_object());
        map.insert(
            name.to_string(),
            parsed.unwrap_or_else(|| Value::String(value.to_string())),
        );
    }
    Value::Object(map)
}

fn url_pairs(body: &[u8]) -> Vec<(String, String)> {
    let s = String::from_utf8_lossy(body);
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "Сопровод", "username": BOT_USERNAME})
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Telegram returns the text with the HTML markup parsed away.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn short(s: &str) -> String {
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s.to_string()
    }
}

// ---- update builders: what Telegram sends ---------------------------------------------------

/// A Telegram user as the tests play it.
#[derive(Debug, Clone)]
pub struct TgUser {
    pub id: i64,
    pub first_name: String,
    pub language_code: String,
}

impl TgUser {
    pub fn new(id: i64) -> Self {
        Self {
            id,
            first_name: "Анна".into(),
            language_code: "ru".into(),
        }
    }

    pub fn json(&self) -> Value {
        json!({"id": self.id, "is_bot": false, "first_name": self.first_name, "language_code": self.language_code})
    }

    fn chat(&self) -> Value {
        json!({"id": self.id, "type": "private", "first_name": self.first_name})
    }

    fn message(&self, extra: Value) -> Value {
        static NEXT: AtomicI64 = AtomicI64::new(500_000);
        let mut m = json!({
            "message_id": NEXT.fetch_add(1, Ordering::SeqCst),
            "from": self.json(),
            "chat": self.chat(),
            "date": chrono_now(),
        });
        for (k, v) in extra.as_object().expect("object").iter() {
            m[k] = v.clone();
        }
        json!({"message": m})
    }

    pub fn text(&self, text: &str) -> Value {
        let mut extra = json!({"text": text});
        if text.starts_with('/') {
            let cmd_len = text
                .split_whitespace()
                .next()
                .map(|w| w.encode_utf16().count())
                .unwrap_or(0);
            extra["entities"] = json!([{"offset": 0, "length": cmd_len, "type": "bot_command"}]);
        }
        self.message(extra)
    }

    pub fn photo(&self) -> Value {
        self.message(json!({"photo": [
            {"file_id": "photo-small", "file_unique_id": "ps", "width": 90, "height": 90, "file_size": 1200},
            {"file_id": "photo-big", "file_unique_id": "pb", "width": 800, "height": 800, "file_size": 64000}
        ]}))
    }

    pub fn sticker(&self) -> Value {
        self.message(json!({"sticker": {
            "file_id": "sticker-1", "file_unique_id": "s1", "type": "regular", "width": 512, "height": 512,
            "is_animated": false, "is_video": false, "emoji": "😀"
        }}))
    }

    pub fn voice(&self) -> Value {
        self.message(json!({"voice": {"file_id": "voice-1", "file_unique_id": "v1", "duration": 3, "mime_type": "audio/ogg"}}))
    }

    pub fn document(&self, file_id: &str, file_name: &str, mime: &str, size: usize) -> Value {
        self.message(json!({"document": {
            "file_id": file_id, "file_unique_id": format!("u{file_id}"), "file_name": file_name,
            "mime_type": mime, "file_size": size
        }}))
    }

    /// A press of an inline button on the bot's message `message_id`.
    pub fn press(&self, data: &str, message_id: i64) -> Value {
        static NEXT: AtomicI64 = AtomicI64::new(1);
        json!({"callback_query": {
            "id": format!("cb{}", NEXT.fetch_add(1, Ordering::SeqCst)),
            "from": self.json(),
            "message": {
                "message_id": message_id, "from": bot_user(), "chat": self.chat(),
                "date": chrono_now(), "text": "…"
            },
            "chat_instance": format!("ci{}", self.id),
            "data": data
        }})
    }

    pub fn pre_checkout(&self, id: &str, payload: &str, total: i64) -> Value {
        json!({"pre_checkout_query": {
            "id": id, "from": self.json(), "currency": "XTR", "total_amount": total, "invoice_payload": payload
        }})
    }

    pub fn successful_payment(&self, charge_id: &str, payload: &str, total: i64) -> Value {
        self.message(json!({"successful_payment": {
            "currency": "XTR", "total_amount": total, "invoice_payload": payload,
            "telegram_payment_charge_id": charge_id, "provider_payment_charge_id": ""
        }}))
    }
}
