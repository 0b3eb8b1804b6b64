//! Payments (`payments`): recording a successful payment idempotently on the provider's id, and
//! refunds.

use domain::{PaymentId, PaymentStatus, Provider, RefundState, UserId};
use sqlx::PgConnection;

use crate::StoreError;

/// A recorded payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: PaymentId,
    pub user: UserId,
    pub status: PaymentStatus,
    pub amount_minor: i64,
    pub currency: String,
    pub period_days: i32,
}

/// A payment about to be recorded as succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment<'a> {
    pub provider: Provider,
    pub provider_payment_id: &'a str,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub period_days: i32,
    pub metadata: serde_json::Value,
}

/// Inserts the payment as succeeded; `None` when it was recorded before (a repeated delivery).
pub async fn insert_succeeded(
    conn: &mut PgConnection,
    user: UserId,
    p: &NewPayment<'_>,
) -> Result<Option<PaymentId>, StoreError> {
    let id: Option<PaymentId> = sqlx::query_scalar(
        "INSERT INTO payments (user_id, provider, provider_payment_id, amount_minor, currency, status, period_days, metadata)
         VALUES ($1, $2, $3, $4, $5, $8, $6, $7)
         ON CONFLICT (provider, provider_payment_id) DO NOTHING
         RETURNING id",
    )
    .bind(user.get())
    .bind(p.provider)
    .bind(p.provider_payment_id)
    .bind(p.amount_minor)
    .bind(p.currency)
    .bind(p.period_days)
    .bind(&p.metadata)
    .bind(PaymentStatus::Succeeded)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(id)
}

/// The payment with this provider id, locked for the rest of the transaction.
pub async fn find_for_update(
    conn: &mut PgConnection,
    provider: Provider,
    provider_payment_id: &str,
) -> Result<Option<Payment>, StoreError> {
    let row: Option<(PaymentId, UserId, PaymentStatus, i64, String, i32)> = sqlx::query_as(
        "SELECT id, user_id, status, amount_minor, currency, period_days FROM payments
         WHERE provider = $1 AND provider_payment_id = $2 FOR UPDATE",
    )
    .bind(provider)
    .bind(provider_payment_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(id, user, status, amount_minor, currency, period_days)| {
        Ok(Payment {
            id,
            user,
            status,
            amount_minor,
            currency,
            period_days,
        })
    })
    .transpose()
}

/// Marks a succeeded payment refunded; false if it was not in 'succeeded'.
pub async fn mark_refunded(
    conn: &mut PgConnection,
    payment: PaymentId,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE payments SET status = 'refunded', updated_at = now() WHERE id = $1 AND status = 'succeeded'")
        .bind(payment)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Records that a refund of the payment is being asked for (idempotent); returns its state.
pub async fn request_refund(
    conn: &mut PgConnection,
    payment: PaymentId,
) -> Result<RefundState, StoreError> {
    sqlx::query(
        "INSERT INTO refunds (payment_id, state) VALUES ($1, 'requested') ON CONFLICT DO NOTHING",
    )
    .bind(payment)
    .execute(&mut *conn)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT state FROM refunds WHERE payment_id = $1")
            .bind(payment)
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Moves the refund to refunded; false if it already was (the days were revoked then).
pub async fn complete_refund(
    conn: &mut PgConnection,
    payment: PaymentId,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO refunds (payment_id, state, refunded_at) VALUES ($1, 'refunded', now())
         ON CONFLICT (payment_id) DO UPDATE SET state = 'refunded', refunded_at = now()
         WHERE refunds.state = 'requested'",
    )
    .bind(payment)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
