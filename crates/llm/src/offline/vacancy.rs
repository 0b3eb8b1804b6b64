//! Reading a vacancy as people write it: the role, the company when it is named, and the
//! requirements, nice-to-haves and tasks, whether headed, bulleted or written inline.

use super::text::{
    bullet, clean_item, comma_parts, find_word_ci, is_latin_word, is_tech_word, lower, sentences,
    word_count as words,
};

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
pub const ROLE_WORDS: &[&str] = &[
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
    "курьер",
    "бариста",
    "продав",
    "кассир",
    "водител",
    "повар",
    "официант",
    "медсестр",
    "врач",
    "юрист",
    "учител",
    "преподавател",
    "рекрутер",
    "бухгалтер",
    "копирайтер",
    "редактор",
    "продакт",
    "оператор",
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
    "barista",
    "courier",
    "driver",
    "cashier",
    "nurse",
    "cook",
    "waiter",
    "lawyer",
    "marketer",
    "teacher",
    "recruiter",
    "accountant",
    "copywriter",
    "editor",
    "specialist",
    "qa",
    "sre",
];

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
pub struct Vacancy {
    pub intro: Vec<String>,
    pub requirements: Vec<String>,
    pub nice: Vec<String>,
    pub tasks: Vec<String>,
    /// The role's name as the vacancy writes it (nominative), and what follows it ("в команду платежей").
    pub role: Option<(String, Option<String>)>,
    /// The company's name without its legal form ("Ромашка" of "ООО «Ромашка»").
    pub company: Option<String>,
}

/// Everything the composer reads from a vacancy.
pub fn parse(text: &str) -> Vacancy {
    let mut v = parse_sections(text);
    v.role = role(&v.intro);
    v.company = super::company::company(text);
    if let (Some((name, _)), Some(c)) = (&v.role, &v.company) {
        // "Acme Pay" named as the role means the title was not found.
        if name.contains(c.as_str()) {
            v.role = None;
        }
    }
    v
}

fn parse_sections(text: &str) -> Vacancy {
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
    if word.ends_with("телей") {
        return strip(2) + "ь";
    }
    if word.ends_with("ов") && word.chars().count() > 5 {
        return strip(2);
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
    let first = intro.first()?;
    // Without a word for a job, only a short title line names the role ("Barista"), never the
    // start of a sentence ("Looking for someone to help …").
    if words(first) > 5 {
        return None;
    }
    let (name, context, _) = role_in(first)?;
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
    // "Acme is hiring a Barista", "ООО «Ромашка» ищет Python-разработчика".
    for (m, acc) in [
        (" is hiring ", false),
        (" is looking for ", false),
        (" are hiring ", false),
        (" ищет ", true),
        (" ищут ", true),
        (" приглашает на работу ", true),
        (" приглашает ", true),
    ] {
        if let Some(pos) = lower(rest).find(m) {
            let at = pos + m.len();
            if rest.is_char_boundary(at) {
                rest = &rest[at..];
                accusative = acc;
                break;
            }
        }
    }
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
        let always = ["to", "who", "that", "which", "и", "and", "at", "for"].contains(&lw.as_str());
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
