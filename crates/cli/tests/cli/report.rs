//! `soprovod analytics funnel|revenue|report` on a small known dataset; the HTML report opened in
//! headless Chromium (Debian's `chromium`, which scripts/test.sh installs): no console errors, and
//! one heatmap cell per cohort × period holding the percentage worked out below by hand.

use std::path::Path;
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

fn month_of(t: DateTime<Utc>) -> NaiveDate {
    NaiveDate::from_ymd_opt(t.year(), t.month(), 1).unwrap()
}

fn add_months(d: NaiveDate, months: i32) -> NaiveDate {
    let index = d.year() * 12 + d.month0() as i32 + months;
    NaiveDate::from_ymd_opt(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1).unwrap()
}

fn start(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
}

/// Three cohorts (UTC months): A three months ago, B last month, C this month.
/// A: a1 writes letters in M0 and M1, a2 in M0, a3 in M2, a4 never -> 50, 25, 25, 0 (M3 is this
///    month), M4.. not begun. a1 goes all the way to a paid plan in Stars; a2 paid in rubles and
///    was refunded.
/// B: b1 in M0, b2 in M1 (this month), b3 never -> 33.33, 33.33.
/// C: c1 in M0 -> 100.
async fn dataset() -> (testkit::TestDb, [NaiveDate; 3]) {
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let pool = db.pool().await;
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&pool)
        .await
        .unwrap();
    let current = month_of(now);
    let a = add_months(current, -3);
    let b = add_months(current, -1);
    let day = Duration::days(1);
    // (cohort start + offset, letter times)
    let people: Vec<(DateTime<Utc>, Vec<DateTime<Utc>>)> = vec![
        (
            start(a) + day * 9,
            vec![start(a) + day * 10, start(add_months(a, 1)) + day * 5],
        ),
        (start(a) + day * 9, vec![start(a) + day * 12]),
        (start(a) + day * 9, vec![start(add_months(a, 2)) + day * 5]),
        (start(a) + day * 9, vec![]),
        (start(b) + day * 2, vec![start(b) + day * 3]),
        (start(b) + day * 2, vec![start(current)]),
        (start(b) + day * 2, vec![]),
        (start(current), vec![start(current)]),
    ];
    let mut ids = Vec::new();
    for (i, (created, letters)) in people.iter().enumerate() {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (telegram_user_id, created_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(700 + i as i64)
        .bind(created)
        .fetch_one(&pool)
        .await
        .unwrap();
        for at in letters {
            sqlx::query("INSERT INTO letter_sessions (user_id, status, created_at) VALUES ($1, 'completed', $2)")
                .bind(id)
                .bind(at)
                .execute(&pool)
                .await
                .unwrap();
        }
        ids.push(id);
    }
    // a1: vacancy, resume, a letter, a like, an invoice and a payment in Stars.
    let a1 = ids[0];
    let session: String = sqlx::query_scalar(
        "INSERT INTO letter_sessions (user_id, status, job_description, resume_text, created_at)
         VALUES ($1, 'completed', 'vacancy', 'resume', $2) RETURNING id::text",
    )
    .bind(a1)
    .bind(start(a) + day * 10)
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO letter_feedback (session_id, user_id, feedback_type) VALUES ($1::uuid, $2, 'like')")
        .bind(session)
        .bind(a1)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO user_events (user_id, event_type) VALUES ($1, 'invoice_sent')")
        .bind(a1)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO payments (user_id, provider, provider_payment_id, amount_minor, currency, status)
         VALUES ($1, 'telegram_stars', 'stars-1', 150, 'XTR', 'succeeded'),
                ($2, 'yookassa', 'rub-1', 19900, 'RUB', 'refunded')",
    )
    .bind(a1)
    .bind(ids[1])
    .execute(&pool)
    .await
    .unwrap();
    (db, [a, b, current])
}

/// The expected heatmap: (cohort, period) -> percentage text, None for a period not begun.
fn expected_cells(months: [NaiveDate; 3]) -> Vec<(NaiveDate, i32, Option<&'static str>)> {
    let per_cohort: [(NaiveDate, &[&'static str]); 3] = [
        (months[0], &["50.00", "25.00", "25.00", "0.00"]),
        (months[1], &["33.33", "33.33"]),
        (months[2], &["100.00"]),
    ];
    let mut cells = Vec::new();
    for (month, shown) in per_cohort {
        for n in 0..12 {
            cells.push((month, n, shown.get(n as usize).copied()));
        }
    }
    cells.sort();
    cells
}

/// The value of the attribute `name` in the text of one tag.
fn attribute<'a>(tag: &'a str, name: &str) -> &'a str {
    let key = format!("{name}=\"");
    let at = tag.find(&key).unwrap_or_else(|| panic!("{name} in {tag}")) + key.len();
    &tag[at..at + tag[at..].find('"').unwrap()]
}

/// Chromium as Debian ships it; it runs as root in CI, hence no sandbox.
fn chromium(args: &[&str], page: &Path, profile: &Path) -> Output {
    let binary = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok())
        .expect("chromium is not installed: run scripts/test.sh (it installs Debian's chromium)");
    // coreutils' timeout: a browser that hangs fails the test instead of stalling the suite.
    Command::new("timeout")
        .arg("120")
        .arg(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("running chromium")
}

#[tokio::test]
async fn the_html_report_loads_in_chromium_without_errors_and_shows_the_retention_heatmap() {
    let (db, months) = dataset().await;
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let out = soprovod(
        &db.url,
        &["analytics", "report", "--html", page.to_str().unwrap()],
    );
    stdout(&out);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("src="),
        "the page loads nothing from anywhere"
    );

    let loaded = chromium(&["--dump-dom"], &page, &dir.path().join("profile"));
    let log = String::from_utf8_lossy(&loaded.stderr);
    assert!(loaded.status.success(), "chromium failed: {log}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    let dom = String::from_utf8(loaded.stdout).unwrap();
    assert!(dom.contains("id=\"retention-heatmap\""), "{dom}");
    assert!(dom.contains("id=\"made-at\""));

    let heatmap = &dom[dom.find("id=\"retention-heatmap\"").unwrap()..];
    let heatmap = &heatmap[..heatmap.find("</table>").unwrap()];
    let mut cells: Vec<(NaiveDate, i32, Option<&str>)> = heatmap
        .split("<td ")
        .skip(1)
        .filter(|tag| tag.contains("data-cohort="))
        .map(|tag| {
            let pct = attribute(tag, "data-pct");
            (
                attribute(tag, "data-cohort").parse().unwrap(),
                attribute(tag, "data-period").parse().unwrap(),
                (!pct.is_empty()).then_some(pct),
            )
        })
        .collect();
    cells.sort();
    assert_eq!(cells, expected_cells(months));

    // Revenue: Stars and rubles apart, the refunded rubles subtracted.
    assert!(dom.contains("150 Stars"), "the Stars payment");
    assert!(dom.contains("199.00 ₽"), "the refunded ruble amount");

    // The screenshot a phone would show (412 px wide), as the docs have it.
    let shot = dir.path().join("report.png");
    let taken = chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=412,1600",
            "--hide-scrollbars",
        ],
        &page,
        &dir.path().join("profile2"),
    );
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    if let Ok(dest) = std::env::var("SOPROVOD_REPORT_SCREENSHOT") {
        std::fs::copy(&shot, dest).unwrap();
        std::fs::copy(&page, dir.path().join("kept.html")).unwrap();
    }
}

#[tokio::test]
async fn the_funnel_and_revenue_commands_print_every_format() {
    let (db, months) = dataset().await;
    let a = months[0].to_string();
    let csv = stdout(&soprovod(
        &db.url,
        &["analytics", "funnel", "--format", "csv"],
    ));
    assert!(
        csv.starts_with("cohort_month,acquisition_channel,started,vacancy_sent,resume_sent,first_letter,feedback_or_improvement,invoice_sent,paid\n"),
        "{csv}"
    );
    assert!(
        csv.contains(&format!("{a},direct,4,1,1,1,1,1,1\n")),
        "{csv}"
    );

    let json: serde_json::Value = serde_json::from_str(&stdout(&soprovod(
        &db.url,
        &["analytics", "revenue", "--format", "json"],
    )))
    .unwrap();
    let rows = json.as_array().unwrap();
    let row = |currency: &str| {
        rows.iter()
            .find(|r| r["cohort_month"] == a && r["currency"] == currency)
            .unwrap()
    };
    assert_eq!(row("XTR")["net_minor"], 150);
    assert_eq!(row("XTR")["paying_users"], 1);
    assert_eq!(row("RUB")["gross_minor"], 19_900);
    assert_eq!(row("RUB")["refunded_minor"], 19_900);
    assert_eq!(row("RUB")["net_minor"], 0);
    assert_eq!(row("RUB")["paying_users"], 0);

    let table = stdout(&soprovod(&db.url, &["analytics", "funnel"]));
    assert!(
        table.contains("first letter") && table.contains("direct"),
        "{table}"
    );
    // Not a terminal: no colour codes in the retention table.
    let retention = stdout(&soprovod(&db.url, &["analytics", "retention"]));
    assert!(
        !retention.contains('\u{1b}') && retention.contains("33.33%"),
        "{retention}"
    );
}
