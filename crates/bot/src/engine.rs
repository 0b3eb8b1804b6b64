//! The conversation engine: one event in, the replies out, every bit of state in PostgreSQL.
//!
//! Each event runs in one transaction that records its id (a repeated id is a no-op), locks the
//! user's conversation row (so one user's events are handled one at a time, whatever the replica)
//! and saves the new state. A generation is split in two so no transaction is held while the
//! model writes: [`Engine::handle`] takes the letter from the quota and returns
//! [`Step::Generating`]; [`Engine::complete`] calls the model and stores the result.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::ratelimit::{self, RateRule};
use domain::{
    Clock, EventType, ImprovementRequest, Plan, Resume, SessionId, StartPayload, SystemClock,
    UserId, Vacancy,
};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use store::conversation::{self, Conversation, State};
use store::sessions::{self, Feedback, Session};
use store::{acquisition, events, llm_log, quota, users, StoreError};

use crate::callback::Action;
use crate::config::Config;
use crate::delivery::Destination;
use crate::event::{split_command, Event, EventKind, Lang, Media, Profile};
use crate::reply::{escape_html, Button, Invoice, OutMessage, Replies, Signal};
use crate::texts::{self, buttons};

/// Why an event could not be handled (the user gets a "try again later" reply).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("inconsistent conversation: {0}")]
    Inconsistent(&'static str),
}

impl EngineError {
    /// A lock timeout or an aborted conflict: the event can be handled again.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Db(e) | Self::Store(StoreError::Db(e)) => store::is_transient(e),
            _ => false,
        }
    }
}

/// The engine; cheap to clone, shareable between tasks.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) pool: PgPool,
    pub(crate) writer: llm::Writer,
    pub(crate) config: Config,
    pub(crate) clock: Arc<dyn Clock>,
    /// This replica's key on the rows it works on (see `store::delivery`).
    pub(crate) owner: store::delivery::Owner,
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

pub(crate) struct Job {
    pub(crate) user: UserId,
    lang: Lang,
    pub(crate) session: SessionId,
    vacancy: String,
    resume: String,
    work: Work,
    /// Plan, letters left and limit after the letter was taken.
    quota_after: Option<(Plan, i32, i32)>,
}

enum Work {
    Letter { variant: u32 },
    Improve { latest: String, request: String },
}

impl Job {
    pub(crate) fn task(&self) -> llm::Task<'_> {
        match &self.work {
            Work::Letter { variant } => llm::Task::Letter {
                vacancy: &self.vacancy,
                resume: &self.resume,
                variant: *variant,
            },
            Work::Improve { latest, request } => llm::Task::Improve {
                vacancy: &self.vacancy,
                resume: &self.resume,
                latest,
                request,
            },
        }
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

enum Source {
    Existing(SessionId),
    VariantOf(Session),
}

const DELETE_CONFIRMATION_WINDOW: chrono::Duration = chrono::Duration::minutes(10);

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
            inner: Arc::new(Inner {
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
        self.inner.clock.now()
    }

    pub(crate) fn unavailable(lang: Lang, button: bool) -> Replies {
        let mut r = Replies::default();
        r.say(texts::unavailable(lang));
        r.signals.push(Signal::Unavailable);
        if button {
            r.button_answer = Some(String::new());
        }
        r
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
                        return Step::Done(Self::unavailable(lang, button));
                    }
                },
                Err(e) => {
                    tracing::error!(error = %e, event = %kind, "event not handled");
                    return Step::Done(Self::unavailable(lang, button));
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
                        return Self::unavailable(job.lang, false);
                    }
                },
                Err(e) => {
                    tracing::error!(error = %e, user = %job.user, "generation result not stored");
                    return Self::unavailable(job.lang, false);
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
        if !conversation::mark_processed(&mut tx, event.id.as_str()).await? {
            // Handled before: only what was answered then and not sent yet goes out again.
            let mut r = self.stored_replies(&mut tx, &event.id).await?;
            tx.commit().await?;
            tracing::debug!(event = event.id.as_str(), "repeated event");
            if button && r.button_answer.is_none() {
                r.button_answer = Some(String::new());
            }
            return Ok(Step::Done(r));
        }
        let user = users::upsert(&mut tx, &event.from, now).await?;
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
        self.keep_replies(&mut tx, &event.id, t.user.id, &mut t.out)
            .await?;
        tx.commit().await?;
        tracing::debug!(user = %t.user.id, state = t.conv.state.as_str(), "event handled");
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
            EventKind::Command { name, args } => {
                let name = name
                    .trim_start_matches('/')
                    .split('@')
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                self.command(tx, t, &name, &args).await
            }
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
                sessions::set_status(tx, s.id, "failed").await?;
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

    async fn command(
        &self,
        tx: &mut PgConnection,
        t: &mut Turn,
        name: &str,
        args: &str,
    ) -> Result<(), EngineError> {
        match self.rate(t, ratelimit::COMMANDS, &t.conv.command_times) {
            Ok(Some(history)) => t.conv.command_times = history,
            Ok(None) => {}
            Err(wait) => {
                let text = texts::rate_limited(t.lang, wait, false);
                t.say(text);
                return Ok(());
            }
        }
        let l = t.lang;
        match name {
            "start" => self.start(tx, t, args).await?,
            "new" => self.new_letter(tx, t).await?,
            "cancel" => {
                self.leave_current(tx, t).await?;
                t.conv.state = State::Idle;
                t.conv.session = None;
                t.say(texts::cancelled(l));
            }
            "help" => {
                t.say(texts::help(l));
            }
            "about" => {
                t.say(texts::about(l));
            }
            "support" => {
                let text = texts::support(l, self.inner.config.support_contact.as_deref());
                t.say(text);
            }
            "privacy" => {
                t.say(texts::privacy(l));
            }
            "terms" => {
                t.say(texts::terms(l));
            }
            "premium" => self.offer_premium(tx, t, "command").await?,
            "subscription" => self.subscription(tx, t).await?,
            "delete_me" => {
                t.conv.delete_requested_at = Some(t.now);
                t.say(texts::delete_confirm(l)).buttons = vec![vec![
                    btn(buttons::delete_yes(l), Action::DeleteConfirm),
                    btn(buttons::delete_no(l), Action::DeleteCancel),
                ]];
            }
            "refund" if t.admin => self.refund_request(tx, t, args).await?,
            _ => {
                t.say(texts::unknown_command(l));
            }
        }
        Ok(())
    }

    /// Ends whatever letter is in progress: an unfinished session is abandoned and a letter taken
    /// for a generation still in flight is given back (that generation's result is then dropped).
    async fn leave_current(&self, tx: &mut PgConnection, t: &mut Turn) -> Result<(), EngineError> {
        if let Some(g) = t.conv.grant.take() {
            quota::give_back(tx, &g).await?;
        }
        t.conv.generation_started_at = None;
        sessions::abandon_unfinished(tx, t.user.id).await?;
        Ok(())
    }

    async fn start(
        &self,
        tx: &mut PgConnection,
        t: &mut Turn,
        args: &str,
    ) -> Result<(), EngineError> {
        self.leave_current(tx, t).await?;
        let payload = if args.is_empty() {
            None
        } else {
            Some(StartPayload::parse(args))
        };
        let payload_kind = match &payload {
            None => "none",
            Some(Err(_)) => "malformed",
            Some(Ok(p)) => match p.meaning() {
                domain::Acquisition::Referral { .. } => "referral",
                domain::Acquisition::Utm { .. } => "utm",
                domain::Acquisition::Other => "other",
            },
        };
        if let (true, Some(Ok(p))) = (t.user.created, &payload) {
            acquisition::record_first_touch(tx, t.user.id, p).await?;
        }
        events::record(
            tx,
            t.user.id,
            EventType::Start,
            None,
            json!({ "payload": payload_kind, "new_user": t.user.created }),
        )
        .await?;
        let sub = quota::current(tx, t.user.id, &self.inner.config.quota, t.now).await?;
        let line = texts::quota_line(t.lang, sub.plan, sub.letters_left(), sub.letters_limit);
        t.conv.session = None;
        if sub.letters_left() <= 0 {
            t.say(texts::greeting_only(
                t.lang,
                t.profile.first_name.as_deref(),
            ));
            t.conv.state = State::Idle;
            self.limit_reached(tx, t).await?;
            return Ok(());
        }
        let text = texts::greeting(t.lang, t.profile.first_name.as_deref(), &line);
        t.say(text);
        t.conv.state = State::AwaitingVacancy;
        Ok(())
    }

    async fn new_letter(&self, tx: &mut PgConnection, t: &mut Turn) -> Result<(), EngineError> {
        self.leave_current(tx, t).await?;
        t.conv.session = None;
        let sub = quota::current(tx, t.user.id, &self.inner.config.quota, t.now).await?;
        if sub.letters_left() <= 0 {
            // Said before the user pastes two texts, not after.
            t.conv.state = State::Idle;
            self.limit_reached(tx, t).await?;
            return Ok(());
        }
        t.conv.state = State::AwaitingVacancy;
        let line = texts::quota_line(t.lang, sub.plan, sub.letters_left(), sub.letters_limit);
        let text = format!("{line}\n\n{}", texts::ask_vacancy(t.lang));
        t.say(text);
        Ok(())
    }

    /// No letter is left in the quota window: say when new ones come and offer Premium.
    async fn limit_reached(&self, tx: &mut PgConnection, t: &mut Turn) -> Result<(), EngineError> {
        let c = &self.inner.config;
        let l = t.lang;
        let sub = quota::current(tx, t.user.id, &c.quota, t.now).await?;
        events::record(
            tx,
            t.user.id,
            EventType::LimitReached,
            None,
            json!({ "plan": sub.plan.as_str(), "limit": sub.letters_limit }),
        )
        .await?;
        let m = t.say(texts::limit_reached(
            l,
            sub.plan,
            sub.letters_limit,
            sub.window.end,
            c.premium_price_stars,
        ));
        if sub.plan == Plan::Free {
            m.buttons = vec![vec![btn(
                buttons::buy(l, c.premium_price_stars),
                Action::Buy,
            )]];
            events::record(
                tx,
                t.user.id,
                EventType::PremiumOfferShown,
                None,
                json!({ "touchpoint": "limit_reached" }),
            )
            .await?;
        }
        Ok(())
    }

    async fn offer_premium(
        &self,
        tx: &mut PgConnection,
        t: &mut Turn,
        touchpoint: &str,
    ) -> Result<(), EngineError> {
        let c = &self.inner.config;
        events::record(
            tx,
            t.user.id,
            EventType::PremiumOfferShown,
            None,
            json!({ "touchpoint": touchpoint }),
        )
        .await?;
        let l = t.lang;
        t.say(texts::premium(
            l,
            c.quota.free_letters_per_month,
            c.quota.premium_letters_per_day,
            c.premium_price_stars,
            c.premium_days,
        ))
        .buttons = vec![vec![btn(
            buttons::buy(l, c.premium_price_stars),
            Action::Buy,
        )]];
        Ok(())
    }

    async fn subscription(&self, tx: &mut PgConnection, t: &mut Turn) -> Result<(), EngineError> {
        let c = &self.inner.config;
        let sub = quota::current(tx, t.user.id, &c.quota, t.now).await?;
        let l = t.lang;
        let line = texts::quota_line(l, sub.plan, sub.letters_left(), sub.letters_limit);
        let m = t.say(texts::subscription(
            l,
            sub.plan,
            &line,
            sub.period_end,
            sub.window.end,
        ));
        // Paying during premium extends it, so the button is there on both plans.
        m.buttons = vec![vec![btn(
            buttons::buy(l, c.premium_price_stars),
            Action::Buy,
        )]];
        Ok(())
    }

    async fn text(
        &self,
        tx: &mut PgConnection,
        t: &mut Turn,
        text: &str,
        document: bool,
    ) -> Result<(), EngineError> {
        let l = t.lang;
        match t.conv.state {
            State::AwaitingVacancy => match Vacancy::parse(text) {
                Err(e) => {
                    t.say(texts::vacancy_error(l, &e));
                }
                Ok(v) => {
                    let sid = sessions::create(
                        tx,
                        t.user.id,
                        v.as_str(),
                        None,
                        Plan::Free.max_improvements(),
                        t.now,
                    )
                    .await?;
                    let len = v.as_str().chars().count();
                    events::record(
                        tx,
                        t.user.id,
                        EventType::VacancySent,
                        Some(sid),
                        json!({ "vacancy_length": len }),
                    )
                    .await?;
                    t.conv.state = State::AwaitingResume;
                    t.conv.session = Some(sid);
                    let consent = !t.user.consent_given;
                    t.say(texts::ask_resume(l, consent));
                }
            },
            State::AwaitingResume => match Resume::parse(text) {
                Err(e) => {
                    t.say(texts::resume_error(l, &e));
                }
                Ok(r) => {
                    let Some(sid) = t.conv.session else {
                        t.conv.state = State::AwaitingVacancy;
                        t.say(texts::ask_vacancy(l));
                        return Ok(());
                    };
                    sessions::set_resume(tx, sid, r.as_str(), Plan::Free.max_improvements())
                        .await?;
                    if !t.user.consent_given {
                        users::record_consent(
                            tx,
                            t.user.id,
                            &self.inner.config.consent_version,
                            t.now,
                        )
                        .await?;
                        t.user.consent_given = true;
                    }
                    let len = r.as_str().chars().count();
                    events::record(
                        tx,
                        t.user.id,
                        EventType::ResumeSent,
                        Some(sid),
                        json!({ "resume_length": len, "document": document }),
                    )
                    .await?;
                    t.conv.state = State::Ready;
                    self.start_letter(tx, t, Source::Existing(sid)).await?;
                }
            },
            State::AwaitingImprovement => match ImprovementRequest::parse(text) {
                Err(e) => {
                    t.say(texts::improvement_error(l, &e));
                }
                Ok(r) => self.start_improvement(tx, t, r).await?,
            },
            state => {
                t.say(texts::hint(l, state, None));
            }
        }
        Ok(())
    }

    async fn start_letter(
        &self,
        tx: &mut PgConnection,
        t: &mut Turn,
        source: Source,
    ) -> Result<(), EngineError> {
        let l = t.lang;
        let c = &self.inner.config;
        // Another variant differs from every letter before it; one the offline composer cannot
        // make different is refused before anything is charged.
        let mut next_variant = 0;
        if let Source::VariantOf(s) = &source {
            let resume = s.resume_text.as_deref().unwrap_or_default();
            let before =
                sessions::letters_for_inputs(tx, t.user.id, &s.job_description, resume).await?;
            next_variant = u32::try_from(before.len()).unwrap_or(u32::MAX).max(1);
            if self.inner.writer.is_offline() {
                let fresh = (next_variant..next_variant.saturating_add(6)).find(|&v| {
                    let text = llm::offline_compose(&s.job_description, resume, v);
                    !before.contains(&text)
                });
                match fresh {
                    Some(v) => next_variant = v,
                    None => {
                        t.conv.state = State::AwaitingFeedback;
                        t.say(texts::no_new_variant(l));
                        return Ok(());
                    }
                }
            }
        }
        let history = match self.rate(t, ratelimit::GENERATIONS, &t.conv.generation_times) {
            Ok(h) => h,
            Err(wait) => {
                let m = t.say(texts::rate_limited(l, wait, true));
                if let Source::Existing(sid) = source {
                    m.buttons = vec![vec![btn(buttons::retry(l), Action::Retry(sid))]];
                }
                return Ok(());
            }
        };
        let Some(grant) = quota::take_letter(tx, t.user.id, &c.quota, t.now).await? else {
            self.limit_reached(tx, t).await?;
            return Ok(());
        };
        if let Some(h) = history {
            t.conv.generation_times = h;
        }
        let max_improvements = grant.plan.max_improvements();
        let (session, vacancy, resume, variant) = match source {
            Source::Existing(sid) => {
                let (vacancy, resume) = sessions::start_generating(tx, sid, None, max_improvements)
                    .await?
                    .ok_or(EngineError::Inconsistent(
                        "session of the conversation is gone",
                    ))?;
                (sid, vacancy, resume, 0)
            }
            Source::VariantOf(s) => {
                let resume = s.resume_text.unwrap_or_default();
                let sid = sessions::create(
                    tx,
                    t.user.id,
                    &s.job_description,
                    Some(&resume),
                    max_improvements,
                    t.now,
                )
                .await?;
                sessions::start_generating(tx, sid, None, max_improvements).await?;
                (sid, s.job_description, resume, next_variant)
            }
        };
        t.conv.state = State::Generating;
        t.conv.session = Some(session);
        t.conv.grant = Some(grant);
        t.conv.generation_started_at = Some(t.now);
        t.say(texts::progress(l, false));
        t.out.signals.push(Signal::GenerationStarted);
        t.job = Some(Job {
            user: t.user.id,
            lang: l,
            session,
            vacancy,
            resume,
            work: Work::Letter { variant },
            quota_after: Some((
                grant.plan,
                grant.letters_limit - grant.letters_used,
                grant.letters_limit,
            )),
        });
        Ok(())
    }

    async fn start_improvement(
        &self,
        tx: &mut PgConnection,
        t: &mut Turn,
        request: ImprovementRequest,
    ) -> Result<(), EngineError> {
        let l = t.lang;
        let Some(sid) = t.conv.session else {
            t.conv.state = State::Idle;
            t.say(texts::hint(l, State::Idle, None));
            return Ok(());
        };
        let s = sessions::get(tx, sid)
            .await?
            .ok_or(EngineError::Inconsistent(
                "session of the conversation is gone",
            ))?;
        if s.iterations_used >= s.max_iterations {
            t.conv.state = State::AwaitingFeedback;
            t.say(texts::no_improvements_left(
                l,
                s.max_iterations > Plan::Free.max_improvements(),
            ));
            return Ok(());
        }
        let (_, latest) = sessions::latest_version(tx, sid)
            .await?
            .ok_or(EngineError::Inconsistent("no letter to improve"))?;
        // Offline, a request the composer cannot apply is said so before an improvement or a
        // rate-limit slot is used; the user may write another request.
        if self.inner.writer.is_offline() {
            let resume = s.resume_text.as_deref().unwrap_or_default();
            if let Err(why) =
                llm::offline_improve(&s.job_description, resume, &latest, request.as_str())
            {
                t.conv.state = State::AwaitingImprovement;
                t.say(escape_html(&why.message(l == Lang::Ru)));
                return Ok(());
            }
        }
        match self.rate(t, ratelimit::GENERATIONS, &t.conv.generation_times) {
            Ok(Some(h)) => t.conv.generation_times = h,
            Ok(None) => {}
            Err(wait) => {
                t.say(texts::rate_limited(l, wait, true));
                return Ok(());
            }
        }
        t.conv.state = State::Generating;
        t.conv.generation_started_at = Some(t.now);
        t.conv.grant = None;
        t.say(texts::progress(l, true));
        t.out.signals.push(Signal::GenerationStarted);
        t.job = Some(Job {
            user: t.user.id,
            lang: l,
            session: sid,
            vacancy: s.job_description,
            resume: s.resume_text.unwrap_or_default(),
            work: Work::Improve {
                latest,
                request: request.as_str().to_string(),
            },
            quota_after: None,
        });
        Ok(())
    }

    /// Is `session` the letter the buttons of the current conversation refer to?
    fn current_letter(t: &Turn, session: SessionId) -> bool {
        t.conv.session == Some(session)
            && matches!(
                t.conv.state,
                State::AwaitingFeedback | State::AwaitingImprovement
            )
    }

    async fn button(
        &self,
        tx: &mut PgConnection,
        t: &mut Turn,
        data: &str,
    ) -> Result<(), EngineError> {
        let l = t.lang;
        let Some(action) = Action::decode(data) else {
            t.answer(texts::closed(l));
            return Ok(());
        };
        let letter_action = matches!(
            action,
            Action::Feedback { .. } | Action::Improve(_) | Action::Variant(_) | Action::Retry(_)
        );
        if letter_action && t.conv.state == State::Generating {
            t.answer(texts::still_generating(l));
            return Ok(());
        }
        match action {
            Action::Feedback {
                session,
                iteration,
                feedback,
            } => {
                let latest = if Self::current_letter(t, session) {
                    sessions::latest_version(tx, session).await?.map(|(n, _)| n)
                } else {
                    None
                };
                if latest.is_none_or(|n| iteration > n) {
                    t.answer(texts::closed(l));
                    return Ok(());
                }
                sessions::upsert_feedback(tx, session, t.user.id, iteration, feedback, t.now)
                    .await?;
                events::record(
                    tx,
                    t.user.id,
                    EventType::FeedbackGiven,
                    Some(session),
                    json!({ "feedback": feedback.as_str(), "iteration_number": iteration }),
                )
                .await?;
                let improvements_left = match sessions::get(tx, session).await? {
                    Some(s) => s.iterations_used < s.max_iterations,
                    None => false,
                };
                t.answer(texts::feedback_thanks(
                    l,
                    feedback == Feedback::Like,
                    improvements_left,
                ));
            }
            Action::Improve(session) => {
                if !Self::current_letter(t, session) {
                    t.answer(texts::closed(l));
                    return Ok(());
                }
                let s = sessions::get(tx, session)
                    .await?
                    .ok_or(EngineError::Inconsistent(
                        "session of the conversation is gone",
                    ))?;
                let remaining = s.max_iterations - s.iterations_used;
                if remaining <= 0 {
                    let premium = s.max_iterations > Plan::Free.max_improvements();
                    let m = t.say(texts::no_improvements_left(l, premium));
                    if !premium {
                        m.buttons = vec![vec![btn(
                            buttons::buy(l, self.inner.config.premium_price_stars),
                            Action::Buy,
                        )]];
                        events::record(
                            tx,
                            t.user.id,
                            EventType::PremiumOfferShown,
                            Some(session),
                            json!({ "touchpoint": "iteration" }),
                        )
                        .await?;
                    }
                    return Ok(());
                }
                t.conv.state = State::AwaitingImprovement;
                t.say(texts::ask_improvement(l, remaining));
            }
            Action::Variant(session) => {
                if !Self::current_letter(t, session) {
                    t.answer(texts::closed(l));
                    return Ok(());
                }
                let s = sessions::get(tx, session)
                    .await?
                    .ok_or(EngineError::Inconsistent(
                        "session of the conversation is gone",
                    ))?;
                t.conv.state = State::AwaitingFeedback;
                self.start_letter(tx, t, Source::VariantOf(s)).await?;
            }
            Action::Retry(session) => {
                if t.conv.session != Some(session) || t.conv.state != State::Ready {
                    t.answer(texts::closed(l));
                    return Ok(());
                }
                self.start_letter(tx, t, Source::Existing(session)).await?;
            }
            Action::Buy => {
                let c = &self.inner.config;
                let invoice = Invoice {
                    title: texts::invoice_title(l, c.premium_days),
                    description: texts::invoice_description(l, c.quota.premium_letters_per_day),
                    payload: crate::payments::invoice_payload(
                        t.user.id,
                        c.premium_price_stars,
                        c.premium_days,
                    ),
                    currency: "XTR".into(),
                    amount_stars: c.premium_price_stars,
                };
                events::record(
                    tx,
                    t.user.id,
                    EventType::InvoiceSent,
                    None,
                    json!({ "amount": c.premium_price_stars, "currency": "XTR" }),
                )
                .await?;
                t.out.signals.push(Signal::SendInvoice(invoice));
            }
            Action::NewLetter => self.new_letter(tx, t).await?,
            Action::DeleteConfirm => {
                let fresh = t
                    .conv
                    .delete_requested_at
                    .is_some_and(|at| at + DELETE_CONFIRMATION_WINDOW > t.now);
                if !fresh {
                    t.say(texts::delete_expired(l));
                    return Ok(());
                }
                self.leave_current(tx, t).await?;
                let deleted = sessions::delete_all_of(tx, t.user.id).await?;
                store::delivery::forget_user(tx, t.user.id).await?;
                users::erase_profile(tx, t.user.id).await?;
                events::record(
                    tx,
                    t.user.id,
                    EventType::DataDeleted,
                    None,
                    json!({ "sessions": deleted }),
                )
                .await?;
                t.conv.state = State::Idle;
                t.conv.session = None;
                t.conv.delete_requested_at = None;
                t.say(texts::delete_done(l, deleted));
            }
            Action::DeleteCancel => {
                t.conv.delete_requested_at = None;
                t.say(texts::delete_kept(l));
            }
        }
        Ok(())
    }

    async fn refund_request(
        &self,
        tx: &mut PgConnection,
        t: &mut Turn,
        args: &str,
    ) -> Result<(), EngineError> {
        let charge = args.trim();
        let payment = if charge.is_empty() {
            None
        } else {
            store::payments::find_for_update(tx, "telegram_stars", charge).await?
        };
        match payment {
            Some(p) if p.status == "succeeded" => {
                // Recorded before Telegram is asked: if what follows fails half-way, the next
                // /refund asks again and "already refunded" completes it.
                store::payments::request_refund(tx, p.id).await?;
                tracing::info!(charge_id = %charge, "refund requested");
                let payer = users::telegram_id(tx, p.user)
                    .await?
                    .ok_or(EngineError::Inconsistent("payer is gone"))?;
                t.out.signals.push(Signal::RefundStars {
                    user: payer,
                    charge_id: charge.to_string(),
                });
                t.say(format!(
                    "Refund of {} {} requested for {}.",
                    p.amount_minor,
                    escape_html(&p.currency),
                    escape_html(charge)
                ));
            }
            Some(p) => {
                t.say(format!(
                    "Payment {} is {}, nothing to refund.",
                    escape_html(charge),
                    escape_html(&p.status)
                ));
            }
            None => {
                t.say(
                    "Usage: /refund &lt;telegram_payment_charge_id&gt; of a succeeded payment."
                        .to_string(),
                );
            }
        }
        Ok(())
    }

    async fn finish(
        &self,
        job: &Job,
        to: Destination,
        result: Result<llm::Letter, llm::Failure>,
    ) -> Result<Replies, EngineError> {
        let now = self.now();
        let l = job.lang;
        let mut tx = self.inner.pool.begin().await?;
        let calls = match &result {
            Ok(letter) => &letter.calls,
            Err(failure) => &failure.calls,
        };
        for call in calls {
            llm_log::record(&mut tx, job.user, Some(job.session), &to_store_call(call)).await?;
        }
        let mut conv = conversation::lock(&mut tx, job.user).await?;
        let mut out = Replies::default();
        if conv.state != State::Generating || conv.session != Some(job.session) {
            // The user moved on (/cancel, /new, /start) while the model was writing; the letter was
            // settled then, so the result is dropped.
            tx.commit().await?;
            return Ok(out);
        }
        let grant = conv.grant.take();
        conv.generation_started_at = None;
        match (result, &job.work) {
            (Ok(letter), Work::Letter { variant }) => {
                sessions::complete(
                    &mut tx,
                    job.session,
                    &letter.text,
                    letter.seconds,
                    &letter.model,
                    now,
                )
                .await?;
                let data = json!({
                    "letter_length": letter.text.chars().count(),
                    "generation_time_seconds": letter.seconds,
                    "model": letter.model,
                    "offline": letter.offline,
                    "variant": variant,
                });
                events::record(
                    &mut tx,
                    job.user,
                    EventType::LetterGenerated,
                    Some(job.session),
                    data,
                )
                .await?;
                conv.state = State::AwaitingFeedback;
                let (plan, left, limit) = job.quota_after.unwrap_or((Plan::Free, 0, 0));
                out.say(texts::letter_ready(
                    l,
                    letter.seconds,
                    &texts::quota_line(l, plan, left, limit),
                    letter.offline,
                ));
                let remaining = plan.max_improvements();
                push_letter(&mut out, l, job.session, 0, &letter.text, remaining);
            }
            (Ok(letter), Work::Improve { request, .. }) => {
                let it = sessions::NewIteration {
                    request,
                    letter: &letter.text,
                    generation_time_seconds: letter.seconds,
                    model: &letter.model,
                };
                let n = sessions::add_iteration(&mut tx, job.session, job.user, it, now).await?;
                conv.state = State::AwaitingFeedback;
                match n {
                    Some(n) => {
                        let data = json!({
                            "iteration_number": n,
                            "improvement_length": request.chars().count(),
                            "generation_time_seconds": letter.seconds,
                            "model": letter.model,
                        });
                        events::record(
                            &mut tx,
                            job.user,
                            EventType::LetterImproved,
                            Some(job.session),
                            data,
                        )
                        .await?;
                        let s = sessions::get(&mut tx, job.session)
                            .await?
                            .ok_or(EngineError::Inconsistent("session vanished"))?;
                        let remaining = s.max_iterations - s.iterations_used;
                        out.say(texts::improved(l, n, remaining, letter.seconds));
                        push_letter(&mut out, l, job.session, n, &letter.text, remaining);
                    }
                    None => {
                        out.say(texts::no_improvements_left(l, false));
                    }
                }
            }
            (Err(failure), work) => {
                if let Some(g) = grant {
                    quota::give_back(&mut tx, &g).await?;
                }
                let kind = if matches!(work, Work::Letter { .. }) {
                    "letter"
                } else {
                    "improvement"
                };
                let data = json!({ "kind": kind, "error": failure.error.to_string(), "calls": failure.calls.len() });
                events::record(
                    &mut tx,
                    job.user,
                    EventType::LetterFailed,
                    Some(job.session),
                    data,
                )
                .await?;
                if let Work::Letter { .. } = work {
                    sessions::set_status(&mut tx, job.session, "failed").await?;
                    conv.state = State::Ready;
                    out.say(texts::generation_failed(l)).buttons = vec![
                        vec![btn(buttons::retry(l), Action::Retry(job.session))],
                        vec![btn(buttons::new_letter(l), Action::NewLetter)],
                    ];
                } else {
                    conv.state = State::AwaitingFeedback;
                    let s = sessions::get(&mut tx, job.session)
                        .await?
                        .ok_or(EngineError::Inconsistent("session vanished"))?;
                    let remaining = s.max_iterations - s.iterations_used;
                    out.say(texts::improvement_failed(l)).buttons =
                        letter_buttons(l, job.session, s.iterations_used, remaining);
                }
                tracing::warn!(user = %job.user, error = %failure.error, "generation failed");
            }
        }
        conversation::save(&mut tx, job.user, &conv, now).await?;
        self.keep_letter(&mut tx, job.user, to, &mut out).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Forgets processed event ids older than `age` (housekeeping; run it now and then).
    pub async fn forget_processed_events(&self, age: chrono::Duration) -> Result<u64, EngineError> {
        let mut conn = self.inner.pool.acquire().await?;
        let before = self.now() - age;
        let events = conversation::forget_processed_before(&mut conn, before).await?;
        Ok(events + store::delivery::forget_before(&mut conn, before).await?)
    }
}

pub(crate) fn btn(label: String, action: Action) -> Button {
    Button {
        label,
        data: action.encode(),
    }
}

fn letter_buttons(l: Lang, session: SessionId, iteration: i32, remaining: i32) -> Vec<Vec<Button>> {
    let mut second = Vec::new();
    if remaining > 0 {
        second.push(btn(
            buttons::improve(l, remaining),
            Action::Improve(session),
        ));
    }
    second.push(btn(buttons::variant(l), Action::Variant(session)));
    vec![
        vec![
            btn(
                buttons::like(l),
                Action::Feedback {
                    session,
                    iteration,
                    feedback: Feedback::Like,
                },
            ),
            btn(
                buttons::dislike(l),
                Action::Feedback {
                    session,
                    iteration,
                    feedback: Feedback::Dislike,
                },
            ),
        ],
        second,
    ]
}

fn push_letter(
    out: &mut Replies,
    l: Lang,
    session: SessionId,
    iteration: i32,
    text: &str,
    remaining: i32,
) {
    out.messages.push(OutMessage {
        html: escape_html(text),
        buttons: letter_buttons(l, session, iteration, remaining),
        letter: true,
    });
}

fn to_store_call(c: &llm::CallRecord) -> llm_log::LlmCall {
    llm_log::LlmCall {
        provider: c.provider.clone(),
        model: c.model.clone(),
        request_type: match c.kind {
            llm::Kind::Generation => llm_log::RequestType::LetterGeneration,
            llm::Kind::Improvement => llm_log::RequestType::LetterImprovement,
        },
        prompt_tokens: c.prompt_tokens,
        completion_tokens: c.completion_tokens,
        total_tokens: c.total_tokens,
        response_time_ms: c.response_time_ms,
        success: c.success,
        error_message: c.error.clone(),
    }
}
