//! Inline-button presses: feedback, improve, another variant, retry, buy, new letter and the
//! /delete_me confirmation. A press on a letter that is no longer current is answered "closed".

use domain::{EventType, InvoicePayload, Plan, SessionId, STARS_CURRENCY};
use serde_json::json;
use sqlx::PgConnection;
use store::conversation::State;
use store::sessions::{self, Feedback};
use store::{events, users};

use super::generation::Source;
use super::{Engine, Turn};
use crate::callback::{btn, Action};
use crate::error::EngineError;
use crate::event::Lang;
use crate::reply::{Button, Invoice, Signal};
use crate::texts::{self, buttons};

const DELETE_CONFIRMATION_WINDOW: chrono::Duration = chrono::Duration::minutes(10);

impl Engine {
    /// Is `session` the letter the buttons of the current conversation refer to?
    pub(super) fn current_letter(t: &Turn, session: SessionId) -> bool {
        t.conv.session == Some(session)
            && matches!(
                t.conv.state,
                State::AwaitingFeedback | State::AwaitingImprovement
            )
    }

    pub(super) async fn button(
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
                    payload: InvoicePayload::new(t.user.id, c.premium_price_stars, c.premium_days)
                        .to_string(),
                    currency: STARS_CURRENCY.into(),
                    amount_stars: c.premium_price_stars,
                };
                events::record(
                    tx,
                    t.user.id,
                    EventType::InvoiceSent,
                    None,
                    json!({ "amount": c.premium_price_stars, "currency": STARS_CURRENCY }),
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
}

pub(super) fn letter_buttons(
    l: Lang,
    session: SessionId,
    iteration: i32,
    remaining: i32,
) -> Vec<Vec<Button>> {
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
