//! The offline composer: without an API key, a letter-shaped draft built only from the vacancy's
//! requirements and the resume clauses that match them, clearly labelled as an offline draft.
//! It never adds facts: every claim about the candidate is a clause quoted from the resume.

use domain::TextLanguage;

use crate::Task;

pub const MODEL: &str = "offline-composer";

const LABEL_RU: &str = "[Офлайн-черновик: составлен без ИИ из текста вакансии и резюме. Проверьте и доработайте перед отправкой.]";
const LABEL_EN: &str = "[Offline draft: put together without AI from the vacancy and the resume. Review and edit it before sending.]";
const NOTE_RU: &str = "[Офлайн-режим не переписывает текст по пожеланиям: внесите правку вручную.]";
const NOTE_EN: &str =
    "[Offline mode cannot rewrite the text as asked: please make the change by hand.]";

/// Requirement bullets in one draft: more makes a checklist, not a letter.
const MAX_BULLETS: usize = 5;
const MAX_NICE: usize = 2;
/// Longer resume clauses are shortened at a word boundary so one bullet cannot swallow the letter.
const MAX_CLAUSE_WORDS: usize = 28;

/// Prefixes of words that appear in every requirement and say nothing about the match.
const STOP_PREFIXES_RU: &[&str] = &[
    "опыт",
    "работ",
    "знан",
    "умен",
    "умет",
    "навык",
    "будет",
    "плюс",
    "желат",
    "лет",
    "год",
    "боле",
    "менее",
    "понима",
    "уверен",
    "хорош",
    "отлич",
    "владен",
    "глубок",
    "прак",
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
    "также",
    "том",
    "они",
    "его",
    "если",
    "все",
    "всех",
    "мы",
    "вы",
    "кандидат",
    "требован",
];
const STOPWORDS_EN: &[&str] = &[
    "experience",
    "experienced",
    "with",
    "knowledge",
    "skills",
    "skill",
    "years",
    "year",
    "ability",
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
    "understanding",
    "familiarity",
    "familiar",
    "working",
    "work",
    "plus",
    "nice",
    "using",
    "least",
    "proven",
    "hands",
    "deep",
    "excellent",
    "able",
    "into",
    "this",
    "who",
    "what",
    "its",
    "their",
    "we",
    "all",
    "any",
    "of",
    "in",
    "on",
    "to",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Intro,
    Requirements,
    Nice,
    Tasks,
    Offer,
}

/// Section headings as vacancies write them, longest first so "требования к кандидату" wins.
const HEADINGS: &[(&str, Section)] = &[
    ("требования к кандидату", Section::Requirements),
    ("что мы ожидаем от тебя", Section::Requirements),
    ("что мы ожидаем от вас", Section::Requirements),
    ("что мы ожидаем", Section::Requirements),
    ("что для нас важно", Section::Requirements),
    ("необходимые навыки", Section::Requirements),
    ("ключевые навыки", Section::Requirements),
    ("наши ожидания", Section::Requirements),
    ("мы ожидаем", Section::Requirements),
    ("ждём от вас", Section::Requirements),
    ("ждем от вас", Section::Requirements),
    ("кого мы ищем", Section::Requirements),
    ("требования", Section::Requirements),
    ("ожидаем", Section::Requirements),
    ("what we are looking for", Section::Requirements),
    ("what we're looking for", Section::Requirements),
    ("what you will need", Section::Requirements),
    ("what you'll need", Section::Requirements),
    ("what you need", Section::Requirements),
    ("what we expect", Section::Requirements),
    ("required skills", Section::Requirements),
    ("qualifications", Section::Requirements),
    ("requirements", Section::Requirements),
    ("who you are", Section::Requirements),
    ("about you", Section::Requirements),
    ("must have", Section::Requirements),
    ("must-have", Section::Requirements),
    ("you have", Section::Requirements),
    ("будет преимуществом", Section::Nice),
    ("преимуществом будет", Section::Nice),
    ("будет плюсом", Section::Nice),
    ("плюсом будет", Section::Nice),
    ("желательно", Section::Nice),
    ("nice to have", Section::Nice),
    ("nice-to-have", Section::Nice),
    ("bonus points", Section::Nice),
    ("preferred", Section::Nice),
    ("a plus", Section::Nice),
    ("чем предстоит заниматься", Section::Tasks),
    ("что предстоит делать", Section::Tasks),
    ("чем заниматься", Section::Tasks),
    ("обязанности", Section::Tasks),
    ("задачи", Section::Tasks),
    ("what you will do", Section::Tasks),
    ("what you'll do", Section::Tasks),
    ("responsibilities", Section::Tasks),
    ("your tasks", Section::Tasks),
    ("the role", Section::Tasks),
    ("duties", Section::Tasks),
    ("tasks", Section::Tasks),
    ("что мы предлагаем", Section::Offer),
    ("мы предлагаем", Section::Offer),
    ("о компании", Section::Offer),
    ("условия", Section::Offer),
    ("what we offer", Section::Offer),
    ("we offer", Section::Offer),
    ("benefits", Section::Offer),
    ("about us", Section::Offer),
    ("perks", Section::Offer),
];

/// Openers that announce a role without being part of its name.
const BOILERPLATE: &[&str] = &[
    "мы ищем",
    "ищем",
    "в поисках",
    "требуется",
    "открыта вакансия",
    "вакансия",
    "we are looking for",
    "we're looking for",
    "we are hiring",
    "we're hiring",
    "looking for",
    "hiring",
    "join us as",
    "position",
    "role",
    "job title",
];

/// Words that name a job; a first sentence without one is a company blurb, not a title.
const ROLE_WORDS: &[&str] = &[
    "разработчик",
    "инженер",
    "аналитик",
    "менеджер",
    "дизайнер",
    "тестировщик",
    "специалист",
    "архитектор",
    "лид",
    "руководител",
    "программист",
    "администратор",
    "консультант",
    "маркетолог",
    "devops",
    "developer",
    "engineer",
    "analyst",
    "manager",
    "designer",
    "tester",
    "architect",
    "lead",
    "scientist",
    "administrator",
    "consultant",
    "programmer",
    "qa",
    "sre",
];

fn bullet(line: &str) -> Option<&str> {
    let t = line.trim_start();
    for marker in [
        "- ", "• ", "* ", "— ", "– ", "· ", "▪ ", "✓ ", "✔ ", "✅ ", "🔹 ", "▫ ",
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

fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

fn lower(text: &str) -> String {
    text.to_lowercase()
}

fn is_latin_word(w: &str) -> bool {
    w.chars().any(|c| c.is_ascii_alphabetic())
        && w.chars()
            .all(|c| !c.is_alphabetic() || c.is_ascii_alphabetic())
}

/// A technology name as vacancies write them: Latin script with a capital, a digit or a symbol.
fn is_tech_word(w: &str) -> bool {
    is_latin_word(w)
        && w.chars()
            .any(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || "+#./".contains(c))
}

/// Byte offset of `needle` (already lower case) in `hay`, case-insensitively, at a word start.
fn find_word_ci(hay: &str, needle: &str) -> Option<usize> {
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

/// The heading a line consists of ("Требования", "Nice to have!"), if it is only a heading.
fn heading_line(line: &str) -> Option<Section> {
    let t = line
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .trim_end_matches([':', '!', '.', ' ']);
    let l = lower(t);
    HEADINGS.iter().find(|(h, _)| l == *h).map(|(_, s)| *s)
}

/// Splits text at inline headings written with a colon ("… Требования: a, b. Задачи: c").
fn inline_headings(text: &str) -> Vec<(Option<Section>, &str)> {
    let mut cuts: Vec<(usize, usize, Section)> = Vec::new();
    let mut from = 0;
    while from < text.len() {
        let rest = &text[from..];
        let mut best: Option<(usize, usize, Section)> = None;
        for (h, s) in HEADINGS {
            let mut base = 0;
            while let Some(pos) = find_word_ci(&rest[base..], h) {
                let start = base + pos;
                let end = start
                    + rest[start..]
                        .char_indices()
                        .nth(h.chars().count())
                        .map_or(rest.len() - start, |(i, _)| i);
                let after = rest[end..].trim_start_matches(' ');
                if after.starts_with(':') {
                    let colon = end + (rest[end..].len() - after.len()) + 1;
                    if best.is_none_or(|b| start < b.0) {
                        best = Some((start, colon, *s));
                    }
                    break;
                }
                base = end;
            }
        }
        match best {
            Some((s, e, sec)) => {
                cuts.push((from + s, from + e, sec));
                from += e;
            }
            None => break,
        }
    }
    let mut out = Vec::new();
    let mut at = 0;
    let mut sec = None;
    for (s, e, next) in cuts {
        out.push((sec, &text[at..s]));
        sec = Some(next);
        at = e;
    }
    out.push((sec, &text[at..]));
    out
}

/// Sentences of a piece of prose; a dot after a short lower-case word ("им.", "г.") is an abbreviation.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        let next_space = chars.get(k + 1).is_none_or(|(_, n)| n.is_whitespace());
        let split = match c {
            ';' | '!' | '?' => next_space,
            '.' => {
                let word: String = text[start..i]
                    .split_whitespace()
                    .last()
                    .unwrap_or("")
                    .to_string();
                let short_lower =
                    word.chars().count() <= 3 && word.chars().all(|c| c.is_lowercase() || c == '.');
                next_space && (word.is_empty() || !short_lower)
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
fn comma_parts(sentence: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let bytes: Vec<(usize, char)> = sentence.char_indices().collect();
    for (k, &(i, c)) in bytes.iter().enumerate() {
        match c {
            '(' | '«' | '[' => depth += 1,
            ')' | '»' | ']' => depth -= 1,
            ',' if depth <= 0 && bytes.get(k + 1).is_some_and(|(_, n)| *n == ' ') => {
                out.push(sentence[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(sentence[start..].trim());
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

fn clean_item(s: &str) -> String {
    s.trim()
        .trim_end_matches(['.', ';', ',', ':'])
        .trim()
        .to_string()
}

/// Individual requirements of one sentence: "a, b и c, d" → a / b и c / d, but a technology list
/// ("знание Python, Django, PostgreSQL") stays one requirement.
fn split_requirement_sentence(sentence: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in comma_parts(sentence) {
        let tech_tail = out
            .last()
            .and_then(|p| p.split_whitespace().last())
            .is_some_and(is_tech_word);
        if words(part) <= 2 && tech_tail && part.split_whitespace().all(is_tech_word) {
            let last = out.last_mut().expect("checked");
            last.push_str(", ");
            last.push_str(part);
        } else {
            out.push(part.to_string());
        }
    }
    out.into_iter()
        .map(|s| clean_item(&s))
        .filter(|s| s.chars().count() >= 2)
        .collect()
}

#[derive(Debug, Default)]
struct Vacancy {
    intro: Vec<String>,
    requirements: Vec<String>,
    nice: Vec<String>,
    tasks: Vec<String>,
}

fn parse_vacancy(text: &str) -> Vacancy {
    let mut v = Vacancy::default();
    let mut loose_bullets = Vec::new();
    let mut section = Section::Intro;
    for line in text.lines() {
        let is_bullet = bullet(line).is_some();
        let body = bullet(line).unwrap_or(line).trim();
        if body.is_empty() {
            continue;
        }
        if let Some(s) = heading_line(body) {
            section = s;
            continue;
        }
        for (k, (sec, piece)) in inline_headings(body).into_iter().enumerate() {
            if let Some(s) = sec {
                section = s;
            }
            let piece = piece.trim();
            if piece.is_empty() {
                continue;
            }
            let items: Vec<String> = if is_bullet && k == 0 {
                vec![clean_item(piece)]
            } else if matches!(
                section,
                Section::Requirements | Section::Nice | Section::Tasks
            ) {
                sentences(piece)
                    .into_iter()
                    .flat_map(split_requirement_sentence)
                    .collect()
            } else {
                sentences(piece).into_iter().map(clean_item).collect()
            };
            match section {
                Section::Intro if is_bullet => loose_bullets.extend(items),
                Section::Intro => v.intro.extend(items),
                Section::Requirements => v.requirements.extend(items),
                Section::Nice => v.nice.extend(items),
                Section::Tasks => v.tasks.extend(items),
                Section::Offer => {}
            }
        }
    }
    if v.requirements.is_empty() {
        // No heading: bullets are the requirements, else the sentences that sound like them.
        v.requirements = loose_bullets;
        if v.requirements.is_empty() {
            let keys = [
                "опыт",
                "знан",
                "умен",
                "владен",
                "понима",
                "experience",
                "knowledge",
                "familiar",
                "proficien",
            ];
            v.requirements = v
                .intro
                .iter()
                .skip(1)
                .filter(|s| keys.iter().any(|k| lower(s).contains(k)))
                .flat_map(|s| split_requirement_sentence(s))
                .collect();
        }
    }
    v.requirements.retain(|r| r.chars().count() >= 2);
    v.requirements.truncate(10);
    v.nice.truncate(5);
    v
}

/// Nominative of a role written after "Ищем" ("Python-разработчика" → "Python-разработчик").
fn nominative(word: &str) -> String {
    if !word
        .chars()
        .last()
        .is_some_and(|c| matches!(c, '\u{0400}'..='\u{04FF}'))
    {
        return word.to_string();
    }
    let strip = |n: usize| {
        word.chars()
            .take(word.chars().count() - n)
            .collect::<String>()
    };
    if word.ends_with("ого") {
        return strip(3) + "ый";
    }
    if word.ends_with("его") {
        return strip(3) + "ий";
    }
    if word.ends_with("теля") {
        return strip(1) + "ь";
    }
    for end in ["ика", "ера", "ора", "ста", "ида", "ога", "ёра", "ара"] {
        if word.ends_with(end) {
            return strip(1);
        }
    }
    word.to_string()
}

/// The role's name and what follows it in the first sentence ("в команду платежей"), never cut
/// inside a word; `None` when the vacancy does not start with something that names a role.
fn role(intro: &[String]) -> Option<(String, Option<String>)> {
    // A company blurb often comes first; the title is then one of the next lines.
    for item in intro.iter().take(3) {
        if let Some((name, context, true)) = role_in(item) {
            return Some((name, context));
        }
    }
    let (name, context, _) = role_in(intro.first()?)?;
    let company = [
        "«",
        "\"",
        "ООО",
        "АО ",
        "LLC",
        "Inc",
        "Ltd",
        "компани",
        "compan",
    ]
    .iter()
    .any(|m| name.contains(m));
    (words(&name) <= 4 && !company).then_some((name, context))
}

/// The role a sentence names, what follows it, and whether it contains a word for a job.
fn role_in(sentence: &str) -> Option<(String, Option<String>, bool)> {
    let first = sentence
        .split([':', '(', '|', '!'])
        .next()
        .unwrap_or("")
        .split(" — ")
        .next()
        .unwrap_or("");
    let first = first
        .split(" - ")
        .next()
        .unwrap_or("")
        .split(", ")
        .next()
        .unwrap_or("")
        .trim();
    let mut rest = first.trim_start_matches(|c: char| !c.is_alphanumeric());
    let mut accusative = false;
    for b in BOILERPLATE {
        if find_word_ci(rest, b) == Some(0) {
            let cut = rest
                .char_indices()
                .nth(b.chars().count())
                .map_or(rest.len(), |(i, _)| i);
            rest = rest[cut..].trim_start_matches([' ', ':']);
            accusative = matches!(*b, "мы ищем" | "ищем" | "в поисках");
            break;
        }
    }
    for article in ["a ", "an ", "the "] {
        if rest.to_lowercase().starts_with(article) {
            rest = &rest[article.len()..];
        }
    }
    let ws: Vec<&str> = rest.split_whitespace().collect();
    let cutters = [
        "в", "во", "к", "для", "с", "со", "из", "to", "in", "at", "for", "who", "with", "that",
        "which", "on", "и", "and",
    ];
    let mut n = ws.len();
    for (i, w) in ws.iter().enumerate().skip(1) {
        let lw = lower(w);
        let latin_next = ws.get(i + 1).is_some_and(|x| is_latin_word(x));
        // "на Rust", "in Go" belong to the name; "to join", "в команду" do not.
        let always = ["to", "who", "that", "which", "и", "and"].contains(&lw.as_str());
        if cutters.contains(&lw.as_str()) && (always || !latin_next) {
            n = i;
            break;
        }
    }
    let head: Vec<String> = ws[..n]
        .iter()
        .map(|w| {
            if accusative {
                nominative(w)
            } else {
                (*w).to_string()
            }
        })
        .collect();
    let mut name = String::new();
    for w in &head {
        if name.chars().count() + w.chars().count() + 1 > 60 {
            break;
        }
        if !name.is_empty() {
            name.push(' ');
        }
        name.push_str(w);
    }
    let name = name.trim_end_matches(['.', ',', ';']).to_string();
    let l = lower(&name);
    let names_a_role = ROLE_WORDS.iter().any(|r| {
        l.split(|c: char| !c.is_alphanumeric())
            .any(|w| w.starts_with(r))
    });
    if name.is_empty() {
        return None;
    }
    let tail = ws[n..].join(" ");
    let tail = tail.trim_end_matches(['.', ',', ';']).to_string();
    let context = (!tail.is_empty() && words(&tail) <= 6).then(|| {
        tail.split(' ')
            .map(|w| match w {
                "our" => "your",
                "нашу" => "вашу",
                "наш" => "ваш",
                "нашей" => "вашей",
                "нашего" => "вашего",
                "наша" => "ваша",
                other => other,
            })
            .collect::<Vec<_>>()
            .join(" ")
    });
    Some((name, context, names_a_role))
}

/// Word stems good enough to match "PostgreSQL" with "postgresql" and "командой" with "команды".
fn stems(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text.split(|c: char| !c.is_alphanumeric() && c != '+' && c != '#') {
        let n = w.chars().count();
        let acronym =
            n >= 2 && (w.chars().any(|c| c.is_ascii_uppercase()) || w.contains(['+', '#']));
        if (n < 3 && !acronym) || w.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let l = lower(w);
        if STOPWORDS_EN.contains(&l.as_str()) || STOP_PREFIXES_RU.iter().any(|p| l.starts_with(p)) {
            continue;
        }
        let s: String = l.chars().take(6).collect();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn is_year(n: u32) -> bool {
    (1950..=2035).contains(&n)
}

/// "от 3 лет", "3+ года", "5+ years" → 3, 3, 5.
fn years(text: &str) -> Option<u32> {
    let toks: Vec<String> = text
        .split_whitespace()
        .map(|t| lower(t.trim_matches(|c: char| !c.is_alphanumeric() && c != '+')))
        .collect();
    toks.iter().enumerate().find_map(|(i, t)| {
        let num: u32 = t.trim_end_matches('+').split('-').next()?.parse().ok()?;
        let unit = toks.get(i + 1)?;
        let is_unit = ["лет", "год", "years", "year", "yrs"]
            .iter()
            .any(|u| unit.starts_with(u));
        (is_unit && !is_year(num)).then_some(num)
    })
}

/// A concrete number in a clause ("200 rps", "с 40 до 3 секунд"), not a calendar year.
fn has_figure(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .any(|t| t.parse::<u32>().is_ok_and(|n| !is_year(n)))
}

#[derive(Debug, Clone)]
struct Clause {
    text: String,
    sentence: usize,
    list: bool,
}

/// "Навыки: a, b, c" – a list of short items rather than a statement.
fn is_list(text: &str) -> bool {
    let parts = comma_parts(text);
    parts.len() >= 3 && parts.iter().filter(|p| words(p) <= 2).count() * 3 >= parts.len() * 2
}

/// A short label before a colon ("Навыки:", "backend-разработчик:") is a heading, not evidence;
/// a dated one ("2020–2026: …") is kept because the dates are part of the fact.
fn strip_label(text: &str) -> &str {
    if let Some((head, tail)) = text.split_once(": ") {
        if words(head) <= 3 && !head.chars().any(|c| c.is_ascii_digit()) && words(tail) >= 1 {
            return tail.trim();
        }
    }
    text
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
        ]
        .contains(&first.as_str())
}

fn resume_clauses(resume: &str) -> Vec<Clause> {
    let mut out = Vec::new();
    let mut sentence_no = 0;
    for line in resume.lines() {
        let line = bullet(line).unwrap_or(line).trim();
        for sentence in sentences(line) {
            sentence_no += 1;
            let body = strip_label(sentence);
            if is_list(body) {
                out.push(Clause {
                    text: clean_item(body),
                    sentence: sentence_no,
                    list: true,
                });
                continue;
            }
            let mut parts: Vec<String> = Vec::new();
            let mut carry = String::new();
            for part in comma_parts(sentence) {
                let short = words(part) < 3;
                if !carry.is_empty() {
                    carry = format!("{carry}, {part}");
                    if !short {
                        parts.push(std::mem::take(&mut carry));
                    }
                    continue;
                }
                if (short || continues(part)) && !parts.is_empty() {
                    let last = parts.last_mut().expect("checked");
                    *last = format!("{last}, {part}");
                } else if short {
                    carry = part.to_string();
                } else {
                    parts.push(part.to_string());
                }
            }
            if !carry.is_empty() {
                parts.push(carry);
            }
            for p in parts {
                let text = clean_item(strip_label(&p));
                if text.chars().count() >= 12 {
                    out.push(Clause {
                        text,
                        sentence: sentence_no,
                        list: false,
                    });
                }
            }
        }
    }
    out
}

/// How well a clause backs a requirement: (overlap, bonus). Overlap counts shared stems
/// (technology names weigh more) and a sufficient number of years; the bonus rewards figures.
fn score(req_stems: &[String], req_years: Option<u32>, clause: &str) -> (u32, u32) {
    let have = stems(clause);
    let mut overlap: u32 = req_stems
        .iter()
        .filter(|w| have.contains(w))
        .map(|w| if w.is_ascii() { 3 } else { 1 })
        .sum();
    if let (Some(want), Some(got)) = (req_years, years(clause)) {
        if got >= want {
            overlap += 2;
        }
    }
    let bonus = if overlap > 0 && has_figure(clause) {
        2
    } else {
        0
    };
    (overlap, bonus)
}

/// The items of the resume's skills lists that name one of `wanted` (technology stems).
fn list_items(wanted: &[String], clauses: &[Clause], listed: &mut Vec<String>) {
    for c in clauses.iter().filter(|c| c.list) {
        for item in comma_parts(&c.text) {
            let have = stems(item);
            if wanted.iter().any(|w| have.contains(w)) && !listed.iter().any(|l| l == item) {
                listed.push(item.to_string());
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Pair {
    req: String,
    /// Indices into the clauses, primary first.
    evidence: Vec<usize>,
    strength: u32,
    order: usize,
}

/// For each requirement the resume clauses that back it best; a clause backs one requirement only.
/// Items only a skills list backs come back separately as the matching list items.
fn pair_up(reqs: &[String], clauses: &[Clause], used: &mut [bool]) -> (Vec<Pair>, Vec<String>) {
    let info: Vec<(Vec<String>, Option<u32>)> = reqs.iter().map(|r| (stems(r), years(r))).collect();
    let mut cands: Vec<(u32, u32, usize, usize)> = Vec::new();
    for (ri, (st, yr)) in info.iter().enumerate() {
        for (ci, c) in clauses.iter().enumerate().filter(|(_, c)| !c.list) {
            let (o, b) = score(st, *yr, &c.text);
            if o >= 2 {
                cands.push((o + b, o, ri, ci));
            }
        }
    }
    cands.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then(a.2.cmp(&b.2))
            .then(a.3.cmp(&b.3))
    });
    let mut primary: Vec<Option<(usize, u32)>> = vec![None; reqs.len()];
    for &(total, _, ri, ci) in &cands {
        if primary[ri].is_none() && !used[ci] {
            primary[ri] = Some((ci, total));
            used[ci] = true;
        }
    }
    let mut pairs = Vec::new();
    let mut listed = Vec::new();
    for (ri, p) in primary.iter().enumerate() {
        let (st, yr) = &info[ri];
        let Some((ci, total)) = *p else {
            // Only the skills list mentions it: name the matching items, claim nothing more.
            let tech: Vec<String> = st.iter().filter(|w| w.is_ascii()).cloned().collect();
            list_items(&tech, clauses, &mut listed);
            continue;
        };
        // A second clause when it covers a technology or the years the first one does not.
        let covered = stems(&clauses[ci].text);
        let years_covered = yr.is_some_and(|w| years(&clauses[ci].text).is_some_and(|g| g >= w));
        let missing: Vec<String> = st
            .iter()
            .filter(|w| w.is_ascii() && !covered.contains(w))
            .cloned()
            .collect();
        let second = clauses
            .iter()
            .enumerate()
            .filter(|(j, c)| !used[*j] && !c.list)
            .map(|(j, c)| {
                let have = stems(&c.text);
                let mut gain = 3 * missing.iter().filter(|w| have.contains(w)).count() as u32;
                if !years_covered && yr.is_some_and(|w| years(&c.text).is_some_and(|g| g >= w)) {
                    gain += 2;
                }
                (j, gain)
            })
            .filter(|(_, g)| *g >= 2)
            .max_by_key(|(j, g)| (*g, std::cmp::Reverse(*j)));
        let mut evidence = vec![ci];
        if let Some((j, _)) = second {
            used[j] = true;
            evidence.push(j);
        }
        let covered: Vec<String> = evidence
            .iter()
            .flat_map(|&j| stems(&clauses[j].text))
            .collect();
        let still: Vec<String> = missing
            .into_iter()
            .filter(|w| !covered.contains(w))
            .collect();
        list_items(&still, clauses, &mut listed);
        pairs.push(Pair {
            req: reqs[ri].clone(),
            evidence,
            strength: total,
            order: ri,
        });
    }
    (pairs, listed)
}

/// A clause as the continuation of "requirement — …": lower-case start for an ordinary word.
fn soften(text: &str, corpus: &str) -> String {
    let first = text.split_whitespace().next().unwrap_or("");
    let mut cs = first.chars();
    let (Some(c0), rest) = (cs.next(), cs.as_str()) else {
        return text.to_string();
    };
    if !c0.is_uppercase()
        || rest.chars().any(|c| c.is_uppercase() || c.is_ascii_digit())
        || rest.is_empty()
    {
        return text.to_string();
    }
    let lw = lower(first);
    let word = lw.trim_matches(|c: char| !c.is_alphanumeric());
    let verb_ru = ["л", "ла", "ли", "лся", "лась", "ю", "ал", "ил"]
        .iter()
        .any(|e| word.ends_with(e))
        && word.chars().count() >= 5;
    let verb_en = word.ends_with("ed")
        || [
            "built", "led", "ran", "wrote", "made", "set", "cut", "grew", "took", "drove",
        ]
        .contains(&word);
    let seen_lower = corpus
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w == word);
    if verb_ru || verb_en || seen_lower {
        let mut s = c0.to_lowercase().collect::<String>();
        s.push_str(&text[c0.len_utf8()..]);
        s
    } else {
        text.to_string()
    }
}

fn shorten(text: &str) -> String {
    let ws: Vec<&str> = text.split_whitespace().collect();
    if ws.len() <= MAX_CLAUSE_WORDS {
        return text.to_string();
    }
    format!(
        "{}…",
        ws[..MAX_CLAUSE_WORDS]
            .join(" ")
            .trim_end_matches([',', ';', ':'])
    )
}

fn evidence_text(pair: &Pair, clauses: &[Clause], corpus: &str) -> String {
    let mut idx = pair.evidence.clone();
    let adjacent = idx.len() == 2
        && clauses[idx[0]].sentence == clauses[idx[1]].sentence
        && idx[0].abs_diff(idx[1]) == 1;
    if adjacent {
        idx.sort_unstable();
    }
    let sep = if adjacent { ", " } else { "; " };
    idx.iter()
        .map(|&i| soften(&shorten(&clauses[i].text), corpus))
        .collect::<Vec<_>>()
        .join(sep)
}

fn join_list(items: &[String], ru: bool) -> String {
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

struct Phrases {
    greeting: &'static str,
    list_intro: [&'static str; 3],
    nice_intro: &'static str,
    no_match: &'static str,
    wish: &'static str,
    closing: [&'static str; 3],
    signature: &'static str,
}

const RU: Phrases = Phrases {
    greeting: "Здравствуйте!",
    list_intro: [
        "Вот как мой опыт соотносится с вашими требованиями:",
        "Что из ваших требований подтверждается моим опытом:",
        "Коротко по вашим требованиям:",
    ],
    nice_intro: "Из того, что будет плюсом:",
    no_match: "Мой опыт подробно описан в резюме; с удовольствием расскажу, как он пригодится в ваших задачах.",
    wish: "Мне хотелось бы применить этот опыт в вашей команде и развиваться вместе с ней.",
    closing: [
        "С удовольствием расскажу о своих проектах подробнее на собеседовании. Спасибо за внимание!",
        "Спасибо, что рассмотрели мой отклик. С удовольствием отвечу на вопросы и расскажу о проектах подробнее.",
        "Если мой опыт вам подходит, давайте созвонимся: с удовольствием расскажу детали. Спасибо за внимание!",
    ],
    signature: "С уважением,\n[Ваше имя]",
};

const EN: Phrases = Phrases {
    greeting: "Dear hiring team,",
    list_intro: [
        "Here is how my experience matches your requirements:",
        "Your requirements and where my experience covers them:",
        "Briefly, against your requirements:",
    ],
    nice_intro: "From your nice-to-have list:",
    no_match: "My experience is described in my resume; I would be glad to explain how it fits your needs.",
    wish: "I would like to bring this experience to your team and keep growing with it.",
    closing: [
        "I would be glad to tell you more about these projects in an interview. Thank you for your time.",
        "Thank you for considering my application. I would be happy to answer any questions and go into more detail.",
        "If my background looks like a fit, I would welcome a call to discuss the details. Thank you for your time.",
    ],
    signature: "Best regards,\n[Your name]",
};

fn opening(ru: bool, role: Option<&(String, Option<String>)>, i: usize) -> String {
    let ctx = role
        .and_then(|(_, c)| c.as_deref())
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    match (ru, role) {
        (true, Some((r, _))) => [
            format!("Меня заинтересовала вакансия «{r}»{ctx}, и я хочу предложить свою кандидатуру."),
            format!("Откликаюсь на вакансию «{r}»{ctx}: многое из того, что вы ищете, есть в моём опыте."),
            format!("Пишу по поводу вакансии «{r}»{ctx}. Коротко расскажу, чем мой опыт может быть полезен вашей команде."),
        ][i]
            .clone(),
        (true, None) => [
            "Меня заинтересовала ваша вакансия, и я хочу предложить свою кандидатуру.",
            "Откликаюсь на вашу вакансию: многое из того, что вы ищете, есть в моём опыте.",
            "Пишу по поводу вашей вакансии. Коротко расскажу, чем мой опыт может быть полезен вашей команде.",
        ][i]
            .to_string(),
        (false, Some((r, _))) => [
            format!("I am writing to apply for the {r} role{ctx}."),
            format!("I would like to be considered for the {r} position{ctx}: much of what you are looking for is already part of my experience."),
            format!("Your {r} opening caught my attention, and I would like to show briefly how my experience fits it."),
        ][i]
            .clone(),
        (false, None) => [
            "I am writing to apply for the position you advertised.",
            "I would like to be considered for your opening: much of what you are looking for is already part of my experience.",
            "Your opening caught my attention, and I would like to show briefly how my experience fits it.",
        ][i]
            .to_string(),
    }
}

/// A draft letter for a first letter or another variant.
pub fn compose(vacancy: &str, resume: &str, variant: u32) -> String {
    let ru = TextLanguage::detect(vacancy) == TextLanguage::Russian;
    let p = if ru { &RU } else { &EN };
    let v = parse_vacancy(vacancy);
    let role = role(&v.intro);
    let clauses = resume_clauses(resume);
    let corpus = format!("{vacancy}\n{resume}");
    let mut used = vec![false; clauses.len()];
    let (mut pairs, mut listed) = pair_up(&v.requirements, &clauses, &mut used);
    let (mut nice, nice_listed) = pair_up(&v.nice, &clauses, &mut used);
    for item in nice_listed {
        if !listed.contains(&item) {
            listed.push(item);
        }
    }
    listed.truncate(4);
    let i = variant as usize % 3;
    // The strongest matches stay when there are too many; the order then depends on the variant.
    pairs.sort_by(|a, b| b.strength.cmp(&a.strength).then(a.order.cmp(&b.order)));
    pairs.truncate(MAX_BULLETS);
    match i {
        0 => pairs.sort_by_key(|p| p.order),
        1 => pairs.sort_by_key(|p| std::cmp::Reverse(p.order)),
        _ => {}
    }
    nice.truncate(MAX_NICE);

    // The second opening says the vacancy matches the experience: only when something does.
    let open_with = if i == 1 && pairs.is_empty() { 0 } else { i };
    let mut paras: Vec<String> = vec![
        p.greeting.to_string(),
        opening(ru, role.as_ref(), open_with),
    ];
    if pairs.is_empty() && nice.is_empty() && listed.is_empty() {
        paras.push(p.no_match.to_string());
    }
    if !pairs.is_empty() {
        let mut s = p.list_intro[i].to_string();
        for pair in &pairs {
            s += &format!(
                "\n• {} — {}",
                pair.req,
                evidence_text(pair, &clauses, &corpus)
            );
        }
        paras.push(s);
    }
    if !nice.is_empty() {
        let mut s = p.nice_intro.to_string();
        for pair in &nice {
            s += &format!(
                "\n• {} — {}",
                pair.req,
                evidence_text(pair, &clauses, &corpus)
            );
        }
        paras.push(s);
    }
    if !listed.is_empty() {
        let items = join_list(&listed, ru);
        paras.push(if ru {
            format!("Из упомянутых вами технологий в моём стеке также есть {items}.")
        } else {
            format!("My stack also includes {items}, which you mention.")
        });
    }
    let tasks: Vec<String> = v
        .tasks
        .iter()
        .filter(|t| words(t) <= 8)
        .take(3)
        .map(|t| soften(t, &corpus))
        .collect();
    if !tasks.is_empty() {
        let list = join_list(&tasks, ru);
        paras.push(if ru {
            format!("Мне интересны задачи, которые вы описываете: {list}.")
        } else {
            format!("I am interested in the work you describe: {list}.")
        });
    }
    // A short draft gets the resume's remaining concrete results, quoted as they are.
    let so_far: usize = paras.iter().map(|s| words(s)).sum();
    if so_far < 110 {
        let vacancy_stems = stems(vacancy);
        // Only what touches the vacancy (no hobbies); results with figures first, then other statements that read as work done; never a
        // heading-like fragment (a name, a school) that starts with a capital and no verb.
        let mut extra: Vec<(bool, usize, String)> = clauses
            .iter()
            .enumerate()
            .filter(|(j, c)| !used[*j] && !c.list && words(&c.text) >= 3)
            .filter(|(_, c)| stems(&c.text).iter().any(|w| vacancy_stems.contains(w)))
            .filter(|(_, c)| {
                !c.text
                    .split_whitespace()
                    .next()
                    .is_some_and(|w| w.chars().any(|ch| ch.is_ascii_digit()))
            })
            .map(|(j, c)| (c, j, soften(&shorten(&c.text), &corpus)))
            .filter(|(_, _, t)| t.chars().next().is_some_and(char::is_lowercase))
            .map(|(c, j, t)| (!has_figure(&c.text), j, t))
            .collect();
        extra.sort();
        let extra: Vec<String> = extra.into_iter().take(2).map(|(_, _, t)| t).collect();
        if !extra.is_empty() {
            let list = extra.join("; ");
            paras.push(if ru {
                format!("Ещё из моего опыта: {list}.")
            } else {
                format!("Also from my experience: {list}.")
            });
        }
    }
    // A sparse match still deserves a letter, not a stub: a wish, not a claim.
    if paras.iter().map(|s| words(s)).sum::<usize>() < 90 {
        paras.push(p.wish.to_string());
    }
    paras.push(p.closing[i].to_string());
    paras.push(p.signature.to_string());

    let mut out = String::from(if ru { LABEL_RU } else { LABEL_EN });
    for para in paras {
        out += "\n\n";
        out += &para;
    }
    out
}

/// The offline answer to any task.
pub fn write(task: &Task<'_>) -> String {
    match *task {
        Task::Letter {
            vacancy,
            resume,
            variant,
        } => compose(vacancy, resume, variant),
        Task::Improve {
            vacancy, latest, ..
        } => {
            let ru = TextLanguage::detect(vacancy) == TextLanguage::Russian;
            let note = if ru { NOTE_RU } else { NOTE_EN };
            let body: Vec<&str> = latest
                .lines()
                .filter(|l| *l != NOTE_RU && *l != NOTE_EN)
                .collect();
            format!("{}\n\n{note}", body.join("\n").trim_end())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IVAN_VACANCY: &str = "Ищем Python-разработчика в команду платежей. Требования: опыт коммерческой разработки на Python от 3 лет, знание PostgreSQL и умение писать сложные запросы, опыт с Django или FastAPI, понимание Docker и CI/CD. Будет плюсом: опыт в финтехе, Kafka. Задачи: развитие платёжного API, оптимизация запросов, код-ревью.";
    const IVAN_RESUME: &str = "Иван Петров. Python-разработчик, 4 года опыта. 2021–2025: ООО «Ромашка», backend-разработчик: разработал REST API на FastAPI для биллинга (200 rps), оптимизировал запросы PostgreSQL и сократил время отчётов с 40 до 3 секунд, настроил CI/CD в GitLab, контейнеризация в Docker. 2019–2021: ООО «Лютик», младший разработчик: поддержка внутренних сервисов на Django, написание unit-тестов на pytest. Образование: МГТУ им. Баумана, 2019. Навыки: Python, FastAPI, Django, PostgreSQL, Docker, GitLab CI, Redis, Git.";

    const ANNA_VACANCY: &str = "We are looking for a Senior Backend Engineer to join our payments team.\n\nRequirements: 5+ years of experience with Go or Python; strong SQL skills and experience with PostgreSQL; experience with Kubernetes and Docker; good communication skills.\nNice to have: Kafka, fintech experience.\nResponsibilities: design and build payment APIs, improve performance, mentor engineers.\nWe offer: remote work, equity.";
    const ANNA_RESUME: &str = "Anna Smith. Backend engineer with 6 years of experience.\n2019–2025, Acme Pay: built a payment gateway in Go handling 1,500 transactions per second; cut PostgreSQL query latency from 800 ms to 90 ms; moved 30 services to Kubernetes. Mentored three junior engineers.\nSkills: Go, Python, PostgreSQL, Docker, Kubernetes, Redis.";

    const RUST_VACANCY: &str = "Backend-разработчик на Rust\nТребования:\n- Опыт коммерческой разработки на Rust от 2 лет\n- Уверенное знание PostgreSQL\n- Опыт работы с Kafka\n";
    const RUST_RESUME: &str = "Иван Петров, разработчик\nРазрабатываю сервисы на Rust три года в компании Ромашка\nОптимизировал запросы PostgreSQL в биллинге\nЛюблю горные лыжи\n";

    fn bullets(draft: &str) -> Vec<(&str, &str)> {
        draft
            .lines()
            .filter_map(|l| l.strip_prefix("• "))
            .filter_map(|l| l.split_once(" — "))
            .collect()
    }

    /// True when `part` is quoted from `resume` (the first letter may be lowered, a long clause cut).
    fn quoted(part: &str, resume: &str) -> bool {
        let part = part.trim_end_matches('…');
        let mut cs = part.chars();
        let Some(c0) = cs.next() else { return false };
        let upper: String = c0.to_uppercase().chain(cs.clone()).collect();
        resume.contains(part) || resume.contains(&upper)
    }

    /// Every statement about the candidate in the draft, taken apart into the resume quotes it is made of.
    fn claims(draft: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (_, evidence) in bullets(draft) {
            out.extend(evidence.split("; ").map(str::to_string));
        }
        for line in draft.lines() {
            for prefix in ["Ещё из моего опыта: ", "Also from my experience: "] {
                if let Some(rest) = line.strip_prefix(prefix) {
                    out.extend(rest.trim_end_matches('.').split("; ").map(str::to_string));
                }
            }
            for (prefix, suffix) in [
                (
                    "Из упомянутых вами технологий в моём стеке также есть ",
                    ".",
                ),
                ("My stack also includes ", ", which you mention."),
            ] {
                if let Some(rest) = line
                    .strip_prefix(prefix)
                    .and_then(|r| r.strip_suffix(suffix))
                {
                    out.extend(
                        rest.split([',', ' '])
                            .filter(|w| !w.is_empty() && *w != "и" && *w != "and")
                            .map(str::to_string),
                    );
                }
            }
        }
        out
    }

    #[test]
    fn the_role_is_named_without_the_hiring_boilerplate_and_never_cut_inside_a_word() {
        let d = compose(IVAN_VACANCY, IVAN_RESUME, 0);
        assert!(
            d.contains("вакансия «Python-разработчик» в команду платежей"),
            "{d}"
        );
        assert!(!d.contains("Ищем") && !d.contains("Требования:"), "{d}");

        let role_of = |v: &str| role(&parse_vacancy(v).intro).map(|(r, _)| r);
        assert_eq!(
            role_of(ANNA_VACANCY).as_deref(),
            Some("Senior Backend Engineer")
        );
        assert_eq!(
            role_of(RUST_VACANCY).as_deref(),
            Some("Backend-разработчик на Rust")
        );
        assert_eq!(
            role_of(
                "Мы ищем опытного инженера по тестированию в нашу команду.\nТребования: pytest"
            )
            .as_deref(),
            Some("опытный инженер по тестированию")
        );
        assert_eq!(
            role_of("Требуется руководитель отдела аналитики, Москва").as_deref(),
            Some("руководитель отдела аналитики")
        );
        // A company blurb first is not a title: better no name than a wrong one.
        assert_eq!(role_of("Наша компания уже двадцать лет делает программное обеспечение для крупнейших банков страны и растёт.\nТребования: Java"), None);
        // A very long heading is shortened between words.
        let long = "Ведущий разработчик высоконагруженных распределённых платёжных систем реального времени мирового уровня";
        let r = role_of(long).unwrap();
        assert!(
            r.chars().count() <= 60 && long.starts_with(&r) && long[r.len()..].starts_with(' '),
            "{r}"
        );
    }

    #[test]
    fn requirements_written_inline_become_one_item_each_with_nice_to_haves_and_tasks_apart() {
        let v = parse_vacancy(IVAN_VACANCY);
        assert_eq!(
            v.requirements,
            [
                "опыт коммерческой разработки на Python от 3 лет",
                "знание PostgreSQL и умение писать сложные запросы",
                "опыт с Django или FastAPI",
                "понимание Docker и CI/CD",
            ]
        );
        assert_eq!(v.nice, ["опыт в финтехе", "Kafka"]);
        assert_eq!(
            v.tasks,
            [
                "развитие платёжного API",
                "оптимизация запросов",
                "код-ревью"
            ]
        );

        let e = parse_vacancy(ANNA_VACANCY);
        assert_eq!(e.requirements.len(), 4, "{:?}", e.requirements);
        assert_eq!(
            e.requirements[1],
            "strong SQL skills and experience with PostgreSQL"
        );
        assert_eq!(e.nice, ["Kafka", "fintech experience"]);
        assert_eq!(
            e.tasks,
            [
                "design and build payment APIs",
                "improve performance",
                "mentor engineers"
            ]
        );

        // A technology list stays one requirement; numbered lines are items too.
        let n = parse_vacancy("Аналитик данных\nЧто мы ожидаем:\n1. Знание Python, pandas, SQL\n2) Опыт A/B-тестов\nУсловия:\n- ДМС");
        assert_eq!(
            n.requirements,
            ["Знание Python, pandas, SQL", "Опыт A/B-тестов"]
        );
    }

    #[test]
    fn each_requirement_with_evidence_is_paired_with_the_resume_clause_that_proves_it() {
        let d = compose(IVAN_VACANCY, IVAN_RESUME, 0);
        let b = bullets(&d);
        let find = |req: &str| {
            b.iter()
                .find(|(r, _)| *r == req)
                .map(|(_, e)| *e)
                .unwrap_or_else(|| panic!("no bullet for {req}: {d}"))
        };
        assert!(
            find("опыт коммерческой разработки на Python от 3 лет")
                .starts_with("Python-разработчик, 4 года опыта"),
            "{d}"
        );
        assert_eq!(
            find("знание PostgreSQL и умение писать сложные запросы"),
            "оптимизировал запросы PostgreSQL и сократил время отчётов с 40 до 3 секунд"
        );
        assert!(
            find("опыт с Django или FastAPI")
                .starts_with("разработал REST API на FastAPI для биллинга (200 rps)"),
            "{d}"
        );
        let docker = find("понимание Docker и CI/CD");
        assert!(
            docker.contains("настроил CI/CD в GitLab")
                && docker.contains("контейнеризация в Docker"),
            "{d}"
        );
        assert_eq!(b.len(), 4, "{d}");

        let e = compose(ANNA_VACANCY, ANNA_RESUME, 0);
        let b = bullets(&e);
        assert!(
            b.contains(&(
                "strong SQL skills and experience with PostgreSQL",
                "cut PostgreSQL query latency from 800 ms to 90 ms"
            )),
            "{e}"
        );
        assert!(
            b.iter()
                .any(|(r, ev)| r.starts_with("5+ years") && ev.contains("6 years of experience")),
            "{e}"
        );
        assert!(
            b.iter()
                .any(|(r, ev)| r.starts_with("experience with Kubernetes")
                    && ev.contains("moved 30 services to Kubernetes")),
            "{e}"
        );
    }

    #[test]
    fn nothing_the_resume_does_not_say_is_claimed() {
        for (vacancy, resume) in [
            (IVAN_VACANCY, IVAN_RESUME),
            (ANNA_VACANCY, ANNA_RESUME),
            (RUST_VACANCY, RUST_RESUME),
        ] {
            for variant in 0..3 {
                let d = compose(vacancy, resume, variant);
                let c = claims(&d);
                assert!(!c.is_empty(), "{d}");
                for claim in c {
                    assert!(
                        quoted(&claim, resume),
                        "«{claim}» is not in the resume:\n{d}"
                    );
                }
                // Requirements with no evidence are left out, not asserted.
                assert!(
                    !d.contains("Kafka") && !d.contains("финтех") && !d.contains("fintech"),
                    "{d}"
                );
                assert!(!d.contains("communication"), "{d}");
            }
        }
    }

    #[test]
    fn the_draft_reads_like_a_letter_of_a_sensible_length() {
        for (vacancy, resume) in [(IVAN_VACANCY, IVAN_RESUME), (ANNA_VACANCY, ANNA_RESUME)] {
            for variant in 0..3 {
                let d = compose(vacancy, resume, variant);
                let n = words(&d);
                assert!((120..=300).contains(&n), "{n} words:\n{d}");
                let paras: Vec<&str> = d.split("\n\n").collect();
                assert!(
                    paras.len() >= 6,
                    "label, greeting, opening, body, closing, signature: {d}"
                );
                assert!(
                    paras.last().unwrap().contains("[Ваше имя]")
                        || paras.last().unwrap().contains("[Your name]")
                );
            }
        }
    }

    #[test]
    fn the_draft_is_labelled_and_written_in_the_language_of_the_vacancy() {
        let ru = compose(IVAN_VACANCY, IVAN_RESUME, 0);
        assert!(
            ru.starts_with(LABEL_RU) && ru.contains("Здравствуйте!") && ru.contains("С уважением"),
            "{ru}"
        );
        assert!(!ru.contains("Dear") && !ru.contains("regards"));
        let en = compose(ANNA_VACANCY, ANNA_RESUME, 0);
        assert!(
            en.starts_with(LABEL_EN)
                && en.contains("Dear hiring team")
                && en.contains("Best regards"),
            "{en}"
        );
        assert!(
            !en.chars().any(|c| matches!(c, '\u{0400}'..='\u{04FF}')),
            "{en}"
        );
        // An English resume for a Russian vacancy: the letter is still Russian, the quotes stay as written.
        let mixed = compose(IVAN_VACANCY, ANNA_RESUME, 0);
        assert!(
            mixed.starts_with(LABEL_RU) && mixed.contains("cut PostgreSQL query latency"),
            "{mixed}"
        );
    }

    #[test]
    fn variants_differ_in_wording_and_order_but_make_the_same_claims() {
        for (vacancy, resume) in [(IVAN_VACANCY, IVAN_RESUME), (ANNA_VACANCY, ANNA_RESUME)] {
            let drafts: Vec<String> = (0..3).map(|v| compose(vacancy, resume, v)).collect();
            assert_ne!(drafts[0], drafts[1]);
            assert_ne!(drafts[1], drafts[2]);
            assert_ne!(drafts[0], drafts[2]);
            let opening = |d: &str| d.split("\n\n").nth(2).unwrap().to_string();
            assert_ne!(opening(&drafts[0]), opening(&drafts[1]));
            let order = |d: &str| {
                bullets(d)
                    .into_iter()
                    .map(|(r, _)| r.to_string())
                    .collect::<Vec<_>>()
            };
            assert_ne!(order(&drafts[0]), order(&drafts[1]));
            let mut a = claims(&drafts[0]);
            let mut b = claims(&drafts[1]);
            a.sort();
            b.sort();
            assert_eq!(a, b);
            // The same variant is the same text: the composer is deterministic.
            assert_eq!(drafts[0], compose(vacancy, resume, 0));
            assert_eq!(drafts[1], compose(vacancy, resume, 4));
        }
    }

    #[test]
    fn bulleted_requirements_are_matched_and_an_unbacked_one_is_left_out() {
        let d = compose(RUST_VACANCY, RUST_RESUME, 0);
        assert!(d.starts_with(LABEL_RU), "{d}");
        assert!(d.contains("• Опыт коммерческой разработки на Rust от 2 лет — разрабатываю сервисы на Rust три года в компании Ромашка"), "{d}");
        assert!(
            d.contains(
                "• Уверенное знание PostgreSQL — оптимизировал запросы PostgreSQL в биллинге"
            ),
            "{d}"
        );
        assert!(d.contains("«Backend-разработчик на Rust»"), "{d}");
        assert!(!d.contains("лыжи"), "a hobby backs no requirement: {d}");
    }

    #[test]
    fn a_technology_only_the_skills_list_names_is_mentioned_as_part_of_the_stack() {
        let v =
            "Frontend developer\nRequirements:\n- React and TypeScript\n- Experience with GraphQL";
        let r = "Built a booking front end in React used by 20,000 people a month.\nSkills: React, TypeScript, GraphQL, Jest";
        let d = compose(v, r, 0);
        assert!(d.contains("• React and TypeScript — built a booking front end in React used by 20,000 people a month"), "{d}");
        assert!(
            d.contains("My stack also includes TypeScript and GraphQL, which you mention."),
            "{d}"
        );
        assert!(!d.contains("Jest"), "{d}");
    }

    #[test]
    fn a_resume_that_matches_nothing_gets_a_modest_letter_without_claims() {
        let d = compose(
            IVAN_VACANCY,
            "Мария Соколова. Повар. Готовлю итальянскую кухню, веду кулинарный блог.",
            1,
        );
        assert!(d.starts_with(LABEL_RU), "{d}");
        assert!(bullets(&d).is_empty(), "{d}");
        assert!(d.contains(RU.no_match), "{d}");
    }

    #[test]
    fn the_offline_improvement_keeps_the_text_and_says_it_cannot_rewrite() {
        let latest = compose(IVAN_VACANCY, IVAN_RESUME, 0);
        let once = write(&Task::Improve {
            vacancy: IVAN_VACANCY,
            resume: IVAN_RESUME,
            latest: &latest,
            request: "короче",
        });
        assert!(
            once.starts_with(&latest) && once.ends_with(NOTE_RU),
            "{once}"
        );
        let twice = write(&Task::Improve {
            vacancy: IVAN_VACANCY,
            resume: IVAN_RESUME,
            latest: &once,
            request: "ещё короче",
        });
        assert_eq!(twice.matches(NOTE_RU).count(), 1, "{twice}");
    }
    #[test]
    fn a_vacancy_with_a_company_blurb_and_headed_bullet_sections_gets_the_title_and_requirements_right(
    ) {
        let v = "ООО «Техно» — крупный интегратор.\n\n🔥 Senior Java Developer (удалённо)\n\nЧем предстоит заниматься:\n• проектирование микросервисов\n• участие в архитектурных решениях\n\nМы ожидаем:\n• Опыт разработки на Java от 5 лет;\n• Spring Boot, Hibernate;\n• Опыт работы с Kafka или RabbitMQ;\n\nБудет плюсом:\n• Kotlin\n\nМы предлагаем:\n• ДМС\n• Гибкий график";
        let r = "Алексей Смирнов\nJava-разработчик, 7 лет опыта\n\nОпыт:\n— 2018–2025, Сбер: разработка микросервисов на Spring Boot, переход с монолита на 40 сервисов\n— внедрил Kafka для обмена событиями, снизил задержку доставки в 5 раз\n\nНавыки: Java, Kotlin, Spring Boot, Hibernate, Kafka, PostgreSQL";
        let d = compose(v, r, 0);
        assert!(d.contains("вакансия «Senior Java Developer»"), "{d}");
        assert!(!d.contains("Техно") && !d.contains("ДМС"), "{d}");
        let b = bullets(&d);
        assert!(
            b.contains(&(
                "Опыт разработки на Java от 5 лет",
                "Java-разработчик, 7 лет опыта"
            )),
            "{d}"
        );
        assert!(
            b.iter().any(|(r, e)| r.starts_with("Опыт работы с Kafka")
                && e.starts_with("внедрил Kafka для обмена событиями")),
            "{d}"
        );
        // Kotlin is only in the skills list: named as part of the stack, not as a bullet.
        assert!(
            d.contains("в моём стеке также есть")
                && d.contains("Kotlin")
                && !b.iter().any(|(r, _)| *r == "Kotlin"),
            "{d}"
        );
        assert!(
            d.contains("проектирование микросервисов"),
            "the tasks are mentioned: {d}"
        );
    }

    #[test]
    fn odd_or_empty_inputs_still_give_a_labelled_draft() {
        for (v, r) in [
            ("", ""),
            ("Требования:", "x"),
            ("Ищем", "—"),
            ("İİİ a, b, c. Requirements: İ, ü; ;;", "::: , , ,"),
            ("We are hiring\n- a\n- b", "a. b. c."),
        ] {
            for variant in 0..3 {
                let d = compose(v, r, variant);
                assert!(d.starts_with(LABEL_RU) || d.starts_with(LABEL_EN), "{d}");
                assert!(bullets(&d).is_empty(), "{d}");
                assert!(
                    d.ends_with("[Ваше имя]") || d.ends_with("[Your name]"),
                    "{d}"
                );
            }
        }
    }
}
