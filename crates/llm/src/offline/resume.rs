//! Reading a resume: the candidate's name, the one-line headline, and the statements of fact
//! (clauses) a letter may quote, each with what makes it strong (figures, technologies, a verb).

use super::text::{
    bullet, clean_item, comma_parts, is_cyrillic, is_tech_word, looks_like_verb, lower, sentences,
    word_count as words,
};

/// Longer clauses are left out rather than cut: a cut clause reads as a broken fragment.
pub const MAX_FACT_WORDS: usize = 30;

#[derive(Debug, Clone)]
pub struct Fact {
    /// The clause as the resume writes it, without list markers and labels.
    pub text: String,
    /// Holds a number that is not a calendar year ("200 rps", "+6.5%").
    pub figure: bool,
    /// Starts with a verb ("разработал", "built"): it can follow "я"/"I" in a sentence.
    pub verb: bool,
    /// A skills list ("Python, Django, SQL"), not a statement.
    pub list: bool,
}

#[derive(Debug, Default)]
pub struct Resume {
    pub name: Option<String>,
    pub headline: Option<String>,
    pub facts: Vec<Fact>,
    /// Items of the skills lists, as written.
    pub skills: Vec<String>,
}

fn is_year(n: u64) -> bool {
    (1950..=2035).contains(&n)
}

/// A concrete number in a clause ("200 rps", "с 40 до 3 секунд"), not a calendar year.
pub fn has_figure(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .any(|t| t.parse::<u64>().is_ok_and(|n| !is_year(n)))
}

const NAME_LABELS: &[&str] = &["фио", "имя", "name", "full name", "кандидат", "candidate"];
const NOT_A_NAME: &[&str] = &[
    "резюме",
    "resume",
    "cv",
    "curriculum",
    "опыт",
    "experience",
    "навыки",
    "skills",
    "образование",
    "education",
    "контакты",
    "contacts",
    "о себе",
    "summary",
    "profile",
];

/// "Иван Петров", "Anna Smith", "Мария-Луиза Соколова": 2–3 capitalised words of letters only.
fn as_name(s: &str) -> Option<String> {
    let s = s.trim().trim_end_matches(['.', ',', ';']).trim();
    let ws: Vec<&str> = s.split_whitespace().collect();
    if !(2..=3).contains(&ws.len()) {
        return None;
    }
    let ok = ws.iter().all(|w| {
        let mut cs = w.chars();
        cs.next().is_some_and(char::is_uppercase)
            && w.chars().count() >= 2
            && w.chars()
                .all(|c| c.is_alphabetic() || c == '-' || c == '\'')
            && !w.chars().skip(1).all(char::is_uppercase)
    });
    let l = lower(s);
    let ok = ok
        && !NOT_A_NAME.iter().any(|n| l.contains(n))
        && !super::vacancy::ROLE_WORDS.iter().any(|r| {
            l.split(' ')
                .any(|w| w.starts_with(r) && (r.chars().count() > 4 || w == *r))
        });
    ok.then(|| s.to_string())
}

fn name(resume: &str) -> Option<String> {
    for line in resume
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(3)
    {
        if let Some((label, rest)) = line.split_once(':') {
            if NAME_LABELS.contains(&lower(label.trim()).as_str()) {
                return as_name(rest);
            }
        }
        let first = sentences(line).into_iter().next().unwrap_or(line);
        let first = first.split([',', '|', '—']).next().unwrap_or(first);
        if let Some(n) = as_name(first) {
            return Some(n);
        }
    }
    None
}

/// A short label before a colon ("Навыки:", "2019–2021, Acme Pay:") is a heading, not a fact.
fn strip_label(text: &str) -> &str {
    if let Some((head, tail)) = text.split_once(": ") {
        let dated = head.chars().any(|c| c.is_ascii_digit());
        let first = head.split_whitespace().next().unwrap_or("");
        if looks_like_verb(first) {
            return text;
        }
        if (words(head) <= 4 || (dated && words(head) <= 7)) && words(tail) >= 1 {
            return tail.trim();
        }
    }
    text
}

/// "Навыки: a, b, c" – a list of short items rather than a statement.
fn is_list(text: &str) -> bool {
    let parts = comma_parts(text);
    parts.len() >= 3
        && words(parts[0]) <= 3
        && parts.iter().filter(|p| words(p) <= 2).count() * 3 >= parts.len() * 2
}

/// A clause that only continues the previous one ("сократив время вдвое", "reducing costs").
fn continues(part: &str) -> bool {
    let first = lower(part.split_whitespace().next().unwrap_or(""));
    let n = first.chars().count();
    let gerund_ru = n >= 5
        && ["ав", "ив", "ев", "ыв", "ув", "вшись"]
            .iter()
            .any(|e| first.ends_with(e));
    let gerund_en = n >= 5 && first.ends_with("ing");
    gerund_ru
        || gerund_en
        || [
            "что",
            "который",
            "которая",
            "которые",
            "где",
            "which",
            "where",
            "that",
            "и",
            "and",
            "а",
            "но",
            "but",
        ]
        .contains(&first.as_str())
}

/// A date range or a year at the start ("2021–2025", "2019 -") says when, not what.
fn strip_dates(text: &str) -> &str {
    let t = text.trim_start();
    let skip = t
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || " –—-.,:/".contains(*c) || c.is_whitespace()))
        .map_or(t.len(), |(i, _)| i);
    let lead = &t[..skip];
    if lead.chars().filter(char::is_ascii_digit).count() >= 4 {
        t[skip..].trim_start()
    } else {
        t
    }
}

fn hobby(text: &str) -> bool {
    let l = lower(text);
    [
        "люблю",
        "хобби",
        "увлека",
        "увлечен",
        "hobby",
        "hobbies",
        "enjoy",
        "i love",
        "в свободное",
        "спорт",
        "лыж",
    ]
    .iter()
    .any(|h| l.contains(h))
}

fn fact(text: &str) -> Option<Fact> {
    let text = clean_item(strip_dates(strip_label(text)));
    let n = words(&text);
    if text.chars().count() < 12 || !(2..=MAX_FACT_WORDS).contains(&n) || hobby(&text) {
        return None;
    }
    // A clause that does not end its brackets or quotes is a fragment.
    let balanced = text.matches('(').count() == text.matches(')').count()
        && text.matches('«').count() == text.matches('»').count()
        && text.matches('"').count().is_multiple_of(2);
    if !balanced {
        return None;
    }
    // "I have been running …", "Я веду …": the pronoun is the composer's to add.
    let (text, had_pronoun) = match text.split_once(' ') {
        Some((i, rest)) if (i == "I" || i == "Я") && words(rest) >= 2 => (rest.to_string(), true),
        _ => (text, false),
    };
    let n = words(&text);
    let first = text.split_whitespace().next().unwrap_or("");
    let verb = had_pronoun || looks_like_verb(first);
    // "Школа № 57, 2018–2025", "Acme Retail, 2019–2025": a job's heading, not a fact.
    let dated_heading = !verb
        && n <= 8
        && text
            .split(|c: char| !c.is_ascii_digit())
            .any(|t| t.parse::<u64>().is_ok_and(is_year));
    if dated_heading || (!verb && n <= 3 && !has_figure(&text)) {
        return None;
    }
    Some(Fact {
        figure: has_figure(&text),
        verb,
        list: false,
        text,
    })
}

pub fn parse(resume: &str) -> Resume {
    let mut r = Resume {
        name: name(resume),
        ..Resume::default()
    };
    let mut first_statement = true;
    for line in resume.lines() {
        let line = bullet(line).unwrap_or(line).trim();
        if line.is_empty() {
            continue;
        }
        for sentence in sentences(line) {
            if r.name.as_deref().is_some_and(|n| {
                sentence.trim_end_matches(['.', ',']) == n || sentence.starts_with(&format!("{n},"))
            }) {
                // "Иван Петров, Python-разработчик": the rest of it is the headline.
                if let Some(rest) = r
                    .name
                    .as_deref()
                    .and_then(|n| sentence.strip_prefix(&format!("{n},")))
                {
                    let rest = clean_item(rest);
                    if r.headline.is_none() && words(&rest) >= 1 && words(&rest) <= 12 {
                        r.headline = Some(rest);
                        first_statement = false;
                    }
                }
                continue;
            }
            let body = strip_label(sentence);
            if is_list(body) {
                for item in comma_parts(body) {
                    let item = clean_item(item);
                    if !item.is_empty() && words(&item) <= 3 && !r.skills.contains(&item) {
                        r.skills.push(item);
                    }
                }
                continue;
            }
            if first_statement {
                first_statement = false;
                let b = clean_item(sentence);
                let headline_like = words(&b) <= 12
                    && !b.contains(':')
                    && !b.chars().take(4).any(|c| c.is_ascii_digit());
                if headline_like {
                    r.headline = Some(b);
                    continue;
                }
            }
            // Clauses: a short or dependent piece stays with the one before it.
            let mut parts: Vec<String> = Vec::new();
            for part in comma_parts(body) {
                let short = words(part) < 3;
                let fits = parts
                    .last()
                    .is_some_and(|l| words(l) + words(part) <= MAX_FACT_WORDS);
                if (short || continues(part)) && fits {
                    let last = parts.last_mut().expect("checked");
                    *last = format!("{last}, {part}");
                } else {
                    parts.push(part.to_string());
                }
            }
            // A whole sentence that fits reads better than its clauses.
            if words(body) <= MAX_FACT_WORDS {
                parts = vec![body.to_string()];
            }
            for p in parts {
                if let Some(f) = fact(&p) {
                    if !r.facts.iter().any(|x| x.text == f.text) {
                        r.facts.push(f);
                    }
                }
            }
        }
    }
    r
}

/// The Latin technology names a text mentions, as written.
pub fn tech_words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text.split(|c: char| c.is_whitespace() || ",;:()«»\"".contains(c)) {
        let w = w.trim_end_matches(['.', '!', '?']);
        if is_tech_word(w) && !out.iter().any(|o| lower(o) == lower(w)) {
            out.push(w.to_string());
        }
    }
    out
}

/// Whether the resume is written mostly in Cyrillic.
pub fn is_russian(text: &str) -> bool {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let cyr = text.chars().filter(|c| is_cyrillic(*c)).count();
    letters > 0 && cyr * 2 >= letters
}
