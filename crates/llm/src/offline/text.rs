//! Text primitives of the offline composer: sentences, clauses, words, Snowball stems, list markers.
//!
//! Stemming is `rust-stemmers` (Snowball Russian and English); word boundaries come from
//! `unicode-segmentation`. The sentence splitter is our own because UAX #29 ends a sentence after
//! "им." in "МГТУ им. Баумана" and never at ";", which resumes use as a sentence end.

use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};
use unicode_segmentation::UnicodeSegmentation;

/// Words that appear in every requirement or resume line and say nothing about a match
/// (already stemmed by the Snowball stemmers when compared).
const STOP_RU: &[&str] = &[
    "опыт",
    "оп",
    "пониман",
    "работ",
    "знан",
    "умен",
    "умет",
    "навык",
    "будет",
    "плюс",
    "желательн",
    "лет",
    "год",
    "бол",
    "мен",
    "понима",
    "уверен",
    "хорош",
    "отличн",
    "владен",
    "глубок",
    "практическ",
    "для",
    "или",
    "при",
    "как",
    "что",
    "это",
    "наш",
    "ваш",
    "вас",
    "нас",
    "так",
    "такж",
    "том",
    "он",
    "ег",
    "есл",
    "все",
    "вс",
    "кандидат",
    "требован",
    "мы",
    "вы",
    "от",
    "до",
    "на",
    "по",
    "из",
    "за",
    "с",
    "в",
    "и",
    "а",
    "не",
    "я",
    "мо",
    "мне",
    "свой",
    "сво",
    "котор",
    "ищ",
    "компан",
    "команд",
];
const STOP_EN: &[&str] = &[
    "experi",
    "with",
    "knowledg",
    "skill",
    "year",
    "abil",
    "from",
    "that",
    "have",
    "your",
    "you",
    "our",
    "and",
    "the",
    "for",
    "are",
    "will",
    "strong",
    "good",
    "solid",
    "understand",
    "familiar",
    "work",
    "plus",
    "nice",
    "use",
    "least",
    "proven",
    "hand",
    "deep",
    "excel",
    "abl",
    "into",
    "this",
    "who",
    "what",
    "it",
    "their",
    "we",
    "all",
    "ani",
    "of",
    "in",
    "on",
    "to",
    "a",
    "an",
    "is",
    "i",
    "my",
    "at",
    "as",
    "by",
    "or",
    "be",
    "look",
    "join",
    "team",
    "compani",
];

fn stemmer(ru: bool) -> &'static Stemmer {
    static RU: OnceLock<Stemmer> = OnceLock::new();
    static EN: OnceLock<Stemmer> = OnceLock::new();
    if ru {
        RU.get_or_init(|| Stemmer::create(Algorithm::Russian))
    } else {
        EN.get_or_init(|| Stemmer::create(Algorithm::English))
    }
}

pub fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{04FF}')
}

/// The Snowball stem of one lower-case word, by its script; "ё" is folded into "е" first.
pub fn stem(word: &str) -> String {
    let l = word.to_lowercase().replace('ё', "е");
    let ru = l.chars().any(is_cyrillic);
    stemmer(ru).stem(&l).into_owned()
}

/// Meaningful stems of a text: no stop words, no bare numbers, no one-letter words.
pub fn stems(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text.unicode_words() {
        // "CI/CD", "C++" and "Node.js" come apart here; their pieces still match each other.
        if w.chars().all(|c| c.is_ascii_digit()) || w.chars().count() < 2 {
            continue;
        }
        let s = stem(w);
        if STOP_RU.contains(&s.as_str()) || STOP_EN.contains(&s.as_str()) {
            continue;
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// Words a reader counts: tokens with at least one letter or digit.
pub fn word_count(text: &str) -> usize {
    text.split_whitespace()
        .filter(|t| t.chars().any(char::is_alphanumeric))
        .count()
}

pub fn lower(text: &str) -> String {
    text.to_lowercase()
}

pub fn is_latin_word(w: &str) -> bool {
    w.chars().any(|c| c.is_ascii_alphabetic())
        && w.chars()
            .all(|c| !c.is_alphabetic() || c.is_ascii_alphabetic())
}

/// A technology name as people write it: Latin script with a capital, a digit or a symbol
/// ("PostgreSQL", "CI/CD", "C#", "k8s"), in a text of either language.
pub fn is_tech_word(w: &str) -> bool {
    let w = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '+' && c != '#');
    is_latin_word(w)
        && w.chars().count() >= 2
        && w.chars()
            .any(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || "+#/".contains(c))
}

/// The text of a list item without its marker ("- ", "• ", "1. "), or `None` for a plain line.
pub fn bullet(line: &str) -> Option<&str> {
    let t = line.trim_start();
    for marker in [
        "- ", "• ", "* ", "— ", "– ", "· ", "▪ ", "✓ ", "✔ ", "✅ ", "🔹 ", "▫ ", "► ", "➤ ",
    ] {
        if let Some(rest) = t.strip_prefix(marker) {
            return Some(rest.trim());
        }
    }
    let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && digits < 3 {
        let rest = &t[digits..];
        if let Some(r) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(r.trim());
        }
    }
    None
}

/// Byte offset of `needle` (already lower case) in `hay`, case-insensitively, at a word start.
pub fn find_word_ci(hay: &str, needle: &str) -> Option<usize> {
    let n: Vec<char> = needle.chars().collect();
    let mut prev_alnum = false;
    for (i, c) in hay.char_indices() {
        if !prev_alnum {
            let mut it = hay[i..].chars();
            let ok = n
                .iter()
                .all(|nc| it.next().and_then(|h| h.to_lowercase().next()) == Some(*nc));
            if ok && !it.next().is_some_and(char::is_alphanumeric) {
                return Some(i);
            }
        }
        prev_alnum = c.is_alphanumeric();
    }
    None
}

/// "им.", "г.", "e.g.", "St.", an initial "А.": a dot that does not end a sentence.
fn abbreviation(word: &str) -> bool {
    let w = lower(word.trim_start_matches(|c: char| !c.is_alphanumeric()));
    let single = w.chars().count() == 1 && w.chars().all(char::is_alphabetic);
    single
        || [
            "им", "г", "гг", "ул", "д", "т", "т.д", "т.п", "т.е", "др", "см", "напр", "тыс", "e.g",
            "i.e", "vs", "etc", "inc", "ltd", "co", "corp", "st", "mr", "ms", "dr", "jr",
        ]
        .contains(&w.as_str())
}

/// Sentences of a piece of prose; a dot after a short lower-case word ("им.", "г.") is an abbreviation.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        let next_space = chars.get(k + 1).is_none_or(|(_, n)| n.is_whitespace());
        let split = match c {
            ';' | '!' | '?' => next_space,
            '.' => {
                let word = text[start..i].split_whitespace().last().unwrap_or("");
                next_space && !abbreviation(word)
            }
            _ => false,
        };
        if split {
            out.push(&text[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&text[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Pieces of a sentence between top-level ", " (not inside brackets or quotes).
pub fn comma_parts(sentence: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let chars: Vec<(usize, char)> = sentence.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        match c {
            '(' | '«' | '[' | '“' => depth += 1,
            ')' | '»' | ']' | '”' => depth -= 1,
            ',' if depth <= 0 && chars.get(k + 1).is_some_and(|(_, n)| *n == ' ') => {
                out.push(sentence[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(sentence[start..].trim());
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

/// An item without the punctuation that ended it in a list.
pub fn clean_item(s: &str) -> String {
    s.trim()
        .trim_end_matches(['.', ';', ',', ':'])
        .trim()
        .to_string()
}

/// "a", "a и b", "a, b и c".
pub fn join_list(items: &[String], ru: bool) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!(
            "{} {} {last}",
            init.join(", "),
            if ru { "и" } else { "and" }
        ),
    }
}

/// The first letter lowered, for a clause continuing a sentence, unless the first word is a name
/// or an acronym (a capital or a digit after its first letter, or written capitalised elsewhere
/// in `corpus` only).
pub fn lower_first(text: &str, corpus: &str) -> String {
    let first = text.split_whitespace().next().unwrap_or("");
    let mut cs = first.chars();
    let (Some(c0), rest) = (cs.next(), cs.as_str()) else {
        return text.to_string();
    };
    if !c0.is_uppercase()
        || rest.is_empty()
        || rest
            .chars()
            .any(|c| c.is_uppercase() || c.is_ascii_digit() || c == '-')
    {
        return text.to_string();
    }
    let word = lower(first);
    let word = word.trim_matches(|c: char| !c.is_alphanumeric());
    // A proper name stays capitalised: it is written so everywhere in the inputs.
    let seen_lower = corpus
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w == word);
    let ordinary = seen_lower || looks_like_verb(word) || !is_latin_word(word);
    if ordinary {
        let mut s = c0.to_lowercase().collect::<String>();
        s.push_str(&text[c0.len_utf8()..]);
        s
    } else {
        text.to_string()
    }
}

/// A past or present first-person verb as resumes start their lines ("разработал", "built").
pub fn looks_like_verb(word: &str) -> bool {
    let w = lower(word);
    let w = w.trim_matches(|c: char| !c.is_alphanumeric());
    let n = w.chars().count();
    if w.chars().any(is_cyrillic) {
        n >= 4
            && [
                "ал", "ял", "ил", "ел", "ул", "ыл", "ала", "яла", "ила", "ела", "ула", "ыла",
                "али", "яли", "или", "ели", "лся", "лась", "ую", "юю", "аю", "яю", "ею", "ю",
            ]
            .iter()
            .any(|e| w.ends_with(e))
            && !w.ends_with("ию")
            && !w.ends_with("ью")
    } else {
        (n >= 4 && w.ends_with("ed"))
            || [
                "built", "led", "ran", "wrote", "made", "set", "cut", "grew", "took", "drove",
                "won", "taught", "brought", "sold", "kept", "held", "began", "found", "bought",
                "spent", "went", "shipped", "own", "run", "lead", "build", "teach", "manage",
                "write", "develop", "design",
            ]
            .contains(&w)
    }
}

/// Russian plural form for a count: 1 символ, 2 символа, 5 символов, 21 символ, 11 символов.
pub fn plural_ru<'a>(n: u64, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
    let (d, dd) = (n % 10, n % 100);
    if d == 1 && dd != 11 {
        one
    } else if (2..=4).contains(&d) && !(12..=14).contains(&dd) {
        few
    } else {
        many
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_forms_share_a_stem_in_both_languages() {
        assert_eq!(stem("командой"), stem("команды"));
        assert_eq!(stem("маркетинге"), stem("маркетинг"));
        assert_eq!(stem("PostgreSQL"), stem("postgresql"));
        assert_eq!(stem("testing"), stem("tests"));
        assert_eq!(stems("опыт работы от 3 лет"), Vec::<String>::new());
    }

    #[test]
    fn russian_plurals_follow_the_last_two_digits() {
        let f = |n| plural_ru(n, "символ", "символа", "символов");
        assert_eq!(
            [f(1), f(2), f(5), f(11), f(21), f(54), f(112), f(0)],
            [
                "символ",
                "символа",
                "символов",
                "символов",
                "символ",
                "символа",
                "символов",
                "символов"
            ]
        );
    }

    #[test]
    fn abbreviations_do_not_end_a_sentence_but_semicolons_do() {
        assert_eq!(
            sentences("Окончил МГТУ им. Баумана в 2019 г. Работал; учил."),
            ["Окончил МГТУ им. Баумана в 2019 г. Работал", "учил"]
        );
    }
}
