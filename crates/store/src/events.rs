//! Product analytics events (`user_events`). Event data holds counts and ids, never user text.

use domain::{EventType, SessionId, UserId};
use sqlx::PgConnection;

use crate::StoreError;

pub async fn record(
    conn: &mut PgConnection,
    user: UserId,
    event: EventType,
    session: Option<SessionId>,
    data: serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO user_events (user_id, event_type, session_id, event_data) VALUES ($1, $2, $3, $4)")
        .bind(user.get())
        .bind(event.as_str())
        .bind(session.map(|s| s.get()))
        .bind(data)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
