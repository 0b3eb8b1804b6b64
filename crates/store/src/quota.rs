//! Plans and quota (`subscriptions`): the current plan of a user with window rollover and premium
//! expiry, the atomic check-and-count of a letter, giving a letter back, and premium payments.
//!
//! Time is always passed in (the engine's clock), never read from the database, so rollovers can
//! be tested with a fake clock.

use chrono::{DateTime, Duration, Utc};
use domain::{Plan, QuotaRules, QuotaWindow, SubscriptionId, UserId};
use sqlx::PgConnection;

use crate::StoreError;

/// The active subscription row of a user, current at the time it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub plan: Plan,
    pub letters_limit: i32,
    pub letters_used: i32,
    pub window: QuotaWindow,
    pub period_end: Option<DateTime<Utc>>,
}

impl Subscription {
    pub fn letters_left(&self) -> i32 {
        (self.letters_limit - self.letters_used).max(0)
    }
}

/// One letter taken from the quota; give it back with [`give_back`] if the generation fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub subscription_id: SubscriptionId,
    pub plan: Plan,
    pub window_start: DateTime<Utc>,
    pub letters_used: i32,
    pub letters_limit: i32,
}

type Row = (
    SubscriptionId,
    String,
    i32,
    i32,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

fn from_row(r: Row) -> Result<Subscription, StoreError> {
    Ok(Subscription {
        id: r.0,
        plan: Plan::parse(&r.1).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        letters_limit: r.2,
        letters_used: r.3,
        window: QuotaWindow {
            start: r.4,
            end: r.5,
        },
        period_end: r.6,
    })
}

async fn active(conn: &mut PgConnection, user: UserId) -> Result<Option<Subscription>, StoreError> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, plan_type, letters_limit, letters_used, quota_window_start, quota_window_end, period_end
         FROM subscriptions WHERE user_id = $1 AND status = 'active'",
    )
    .bind(user.get())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(from_row).transpose()
}

async fn insert_free(
    conn: &mut PgConnection,
    user: UserId,
    rules: &QuotaRules,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let w = QuotaWindow::containing(Plan::Free, now);
    sqlx::query(
        "INSERT INTO subscriptions (user_id, plan_type, status, letters_limit, letters_used,
                                    quota_window_start, quota_window_end, created_at, updated_at)
         VALUES ($1, 'free', 'active', $2, 0, $3, $4, $5, $5)
         ON CONFLICT (user_id) WHERE status = 'active' DO NOTHING",
    )
    .bind(user.get())
    .bind(rules.limit(Plan::Free))
    .bind(w.start)
    .bind(w.end)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The user's active plan as of `now`: creates the free row if there is none, moves an expired
/// premium back to free (premium row 'expired', a new active free row), and starts a new quota
/// window when the old one is over. Each step is safe to run concurrently with itself.
pub async fn current(
    conn: &mut PgConnection,
    user: UserId,
    rules: &QuotaRules,
    now: DateTime<Utc>,
) -> Result<Subscription, StoreError> {
    for _ in 0..4 {
        let Some(sub) = active(conn, user).await? else {
            insert_free(conn, user, rules, now).await?;
            continue;
        };
        if sub.plan == Plan::Premium && sub.period_end.is_some_and(|end| end <= now) {
            let expired = sqlx::query("UPDATE subscriptions SET status = 'expired', updated_at = $2 WHERE id = $1 AND status = 'active'")
                .bind(sub.id)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            if expired.rows_affected() == 1 {
                insert_free(conn, user, rules, now).await?;
            }
            continue;
        }
        if !sub.window.contains(now) {
            let w = QuotaWindow::containing(sub.plan, now);
            sqlx::query(
                "UPDATE subscriptions SET letters_used = 0, letters_limit = $3, quota_window_start = $4,
                        quota_window_end = $5, updated_at = $2
                 WHERE id = $1 AND NOT (quota_window_start <= $2 AND $2 < quota_window_end)",
            )
            .bind(sub.id)
            .bind(now)
            .bind(rules.limit(sub.plan))
            .bind(w.start)
            .bind(w.end)
            .execute(&mut *conn)
            .await?;
            continue;
        }
        return Ok(sub);
    }
    Err(StoreError::Corrupt(format!(
        "the subscription of {user} did not settle"
    )))
}

/// Takes one letter from the quota if one is left: the check and the count are one statement, so
/// two concurrent calls can never both take the last letter.
pub async fn take_letter(
    conn: &mut PgConnection,
    user: UserId,
    rules: &QuotaRules,
    now: DateTime<Utc>,
) -> Result<Option<Grant>, StoreError> {
    if let Some(grant) = take_in_current_window(conn, user, now).await? {
        return Ok(Some(grant));
    }
    // Nothing taken: maybe there is no row yet, or its window or paid period is over.
    current(conn, user, rules, now).await?;
    take_in_current_window(conn, user, now).await
}

async fn take_in_current_window(
    conn: &mut PgConnection,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<Option<Grant>, StoreError> {
    let row: Option<(SubscriptionId, DateTime<Utc>, i32, i32, String)> = sqlx::query_as(
        "UPDATE subscriptions SET letters_used = letters_used + 1, updated_at = $2
         WHERE user_id = $1 AND status = 'active' AND letters_used < letters_limit
           AND quota_window_start <= $2 AND $2 < quota_window_end
           AND (period_end IS NULL OR period_end > $2)
         RETURNING id, quota_window_start, letters_used, letters_limit, plan_type",
    )
    .bind(user.get())
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(
        |(subscription_id, window_start, letters_used, letters_limit, plan)| {
            Ok(Grant {
                subscription_id,
                plan: Plan::parse(&plan).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                window_start,
                letters_used,
                letters_limit,
            })
        },
    )
    .transpose()
}

/// Gives a letter back after a failed generation. Nothing happens if its window is already over
/// (the new window's count starts from zero anyway).
pub async fn give_back(conn: &mut PgConnection, grant: &Grant) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE subscriptions SET letters_used = letters_used - 1
         WHERE id = $1 AND quota_window_start = $2 AND letters_used > 0",
    )
    .bind(grant.subscription_id)
    .bind(grant.window_start)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Activates or extends premium after a payment of `days`; run it in the transaction that records
/// the payment. Returns the new end of the paid period.
pub async fn activate_premium(
    conn: &mut PgConnection,
    user: UserId,
    rules: &QuotaRules,
    now: DateTime<Utc>,
    days: i64,
) -> Result<DateTime<Utc>, StoreError> {
    let sub = current(conn, user, rules, now).await?;
    // Lock the active row: two payments of one user must not both see "free".
    sqlx::query("SELECT 1 FROM subscriptions WHERE id = $1 FOR UPDATE")
        .bind(sub.id)
        .execute(&mut *conn)
        .await?;
    let sub = current(conn, user, rules, now).await?;
    if sub.plan == Plan::Premium {
        let (_, end) = domain::plan::premium_period_after_payment(now, sub.period_end, days);
        sqlx::query("UPDATE subscriptions SET period_end = $2, updated_at = $3 WHERE id = $1")
            .bind(sub.id)
            .bind(end)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        return Ok(end);
    }
    let (start, end) = domain::plan::premium_period_after_payment(now, None, days);
    sqlx::query("UPDATE subscriptions SET status = 'cancelled', updated_at = $2 WHERE id = $1")
        .bind(sub.id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let w = QuotaWindow::containing(Plan::Premium, now);
    sqlx::query(
        "INSERT INTO subscriptions (user_id, plan_type, status, letters_limit, letters_used, quota_window_start,
                                    quota_window_end, period_start, period_end, created_at, updated_at)
         VALUES ($1, 'premium', 'active', $2, 0, $3, $4, $5, $6, $5, $5)",
    )
    .bind(user.get())
    .bind(rules.limit(Plan::Premium))
    .bind(w.start)
    .bind(w.end)
    .bind(start)
    .bind(end)
    .execute(&mut *conn)
    .await?;
    Ok(end)
}

/// Takes back `days` of premium (a refund). Premium whose end moves into the past is expired and
/// the user is back on free. Returns the new end, or None when the user is no longer premium.
pub async fn revoke_premium_days(
    conn: &mut PgConnection,
    user: UserId,
    rules: &QuotaRules,
    now: DateTime<Utc>,
    days: i64,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let sub = current(conn, user, rules, now).await?;
    if sub.plan != Plan::Premium {
        return Ok(None);
    }
    let new_end = sub.period_end.map(|e| e - Duration::days(days));
    sqlx::query("UPDATE subscriptions SET period_end = $2, updated_at = $3 WHERE id = $1")
        .bind(sub.id)
        .bind(new_end)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let after = current(conn, user, rules, now).await?;
    Ok(if after.plan == Plan::Premium {
        after.period_end
    } else {
        None
    })
}
