//! Where updates come from: long polling (`getUpdates`) or a webhook (an axum server that checks
//! Telegram's secret-token header, so several replicas can run behind one load balancer). Both
//! record every update in the database inbox before Telegram is told it arrived (the polling
//! offset moves past it, the webhook answers 200) — a replica that cannot record answers 503 and
//! Telegram delivers again — then hand it to the per-user lanes (pre-checkout queries to a lane
//! of their own, so a payment is never queued behind anything). On shutdown they stop taking
//! updates and wait for the lanes to finish what they accepted.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use subtle::ConstantTimeEq;
use teloxide::payloads::{GetUpdatesSetters, SetWebhookSetters};
use teloxide::requests::Requester;
use teloxide::types::UpdateKind;
use teloxide::types::{AllowedUpdate, Update};
use teloxide::Bot;

use sqlx::PgPool;
use store::delivery::{self, Incoming, Owner, Recorded, UpdateId};

use crate::lanes::Lanes;
use crate::retry;

/// Seconds a `getUpdates` call waits for something to happen.
pub const POLL_TIMEOUT_SECS: u32 = 25;

/// The header Telegram puts the webhook's secret token in.
pub const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// The update kinds the bot asks Telegram for.
pub fn allowed_updates() -> Vec<AllowedUpdate> {
    vec![
        AllowedUpdate::Message,
        AllowedUpdate::CallbackQuery,
        AllowedUpdate::PreCheckoutQuery,
    ]
}

/// Which lane an update goes to: its user, or the update itself when it has no user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LaneKey {
    User(u64),
    Orphan(u32),
}

impl LaneKey {
    pub fn of(update: &Update) -> Self {
        match update.from() {
            Some(user) => Self::User(user.id.0),
            None => Self::Orphan(update.id.0),
        }
    }

    /// The lane an update is handled in: its user's, except pre-checkout queries, which have
    /// lanes of their own (never behind the user's other updates, nor holding them up).
    pub fn lane_of(update: &Update) -> Self {
        if matches!(update.kind, UpdateKind::PreCheckoutQuery(_)) {
            Self::Orphan(update.id.0)
        } else {
            Self::of(update)
        }
    }

    /// The lane as the inbox records it.
    fn number(self) -> i64 {
        match self {
            Self::User(id) => i64::try_from(id).unwrap_or(i64::MAX),
            Self::Orphan(id) => -i64::from(id),
        }
    }
}

/// The span that follows one update from the inbox through the engine, the model and the
/// replies sent: its Telegram update id, and the internal user id (`user`) the engine records
/// once it has resolved the sender. Never any text of the user's.
pub fn update_span(id: UpdateId) -> tracing::Span {
    tracing::info_span!("update", update_id = id.get(), user = tracing::field::Empty)
}

/// The update lanes of a running bot.
pub type UpdateLanes = Lanes<LaneKey, Update>;

/// Updates accepted and not finished above which a replica stops taking more (polling waits,
/// the webhook answers 503 so Telegram retries, possibly on another replica).
pub const MAX_QUEUED_UPDATES: usize = 2_000;

/// Where received updates go: recorded in the inbox of `pool` as `owner`'s, then queued.
#[derive(Clone)]
pub struct Intake {
    pool: PgPool,
    owner: Owner,
    lanes: UpdateLanes,
    /// Pre-checkout queries: one lane each, never behind a user's other updates.
    fast: UpdateLanes,
}

impl Intake {
    /// Records into `pool` as `owner` and queues on `lanes` (pre-checkout queries too).
    pub fn new(pool: PgPool, owner: Owner, lanes: UpdateLanes) -> Self {
        Self {
            pool,
            owner,
            fast: lanes.clone(),
            lanes,
        }
    }

    /// Pre-checkout queries go to `fast` instead.
    pub fn with_fast_lanes(mut self, fast: UpdateLanes) -> Self {
        self.fast = fast;
        self
    }

    /// Records `updates` (each as Telegram sent it, and parsed) durably; only the ones not
    /// recorded before are queued, and of those only the ones no earlier update of the same user
    /// handled by another replica holds back (that replica takes them when it is done). An
    /// error means nothing may be acknowledged.
    pub async fn take(&self, updates: Vec<(Value, Update)>) -> Result<(), store::StoreError> {
        let incoming: Vec<Incoming> = updates
            .iter()
            .map(|(raw, u)| Incoming {
                update: UpdateId::new(i64::from(u.id.0)),
                lane: LaneKey::lane_of(u).number(),
                payload: raw.clone(),
            })
            .collect();
        let mut conn = self.pool.acquire().await?;
        let new = delivery::record_updates(&mut conn, self.owner, &incoming).await?;
        drop(conn);
        for (_, update) in updates {
            let id = UpdateId::new(i64::from(update.id.0));
            let _span = update_span(id).entered();
            if new.contains(&Recorded::Ours(id)) {
                tracing::info!("update recorded in the inbox");
                self.queue(update);
            } else if new.contains(&Recorded::Waits(id)) {
                tracing::info!("update recorded in the inbox; it waits for an earlier update of its user on another replica");
            } else {
                tracing::info!("update recorded before; not queued again");
            }
        }
        Ok(())
    }

    /// Queues an update already recorded as this replica's.
    pub fn queue(&self, update: Update) {
        let key = LaneKey::lane_of(&update);
        let accepted = if matches!(update.kind, UpdateKind::PreCheckoutQuery(_)) {
            self.fast.submit(key, update)
        } else {
            self.lanes.submit(key, update)
        };
        if accepted.is_err() {
            // Shutting down: the row stays in the inbox and is taken over after the restart.
            tracing::info!("an update is left for the next start");
        }
    }

    fn has_room(&self) -> bool {
        self.lanes.in_flight() + self.fast.in_flight() < MAX_QUEUED_UPDATES
    }

    async fn wait_room(&self) {
        while !self.has_room() {
            self.lanes.wait_finished().await;
        }
    }

    async fn drain(&self) {
        tracing::info!(
            in_flight = self.lanes.in_flight() + self.fast.in_flight(),
            "stopping: finishing the updates in progress"
        );
        self.lanes.close();
        self.fast.close();
        self.lanes.drain().await;
        self.fast.drain().await;
    }
}

/// Why the transport stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the webhook server failed: {0}")]
    Serve(std::io::Error),
    #[error("Telegram refused the webhook: {0}")]
    SetWebhook(String),
}

/// Long polling until `shutdown` resolves; then waits for accepted updates to finish and
/// confirms the last offset, so a restart does not get the same updates again. The offset moves
/// past an update only once it is in the inbox.
pub async fn poll(bot: Bot, intake: Intake, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    // A webhook left over from webhook mode would make every getUpdates fail with 409.
    let removed = tokio::select! {
        _ = &mut shutdown => {
            // Nothing was fetched; the sweeper may have queued what a dead replica left.
            intake.drain().await;
            return;
        }
        removed = retry::send(bot.delete_webhook()) => removed,
    };
    if let Err(e) = removed {
        tracing::warn!(error = %retry::describe(&e), "could not remove a webhook before polling");
    }
    let mut offset: i32 = 0;
    let mut failures: u32 = 0;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = intake.wait_room() => {}
        }
        let answer = tokio::select! {
            _ = &mut shutdown => break,
            a = get_updates_raw(&bot, offset) => a,
        };
        match answer {
            Ok((next, updates)) => {
                match intake.take(updates).await {
                    Ok(()) => {
                        failures = 0;
                        if let Some(next) = next {
                            offset = offset.max(next);
                        }
                    }
                    Err(e) => {
                        // Not recorded: the offset stays, so Telegram delivers them again.
                        failures += 1;
                        let wait = Duration::from_millis(500 * u64::from(failures.min(10)));
                        tracing::error!(error = %e, wait_ms = wait.as_millis() as u64, "updates not recorded; asking for them again");
                        tokio::select! {
                            _ = &mut shutdown => break,
                            _ = tokio::time::sleep(wait) => {}
                        }
                    }
                }
            }
            Err(e) => {
                failures += 1;
                let wait =
                    Duration::from_millis(500 * u64::from(failures.min(10))).max(e.retry_after);
                tracing::warn!(error = %e.text, wait_ms = wait.as_millis() as u64, "getUpdates failed");
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
    intake.drain().await;
    if offset > 0 {
        // Passing the offset is how Telegram learns these updates are done.
        let confirm = bot
            .get_updates()
            .offset(offset)
            .timeout(0)
            .limit(1)
            .allowed_updates(allowed_updates());
        if let Err(e) = retry::send(confirm).await {
            tracing::warn!(error = %retry::describe(&e), "could not confirm the last updates; they will be re-delivered and skipped");
        }
    }
}

/// An update from its JSON. Through the text: teloxide's update parser works on text only (it
/// refuses a `serde_json::Value`).
pub fn parse_update(raw: &Value) -> Result<Update, serde_json::Error> {
    serde_json::from_str(&raw.to_string())
}

/// Why a getUpdates call gave nothing.
struct PollError {
    text: String,
    /// Telegram's flood control asked for this pause.
    retry_after: Duration,
}

/// getUpdates with the updates kept as Telegram sent them (that is what the inbox records):
/// the offset past the batch, and each update raw and parsed. An update that does not parse is
/// skipped (with a log line that quotes nothing of it) but still moves the offset.
async fn get_updates_raw(
    bot: &Bot,
    offset: i32,
) -> Result<(Option<i32>, Vec<(Value, Update)>), PollError> {
    let fail = |text: String| PollError {
        text,
        retry_after: Duration::ZERO,
    };
    let mut url = bot.api_url();
    url.path_segments_mut()
        .map_err(|_| fail("the API URL cannot take a path".into()))?
        .pop_if_empty()
        .push(&format!("bot{}", bot.token()))
        .push("getUpdates");
    let body = serde_json::json!({
        "offset": offset,
        "timeout": POLL_TIMEOUT_SECS,
        "allowed_updates": ["message", "callback_query", "pre_checkout_query"],
    });
    let response = bot
        .client()
        .post(url)
        .json(&body)
        .send()
        .await
        .map_err(|e| fail(retry::describe_reqwest(&e)))?;
    let status = response.status();
    let answer: Value = response
        .json()
        .await
        .map_err(|e| fail(format!("{status}: {}", retry::describe_reqwest(&e))))?;
    if answer["ok"] != Value::Bool(true) {
        return Err(PollError {
            text: format!(
                "{status}: {}",
                answer["description"].as_str().unwrap_or("no description")
            ),
            retry_after: Duration::from_secs(
                answer["parameters"]["retry_after"]
                    .as_u64()
                    .unwrap_or(0)
                    .min(120),
            ),
        });
    }
    let raw = answer["result"].as_array().cloned().unwrap_or_default();
    let next = raw
        .iter()
        .filter_map(|u| u["update_id"].as_i64())
        .max()
        .and_then(|id| i32::try_from(id + 1).ok());
    let mut out = Vec::with_capacity(raw.len());
    for value in raw {
        match parse_update(&value) {
            Ok(update) => out.push((value, update)),
            Err(e) => {
                tracing::warn!(line = e.line(), column = e.column(), kind = ?e.classify(), "an update that does not parse was skipped");
            }
        }
    }
    Ok((next, out))
}

struct Hook {
    secret: SecretString,
    intake: Intake,
}

/// Serves the webhook on `addr` until `shutdown` resolves, then waits for accepted updates.
/// When `public_url` is given, Telegram is told to deliver there with the secret token.
pub async fn webhook(
    bot: Bot,
    intake: Intake,
    addr: SocketAddr,
    secret: SecretString,
    public_url: Option<reqwest::Url>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), TransportError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| TransportError::Bind { addr, source })?;
    webhook_on(bot, intake, listener, secret, public_url, shutdown).await
}

/// [`webhook`] on a listener already bound (tests bind port 0).
pub async fn webhook_on(
    bot: Bot,
    intake: Intake,
    listener: tokio::net::TcpListener,
    secret: SecretString,
    public_url: Option<reqwest::Url>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), TransportError> {
    let mut shutdown = Box::pin(shutdown);
    if let Some(url) = public_url {
        let set = bot
            .set_webhook(url)
            .secret_token(secret.expose_secret())
            .allowed_updates(allowed_updates());
        let set = tokio::select! {
            _ = &mut shutdown => {
                // Nothing was received; the sweeper may have queued what a dead replica left.
                intake.drain().await;
                return Ok(());
            }
            set = retry::send(set) => set,
        };
        set.map_err(|e| TransportError::SetWebhook(retry::describe(&e)))?;
    }
    let hook = Arc::new(Hook {
        secret,
        intake: intake.clone(),
    });
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .fallback(post(receive))
        .with_state(hook);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(TransportError::Serve)?;
    intake.drain().await;
    Ok(())
}

async fn receive(State(hook): State<Arc<Hook>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let given = headers
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !secret_matches(given, &hook.secret) {
        return StatusCode::UNAUTHORIZED;
    }
    let parsed = serde_json::from_slice::<Value>(&body)
        .and_then(|raw| Ok((raw.clone(), parse_update(&raw)?)));
    let update = match parsed {
        Ok(u) => u,
        Err(e) => {
            // Telegram would re-send a refused update forever; take it and say why in the log.
            // Only where it failed: serde's messages can quote the user's text.
            tracing::warn!(line = e.line(), column = e.column(), kind = ?e.classify(), "an update that does not parse was skipped");
            return StatusCode::OK;
        }
    };
    if !hook.intake.has_room() || hook.intake.lanes.is_closed() {
        // Full or shutting down: Telegram re-delivers, to another replica if there is one.
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    match hook.intake.take(vec![update]).await {
        Ok(()) => StatusCode::OK,
        Err(e) => {
            tracing::error!(error = %e, "an update was not recorded; Telegram will deliver it again");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// In constant time, so the time a guess takes says nothing about how much of it was right.
fn secret_matches(given: &[u8], secret: &SecretString) -> bool {
    given.ct_eq(secret.expose_secret().as_bytes()).into()
}

/// A webhook secret as Telegram accepts it: 1–256 characters of `A-Za-z0-9_-`.
pub fn parse_secret(raw: &str) -> Result<SecretString, SecretError> {
    let s = raw.trim();
    if s.is_empty()
        || s.len() > 256
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(SecretError);
    }
    Ok(s.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("TELEGRAM_WEBHOOK_SECRET must be 1 to 256 characters of A-Z, a-z, 0-9, _ and -")]
pub struct SecretError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_follow_telegrams_alphabet() {
        assert!(parse_secret("abc_DEF-123").is_ok());
        assert!(parse_secret("").is_err());
        assert!(parse_secret("has space").is_err());
        assert!(parse_secret(&"a".repeat(257)).is_err());
    }

    #[test]
    fn secret_comparison_needs_the_exact_token() {
        let secret = SecretString::from("s3cret");
        assert!(secret_matches(b"s3cret", &secret));
        assert!(!secret_matches(b"s3creT", &secret));
        assert!(!secret_matches(b"s3cret-longer", &secret));
        assert!(!secret_matches(b"", &secret));
    }
}
