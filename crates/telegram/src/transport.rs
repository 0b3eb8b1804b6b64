//! Where updates come from: long polling (`getUpdates`) or a webhook (an axum server that checks
//! Telegram's secret-token header, so several replicas can run behind one load balancer). Both
//! hand updates to the per-user lanes and, on shutdown, stop taking updates and wait for the
//! lanes to finish what they accepted.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use teloxide::payloads::{GetUpdatesSetters, SetWebhookSetters};
use teloxide::requests::Requester;
use teloxide::types::{AllowedUpdate, Update};
use teloxide::Bot;

use crate::lanes::{Closed, Lanes};
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
}

/// The update lanes of a running bot.
pub type UpdateLanes = Lanes<LaneKey, Update>;

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
/// confirms the last offset, so a restart does not get the same updates again.
pub async fn poll(bot: Bot, lanes: UpdateLanes, shutdown: impl Future<Output = ()>) {
    // A webhook left over from webhook mode would make every getUpdates fail with 409.
    if let Err(e) = retry::send(bot.delete_webhook()).await {
        tracing::warn!(error = %retry::describe(&e), "could not remove a webhook before polling");
    }
    tokio::pin!(shutdown);
    let mut offset: i32 = 0;
    let mut failures: u32 = 0;
    loop {
        let request = bot
            .get_updates()
            .offset(offset)
            .timeout(POLL_TIMEOUT_SECS)
            .allowed_updates(allowed_updates());
        let answer = tokio::select! {
            _ = &mut shutdown => break,
            a = retry::send(request) => a,
        };
        match answer {
            Ok(updates) => {
                failures = 0;
                for update in updates {
                    offset = offset.max(update.id.0 as i32 + 1);
                    let key = LaneKey::of(&update);
                    if lanes.submit(key, update).is_err() {
                        break;
                    }
                }
            }
            Err(e) => {
                failures += 1;
                let wait = Duration::from_millis(500 * u64::from(failures.min(10)));
                tracing::warn!(error = %retry::describe(&e), wait_ms = wait.as_millis() as u64, "getUpdates failed");
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
    tracing::info!(
        in_flight = lanes.in_flight(),
        "stopping: finishing the updates in progress"
    );
    lanes.drain().await;
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

struct Hook {
    secret: String,
    lanes: UpdateLanes,
}

/// Serves the webhook on `addr` until `shutdown` resolves, then waits for accepted updates.
/// When `public_url` is given, Telegram is told to deliver there with the secret token.
pub async fn webhook(
    bot: Bot,
    lanes: UpdateLanes,
    addr: SocketAddr,
    secret: String,
    public_url: Option<reqwest::Url>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), TransportError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| TransportError::Bind { addr, source })?;
    webhook_on(bot, lanes, listener, secret, public_url, shutdown).await
}

/// [`webhook`] on a listener already bound (tests bind port 0).
pub async fn webhook_on(
    bot: Bot,
    lanes: UpdateLanes,
    listener: tokio::net::TcpListener,
    secret: String,
    public_url: Option<reqwest::Url>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), TransportError> {
    if let Some(url) = public_url {
        let set = bot
            .set_webhook(url)
            .secret_token(secret.clone())
            .allowed_updates(allowed_updates());
        retry::send(set)
            .await
            .map_err(|e| TransportError::SetWebhook(retry::describe(&e)))?;
    }
    let hook = Arc::new(Hook {
        secret,
        lanes: lanes.clone(),
    });
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .fallback(post(receive))
        .with_state(hook);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(TransportError::Serve)?;
    tracing::info!(
        in_flight = lanes.in_flight(),
        "stopping: finishing the updates in progress"
    );
    lanes.drain().await;
    Ok(())
}

async fn receive(State(hook): State<Arc<Hook>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let given = headers
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !constant_time_eq(given, hook.secret.as_bytes()) {
        return StatusCode::UNAUTHORIZED;
    }
    let update: Update = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            // Telegram would re-send a refused update forever; take it and say why in the log.
            // Only where it failed: serde's messages can quote the user's text.
            tracing::warn!(line = e.line(), column = e.column(), kind = ?e.classify(), "an update that does not parse was skipped");
            return StatusCode::OK;
        }
    };
    let key = LaneKey::of(&update);
    match hook.lanes.submit(key, update) {
        Ok(()) => StatusCode::OK,
        // Shutting down: Telegram re-delivers, to another replica if there is one.
        Err(Closed) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A webhook secret as Telegram accepts it: 1–256 characters of `A-Za-z0-9_-`.
pub fn parse_secret(raw: &str) -> Result<String, SecretError> {
    let s = raw.trim();
    if s.is_empty()
        || s.len() > 256
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(SecretError);
    }
    Ok(s.to_string())
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
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3creT"));
        assert!(!constant_time_eq(b"s3cret", b"s3cret-longer"));
    }
}
