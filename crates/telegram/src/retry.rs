//! Sending Bot API requests so that Telegram's flood control is obeyed: a 429 answer carries
//! `retry_after`, and the request is sent again only after that many seconds. Network failures
//! and server errors (5xx: Telegram did not take the request) are retried with backoff; anything
//! else is returned.

use std::future::Future;
use std::time::Duration;

use teloxide::requests::{Output, Request};
use teloxide::RequestError;

/// How many 429 answers one request waits out before giving up.
pub const MAX_FLOOD_WAITS: u32 = 5;
/// Telegram's longest sensible wait; a larger `retry_after` is a bug or an attack on our latency.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
const NETWORK_RETRIES: u32 = 3;

/// Sends `req`, waiting out 429s and retrying brief network failures.
pub async fn send<R>(req: R) -> Result<Output<R>, RequestError>
where
    R: Request<Err = RequestError>,
{
    retrying(|| req.send_ref()).await
}

/// The retry loop over any attempt; separate so it can be tested without a server.
pub async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RequestError>>,
{
    let (mut floods, mut network) = (0u32, 0u32);
    loop {
        match attempt().await {
            Err(RequestError::RetryAfter(after)) if floods < MAX_FLOOD_WAITS => {
                floods += 1;
                let wait = after.duration().min(MAX_RETRY_AFTER);
                tracing::warn!(
                    seconds = wait.as_secs(),
                    "Telegram asked to slow down (429); waiting"
                );
                tokio::time::sleep(wait).await;
            }
            Err(e) if network < NETWORK_RETRIES && is_transient(&e) => {
                network += 1;
                tracing::warn!(error = %describe(&e), attempt = network, "Bot API request failed; retrying");
                tokio::time::sleep(Duration::from_millis(250 << network)).await;
            }
            other => return other,
        }
    }
}

/// A failure worth another try: the network, or a server error (an HTML 5xx page from a proxy
/// does not parse; Telegram's own 5xx answers carry these descriptions).
pub fn is_transient(e: &RequestError) -> bool {
    match e {
        RequestError::Network(e) => !e.is_builder(),
        RequestError::InvalidJson { .. } => true,
        RequestError::Api(teloxide::ApiError::Unknown(d)) => {
            let d = d.to_ascii_lowercase();
            [
                "internal server error",
                "bad gateway",
                "service unavailable",
                "gateway timeout",
            ]
            .iter()
            .any(|s| d.contains(s))
        }
        _ => false,
    }
}

/// Telegram's answer to refunding a payment that was refunded before.
pub fn already_refunded(e: &RequestError) -> bool {
    match e {
        RequestError::Api(api) => {
            let d = api.to_string().to_ascii_uppercase();
            d.contains("CHARGE_ALREADY_REFUNDED") || d.contains("ALREADY REFUNDED")
        }
        _ => false,
    }
}

/// An error as text safe for logs: Bot API URLs carry the token (`/bot<token>/method`), and
/// reqwest puts the URL in its messages, so any token-looking path segment is masked.
pub fn describe(e: &RequestError) -> String {
    redact_token(&e.to_string())
}

/// [`describe`] for a plain reqwest error (file downloads).
pub fn describe_reqwest(e: &reqwest::Error) -> String {
    redact_token(&e.to_string())
}

/// Masks every `bot<digits>:<secret>` in `text`.
pub fn redact_token(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("bot") {
        out.push_str(&rest[..i + 3]);
        let after = &rest[i + 3..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with(':') {
            let secret = after[digits + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .map(char::len_utf8)
                .sum::<usize>();
            out.push_str("<token>");
            rest = &after[digits + 1 + secret..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_in_error_messages_are_masked() {
        let raw = "error sending request for url (http://127.0.0.1:9/bot123456:AAF7-g0_x/GetMe): connection refused";
        let safe = super::redact_token(raw);
        assert!(!safe.contains("AAF7"), "{safe}");
        assert_eq!(safe, "error sending request for url (http://127.0.0.1:9/bot<token>/GetMe): connection refused");
        assert_eq!(super::redact_token("robot 5 bots: ok"), "robot 5 bots: ok");
    }

    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use teloxide::types::Seconds;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn a_429_is_retried_after_exactly_the_time_telegram_asked_for() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let out = retrying(|| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(RequestError::RetryAfter(Seconds::from_seconds(7)))
                } else {
                    Ok(n)
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(out, 2);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(started.elapsed().as_secs(), 14);
    }

    #[tokio::test(start_paused = true)]
    async fn endless_flood_control_gives_up_with_the_429() {
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = retrying(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(RequestError::RetryAfter(Seconds::from_seconds(1))) }
        })
        .await;
        assert!(matches!(out, Err(RequestError::RetryAfter(_))));
        assert_eq!(calls.load(Ordering::SeqCst), MAX_FLOOD_WAITS + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn server_errors_are_retried_with_backoff_then_returned() {
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = retrying(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            async {
                Err(RequestError::Api(teloxide::ApiError::Unknown(
                    "Internal Server Error".into(),
                )))
            }
        })
        .await;
        assert!(matches!(out, Err(RequestError::Api(_))));
        assert_eq!(calls.load(Ordering::SeqCst), NETWORK_RETRIES + 1);
    }

    #[test]
    fn telegrams_already_refunded_answer_is_recognised() {
        let e = RequestError::Api(teloxide::ApiError::Unknown(
            "Bad Request: CHARGE_ALREADY_REFUNDED".into(),
        ));
        assert!(already_refunded(&e));
        assert!(!already_refunded(&RequestError::Api(
            teloxide::ApiError::BotBlocked
        )));
    }

    #[tokio::test(start_paused = true)]
    async fn other_api_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = retrying(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(RequestError::Api(teloxide::ApiError::BotBlocked)) }
        })
        .await;
        assert!(matches!(out, Err(RequestError::Api(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
