//! Runs the whole bot (`telegram::serve_on`) against the fake Bot API, the LLM double and a
//! fresh PostgreSQL database with the declared schema, and reads back what it stored.
//!
//! Each bot "process" runs on a runtime of its own with its own connection pool, as a process
//! would. (Crashes are tested on the real process: the cli tests' `kill_nine`.)

#![allow(dead_code)]

use std::sync::Arc;

use bot::{Config, Engine};
use chrono::{TimeZone, Utc};
use domain::FakeClock;
use sqlx::PgPool;
use telegram::{Mode, Options, ServeError};
use testkit::TestDb;
use tokio::sync::oneshot;

use testkit::doubles::bot_api::FakeBotApi;
use testkit::doubles::llm::LlmDouble;

pub use testkit::doubles::texts::{RESUME, VACANCY};

/// A test world: fake Telegram, fake LLM, real database.
pub struct World {
    pub api: FakeBotApi,
    pub llm: LlmDouble,
    pub db: TestDb,
    pub pool: PgPool,
    pub clock: Arc<FakeClock>,
    /// Database connections each bot process gets.
    pub connections: u32,
}

/// A bot process in the test: stop it like SIGTERM would.
pub struct RunningBot {
    stop: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<Result<(), ServeError>>>,
    runtime: Option<tokio::runtime::Runtime>,
    /// The webhook URL in webhook mode.
    pub webhook_url: Option<String>,
}

impl RunningBot {
    /// Graceful stop: returns once every accepted update has been handled.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(done) = self.done.take() {
            done.await
                .expect("the bot task panicked")
                .expect("the bot stopped with an error");
        }
    }

    /// Whether the bot has stopped by itself (an error at startup).
    pub fn has_ended(&mut self) -> bool {
        self.done
            .as_mut()
            .is_some_and(|d| !matches!(d.try_recv(), Err(oneshot::error::TryRecvError::Empty)))
    }
}

impl Drop for RunningBot {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl World {
    pub async fn new() -> Self {
        Self::with_pool_size(10).await
    }

    /// A world whose bot gets `connections` database connections.
    pub async fn with_pool_size(connections: u32) -> Self {
        // SOPROVOD_LOG=debug shows the bot's log in a failing test's output.
        if let Ok(filter) = std::env::var("SOPROVOD_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        let db = testkit::db_with("declared", &store::declared_sql()).await;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(connections)
            .connect(&db.url)
            .await
            .unwrap();
        let api = FakeBotApi::start().await;
        let llm = LlmDouble::start().await;
        let clock = Arc::new(FakeClock::at(
            Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).unwrap(),
        ));
        Self {
            api,
            llm,
            db,
            pool,
            clock,
            connections,
        }
    }

    pub fn config(&self) -> Config {
        Config::default()
    }

    /// An engine on this world's database, LLM double and clock.
    pub fn engine(&self, config: Config) -> Engine {
        self.engine_on(self.pool.clone(), config)
    }

    /// An engine on its own `pool`.
    pub fn engine_on(&self, pool: PgPool, config: Config) -> Engine {
        Engine::with_clock(
            pool,
            llm::Writer::from_settings(llm_settings(&self.llm.base_url())),
            config,
            self.clock.clone(),
        )
    }

    fn options(&self, mode: Mode) -> Options {
        Options {
            token: self.api.token.clone().into(),
            api_url: telegram::serve::api_url(Some(&self.api.url())).unwrap(),
            mode,
            extractor: telegram::sandbox::Extractor::child(
                env!("CARGO_BIN_EXE_soprovod-extract"),
                Vec::new(),
            ),
        }
    }

    /// Starts the bot with long polling.
    pub async fn start_polling(&self, config: Config) -> RunningBot {
        let options = self.options(Mode::Polling);
        self.start(config, options, None)
    }

    /// Starts a webhook replica on a free local port with `secret`.
    pub async fn start_webhook(&self, config: Config, secret: &str) -> RunningBot {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let options = self.options(Mode::Webhook {
            addr,
            secret: secret.into(),
            public_url: None,
        });
        let mut bot = self.start(config, options, Some(listener));
        bot.webhook_url = Some(format!("http://{addr}/telegram"));
        bot
    }

    /// A bot process: its own runtime, its own pool, `serve_on` until stopped.
    fn start(
        &self,
        config: Config,
        options: Options,
        listener: Option<std::net::TcpListener>,
    ) -> RunningBot {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            // The throughput bench tells the bot's CPU time from its own by this name.
            .thread_name("bot-worker")
            .enable_all()
            .build()
            .unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let (done_tx, done) = oneshot::channel();
        let url = self.db.url.clone();
        let connections = self.connections;
        let engine_for = {
            let base = self.llm.base_url();
            let clock = self.clock.clone();
            move |pool: PgPool| {
                Engine::with_clock(
                    pool,
                    llm::Writer::from_settings(llm_settings(&base)),
                    config,
                    clock,
                )
            }
        };
        runtime.spawn(async move {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(connections)
                .connect(&url)
                .await
                .unwrap();
            let listener = listener.map(|l| tokio::net::TcpListener::from_std(l).unwrap());
            let result = telegram::serve_on(engine_for(pool), options, listener, async move {
                let _ = stopped.await;
            })
            .await;
            let _ = done_tx.send(result);
        });
        RunningBot {
            stop: Some(stop),
            done: Some(done),
            runtime: Some(runtime),
            webhook_url: None,
        }
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The internal id of the user with this Telegram id.
    pub async fn user_id(&self, telegram_id: i64) -> i64 {
        sqlx::query_scalar("SELECT id FROM users WHERE telegram_user_id = $1")
            .bind(telegram_id)
            .fetch_one(&self.pool)
            .await
            .expect("the user row")
    }
}

/// The LLM settings of every engine here: the double at `base`, no fallback model, and no letter
/// checks (the transport is tested here; the letter checks are tested in the llm crate).
fn llm_settings(base: &str) -> llm::Settings {
    llm::Settings::from_lookup(|name| match name {
        "OPENAI_API_KEY" => Some("sk-test-not-a-secret".into()),
        "OPENAI_BASE_URL" => Some(base.to_string()),
        "OPENAI_FALLBACK_MODEL" => Some("none".into()),
        "OPENAI_CHECK_LETTERS" => Some("off".into()),
        _ => None,
    })
    .unwrap()
}
