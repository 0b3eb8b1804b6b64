//! Plans and payments: the quota line, the limit, /premium, /subscription, the invoice, the
//! payment confirmation and the admin's refund messages.

use chrono::{DateTime, Utc};
use domain::Plan;

use super::*;
use crate::event::Lang;
use crate::reply::escape_html;

pub fn quota_line(l: Lang, plan: Plan, left: i32, limit: i32) -> String {
    let dot = if left == 0 {
        "🔴"
    } else if left * 3 <= limit {
        "🟡"
    } else {
        "🟢"
    };
    match (l, plan) {
        (Lang::Ru, Plan::Free) => {
            format!("{dot} Писем осталось в этом месяце: <b>{left}/{limit}</b>")
        }
        (Lang::Ru, Plan::Premium) => {
            format!("{dot} Писем осталось сегодня: <b>{left}/{limit}</b> (Premium)")
        }
        (Lang::En, Plan::Free) => format!("{dot} Letters left this month: <b>{left}/{limit}</b>"),
        (Lang::En, Plan::Premium) => {
            format!("{dot} Letters left today: <b>{left}/{limit}</b> (Premium)")
        }
    }
}

pub fn limit_reached(l: Lang, plan: Plan, limit: i32, resets: DateTime<Utc>, price: u32) -> String {
    match (l, plan) {
        (Lang::Ru, Plan::Free) => format!(
            "🔴 Лимит исчерпан: {limit}/{limit} писем в этом месяце. Новые письма — {}.\n\n💎 <b>Premium</b>: до 20 писем в день на 30 дней за {price} ⭐.",
            date(resets)
        ),
        (Lang::Ru, Plan::Premium) => format!("🔴 Лимит на сегодня исчерпан: {limit}/{limit}. Новые письма — {} (UTC).", date(resets)),
        (Lang::En, Plan::Free) => format!(
            "🔴 You have used all {limit} letters of this month. New letters on {}.\n\n💎 <b>Premium</b>: up to 20 letters a day for 30 days for {price} ⭐.",
            date(resets)
        ),
        (Lang::En, Plan::Premium) => format!("🔴 You have used all {limit} letters of today. New letters on {} (UTC).", date(resets)),
    }
}

pub fn premium(l: Lang, free: i32, premium_per_day: i32, price: u32, days: i64) -> String {
    match l {
        Lang::Ru => format!(
            "💎 <b>Premium</b>\n\nБесплатно: {free} {} в месяц, 2 улучшения на письмо.\nPremium: {premium_per_day} {} в день, 3 улучшения на письмо, {days} {} за {price} ⭐.\n\nОплата — Telegram Stars. Повторная оплата продлевает Premium ещё на {days} {}.",
            letters_word(free),
            letters_word(premium_per_day),
            days_word(days),
            days_word(days)
        ),
        Lang::En => format!(
            "💎 <b>Premium</b>\n\nFree: {free} letters a month, 2 improvements per letter.\nPremium: {premium_per_day} letters a day, 3 improvements per letter, {days} days for {price} ⭐.\n\nPaid with Telegram Stars. Paying again extends Premium by another {days} days."
        ),
    }
}

pub fn subscription(
    l: Lang,
    plan: Plan,
    quota: &str,
    period_end: Option<DateTime<Utc>>,
    window_end: DateTime<Utc>,
) -> String {
    match (l, plan) {
        (Lang::Ru, Plan::Free) => format!(
            "📋 План: <b>бесплатный</b>\n{quota}\nЛимит обновится {}.",
            date(window_end)
        ),
        (Lang::En, Plan::Free) => format!(
            "📋 Plan: <b>free</b>\n{quota}\nThe quota renews on {}.",
            date(window_end)
        ),
        (Lang::Ru, Plan::Premium) => {
            format!(
                "📋 План: <b>Premium</b>\n{quota}\nДействует до {}.",
                period_end.map(date).unwrap_or_else(|| "—".into())
            )
        }
        (Lang::En, Plan::Premium) => {
            format!(
                "📋 Plan: <b>Premium</b>\n{quota}\nValid until {}.",
                period_end.map(date).unwrap_or_else(|| "—".into())
            )
        }
    }
}

pub fn payment_done(l: Lang, end: DateTime<Utc>, per_day: i32) -> String {
    match l {
        Lang::Ru => format!(
            "💎 Premium активен до <b>{}</b>: до {per_day} {} в день. Спасибо!",
            date(end),
            letters_word(per_day)
        ),
        Lang::En => format!(
            "💎 Premium is active until <b>{}</b>: up to {per_day} letters a day. Thank you!",
            date(end)
        ),
    }
}

/// A payment in a currency or amount no invoice of ours asked for: nothing granted automatically.
pub fn payment_unexpected(l: Lang) -> String {
    match l {
        Lang::Ru => "Платёж получен, но его сумма или валюта не совпадает со счётом, поэтому Premium не включён автоматически. Напишите в /support — мы разберёмся.".into(),
        Lang::En => "The payment arrived, but its amount or currency does not match the invoice, so Premium was not turned on automatically. Please write to /support and we will sort it out.".into(),
    }
}

pub fn invoice_title(l: Lang, days: i64) -> String {
    match l {
        Lang::Ru => format!("Premium на {days} {}", days_word(days)),
        Lang::En => format!("Premium for {days} days"),
    }
}

pub fn invoice_description(l: Lang, per_day: i32) -> String {
    match l {
        Lang::Ru => format!(
            "До {per_day} {} в день и 3 улучшения на письмо.",
            letters_word(per_day)
        ),
        Lang::En => format!("Up to {per_day} letters a day and 3 improvements per letter."),
    }
}

pub fn pre_checkout_refused(l: Lang) -> String {
    tr(
        l,
        "Этот счёт устарел. Откройте /premium и оплатите заново.",
        "This invoice is out of date. Open /premium and pay again.",
    )
}

/// The pre-checkout check did not finish in Telegram's time (the transport's own answer).
pub fn payment_check_busy(l: Lang) -> String {
    tr(
        l,
        "Не получилось проверить оплату. Попробуйте ещё раз через минуту.",
        "The payment could not be checked. Please try again in a minute.",
    )
}

/// To the admin: the refund of this payment was asked of Telegram.
pub fn refund_requested(l: Lang, amount: i64, currency: &str, charge: &str) -> String {
    let (currency, charge) = (escape_html(currency), escape_html(charge));
    match l {
        Lang::Ru => format!("Запрошен возврат {amount} {currency} за платёж {charge}."),
        Lang::En => format!("Refund of {amount} {currency} requested for {charge}."),
    }
}

/// To the admin: the payment is not in a state that can be refunded.
pub fn refund_not_refundable(l: Lang, charge: &str, status: &str) -> String {
    let (charge, status) = (escape_html(charge), escape_html(status));
    match l {
        Lang::Ru => format!("Платёж {charge} в состоянии {status}, возвращать нечего."),
        Lang::En => format!("Payment {charge} is {status}, nothing to refund."),
    }
}

/// To the admin: how to call /refund.
pub fn refund_usage(l: Lang) -> String {
    tr(
        l,
        "Использование: /refund &lt;telegram_payment_charge_id&gt; успешного платежа.",
        "Usage: /refund &lt;telegram_payment_charge_id&gt; of a succeeded payment.",
    )
}

/// To the admin: no Stars payment has this charge id.
pub fn refund_no_payment(l: Lang, charge: &str) -> String {
    let charge = escape_html(charge);
    match l {
        Lang::Ru => format!("Платежа Stars {charge} нет."),
        Lang::En => format!("No Stars payment {charge}."),
    }
}

/// To the admin: the payment was refunded (or failed) before.
pub fn refund_already(l: Lang, charge: &str, status: &str) -> String {
    let (charge, status) = (escape_html(charge), escape_html(status));
    match l {
        Lang::Ru => format!("Платёж {charge} уже в состоянии {status}."),
        Lang::En => format!("Payment {charge} is already {status}."),
    }
}

/// To the admin: refunded; the payer's premium now ends at `end`, or they are back on free.
pub fn refund_done(l: Lang, charge: &str, end: Option<DateTime<Utc>>) -> String {
    let charge = escape_html(charge);
    match (l, end) {
        (Lang::Ru, Some(end)) => {
            format!("Возврат {charge} сделан; Premium теперь до {}.", date(end))
        }
        (Lang::En, Some(end)) => format!("Refunded {charge}; premium now ends {}.", date(end)),
        (Lang::Ru, None) => {
            format!("Возврат {charge} сделан; пользователь снова на бесплатном плане.")
        }
        (Lang::En, None) => format!("Refunded {charge}; the user is back on the free plan."),
    }
}

/// To the admin: Telegram refused the refund, with its reason.
pub fn refund_refused(l: Lang, charge: &str, reason: &str) -> String {
    let (charge, reason) = (escape_html(charge), escape_html(reason));
    match l {
        Lang::Ru => format!("Telegram не вернул {charge}: {reason}"),
        Lang::En => format!("Telegram did not refund {charge}: {reason}"),
    }
}
