//! Users: the upsert on every incoming event, the lookup from Telegram's id to the internal
//! `UserId`, consent, and erasing personal data.

use chrono::{DateTime, Utc};
use domain::{TelegramUserId, UserId};
use sqlx::PgConnection;

use crate::StoreError;

/// What Telegram tells about a user with each update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub telegram_id: TelegramUserId,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub language_code: Option<String>,
}

impl Profile {
    /// A profile with only the id (e.g. the terminal chat).
    pub fn bare(telegram_id: TelegramUserId) -> Self {
        Self {
            telegram_id,
            username: None,
            first_name: None,
            last_name: None,
            language_code: None,
        }
    }
}

/// The user row as the engine needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserRow {
    pub id: UserId,
    /// The row was created by this call.
    pub created: bool,
    pub consent_given: bool,
}

/// Creates or refreshes the user of `profile`; the only place a `TelegramUserId` becomes a `UserId`
/// besides [`find`].
pub async fn upsert(
    conn: &mut PgConnection,
    profile: &Profile,
    now: DateTime<Utc>,
) -> Result<UserRow, StoreError> {
    // Writes the row only when the profile changed or the last activity is over a minute old
    // (`users_touch`, 010_users.sql): every event comes through here, and an unchanged row need
    // not be written, nor the analytics triggers on `users` run.
    let row: Option<(UserId, bool, bool)> = sqlx::query_as(
        "SELECT o_id, o_created, o_consent FROM users_touch($1, $2, $3, $4, $5, $6)",
    )
    .bind(profile.telegram_id.get())
    .bind(&profile.username)
    .bind(&profile.first_name)
    .bind(&profile.last_name)
    .bind(&profile.language_code)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let (id, created, consent) = match row {
        Some(r) => r,
        // Another transaction created the user after this statement's snapshot was taken.
        None => {
            let (id, consent): (UserId, bool) = sqlx::query_as(
                "SELECT id, consent_given_at IS NOT NULL FROM users WHERE telegram_user_id = $1",
            )
            .bind(profile.telegram_id.get())
            .fetch_one(&mut *conn)
            .await?;
            (id, false, consent)
        }
    };
    Ok(UserRow {
        id,
        created,
        consent_given: consent,
    })
}

/// The internal id of a Telegram user, if they ever wrote to the bot.
pub async fn find(
    conn: &mut PgConnection,
    telegram_id: TelegramUserId,
) -> Result<Option<UserId>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM users WHERE telegram_user_id = $1")
            .bind(telegram_id.get())
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// Telegram's id of an internal user (to address a refund, for example).
pub async fn telegram_id(
    conn: &mut PgConnection,
    user: UserId,
) -> Result<Option<TelegramUserId>, StoreError> {
    let id: Option<i64> = sqlx::query_scalar("SELECT telegram_user_id FROM users WHERE id = $1")
        .bind(user.get())
        .fetch_optional(&mut *conn)
        .await?;
    id.map(|t| TelegramUserId::parse(t).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

/// Records consent to the privacy policy, once.
pub async fn record_consent(
    conn: &mut PgConnection,
    user: UserId,
    version: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE users SET consent_given_at = $2, consent_version = $3 WHERE id = $1 AND consent_given_at IS NULL")
        .bind(user.get())
        .bind(now)
        .bind(version)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets the names Telegram gave us (the row and its id stay for the analytics).
pub async fn erase_profile(conn: &mut PgConnection, user: UserId) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE users SET username = NULL, first_name = NULL, last_name = NULL WHERE id = $1",
    )
    .bind(user.get())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The language Telegram last reported for the user (for messages not answering an update).
pub async fn language_code(
    conn: &mut PgConnection,
    user: UserId,
) -> Result<Option<String>, StoreError> {
    let code: Option<Option<String>> =
        sqlx::query_scalar("SELECT language_code FROM users WHERE id = $1")
            .bind(user.get())
            .fetch_optional(&mut *conn)
            .await?;
    Ok(code.flatten())
}
