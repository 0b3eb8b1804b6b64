//! Conversation state (`conversations`) and processed event ids (`processed_events`): what makes
//! the engine stateless in memory and every event processed at most once.

use chrono::{DateTime, Utc};
use domain::{EventId, SessionId, SubscriptionId, UserId};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreError;

/// Where a user is in the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Idle,
    AwaitingVacancy,
    AwaitingResume,
    Generating,
    /// Vacancy and resume are in, no letter yet (quota reached or generation failed).
    Ready,
    AwaitingFeedback,
    AwaitingImprovement,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::AwaitingVacancy => "awaiting_vacancy",
            Self::AwaitingResume => "awaiting_resume",
            Self::Generating => "generating",
            Self::Ready => "ready",
            Self::AwaitingFeedback => "awaiting_feedback",
            Self::AwaitingImprovement => "awaiting_improvement",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, StoreError> {
        Ok(match raw {
            "idle" => Self::Idle,
            "awaiting_vacancy" => Self::AwaitingVacancy,
            "awaiting_resume" => Self::AwaitingResume,
            "generating" => Self::Generating,
            "ready" => Self::Ready,
            "awaiting_feedback" => Self::AwaitingFeedback,
            "awaiting_improvement" => Self::AwaitingImprovement,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unknown conversation state {other:?}"
                )))
            }
        })
    }
}

/// One user's conversation row.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub state: State,
    pub session: Option<SessionId>,
    pub generation_started_at: Option<DateTime<Utc>>,
    pub grant: Option<crate::quota::Grant>,
    pub delete_requested_at: Option<DateTime<Utc>>,
    pub command_times: Vec<DateTime<Utc>>,
    pub generation_times: Vec<DateTime<Utc>>,
}

/// Records an event id; false when it was processed before. Run it in the transaction that does
/// the event's work, so a crash before commit leaves the event unprocessed.
pub async fn mark_processed(
    conn: &mut PgConnection,
    event_id: &EventId,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query("INSERT INTO processed_events (event_id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(event_id.as_str())
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets processed event ids older than `before` (Telegram re-delivers within a day at most).
pub async fn forget_processed_before(
    conn: &mut PgConnection,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM processed_events WHERE processed_at < $1")
        .bind(before)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}

type Row = (
    String,
    Option<Uuid>,
    Option<DateTime<Utc>>,
    Option<SubscriptionId>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Vec<DateTime<Utc>>,
    Vec<DateTime<Utc>>,
);

const COLUMNS: &str =
    "state, session_id, generation_started_at, grant_subscription_id, grant_window_start, \
                       delete_requested_at, command_times, generation_times";

/// The user's conversation, created idle if new, locked until the transaction ends so events of
/// one user are handled one at a time across replicas.
pub async fn lock(conn: &mut PgConnection, user: UserId) -> Result<Conversation, StoreError> {
    let select = format!("SELECT {COLUMNS} FROM conversations WHERE user_id = $1 FOR UPDATE");
    let mut row: Option<Row> = sqlx::query_as(&select)
        .bind(user.get())
        .fetch_optional(&mut *conn)
        .await?;
    if row.is_none() {
        sqlx::query(
            "INSERT INTO conversations (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user.get())
        .execute(&mut *conn)
        .await?;
        row = sqlx::query_as(&select)
            .bind(user.get())
            .fetch_optional(&mut *conn)
            .await?;
    }
    let r = row.ok_or_else(|| StoreError::Corrupt(format!("no conversation row for {user}")))?;
    let grant = match (r.3, r.4) {
        (Some(subscription_id), Some(window_start)) => {
            // Only the id and the window matter for giving the letter back.
            Some(crate::quota::Grant {
                subscription_id,
                plan: domain::Plan::Free,
                window_start,
                letters_used: 0,
                letters_limit: 0,
            })
        }
        _ => None,
    };
    Ok(Conversation {
        state: State::parse(&r.0)?,
        session: r.1.map(SessionId::from_uuid),
        generation_started_at: r.2,
        grant,
        delete_requested_at: r.5,
        command_times: r.6,
        generation_times: r.7,
    })
}

/// Where the conversation of a Telegram user stands, without locking it (`None` for a user the
/// bot has not met): `soprovod chat` asks so as not to restart a conversation left mid-way.
pub async fn state_of(
    conn: &mut PgConnection,
    telegram_id: domain::TelegramUserId,
) -> Result<Option<State>, StoreError> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT c.state FROM conversations c JOIN users u ON u.id = c.user_id
         WHERE u.telegram_user_id = $1",
    )
    .bind(telegram_id.get())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(s,)| State::parse(&s)).transpose()
}

/// Writes the conversation back.
pub async fn save(
    conn: &mut PgConnection,
    user: UserId,
    c: &Conversation,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE conversations SET state = $2, session_id = $3, generation_started_at = $4, grant_subscription_id = $5,
                grant_window_start = $6, delete_requested_at = $7, command_times = $8, generation_times = $9, updated_at = $10
         WHERE user_id = $1",
    )
    .bind(user.get())
    .bind(c.state.as_str())
    .bind(c.session.map(|s| s.get()))
    .bind(c.generation_started_at)
    .bind(c.grant.map(|g| g.subscription_id))
    .bind(c.grant.map(|g| g.window_start))
    .bind(c.delete_requested_at)
    .bind(&c.command_times)
    .bind(&c.generation_times)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
