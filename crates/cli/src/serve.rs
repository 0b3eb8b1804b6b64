//! `soprovod serve`: the Telegram bot on the engine and the database, by long polling or, with
//! `--webhook ADDR`, as one of any number of webhook replicas sharing the database.

use std::net::SocketAddr;

use anyhow::Context;
use bot::Engine;

use crate::dbsource::DbSource;
use crate::settings::Settings;
use crate::Outcome;

/// Database connections of one bot process: enough for the parallel updates, each of which
/// holds at most one at a time.
const POOL_SIZE: u32 = 20;

/// Run the Telegram bot (TELEGRAM_BOT_TOKEN required).
///
/// Long polling by default. With --webhook, an HTTP server takes Telegram's updates instead, and
/// checks the X-Telegram-Bot-Api-Secret-Token header against TELEGRAM_WEBHOOK_SECRET: run several
/// replicas behind a load balancer on one database, each update is processed once. SIGTERM or
/// Ctrl-C stops taking updates, finishes the ones in progress (letters being written included),
/// then exits 0; during startup it stops the start and exits 0 without taking an update.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Webhook mode: listen on this address (e.g. 0.0.0.0:8080) for Telegram's POSTs; GET /health
    /// answers "ok" for load balancers.
    #[arg(long, value_name = "ADDR")]
    webhook: Option<SocketAddr>,

    /// With --webhook: the public HTTPS URL Telegram should deliver to; the bot registers it
    /// with setWebhook and the secret at start. Without it, register the webhook yourself.
    /// TELEGRAM_WEBHOOK_URL is used when the flag is not given.
    #[arg(long, value_name = "URL", requires = "webhook")]
    webhook_url: Option<String>,
}

pub async fn run(
    args: ServeArgs,
    source: &DbSource,
    settings: Settings,
) -> anyhow::Result<Outcome> {
    // First, before anything is connected: a SIGTERM while starting stops the start cleanly
    // instead of killing the process with the signal's default action.
    let mut shutdown =
        telegram::Shutdown::on_signals().context("installing the SIGTERM and Ctrl-C handlers")?;
    let tg = settings.telegram;
    let token = tg
        .token
        .context("TELEGRAM_BOT_TOKEN is not set (the token @BotFather gave the bot)")?;
    let api_url = tg.api_url;
    let mode = match args.webhook {
        None => telegram::Mode::Polling,
        Some(addr) => {
            let secret = tg
                .webhook_secret
                .context("--webhook needs TELEGRAM_WEBHOOK_SECRET (the secret token Telegram sends with each update)")?;
            let public_url = match args
                .webhook_url
                .or(tg.webhook_url)
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
            {
                Some(u) => Some(telegram::serve::public_url(u)?),
                None => None,
            };
            telegram::Mode::Webhook {
                addr,
                secret,
                public_url,
            }
        }
    };
    let (config, llm_settings) = (settings.bot, settings.llm);
    // Each step either waits (the embedded cluster's start runs to its end on its own thread),
    // reads, or writes in one transaction (the schema), so it can be left where it stands.
    let database = async {
        let url = source.ensure_url().await?;
        let pool = store::connect(&url, POOL_SIZE)
            .await
            .context("connecting to the database")?;
        crate::dbsource::ensure_product_schema(&pool).await?;
        anyhow::Ok(pool)
    };
    let Some(pool) = shutdown.unless_requested(database).await else {
        eprintln!("soprovod serve: stopped before it started");
        return Ok(Outcome::Ok);
    };
    let pool = pool?;
    let writer = llm::Writer::from_settings(llm_settings);
    if writer.is_offline() {
        eprintln!(
            "OPENAI_API_KEY is not set: letters come from the offline composer, labelled as drafts"
        );
    }
    let engine = Engine::new(pool, writer, config);
    match &mode {
        telegram::Mode::Polling => {
            eprintln!("soprovod serve: long polling; SIGTERM or Ctrl-C to stop")
        }
        telegram::Mode::Webhook { addr, .. } => {
            eprintln!("soprovod serve: webhook on {addr}; SIGTERM or Ctrl-C to stop")
        }
    }
    let options = telegram::Options {
        token,
        api_url,
        mode,
        extractor: telegram::sandbox::Extractor::this_executable()
            .context("finding the soprovod executable (documents are read by a child of it)")?,
    };
    telegram::serve(engine, options, shutdown)
        .await
        .context("running the Telegram bot")?;
    eprintln!("soprovod serve: stopped");
    Ok(Outcome::Ok)
}
