//! Crash-proof delivery (`update_inbox`, `reply_outbox`, `generation_leases`): updates recorded
//! before they are acknowledged, replies kept until sent, generations leased by their writer.
//!
//! Every row that is being worked on names its owner, a replica key. A live replica holds a
//! session advisory lock on its key on a connection of its own, so PostgreSQL itself knows which
//! replicas are alive: when a process dies its connections close, the lock goes, and other
//! replicas (or the restarted process) take its rows over at once, without waiting for a timeout.

use chrono::{DateTime, Utc};
use domain::{SessionId, TelegramUserId, UserId};
use serde_json::Value;
use sqlx::PgConnection;

use crate::StoreError;

/// The first half of every replica's advisory lock key ("SOPR").
const LOCK_NAMESPACE: i32 = 0x534F_5052;

/// The live owners, as a subquery: replicas whose advisory lock is held in this database.
const LIVE: &str = "(SELECT l.objid::bigint FROM pg_locks l
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
        AND l.classid = 1397706834::oid
        AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database()))";

/// A replica: the owner recorded on the rows it works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Owner(i32);

impl Owner {
    /// A fresh key for a new replica (positive, so it reads back from `pg_locks` unchanged).
    pub fn random() -> Self {
        let bytes = uuid::Uuid::new_v4();
        let b = bytes.as_bytes();
        let n = i32::from_le_bytes([b[0], b[1], b[2], b[3]]) & i32::MAX;
        Self(n.max(1))
    }

    pub fn get(self) -> i64 {
        i64::from(self.0)
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "replica-{}", self.0)
    }
}

/// A Telegram update id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UpdateId(i64);

impl UpdateId {
    pub fn new(raw: i64) -> Self {
        Self(raw)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// Takes the replica's liveness lock on `conn`; it lasts as long as that connection.
pub async fn hold_liveness(conn: &mut PgConnection, owner: Owner) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_lock($1, $2)")
        .bind(LOCK_NAMESPACE)
        .bind(owner.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Is `owner` alive (its lock held)?
pub async fn is_alive(conn: &mut PgConnection, owner: Owner) -> Result<bool, StoreError> {
    let q = format!("SELECT $1 IN {LIVE}");
    Ok(sqlx::query_scalar(&q)
        .bind(owner.get())
        .fetch_one(&mut *conn)
        .await?)
}

// ---- the inbox ------------------------------------------------------------------------------

/// One update to record: its id, its lane (the sender) and the update as Telegram sent it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub update: UpdateId,
    pub lane: i64,
    pub payload: Value,
}

/// An unfinished update of the same lane, earlier than `{row}`, that `{row}` must not overtake:
/// one another replica holds (alive or dead: a dead one's is taken over in order), or one
/// waiting to be taken, but not one put off for a retry (a payment the database refused goes on
/// being retried while the user's later updates are answered).
fn earlier_in_lane(row: &str, me: &str) -> String {
    format!(
        "SELECT 1 FROM update_inbox e
         WHERE e.lane = {row}.lane AND e.update_id < {row}.update_id AND e.done_at IS NULL
           AND e.owner IS DISTINCT FROM {me}
           AND (e.owner IS NOT NULL OR e.not_before <= now())"
    )
}

/// A recorded update: whether it was new, and if so whether it is this replica's to handle now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// New and this replica's: queue it.
    Ours(UpdateId),
    /// New, but an earlier update of its lane is handled by another replica (or waits to be
    /// taken): it waits unowned, and whoever finishes that one takes it, so a user's updates are
    /// handled in order whichever replica Telegram gave them to.
    Waits(UpdateId),
}

/// Records updates as `owner`'s; returns the new ones (the others were recorded before: a
/// re-delivery). Only after this returns may Telegram be told the updates arrived.
pub async fn record_updates(
    conn: &mut PgConnection,
    owner: Owner,
    updates: &[Incoming],
) -> Result<Vec<Recorded>, StoreError> {
    if updates.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = updates.iter().map(|u| u.update.0).collect();
    let lanes: Vec<i64> = updates.iter().map(|u| u.lane).collect();
    let payloads: Vec<Value> = updates.iter().map(|u| u.payload.clone()).collect();
    let q = format!(
        "INSERT INTO update_inbox (update_id, lane, payload, owner)
         SELECT i.update_id, i.lane, i.payload,
                CASE WHEN EXISTS ({earlier}) THEN NULL ELSE $4 END
         FROM unnest($1::bigint[], $2::bigint[], $3::jsonb[]) AS i(update_id, lane, payload)
         ON CONFLICT (update_id) DO NOTHING
         RETURNING update_id, owner IS NOT NULL",
        earlier = earlier_in_lane("i", "$4")
    );
    let new: Vec<(i64, bool)> = sqlx::query_as(&q)
        .bind(&ids)
        .bind(&lanes)
        .bind(&payloads)
        .bind(owner.get())
        .fetch_all(&mut *conn)
        .await?;
    Ok(new
        .into_iter()
        .map(|(id, ours)| {
            if ours {
                Recorded::Ours(UpdateId(id))
            } else {
                Recorded::Waits(UpdateId(id))
            }
        })
        .collect())
}

/// Claims up to `limit` unfinished updates nobody alive is handling (their replica died, they
/// wait for a retry that is due, or for an earlier update of their lane that is done now),
/// oldest first; an update stays where it is while an earlier one of its lane is handled
/// elsewhere.
pub async fn claim_orphaned_updates(
    conn: &mut PgConnection,
    owner: Owner,
    limit: i64,
) -> Result<Vec<(UpdateId, Value)>, StoreError> {
    let q = format!(
        "WITH candidates AS (
             SELECT update_id, lane FROM update_inbox
             WHERE done_at IS NULL AND not_before <= now()
               AND (owner IS NULL OR owner NOT IN {LIVE})
             ORDER BY update_id LIMIT $2 FOR UPDATE SKIP LOCKED),
         ready AS (
             SELECT c.update_id FROM candidates c
             WHERE NOT EXISTS ({earlier}
                               AND e.update_id NOT IN (SELECT update_id FROM candidates)))
         UPDATE update_inbox SET owner = $1, attempts = attempts + 1
         WHERE update_id IN (SELECT update_id FROM ready)
         RETURNING update_id, payload",
        earlier = earlier_in_lane("c", "$1")
    );
    let mut rows: Vec<(i64, Option<Value>)> = sqlx::query_as(&q)
        .bind(owner.get())
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    rows.sort_by_key(|r| r.0);
    Ok(rows
        .into_iter()
        .map(|(id, p)| (UpdateId(id), p.unwrap_or(Value::Null)))
        .collect())
}

/// The update is handled and its replies (outbox row `replies`, if any) are sent. Returns the
/// later updates of its lane that waited for it (recorded by another replica meanwhile), now
/// `owner`'s, oldest first: queue them behind it.
pub async fn update_done(
    conn: &mut PgConnection,
    update: UpdateId,
    replies: Option<&str>,
    owner: Owner,
) -> Result<Vec<(UpdateId, Value)>, StoreError> {
    let q = format!(
        "WITH sent AS (
             UPDATE reply_outbox SET sent_at = now(), replies = NULL
             WHERE id = $2 AND sent_at IS NULL),
         done AS (
             UPDATE update_inbox SET done_at = now(), payload = NULL, owner = NULL
             WHERE update_id = $1 RETURNING lane),
         waiting AS (
             SELECT n.update_id, n.lane FROM update_inbox n JOIN done d ON n.lane = d.lane
             WHERE n.update_id > $1 AND n.done_at IS NULL AND n.owner IS NULL
               AND n.not_before <= now()),
         ready AS (
             SELECT w.update_id FROM waiting w
             WHERE NOT EXISTS ({earlier}
                               AND e.update_id <> $1
                               AND e.update_id NOT IN (SELECT update_id FROM waiting)))
         UPDATE update_inbox SET owner = $3, attempts = attempts + 1
         WHERE update_id IN (SELECT update_id FROM ready) AND owner IS NULL AND done_at IS NULL
         RETURNING update_id, payload",
        earlier = earlier_in_lane("w", "$3")
    );
    let mut rows: Vec<(i64, Option<Value>)> = sqlx::query_as(&q)
        .bind(update.0)
        .bind(replies)
        .bind(owner.get())
        .fetch_all(&mut *conn)
        .await?;
    rows.sort_by_key(|r| r.0);
    Ok(rows
        .into_iter()
        .map(|(id, p)| (UpdateId(id), p.unwrap_or(Value::Null)))
        .collect())
}

/// The update could not be handled now (the database failed under it): any replica retries it
/// after `delay`.
pub async fn update_retry_later(
    conn: &mut PgConnection,
    update: UpdateId,
    delay: std::time::Duration,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE update_inbox SET owner = NULL, not_before = now() + $2 * interval '1 millisecond'
         WHERE update_id = $1 AND done_at IS NULL",
    )
    .bind(update.0)
    .bind(delay.as_millis() as f64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Unfinished updates (for the benchmark and tests: how much is still pending).
pub async fn pending_updates(conn: &mut PgConnection) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM update_inbox WHERE done_at IS NULL")
            .fetch_one(&mut *conn)
            .await?,
    )
}

// ---- the outbox -----------------------------------------------------------------------------

/// Keeps `replies` under `id` until they are sent. `chat` is set for replies no update will
/// bring back (a letter, a recovery notice): those are re-sent by whoever takes them over.
pub async fn record_replies(
    conn: &mut PgConnection,
    id: &str,
    user: UserId,
    chat: Option<TelegramUserId>,
    owner: Owner,
    replies: &Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO reply_outbox (id, user_id, chat_id, replies, owner) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(user.get())
    .bind(chat.map(TelegramUserId::get))
    .bind(replies)
    .bind(owner.get())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The unsent replies under `id`, now owned by `owner` (an update handled again after a crash).
pub async fn claim_replies(
    conn: &mut PgConnection,
    id: &str,
    owner: Owner,
) -> Result<Option<Value>, StoreError> {
    let v: Option<Option<Value>> = sqlx::query_scalar(
        "UPDATE reply_outbox SET owner = $2, attempts = attempts + 1
         WHERE id = $1 AND sent_at IS NULL RETURNING replies",
    )
    .bind(id)
    .bind(owner.get())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(v.flatten())
}

/// Telegram took the replies under `id`.
pub async fn mark_sent(conn: &mut PgConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE reply_outbox SET sent_at = now(), replies = NULL WHERE id = $1 AND sent_at IS NULL",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Telegram could not take the replies under `id` even after retries: they wait for the user's
/// next message.
pub async fn mark_undelivered(conn: &mut PgConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE reply_outbox SET owner = NULL WHERE id = $1 AND sent_at IS NULL")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Takes the user's letters and notices nobody alive is delivering, oldest first; they go out
/// with the answer to the user's message, so they count as sent with it.
pub async fn take_undelivered(
    conn: &mut PgConnection,
    user: UserId,
) -> Result<Vec<Value>, StoreError> {
    let q = format!(
        "WITH taken AS (
             SELECT id, replies, created_at FROM reply_outbox
             WHERE user_id = $1 AND sent_at IS NULL AND chat_id IS NOT NULL
               AND (owner IS NULL OR owner NOT IN {LIVE})
             FOR UPDATE),
         sent AS (
             UPDATE reply_outbox o SET sent_at = now(), replies = NULL
             FROM taken WHERE o.id = taken.id)
         SELECT created_at, replies FROM taken"
    );
    let mut rows: Vec<(DateTime<Utc>, Option<Value>)> = sqlx::query_as(&q)
        .bind(user.get())
        .fetch_all(&mut *conn)
        .await?;
    rows.sort_by_key(|r| r.0);
    Ok(rows.into_iter().filter_map(|r| r.1).collect())
}

/// id, chat, replies, created_at.
type OutboxRow = (String, Option<i64>, Option<Value>, DateTime<Utc>);

/// Claims letters and notices whose replica died before Telegram took them.
pub async fn claim_orphaned_replies(
    conn: &mut PgConnection,
    owner: Owner,
    limit: i64,
) -> Result<Vec<(String, TelegramUserId, Value)>, StoreError> {
    let q = format!(
        "UPDATE reply_outbox SET owner = $1, attempts = attempts + 1
         WHERE id IN (SELECT id FROM reply_outbox
                      WHERE sent_at IS NULL AND chat_id IS NOT NULL AND owner IS NOT NULL
                        AND owner NOT IN {LIVE}
                      ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING id, chat_id, replies, created_at"
    );
    let mut rows: Vec<OutboxRow> = sqlx::query_as(&q)
        .bind(owner.get())
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    rows.sort_by_key(|r| r.3);
    let mut out = Vec::new();
    for (id, chat, replies, _) in rows {
        let (Some(chat), Some(replies)) = (chat, replies) else {
            continue;
        };
        let chat = TelegramUserId::parse(chat).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        out.push((id, chat, replies));
    }
    Ok(out)
}

/// Erases what the outbox keeps for a user who asked for their data to be deleted.
pub async fn forget_user(conn: &mut PgConnection, user: UserId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM reply_outbox WHERE user_id = $1")
        .bind(user.get())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Drops finished inbox and outbox rows older than `before`.
pub async fn forget_before(
    conn: &mut PgConnection,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let a = sqlx::query("DELETE FROM update_inbox WHERE done_at < $1")
        .bind(before)
        .execute(&mut *conn)
        .await?;
    let b = sqlx::query("DELETE FROM reply_outbox WHERE sent_at < $1")
        .bind(before)
        .execute(&mut *conn)
        .await?;
    Ok(a.rows_affected() + b.rows_affected())
}

// ---- generation leases ----------------------------------------------------------------------

/// `owner` is writing `session` for `user` (replaces any older lease of the user).
pub async fn lease_generation(
    conn: &mut PgConnection,
    user: UserId,
    session: SessionId,
    owner: Owner,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO generation_leases (user_id, session_id, owner, renewed_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id) DO UPDATE SET session_id = $2, owner = $3, renewed_at = $4",
    )
    .bind(user.get())
    .bind(session.get())
    .bind(owner.get())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The writer is still at it; false if the lease is no longer its own (taken over).
pub async fn renew_lease(
    conn: &mut PgConnection,
    user: UserId,
    session: SessionId,
    owner: Owner,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE generation_leases SET renewed_at = $4
         WHERE user_id = $1 AND session_id = $2 AND owner = $3",
    )
    .bind(user.get())
    .bind(session.get())
    .bind(owner.get())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn release_lease(conn: &mut PgConnection, user: UserId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM generation_leases WHERE user_id = $1")
        .bind(user.get())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The user's generation lease: None when there is none (a transport that does not lease,
/// such as the terminal chat), else whether its writer is alive and renewed it since
/// `renewed_before`.
pub async fn lease_alive(
    conn: &mut PgConnection,
    user: UserId,
    renewed_before: DateTime<Utc>,
) -> Result<Option<bool>, StoreError> {
    let q = format!(
        "SELECT renewed_at >= $2 AND owner IN {LIVE} FROM generation_leases WHERE user_id = $1"
    );
    Ok(sqlx::query_scalar(&q)
        .bind(user.get())
        .bind(renewed_before)
        .fetch_optional(&mut *conn)
        .await?)
}

/// Users whose conversation is generating while nobody writes it: the lease's writer is gone
/// or silent since `renewed_before`, or (without a lease) it started before then.
pub async fn dead_generations(
    conn: &mut PgConnection,
    renewed_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<UserId>, StoreError> {
    let q = format!(
        "SELECT c.user_id FROM conversations c
         LEFT JOIN generation_leases g ON g.user_id = c.user_id
         WHERE c.state = 'generating'
           AND CASE WHEN g.user_id IS NULL
                    THEN c.generation_started_at IS NULL OR c.generation_started_at < $1
                    ELSE NOT (g.renewed_at >= $1 AND g.owner IN {LIVE}) END
         ORDER BY c.updated_at LIMIT $2"
    );
    Ok(sqlx::query_scalar(&q)
        .bind(renewed_before)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?)
}
