//! The analytics views against expectations computed in Rust from an in-memory copy of the data:
//! the cohort report and the retention triangle in four session time zones, the four checks of
//! TZ v9.5, the summaries after updates and deletes, and the smaller views.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use domain::UserId;
use sqlx::{Connection, PgConnection};
use store::analytics::{self, CohortRow, Hundredths, RetentionCell};
use uuid::Uuid;

const TIME_ZONES: [&str; 4] = [
    "UTC",
    "Europe/Moscow",
    "America/Los_Angeles",
    "Pacific/Kiritimati",
];

// ---------------------------------------------------------------------------------------------
// The in-memory model

#[derive(Debug, Clone)]
struct Person {
    username: String,
    is_test: bool,
    created_at: DateTime<Utc>,
    acquisition: Option<Acquisition>,
    sessions: Vec<Session>,
    subscriptions: Vec<Subscription>,
    id: Option<UserId>,
    deleted: bool,
}

#[derive(Debug, Clone)]
struct Acquisition {
    utm_source: Option<String>,
    /// index of the referrer in `World::people`
    referrer: Option<usize>,
}

#[derive(Debug, Clone)]
struct Session {
    id: Uuid,
    status: &'static str,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Subscription {
    id: i64,
    plan: &'static str,
    status: &'static str,
    period_end: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default)]
struct World {
    people: Vec<Person>,
}

fn person(username: &str, created_at: DateTime<Utc>) -> Person {
    Person {
        username: username.to_string(),
        is_test: false,
        created_at,
        acquisition: None,
        sessions: Vec::new(),
        subscriptions: Vec::new(),
        id: None,
        deleted: false,
    }
}

fn session(status: &'static str, created_at: DateTime<Utc>) -> Session {
    Session {
        id: Uuid::new_v4(),
        status,
        created_at,
    }
}

fn subscription(
    plan: &'static str,
    status: &'static str,
    period_end: Option<DateTime<Utc>>,
) -> Subscription {
    Subscription {
        id: 0,
        plan,
        status,
        period_end,
    }
}

fn utm(source: &str) -> Option<Acquisition> {
    Some(Acquisition {
        utm_source: Some(source.to_string()),
        referrer: None,
    })
}

impl World {
    fn add(&mut self, p: Person) -> usize {
        self.people.push(p);
        self.people.len() - 1
    }

    fn live(&self) -> impl Iterator<Item = &Person> {
        self.people.iter().filter(|p| !p.deleted)
    }

    fn channel(&self, p: &Person) -> String {
        match &p.acquisition {
            Some(Acquisition {
                utm_source: Some(s),
                ..
            }) => s.clone(),
            Some(Acquisition {
                referrer: Some(r), ..
            }) if !self.people[*r].deleted => "referral".into(),
            _ => "direct".into(),
        }
    }
}

fn first_completed(p: &Person) -> Option<DateTime<Utc>> {
    p.sessions
        .iter()
        .filter(|s| s.status == "completed")
        .map(|s| s.created_at)
        .min()
}

fn is_premium(p: &Person, now: DateTime<Utc>) -> bool {
    p.subscriptions.iter().any(|s| {
        s.plan == "premium" && s.status == "active" && s.period_end.is_none_or(|end| end > now)
    })
}

fn month_of(t: DateTime<Utc>) -> NaiveDate {
    NaiveDate::from_ymd_opt(t.year(), t.month(), 1).unwrap()
}

fn add_months(d: NaiveDate, months: i32) -> NaiveDate {
    let index = d.year() * 12 + d.month0() as i32 + months;
    NaiveDate::from_ymd_opt(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1).unwrap()
}

fn month_start(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
}

/// `round(numerator / denominator)` half away from zero, as PostgreSQL rounds numerics.
fn round_half_away(numerator: i128, denominator: i128) -> i64 {
    let q = (2 * numerator.abs() + denominator) / (2 * denominator);
    (if numerator < 0 { -q } else { q }) as i64
}

fn micros(d: Duration) -> i128 {
    i128::from(d.num_microseconds().unwrap())
}

/// The people of the cohort window at `now`: non-test, created no later than now, in the 12 UTC
/// months ending with now's month.
fn in_window(w: &World, now: DateTime<Utc>) -> impl Iterator<Item = &Person> {
    let first = add_months(month_of(now), -11);
    w.live()
        .filter(move |p| !p.is_test && p.created_at <= now && month_of(p.created_at) >= first)
}

fn expected_cohorts(w: &World, now: DateTime<Utc>) -> Vec<CohortRow> {
    #[derive(Default)]
    struct Acc {
        size: i64,
        activated: i64,
        premium: i64,
        micros: i128,
    }
    let mut groups: BTreeMap<(NaiveDate, String), Acc> = BTreeMap::new();
    for p in in_window(w, now) {
        let acc = groups
            .entry((month_of(p.created_at), w.channel(p)))
            .or_default();
        acc.size += 1;
        if let Some(first) = first_completed(p) {
            acc.activated += 1;
            acc.micros += micros(first - p.created_at);
        }
        if is_premium(p, now) {
            acc.premium += 1;
        }
    }
    let mut rows: Vec<CohortRow> = groups
        .into_iter()
        .map(|((month, channel), acc)| CohortRow {
            cohort_month: month,
            acquisition_channel: channel,
            cohort_size: acc.size,
            activated_users: acc.activated,
            premium_users: acc.premium,
            avg_days_to_first_generation: (acc.activated > 0).then(|| {
                Hundredths::from_hundredths(round_half_away(
                    acc.micros * 100,
                    i128::from(acc.activated) * 86_400 * 1_000_000,
                ))
            }),
        })
        .collect();
    rows.sort_by(|a, b| {
        b.cohort_month
            .cmp(&a.cohort_month)
            .then(a.acquisition_channel.cmp(&b.acquisition_channel))
    });
    rows
}

fn expected_retention(w: &World, now: DateTime<Utc>) -> Vec<RetentionCell> {
    let current = month_of(now);
    let mut cohorts: BTreeMap<NaiveDate, Vec<&Person>> = BTreeMap::new();
    for p in in_window(w, now) {
        cohorts.entry(month_of(p.created_at)).or_default().push(p);
    }
    let mut cells = Vec::new();
    for (month, members) in cohorts {
        let size = members.len() as i64;
        for n in 0..12 {
            let cell_month = add_months(month, n);
            let retained = (cell_month <= current).then(|| {
                members
                    .iter()
                    .filter(|p| {
                        p.sessions.iter().any(|s| {
                            s.status == "completed" && month_of(s.created_at) == cell_month
                        })
                    })
                    .count() as i64
            });
            cells.push(RetentionCell {
                cohort_month: month,
                cohort_size: size,
                months_after_signup: n,
                retained_users: retained,
                retention_pct: retained.map(|r| {
                    Hundredths::from_hundredths(round_half_away(
                        i128::from(r) * 10_000,
                        i128::from(size),
                    ))
                }),
            });
        }
    }
    cells
}

// ---------------------------------------------------------------------------------------------
// The dataset

/// Built relative to `now` (the database's clock when the test starts). Returns the world and the
/// indexes of a few people the tests change later.
fn dataset(now: DateTime<Utc>) -> (World, Named) {
    let mut w = World::default();
    let current = month_of(now);
    let first_window_month = add_months(current, -11);
    // A month boundary well inside the window: 23:30 UTC on the last day of the month before it,
    // 00:20 UTC on its first day. Moscow and Kiritimati see the first in the next month, Los
    // Angeles sees the second in the previous one.
    let boundary = month_start(add_months(current, -2));

    let mut last_day = person("last_day", boundary - Duration::minutes(30));
    last_day.sessions.push(session(
        "completed",
        boundary - Duration::minutes(30) + Duration::hours(26),
    ));
    last_day
        .sessions
        .push(session("completed", boundary + Duration::days(20)));
    let last_day = w.add(last_day);

    let mut first_day = person("first_day", boundary + Duration::minutes(20));
    first_day.acquisition = utm("google");
    let same_instant = boundary + Duration::minutes(20) + Duration::days(3) + Duration::seconds(17);
    first_day
        .sessions
        .push(session("failed", boundary + Duration::minutes(25)));
    for _ in 0..3 {
        first_day.sessions.push(session("completed", same_instant));
    }
    first_day.subscriptions.push(subscription(
        "premium",
        "active",
        Some(now + Duration::days(12)),
    ));
    let first_day = w.add(first_day);

    let mut future = person("clock_skew", now + Duration::hours(3));
    future
        .sessions
        .push(session("completed", now + Duration::hours(4)));
    future
        .subscriptions
        .push(subscription("premium", "active", None));
    w.add(future);

    let mut tester = person("qa_account", boundary + Duration::days(2));
    tester.is_test = true;
    tester.acquisition = utm("google");
    tester.sessions.push(session(
        "completed",
        boundary + Duration::days(2) + Duration::hours(1),
    ));
    tester.subscriptions.push(subscription(
        "premium",
        "active",
        Some(now + Duration::days(5)),
    ));
    let tester = w.add(tester);

    let mut contest = person("contest_winner", boundary + Duration::days(4));
    contest.acquisition = utm("vk");
    contest.sessions.push(session(
        "completed",
        boundary + Duration::days(4) + Duration::minutes(90),
    ));
    let contest = w.add(contest);

    let mut expired_then_free = person("expired_then_free", boundary + Duration::days(5));
    expired_then_free.subscriptions.push(subscription(
        "premium",
        "expired",
        Some(now - Duration::days(3)),
    ));
    expired_then_free
        .subscriptions
        .push(subscription("free", "active", None));
    w.add(expired_then_free);

    let mut stale_premium = person("stale_premium", boundary + Duration::days(6));
    stale_premium.subscriptions.push(subscription(
        "premium",
        "active",
        Some(now - Duration::days(1)),
    ));
    let stale_premium = w.add(stale_premium);

    let mut open_premium = person(
        "open_premium",
        boundary + Duration::days(6) + Duration::hours(5),
    );
    open_premium
        .subscriptions
        .push(subscription("premium", "active", None));
    w.add(open_premium);

    let mut referred = person("referred", boundary + Duration::days(7));
    referred.acquisition = Some(Acquisition {
        utm_source: None,
        referrer: Some(contest),
    });
    referred
        .sessions
        .push(session("completed", boundary + Duration::days(9)));
    w.add(referred);

    // utm wins over a referral.
    let mut both = person("utm_and_referral", boundary + Duration::days(8));
    both.acquisition = Some(Acquisition {
        utm_source: Some("yandex".into()),
        referrer: Some(contest),
    });
    w.add(both);

    // Means exactly halfway between two hundredths, either sign: 0.125 days and -0.125 days.
    let mut halfway = person("halfway", boundary + Duration::days(10));
    halfway.acquisition = utm("halfway_up");
    halfway.sessions.push(session(
        "completed",
        boundary + Duration::days(10) + Duration::hours(3),
    ));
    w.add(halfway);
    let mut before = person("letter_before_signup", boundary + Duration::days(10));
    before.acquisition = utm("halfway_down");
    before.sessions.push(session(
        "completed",
        boundary + Duration::days(10) - Duration::hours(3),
    ));
    w.add(before);

    // The window's edges: its first instant is in, the microsecond before it and older users out.
    let mut window_start = person("window_start", month_start(first_window_month));
    window_start.sessions.push(session(
        "completed",
        month_start(first_window_month) + Duration::days(40),
    ));
    w.add(window_start);
    let mut just_before = person(
        "just_before_window",
        month_start(first_window_month) - Duration::microseconds(1),
    );
    just_before.sessions.push(session(
        "completed",
        month_start(first_window_month) + Duration::days(1),
    ));
    w.add(just_before);
    for k in 0..3 {
        let created = month_start(add_months(current, -13 - k)) + Duration::days(3);
        let mut old = person(&format!("old_{k}"), created);
        old.sessions
            .push(session("completed", created + Duration::days(1)));
        old.subscriptions
            .push(subscription("premium", "active", None));
        w.add(old);
    }

    // The current month: a user created at its first instant and one a minute ago.
    let mut month_first = person("month_first_instant", month_start(current));
    month_first.sessions.push(session(
        "started",
        month_start(current) + Duration::seconds(5),
    ));
    w.add(month_first);
    let mut recent = person("recent", now - Duration::minutes(1));
    recent.acquisition = utm("telegram_ads");
    recent
        .sessions
        .push(session("completed", now - Duration::seconds(30)));
    w.add(recent);

    // Premium ending within the hour either side of now: decided by the user's own end, not by
    // the per-day counters (both land on today's UTC date unless the test runs near midnight).
    for (name, end) in [
        ("premium_ends_soon", now + Duration::minutes(50)),
        ("premium_just_ended", now - Duration::minutes(50)),
    ] {
        let mut p = person(name, boundary + Duration::days(11));
        p.acquisition = utm("google");
        p.subscriptions
            .push(subscription("premium", "active", Some(end)));
        w.add(p);
    }

    // A deterministic crowd over 15 months, for the sums.
    let mut seed: u64 = 0x5eed_cafe;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let sources = [None, Some("google"), Some("vk"), Some("yandex")];
    for i in 0..150 {
        let created = now
            - Duration::seconds(next(450 * 86_400) as i64)
            - Duration::microseconds(next(1_000_000) as i64);
        let mut p = person(&format!("crowd_{i}"), created);
        p.is_test = next(25) == 0;
        match next(5) {
            0 => {}
            1 => {
                p.acquisition = Some(Acquisition {
                    utm_source: None,
                    referrer: Some(next(i as u64 + 1) as usize),
                })
            }
            _ => {
                p.acquisition = Some(Acquisition {
                    utm_source: sources[next(4) as usize].map(String::from),
                    referrer: None,
                })
            }
        }
        for _ in 0..next(5) {
            let status =
                ["completed", "completed", "started", "failed", "abandoned"][next(5) as usize];
            let at = created
                + Duration::seconds(next(90 * 86_400) as i64)
                + Duration::microseconds(next(1_000_000) as i64);
            p.sessions.push(session(status, at));
        }
        match next(6) {
            0 => p.subscriptions.push(subscription(
                "premium",
                "active",
                Some(now + Duration::days(next(40) as i64 - 20)),
            )),
            1 => p.subscriptions.push(subscription(
                "premium",
                "cancelled",
                Some(now + Duration::days(5)),
            )),
            _ => p.subscriptions.push(subscription("free", "active", None)),
        }
        w.add(p);
    }
    (
        w,
        Named {
            last_day,
            first_day,
            tester,
            contest,
            stale_premium,
        },
    )
}

#[derive(Debug, Clone, Copy)]
struct Named {
    last_day: usize,
    first_day: usize,
    tester: usize,
    contest: usize,
    stale_premium: usize,
}

async fn insert_person(conn: &mut PgConnection, w: &mut World, i: usize) {
    let p = &w.people[i];
    let raw: UserId = sqlx::query_scalar(
        "INSERT INTO users (telegram_user_id, username, is_test, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(7_000_000_000_i64 + i as i64)
    .bind(&p.username)
    .bind(p.is_test)
    .bind(p.created_at)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let id: UserId = raw;
    w.people[i].id = Some(id);
    insert_rows_of(conn, w, i, id).await;
}

async fn insert_rows_of(conn: &mut PgConnection, w: &mut World, i: usize, id: UserId) {
    let p = w.people[i].clone();
    if let Some(a) = &p.acquisition {
        let referrer = a.referrer.and_then(|r| w.people[r].id).map(UserId::get);
        sqlx::query("INSERT INTO acquisition_channels (user_id, utm_source, referral_user_id) VALUES ($1, $2, $3)")
            .bind(id.get())
            .bind(&a.utm_source)
            .bind(referrer)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    // One statement per person, so sessions at the same instant arrive together.
    let ids: Vec<Uuid> = p.sessions.iter().map(|s| s.id).collect();
    let statuses: Vec<String> = p.sessions.iter().map(|s| s.status.to_string()).collect();
    let created: Vec<DateTime<Utc>> = p.sessions.iter().map(|s| s.created_at).collect();
    sqlx::query(
        "INSERT INTO letter_sessions (id, user_id, status, created_at)
         SELECT t.id, $1, t.status, t.created_at FROM unnest($2::uuid[], $3::text[], $4::timestamptz[]) AS t (id, status, created_at)",
    )
    .bind(id.get())
    .bind(&ids)
    .bind(&statuses)
    .bind(&created)
    .execute(&mut *conn)
    .await
    .unwrap();
    for k in 0..p.subscriptions.len() {
        let s = &p.subscriptions[k];
        let sub_id: i64 = sqlx::query_scalar(
            "INSERT INTO subscriptions (user_id, plan_type, status, period_end) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(id.get())
        .bind(s.plan)
        .bind(s.status)
        .bind(s.period_end)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        w.people[i].subscriptions[k].id = sub_id;
    }
}

async fn db_now(conn: &mut PgConnection) -> DateTime<Utc> {
    sqlx::query_scalar("SELECT now()")
        .fetch_one(conn)
        .await
        .unwrap()
}

/// A fresh database holding the dataset; people are inserted in order, so referrers exist first.
async fn loaded() -> (testkit::TestDb, World, Named) {
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let mut conn = db.connect().await;
    // The summaries are derived when rows are written: write in a zone far from UTC.
    sqlx::query("SET TimeZone = 'Europe/Moscow'")
        .execute(&mut conn)
        .await
        .unwrap();
    let now = db_now(&mut conn).await;
    let (mut w, named) = dataset(now);
    for i in 0..w.people.len() {
        insert_person(&mut conn, &mut w, i).await;
    }
    (db, w, named)
}

/// The cohort report and the retention triangle read in one transaction with a session TimeZone,
/// and the now() they were computed at.
async fn read_reports(
    conn: &mut PgConnection,
    tz: &str,
) -> (DateTime<Utc>, Vec<CohortRow>, Vec<RetentionCell>) {
    sqlx::query(&format!("SET TimeZone = '{tz}'"))
        .execute(&mut *conn)
        .await
        .unwrap();
    let mut tx = conn.begin().await.unwrap();
    let now = db_now(&mut tx).await;
    let cohorts = analytics::cohorts(&mut *tx).await.unwrap();
    let retention = analytics::retention(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    (now, cohorts, retention)
}

async fn assert_reports_match(conn: &mut PgConnection, w: &World, when: &str) {
    for tz in TIME_ZONES {
        let (now, cohorts, retention) = read_reports(conn, tz).await;
        assert_eq!(
            cohorts,
            expected_cohorts(w, now),
            "user_cohorts_basic {when}, TimeZone {tz}"
        );
        assert_eq!(
            retention,
            expected_retention(w, now),
            "user_retention_monthly {when}, TimeZone {tz}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn the_cohort_report_matches_the_rust_computation_in_every_session_time_zone() {
    let (db, w, named) = loaded().await;
    let mut conn = db.connect().await;
    for tz in TIME_ZONES {
        let (now, rows, _) = read_reports(&mut conn, tz).await;
        let expected = expected_cohorts(&w, now);
        assert_eq!(rows, expected, "TimeZone {tz}");

        // The dataset's edge cases land where the contract says (guards against a dataset that
        // no longer exercises them).
        let boundary = add_months(month_of(now), -2);
        let row = |month: NaiveDate, channel: &str| {
            rows.iter()
                .find(|r| r.cohort_month == month && r.acquisition_channel == channel)
                .cloned()
        };
        let last_day_month = month_of(w.people[named.last_day].created_at);
        assert_eq!(last_day_month, add_months(boundary, -1));
        assert!(row(last_day_month, "direct")
            .is_some_and(|r| r.cohort_size >= 1 && r.activated_users >= 1));
        let google = row(boundary, "google").expect("the 00:20 user's cohort");
        assert!(google.premium_users >= 1);
        assert_eq!(
            row(boundary, "halfway_up")
                .unwrap()
                .avg_days_to_first_generation,
            Some(Hundredths::from_hundredths(13))
        );
        assert_eq!(
            row(boundary, "halfway_down")
                .unwrap()
                .avg_days_to_first_generation,
            Some(Hundredths::from_hundredths(-13))
        );
        assert!(
            row(boundary, "vk").is_some(),
            "the non-test user named contest_winner counts"
        );
        assert!(row(boundary, "referral").is_some());
        assert!(
            rows.iter()
                .all(|r| r.cohort_month >= add_months(month_of(now), -11)),
            "12 months only"
        );
        assert!(
            rows.iter()
                .any(|r| r.cohort_month == add_months(month_of(now), -11)),
            "the first month is whole"
        );
    }
}

#[tokio::test]
async fn the_retention_triangle_matches_the_rust_computation_and_leaves_future_cells_empty() {
    let (db, w, _) = loaded().await;
    let mut conn = db.connect().await;
    for tz in TIME_ZONES {
        let (now, _, cells) = read_reports(&mut conn, tz).await;
        assert_eq!(cells, expected_retention(&w, now), "TimeZone {tz}");
        let current = month_of(now);
        for c in &cells {
            let happened = add_months(c.cohort_month, c.months_after_signup) <= current;
            assert_eq!(c.retained_users.is_some(), happened, "{c:?}");
            assert_eq!(c.retention_pct.is_some(), happened, "{c:?}");
        }
        // The current month's cohort has only its month 0.
        assert_eq!(
            cells
                .iter()
                .filter(|c| c.cohort_month == current && c.retained_users.is_some())
                .count(),
            1
        );
    }
}

#[tokio::test]
async fn the_four_checks_of_tz_v9_5_hold() {
    let (db, _, _) = loaded().await;
    let mut conn = db.connect().await;
    // The seed's queries use CURRENT_DATE, which follows the session time zone; they are meant
    // for a UTC session.
    sqlx::query("SET TimeZone = 'UTC'")
        .execute(&mut conn)
        .await
        .unwrap();
    let future: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM user_cohorts_basic WHERE cohort_month > CURRENT_DATE",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(future, 0, "no future month");
    let over_activated: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM user_cohorts_basic WHERE activated_users > cohort_size",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(over_activated, 0, "activated <= size");
    let over_premium: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM user_cohorts_basic WHERE premium_users > cohort_size",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(over_premium, 0, "premium <= size");
    let channels: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT DISTINCT acquisition_channel FROM user_cohorts_basic ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(
        channels.iter().all(Option::is_some),
        "no null channel: {channels:?}"
    );
    for needed in ["direct", "google", "referral"] {
        assert!(
            channels.contains(&Some(needed.to_string())),
            "{needed} in {channels:?}"
        );
    }
    // And in every zone, no cohort after the current UTC month.
    for tz in TIME_ZONES {
        let (now, rows, _) = read_reports(&mut conn, tz).await;
        assert!(
            rows.iter().all(|r| r.cohort_month <= month_of(now)),
            "TimeZone {tz}"
        );
        assert!(rows
            .iter()
            .all(|r| r.activated_users <= r.cohort_size && r.premium_users <= r.cohort_size));
    }
}

/// The summaries as they should be after the writes: facts per user and counters per
/// (month, channel) over all non-test users, all months.
async fn assert_summaries_exact(conn: &mut PgConnection, w: &World, when: &str) {
    // premium_until: (the end, open-ended)
    type Fact = (
        i64,
        DateTime<Utc>,
        NaiveDate,
        bool,
        String,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        bool,
    );
    let facts: Vec<Fact> = sqlx::query_as(
        "SELECT user_id, created_at, cohort_month, is_test, channel, first_completed_at,
                nullif(premium_until, 'infinity'), coalesce(premium_until = 'infinity', false)
         FROM analytics_user_facts ORDER BY user_id",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let mut expected_facts: Vec<Fact> = w
        .live()
        .map(|p| {
            let premium: Vec<&Subscription> = p
                .subscriptions
                .iter()
                .filter(|s| s.plan == "premium" && s.status == "active")
                .collect();
            let open = premium.iter().any(|s| s.period_end.is_none());
            let end = if open {
                None
            } else {
                premium.iter().filter_map(|s| s.period_end).max()
            };
            let id = p.id.unwrap().get();
            (
                id,
                p.created_at,
                month_of(p.created_at),
                p.is_test,
                w.channel(p),
                first_completed(p),
                end,
                open,
            )
        })
        .collect();
    expected_facts.sort_by_key(|f| f.0);
    assert_eq!(facts, expected_facts, "analytics_user_facts {when}");

    let counts: Vec<(NaiveDate, String, i64, i64, String)> = sqlx::query_as(
        "SELECT cohort_month, channel, users, activated, days_to_first_seconds::text
         FROM analytics_cohort_counts WHERE users <> 0 OR activated <> 0 OR days_to_first_seconds <> 0
         ORDER BY cohort_month, channel",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let mut expected: BTreeMap<(NaiveDate, String), (i64, i64, i128)> = BTreeMap::new();
    for p in w.live().filter(|p| !p.is_test) {
        let e = expected
            .entry((month_of(p.created_at), w.channel(p)))
            .or_default();
        e.0 += 1;
        if let Some(first) = first_completed(p) {
            e.1 += 1;
            e.2 += micros(first - p.created_at);
        }
    }
    let expected: Vec<(NaiveDate, String, i64, i64, i128)> = expected
        .into_iter()
        .map(|((m, c), (u, a, s))| (m, c, u, a, s))
        .collect();
    let counts: Vec<(NaiveDate, String, i64, i64, i128)> = counts
        .into_iter()
        .map(|(m, c, u, a, s)| (m, c, u, a, seconds_text_to_micros(&s)))
        .collect();
    assert_eq!(counts, expected, "analytics_cohort_counts {when}");
}

fn seconds_text_to_micros(text: &str) -> i128 {
    let negative = text.starts_with('-');
    let digits = text.trim_start_matches('-');
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let frac = format!("{frac:0<6}");
    assert!(
        frac.len() == 6 || frac[6..].chars().all(|c| c == '0'),
        "sub-microsecond seconds: {text}"
    );
    let v: i128 = format!("{int}{}", &frac[..6]).parse().unwrap();
    if negative {
        -v
    } else {
        v
    }
}

fn uid(w: &World, i: usize) -> i64 {
    w.people[i].id.unwrap().get()
}

#[tokio::test]
async fn the_summaries_stay_exact_through_updates_deletes_and_cascades() {
    let (db, mut w, named) = loaded().await;
    let mut conn = db.connect().await;
    assert_summaries_exact(&mut conn, &w, "after loading").await;
    assert_reports_match(&mut conn, &w, "after loading").await;

    // A session moves from completed to failed, another from started to completed, in one statement.
    let first_day = named.first_day;
    let changed = w.people[first_day].sessions[1].id;
    let started_at = w.people[first_day].created_at + Duration::hours(1);
    let new_session = session("started", started_at);
    sqlx::query("INSERT INTO letter_sessions (id, user_id, status, created_at) VALUES ($1, $2, 'started', $3)")
        .bind(new_session.id)
        .bind(uid(&w, first_day))
        .bind(started_at)
        .execute(&mut conn)
        .await
        .unwrap();
    w.people[first_day].sessions.push(new_session.clone());
    sqlx::query("UPDATE letter_sessions SET status = CASE WHEN id = $1 THEN 'failed' ELSE 'completed' END WHERE id IN ($1, $2)")
        .bind(changed)
        .bind(new_session.id)
        .execute(&mut conn)
        .await
        .unwrap();
    w.people[first_day].sessions[1].status = "failed";
    w.people[first_day].sessions.last_mut().unwrap().status = "completed";
    assert_summaries_exact(&mut conn, &w, "after session status changes").await;

    // A bulk update over many users: every started session abandoned; and a session moved in time.
    sqlx::query("UPDATE letter_sessions SET status = 'abandoned' WHERE status = 'started'")
        .execute(&mut conn)
        .await
        .unwrap();
    for p in &mut w.people {
        for s in &mut p.sessions {
            if s.status == "started" {
                s.status = "abandoned";
            }
        }
    }
    let last_day = named.last_day;
    let moved = w.people[last_day].sessions[0].id;
    let moved_to = w.people[last_day].created_at + Duration::minutes(7);
    sqlx::query("UPDATE letter_sessions SET created_at = $2 WHERE id = $1")
        .bind(moved)
        .bind(moved_to)
        .execute(&mut conn)
        .await
        .unwrap();
    w.people[last_day].sessions[0].created_at = moved_to;
    assert_summaries_exact(&mut conn, &w, "after bulk session updates").await;

    // Quota bookkeeping does not matter; premium expiry and extension do.
    sqlx::query("UPDATE subscriptions SET letters_used = letters_used + 1")
        .execute(&mut conn)
        .await
        .unwrap();
    let stale = named.stale_premium;
    let extended = db_now(&mut conn).await + Duration::days(30);
    sqlx::query("UPDATE subscriptions SET period_end = $2 WHERE user_id = $1")
        .bind(uid(&w, stale))
        .bind(extended)
        .execute(&mut conn)
        .await
        .unwrap();
    w.people[stale].subscriptions[0].period_end = Some(extended);
    sqlx::query(
        "UPDATE subscriptions SET status = 'expired' WHERE user_id = $1 AND plan_type = 'premium'",
    )
    .bind(uid(&w, first_day))
    .execute(&mut conn)
    .await
    .unwrap();
    for s in &mut w.people[first_day].subscriptions {
        if s.plan == "premium" {
            s.status = "expired";
        }
    }
    assert_summaries_exact(&mut conn, &w, "after subscription changes").await;

    // A user becomes a test user, another moves to an older month, a channel changes, a
    // first-touch row is deleted.
    sqlx::query("UPDATE users SET is_test = true WHERE id = $1")
        .bind(uid(&w, stale))
        .execute(&mut conn)
        .await
        .unwrap();
    w.people[stale].is_test = true;
    let moved_user = named.last_day;
    let older = w.people[moved_user].created_at - Duration::days(45);
    sqlx::query("UPDATE users SET created_at = $2, last_activity_at = now() WHERE id = $1")
        .bind(uid(&w, moved_user))
        .bind(older)
        .execute(&mut conn)
        .await
        .unwrap();
    w.people[moved_user].created_at = older;
    sqlx::query("UPDATE acquisition_channels SET utm_source = 'partner' WHERE user_id = $1")
        .bind(uid(&w, first_day))
        .execute(&mut conn)
        .await
        .unwrap();
    w.people[first_day].acquisition.as_mut().unwrap().utm_source = Some("partner".into());
    let contest = named.contest;
    sqlx::query("DELETE FROM acquisition_channels WHERE user_id = $1")
        .bind(uid(&w, contest))
        .execute(&mut conn)
        .await
        .unwrap();
    w.people[contest].acquisition = None;
    assert_summaries_exact(&mut conn, &w, "after user and channel changes").await;
    assert_reports_match(&mut conn, &w, "after updates").await;

    // Deleting a referrer cascades to its rows and turns its referrals into 'direct' (SET NULL);
    // deleting a test user and several users in one statement.
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(uid(&w, contest))
        .execute(&mut conn)
        .await
        .unwrap();
    w.people[contest].deleted = true;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(uid(&w, named.tester))
        .execute(&mut conn)
        .await
        .unwrap();
    w.people[named.tester].deleted = true;
    let crowd: Vec<usize> = (0..w.people.len())
        .filter(|&i| w.people[i].username.starts_with("crowd_"))
        .step_by(4)
        .collect();
    let crowd_ids: Vec<i64> = crowd.iter().map(|&i| uid(&w, i)).collect();
    sqlx::query("DELETE FROM users WHERE id = ANY($1)")
        .bind(&crowd_ids)
        .execute(&mut conn)
        .await
        .unwrap();
    for i in crowd {
        w.people[i].deleted = true;
    }
    assert_summaries_exact(&mut conn, &w, "after deletes").await;

    // Deleting completed sessions, including the first one of a user with several at one instant.
    sqlx::query("DELETE FROM letter_sessions WHERE user_id = $1 AND status = 'completed'")
        .bind(uid(&w, first_day))
        .execute(&mut conn)
        .await
        .unwrap();
    w.people[first_day]
        .sessions
        .retain(|s| s.status != "completed");
    assert_summaries_exact(&mut conn, &w, "after session deletes").await;

    // Several new users and their rows in one transaction, then rolled back: nothing remains.
    let before_rollback = w.clone();
    {
        let mut tx = conn.begin().await.unwrap();
        let now = db_now(&mut tx).await;
        let mut extra = w.clone();
        let mut p = person("rolled_back", now - Duration::hours(2));
        p.acquisition = utm("google");
        p.sessions
            .push(session("completed", now - Duration::hours(1)));
        let i = extra.add(p);
        insert_person(&mut tx, &mut extra, i).await;
        // The summaries follow at commit; a transaction that reads them after its own writes
        // asks for the flush now.
        sqlx::query("SET CONSTRAINTS analytics_flush_at_commit IMMEDIATE")
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_summaries_exact(&mut tx, &extra, "inside the transaction").await;
        tx.rollback().await.unwrap();
    }
    assert_summaries_exact(&mut conn, &before_rollback, "after a rollback").await;
    assert_reports_match(&mut conn, &w, "after deletes").await;
}

#[tokio::test]
async fn before_the_summaries_are_filled_the_report_comes_exact_from_the_base_tables_and_a_rebuild_fills_them(
) {
    let (db, w, _) = loaded().await;
    let mut conn = db.connect().await;
    // The view reads the summaries: emptied, with the "filled" mark left, the report is empty.
    sqlx::query("DELETE FROM analytics_cohort_counts")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("DELETE FROM analytics_user_facts")
        .execute(&mut conn)
        .await
        .unwrap();
    let (now, emptied, _) = read_reports(&mut conn, "UTC").await;
    assert!(emptied.is_empty() && !expected_cohorts(&w, now).is_empty());

    // As after a migration added the summaries to a database with users: no mark, so the view
    // computes from the base tables, exactly.
    sqlx::query("DELETE FROM analytics_summary_state")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_reports_match(&mut conn, &w, "before the summaries are filled").await;

    sqlx::query("SET TimeZone = 'America/Los_Angeles'")
        .execute(&mut conn)
        .await
        .unwrap();
    analytics::rebuild_summaries(&mut conn).await.unwrap();
    let marks: i64 = sqlx::query_scalar("SELECT count(*) FROM analytics_summary_state")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(marks, 1);
    assert_summaries_exact(&mut conn, &w, "after a rebuild").await;
    assert_reports_match(&mut conn, &w, "after a rebuild").await;
}

#[tokio::test]
async fn a_database_whose_retention_summaries_are_not_filled_reads_the_base_tables_until_a_rebuild()
{
    let (db, w, _) = loaded().await;
    let mut conn = db.connect().await;
    // As after a migration added 046's tables to a database whose 045 summaries were filled:
    // the retention summaries are empty and unmarked.
    sqlx::raw_sql(
        "DELETE FROM analytics_retention_counts; DELETE FROM analytics_user_active_months;
         DELETE FROM analytics_premium_expiry_counts; DELETE FROM analytics_retention_state;",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let pool = db.pool().await;
    assert!(!analytics::summaries_filled(&pool).await.unwrap());
    assert_reports_match(&mut conn, &w, "with the retention summaries unfilled").await;
    analytics::rebuild_summaries(&mut conn).await.unwrap();
    assert!(analytics::summaries_filled(&pool).await.unwrap());
    let counters: i64 = sqlx::query_scalar("SELECT count(*) FROM analytics_retention_counts")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(counters > 0, "the rebuild filled the retention counters");
    assert_reports_match(&mut conn, &w, "after the rebuild").await;
}

#[tokio::test]
async fn truncating_a_table_recomputes_the_summaries() {
    let (db, mut w, _) = loaded().await;
    let mut conn = db.connect().await;
    sqlx::query("TRUNCATE letter_sessions CASCADE")
        .execute(&mut conn)
        .await
        .unwrap();
    for p in &mut w.people {
        p.sessions.clear();
    }
    assert_summaries_exact(&mut conn, &w, "after TRUNCATE letter_sessions").await;
    sqlx::query("TRUNCATE users CASCADE")
        .execute(&mut conn)
        .await
        .unwrap();
    for p in &mut w.people {
        p.deleted = true;
    }
    assert_summaries_exact(&mut conn, &w, "after TRUNCATE users").await;
    let (_, rows, cells) = read_reports(&mut conn, "UTC").await;
    assert!(rows.is_empty() && cells.is_empty());
}

#[tokio::test]
async fn concurrent_letters_of_one_user_both_count_for_the_first_generation() {
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let mut a = db.connect().await;
    let mut b = db.connect().await;
    let now = db_now(&mut a).await;
    let created = now - Duration::days(3);
    let raw: UserId = sqlx::query_scalar(
        "INSERT INTO users (telegram_user_id, created_at) VALUES (1, $1) RETURNING id",
    )
    .bind(created)
    .fetch_one(&mut a)
    .await
    .unwrap();
    let user: UserId = raw;

    // A writes the earlier letter and holds its transaction open; B writes a later one and
    // commits first, then A commits. Whichever order the commits' refreshes run in, the first
    // generation must be A's and the user counted as activated once (B's refresh saw only its own
    // letter; A's, at its commit, must correct the facts and the counters, not add to them).
    let mut tx_a = a.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO letter_sessions (user_id, status, created_at) VALUES ($1, 'completed', $2)",
    )
    .bind(user.get())
    .bind(created + Duration::days(1))
    .execute(&mut *tx_a)
    .await
    .unwrap();
    let later = created + Duration::days(2);
    sqlx::query(
        "INSERT INTO letter_sessions (user_id, status, created_at) VALUES ($1, 'completed', $2)",
    )
    .bind(user.get())
    .bind(later)
    .execute(&mut b)
    .await
    .unwrap();
    tx_a.commit().await.unwrap();
    let mut observer = db.connect().await;
    let (first, activated, seconds): (Option<DateTime<Utc>>, i64, String) = sqlx::query_as(
        "SELECT f.first_completed_at, c.activated, c.days_to_first_seconds::text
         FROM analytics_user_facts f JOIN analytics_cohort_counts c USING (cohort_month, channel)
         WHERE f.user_id = $1",
    )
    .bind(user.get())
    .fetch_one(&mut observer)
    .await
    .unwrap();
    assert_eq!(first, Some(created + Duration::days(1)));
    assert_eq!(activated, 1);
    assert_eq!(seconds_text_to_micros(&seconds), 86_400_000_000);
}

#[tokio::test]
async fn the_small_views_count_utc_days_and_skip_test_users() {
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let mut conn = db.connect().await;
    let now = db_now(&mut conn).await;
    let today = now.date_naive();
    let midnight = Utc.from_utc_datetime(&today.and_hms_opt(0, 0, 0).unwrap());
    let mut ids = Vec::new();
    for (i, (created, is_test)) in [
        (now - Duration::hours(2), false),
        (now - Duration::days(3), false),
        (now - Duration::days(20), false),
        (now - Duration::days(45), false),
        (now + Duration::hours(5), false),
        (now - Duration::hours(1), true),
    ]
    .into_iter()
    .enumerate()
    {
        let raw: UserId = sqlx::query_scalar("INSERT INTO users (telegram_user_id, created_at, is_test) VALUES ($1, $2, $3) RETURNING id")
            .bind(100 + i as i64)
            .bind(created)
            .bind(is_test)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        ids.push(raw);
    }
    let stats = analytics::user_stats(&mut conn).await.unwrap();
    assert_eq!(
        stats,
        analytics::UserStats {
            total_users: 5,
            users_today: 1,
            users_week: 2,
            users_month: 3
        },
        "future and test users are in no window"
    );

    // Events: two users just before and just after today's UTC midnight, a test user's event, an
    // event without a user, and one 40 days ago.
    let yesterday_late = midnight - Duration::minutes(10);
    let today_early = midnight + Duration::minutes(10).min(now - midnight);
    for (user, at) in [
        (Some(ids[0]), yesterday_late),
        (Some(ids[1]), yesterday_late),
        (Some(ids[1]), yesterday_late),
        (Some(ids[0]), today_early),
        (Some(ids[5]), today_early),
        (None, today_early),
        (Some(ids[0]), now - Duration::days(40)),
    ] {
        sqlx::query("INSERT INTO user_events (user_id, event_type, created_at) VALUES ($1, 'letter_started', $2)")
            .bind(user.map(UserId::get))
            .bind(at)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    // LLM calls: three on one model today (one failed), one of a test user.
    for (user, ok, ms) in [
        (ids[0], true, 1000),
        (ids[1], true, 2001),
        (ids[1], false, 3000),
        (ids[5], true, 10),
    ] {
        sqlx::query(
            "INSERT INTO openai_requests (user_id, provider, model, request_type, prompt_tokens, completion_tokens,
                                          total_tokens, response_time_ms, success, created_at)
             VALUES ($1, 'openai', 'gpt-4o', 'letter_generation', 10, 20, 30, $2, $3, $4)",
        )
        .bind(user.get())
        .bind(ms)
        .bind(ok)
        .bind(today_early)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    // Letters: two of real users in the last 30 days, one of a test user, one too old.
    for (user, letter, seconds, age) in [
        (ids[0], "ten chars.", 2.0, Duration::hours(1)),
        (ids[1], "twenty characters...", 3.0, Duration::days(29)),
        (ids[5], "a test user's letter", 100.0, Duration::hours(1)),
        (ids[0], "old", 50.0, Duration::days(31)),
    ] {
        sqlx::query(
            "INSERT INTO letter_sessions (user_id, status, model_used, generated_letter, job_description,
                                          generation_time_seconds, created_at)
             VALUES ($1, 'completed', 'gpt-4o', $2, 'job', $3, $4)",
        )
        .bind(user.get())
        .bind(letter)
        .bind(seconds)
        .bind(now - age)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let sessions = analytics::session_stats(&mut conn).await.unwrap();
    assert_eq!(
        sessions,
        vec![analytics::SessionStatsRow {
            status: "completed".into(),
            model_used: Some("gpt-4o".into()),
            sessions: 2,
            avg_generation_time_seconds: Some(2.5),
            avg_letter_length: Some(15.0),
            avg_resume_length: None,
            avg_job_description_length: Some(3.0),
        }]
    );
    for tz in TIME_ZONES {
        sqlx::query(&format!("SET TimeZone = '{tz}'"))
            .execute(&mut conn)
            .await
            .unwrap();
        let activity = analytics::user_activity(&mut conn).await.unwrap();
        let yesterday = today.pred_opt().unwrap();
        assert_eq!(
            activity,
            vec![
                analytics::ActivityRow {
                    date: today,
                    active_users: 1,
                    total_events: 2
                },
                analytics::ActivityRow {
                    date: yesterday,
                    active_users: 2,
                    total_events: 3
                },
            ],
            "TimeZone {tz}"
        );
        let usage = analytics::openai_usage(&mut conn).await.unwrap();
        assert_eq!(usage.len(), 1, "TimeZone {tz}");
        let u = &usage[0];
        assert_eq!(
            (u.date, u.requests, u.prompt_tokens, u.total_tokens),
            (today, 3, 30, 90)
        );
        assert_eq!(u.success_rate, Hundredths::from_hundredths(6667));
        assert_eq!(u.avg_response_time_ms, Hundredths::from_hundredths(200033));
    }
}
