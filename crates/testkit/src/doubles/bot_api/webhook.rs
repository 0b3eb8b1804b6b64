//! Webhook delivery the way Telegram does it: once a webhook is set, each update is POSTed to
//! its URL with the secret-token header and posted again, with backoff, until the bot answers
//! 2xx. A chat's updates go one at a time in order (the next waits for the previous one's 2xx);
//! different chats are delivered in parallel.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{FakeBotApi, State};

/// The first pause after a failed post; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Where updates go while a webhook is set.
#[derive(Debug, Clone)]
pub(super) struct Webhook {
    pub url: String,
    pub secret: Option<String>,
}

/// One POST of an update to the webhook and what came back (0: no HTTP answer at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookPost {
    pub update_id: i64,
    pub status: u16,
}

impl WebhookPost {
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The chat an update belongs to, which orders its delivery (0 for updates without one).
fn chat_of(update: &Value) -> i64 {
    let paths: [&[&str]; 4] = [
        &["message", "chat", "id"],
        &["callback_query", "from", "id"],
        &["pre_checkout_query", "from", "id"],
        &["edited_message", "chat", "id"],
    ];
    paths
        .iter()
        .find_map(|p| {
            p.iter()
                .try_fold(update, |v, k| v.get(*k))
                .and_then(Value::as_i64)
        })
        .unwrap_or(0)
}

impl FakeBotApi {
    /// From now on updates are posted to `url` (with `secret` in
    /// `X-Telegram-Bot-Api-Secret-Token`) instead of waiting for getUpdates; what getUpdates had
    /// not handed out yet goes there too. What the bot's own `setWebhook` does.
    pub fn deliver_to(&self, url: &str, secret: Option<&str>) {
        let mut st = self.state.lock().unwrap();
        st.webhook = Some(Webhook {
            url: url.to_string(),
            secret: secret.map(str::to_string),
        });
        let waiting: Vec<Value> = st.pending.drain(..).collect();
        for update in waiting {
            self.enqueue_post(&mut st, update);
        }
    }

    /// Back to getUpdates (`deleteWebhook`): updates not yet accepted wait there.
    pub fn stop_delivering(&self) {
        let mut st = self.state.lock().unwrap();
        st.webhook = None;
        let queued: Vec<Value> = st.webhook_queues.drain().flat_map(|(_, q)| q).collect();
        st.pending.extend(queued);
        st.pending
            .make_contiguous()
            .sort_by_key(|u| u["update_id"].as_i64());
        drop(st);
        self.updates_changed.notify_waiters();
    }

    /// Every post to the webhook so far, in order.
    pub fn webhook_posts(&self) -> Vec<WebhookPost> {
        self.state.lock().unwrap().webhook_posts.clone()
    }

    /// Waits until the webhook answered 2xx to update `update_id`.
    pub async fn wait_accepted(&self, update_id: i64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let notified = self.calls_changed.notified();
            if self
                .webhook_posts()
                .iter()
                .any(|p| p.update_id == update_id && p.accepted())
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the webhook never accepted update {update_id}"
            );
            let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
        }
    }

    /// Queues `update` for its chat's deliverer, starting one if none runs.
    pub(super) fn enqueue_post(&self, st: &mut State, update: Value) {
        let chat = chat_of(&update);
        st.webhook_queues.entry(chat).or_default().push_back(update);
        if st.webhook_busy.insert(chat) {
            let api = self.clone();
            tokio::spawn(async move { api.deliver_chat(chat).await });
        }
    }

    /// Posts the chat's updates one by one, each until it is accepted.
    async fn deliver_chat(self, chat: i64) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let (update, hook) = {
                let mut st = self.state.lock().unwrap();
                let next = st
                    .webhook_queues
                    .get(&chat)
                    .and_then(|q| q.front())
                    .cloned();
                match (next, st.webhook.clone()) {
                    (Some(update), Some(hook)) => (update, hook),
                    _ => {
                        st.webhook_busy.remove(&chat);
                        return;
                    }
                }
            };
            let status = self
                .post_webhook(&hook.url, hook.secret.as_deref(), &update)
                .await;
            let update_id = update["update_id"].as_i64().unwrap_or(0);
            let accepted = {
                let mut st = self.state.lock().unwrap();
                let post = WebhookPost { update_id, status };
                st.webhook_posts.push(post);
                if post.accepted() {
                    if let Some(q) = st.webhook_queues.get_mut(&chat) {
                        q.pop_front();
                    }
                }
                post.accepted()
            };
            self.calls_changed.notify_waiters();
            if accepted {
                backoff = FIRST_BACKOFF;
            } else {
                // Telegram's retry pause, not a synchronisation: the bot may be down for a while.
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
