//! Plans and quota in SQL: the atomic check-and-count under a race, giving letters back, window
//! rollovers and premium expiry, all with an explicit clock.

use chrono::{DateTime, Duration, Utc};
use domain::{Plan, QuotaRules, TelegramUserId, UserId};
use sqlx::PgPool;
use store::{quota, users};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn db() -> PgPool {
    testkit::db_with("declared", &store::declared_sql())
        .await
        .pool()
        .await
}

async fn user(pool: &PgPool, tg: i64) -> UserId {
    let mut conn = pool.acquire().await.unwrap();
    let profile = users::Profile::bare(TelegramUserId::parse(tg).unwrap());
    users::upsert(&mut conn, &profile, Utc::now())
        .await
        .unwrap()
        .id
}

const RULES: QuotaRules = QuotaRules {
    free_letters_per_month: 3,
    premium_letters_per_day: 20,
};

#[tokio::test]
async fn twenty_concurrent_takes_of_the_last_letter_give_exactly_one() {
    let pool = db().await;
    let u = user(&pool, 101).await;
    let now = t("2026-04-10T10:00:00Z");
    let mut conn = pool.acquire().await.unwrap();
    for _ in 0..2 {
        assert!(quota::take_letter(&mut conn, u, &RULES, now)
            .await
            .unwrap()
            .is_some());
    }
    drop(conn);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = pool.acquire().await.unwrap();
            quota::take_letter(&mut conn, u, &RULES, now).await.unwrap()
        }));
    }
    let mut granted = 0;
    for task in tasks {
        if task.await.unwrap().is_some() {
            granted += 1;
        }
    }
    assert_eq!(granted, 1);
    let used: i32 = sqlx::query_scalar(
        "SELECT letters_used FROM subscriptions WHERE user_id = $1 AND status = 'active'",
    )
    .bind(u.get())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(used, 3);
}

#[tokio::test]
async fn a_letter_given_back_can_be_taken_again_but_not_into_a_new_window() {
    let pool = db().await;
    let u = user(&pool, 102).await;
    let mut conn = pool.acquire().await.unwrap();
    let now = t("2026-04-30T23:00:00Z");
    let g = quota::take_letter(&mut conn, u, &RULES, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((g.letters_used, g.letters_limit), (1, 3));
    assert!(quota::give_back(&mut conn, &g).await.unwrap());
    assert_eq!(
        quota::current(&mut conn, u, &RULES, now)
            .await
            .unwrap()
            .letters_used,
        0
    );

    let g = quota::take_letter(&mut conn, u, &RULES, now)
        .await
        .unwrap()
        .unwrap();
    let next_month = t("2026-05-01T00:00:00Z");
    assert_eq!(
        quota::current(&mut conn, u, &RULES, next_month)
            .await
            .unwrap()
            .letters_used,
        0
    );
    // The failed letter belonged to April: giving it back must not push May below zero or credit it.
    assert!(!quota::give_back(&mut conn, &g).await.unwrap());
    assert_eq!(
        quota::current(&mut conn, u, &RULES, next_month)
            .await
            .unwrap()
            .letters_left(),
        3
    );
}

#[tokio::test]
async fn the_free_quota_resets_on_the_first_of_the_utc_month() {
    let pool = db().await;
    let u = user(&pool, 103).await;
    let mut conn = pool.acquire().await.unwrap();
    let april = t("2026-04-02T12:00:00Z");
    for _ in 0..3 {
        assert!(quota::take_letter(&mut conn, u, &RULES, april)
            .await
            .unwrap()
            .is_some());
    }
    assert!(
        quota::take_letter(&mut conn, u, &RULES, t("2026-04-30T23:59:59Z"))
            .await
            .unwrap()
            .is_none()
    );
    let sub = quota::take_letter(&mut conn, u, &RULES, t("2026-05-01T00:00:01Z"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sub.letters_used, 1);
    let cur = quota::current(&mut conn, u, &RULES, t("2026-05-01T00:00:01Z"))
        .await
        .unwrap();
    assert_eq!(
        (cur.window.start, cur.window.end),
        (t("2026-05-01T00:00:00Z"), t("2026-06-01T00:00:00Z"))
    );
}

#[tokio::test]
async fn premium_counts_per_utc_day_and_expires_back_to_free() {
    let pool = db().await;
    let u = user(&pool, 104).await;
    let rules = QuotaRules {
        free_letters_per_month: 3,
        premium_letters_per_day: 2,
    };
    let paid_at = t("2026-04-10T20:00:00Z");
    let mut tx = pool.begin().await.unwrap();
    let end = quota::activate_premium(&mut tx, u, &rules, paid_at, 30)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(end, t("2026-05-10T20:00:00Z"));

    let mut conn = pool.acquire().await.unwrap();
    assert!(quota::take_letter(&mut conn, u, &rules, paid_at)
        .await
        .unwrap()
        .is_some());
    assert!(quota::take_letter(&mut conn, u, &rules, paid_at)
        .await
        .unwrap()
        .is_some());
    assert!(
        quota::take_letter(&mut conn, u, &rules, t("2026-04-10T23:59:00Z"))
            .await
            .unwrap()
            .is_none()
    );
    // The next UTC day has a fresh daily quota.
    assert!(
        quota::take_letter(&mut conn, u, &rules, t("2026-04-11T00:00:00Z"))
            .await
            .unwrap()
            .is_some()
    );

    let after = t("2026-05-10T20:00:01Z");
    let sub = quota::current(&mut conn, u, &rules, after).await.unwrap();
    assert_eq!(
        (sub.plan, sub.letters_limit, sub.letters_used),
        (Plan::Free, 3, 0)
    );
    let statuses: Vec<(String, String)> = sqlx::query_as(
        "SELECT plan_type, status FROM subscriptions WHERE user_id = $1 ORDER BY id",
    )
    .bind(u.get())
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        statuses,
        vec![
            ("free".to_string(), "cancelled".to_string()),
            ("premium".to_string(), "expired".to_string()),
            ("free".to_string(), "active".to_string()),
        ]
    );
}

#[tokio::test]
async fn a_payment_during_premium_extends_it_and_a_refund_takes_the_days_back() {
    let pool = db().await;
    let u = user(&pool, 105).await;
    let now = t("2026-04-01T00:00:00Z");
    let mut tx = pool.begin().await.unwrap();
    let first = quota::activate_premium(&mut tx, u, &RULES, now, 30)
        .await
        .unwrap();
    let second = quota::activate_premium(&mut tx, u, &RULES, now + Duration::days(5), 30)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(first, t("2026-05-01T00:00:00Z"));
    assert_eq!(second, t("2026-05-31T00:00:00Z"));

    let mut conn = pool.acquire().await.unwrap();
    let later = now + Duration::days(6);
    assert_eq!(
        quota::revoke_premium_days(&mut conn, u, &RULES, later, 30)
            .await
            .unwrap(),
        Some(first)
    );
    // Revoking the first payment too ends premium at once.
    assert_eq!(
        quota::revoke_premium_days(&mut conn, u, &RULES, later, 30)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        quota::current(&mut conn, u, &RULES, later)
            .await
            .unwrap()
            .plan,
        Plan::Free
    );
}
