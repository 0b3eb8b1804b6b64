//! Slash commands: /start and its payload, /new, /cancel, the information commands, /premium,
//! /subscription, /delete_me and the admin /refund.

use domain::{EventType, PaymentStatus, Plan, Provider, StartPayload};
use serde_json::json;
use sqlx::PgConnection;
use store::conversation::State;
use store::sessions::{self};
use store::{acquisition, events, quota, users};

use super::{Engine, Turn};
use crate::callback::{btn, Action};
use crate::commands::Command;
use crate::error::EngineError;
use crate::reply::Signal;
use crate::texts::{self, buttons};

impl Engine {
    pub(super) async fn command(
        &self,
        tx: &mut PgConnection,
        t: &mut Turn,
        name: &str,
        args: &str,
    ) -> Result<(), EngineError> {
        match self.rate(t, self.inner.config.commands_rate, &t.conv.command_times) {
            Ok(Some(history)) => t.conv.command_times = history,
            Ok(None) => {}
            Err(wait) => {
                let text = texts::rate_limited(t.lang, wait, None);
                t.say(text);
                return Ok(());
            }
        }
        let l = t.lang;
        let Some(command) = Command::parse(name) else {
            t.say(texts::unknown_command(l));
            return Ok(());
        };
        match command {
            Command::Start => self.start(tx, t, args).await?,
            Command::New => self.new_letter(tx, t).await?,
            Command::Cancel => {
                self.leave_current(tx, t).await?;
                t.conv.state = State::Idle;
                t.conv.session = None;
                t.say(texts::cancelled(l));
            }
            Command::Help => {
                t.say(texts::help(l));
            }
            Command::About => {
                t.say(texts::about(l));
            }
            Command::Support => {
                let text = texts::support(l, self.inner.config.support_contact.as_deref());
                t.say(text);
            }
            Command::Privacy => {
                t.say(texts::privacy(l));
            }
            Command::Terms => {
                t.say(texts::terms(l));
            }
            Command::Premium => self.offer_premium(tx, t, "command").await?,
            Command::Subscription => self.subscription(tx, t).await?,
            Command::DeleteMe => {
                t.conv.delete_requested_at = Some(t.now);
                t.say(texts::delete_confirm(l)).buttons = vec![vec![
                    btn(buttons::delete_yes(l), Action::DeleteConfirm),
                    btn(buttons::delete_no(l), Action::DeleteCancel),
                ]];
            }
            Command::Refund if t.admin => self.refund_request(tx, t, args).await?,
            Command::Refund => {
                t.say(texts::unknown_command(l));
            }
        }
        Ok(())
    }

    /// Ends whatever letter is in progress: an unfinished session is abandoned and a letter taken
    /// for a generation still in flight is given back (that generation's result is then dropped).
    pub(super) async fn leave_current(
        &self,
        tx: &mut PgConnection,
        t: &mut Turn,
    ) -> Result<(), EngineError> {
        if let Some(g) = t.conv.grant.take() {
            quota::give_back(tx, &g).await?;
        }
        t.conv.generation_started_at = None;
        sessions::abandon_unfinished(tx, t.user.id).await?;
        Ok(())
    }

    pub(super) async fn start(
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

    pub(super) async fn new_letter(
        &self,
        tx: &mut PgConnection,
        t: &mut Turn,
    ) -> Result<(), EngineError> {
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
    pub(super) async fn limit_reached(
        &self,
        tx: &mut PgConnection,
        t: &mut Turn,
    ) -> Result<(), EngineError> {
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

    pub(super) async fn offer_premium(
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

    pub(super) async fn subscription(
        &self,
        tx: &mut PgConnection,
        t: &mut Turn,
    ) -> Result<(), EngineError> {
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

    pub(super) async fn refund_request(
        &self,
        tx: &mut PgConnection,
        t: &mut Turn,
        args: &str,
    ) -> Result<(), EngineError> {
        let l = t.lang;
        let charge = args.trim();
        let payment = if charge.is_empty() {
            None
        } else {
            store::payments::find_for_update(tx, Provider::TelegramStars, charge).await?
        };
        match payment {
            Some(p) if p.status == PaymentStatus::Succeeded => {
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
                    lang: l,
                });
                t.say(texts::refund_requested(
                    l,
                    p.amount_minor,
                    &p.currency,
                    charge,
                ));
            }
            Some(p) => {
                t.say(texts::refund_not_refundable(l, charge, p.status.as_str()));
            }
            None => {
                t.say(texts::refund_usage(l));
            }
        }
        Ok(())
    }
}
