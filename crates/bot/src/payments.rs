//! Telegram Stars payments, behind the engine entry points the Telegram adapter calls: checking a
//! pre-checkout query, recording a successful payment (idempotent on the charge id, premium
//! activated in the same transaction), and recording an admin refund (the days revoked).

use domain::{EventType, InvoicePayload, Provider, TelegramUserId, STARS_CURRENCY};
use serde_json::json;
use store::conversation::State;
use store::payments::NewPayment;
use store::{conversation, events, payments, quota, users};

use crate::callback::{btn, Action};
use crate::context::{unavailable, Context};
use crate::error::EngineError;
use crate::event::{EventId, Lang, Profile};
use crate::reply::Replies;
use crate::texts::{self, buttons};

/// A `pre_checkout_query` as the adapter received it.
#[derive(Debug, Clone)]
pub struct PreCheckout {
    pub from: TelegramUserId,
    pub language_code: Option<String>,
    pub currency: String,
    pub total_amount: i64,
    pub payload: String,
}

/// Answer the pre-checkout query with ok=false and this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreCheckoutRefusal {
    pub message: String,
}

/// A `successful_payment` message.
#[derive(Debug, Clone)]
pub struct SuccessfulPayment {
    /// The update id: a re-delivered update is a no-op.
    pub event_id: EventId,
    pub from: Profile,
    pub currency: String,
    pub total_amount: i64,
    pub payload: String,
    pub telegram_payment_charge_id: String,
    pub provider_payment_charge_id: Option<String>,
}

impl Context {
    /// Ok only if the payload names this user and the current price, in Stars.
    pub(crate) async fn pre_checkout(&self, q: &PreCheckout) -> Result<(), PreCheckoutRefusal> {
        let lang = Lang::from_code(q.language_code.as_deref());
        let refuse = || PreCheckoutRefusal {
            message: texts::pre_checkout_refused(lang),
        };
        let c = &self.config;
        let Ok(payload) = InvoicePayload::parse(&q.payload) else {
            return Err(refuse());
        };
        let price = payload.price_stars();
        if q.currency != STARS_CURRENCY
            || price != c.premium_price_stars
            || q.total_amount != i64::from(price)
            || payload.days() != c.premium_days
        {
            return Err(refuse());
        }
        let found = async {
            let mut conn = self.pool.acquire().await?;
            Ok::<_, EngineError>(users::find(&mut conn, q.from).await?)
        }
        .await;
        match found {
            Ok(Some(id)) if payload.is_for(id) => Ok(()),
            Ok(_) => Err(refuse()),
            Err(e) => {
                tracing::error!(error = %e, "pre-checkout not validated");
                Err(PreCheckoutRefusal {
                    message: texts::unavailable(lang),
                })
            }
        }
    }

    /// Records the payment and activates or extends premium in one transaction. A repeated
    /// delivery (same update or same charge id) changes nothing and returns no new messages.
    /// When the database fails, the replies are only [`crate::Signal::Unavailable`]: the
    /// transport must not acknowledge the update, so it is delivered (and recorded) again.
    pub(crate) async fn payment_succeeded(&self, p: SuccessfulPayment) -> Replies {
        let lang = Lang::from_code(p.from.language_code.as_deref());
        match self.try_payment(&p, lang).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(charge_id = %p.telegram_payment_charge_id, error = %e, "payment not recorded yet; it will be retried");
                let mut r = Replies::default();
                r.signals.push(crate::reply::Signal::Unavailable);
                r
            }
        }
    }

    async fn try_payment(&self, p: &SuccessfulPayment, lang: Lang) -> Result<Replies, EngineError> {
        let now = self.now();
        let c = &self.config;
        let charge = p.telegram_payment_charge_id.as_str();
        let mut tx = self.pool.begin().await?;
        if !conversation::mark_processed(&mut tx, &p.event_id).await? {
            let r = self.stored_replies(&mut tx, &p.event_id).await?;
            tx.commit().await?;
            tracing::info!(charge_id = %charge, "repeated payment update");
            return Ok(r);
        }
        let user = users::upsert(&mut tx, &p.from, now).await?;
        // Into the transport's span for this update, as `Engine::handle` does.
        tracing::Span::current().record("user", tracing::field::display(user.id));
        let parsed = InvoicePayload::parse(&p.payload).ok();
        if !parsed.as_ref().is_some_and(|pl| pl.is_for(user.id)) {
            // Telegram took the money from this user: honour it, and leave a trace.
            tracing::warn!(charge_id = %charge, user = %user.id, "payment payload does not name the payer");
        }
        let expected = parsed.as_ref().map(|pl| i64::from(pl.price_stars()));
        if p.currency != STARS_CURRENCY || expected.is_some_and(|price| price != p.total_amount) {
            // Not what any invoice of ours asked for: nothing is granted or recorded as Stars.
            tracing::error!(
                charge_id = %charge, user = %user.id, currency = %p.currency, amount = p.total_amount,
                expected = ?expected,
                "PAYMENT REFUSED: unexpected currency or amount; not recorded, no premium granted; resolve it by hand"
            );
            let mut out = Replies::default();
            out.say(texts::payment_unexpected(lang));
            self.keep_replies(&mut tx, &p.event_id, user.id, &mut out)
                .await?;
            tx.commit().await?;
            return Ok(out);
        }
        let days = parsed.map(|pl| pl.days()).unwrap_or(c.premium_days);
        let new = NewPayment {
            provider: Provider::TelegramStars,
            provider_payment_id: &p.telegram_payment_charge_id,
            amount_minor: p.total_amount,
            currency: STARS_CURRENCY,
            period_days: days as i32,
            metadata: json!({ "payload": p.payload, "provider_payment_charge_id": p.provider_payment_charge_id }),
        };
        if payments::insert_succeeded(&mut tx, user.id, &new)
            .await?
            .is_none()
        {
            tracing::info!(charge_id = %charge, "payment recorded before; nothing changed");
            tx.commit().await?;
            return Ok(Replies::default());
        }
        let end = quota::activate_premium(&mut tx, user.id, &c.quota, now, days).await?;
        events::record(
            &mut tx,
            user.id,
            EventType::PaymentSucceeded,
            None,
            json!({ "amount": p.total_amount, "currency": new.currency, "days": days, "period_end": end }),
        )
        .await?;
        let conv = conversation::lock(&mut tx, user.id).await?;
        let mut out = Replies::default();
        let m = out.say(texts::payment_done(
            lang,
            end,
            c.quota.premium_letters_per_day,
        ));
        if let (State::Ready, Some(sid)) = (conv.state, conv.session) {
            m.buttons = vec![vec![btn(buttons::write_now(lang), Action::Retry(sid))]];
        }
        self.keep_replies(&mut tx, &p.event_id, user.id, &mut out)
            .await?;
        tx.commit().await?;
        tracing::info!(charge_id = %charge, user = %user.id, days, "payment recorded, premium until {end}");
        Ok(out)
    }

    /// After the Bot API refunded a Stars payment (or said it already was): marks it refunded and
    /// revokes its days, once. Returns the message for the admin.
    pub(crate) async fn refund_completed(&self, charge_id: &str, lang: Lang) -> Replies {
        let mut out = Replies::default();
        match self.try_refund(charge_id, lang).await {
            Ok(text) => {
                out.say(text);
            }
            Err(e) => {
                tracing::error!(charge_id = %charge_id, error = %e, "refund not recorded; /refund again completes it");
                out = unavailable(lang, false);
            }
        }
        out
    }

    async fn try_refund(&self, charge_id: &str, lang: Lang) -> Result<String, EngineError> {
        let now = self.now();
        let c = &self.config;
        let mut tx = self.pool.begin().await?;
        let Some(payment) =
            payments::find_for_update(&mut tx, Provider::TelegramStars, charge_id).await?
        else {
            return Ok(texts::refund_no_payment(lang, charge_id));
        };
        let first = payments::complete_refund(&mut tx, payment.id).await?;
        if !payments::mark_refunded(&mut tx, payment.id).await? || !first {
            tx.commit().await?;
            return Ok(texts::refund_already(
                lang,
                charge_id,
                payment.status.as_str(),
            ));
        }
        let end = quota::revoke_premium_days(
            &mut tx,
            payment.user,
            &c.quota,
            now,
            i64::from(payment.period_days),
        )
        .await?;
        events::record(
            &mut tx,
            payment.user,
            EventType::PaymentRefunded,
            None,
            json!({ "amount": payment.amount_minor, "days": payment.period_days }),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(charge_id = %charge_id, user = %payment.user, "refund recorded, premium days revoked");
        Ok(texts::refund_done(lang, charge_id, end))
    }
}
