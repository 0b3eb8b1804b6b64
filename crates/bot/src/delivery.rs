//! What makes the engine crash-proof for a transport that re-delivers (Telegram): the replies to
//! an update are stored in the transaction that handles it (a re-delivered update gets them again
//! until they are marked sent), a letter is stored with the transaction that counts it and kept
//! until Telegram takes it, and a generation holds a lease that its writer renews, so a replica
//! (or the restarted process) takes over a generation whose writer died.

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{SessionStatus, TelegramUserId, UserId};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres};
use store::conversation::{self, State};
use store::delivery::{self, Owner};
use store::{quota, sessions};

use crate::callback::{btn, Action};
use crate::context::{Context, Destination};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::event::{EventId, Lang};
use crate::reply::Replies;
use crate::texts::{self, buttons};

/// How often a writer renews its generation lease.
pub const LEASE_RENEWAL: Duration = Duration::from_secs(10);

/// A notice or letter nobody delivered: send `replies` to `chat`, then call
/// [`Engine::delivered`] with `replies.outbox`.
#[derive(Debug, Clone)]
pub struct Orphan {
    pub chat: TelegramUserId,
    pub replies: Replies,
}

/// The replica's liveness: while this lives, its advisory lock is held and nobody takes over
/// what it works on. Dropping it (or the process dying) releases the lock.
pub struct Liveness {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Liveness {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) fn to_json(r: &Replies) -> serde_json::Value {
    serde_json::to_value(r).unwrap_or(serde_json::Value::Null)
}

pub(crate) fn from_json(v: serde_json::Value) -> Replies {
    serde_json::from_value(v).unwrap_or_default()
}

impl Engine {
    /// This engine's replica key (recorded on what it works on).
    pub fn owner(&self) -> Owner {
        self.inner.owner
    }

    /// Takes the replica's liveness lock on a connection of its own, kept (and re-taken if the
    /// connection drops) until the returned guard is dropped.
    pub async fn hold_liveness(&self) -> Result<Liveness, EngineError> {
        let owner = self.owner();
        let mut conn = self.pool().acquire().await?.detach();
        delivery::hold_liveness(&mut conn, owner).await?;
        let pool = self.pool().clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                if sqlx::query("SELECT 1").execute(&mut conn).await.is_ok() {
                    continue;
                }
                tracing::error!(%owner, "the liveness connection broke; taking the lock again");
                loop {
                    let again = async {
                        let mut c: PoolConnection<Postgres> = pool.acquire().await?;
                        delivery::hold_liveness(&mut c, owner).await?;
                        Ok::<_, EngineError>(c.detach())
                    };
                    match again.await {
                        Ok(c) => {
                            conn = c;
                            break;
                        }
                        Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                    }
                }
            }
        });
        Ok(Liveness { task })
    }

    /// Telegram took the replies stored under `id`.
    pub async fn delivered(&self, id: &str) -> Result<(), EngineError> {
        let mut conn = self.pool().acquire().await?;
        Ok(delivery::mark_sent(&mut conn, id).await?)
    }

    /// Telegram did not take them: they go out with the answer to the user's next message.
    pub async fn undelivered(&self, id: &str) -> Result<(), EngineError> {
        let mut conn = self.pool().acquire().await?;
        Ok(delivery::mark_undelivered(&mut conn, id).await?)
    }

    /// Takes over generations whose writer died: each user is told the letter was interrupted,
    /// gets the letter back and a retry button. Returns what to send.
    pub async fn recover_dead_generations(&self) -> Result<Vec<Orphan>, EngineError> {
        let now = self.now();
        let cutoff = now - self.config().stale_generation_after;
        let users = {
            let mut conn = self.pool().acquire().await?;
            delivery::dead_generations(&mut conn, cutoff, 100).await?
        };
        let mut out = Vec::new();
        for user in users {
            if let Some(o) = self.recover_one(user, now).await? {
                out.push(o);
            }
        }
        Ok(out)
    }

    async fn recover_one(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<Orphan>, EngineError> {
        let mut tx = self.pool().begin().await?;
        let mut conv = conversation::lock(&mut tx, user).await?;
        // Re-checked under the conversation lock: another replica may have been first.
        if conv.state != State::Generating
            || self
                .inner
                .generation_alive(&mut tx, user, conv.generation_started_at, now)
                .await?
        {
            tx.rollback().await?;
            return Ok(None);
        }
        let Some(chat) = store::users::telegram_id(&mut tx, user).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let lang = Lang::from_code(store::users::language_code(&mut tx, user).await?.as_deref());
        if let Some(g) = conv.grant.take() {
            quota::give_back(&mut tx, &g).await?;
        }
        conv.generation_started_at = None;
        let mut r = Replies::default();
        let session = match conv.session {
            Some(sid) => sessions::get(&mut tx, sid).await?,
            None => None,
        };
        match session {
            Some(s) if s.generated_letter.is_some() => {
                // A variant or an improvement was cut off: the letter stands, and the notice
                // offers both again so the user need not look for the letter's buttons.
                conv.state = State::AwaitingFeedback;
                let remaining = s.max_iterations - s.iterations_used;
                let mut row = Vec::new();
                if remaining > 0 {
                    row.push(btn(
                        buttons::improve(lang, remaining),
                        Action::Improve(s.id),
                    ));
                }
                row.push(btn(buttons::variant(lang), Action::Variant(s.id)));
                r.say(texts::interrupted(lang)).buttons = vec![row];
            }
            Some(s) => {
                sessions::set_status(&mut tx, s.id, SessionStatus::Failed).await?;
                conv.state = State::Ready;
                r.say(texts::interrupted(lang)).buttons =
                    vec![vec![btn(buttons::retry(lang), Action::Retry(s.id))]];
            }
            None => {
                conv.state = State::Idle;
                r.say(texts::interrupted(lang));
            }
        }
        conversation::save(&mut tx, user, &conv, now).await?;
        delivery::release_lease(&mut tx, user).await?;
        let id = format!("out:{}", uuid::Uuid::new_v4());
        delivery::record_replies(&mut tx, &id, user, Some(chat), self.owner(), &to_json(&r))
            .await?;
        tx.commit().await?;
        r.outbox = Some(id);
        tracing::info!(%user, "an interrupted generation was taken over");
        Ok(Some(Orphan { chat, replies: r }))
    }

    /// Letters and notices whose replica died before Telegram took them, now this replica's.
    pub async fn orphaned_replies(&self) -> Result<Vec<Orphan>, EngineError> {
        let mut conn = self.pool().acquire().await?;
        let rows = delivery::claim_orphaned_replies(&mut conn, self.owner(), 100).await?;
        Ok(rows
            .into_iter()
            .map(|(id, chat, v)| {
                let mut replies = from_json(v);
                replies.outbox = Some(id);
                Orphan { chat, replies }
            })
            .collect())
    }
}

impl Context {
    /// For a repeated event: the replies stored when it was handled and not yet sent.
    pub(crate) async fn stored_replies(
        &self,
        conn: &mut PgConnection,
        id: &EventId,
    ) -> Result<Replies, EngineError> {
        if !id.is_redeliverable() {
            return Ok(Replies::default());
        }
        Ok(
            match delivery::claim_replies(conn, id.as_str(), self.owner).await? {
                Some(v) => {
                    let mut r = from_json(v);
                    r.outbox = Some(id.as_str().to_string());
                    r
                }
                None => Replies::default(),
            },
        )
    }

    /// Stores the replies to event `id` in its transaction, with whatever letters of the user
    /// are waiting for delivery in front of them.
    pub(crate) async fn keep_replies(
        &self,
        conn: &mut PgConnection,
        id: &EventId,
        user: UserId,
        out: &mut Replies,
    ) -> Result<(), EngineError> {
        if !id.is_redeliverable() {
            return Ok(());
        }
        let waiting = delivery::take_undelivered(conn, user).await?;
        if !waiting.is_empty() {
            let mut front = Replies::default();
            for v in waiting {
                let r = from_json(v);
                front.messages.extend(r.messages);
                front.signals.extend(r.signals);
            }
            front.messages.append(&mut out.messages);
            front.signals.append(&mut out.signals);
            out.messages = front.messages;
            out.signals = front.signals;
        }
        delivery::record_replies(conn, id.as_str(), user, None, self.owner, &to_json(out)).await?;
        out.outbox = Some(id.as_str().to_string());
        Ok(())
    }

    /// Stores a generation's outcome in the transaction that counts it, until it is sent.
    pub(crate) async fn keep_letter(
        &self,
        conn: &mut PgConnection,
        user: UserId,
        to: Destination,
        out: &mut Replies,
    ) -> Result<(), EngineError> {
        let Some(chat) = to.chat else {
            return Ok(());
        };
        delivery::release_lease(conn, user).await?;
        if out.messages.is_empty() {
            return Ok(());
        }
        let id = format!("out:{}", uuid::Uuid::new_v4());
        delivery::record_replies(conn, &id, user, Some(chat), self.owner, &to_json(out)).await?;
        out.outbox = Some(id);
        Ok(())
    }

    /// Is the generation of this conversation still being written? With a lease: its writer is
    /// alive and renewing. Without (a transport that does not lease): it started recently.
    pub(crate) async fn generation_alive(
        &self,
        conn: &mut PgConnection,
        user: UserId,
        started: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, EngineError> {
        let cutoff = now - self.config.stale_generation_after;
        Ok(match delivery::lease_alive(conn, user, cutoff).await? {
            Some(alive) => alive,
            None => started.is_some_and(|s| s > cutoff),
        })
    }
}
