//! Benchmark of the v9.5 migration on a database the bot is writing to: the old production schema
//! (`testkit::old_prod`) at N users and 5·N letter sessions is brought to the declared schema while
//! two writers insert users and letter sessions the way the bot does and a reader reads sessions.
//! It prints, for the engine's apply (locks up front, one transaction, retries) and for the plain
//! path (the same statements one by one in autocommit, as the seed's psql stages ran them): apply
//! time, retries, the longest writer and reader waits, failed statements, and whether any row was
//! lost.
//!
//! Run: `cargo bench -p store --bench live_apply` (optional argument: N users, default 1,000,000).

use std::time::{Duration, Instant};

use sqlx::Connection;
use testkit::live_load::{template_copy, under_load, Load, Traffic};

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

/// The bot's traffic, in the old production schema's columns.
fn traffic(users: i64) -> Traffic {
    Traffic {
        new_user: "INSERT INTO users (telegram_user_id, username) VALUES ($1, 'live') RETURNING id",
        new_session: "INSERT INTO letter_sessions (user_id, status) VALUES ($1, 'started')",
        read: "SELECT count(*) FROM letter_sessions WHERE user_id = $1",
        users,
    }
}

struct Outcome {
    elapsed: Duration,
    retries: u32,
    error: Option<String>,
}

impl Outcome {
    fn new(started: Instant, retries: u32, error: Option<String>) -> Self {
        Outcome {
            elapsed: started.elapsed(),
            retries,
            error,
        }
    }
}

fn print(label: &str, (o, load): &(Outcome, Load)) {
    println!(
        "{label:<44} apply {:>7.2} s  retries {:>2}  {}{}",
        o.elapsed.as_secs_f64(),
        o.retries,
        load.summary(),
        o.error
            .as_ref()
            .map(|e| format!("  FAILED: {e}"))
            .unwrap_or_default()
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
    let plain_url = template_copy(&db, &mut admin).await;
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

    let ours = under_load(&db.url, &traffic(n), || async {
        let options = schema::ApplyOptions {
            lock_timeout: Duration::from_secs(2),
            retries: 10,
            compare: target.compare_options(),
        };
        let t = Instant::now();
        match schema::apply(&db.url, &from, &plan, &to, options, &mut |_| {}).await {
            Ok(r) => Outcome::new(t, r.retries, None),
            Err(e) => Outcome::new(t, 0, Some(e.to_string())),
        }
    })
    .await;

    let steps: Vec<String> = plan.steps.iter().map(|s| s.sql.clone()).collect();
    let plain_run = under_load(&plain_url, &traffic(n), || async {
        let t = Instant::now();
        let mut conn = sqlx::PgConnection::connect(&plain_url).await.unwrap();
        for sql in &steps {
            if let Err(e) = sqlx::raw_sql(sql).execute(&mut conn).await {
                return Outcome::new(t, 0, Some(e.to_string()));
            }
        }
        Outcome::new(t, 0, None)
    })
    .await;

    println!(
        "v9.5 to the declared schema under load (new user + session, session, read: every 20 ms):"
    );
    print("engine: locks up front, one transaction", &ours);
    print("plain: each statement autocommit", &plain_run);
}
