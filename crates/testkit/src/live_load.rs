//! Bot-like traffic against a database while a migration runs, for the benchmarks that measure
//! what a schema change costs the writers and readers of a live bot.
//!
//! Three streams run every 20 ms (a new user and their first session in one transaction, a session
//! for an existing user, a read of one user's sessions), each on its own two-connection pool with
//! `lock_timeout` 3 s like the product's pools. The migration starts once every stream has done
//! its first operation; afterwards the sessions are counted again, so a lost row shows.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};
use tokio::sync::Barrier;

/// The statements of the three streams, written for the schema the benchmark starts from.
#[derive(Debug, Clone)]
pub struct Traffic {
    /// Inserts a user from `$1` (a Telegram id) and returns its id as `bigint`.
    pub new_user: &'static str,
    /// Inserts a letter session for the user `$1` (a `bigint`).
    pub new_session: &'static str,
    /// Reads something of the user `$1` (a `bigint`) and returns one `bigint`.
    pub read: &'static str,
    /// Existing users are ids 1..=users.
    pub users: i64,
}

/// What the streams saw during one migration.
#[derive(Debug, Default, Clone)]
pub struct Load {
    pub writes_ok: u64,
    pub writes_failed: u64,
    pub reads: u64,
    pub longest_write: Duration,
    pub longest_read: Duration,
    /// Sessions the writers inserted (a new user's first one included).
    pub sessions_written: i64,
    /// Sessions written but not in the table afterwards (0 unless the migration lost rows).
    pub lost: i64,
}

impl Load {
    fn add(&mut self, other: Load) {
        self.writes_ok += other.writes_ok;
        self.writes_failed += other.writes_failed;
        self.reads += other.reads;
        self.sessions_written += other.sessions_written;
        self.longest_write = self.longest_write.max(other.longest_write);
        self.longest_read = self.longest_read.max(other.longest_read);
    }

    /// One line: the waits, the statements that failed, the rows lost.
    pub fn summary(&self) -> String {
        format!(
            "longest write wait {:>7.3} s  longest read wait {:>7.3} s  writes ok/failed {}/{}  rows lost {}",
            self.longest_write.as_secs_f64(),
            self.longest_read.as_secs_f64(),
            self.writes_ok,
            self.writes_failed,
            self.lost
        )
    }
}

#[derive(Debug, Clone, Copy)]
enum Stream {
    NewUser,
    Session,
    Read,
}

async fn pool(url: &str) -> PgPool {
    let options: PgConnectOptions = url.parse().expect("a database URL");
    PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.options([("lock_timeout", "3s")]))
        .await
        .expect("connecting the traffic's pool")
}

async fn sessions(url: &str) -> i64 {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connecting");
    sqlx::query_scalar("SELECT count(*) FROM letter_sessions")
        .fetch_one(&mut conn)
        .await
        .expect("counting letter sessions")
}

async fn run_stream(
    url: String,
    traffic: Traffic,
    stream: Stream,
    ready: Arc<Barrier>,
    stop: Arc<AtomicBool>,
) -> Load {
    let pool = pool(&url).await;
    let mut out = Load::default();
    let mut first = true;
    let mut i: i64 = 0;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let t = Instant::now();
        let ok = match stream {
            Stream::NewUser => async {
                let mut tx = pool.begin().await?;
                let id: i64 = sqlx::query_scalar(traffic.new_user)
                    .bind(5_000_000_000 + i)
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query(traffic.new_session)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await
            }
            .await
            .is_ok(),
            Stream::Session => sqlx::query(traffic.new_session)
                .bind(1 + (i * 7919) % traffic.users)
                .execute(&pool)
                .await
                .is_ok(),
            Stream::Read => sqlx::query_scalar::<_, i64>(traffic.read)
                .bind(1 + (i * 104_729) % traffic.users)
                .fetch_one(&pool)
                .await
                .is_ok(),
        };
        let took = t.elapsed();
        match stream {
            Stream::Read => {
                out.reads += 1;
                out.longest_read = out.longest_read.max(took);
            }
            _ => {
                out.longest_write = out.longest_write.max(took);
                if ok {
                    out.writes_ok += 1;
                    out.sessions_written += 1;
                } else {
                    out.writes_failed += 1;
                }
            }
        }
        if first {
            first = false;
            ready.wait().await;
        }
        // Pacing of the simulated bot, not synchronisation.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    out
}

/// Runs `migrate` on `url` while the traffic runs, and returns its result with what the traffic saw.
pub async fn under_load<T, Fut>(
    url: &str,
    traffic: &Traffic,
    migrate: impl FnOnce() -> Fut,
) -> (T, Load)
where
    Fut: Future<Output = T>,
{
    let before = sessions(url).await;
    let stop = Arc::new(AtomicBool::new(false));
    let streams = [Stream::NewUser, Stream::Session, Stream::Read];
    let ready = Arc::new(Barrier::new(streams.len() + 1));
    let running: Vec<_> = streams
        .into_iter()
        .map(|s| {
            tokio::spawn(run_stream(
                url.to_string(),
                traffic.clone(),
                s,
                ready.clone(),
                stop.clone(),
            ))
        })
        .collect();
    ready.wait().await;
    let result = migrate().await;
    stop.store(true, Ordering::SeqCst);
    let mut load = Load::default();
    for r in running {
        load.add(r.await.expect("a traffic stream panicked"));
    }
    load.lost = before + load.sessions_written - sessions(url).await;
    (result, load)
}

/// A copy of `db` made from it as a template, so the same data can be migrated twice; its URL.
pub async fn template_copy(db: &crate::TestDb, admin: &mut sqlx::PgConnection) -> String {
    let copy = format!("{}_plain", db.name);
    sqlx::raw_sql(&format!(
        "CREATE DATABASE \"{copy}\" TEMPLATE \"{}\"",
        db.name
    ))
    .execute(admin)
    .await
    .expect("copying the database");
    db.url.replace(&db.name, &copy)
}
