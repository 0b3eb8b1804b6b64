//! `soprovod`: the command-line entry point (database, analytics, chat, bot).

mod analytics;
mod chat;
mod db;
mod dbsource;
mod report;
mod report_html;
mod serve;
mod settings;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Soprovod: cover letters from a vacancy and a resume, and the tooling that keeps its
/// PostgreSQL database honest.
#[derive(Debug, Parser)]
#[command(name = "soprovod", version, about, long_about = None)]
pub struct Cli {
    /// PostgreSQL URL. Overrides DATABASE_URL; without either, the embedded local database is used.
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The database: start, stop, plan, apply, diff, verify.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Operator reports: cohorts, users, sessions, usage, activity, retention.
    #[command(subcommand)]
    Analytics(analytics::AnalyticsCommand),
    /// The cover-letter conversation in the terminal: same engine and database as the bot.
    Chat(chat::ChatArgs),
    /// The Telegram bot: long polling, or `--webhook ADDR` for webhook replicas.
    Serve(serve::ServeArgs),
}

/// How a command ended, as the process exit code of the contract (cli.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: done, or nothing to do, or no drift.
    Ok,
    /// 1: refused, or drift found.
    Refused,
}

fn main() -> ExitCode {
    // `serve` reads documents in children of this executable (see telegram::sandbox): such a
    // child does only that, before any runtime, thread or configuration exists.
    let mut args = std::env::args();
    if args.nth(1).as_deref() == Some(telegram::sandbox::CHILD_ARG) {
        let kind = args.next().unwrap_or_default();
        return ExitCode::from(telegram::sandbox::child_main(&kind));
    }
    // A .env file in the working directory may carry DATABASE_URL and friends.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    // The one read of the environment; a bad value stops here, before anything starts.
    let settings = match settings::Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}", report::render(&e));
            return ExitCode::from(2);
        }
    };
    init_logging(settings.log.as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli, settings)) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Refused) => ExitCode::from(1),
        Err(e) => {
            eprintln!("{}", report::render(&e));
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli, settings: settings::Settings) -> anyhow::Result<Outcome> {
    let source = dbsource::DbSource::resolve(cli.database_url.as_deref(), &settings)?;
    match cli.command {
        Command::Db(cmd) => db::run(cmd, &source, &settings.data_dir).await,
        Command::Chat(args) => chat::run(args, &source, settings).await,
        Command::Serve(args) => serve::run(args, &source, settings).await,
        Command::Analytics(cmd) => analytics::run(cmd, &source).await,
    }
}

/// Logs to stderr, filtered by SOPROVOD_LOG (tracing's `EnvFilter` syntax; default `warn`).
fn init_logging(filter: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = filter
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person: a log file or a test reads `update_id=7` as written.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
