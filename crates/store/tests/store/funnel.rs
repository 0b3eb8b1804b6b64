//! The funnel and revenue views against a computation in Rust from an in-memory copy of generated
//! data (events, letters, ratings, improvements, payments), read in four session time zones; after
//! updates and deletes (the summaries follow them), unfilled (the base tables) and rebuilt.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use sqlx::{Connection, PgConnection};
use store::funnel::{self, FunnelRow, RevenueRow};
use uuid::Uuid;

const TIME_ZONES: [&str; 4] = [
    "UTC",
    "Europe/Moscow",
    "America/Los_Angeles",
    "Pacific/Kiritimati",
];

#[derive(Debug, Clone, Default)]
struct Letter {
    job_description: bool,
    resume: bool,
    completed: bool,
    feedback: bool,
    improvements: i32,
}

#[derive(Debug, Clone)]
struct Payment {
    currency: &'static str,
    amount: i64,
    status: &'static str,
}

#[derive(Debug, Clone)]
struct User {
    created_at: DateTime<Utc>,
    is_test: bool,
    utm_source: Option<&'static str>,
    referred: bool,
    events: Vec<&'static str>,
    letters: Vec<Letter>,
    payments: Vec<Payment>,
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

fn channel(u: &User) -> String {
    match (u.utm_source, u.referred) {
        (Some(s), _) => s.to_string(),
        (None, true) => "referral".into(),
        (None, false) => "direct".into(),
    }
}

fn in_window(users: &[User], now: DateTime<Utc>) -> impl Iterator<Item = &User> {
    let first = add_months(month_of(now), -11);
    users
        .iter()
        .filter(move |u| !u.is_test && u.created_at <= now && month_of(u.created_at) >= first)
}

fn expected_funnel(users: &[User], now: DateTime<Utc>) -> Vec<FunnelRow> {
    let mut groups: BTreeMap<(NaiveDate, String), [i64; 7]> = BTreeMap::new();
    for u in in_window(users, now) {
        let did = [
            true,
            u.events.contains(&"vacancy_sent") || u.letters.iter().any(|l| l.job_description),
            u.events.contains(&"resume_sent") || u.letters.iter().any(|l| l.resume),
            u.letters.iter().any(|l| l.completed),
            u.letters.iter().any(|l| l.feedback || l.improvements > 0),
            u.events.contains(&"invoice_sent") || !u.payments.is_empty(),
            u.payments
                .iter()
                .any(|p| p.status == "succeeded" || p.status == "refunded"),
        ];
        let counts = groups
            .entry((month_of(u.created_at), channel(u)))
            .or_default();
        for (k, count) in counts.iter_mut().enumerate() {
            if did[..=k].iter().all(|d| *d) {
                *count += 1;
            }
        }
    }
    let mut rows: Vec<FunnelRow> = groups
        .into_iter()
        .map(|((month, channel), steps)| FunnelRow {
            cohort_month: month,
            acquisition_channel: channel,
            steps,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.cohort_month
            .cmp(&a.cohort_month)
            .then(a.acquisition_channel.cmp(&b.acquisition_channel))
    });
    rows
}

fn expected_revenue(users: &[User], now: DateTime<Utc>) -> Vec<RevenueRow> {
    #[derive(Default)]
    struct Acc {
        paying: BTreeSet<usize>,
        payments: i64,
        gross: i64,
        refunded: i64,
    }
    let mut groups: BTreeMap<(NaiveDate, String, &str), Acc> = BTreeMap::new();
    for (i, u) in in_window(users, now).enumerate() {
        for p in &u.payments {
            if p.status != "succeeded" && p.status != "refunded" {
                continue;
            }
            let acc = groups
                .entry((month_of(u.created_at), channel(u), p.currency))
                .or_default();
            acc.payments += 1;
            acc.gross += p.amount;
            if p.status == "refunded" {
                acc.refunded += p.amount;
            } else {
                acc.paying.insert(i);
            }
        }
    }
    let mut rows: Vec<RevenueRow> = groups
        .into_iter()
        .map(|((month, channel, currency), acc)| RevenueRow {
            cohort_month: month,
            acquisition_channel: channel,
            currency: currency.to_string(),
            paying_users: acc.paying.len() as i64,
            payments: acc.payments,
            gross_minor: acc.gross,
            refunded_minor: acc.refunded,
            net_minor: acc.gross - acc.refunded,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.cohort_month
            .cmp(&a.cohort_month)
            .then(a.acquisition_channel.cmp(&b.acquisition_channel))
            .then(a.currency.cmp(&b.currency))
    });
    rows
}

fn user(created_at: DateTime<Utc>) -> User {
    User {
        created_at,
        is_test: false,
        utm_source: None,
        referred: false,
        events: Vec::new(),
        letters: Vec::new(),
        payments: Vec::new(),
    }
}

fn paid_letter() -> Letter {
    Letter {
        job_description: true,
        resume: true,
        completed: true,
        feedback: true,
        improvements: 1,
    }
}

/// Edge cases by hand, then a deterministic crowd over 15 months.
fn generate(now: DateTime<Utc>) -> Vec<User> {
    let mut users = Vec::new();
    let boundary = month_start(add_months(month_of(now), -2));
    // Either side of a UTC month boundary, where Moscow, Los Angeles and Kiritimati disagree.
    let mut late = user(boundary - Duration::minutes(30));
    late.events = vec!["vacancy_sent", "resume_sent", "invoice_sent"];
    late.letters.push(paid_letter());
    late.payments.push(Payment {
        currency: "XTR",
        amount: 150,
        status: "succeeded",
    });
    users.push(late);
    let mut early = user(boundary + Duration::minutes(20));
    early.utm_source = Some("google");
    early.letters.push(paid_letter());
    early.payments.push(Payment {
        currency: "XTR",
        amount: 150,
        status: "refunded",
    });
    early.payments.push(Payment {
        currency: "RUB",
        amount: 19_900,
        status: "succeeded",
    });
    users.push(early);
    // Paid without ever rating or improving: stops at first_letter in the ordered funnel.
    let mut skipper = user(boundary + Duration::days(3));
    skipper.letters.push(Letter {
        job_description: true,
        resume: true,
        completed: true,
        ..Letter::default()
    });
    skipper.payments.push(Payment {
        currency: "XTR",
        amount: 150,
        status: "succeeded",
    });
    users.push(skipper);
    // Out of every figure: a test user, a user created in the future, one before the window.
    let mut tester = user(boundary + Duration::days(4));
    tester.is_test = true;
    tester.letters.push(paid_letter());
    tester.payments.push(Payment {
        currency: "XTR",
        amount: 150,
        status: "succeeded",
    });
    users.push(tester);
    let mut future = user(now + Duration::hours(2));
    future.payments.push(Payment {
        currency: "XTR",
        amount: 150,
        status: "succeeded",
    });
    users.push(future);
    let first_window_month = add_months(month_of(now), -11);
    let mut before = user(month_start(first_window_month) - Duration::microseconds(1));
    before.payments.push(Payment {
        currency: "RUB",
        amount: 100,
        status: "succeeded",
    });
    users.push(before);
    let mut first = user(month_start(first_window_month));
    first.events.push("vacancy_sent");
    users.push(first);

    let mut seed: u64 = 0xf0_11e1;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let sources = [None, Some("google"), Some("vk"), Some("yandex")];
    let event_kinds = [
        "vacancy_sent",
        "resume_sent",
        "invoice_sent",
        "start",
        "limit_reached",
    ];
    let statuses = ["succeeded", "succeeded", "refunded", "pending", "failed"];
    for _ in 0..160 {
        let mut u = user(now - Duration::seconds(next(450 * 86_400) as i64));
        u.is_test = next(20) == 0;
        u.utm_source = sources[next(4) as usize];
        u.referred = u.utm_source.is_none() && next(3) == 0;
        for _ in 0..next(4) {
            u.events.push(event_kinds[next(5) as usize]);
        }
        for _ in 0..next(4) {
            u.letters.push(Letter {
                job_description: next(5) != 0,
                resume: next(3) != 0,
                completed: next(2) == 0,
                feedback: next(3) == 0,
                improvements: next(3) as i32 - 1,
            });
        }
        for _ in 0..next(3) {
            let currency = ["XTR", "RUB"][next(2) as usize];
            u.payments.push(Payment {
                currency,
                amount: if currency == "XTR" {
                    150
                } else {
                    9_900 + next(3) as i64 * 5_000
                },
                status: statuses[next(5) as usize],
            });
        }
        users.push(u);
    }
    users
}

/// Inserts the users and their rows; returns their ids, in order.
async fn insert(conn: &mut PgConnection, users: &[User]) -> Vec<i64> {
    let referrer: i64 = sqlx::query_scalar(
        "INSERT INTO users (telegram_user_id, username) VALUES (9100000000, 'referrer') RETURNING id",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    // The referrer itself is a test account, so it is in no figure.
    sqlx::query("UPDATE users SET is_test = true WHERE id = $1")
        .bind(referrer)
        .execute(&mut *conn)
        .await
        .unwrap();
    let mut payment_no = 0;
    let mut ids = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (telegram_user_id, is_test, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(9_000_000_000_i64 + i as i64)
        .bind(u.is_test)
        .bind(u.created_at)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        ids.push(id);
        if u.utm_source.is_some() || u.referred {
            sqlx::query("INSERT INTO acquisition_channels (user_id, utm_source, referral_user_id) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(u.utm_source)
                .bind(u.referred.then_some(referrer))
                .execute(&mut *conn)
                .await
                .unwrap();
        }
        for e in &u.events {
            sqlx::query("INSERT INTO user_events (user_id, event_type) VALUES ($1, $2)")
                .bind(id)
                .bind(e)
                .execute(&mut *conn)
                .await
                .unwrap();
        }
        for l in &u.letters {
            let session = Uuid::new_v4();
            sqlx::query(
                "INSERT INTO letter_sessions (id, user_id, status, job_description, resume_text, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(session)
            .bind(id)
            .bind(if l.completed { "completed" } else { "abandoned" })
            .bind(l.job_description.then_some("a vacancy"))
            .bind(l.resume.then_some("a resume"))
            .bind(u.created_at + Duration::hours(1))
            .execute(&mut *conn)
            .await
            .unwrap();
            if l.feedback {
                sqlx::query("INSERT INTO letter_feedback (session_id, user_id, feedback_type) VALUES ($1, $2, 'like')")
                    .bind(session)
                    .bind(id)
                    .execute(&mut *conn)
                    .await
                    .unwrap();
            }
            for n in 1..=l.improvements {
                sqlx::query("INSERT INTO letter_iterations (session_id, user_id, iteration_number) VALUES ($1, $2, $3)")
                    .bind(session)
                    .bind(id)
                    .bind(n)
                    .execute(&mut *conn)
                    .await
                    .unwrap();
            }
        }
        for p in &u.payments {
            payment_no += 1;
            sqlx::query(
                "INSERT INTO payments (user_id, provider, provider_payment_id, amount_minor, currency, status)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(if p.currency == "XTR" { "telegram_stars" } else { "yookassa" })
            .bind(format!("charge-{payment_no}"))
            .bind(p.amount)
            .bind(p.currency)
            .bind(p.status)
            .execute(&mut *conn)
            .await
            .unwrap();
        }
    }
    ids
}

async fn loaded() -> (testkit::TestDb, Vec<User>, Vec<i64>) {
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let mut conn = db.connect().await;
    sqlx::query("SET TimeZone = 'America/Los_Angeles'")
        .execute(&mut conn)
        .await
        .unwrap();
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let users = generate(now);
    let ids = insert(&mut conn, &users).await;
    (db, users, ids)
}

/// Both reports in every session time zone, each read in one transaction, against the model.
async fn assert_reports_match(conn: &mut PgConnection, users: &[User], when: &str) {
    for tz in TIME_ZONES {
        sqlx::query(&format!("SET TimeZone = '{tz}'"))
            .execute(&mut *conn)
            .await
            .unwrap();
        let mut tx = conn.begin().await.unwrap();
        let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        let rows = funnel::funnel(&mut *tx).await.unwrap();
        let revenue = funnel::revenue(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            rows,
            expected_funnel(users, now),
            "user_funnel {when}, TimeZone {tz}"
        );
        assert_eq!(
            revenue,
            expected_revenue(users, now),
            "user_cohort_revenue {when}, TimeZone {tz}"
        );
    }
}

#[tokio::test]
async fn the_funnel_and_revenue_match_the_rust_computation_in_every_session_time_zone() {
    let (db, users, _) = loaded().await;
    let mut conn = db.connect().await;
    for tz in TIME_ZONES {
        sqlx::query(&format!("SET TimeZone = '{tz}'"))
            .execute(&mut conn)
            .await
            .unwrap();
        let mut tx = conn.begin().await.unwrap();
        let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        let rows = funnel::funnel(&mut *tx).await.unwrap();
        let revenue = funnel::revenue(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            rows,
            expected_funnel(&users, now),
            "user_funnel, TimeZone {tz}"
        );
        assert_eq!(
            revenue,
            expected_revenue(&users, now),
            "user_cohort_revenue, TimeZone {tz}"
        );

        // The edge cases land where they should (guards against a dataset that no longer has them).
        let boundary = add_months(month_of(now), -2);
        let direct_before = rows
            .iter()
            .find(|r| {
                r.cohort_month == add_months(boundary, -1) && r.acquisition_channel == "direct"
            })
            .expect("the 23:30 user's cohort");
        assert!(direct_before.steps[6] >= 1, "{direct_before:?}");
        assert!(rows
            .iter()
            .all(|r| r.steps.windows(2).all(|w| w[0] >= w[1])));
        let google = revenue
            .iter()
            .filter(|r| r.cohort_month == boundary && r.acquisition_channel == "google")
            .collect::<Vec<_>>();
        assert!(
            google
                .iter()
                .any(|r| r.currency == "XTR" && r.refunded_minor >= 150),
            "{google:?}"
        );
        assert!(google
            .iter()
            .any(|r| r.currency == "RUB" && r.net_minor >= 19_900));
        assert!(rows
            .iter()
            .all(|r| r.cohort_month >= add_months(month_of(now), -11)));
    }
}

#[tokio::test]
async fn the_funnel_and_revenue_summaries_follow_updates_and_deletes_and_a_rebuild() {
    let (db, mut users, ids) = loaded().await;
    let mut conn = db.connect().await;
    let crowd: Vec<usize> = (7..users.len()).collect();

    // A refund, in one statement for several users' Stars payments.
    let refunded: Vec<usize> = crowd
        .iter()
        .copied()
        .filter(|&i| {
            users[i]
                .payments
                .iter()
                .any(|p| p.status == "succeeded" && p.currency == "XTR")
        })
        .step_by(2)
        .collect();
    let refunded_ids: Vec<i64> = refunded.iter().map(|&i| ids[i]).collect();
    sqlx::query("UPDATE payments SET status = 'refunded' WHERE user_id = ANY($1) AND status = 'succeeded' AND currency = 'XTR'")
        .bind(&refunded_ids)
        .execute(&mut conn)
        .await
        .unwrap();
    for &i in &refunded {
        for p in &mut users[i].payments {
            if p.status == "succeeded" && p.currency == "XTR" {
                p.status = "refunded";
            }
        }
    }
    assert!(!refunded.is_empty());

    // Every rating withdrawn; every resume wiped from the letters of a third of the crowd.
    sqlx::query("DELETE FROM letter_feedback")
        .execute(&mut conn)
        .await
        .unwrap();
    for u in &mut users {
        for l in &mut u.letters {
            l.feedback = false;
        }
    }
    let wiped: Vec<usize> = crowd.iter().copied().step_by(3).collect();
    let wiped_ids: Vec<i64> = wiped.iter().map(|&i| ids[i]).collect();
    sqlx::query("UPDATE letter_sessions SET resume_text = NULL WHERE user_id = ANY($1)")
        .bind(&wiped_ids)
        .execute(&mut conn)
        .await
        .unwrap();
    for &i in &wiped {
        for l in &mut users[i].letters {
            l.resume = false;
        }
    }
    // Quota bookkeeping on every letter changes nothing.
    sqlx::query("UPDATE letter_sessions SET iterations_used = iterations_used + 1")
        .execute(&mut conn)
        .await
        .unwrap();

    // A channel changes, a user turns out to be a test account, another moves a month back.
    let moved = crowd
        .iter()
        .copied()
        .find(|&i| users[i].utm_source.is_some())
        .unwrap();
    sqlx::query("UPDATE acquisition_channels SET utm_source = 'partner' WHERE user_id = $1")
        .bind(ids[moved])
        .execute(&mut conn)
        .await
        .unwrap();
    users[moved].utm_source = Some("partner");
    sqlx::query("UPDATE users SET is_test = true WHERE id = $1")
        .bind(ids[0])
        .execute(&mut conn)
        .await
        .unwrap();
    users[0].is_test = true;
    let older = users[1].created_at - Duration::days(40);
    sqlx::query("UPDATE users SET created_at = $2, last_activity_at = now() WHERE id = $1")
        .bind(ids[1])
        .bind(older)
        .execute(&mut conn)
        .await
        .unwrap();
    users[1].created_at = older;
    assert_reports_match(&mut conn, &users, "after updates").await;

    // Users deleted in one statement (their rows cascade), and one more invoice event.
    let gone: Vec<usize> = crowd.iter().copied().skip(1).step_by(4).collect();
    let gone_ids: Vec<i64> = gone.iter().map(|&i| ids[i]).collect();
    sqlx::query("DELETE FROM users WHERE id = ANY($1)")
        .bind(&gone_ids)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO user_events (user_id, event_type) VALUES ($1, 'invoice_sent')")
        .bind(ids[2])
        .execute(&mut conn)
        .await
        .unwrap();
    users[2].events.push("invoice_sent");
    let mut alive: Vec<User> = Vec::new();
    for (i, u) in users.iter().enumerate() {
        if !gone.contains(&i) {
            alive.push(u.clone());
        }
    }
    assert_reports_match(&mut conn, &alive, "after deletes").await;

    // As after a migration added the summaries: unmarked, the views read the base tables; a
    // rebuild fills and marks them.
    sqlx::raw_sql(
        "DELETE FROM analytics_funnel_counts; DELETE FROM analytics_user_funnel;
         DELETE FROM analytics_revenue_counts; DELETE FROM analytics_user_revenue;
         DELETE FROM analytics_funnel_state;",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let pool = db.pool().await;
    assert!(!store::analytics::summaries_filled(&pool).await.unwrap());
    assert_reports_match(&mut conn, &alive, "with the summaries unfilled").await;
    store::analytics::rebuild_summaries(&mut conn)
        .await
        .unwrap();
    assert!(store::analytics::summaries_filled(&pool).await.unwrap());
    let counters: i64 = sqlx::query_scalar("SELECT count(*) FROM analytics_funnel_counts")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(counters > 0);
    assert_reports_match(&mut conn, &alive, "after the rebuild").await;
}
