//! The operator reports: typed rows of the analytics views (schema.md, "Views") and their queries.
//!
//! Every function takes any executor, so a caller can run a report on a connection whose session
//! settings it chose (the views give the same answer whatever the session `TimeZone` is).

use std::fmt;

use chrono::NaiveDate;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Serialize, Serializer};
use sqlx::PgExecutor;

use crate::StoreError;

/// A decimal with exactly two fractional digits (a `numeric` the views round to 2 places),
/// kept as an integer number of hundredths so it is compared and printed exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hundredths(i64);

impl Hundredths {
    pub fn from_hundredths(hundredths: i64) -> Self {
        Self(hundredths)
    }

    pub fn hundredths(self) -> i64 {
        self.0
    }

    /// `100 * part / whole` as a percentage rounded half away from zero to 2 decimals, as
    /// PostgreSQL's `round(numeric, 2)` does; None when `whole` is 0.
    pub fn percent(part: i64, whole: i64) -> Option<Self> {
        if whole == 0 {
            return None;
        }
        // Exact for any i64 counts: 28 significant digits, and the quotient is rounded once.
        let pct = (Decimal::from(part) * Decimal::ONE_HUNDRED / Decimal::from(whole))
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        (pct * Decimal::ONE_HUNDRED).to_i64().map(Self)
    }

    /// The value as a float, for consumers that want a number (JSON output).
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

impl fmt::Display for Hundredths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Serialize for Hundredths {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.to_f64())
    }
}

/// One row of `user_cohorts_basic`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CohortRow {
    pub cohort_month: NaiveDate,
    pub acquisition_channel: String,
    pub cohort_size: i64,
    pub activated_users: i64,
    pub premium_users: i64,
    /// Mean days from signup to the first completed letter; None when nobody is activated.
    pub avg_days_to_first_generation: Option<Hundredths>,
}

impl CohortRow {
    /// Activated users as a percentage of the cohort.
    pub fn activation_pct(&self) -> Option<Hundredths> {
        Hundredths::percent(self.activated_users, self.cohort_size)
    }

    /// Premium users as a percentage of the cohort.
    pub fn premium_pct(&self) -> Option<Hundredths> {
        Hundredths::percent(self.premium_users, self.cohort_size)
    }
}

/// `user_stats`: the one row of user counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserStats {
    pub total_users: i64,
    pub users_today: i64,
    pub users_week: i64,
    pub users_month: i64,
}

/// One row of `session_stats` (last 30 days, per status and model).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionStatsRow {
    pub status: String,
    pub model_used: Option<String>,
    pub sessions: i64,
    pub avg_generation_time_seconds: Option<f64>,
    pub avg_letter_length: Option<f64>,
    pub avg_resume_length: Option<f64>,
    pub avg_job_description_length: Option<f64>,
}

/// One row of `user_activity` (a UTC date of the last 30).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActivityRow {
    pub date: NaiveDate,
    pub active_users: i64,
    pub total_events: i64,
}

/// One row of `openai_usage` (a UTC date and model of the last 30 days).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    pub date: NaiveDate,
    pub model: String,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub avg_response_time_ms: Hundredths,
    /// Percent of successful requests.
    pub success_rate: Hundredths,
}

/// One cell of `user_retention_monthly`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionCell {
    pub cohort_month: NaiveDate,
    pub cohort_size: i64,
    /// 0 = the signup month.
    pub months_after_signup: i32,
    /// Users of the cohort with a completed letter in that month; None while the month has not begun.
    pub retained_users: Option<i64>,
    pub retention_pct: Option<Hundredths>,
}

/// The cohort report, newest month first, channels alphabetically.
pub async fn cohorts<'c>(db: impl PgExecutor<'c>) -> Result<Vec<CohortRow>, StoreError> {
    let rows: Vec<(NaiveDate, String, i64, i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT cohort_month, acquisition_channel, cohort_size, activated_users, premium_users,
                (avg_days_to_first_generation * 100)::bigint
         FROM user_cohorts_basic
         ORDER BY cohort_month DESC, acquisition_channel",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                cohort_month,
                acquisition_channel,
                cohort_size,
                activated_users,
                premium_users,
                avg,
            )| CohortRow {
                cohort_month,
                acquisition_channel,
                cohort_size,
                activated_users,
                premium_users,
                avg_days_to_first_generation: avg.map(Hundredths),
            },
        )
        .collect())
}

/// The user counts.
pub async fn user_stats<'c>(db: impl PgExecutor<'c>) -> Result<UserStats, StoreError> {
    let (total_users, users_today, users_week, users_month): (i64, i64, i64, i64) =
        sqlx::query_as("SELECT total_users, users_today, users_week, users_month FROM user_stats")
            .fetch_one(db)
            .await?;
    Ok(UserStats {
        total_users,
        users_today,
        users_week,
        users_month,
    })
}

/// Letter sessions of the last 30 days per status and model, busiest first.
pub async fn session_stats<'c>(
    db: impl PgExecutor<'c>,
) -> Result<Vec<SessionStatsRow>, StoreError> {
    type Raw = (
        String,
        Option<String>,
        i64,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
    );
    let rows: Vec<Raw> = sqlx::query_as(
        "SELECT status, model_used, sessions, avg_generation_time_seconds::float8,
                avg_letter_length::float8, avg_resume_length::float8, avg_job_description_length::float8
         FROM session_stats
         ORDER BY sessions DESC, status, model_used NULLS LAST",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(status, model_used, sessions, gen, letter, resume, job)| SessionStatsRow {
                status,
                model_used,
                sessions,
                avg_generation_time_seconds: gen,
                avg_letter_length: letter,
                avg_resume_length: resume,
                avg_job_description_length: job,
            },
        )
        .collect())
}

/// Active users and events per UTC date of the last 30, newest first.
pub async fn user_activity<'c>(db: impl PgExecutor<'c>) -> Result<Vec<ActivityRow>, StoreError> {
    let rows: Vec<(NaiveDate, i64, i64)> = sqlx::query_as(
        "SELECT date, active_users, total_events FROM user_activity ORDER BY date DESC",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(date, active_users, total_events)| ActivityRow {
            date,
            active_users,
            total_events,
        })
        .collect())
}

/// LLM usage per UTC date and model of the last 30 days, newest first.
pub async fn openai_usage<'c>(db: impl PgExecutor<'c>) -> Result<Vec<UsageRow>, StoreError> {
    type Raw = (NaiveDate, String, i64, i64, i64, i64, i64, i64);
    let rows: Vec<Raw> = sqlx::query_as(
        "SELECT date, model, requests, prompt_tokens, completion_tokens, total_tokens,
                (avg_response_time_ms * 100)::bigint, (success_rate * 100)::bigint
         FROM openai_usage
         ORDER BY date DESC, model",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                date,
                model,
                requests,
                prompt_tokens,
                completion_tokens,
                total_tokens,
                avg_ms,
                success,
            )| UsageRow {
                date,
                model,
                requests,
                prompt_tokens,
                completion_tokens,
                total_tokens,
                avg_response_time_ms: Hundredths(avg_ms),
                success_rate: Hundredths(success),
            },
        )
        .collect())
}

/// The retention triangle, one cell per (cohort, month after signup), oldest cohort first.
pub async fn retention<'c>(db: impl PgExecutor<'c>) -> Result<Vec<RetentionCell>, StoreError> {
    type Raw = (NaiveDate, i64, i32, Option<i64>, Option<i64>);
    let rows: Vec<Raw> = sqlx::query_as(
        "SELECT cohort_month, cohort_size, months_after_signup, retained_users,
                (retention_pct * 100)::bigint
         FROM user_retention_monthly
         ORDER BY cohort_month, months_after_signup",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(cohort_month, cohort_size, months_after_signup, retained_users, pct)| RetentionCell {
                cohort_month,
                cohort_size,
                months_after_signup,
                retained_users,
                retention_pct: pct.map(Hundredths),
            },
        )
        .collect())
}

/// Whether the analytics summaries cover every user (false after a migration created them on a
/// database that already had rows, until [`rebuild_summaries`] runs). False too when the summary
/// tables do not exist at all.
pub async fn summaries_filled(pool: &sqlx::PgPool) -> Result<bool, StoreError> {
    for mark in [
        "analytics_summary_state",
        "analytics_retention_state",
        "analytics_funnel_state",
    ] {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(mark)
            .fetch_one(pool)
            .await?;
        if !exists {
            return Ok(false);
        }
        let filled: bool = sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM {mark})"))
            .fetch_one(pool)
            .await?;
        if !filled {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Recomputes the analytics summaries from the base tables (`analytics_rebuild()`, which also
/// rebuilds the retention, premium-expiry, funnel and revenue summaries): needed once when the summaries are added
/// to a database that already has users; triggers keep them exact afterwards.
pub async fn rebuild_summaries<'c>(db: impl PgExecutor<'c>) -> Result<(), StoreError> {
    sqlx::query("SELECT analytics_rebuild()")
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Hundredths;

    #[test]
    fn percentages_round_half_away_from_zero_like_postgres() {
        assert_eq!(Hundredths::percent(1, 3), Some(Hundredths(3333)));
        assert_eq!(Hundredths::percent(2, 3), Some(Hundredths(6667)));
        assert_eq!(Hundredths::percent(1, 8), Some(Hundredths(1250)));
        assert_eq!(Hundredths::percent(1, 16), Some(Hundredths(625)));
        assert_eq!(Hundredths::percent(1, 1600), Some(Hundredths(6)));
        assert_eq!(Hundredths::percent(1, 800), Some(Hundredths(13)));
        assert_eq!(Hundredths::percent(-1, 800), Some(Hundredths(-13)));
        assert_eq!(Hundredths::percent(1, 0), None);
    }

    #[test]
    fn hundredths_print_with_two_decimals() {
        assert_eq!(Hundredths(1234).to_string(), "12.34");
        assert_eq!(Hundredths(5).to_string(), "0.05");
        assert_eq!(Hundredths(-5).to_string(), "-0.05");
        assert_eq!(Hundredths(-250).to_string(), "-2.50");
    }
}
