//! Identity newtypes: the internal user id, Telegram's user id, a letter session id and the id
//! of an incoming event.
//!
//! The original bot passed Telegram's id where the internal `users.id` belonged (TZ v9.5). Here the
//! two are different types with private fields, so that mix-up does not compile. A `UserId` has no
//! public constructor at all: it is decoded from a `users.id` value read from the database (its
//! `sqlx::Decode`), so the only way from a `TelegramUserId` to a `UserId` is a lookup in `users`
//! (see `store`). Tests build one with `domain::ids::testing::user_id` (feature `testing`).

use std::fmt;

use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgTypeInfo, PgValueRef};
use sqlx::{Decode, Postgres, Type};
use uuid::Uuid;

/// Why a raw value is not an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} must be a positive integer, got {value}")]
    NotPositive { kind: &'static str, value: i64 },
    #[error("session id must be a UUID: {0}")]
    NotUuid(String),
}

/// The internal user id: `users.id`, the key every user-owned row points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct UserId(i64);

impl UserId {
    /// Accepts a value of `users.id` (identity columns start at 1).
    fn parse(raw: i64) -> Result<Self, IdError> {
        if raw > 0 {
            Ok(Self(raw))
        } else {
            Err(IdError::NotPositive {
                kind: "user id",
                value: raw,
            })
        }
    }

    /// The value to bind in SQL.
    pub fn get(self) -> i64 {
        self.0
    }
}

/// Ids out of thin air, for tests that need one without a database row. A free function rather
/// than an associated one, so that the compiler never offers it as the way to build a `UserId`.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    /// A user id for a test; panics unless `raw` is positive.
    pub fn user_id(raw: i64) -> super::UserId {
        super::UserId::parse(raw).expect("a positive test user id")
    }
}

/// `users.id` is `bigint`.
impl Type<Postgres> for UserId {
    fn type_info() -> PgTypeInfo {
        <i64 as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <i64 as Type<Postgres>>::compatible(ty)
    }
}

/// The one way a `UserId` comes to be: a `users.id` (or a column referencing it) read from a row.
impl<'r> Decode<'r, Postgres> for UserId {
    fn decode(value: PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let raw = <i64 as Decode<Postgres>>::decode(value)?;
        Ok(Self::parse(raw)?)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "user#{}", self.0)
    }
}

/// Telegram's id of a user (`users.telegram_user_id`); never a foreign key.
/// Deserialized through `parse` (so a stored reply cannot carry a non-positive id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64")]
pub struct TelegramUserId(i64);

impl TryFrom<i64> for TelegramUserId {
    type Error = IdError;

    fn try_from(raw: i64) -> Result<Self, IdError> {
        Self::parse(raw)
    }
}

impl TelegramUserId {
    /// Accepts an id as Telegram sends it (always positive for users).
    pub fn parse(raw: i64) -> Result<Self, IdError> {
        if raw > 0 {
            Ok(Self(raw))
        } else {
            Err(IdError::NotPositive {
                kind: "telegram user id",
                value: raw,
            })
        }
    }

    /// The value to bind in SQL or send to the Bot API.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for TelegramUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tg#{}", self.0)
    }
}

/// One cover letter (`letter_sessions.id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct SessionId(Uuid);

impl SessionId {
    /// A new random id for a session about to be inserted.
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }

    /// Accepts the textual form, e.g. from callback data.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        Uuid::parse_str(raw.trim())
            .map(Self)
            .map_err(|_| IdError::NotUuid(raw.chars().take(64).collect()))
    }

    /// Wraps a value read from `letter_sessions.id`.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    pub fn get(self) -> Uuid {
        self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_reject_zero_and_negative_values() {
        assert!(UserId::parse(0).is_err());
        assert!(TelegramUserId::parse(-5).is_err());
        assert_eq!(UserId::parse(7).unwrap().get(), 7);
    }

    #[test]
    fn session_id_round_trips_through_text() {
        let id = SessionId::new_random();
        assert_eq!(SessionId::parse(&id.to_string()).unwrap(), id);
        assert!(SessionId::parse("not-a-uuid").is_err());
    }
}

/// A unique id of an incoming event (Telegram: the update id). A repeated id is a no-op.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an event id must be 1 to 128 characters")]
pub struct EventIdError;

impl EventId {
    pub fn parse(raw: &str) -> Result<Self, EventIdError> {
        if raw.is_empty() || raw.chars().count() > 128 {
            return Err(EventIdError);
        }
        Ok(Self(raw.to_string()))
    }

    /// The event id of a Telegram update, from the update's number as Telegram sends it (the
    /// parse boundary, like `TelegramUserId::parse`).
    pub fn telegram_update(raw: i64) -> Self {
        Self(format!("tg:{raw}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Events whose transport re-delivers them after a crash (Telegram updates): their replies
    /// are kept until the transport says they were sent.
    pub fn is_redeliverable(&self) -> bool {
        self.0.starts_with("tg:")
    }
}
