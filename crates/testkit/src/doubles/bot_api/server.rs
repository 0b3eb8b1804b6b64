//! The fake's HTTP side: routing a Bot API call, scripted failures and holds, long polling,
//! and the answers Telegram gives to each method.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::wire::{bot_user, canonical, chrono_now, err, num, ok, parse_body, strip_tags};
use super::{Call, FakeBotApi, HoldAt, BOT_ID, BOT_USERNAME};

impl FakeBotApi {
    pub(super) async fn handle(
        &self,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let (process, path) = super::wire::process_of(uri.path());
        let path = path.to_string();
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

        if method_name == "getUpdates" && self.state.lock().unwrap().webhook.is_some() {
            return err(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            );
        }
        if method_name == "setWebhook" {
            if let Some(url) = body
                .get("url")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
            {
                self.deliver_to(url, body.get("secret_token").and_then(Value::as_str));
            }
        }
        if method_name == "deleteWebhook" {
            self.stop_delivering();
        }
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
            let hold = if failure.is_none() {
                st.holds
                    .iter()
                    .find(|(method, needle, h)| {
                        *method == method_name
                            && text.contains(needle.as_str())
                            && !h.used.load(std::sync::atomic::Ordering::SeqCst)
                    })
                    .map(|(_, _, h)| {
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
            let mut woken = None;
            if r.is_none() {
                let call = Call {
                    method: method_name.clone(),
                    body: body.clone(),
                    at: Instant::now(),
                    throttled: false,
                    process,
                };
                if method_name == "sendMessage" {
                    if let Some(chat) = call.chat_id() {
                        st.texts_by_chat
                            .entry(chat)
                            .or_default()
                            .push(call.text().to_string());
                        woken = st.chat_changed.get(&chat).cloned();
                    }
                }
                let query = match method_name.as_str() {
                    "answerCallbackQuery" => call.str("callback_query_id"),
                    "answerPreCheckoutQuery" => call.str("pre_checkout_query_id"),
                    _ => None,
                };
                if let Some(id) = query {
                    st.answered.insert(id.to_string());
                    if let Some(waiter) = st.answer_waiters.remove(id) {
                        waiter.notify_waiters();
                    }
                }
            }
            st.calls.push(Call {
                method: method_name.clone(),
                body: body.clone(),
                at: Instant::now(),
                throttled: r.is_some(),
                process,
            });
            (r, woken)
        };
        let (retry_after, woken) = retry_after;
        if let Some(chat) = woken {
            chat.notify_waiters();
        }
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
        if method_name == "sendMessage" {
            // Telegram's limit: 4096 UTF-16 units of the text after entity parsing.
            let text = body.get("text").and_then(Value::as_str).unwrap_or("");
            if strip_tags(text).encode_utf16().count() > 4096 {
                return err(400, "Bad Request: message is too long");
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
