//! The funnel and revenue reports: typed rows of the views `user_funnel` and `user_cohort_revenue`.

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::PgExecutor;

use crate::StoreError;

/// The funnel's steps in order, as the view's column names.
pub const FUNNEL_STEPS: [&str; 7] = [
    "started",
    "vacancy_sent",
    "resume_sent",
    "first_letter",
    "feedback_or_improvement",
    "invoice_sent",
    "paid",
];

/// One row of `user_funnel`: users of a (cohort month, channel) that reached each step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunnelRow {
    pub cohort_month: NaiveDate,
    pub acquisition_channel: String,
    /// Users per step, in the order of [`FUNNEL_STEPS`].
    pub steps: [i64; 7],
}

/// One row of `user_cohort_revenue`: money of a (cohort month, channel) in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevenueRow {
    pub cohort_month: NaiveDate,
    pub acquisition_channel: String,
    /// `XTR` (Telegram Stars) or `RUB` (amounts in kopecks).
    pub currency: String,
    pub paying_users: i64,
    pub payments: i64,
    pub gross_minor: i64,
    pub refunded_minor: i64,
    pub net_minor: i64,
}

/// The funnel, newest month first, channels alphabetically.
pub async fn funnel<'c>(db: impl PgExecutor<'c>) -> Result<Vec<FunnelRow>, StoreError> {
    type Raw = (NaiveDate, String, i64, i64, i64, i64, i64, i64, i64);
    let rows: Vec<Raw> = sqlx::query_as(
        "SELECT cohort_month, acquisition_channel, started, vacancy_sent, resume_sent, first_letter,
                feedback_or_improvement, invoice_sent, paid
         FROM user_funnel
         ORDER BY cohort_month DESC, acquisition_channel",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(m, c, s1, s2, s3, s4, s5, s6, s7)| FunnelRow {
            cohort_month: m,
            acquisition_channel: c,
            steps: [s1, s2, s3, s4, s5, s6, s7],
        })
        .collect())
}

/// Revenue per cohort, newest month first, then channel and currency.
pub async fn revenue<'c>(db: impl PgExecutor<'c>) -> Result<Vec<RevenueRow>, StoreError> {
    type Raw = (NaiveDate, String, String, i64, i64, i64, i64, i64);
    let rows: Vec<Raw> = sqlx::query_as(
        "SELECT cohort_month, acquisition_channel, currency, paying_users, payments, gross_minor,
                refunded_minor, net_minor
         FROM user_cohort_revenue
         ORDER BY cohort_month DESC, acquisition_channel, currency",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                cohort_month,
                acquisition_channel,
                currency,
                paying_users,
                payments,
                gross_minor,
                refunded_minor,
                net_minor,
            )| RevenueRow {
                cohort_month,
                acquisition_channel,
                currency,
                paying_users,
                payments,
                gross_minor,
                refunded_minor,
                net_minor,
            },
        )
        .collect())
}
