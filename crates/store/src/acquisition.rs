//! First-touch acquisition rows (`acquisition_channels`) from a parsed `/start` payload.

use domain::{Acquisition, StartPayload, UserId};
use sqlx::PgConnection;

use crate::StoreError;

/// Stores where the user came from unless a row exists already (first touch only). An unknown
/// referrer is stored as null, never an error.
pub async fn record_first_touch(
    conn: &mut PgConnection,
    user: UserId,
    payload: &StartPayload,
) -> Result<bool, StoreError> {
    let (source, medium, campaign, referrer) = match payload.meaning() {
        Acquisition::Referral { referrer } => (None, None, None, Some(referrer.get())),
        Acquisition::Utm {
            source,
            medium,
            campaign,
        } => (
            Some(source.as_str()),
            medium.as_deref(),
            campaign.as_deref(),
            None,
        ),
        Acquisition::Other => (None, None, None, None),
    };
    let done = sqlx::query(
        "INSERT INTO acquisition_channels (user_id, telegram_start_param, utm_source, utm_medium, utm_campaign, referral_user_id)
         VALUES ($1, $2, $3, $4, $5, (SELECT id FROM users WHERE telegram_user_id = $6 AND id <> $1))
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user.get())
    .bind(payload.raw())
    .bind(source)
    .bind(medium)
    .bind(campaign)
    .bind(referrer)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
