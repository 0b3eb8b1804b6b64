//! `soprovod analytics …` on a small known dataset: the cohort report with its rates in the three
//! formats, the retention triangle, and the exit code when the database is unreachable.

use std::process::{Command, Output};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

fn soprovod(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_soprovod"))
        .args(args)
        .args(["--database-url", url])
        .env_remove("DATABASE_URL")
        .output()
        .expect("running soprovod")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "soprovod failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The first day of the UTC month three months before `now`'s, at 00:00 UTC, and that date.
fn cohort_start(now: DateTime<Utc>) -> (DateTime<Utc>, NaiveDate) {
    let index = now.year() * 12 + now.month0() as i32 - 3;
    let month =
        NaiveDate::from_ymd_opt(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1).unwrap();
    (
        Utc.from_utc_datetime(&month.and_hms_opt(0, 0, 0).unwrap()),
        month,
    )
}

/// Four direct users (one activated after 1.5 days, one premium) and three from google (two
/// activated, after 1 and 2 days) in one month; one direct user signed up a minute ago.
async fn dataset() -> (testkit::TestDb, NaiveDate) {
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let pool = db.pool().await;
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&pool)
        .await
        .unwrap();
    let (start, month) = cohort_start(now);
    let base = start + Duration::days(10);
    let people: [(&str, Option<&str>, Option<Duration>, bool); 7] = [
        ("d1", None, Some(Duration::hours(36)), false),
        ("d2", None, None, true),
        ("d3", None, None, false),
        ("d4", None, None, false),
        ("g1", Some("google"), Some(Duration::days(1)), false),
        ("g2", Some("google"), Some(Duration::days(2)), false),
        ("g3", Some("google"), None, false),
    ];
    for (i, (name, source, first_letter, premium)) in people.into_iter().enumerate() {
        let created = base + Duration::hours(i as i64);
        let id: i64 = sqlx::query_scalar("INSERT INTO users (telegram_user_id, username, created_at) VALUES ($1, $2, $3) RETURNING id")
            .bind(500 + i as i64)
            .bind(name)
            .bind(created)
            .fetch_one(&pool)
            .await
            .unwrap();
        if let Some(source) = source {
            sqlx::query("INSERT INTO acquisition_channels (user_id, utm_source) VALUES ($1, $2)")
                .bind(id)
                .bind(source)
                .execute(&pool)
                .await
                .unwrap();
        }
        if let Some(after) = first_letter {
            sqlx::query("INSERT INTO letter_sessions (user_id, status, created_at) VALUES ($1, 'completed', $2)")
                .bind(id)
                .bind(created + after)
                .execute(&pool)
                .await
                .unwrap();
        }
        if premium {
            sqlx::query("INSERT INTO subscriptions (user_id, plan_type, status, period_end) VALUES ($1, 'premium', 'active', now() + interval '10 days')")
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
        }
    }
    sqlx::query("INSERT INTO users (telegram_user_id, username, created_at) VALUES (900, 'newcomer', now() - interval '1 minute')")
        .execute(&pool)
        .await
        .unwrap();
    (db, month)
}

#[tokio::test]
async fn the_cohort_report_shows_activation_and_premium_rates_in_every_format() {
    let (db, month) = dataset().await;

    let csv = stdout(&soprovod(
        &db.url,
        &["analytics", "cohorts", "--format", "csv"],
    ));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "cohort_month,acquisition_channel,cohort_size,activated_users,activation_pct,premium_users,premium_pct,avg_days_to_first_generation"
    );
    assert!(
        lines.contains(&format!("{month},direct,4,1,25.00,1,25.00,1.50").as_str()),
        "{csv}"
    );
    assert!(
        lines.contains(&format!("{month},google,3,2,66.67,0,0.00,1.50").as_str()),
        "{csv}"
    );
    assert_eq!(
        lines.len(),
        4,
        "header, two rows of the old month, the newcomer's month: {csv}"
    );

    let json: serde_json::Value = serde_json::from_str(&stdout(&soprovod(
        &db.url,
        &["analytics", "cohorts", "--format", "json"],
    )))
    .unwrap();
    let google = json
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["acquisition_channel"] == "google")
        .expect("the google cohort");
    assert_eq!(google["cohort_size"], 3);
    assert_eq!(google["activation_pct"], 66.67);
    assert_eq!(google["avg_days_to_first_generation"], 1.5);
    let newcomer = json
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["cohort_month"] != month.to_string())
        .unwrap();
    assert_eq!(
        newcomer["avg_days_to_first_generation"],
        serde_json::Value::Null
    );

    let table = stdout(&soprovod(&db.url, &["analytics", "cohorts"]));
    assert!(
        table.contains("activation pct") && table.contains("premium pct"),
        "{table}"
    );
    assert!(
        table.contains("66.67") && table.contains("25.00"),
        "{table}"
    );
}

#[tokio::test]
async fn the_retention_triangle_leaves_months_that_have_not_begun_empty() {
    let (db, month) = dataset().await;
    let json: serde_json::Value = serde_json::from_str(&stdout(&soprovod(
        &db.url,
        &["analytics", "retention", "--format", "json"],
    )))
    .unwrap();
    let cells = json.as_array().unwrap();
    let cell = |cohort: &str, n: i64| {
        cells
            .iter()
            .find(|c| c["cohort_month"] == cohort && c["months_after_signup"] == n)
            .unwrap()
    };
    let m = month.to_string();
    // 7 users; 3 wrote their first letter within days of signing up, in the signup month.
    assert_eq!(cell(&m, 0)["retained_users"], 3);
    assert_eq!(cell(&m, 0)["retention_pct"], 42.86);
    assert_eq!(cell(&m, 1)["retention_pct"], 0.0);
    assert_eq!(cell(&m, 3)["retention_pct"], 0.0);
    assert_eq!(cell(&m, 4)["retention_pct"], serde_json::Value::Null);
    assert_eq!(cell(&m, 4)["retained_users"], serde_json::Value::Null);

    let table = stdout(&soprovod(&db.url, &["analytics", "retention"]));
    assert!(table.contains("M0") && table.contains("M11"), "{table}");
    assert!(table.contains("42.86%"), "{table}");
}

#[test]
fn an_unreachable_database_is_exit_code_2() {
    let out = soprovod(
        "postgres://postgres@127.0.0.1:1/none",
        &["analytics", "users"],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
