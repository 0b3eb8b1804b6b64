//! Text and documents: the vacancy, the resume (which starts the letter) and the improvement
//! request, each checked before anything is stored; out-of-turn text gets a hint.

use domain::{EventType, ImprovementRequest, Plan, Resume, Vacancy};
use serde_json::json;
use sqlx::PgConnection;
use store::conversation::State;
use store::sessions::{self};
use store::{events, users};

use super::generation::Source;
use super::{Engine, Turn};
use crate::error::EngineError;
use crate::texts;

impl Engine {
    pub(super) async fn text(
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
}
