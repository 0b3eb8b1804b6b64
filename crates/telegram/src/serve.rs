//! Running the bot: the Bot API client, the command menu, the replica's liveness lock, the
//! update lanes over the engine, the sweeper that takes over what dead replicas left, and the
//! chosen transport until shutdown (SIGTERM or Ctrl-C: stop taking updates, finish the ones in
//! progress, wait for the generations being written, then return; during startup: return at once).

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bot::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use store::delivery::UpdateId;
use teloxide::payloads::SetMyCommandsSetters;
use teloxide::requests::Requester;
use teloxide::types::{BotCommand, Update};
use teloxide::Bot;
use tokio::sync::mpsc;

use crate::app::{App, Outcome};
use crate::retry::{self, describe};
use crate::sandbox::Extractor;
use crate::shutdown::Shutdown;
use crate::transport::{self, Intake, TransportError, UpdateLanes};

/// Database connections kept free of update handling: the liveness lock, the sweeper, and
/// generations storing their letters.
pub const RESERVED_CONNECTIONS: usize = 4;

/// Pre-checkout queries answered at the same time, beside the updates.
pub const PARALLEL_PRE_CHECKOUTS: usize = 4;

/// How often the sweeper looks for what dead replicas left (it also runs at start).
pub const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// Updates handled at the same time for a pool of `connections`: each holds at most one
/// connection at a time, so they never wait for the pool.
pub fn parallel_updates(connections: u32) -> usize {
    (connections as usize)
        .saturating_sub(RESERVED_CONNECTIONS + PARALLEL_PRE_CHECKOUTS)
        .max(1)
}

/// How the bot receives updates.
#[derive(Debug, Clone)]
pub enum Mode {
    /// getUpdates long polling: one process per bot.
    Polling,
    /// An HTTP server on `addr` taking Telegram's POSTs with the secret token; any number of
    /// replicas on one database. With `public_url`, Telegram is told to deliver there.
    Webhook {
        addr: SocketAddr,
        secret: SecretString,
        public_url: Option<reqwest::Url>,
    },
}

/// What `serve` needs besides the engine. Its Debug shows no token or secret (`SecretString`).
#[derive(Debug, Clone)]
pub struct Options {
    /// TELEGRAM_BOT_TOKEN; never printed.
    pub token: SecretString,
    /// TELEGRAM_API_URL (default `https://api.telegram.org`).
    pub api_url: reqwest::Url,
    pub mode: Mode,
    /// How resume documents are read (in production: children of the `soprovod` executable,
    /// within a memory and time budget).
    pub extractor: Extractor,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("TELEGRAM_API_URL is not a usable URL: {0}")]
    ApiUrl(String),
    #[error("the webhook URL is not usable: {0}")]
    PublicUrl(String),
    #[error("the HTTP client could not be set up: {0}")]
    HttpClient(String),
    #[error("the Bot API refused the bot token or cannot be reached: {0}")]
    GetMe(String),
    #[error("the database is unreachable: {0}")]
    Database(#[from] bot::EngineError),
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// The Bot API base URL from TELEGRAM_API_URL's value (None: Telegram's own).
pub fn api_url(raw: Option<&str>) -> Result<reqwest::Url, ServeError> {
    let raw = raw
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("https://api.telegram.org");
    let url: reqwest::Url = raw
        .trim_end_matches('/')
        .parse()
        .map_err(|e| ServeError::ApiUrl(format!("{e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(ServeError::ApiUrl("it must be an http(s) URL".into()));
    }
    Ok(url)
}

/// The public webhook URL (TELEGRAM_WEBHOOK_URL); Telegram delivers only to HTTPS.
pub fn public_url(raw: &str) -> Result<reqwest::Url, ServeError> {
    let url: reqwest::Url = raw
        .trim()
        .parse()
        .map_err(|e| ServeError::PublicUrl(format!("{e}")))?;
    if url.scheme() != "https" {
        return Err(ServeError::PublicUrl(
            "Telegram delivers webhooks only to https:// URLs".into(),
        ));
    }
    Ok(url)
}

/// A Bot API client whose HTTP timeout outlasts a long poll.
pub fn make_bot(token: &str, api_url: reqwest::Url) -> Result<Bot, ServeError> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(
            u64::from(transport::POLL_TIMEOUT_SECS) + 15,
        ))
        .tcp_nodelay(true)
        .build()
        .map_err(|e| ServeError::HttpClient(e.to_string()))?;
    Ok(Bot::with_client(token, client).set_api_url(api_url))
}

/// Updates claimed from the inbox (taken over, or waiting behind one this replica finished), to
/// be queued in order.
type Claimed = mpsc::UnboundedSender<Vec<(UpdateId, Value)>>;

/// Lanes that run every update through `app`, `parallel` at a time, and settle it in the inbox;
/// the updates that waited for one go to `next`.
pub fn lanes_for(app: App, parallel: usize, next: Claimed) -> UpdateLanes {
    UpdateLanes::new(parallel, move |update: Update| {
        let app = app.clone();
        let next = next.clone();
        async move {
            let waited = app.handle_and_settle(update).await;
            if !waited.is_empty() {
                // Closed only when the bot stops; the rows stay this replica's and are taken
                // over after it.
                let _ = next.send(waited);
            }
        }
    })
}

fn stopped_before_starting() -> Result<(), ServeError> {
    tracing::info!("shutdown requested during startup; no update was taken");
    Ok(())
}

/// Queues claimed updates, oldest first; one that does not parse is done at once (and what
/// waited for it comes next).
async fn queue_claimed(app: &App, intake: &Intake, list: Vec<(UpdateId, Value)>) {
    let mut list: VecDeque<(UpdateId, Value)> = list.into();
    while let Some((id, payload)) = list.pop_front() {
        match transport::parse_update(&payload) {
            Ok(update) => intake.queue(update),
            Err(_) => {
                let waited = app.settle(id, Outcome::Done(None)).await;
                for next in waited.into_iter().rev() {
                    list.push_front(next);
                }
            }
        }
    }
}

/// Queues what the lanes claimed after settling an update.
async fn forward_claimed(
    app: App,
    intake: Intake,
    mut claimed: mpsc::UnboundedReceiver<Vec<(UpdateId, Value)>>,
) {
    while let Some(list) = claimed.recv().await {
        queue_claimed(&app, &intake, list).await;
    }
}

/// Takes over, now and every [`SWEEP_EVERY`], what replicas that died left: updates recorded and
/// not finished, generations nobody writes, letters nobody sent.
async fn sweep(app: App, intake: Intake) {
    let engine = app.engine().clone();
    let mut every = tokio::time::interval(SWEEP_EVERY);
    loop {
        every.tick().await;
        let claimed = async {
            let mut conn = engine.pool().acquire().await?;
            store::delivery::claim_orphaned_updates(&mut conn, engine.owner(), 500).await
        }
        .await;
        match claimed {
            Ok(list) => {
                if !list.is_empty() {
                    tracing::info!(updates = list.len(), "taking over unfinished updates");
                }
                queue_claimed(&app, &intake, list).await;
            }
            Err(e) => tracing::warn!(error = %e, "unfinished updates not looked for"),
        }
        app.take_over().await;
    }
}

/// Runs the bot until `shutdown` resolves and every accepted update is finished.
pub async fn serve(
    engine: Engine,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = match &options.mode {
        Mode::Polling => None,
        Mode::Webhook { addr, .. } => Some(tokio::net::TcpListener::bind(*addr).await.map_err(
            |source| TransportError::Bind {
                addr: *addr,
                source,
            },
        )?),
    };
    serve_on(engine, options, listener, shutdown).await
}

/// [`serve`] with the webhook's listener already bound (tests bind port 0); `listener` is
/// ignored in polling mode and required in webhook mode.
pub async fn serve_on(
    engine: Engine,
    options: Options,
    listener: Option<tokio::net::TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let mut shutdown = Shutdown::new(shutdown);
    let bot = make_bot(options.token.expose_secret(), options.api_url.clone())?;
    // Until the transport runs nothing is taken from Telegram, so a shutdown request ends
    // startup where it stands: every step before the transport only waits or reads.
    let Some(me) = shutdown.unless_requested(retry::send(bot.get_me())).await else {
        return stopped_before_starting();
    };
    let me = me.map_err(|e| ServeError::GetMe(describe(&e)))?;
    tracing::info!(
        bot = me.username.as_deref().unwrap_or("?"),
        "connected to the Bot API"
    );
    if shutdown
        .unless_requested(register_commands(&bot))
        .await
        .is_none()
    {
        return stopped_before_starting();
    }
    // Before anything is recorded as this replica's: while this lock is held nobody takes over.
    let Some(liveness) = shutdown.unless_requested(engine.hold_liveness()).await else {
        return stopped_before_starting();
    };
    let liveness = liveness?;
    let cleanup = tokio::spawn(forget_old_updates(engine.clone()));
    let app = App::new(bot.clone(), engine.clone(), options.extractor.clone());
    let connections = engine.pool().options().get_max_connections();
    let (next, claimed) = mpsc::unbounded_channel();
    let lanes = lanes_for(app.clone(), parallel_updates(connections), next.clone());
    let fast = lanes_for(app.clone(), PARALLEL_PRE_CHECKOUTS, next);
    let intake = Intake::new(engine.pool().clone(), engine.owner(), lanes).with_fast_lanes(fast);
    let forwarder = tokio::spawn(forward_claimed(app.clone(), intake.clone(), claimed));
    let sweeper = tokio::spawn(sweep(app.clone(), intake.clone()));
    let result = match (options.mode, listener) {
        (Mode::Polling, _) => {
            transport::poll(bot, intake, shutdown).await;
            Ok(())
        }
        (
            Mode::Webhook {
                secret, public_url, ..
            },
            Some(listener),
        ) => transport::webhook_on(bot, intake, listener, secret, public_url, shutdown).await,
        (Mode::Webhook { addr, .. }, None) => Err(TransportError::Bind {
            addr,
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "no listener given"),
        }),
    };
    sweeper.abort();
    forwarder.abort();
    tracing::info!(
        generations = app.generations().running(),
        "waiting for the letters being written"
    );
    app.generations().wait().await;
    cleanup.abort();
    drop(liveness);
    result.map_err(ServeError::from)
}

/// The command menu (`bot::commands::menu`), in Russian (also the default) or English.
pub fn commands(english: bool) -> Vec<BotCommand> {
    let lang = if english {
        bot::Lang::En
    } else {
        bot::Lang::Ru
    };
    bot::commands::menu(lang)
        .into_iter()
        .map(|(name, description)| BotCommand::new(name, description))
        .collect()
}

async fn register_commands(bot: &Bot) {
    let calls = [
        bot.set_my_commands(commands(false)),
        bot.set_my_commands(commands(false)).language_code("ru"),
        bot.set_my_commands(commands(true)).language_code("en"),
    ];
    for call in calls {
        if let Err(e) = retry::send(call).await {
            tracing::warn!(error = %describe(&e), "the command menu was not registered");
        }
    }
}

/// Telegram re-delivers an update for a day at most; older processed ids are dropped.
async fn forget_old_updates(engine: Engine) {
    let mut every = tokio::time::interval(Duration::from_secs(6 * 3600));
    loop {
        every.tick().await;
        match engine
            .forget_processed_events(chrono::Duration::days(3))
            .await
        {
            Ok(n) => tracing::debug!(forgotten = n, "old processed update ids removed"),
            Err(e) => tracing::warn!(error = %e, "old processed update ids not removed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_url_defaults_to_telegram_and_rejects_nonsense() {
        assert_eq!(api_url(None).unwrap().as_str(), "https://api.telegram.org/");
        assert_eq!(
            api_url(Some("http://127.0.0.1:8081/")).unwrap().as_str(),
            "http://127.0.0.1:8081/"
        );
        assert!(api_url(Some("ftp://x")).is_err());
        assert!(api_url(Some("not a url")).is_err());
    }

    #[test]
    fn both_menus_list_the_same_commands_within_telegrams_limits() {
        let (ru, en) = (commands(false), commands(true));
        assert_eq!(
            ru.iter().map(|c| &c.command).collect::<Vec<_>>(),
            en.iter().map(|c| &c.command).collect::<Vec<_>>()
        );
        for c in ru.iter().chain(&en) {
            assert!(
                c.command.len() <= 32
                    && c.command
                        .chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch == '_')
            );
            assert!(!c.description.is_empty() && c.description.chars().count() <= 256);
        }
    }
}
