//! Benchmark of the v9.5 migration on a database the bot is writing to: the old production schema
//! (`testkit::old_prod`) at N users and 5·N letter sessions is brought to the declared schema while
//! two writers insert users and letter sessions the way the bot does and a reader reads sessions.
//! It prints, for the engine's apply (locks up front, one transaction, retries) and for the plain
//! path (the same statements one by one in autocommit, as the seed's psql stages ran them): apply
//! time, retries, the longest writer and reader waits, failed statements, and whether any row was
//! lost.
//!
//! Run: `cargo bench -p store --bench live_apply` (optional argument: N users, default 1,000,000).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{Connection, PgPool};
use tokio::sync::Barrier;

/// Rows on top of the schema: N users, 5·N sessions, and the other tables in proportion.
fn rows(n: i64) -> String {
    format!(
        r#"
INSERT INTO users (telegram_user_id, username, language_code, total_generations, created_at, updated_at)
SELECT 1000000000 + g, 'user' || g, CASE WHEN g % 3 = 0 THEN 'en' ELSE 'ru' END, g % 7,
       now() - (g % 400) * interval '1 day', now() - (g % 30) * interval '1 day'
FROM generate_series(1, {n}) g;
INSERT INTO letter_sessions (user_id, status, job_description, resume_text, generated_letter, generation_time_seconds, model_used, created_at)
SELECT 1 + g % {n}, (ARRAY['started', 'generating', 'completed', 'failed', 'abandoned'])[1 + g % 5],
       'job ' || g, 'resume ' || g, 'letter ' || g, g % 90, CASE WHEN g % 2 = 0 THEN 'gpt-4o' ELSE 'gpt-4o-mini' END,
       now() - (g % 365) * interval '1 day'
FROM generate_series(1, {sessions}) g;
INSERT INTO subscriptions (user_id, plan_type, status, letters_used, period_end)
SELECT g, CASE WHEN g % 10 = 0 THEN 'premium' ELSE 'free' END, 'active', g % 3, NULL
FROM generate_series(1, {n}) g;
INSERT INTO acquisition_channels (user_id, utm_source)
SELECT g, CASE WHEN g % 4 = 0 THEN 'habr' END FROM generate_series(1, {n} * 8 / 10) g;
INSERT INTO payments (user_id, provider, provider_payment_id, amount_minor, currency, status)
SELECT g * 10, 'telegram_stars', 'charge-' || g, 150, 'XTR', 'succeeded' FROM generate_series(1, {n} / 10) g;
ANALYZE;
"#,
        sessions = n * 5
    )
}

/// What the load saw during one migration.
#[derive(Debug, Default)]
struct Load {
    writes_ok: u64,
    writes_failed: u64,
    reads: u64,
    longest_write: Duration,
    longest_read: Duration,
    sessions_written: i64,
}

/// A pool opened the way the product opens it (lock_timeout on every connection).
async fn product_pool(url: &str) -> PgPool {
    store::connect(url, 2).await.expect("connecting")
}

/// One stream of bot-like traffic.
#[derive(Debug, Clone, Copy)]
enum Stream {
    /// A new user and their first session, in one transaction.
    NewUser,
    /// A session for an existing user (its foreign-key check reads `users`).
    Session,
    /// A read of one user's sessions.
    Read,
}

/// Runs `stream` every 20 ms until `stop`; reaches `ready` after its first operation.
async fn load(
    url: String,
    n: i64,
    stream: Stream,
    ready: Arc<Barrier>,
    stop: Arc<AtomicBool>,
) -> Load {
    let pool = product_pool(&url).await;
    let mut out = Load::default();
    let mut first = true;
    let mut i: i64 = 0;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let t = Instant::now();
        let ok = match stream {
            Stream::NewUser => async {
                let mut tx = pool.begin().await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO users (telegram_user_id, username) VALUES ($1, 'live') RETURNING id",
                )
                .bind(5_000_000_000 + i)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query("INSERT INTO letter_sessions (user_id, status) VALUES ($1, 'started')")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await
            }
            .await
            .is_ok(),
            Stream::Session => sqlx::query(
                "INSERT INTO letter_sessions (user_id, status) VALUES ($1, 'started')",
            )
            .bind(1 + (i * 7919) % n)
            .execute(&pool)
            .await
            .is_ok(),
            Stream::Read => sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM letter_sessions WHERE user_id = $1",
            )
            .bind(1 + (i * 104_729) % n)
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

struct Outcome {
    elapsed: Duration,
    retries: u32,
    error: Option<String>,
    load: Load,
    lost: i64,
}

async fn sessions(url: &str) -> i64 {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar("SELECT count(*) FROM letter_sessions")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// Runs `migrate` on `url` under load and says what happened.
async fn under_load<F, Fut>(url: &str, n: i64, migrate: F) -> Outcome
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = (Duration, u32, Option<String>)>,
{
    let before = sessions(url).await;
    let stop = Arc::new(AtomicBool::new(false));
    let streams = [Stream::NewUser, Stream::Session, Stream::Read];
    let ready = Arc::new(Barrier::new(streams.len() + 1));
    let traffic: Vec<_> = streams
        .into_iter()
        .map(|s| tokio::spawn(load(url.to_string(), n, s, ready.clone(), stop.clone())))
        .collect();
    ready.wait().await;
    let (elapsed, retries, error) = migrate().await;
    stop.store(true, Ordering::SeqCst);
    let mut load = Load::default();
    for t in traffic {
        let l = t.await.unwrap();
        load.writes_ok += l.writes_ok;
        load.writes_failed += l.writes_failed;
        load.reads += l.reads;
        load.sessions_written += l.sessions_written;
        load.longest_write = load.longest_write.max(l.longest_write);
        load.longest_read = load.longest_read.max(l.longest_read);
    }
    let after = sessions(url).await;
    Outcome {
        elapsed,
        retries,
        error,
        lost: before + load.sessions_written - after,
        load,
    }
}

fn print(label: &str, o: &Outcome) {
    println!(
        "{label:<44} apply {:>7.2} s  retries {:>2}  longest write wait {:>7.3} s  longest read wait {:>7.3} s  writes ok/failed {}/{}  rows lost {}{}",
        o.elapsed.as_secs_f64(),
        o.retries,
        o.load.longest_write.as_secs_f64(),
        o.load.longest_read.as_secs_f64(),
        o.load.writes_ok,
        o.load.writes_failed,
        o.lost,
        o.error.as_ref().map(|e| format!("  FAILED: {e}")).unwrap_or_default()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let n: i64 = std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let db = testkit::empty_db().await;
    let t = Instant::now();
    let mut conn = db.connect().await;
    sqlx::raw_sql(testkit::old_prod::SCHEMA)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::raw_sql(&rows(n)).execute(&mut conn).await.unwrap();
    drop(conn);
    // The plain path runs on an identical copy (a template copy needs no open connection to it).
    let admin_db = testkit::empty_db().await;
    let mut admin = admin_db.connect().await;
    let copy = format!("{}_plain", db.name);
    sqlx::raw_sql(&format!(
        "CREATE DATABASE \"{copy}\" TEMPLATE \"{}\"",
        db.name
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let plain_url = db.url.replace(&db.name, &copy);
    println!(
        "old production schema with {n} users and {} letter sessions, two copies, built in {:.0} s",
        n * 5,
        t.elapsed().as_secs_f64()
    );

    let target = schema::Target::Sql(store::declared_sql());
    let from = schema::introspect_url(&db.url).await.unwrap();
    let mut to = schema::load_target(&db.url, &target).await.unwrap();
    schema::reconcile_url(&db.url, &from, &mut to)
        .await
        .unwrap();
    let plan = schema::plan(&from, &to, target.compare_options());
    println!("plan: {} steps", plan.steps.len());

    let ours = under_load(&db.url, n, || async {
        let options = schema::ApplyOptions {
            lock_timeout: Duration::from_secs(2),
            retries: 10,
            compare: target.compare_options(),
        };
        let t = Instant::now();
        match schema::apply(&db.url, &from, &plan, &to, options, &mut |_| {}).await {
            Ok(r) => (t.elapsed(), r.retries, None),
            Err(e) => (t.elapsed(), 0, Some(e.to_string())),
        }
    })
    .await;

    let steps: Vec<String> = plan.steps.iter().map(|s| s.sql.clone()).collect();
    let plain_run = under_load(&plain_url, n, || async {
        let t = Instant::now();
        let mut conn = sqlx::PgConnection::connect(&plain_url).await.unwrap();
        for sql in &steps {
            if let Err(e) = sqlx::raw_sql(sql).execute(&mut conn).await {
                return (t.elapsed(), 0, Some(e.to_string()));
            }
        }
        (t.elapsed(), 0, None)
    })
    .await;

    println!(
        "v9.5 to the declared schema under load (new user + session, session, read: every 20 ms):"
    );
    print("engine: locks up front, one transaction", &ours);
    print("plain: each statement autocommit", &plain_run);
}
