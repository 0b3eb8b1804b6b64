//! Benchmark of the cohort report: `select * from user_cohorts_basic` against the SQL TZ v9.5
//! proposed (kept verbatim below), on the same generated data in the same run, and a check that our
//! view gives exactly what an independent query over the base tables says. Then the retention
//! triangle from its summaries against the same triangle computed from the base tables (checked
//! equal), and the funnel and revenue views (which read the base tables).
//!
//! Run: `cargo bench -p store --bench cohorts` (optional argument: the number of users, default
//! 1,000,000; sessions, subscriptions, acquisition rows, events and payments scale with it).

use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};
use store::analytics::{self, CohortRow, Hundredths};

/// The cohort query of TZ v9.5 ("5.6 Создание правильного VIEW"), verbatim: the body of its
/// `CREATE VIEW user_cohorts_basic AS`.
const SEED_TZ_V9_5_SQL: &str = r#"SELECT 
    DATE_TRUNC('month', u.created_at AT TIME ZONE 'UTC')::date as cohort_month,
    COALESCE(ac.utm_source, 'direct') as acquisition_channel,
    COUNT(DISTINCT u.id) as cohort_size,
    COUNT(DISTINCT CASE 
        WHEN ls.id IS NOT NULL AND ls.status = 'completed' 
        THEN u.id 
    END) as activated_users,
    COUNT(DISTINCT CASE 
        WHEN s.plan_type = 'premium' AND s.status = 'active' 
        THEN u.id 
    END) as premium_users,
    ROUND(
        AVG(
            CASE 
                WHEN ls.created_at IS NOT NULL 
                THEN EXTRACT(EPOCH FROM (ls.created_at - u.created_at))/86400 
            END
        ), 2
    ) as avg_days_to_first_generation
FROM users u
LEFT JOIN acquisition_channels ac ON u.id = ac.user_id  
LEFT JOIN letter_sessions ls ON u.id = ls.user_id 
    AND ls.status = 'completed'
    AND ls.created_at = (
        SELECT MIN(ls2.created_at) 
        FROM letter_sessions ls2 
        WHERE ls2.user_id = u.id AND ls2.status = 'completed'
    )
LEFT JOIN subscriptions s ON u.id = s.user_id 
    AND s.status = 'active'
WHERE u.created_at >= CURRENT_DATE - INTERVAL '12 months'
    AND u.created_at < DATE_TRUNC('month', CURRENT_DATE) + INTERVAL '1 month'
    -- Исключаем тестовых пользователей (если нужно)
    AND u.telegram_user_id NOT IN (SELECT telegram_user_id FROM users WHERE username LIKE '%test%')
GROUP BY 
    DATE_TRUNC('month', u.created_at AT TIME ZONE 'UTC')::date,
    COALESCE(ac.utm_source, 'direct')
HAVING COUNT(DISTINCT u.id) > 0
ORDER BY cohort_month DESC, acquisition_channel;"#;

const OURS_SQL: &str = "select * from user_cohorts_basic";

/// The exact semantics of schema.md written the plain way, straight from the base tables (no
/// summaries): one row per user, then counted. The mean is left to Rust, from the exact sum.
const REFERENCE_SQL: &str = r#"
WITH cohort_users AS (
    SELECT u.id,
           u.created_at,
           date_trunc('month', u.created_at AT TIME ZONE 'UTC')::date AS cohort_month,
           coalesce(ac.utm_source, CASE WHEN ac.referral_user_id IS NOT NULL THEN 'referral' END, 'direct') AS channel
    FROM users u
    LEFT JOIN acquisition_channels ac ON ac.user_id = u.id
    WHERE NOT u.is_test
      AND u.created_at <= now()
      AND u.created_at >= (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months') AT TIME ZONE 'UTC'
),
first_completed AS (
    SELECT ls.user_id, min(ls.created_at) AS first_at
    FROM letter_sessions ls WHERE ls.status = 'completed' GROUP BY ls.user_id
),
premium AS (
    SELECT DISTINCT s.user_id FROM subscriptions s
    WHERE s.plan_type = 'premium' AND s.status = 'active' AND (s.period_end IS NULL OR s.period_end > now())
)
SELECT cu.cohort_month, cu.channel, count(*)::bigint, count(fc.first_at)::bigint, count(p.user_id)::bigint,
       coalesce(sum(extract(epoch FROM fc.first_at - cu.created_at)), 0)::text
FROM cohort_users cu
LEFT JOIN first_completed fc ON fc.user_id = cu.id
LEFT JOIN premium p ON p.user_id = cu.id
GROUP BY cu.cohort_month, cu.channel
ORDER BY cu.cohort_month DESC, cu.channel
"#;

fn main() {
    let users: i64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.parse().expect("the argument is the number of users"))
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(users));
}

async fn run(users: i64) {
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let mut conn = db.connect().await;
    println!("cohort benchmark on {} (PostgreSQL test cluster)", db.name);

    let sizes = generate(&mut conn, users).await;
    println!(
        "rows generated: users {}, letter_sessions {}, subscriptions {}, acquisition_channels {}",
        sizes[0], sizes[1], sizes[2], sizes[3]
    );
    sqlx::raw_sql("VACUUM ANALYZE")
        .execute(&mut conn)
        .await
        .expect("vacuum analyze");

    let mut seed_times = Vec::new();
    let mut our_times = Vec::new();
    let mut seed_rows = 0;
    let mut our_rows = 0;
    for _ in 0..3 {
        let (t, n) = time_query(&mut conn, SEED_TZ_V9_5_SQL).await;
        seed_times.push(t);
        seed_rows = n;
    }
    for _ in 0..9 {
        let (t, n) = time_query(&mut conn, OURS_SQL).await;
        our_times.push(t);
        our_rows = n;
    }
    let seed = median(&mut seed_times);
    let ours = median(&mut our_times);
    println!(
        "seed TZ v9.5 SQL: median {:>10.1} ms  (runs {}; {} rows)",
        ms(seed),
        runs(&seed_times),
        seed_rows
    );
    println!(
        "user_cohorts_basic: median {:>8.1} ms  (runs {}; {} rows)",
        ms(ours),
        runs(&our_times),
        our_rows
    );
    println!(
        "ratio (seed / ours): {:.1}x",
        seed.as_secs_f64() / ours.as_secs_f64()
    );

    let (matched, detail) = compare_with_reference(&mut conn).await;
    println!(
        "user_cohorts_basic equals the exact reference: {} ({detail})",
        if matched { "yes" } else { "NO" }
    );

    // The same exact figures without the summaries (what the view falls back to on a migrated
    // database until analytics_rebuild() has run): how much of the speed the summaries buy.
    let (t, n) = time_query(
        &mut conn,
        "select * from analytics_cohorts_from_base_tables()",
    )
    .await;
    println!(
        "(for information) exact figures straight from the base tables: {:.1} ms, {n} rows",
        ms(t)
    );
    let mut matched = matched;
    for (name, summarised, unsummarised) in [
        (
            "user_retention_monthly",
            "select * from user_retention_monthly",
            "select * from analytics_retention_from_base_tables()",
        ),
        (
            "user_funnel",
            "select * from user_funnel",
            "select * from analytics_funnel_from_base_tables()",
        ),
        (
            "user_cohort_revenue",
            "select * from user_cohort_revenue",
            "select * from analytics_revenue_from_base_tables()",
        ),
    ] {
        let mut fast = Vec::new();
        let mut slow = Vec::new();
        let mut rows = 0;
        for _ in 0..3 {
            slow.push(time_query(&mut conn, unsummarised).await.0);
        }
        // The summarised reads are short: more runs, so the median says more on a busy machine.
        for _ in 0..9 {
            let (t, n) = time_query(&mut conn, summarised).await;
            fast.push(t);
            rows = n;
        }
        let same = same_rows(&mut conn, summarised, unsummarised).await;
        matched &= same;
        println!(
            "{name}: median {:.1} ms (runs {}; {rows} rows); from the base tables {:.1} ms (runs {}): {:.0}x; equal: {}",
            ms(median(&mut fast)),
            runs(&fast),
            ms(median(&mut slow)),
            runs(&slow),
            median(&mut slow).as_secs_f64() / median(&mut fast).as_secs_f64(),
            if same { "yes" } else { "NO" }
        );
    }
    if !matched {
        std::process::exit(1);
    }
}

/// Fills the database with `users` users and 3, 1 and 0.5 times as many letter sessions,
/// subscriptions and acquisition rows, with set-based inserts (the analytics triggers run, as on
/// any write). Returns the row counts.
async fn generate(conn: &mut PgConnection, users: i64) -> [i64; 4] {
    let steps: [(&str, String); 8] = [
        ("seed", "SELECT setseed(0.42)".to_string()),
        (
            "users",
            // 18 months of signups; every 101st is a test user, every 197th a real user whose name
            // contains "test"; about one in 20,000 was created in the future (clock skew).
            format!(
                "INSERT INTO users (id, telegram_user_id, username, is_test, created_at)
                 SELECT i, 1000000000 + i,
                        CASE WHEN i % 197 = 0 THEN 'contest_fan_' || i ELSE 'user_' || i END,
                        i % 101 = 0,
                        CASE WHEN i % 20011 = 0 THEN now() + random() * interval '2 days'
                             ELSE now() - random() * interval '540 days' END
                 FROM generate_series(1, {users}) AS i"
            ),
        ),
        (
            "acquisition_channels",
            // Every second user; utm sources, referrals without utm, and plain /start payloads.
            format!(
                "INSERT INTO acquisition_channels (user_id, telegram_start_param, utm_source, utm_medium, referral_user_id)
                 SELECT i, 'src_' || (i % 7),
                        (ARRAY['google', 'yandex', 'vk', 'telegram_ads', NULL, NULL, NULL])[1 + i % 7],
                        'cpc',
                        CASE WHEN i % 7 IN (4, 5) THEN 1 + (i::bigint * 7919) % {users} END
                 FROM generate_series(2, {users}, 2) AS i"
            ),
        ),
        (
            "letter_sessions",
            // Three per user on average, at random users; half completed; within 60 days of signup.
            format!(
                "INSERT INTO letter_sessions (user_id, status, model_used, generation_time_seconds, created_at, completed_at)
                 SELECT u.id, s.status, 'gpt-4o', 4.5, u.created_at + s.r * interval '60 days',
                        CASE WHEN s.status = 'completed' THEN u.created_at + s.r * interval '60 days' + interval '20 seconds' END
                 FROM (SELECT 1 + (random() * ({users} - 1))::bigint AS user_id,
                              (ARRAY['completed', 'completed', 'completed', 'completed', 'completed',
                                     'started', 'started', 'failed', 'abandoned', 'generating'])[1 + (random() * 9)::int] AS status,
                              random() AS r
                       FROM generate_series(1, 3 * {users})) s
                 JOIN users u ON u.id = s.user_id"
            ),
        ),
        (
            "subscriptions",
            // One per user: 88% free; premium active (running, ended but still 'active', or
            // open-ended), expired and cancelled.
            format!(
                "INSERT INTO subscriptions (user_id, plan_type, status, period_start, period_end)
                 SELECT i,
                        CASE WHEN i % 100 < 88 THEN 'free' ELSE 'premium' END,
                        CASE WHEN i % 100 < 96 THEN 'active' WHEN i % 100 < 98 THEN 'expired' ELSE 'cancelled' END,
                        CASE WHEN i % 100 >= 88 THEN now() - interval '30 days' END,
                        CASE WHEN i % 100 < 88 OR i % 100 = 95 THEN NULL
                             ELSE now() + (random() - 0.5) * interval '60 days' END
                 FROM generate_series(1, {users}) AS i"
            ),
        ),
        (
            "user_events",
            // One funnel event per user: vacancy, resume or invoice.
            format!(
                "INSERT INTO user_events (user_id, event_type, created_at)
                 SELECT i, (ARRAY['vacancy_sent', 'resume_sent', 'invoice_sent', 'vacancy_sent'])[1 + i % 4], now()
                 FROM generate_series(1, {users}) AS i"
            ),
        ),
        (
            "letter_feedback",
            // A rating of one completed letter in ten.
            "INSERT INTO letter_feedback (session_id, user_id, feedback_type)
             SELECT ls.id, ls.user_id, 'like' FROM letter_sessions ls
             WHERE ls.status = 'completed' AND random() < 0.1"
                .to_string(),
        ),
        (
            "payments",
            // For the premium subscriptions: Stars or rubles; some refunded, some failed.
            format!(
                "INSERT INTO payments (user_id, provider, provider_payment_id, amount_minor, currency, status)
                 SELECT i, CASE WHEN i % 3 = 0 THEN 'yookassa' ELSE 'telegram_stars' END, 'p' || i,
                        CASE WHEN i % 3 = 0 THEN 19900 ELSE 150 END,
                        CASE WHEN i % 3 = 0 THEN 'RUB' ELSE 'XTR' END,
                        (ARRAY['succeeded', 'succeeded', 'succeeded', 'refunded', 'failed'])[1 + i % 5]
                 FROM generate_series(1, {users}) AS i
                 WHERE i % 100 >= 88"
            ),
        ),
    ];
    for (name, sql) in &steps {
        let started = Instant::now();
        let done = sqlx::query(sql)
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("generating {name}: {e}"));
        if *name != "seed" {
            println!(
                "  generated {name}: {} rows in {:.1} s (analytics triggers included)",
                done.rows_affected(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let mut sizes = [0i64; 4];
    for (i, table) in [
        "users",
        "letter_sessions",
        "subscriptions",
        "acquisition_channels",
    ]
    .iter()
    .enumerate()
    {
        sizes[i] = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut *conn)
            .await
            .expect("count");
    }
    sizes
}

async fn time_query(conn: &mut PgConnection, sql: &str) -> (Duration, usize) {
    let started = Instant::now();
    let rows = sqlx::query(sql)
        .fetch_all(&mut *conn)
        .await
        .expect("benchmarked query");
    (started.elapsed(), rows.len())
}

/// Whether two queries return the same rows (as text, sorted), read in one REPEATABLE READ
/// transaction.
async fn same_rows(conn: &mut PgConnection, a: &str, b: &str) -> bool {
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *tx)
        .await
        .expect("isolation");
    let mut sides = Vec::new();
    for sql in [a, b] {
        let mut rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM ({sql}) t"))
            .fetch_all(&mut *tx)
            .await
            .expect("compared query");
        rows.sort();
        sides.push(rows);
    }
    tx.commit().await.expect("commit");
    sides[0] == sides[1]
}

/// Our view and the reference query, read in one REPEATABLE READ transaction: the same snapshot
/// and the same now().
async fn compare_with_reference(conn: &mut PgConnection) -> (bool, String) {
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *tx)
        .await
        .expect("isolation");
    let ours = analytics::cohorts(&mut *tx).await.expect("our view");
    let raw: Vec<(chrono::NaiveDate, String, i64, i64, i64, String)> =
        sqlx::query_as(REFERENCE_SQL)
            .fetch_all(&mut *tx)
            .await
            .expect("reference query");
    tx.commit().await.expect("commit");
    let expected: Vec<CohortRow> = raw
        .into_iter()
        .map(
            |(
                cohort_month,
                acquisition_channel,
                cohort_size,
                activated_users,
                premium_users,
                seconds,
            )| CohortRow {
                cohort_month,
                acquisition_channel,
                cohort_size,
                activated_users,
                premium_users,
                avg_days_to_first_generation: mean_days(&seconds, activated_users),
            },
        )
        .collect();
    let users: i64 = expected.iter().map(|r| r.cohort_size).sum();
    if ours == expected {
        return (
            true,
            format!("{} rows, {users} users in the window", ours.len()),
        );
    }
    let first_diff = ours.iter().zip(&expected).find(|(a, b)| a != b);
    (
        false,
        format!(
            "ours {} rows, reference {} rows; first difference: {first_diff:?}",
            ours.len(),
            expected.len()
        ),
    )
}

/// `round(seconds / activated / 86400, 2)` exactly, half away from zero, from the decimal text of
/// an exact sum of seconds.
fn mean_days(seconds: &str, activated: i64) -> Option<Hundredths> {
    if activated == 0 {
        return None;
    }
    let negative = seconds.starts_with('-');
    let digits = seconds.trim_start_matches('-');
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let scale = frac.len() as u32;
    let mantissa: i128 = format!("{int}{frac}").parse().expect("a decimal sum");
    // hundredths = mantissa / 10^scale * 100 / (activated * 86400)
    let numerator = mantissa * 100;
    let denominator = i128::from(activated) * 86_400 * 10i128.pow(scale);
    let rounded = (2 * numerator + denominator) / (2 * denominator);
    Some(Hundredths::from_hundredths(
        (if negative { -rounded } else { rounded }) as i64,
    ))
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn runs(times: &[Duration]) -> String {
    times
        .iter()
        .map(|t| format!("{:.1}", ms(*t)))
        .collect::<Vec<_>>()
        .join(" / ")
}
