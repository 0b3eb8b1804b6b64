//! The hiring company's name when a vacancy gives it ("ООО «Ромашка»", "компания Самокат",
//! "at Acme Pay", "Medly is hiring"); an anonymous vacancy has none.

use super::text::{find_word_ci, is_latin_word, lower, word_count as words};
use super::vacancy::ROLE_WORDS;

/// Legal forms and words that introduce a company's name.
const COMPANY_MARKERS_RU: &[&str] = &[
    "ооо",
    "оао",
    "зао",
    "пао",
    "ао",
    "ип",
    "компания",
    "компанию",
    "компании",
    "группа компаний",
    "банк",
    "студия",
    "студию",
    "агентство",
    "о компании",
];

/// A name in quotes right after a marker («Ромашка», "Acme"), or capitalised words after it.
fn name_after(rest: &str) -> Option<String> {
    let rest = rest.trim_start_matches([' ', ':', '—', '-']);
    let rest = rest.split('\n').next().unwrap_or("");
    for (open, close) in [('«', '»'), ('"', '"'), ('“', '”')] {
        if let Some(r) = rest.strip_prefix(open) {
            let name = r.split(close).next()?.trim();
            let ok = !name.is_empty() && name.chars().count() <= 40 && words(name) <= 4;
            return ok.then(|| name.to_string());
        }
    }
    let ws: Vec<&str> = rest
        .split_whitespace()
        .take_while(|w| {
            let t = w.trim_end_matches([',', '.', ':', ';', '!']);
            t.chars().next().is_some_and(char::is_uppercase)
                && !t.chars().all(|c| c.is_uppercase() && !is_latin_word(t))
        })
        .take(3)
        .collect();
    if ws.is_empty() {
        return None;
    }
    // "Acme Pay, a payments company" ends at the comma.
    let mut out = Vec::new();
    for w in ws {
        let ends = w.ends_with([',', '.', ':', ';', '!']);
        out.push(w.trim_end_matches([',', '.', ':', ';', '!']));
        if ends {
            break;
        }
    }
    let name = out.join(" ");
    (!name.is_empty()).then_some(name)
}

/// The hiring company when the vacancy names it; `None` for an anonymous vacancy.
pub fn company(text: &str) -> Option<String> {
    let head: String = text.chars().take(1500).collect();
    let l = lower(&head);
    // Russian: "ООО «Ромашка»", "компания «Ромашка»", "в компанию Ромашка".
    for m in COMPANY_MARKERS_RU {
        let mut base = 0;
        while let Some(pos) = find_word_ci(&head[base..], m) {
            let at = base + pos + m.len();
            if let Some(name) = name_after(&head[at..]) {
                let bad = ["Мы", "Наша", "Наш", "Мы,"].contains(&name.as_str())
                    || ROLE_WORDS
                        .iter()
                        .any(|r| lower(&name).split(' ').any(|w| w.starts_with(r)));
                if !bad {
                    return Some(name);
                }
            }
            base = at;
            if base >= head.len() {
                break;
            }
        }
    }
    // English: "at Acme Pay", "Acme Pay is hiring", "Join Acme", "About Acme".
    for m in ["join ", "about ", " at "] {
        let mut base = 0;
        while let Some(pos) = l[base..].find(m) {
            let at = base + pos + m.len();
            if let Some(name) = name_after(&head[at..]) {
                let first = lower(name.split(' ').next().unwrap_or(""));
                let bad = ["us", "our", "the", "you", "we", "least", "a"].contains(&first.as_str())
                    || ROLE_WORDS
                        .iter()
                        .any(|r| lower(&name).split(' ').any(|w| w.starts_with(r)))
                    || !is_latin_word(name.split(' ').next().unwrap_or(""));
                if !bad {
                    return Some(name);
                }
            }
            base = at;
        }
    }
    for m in [" is hiring", " is looking for", " ищет "] {
        if let Some(pos) = l.find(m) {
            let before = &head[..pos];
            let line = before.rsplit(['\n', '.', '!']).next().unwrap_or("").trim();
            if (1..=3).contains(&words(line))
                && line
                    .split(' ')
                    .all(|w| w.chars().next().is_some_and(char::is_uppercase))
                && !["We", "Мы"].contains(&line)
            {
                return Some(line.trim_matches(['«', '»', '"']).to_string());
            }
        }
    }
    None
}
