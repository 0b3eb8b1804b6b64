//! Every text exists in Russian and in English: each `pub fn` of `texts` is called in both
//! languages here (a new text that is not fails the coverage test), the Russian one must be in
//! Cyrillic and the English one must have none.

use chrono::{TimeZone, Utc};
use domain::{InputError, Plan};
use llm::Unapplied;
use store::conversation::State;

use super::*;
use crate::commands::Command;
use crate::event::{Lang, Media};

/// (name of the text function, what it says in `lang`) for every variant worth checking.
fn every_text(l: Lang) -> Vec<(&'static str, String)> {
    let at = Utc.with_ymd_and_hms(2026, 4, 9, 9, 0, 0).unwrap();
    let mut out = vec![
        ("greeting", greeting(l, Some("Anna"), "Q")),
        ("greeting", greeting(l, None, "Q")),
        ("greeting_only", greeting_only(l, Some("Anna"))),
        ("ask_vacancy", ask_vacancy(l)),
        ("ask_resume", ask_resume(l, true)),
        ("ask_resume", ask_resume(l, false)),
        ("progress", progress(l, false)),
        ("progress", progress(l, true)),
        ("no_new_variant", no_new_variant(l)),
        ("letter_ready", letter_ready(l, 3.2, "Q", true)),
        ("letter_ready", letter_ready(l, 3.2, "Q", false)),
        ("improved", improved(l, 1, 1, 2.0)),
        ("improved", improved(l, 2, 0, 2.0)),
        ("generation_failed", generation_failed(l)),
        ("improvement_failed", improvement_failed(l)),
        ("interrupted", interrupted(l)),
        ("cancelled", cancelled(l)),
        ("unknown_command", unknown_command(l)),
        ("closed", closed(l)),
        ("still_generating", still_generating(l)),
        ("rate_limited", rate_limited(l, 42, Some(3))),
        ("rate_limited", rate_limited(l, 42, None)),
        ("ask_improvement", ask_improvement(l, 2)),
        ("no_improvements_left", no_improvements_left(l, true)),
        ("no_improvements_left", no_improvements_left(l, false)),
        ("delete_confirm", delete_confirm(l)),
        ("delete_done", delete_done(l, 3)),
        ("delete_kept", delete_kept(l)),
        ("delete_expired", delete_expired(l)),
        ("unavailable", unavailable(l)),
        ("help", help(l)),
        ("about", about(l)),
        ("support", support(l, Some("@help"))),
        ("support", support(l, None)),
        ("privacy", privacy(l)),
        ("terms", terms(l)),
        ("quota_line", quota_line(l, Plan::Free, 2, 3)),
        ("quota_line", quota_line(l, Plan::Premium, 0, 20)),
        ("limit_reached", limit_reached(l, Plan::Free, 3, at, 150)),
        (
            "limit_reached",
            limit_reached(l, Plan::Premium, 20, at, 150),
        ),
        ("premium", premium(l, 3, 20, 150, 30)),
        ("subscription", subscription(l, Plan::Free, "Q", None, at)),
        (
            "subscription",
            subscription(l, Plan::Premium, "Q", Some(at), at),
        ),
        ("payment_done", payment_done(l, at, 20)),
        ("payment_unexpected", payment_unexpected(l)),
        ("invoice_title", invoice_title(l, 30)),
        ("invoice_description", invoice_description(l, 20)),
        ("pre_checkout_refused", pre_checkout_refused(l)),
        ("payment_check_busy", payment_check_busy(l)),
        (
            "refund_requested",
            refund_requested(l, 150, domain::STARS_CURRENCY, "ch"),
        ),
        (
            "refund_not_refundable",
            refund_not_refundable(l, "ch", "failed"),
        ),
        ("refund_usage", refund_usage(l)),
        ("refund_no_payment", refund_no_payment(l, "ch")),
        ("refund_already", refund_already(l, "ch", "refunded")),
        ("refund_done", refund_done(l, "ch", Some(at))),
        ("refund_done", refund_done(l, "ch", None)),
        ("refund_refused", refund_refused(l, "ch", "BAD_REQUEST")),
        ("like", buttons::like(l)),
        ("dislike", buttons::dislike(l)),
        ("improve", buttons::improve(l, 2)),
        ("variant", buttons::variant(l)),
        ("retry", buttons::retry(l)),
        ("buy", buttons::buy(l, 150)),
        ("new_letter", buttons::new_letter(l)),
        ("write_now", buttons::write_now(l)),
        ("delete_yes", buttons::delete_yes(l)),
        ("delete_no", buttons::delete_no(l)),
    ];
    for like in [true, false] {
        for left in [true, false] {
            out.push(("feedback_thanks", feedback_thanks(l, like, left)));
        }
    }
    let errors = [
        InputError::Empty,
        InputError::TooShort { chars: 5, min: 100 },
        InputError::TooLong {
            chars: 20_000,
            max: 10_000,
        },
        InputError::TooLarge {
            bytes: 60_000,
            max: 51_200,
        },
        InputError::FileHostLink {
            host: "docs.google.com",
        },
        InputError::NulByte,
        InputError::TooFewWords { words: 1, min: 20 },
    ];
    for e in &errors {
        out.push(("vacancy_error", vacancy_error(l, e)));
        out.push(("resume_error", resume_error(l, e)));
        out.push(("improvement_error", improvement_error(l, e)));
    }
    let states = [
        State::Idle,
        State::AwaitingVacancy,
        State::AwaitingResume,
        State::Generating,
        State::Ready,
        State::AwaitingFeedback,
        State::AwaitingImprovement,
    ];
    for s in states {
        out.push(("hint", hint(l, s, None)));
        out.push(("hint", hint(l, s, Some(Media::Photo))));
    }
    for c in Command::ALL {
        out.push(("command_description", command_description(l, c)));
    }
    let unapplied_reasons = [
        Unapplied::Unknown,
        Unapplied::NothingToCut,
        Unapplied::NothingToAdd,
        Unapplied::AlreadyFormal,
        Unapplied::AlreadyInformal,
        Unapplied::NoBureaucratese,
        Unapplied::NotInLetter("Kafka".into()),
        Unapplied::NotInResume("Kafka".into()),
    ];
    for u in &unapplied_reasons {
        out.push(("unapplied", unapplied(l, u)));
    }
    out
}

fn cyrillic(s: &str) -> bool {
    s.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c))
}

#[test]
fn every_text_is_russian_in_russian_and_english_in_english() {
    let (ru, en) = (every_text(Lang::Ru), every_text(Lang::En));
    assert_eq!(ru.len(), en.len());
    for ((name, ru), (_, en)) in ru.iter().zip(&en) {
        assert!(cyrillic(ru), "{name} has no Russian text: {ru:?}");
        assert!(!en.trim().is_empty(), "{name} has no English text");
        assert!(!cyrillic(en), "{name} is not English: {en:?}");
    }
}

#[test]
fn every_text_function_is_checked_in_both_languages() {
    // Formatting helpers, not texts.
    const HELPERS: [&str; 2] = ["date", "plural"];
    let checked: Vec<&str> = every_text(Lang::Ru).into_iter().map(|(n, _)| n).collect();
    let sources = [
        include_str!("mod.rs"),
        include_str!("conversation.rs"),
        include_str!("plans.rs"),
        include_str!("info.rs"),
        include_str!("buttons.rs"),
        include_str!("offline.rs"),
    ];
    let mut found = 0;
    for src in sources {
        for line in src.lines() {
            let Some(rest) = line.strip_prefix("pub fn ") else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found += 1;
            assert!(
                HELPERS.contains(&name.as_str()) || checked.contains(&name.as_str()),
                "texts::{name} is not checked in both languages"
            );
        }
    }
    assert!(found > 60, "only {found} text functions found");
}
