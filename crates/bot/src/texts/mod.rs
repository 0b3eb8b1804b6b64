//! Every text the bot sends, in Russian and English, by concern. User and model text passed in here is
//! escaped by the caller or here; the templates themselves are trusted HTML.

pub mod buttons;
mod conversation;
mod info;
mod offline;
mod plans;

pub use conversation::*;
pub use info::*;
pub use offline::*;
pub use plans::*;

use chrono::{DateTime, Utc};

use crate::event::Lang;

fn tr(l: Lang, ru: &str, en: &str) -> String {
    match l {
        Lang::Ru => ru.to_string(),
        Lang::En => en.to_string(),
    }
}

pub fn date(t: DateTime<Utc>) -> String {
    t.format("%d.%m.%Y").to_string()
}

/// Russian noun form for a count: 1 символ, 2 символа, 54 символа, 11 символов.
pub fn plural<'a>(n: u64, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
    llm::plural_ru(n, one, few, many)
}

fn letters_word(n: i32) -> &'static str {
    plural(u64::try_from(n).unwrap_or(0), "письмо", "письма", "писем")
}

fn days_word(n: i64) -> &'static str {
    plural(u64::try_from(n).unwrap_or(0), "день", "дня", "дней")
}

fn seconds(s: f64) -> String {
    format!("{s:.1}")
}

#[cfg(test)]
mod tests;
