//! Generations: taking the letter from the quota and starting the model ([`Engine::handle`]'s
//! half), then storing the letter, the improvement or the failure ([`Engine::complete`]'s half).

use domain::{EventType, ImprovementRequest, Plan, SessionId, SessionStatus, UserId};
use serde_json::json;
use sqlx::PgConnection;
use store::conversation::{self, State};
use store::sessions::{self, Session};
use store::{delivery, events, llm_log, quota};

use super::button::letter_buttons;
use super::{Engine, Turn};
use crate::callback::{btn, Action};
use crate::context::Destination;
use crate::delivery::LEASE_RENEWAL;
use crate::error::EngineError;
use crate::event::Lang;
use crate::reply::{escape_html, OutMessage, Replies, Signal};
use crate::texts::{self, buttons};

pub(crate) struct Job {
    pub(crate) user: UserId,
    pub(crate) lang: Lang,
    pub(crate) session: SessionId,
    vacancy: String,
    resume: String,
    work: Work,
    /// Plan, letters left and limit after the letter was taken.
    quota_after: Option<(Plan, i32, i32)>,
}

pub(crate) enum Work {
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

pub(super) enum Source {
    Existing(SessionId),
    VariantOf(Session),
}

impl Engine {
    pub(super) async fn start_letter(
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
        let history = match self.rate(
            t,
            self.inner.config.generations_rate,
            &t.conv.generation_times,
        ) {
            Ok(h) => h,
            Err(wait) => {
                let m = t.say(texts::rate_limited(
                    l,
                    wait,
                    Some(self.inner.config.generations_rate.max),
                ));
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

    pub(super) async fn start_improvement(
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
                t.say(texts::unapplied(l, &why));
                return Ok(());
            }
        }
        match self.rate(
            t,
            self.inner.config.generations_rate,
            &t.conv.generation_times,
        ) {
            Ok(Some(h)) => t.conv.generation_times = h,
            Ok(None) => {}
            Err(wait) => {
                t.say(texts::rate_limited(
                    l,
                    wait,
                    Some(self.inner.config.generations_rate.max),
                ));
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

    pub(super) async fn finish(
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
                    sessions::set_status(&mut tx, job.session, SessionStatus::Failed).await?;
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
        self.inner
            .keep_letter(&mut tx, job.user, to, &mut out)
            .await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Runs the model for `job`, renewing the generation's lease while it writes.
    pub(crate) async fn write_renewing(
        &self,
        job: &Job,
        to: Destination,
    ) -> Result<llm::Letter, llm::Failure> {
        let task = job.task();
        let write = self.inner.writer.write(&task);
        if to.chat.is_none() {
            return write.await;
        }
        tokio::pin!(write);
        let mut every = tokio::time::interval(LEASE_RENEWAL);
        every.tick().await;
        loop {
            tokio::select! {
                done = &mut write => return done,
                _ = every.tick() => {
                    let renewed = async {
                        let mut conn = self.pool().acquire().await?;
                        Ok::<_, EngineError>(delivery::renew_lease(&mut conn, job.user, job.session, self.owner(), self.now()).await?)
                    }.await;
                    match renewed {
                        Ok(true) => {}
                        // Taken over or cancelled: the result will be dropped by `finish`.
                        Ok(false) => tracing::info!(user = %job.user, "generation lease no longer ours"),
                        Err(e) => tracing::warn!(user = %job.user, error = %e, "generation lease not renewed"),
                    }
                }
            }
        }
    }
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
