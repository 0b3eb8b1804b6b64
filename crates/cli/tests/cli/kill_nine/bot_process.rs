//! `soprovod serve` as a real child process on the test doubles (fake Bot API, LLM double) and a
//! fresh database, so a crash is a real `kill -9`: the kernel ends the process and closes its
//! sockets, PostgreSQL ends its sessions. Shared by the kill tests and the chaos benchmark.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use sqlx::PgPool;
use testkit::doubles::bot_api::FakeBotApi;
use testkit::doubles::llm::LlmDouble;
use testkit::TestDb;
use tokio::process::{Child, Command};

/// The secret token of webhook mode.
pub const SECRET: &str = "kill-nine-webhook-secret";

/// The fake services, the database, and how the bot process is started.
pub struct World {
    pub api: FakeBotApi,
    pub llm: LlmDouble,
    pub db: TestDb,
    pub pool: PgPool,
    dir: tempfile::TempDir,
    /// Webhook mode: the local port every process of this world listens on.
    webhook_port: Option<u16>,
    /// Extra environment of every process (e.g. ADMIN_TELEGRAM_IDS).
    env: Vec<(String, String)>,
    started: std::sync::atomic::AtomicUsize,
}

/// One `soprovod serve` process.
pub struct Serve {
    child: Child,
    pub log: PathBuf,
}

impl Serve {
    /// `kill -9`: SIGKILL, then reaped.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("SIGKILL to soprovod serve");
    }

    /// SIGTERM, as an operator stops it: it finishes what it took and exits 0.
    pub async fn stop(self) {
        let (status, log) = self.terminate().await;
        assert_eq!(
            status.code(),
            Some(0),
            "soprovod serve exited badly; its log:\n{log}"
        );
    }

    /// SIGTERM; how the process ended (a code, or the signal that ended it) and its log.
    pub async fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().expect("the process is running") as i32;
        // The child this harness started and has not reaped.
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("SIGTERM to soprovod serve");
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("soprovod serve did not stop on SIGTERM")
            .unwrap();
        (
            status,
            std::fs::read_to_string(&self.log).unwrap_or_default(),
        )
    }

    /// Whether it is still running (it did not exit on an error at start).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl World {
    /// A world whose bot takes updates by long polling.
    pub async fn polling() -> Self {
        Self::new(None).await
    }

    /// A world whose bot is a webhook on a fixed local port; the fake Bot API delivers there.
    pub async fn webhook() -> Self {
        // A port the kernel had free; every process of this world listens on it in turn.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let w = Self::new(Some(port)).await;
        w.api
            .deliver_to(&format!("http://127.0.0.1:{port}/telegram"), Some(SECRET));
        w
    }

    /// A world whose bot polls a database nothing was created in yet (the bot creates the
    /// declared schema when it starts).
    pub async fn polling_on_an_empty_database() -> Self {
        Self::on(None, testkit::empty_db().await).await
    }

    async fn new(webhook_port: Option<u16>) -> Self {
        let db = testkit::db_with("declared", &store::declared_sql()).await;
        Self::on(webhook_port, db).await
    }

    async fn on(webhook_port: Option<u16>, db: TestDb) -> Self {
        let pool = db.pool().await;
        Self {
            api: FakeBotApi::start().await,
            llm: LlmDouble::start().await,
            db,
            pool,
            dir: tempfile::tempdir().unwrap(),
            webhook_port,
            env: Vec::new(),
            started: Default::default(),
        }
    }

    /// Whether the processes of this world take updates through the webhook.
    pub fn is_webhook(&self) -> bool {
        self.webhook_port.is_some()
    }

    /// Sets `name` in the environment of every process started from now on.
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.env.push((name.into(), value.into()));
    }

    /// Starts a `soprovod serve` process.
    pub fn start(&self) -> Serve {
        let n = self
            .started
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let log = self.dir.path().join(format!("serve-{n}.log"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_soprovod"));
        cmd.arg("serve");
        if let Some(port) = self.webhook_port {
            cmd.args(["--webhook", &format!("127.0.0.1:{port}")])
                .env("TELEGRAM_WEBHOOK_SECRET", SECRET);
        }
        cmd.env("DATABASE_URL", &self.db.url)
            .env("TELEGRAM_BOT_TOKEN", &self.api.token)
            .env("TELEGRAM_API_URL", self.api.url_for_process(n))
            .env("OPENAI_API_KEY", "sk-test-not-a-secret")
            .env("OPENAI_BASE_URL", self.llm.base_url())
            // The double answers every model; no fallback, and the letter checks belong to the
            // llm crate's tests (they would rewrite the double's numbered letters).
            .env("OPENAI_FALLBACK_MODEL", "none")
            .env("OPENAI_CHECK_LETTERS", "off")
            .env("SOPROVOD_LOG", "info")
            .env("SOPROVOD_DATA_DIR", self.dir.path())
            .env_remove("TELEGRAM_WEBHOOK_URL")
            .env_remove("ADMIN_TELEGRAM_IDS")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        Serve {
            child: cmd.spawn().expect("starting soprovod serve"),
            log,
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

    /// Letters counted in the user's active plan row.
    pub async fn letters_used(&self, telegram_id: i64) -> i64 {
        sqlx::query_scalar::<_, i32>(
            "SELECT s.letters_used FROM subscriptions s JOIN users u ON u.id = s.user_id
             WHERE u.telegram_user_id = $1 AND s.status = 'active'",
        )
        .bind(telegram_id)
        .fetch_one(&self.pool)
        .await
        .map(i64::from)
        .unwrap()
    }
}
