//! The conversation engine: one event in, the replies out, every bit of state in PostgreSQL.
//!
//! Each event runs in one transaction that records its id (a repeated id is a no-op), locks the
//! user's conversation row (so one user's events are handled one at a time, whatever the replica)
//! and saves the new state. A generation is split in two so no transaction is held while the
//! model writes: [`Engine::handle`] takes the letter from the quota and returns
//! [`Step::Generating`]; [`Engine::complete`] calls the model and stores the result.

//!
//! By concern: [`command`] (slash commands), [`input`] (texts and documents), [`button`]
//! (inline-button presses), [`generation`] (starting and finishing a letter or an improvement).

mod button;
mod command;
mod generation;
mod input;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::ratelimit::RateRule;
use domain::{Clock, SessionStatus, SystemClock};
use sqlx::{PgConnection, PgPool};
use store::conversation::{self, Conversation, State};
use store::{quota, sessions, users};

use crate::callback::{btn, Action};
use crate::config::Config;
use crate::context::{unavailable, Context, Destination};
use crate::error::EngineError;
use crate::event::{split_command, Event, EventKind, Lang, Media, Profile};
use crate::payments::{PreCheckout, PreCheckoutRefusal, SuccessfulPayment};
use crate::reply::{OutMessage, Replies};
use crate::texts::{self, buttons};

pub(crate) use generation::Job;

/// The engine; cheap to clone, shareable between tasks.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Context>,
}

/// The outcome of [`Engine::handle`].
#[derive(Debug)]
pub enum Step {
    Done(Replies),
    /// Send `progress` now (it carries [`Signal::GenerationStarted`]), then pass this to
    /// [`Engine::complete`] and send what it returns.
    Generating(Pending),
}

/// A generation whose letter was taken from the quota and whose model call is still to be made.
pub struct Pending {
    pub progress: Replies,
    pub(crate) job: Job,
    pub(crate) to: Destination,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("user", &self.job.user)
            .field("session", &self.job.session)
            .finish_non_exhaustive()
    }
}

/// One event being handled.
struct Turn {
    user: users::UserRow,
    profile: Profile,
    lang: Lang,
    now: DateTime<Utc>,
    admin: bool,
    conv: Conversation,
    out: Replies,
    job: Option<Job>,
}

impl Turn {
    fn say(&mut self, html: impl Into<String>) -> &mut OutMessage {
        self.out.say(html)
    }

    fn answer(&mut self, text: impl Into<String>) {
        self.out.button_answer = Some(text.into());
    }
}

impl Engine {
    /// An engine on `pool` (which must hold the declared schema) using the system clock.
    pub fn new(pool: PgPool, writer: llm::Writer, config: Config) -> Self {
        Self::with_clock(pool, writer, config, Arc::new(SystemClock))
    }

    pub fn with_clock(
        pool: PgPool,
        writer: llm::Writer,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner: Arc::new(Context {
                pool,
                writer,
                config,
                clock,
                owner: store::delivery::Owner::random(),
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    pub fn is_offline(&self) -> bool {
        self.inner.writer.is_offline()
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }

    /// Handles one event. Never fails: a database outage becomes a "try again later" reply (and
    /// nothing is granted). A statement that gave up on a lock (a migration holding the table) is
    /// tried again twice, after 0.5 s and 1.5 s: its transaction rolled back, so that is safe.
    pub async fn handle(&self, event: Event) -> Step {
        let lang = Lang::from_code(event.from.language_code.as_deref());
        let button = matches!(event.kind, EventKind::Button { .. });
        let kind = format!("{:?}", event.kind);
        let mut pauses = [500u64, 1_500].into_iter();
        loop {
            match self.try_handle(event.clone()).await {
                Ok(step) => return step,
                Err(e) if e.is_transient() => match pauses.next() {
                    Some(ms) => {
                        tracing::warn!(error = %e, event = %kind, "database busy; trying the event again");
                        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                    }
                    None => {
                        tracing::error!(error = %e, event = %kind, "event not handled: database busy");
                        return Step::Done(unavailable(lang, button));
                    }
                },
                Err(e) => {
                    tracing::error!(error = %e, event = %kind, "event not handled");
                    return Step::Done(unavailable(lang, button));
                }
            }
        }
    }

    /// Runs the model for a pending generation and stores the outcome; returns the letter (or the
    /// failure notice) to send.
    pub async fn complete(&self, pending: Pending) -> Replies {
        let (job, to) = (pending.job, pending.to);
        let result = self.write_renewing(&job, to).await;
        // Storing the letter can lose a lock race with other writers (a deadlock PostgreSQL breaks,
        // a lock timeout): the transaction rolled back, so it is stored again, not left half done.
        let mut pauses = [200u64, 800, 2_000].into_iter();
        loop {
            match self.finish(&job, to, result.clone()).await {
                Ok(r) => return r,
                Err(e) if e.is_transient() => match pauses.next() {
                    Some(ms) => {
                        tracing::warn!(error = %e, user = %job.user, "storing the letter again");
                        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                    }
                    None => {
                        tracing::error!(error = %e, user = %job.user, "generation result not stored");
                        return unavailable(job.lang, false);
                    }
                },
                Err(e) => {
                    tracing::error!(error = %e, user = %job.user, "generation result not stored");
                    return unavailable(job.lang, false);
                }
            }
        }
    }

    /// [`handle`](Self::handle) and, if it started a generation, [`complete`](Self::complete):
    /// for transports that need no "typing" indicator (the terminal, tests, benchmarks).
    pub async fn handle_fully(&self, event: Event) -> Vec<Replies> {
        match self.handle(event).await {
            Step::Done(r) => vec![r],
            Step::Generating(p) => {
                let progress = p.progress.clone();
                vec![progress, self.complete(p).await]
            }
        }
    }

    async fn try_handle(&self, event: Event) -> Result<Step, EngineError> {
        let now = self.now();
        let button = matches!(event.kind, EventKind::Button { .. });
        let mut tx = self.inner.pool.begin().await?;
        if !conversation::mark_processed(&mut tx, &event.id).await? {
            // Handled before: only what was answered then and not sent yet goes out again.
            let mut r = self.inner.stored_replies(&mut tx, &event.id).await?;
            tx.commit().await?;
            tracing::debug!(event = event.id.as_str(), "repeated event");
            if button && r.button_answer.is_none() {
                r.button_answer = Some(String::new());
            }
            return Ok(Step::Done(r));
        }
        let user = users::upsert(&mut tx, &event.from, now).await?;
        // The transport's span for this event declares `user` (the internal id, never the
        // Telegram id or a name); every later line of the event, the model call and the replies
        // sent carries it.
        tracing::Span::current().record("user", tracing::field::display(user.id));
        let conv = conversation::lock(&mut tx, user.id).await?;
        let before = conv.clone();
        let mut t = Turn {
            user,
            lang: Lang::from_code(event.from.language_code.as_deref()),
            admin: self.inner.config.is_admin(event.from.telegram_id),
            profile: event.from,
            now,
            conv,
            out: Replies::default(),
            job: None,
        };
        if button {
            t.answer("");
        }
        self.recover_interrupted(&mut tx, &mut t).await?;
        // A "Да, удалить" confirms only the /delete_me it was shown for: anything the user does
        // in between (/new, a vacancy, another button) withdraws it.
        let keeps_delete_request = match &event.kind {
            EventKind::Button { data } => matches!(
                Action::decode(data),
                Some(Action::DeleteConfirm | Action::DeleteCancel)
            ),
            _ => false,
        };
        if !keeps_delete_request {
            t.conv.delete_requested_at = None;
        }
        self.dispatch(&mut tx, &mut t, event.kind).await?;
        if t.conv != before {
            conversation::save(&mut tx, t.user.id, &t.conv, now).await?;
        }
        let to = Destination {
            chat: event.id.is_redeliverable().then_some(t.profile.telegram_id),
        };
        if let (Some(job), Some(_)) = (&t.job, to.chat) {
            store::delivery::lease_generation(&mut tx, t.user.id, job.session, self.owner(), now)
                .await?;
        }
        self.inner
            .keep_replies(&mut tx, &event.id, t.user.id, &mut t.out)
            .await?;
        tx.commit().await?;
        tracing::info!(state = t.conv.state.as_str(), "event handled");
        Ok(match t.job {
            Some(job) => Step::Generating(Pending {
                progress: t.out,
                job,
                to,
            }),
            None => Step::Done(t.out),
        })
    }

    async fn dispatch(
        &self,
        tx: &mut PgConnection,
        t: &mut Turn,
        kind: EventKind,
    ) -> Result<(), EngineError> {
        match kind {
            EventKind::Text(text) => match split_command(&text) {
                Some((name, args)) => self.command(tx, t, &name, &args).await,
                None => self.text(tx, t, &text, false).await,
            },
            EventKind::Command { name, args } => self.command(tx, t, &name, &args).await,
            EventKind::Button { data } => self.button(tx, t, &data).await,
            EventKind::Document { text, .. } if t.conv.state == State::AwaitingResume => {
                self.text(tx, t, &text, true).await
            }
            EventKind::Document { .. } => {
                let hint = texts::hint(t.lang, t.conv.state, Some(Media::Document));
                t.say(hint);
                Ok(())
            }
            EventKind::Unsupported(media) => {
                let hint = texts::hint(t.lang, t.conv.state, Some(media));
                t.say(hint);
                Ok(())
            }
        }
    }

    /// A generation whose process died never finishes: after a while it is failed, its letter
    /// given back, and the user offered a retry.
    async fn recover_interrupted(
        &self,
        tx: &mut PgConnection,
        t: &mut Turn,
    ) -> Result<(), EngineError> {
        if t.conv.state != State::Generating {
            return Ok(());
        }
        if self
            .inner
            .generation_alive(tx, t.user.id, t.conv.generation_started_at, t.now)
            .await?
        {
            return Ok(());
        }
        if let Some(g) = t.conv.grant.take() {
            quota::give_back(tx, &g).await?;
        }
        t.conv.generation_started_at = None;
        let session = match t.conv.session {
            Some(sid) => sessions::get(tx, sid).await?,
            None => None,
        };
        let lang = t.lang;
        match session {
            Some(s) if s.generated_letter.is_some() => t.conv.state = State::AwaitingFeedback,
            Some(s) => {
                sessions::set_status(tx, s.id, SessionStatus::Failed).await?;
                t.conv.state = State::Ready;
                t.say(texts::interrupted(lang)).buttons =
                    vec![vec![btn(buttons::retry(lang), Action::Retry(s.id))]];
                return Ok(());
            }
            None => t.conv.state = State::Idle,
        }
        t.say(texts::interrupted(lang));
        Ok(())
    }

    fn rate(
        &self,
        t: &Turn,
        rule: RateRule,
        history: &[DateTime<Utc>],
    ) -> Result<Option<Vec<DateTime<Utc>>>, i64> {
        if t.admin {
            return Ok(None);
        }
        rule.admit(history, t.now)
            .map(Some)
            .map_err(|l| l.wait_seconds(t.now))
    }

    /// Answers a Stars `pre_checkout_query`: ok only if the payload names this user and the
    /// current price.
    pub async fn pre_checkout(&self, q: &PreCheckout) -> Result<(), PreCheckoutRefusal> {
        self.inner.pre_checkout(q).await
    }

    /// Records a Stars payment and activates or extends premium in one transaction; a repeated
    /// delivery changes nothing. When the database fails, the replies are only
    /// [`crate::Signal::Unavailable`]: the transport must not acknowledge the update.
    pub async fn payment_succeeded(&self, p: SuccessfulPayment) -> Replies {
        self.inner.payment_succeeded(p).await
    }

    /// After the Bot API refunded a Stars payment (or said it already was): marks it refunded and
    /// revokes its days, once. Returns the message for the admin.
    /// `lang` is the admin's (from [`Signal::RefundStars`]).
    pub async fn refund_completed(&self, charge_id: &str, lang: Lang) -> Replies {
        self.inner.refund_completed(charge_id, lang).await
    }

    /// Forgets processed event ids older than `age` (housekeeping; run it now and then).
    pub async fn forget_processed_events(&self, age: chrono::Duration) -> Result<u64, EngineError> {
        let mut conn = self.inner.pool.acquire().await?;
        let before = self.now() - age;
        let events = conversation::forget_processed_before(&mut conn, before).await?;
        Ok(events + store::delivery::forget_before(&mut conn, before).await?)
    }
}
