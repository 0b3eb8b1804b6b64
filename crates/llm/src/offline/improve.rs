//! Offline improvements: the requests people write ("короче", "проще", "убери канцелярит",
//! "подчеркни Kafka", "убери Django", "more formal", "add the Kubernetes migration") applied to the
//! latest letter, or a clear reason why a request cannot be applied offline.

use super::compose::{Inputs, MAX_WORDS};
use super::request::{parse, Op};
use super::text::{lower, stems, word_count};

/// Why an offline improvement was not made; the user is told and nothing is charged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unapplied {
    /// No request the offline composer knows.
    Unknown,
    NothingToCut,
    NothingToAdd,
    AlreadyFormal,
    AlreadyInformal,
    NoBureaucratese,
    /// The letter does not mention it, so there is nothing to remove.
    NotInLetter(String),
    /// The resume does not mention it, so it cannot be added or stressed.
    NotInResume(String),
}

/// The letter as paragraphs of sentences; the first is the greeting, the last the signature.
fn split(letter: &str) -> Vec<Vec<String>> {
    letter
        .split("\n\n")
        .map(|p| {
            if p.contains('\n') {
                // The signature keeps its line break.
                vec![p.to_string()]
            } else {
                split_sentences(p)
            }
        })
        .filter(|p| !p.is_empty())
        .collect()
}

fn split_sentences(p: &str) -> Vec<String> {
    // Our sentences end with ". ", "! " or "? "; a ";" inside a quoted fact is not an end.
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = p.chars().collect();
    let mut depth = 0i32;
    for (k, c) in chars.iter().enumerate() {
        cur.push(*c);
        match c {
            '«' | '“' | '(' => depth += 1,
            '»' | '”' | ')' => depth -= 1,
            _ => {}
        }
        let end = matches!(c, '.' | '!' | '?')
            && depth <= 0
            && chars.get(k + 1).is_none_or(|n| *n == ' ')
            && chars
                .get(k + 2)
                .is_none_or(|n| n.is_uppercase() || *n == '«' || *n == '“');
        if end {
            out.push(cur.trim().to_string());
            cur.clear();
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

fn join(paras: &[Vec<String>]) -> String {
    super::compose::render(paras)
}

fn total(paras: &[Vec<String>]) -> usize {
    paras.iter().flatten().map(|s| word_count(s)).sum()
}

fn mentions(sentence: &str, what: &str) -> bool {
    let want = stems(what);
    if want.is_empty() {
        return lower(sentence).contains(&lower(what));
    }
    let have = stems(sentence);
    want.iter().all(|w| have.contains(w))
}

const PLAIN_RU: &[(&str, &str)] = &[
    (
        "и я хочу предложить свою кандидатуру",
        "и я хочу на неё откликнуться",
    ),
    (
        "коротко расскажу, чем мой опыт может быть полезен вашей команде",
        "расскажу, чем могу помочь",
    ),
    ("Пишу вам по поводу", "Пишу вам о"),
    (
        "мне хочется рассказать, что я могу предложить",
        "вот что я умею",
    ),
    (
        "С удовольствием расскажу подробнее о своём опыте на собеседовании.",
        "Расскажу больше при встрече.",
    ),
    ("Спасибо, что уделили время моему отклику!", "Спасибо!"),
    (
        "Спасибо, что рассмотрели мою кандидатуру.",
        "Спасибо за внимание.",
    ),
    ("давайте договоримся о созвоне", "давайте созвонимся"),
    ("Отдельно отмечу:", "И ещё:"),
    ("Помимо этого,", "А ещё"),
    ("Кроме того,", "Ещё"),
    ("в рамках ", "в "),
    ("осуществлял ", "вёл "),
    ("осуществляла ", "вела "),
    ("осуществление ", "ведение "),
    ("данного ", "этого "),
    ("данной ", "этой "),
    ("данный ", "этот "),
    ("в целях ", "для "),
    ("является ", "— "),
    (
        "Из инструментов, которые вы называете, в моём резюме есть также",
        "Ещё я знаю",
    ),
];
const PLAIN_EN: &[(&str, &str)] = &[
    ("I am writing to apply for", "I'd like to apply for"),
    ("I would like to be considered for", "I'm applying for"),
    ("In addition,", "Also,"),
    ("Beyond that,", "And"),
    ("Besides,", "And"),
    (
        "Thank you for considering my application.",
        "Thanks for reading.",
    ),
    ("utilize", "use"),
    ("utilise", "use"),
    ("leverage", "use"),
    ("in order to", "to"),
    ("I would welcome a call", "let's talk"),
    ("Of the tools you name, my resume also lists", "I also know"),
];

const FORMAL_RU: (&str, &str) = ("Уважаемые коллеги!", "С уважением,");
const INFORMAL_RU: (&str, &str) = ("Привет!", "Всего доброго,");
const FORMAL_EN: (&str, &str) = ("Dear Sir or Madam,", "Yours sincerely,");
const INFORMAL_EN: (&str, &str) = ("Hi there,", "Cheers,");

fn set_register(paras: &mut [Vec<String>], ru: bool, formal: bool) -> Result<(), Unapplied> {
    let (greet, sign) = match (ru, formal) {
        (true, true) => FORMAL_RU,
        (true, false) => INFORMAL_RU,
        (false, true) => FORMAL_EN,
        (false, false) => INFORMAL_EN,
    };
    if paras.first().and_then(|p| p.first()).map(String::as_str) == Some(greet) {
        return Err(if formal {
            Unapplied::AlreadyFormal
        } else {
            Unapplied::AlreadyInformal
        });
    }
    if let Some(first) = paras.first_mut() {
        *first = vec![greet.to_string()];
    }
    if let Some(last) = paras.last_mut().and_then(|p| p.first_mut()) {
        if let Some((_, name)) = last.split_once('\n') {
            *last = format!("{sign}\n{name}");
        }
    }
    Ok(())
}

fn plain(paras: &mut [Vec<String>], ru: bool) -> Result<(), Unapplied> {
    let table = if ru { PLAIN_RU } else { PLAIN_EN };
    let mut changed = false;
    for s in paras.iter_mut().flatten() {
        for (from, to) in table {
            if s.contains(from) {
                *s = s.replace(from, to);
                changed = true;
            }
        }
    }
    if changed {
        Ok(())
    } else {
        Err(Unapplied::NoBureaucratese)
    }
}

/// Body paragraphs: neither the greeting, the opening, the closing nor the signature.
fn body_range(paras: &[Vec<String>]) -> std::ops::Range<usize> {
    let n = paras.len();
    if n < 4 {
        return 1..1;
    }
    1..n - 2
}

fn shorter(paras: &mut Vec<Vec<String>>, i: &Inputs) -> Result<(), Unapplied> {
    let before = total(paras);
    let goal = before * 3 / 4;
    let fill: Vec<String> = {
        let mut f: Vec<String> = super::compose::fill_sentences(i.ru)
            .iter()
            .map(|s| s.to_string())
            .collect();
        f.push(super::compose::company_wish(i).unwrap_or_default());
        f
    };
    // Claims-free filler first, then the tools and tasks, then facts from the last.
    let range = body_range(paras);
    for pi in range.clone().rev() {
        paras[pi].retain(|s| !fill.contains(s));
    }
    let mut pi = range.end;
    while total(paras) > goal && pi > range.start + 1 {
        pi -= 1;
        while total(paras) > goal && paras[pi].len() > usize::from(pi == range.start) {
            // The opening paragraph keeps its first sentence.
            paras[pi].pop();
        }
    }
    // The headline and the transferable note go last of all.
    if total(paras) > goal && range.start < range.end {
        paras[range.start].truncate(1);
    }
    paras.retain(|p| !p.is_empty());
    if total(paras) < before {
        Ok(())
    } else {
        Err(Unapplied::NothingToCut)
    }
}

/// Resume facts the letter does not tell yet, strongest first.
fn unused_facts(letter: &str, i: &Inputs) -> Vec<usize> {
    i.matched
        .ranked
        .iter()
        .copied()
        .filter(|&f| !letter.contains(i.resume.facts[f].text.trim_end_matches('.')))
        .collect()
}

fn longer(paras: &mut [Vec<String>], i: &Inputs) -> Result<(), Unapplied> {
    let before = total(paras);
    let letter = join(paras);
    let range = body_range(paras);
    let at = if range.end > range.start + 1 {
        range.start + 1
    } else {
        range.end
    };
    let mut added = 0;
    for (k, f) in unused_facts(&letter, i).into_iter().enumerate() {
        if total(paras) >= (before * 5 / 4).max(before + 40).min(MAX_WORDS + 60) {
            break;
        }
        if at >= paras.len() {
            break;
        }
        paras[at].push(i.fact_sentence(f, k + 1));
        added += 1;
    }
    if added == 0 {
        for s in super::compose::fill_sentences(i.ru) {
            if !letter.contains(s) && total(paras) < before + 30 && at < paras.len() {
                paras[at].push(s.to_string());
                added += 1;
            }
        }
    }
    if added > 0 {
        Ok(())
    } else {
        Err(Unapplied::NothingToAdd)
    }
}

fn drop_mentions(paras: &mut Vec<Vec<String>>, what: &str) -> Result<(), Unapplied> {
    let range = body_range(paras);
    let mut removed = false;
    for (pi, p) in paras.iter_mut().enumerate() {
        if !range.contains(&pi) {
            continue;
        }
        let keep_first = pi == range.start;
        let before = p.len();
        let mut k = 0;
        p.retain(|s| {
            let first = k == 0;
            k += 1;
            (keep_first && first) || !mentions(s, what)
        });
        removed |= p.len() < before;
    }
    paras.retain(|p| !p.is_empty());
    if removed {
        Ok(())
    } else {
        Err(Unapplied::NotInLetter(what.to_string()))
    }
}

fn resume_fact_about(i: &Inputs, what: &str) -> Option<usize> {
    i.matched
        .ranked
        .iter()
        .copied()
        .find(|&f| mentions(&i.resume.facts[f].text, what))
        .or_else(|| (0..i.resume.facts.len()).find(|&f| mentions(&i.resume.facts[f].text, what)))
}

fn add_or_stress(
    paras: &mut Vec<Vec<String>>,
    i: &Inputs,
    what: &str,
    stress: bool,
) -> Result<(), Unapplied> {
    let range = body_range(paras);
    if range.is_empty() {
        return Err(Unapplied::NothingToAdd);
    }
    let fact = resume_fact_about(i, what);
    let skill = i.resume.skills.iter().find(|s| mentions(s, what)).cloned();
    let existing: Option<(usize, usize)> = range.clone().find_map(|pi| {
        paras[pi]
            .iter()
            .position(|s| mentions(s, what))
            .filter(|&k| !(pi == range.start && k == 0))
            .map(|k| (pi, k))
    });
    let sentence = match (fact, &skill) {
        (Some(f), _) => {
            let s = i.fact_sentence(f, 0);
            if stress {
                let lead = if i.ru {
                    "Главное, что хочу подчеркнуть:"
                } else {
                    "Above all, I want to stress this:"
                };
                let body = s.split_once(' ').map_or(s.as_str(), |(_, b)| b);
                // "Например, я …" becomes "Главное, что хочу подчеркнуть: я …".
                let body = if i.resume.facts[f].verb {
                    body.trim_start_matches(|c: char| c != ' ')
                        .trim_start()
                        .to_string()
                } else {
                    i.resume.facts[f].text.trim_end_matches('.').to_string() + "."
                };
                let body = if i.resume.facts[f].verb && i.ru == i.resume_ru {
                    let pronoun = if i.ru { "я" } else { "I" };
                    format!("{pronoun} {}", body)
                } else {
                    body
                };
                format!("{lead} {body}")
            } else {
                s
            }
        }
        (None, Some(skill)) => {
            if i.ru {
                format!("В моём резюме среди навыков есть и {skill}.")
            } else {
                format!("My resume also lists {skill} among my skills.")
            }
        }
        (None, None) => return Err(Unapplied::NotInResume(what.to_string())),
    };
    if let Some((pi, k)) = existing {
        if !stress {
            // Already there: adding it again would repeat the letter.
            return Err(Unapplied::NothingToAdd);
        }
        paras[pi].remove(k);
    }
    let at = if range.end > range.start + 1 {
        range.start + 1
    } else {
        range.start
    };
    if stress {
        paras[at].insert(0, sentence);
    } else {
        paras[at].push(sentence);
    }
    paras.retain(|p| !p.is_empty());
    Ok(())
}

/// The latest letter changed as `request` asks, or why that cannot be done offline.
pub fn improve(i: &Inputs, latest: &str, request: &str) -> Result<String, Unapplied> {
    let ops = parse(request);
    if ops.is_empty() {
        return Err(Unapplied::Unknown);
    }
    let mut paras = split(latest);
    let mut first_error = None;
    let mut applied = 0;
    for op in ops {
        let r = match &op {
            Op::Shorter => shorter(&mut paras, i),
            Op::Longer => longer(&mut paras, i),
            Op::Formal => set_register(&mut paras, i.ru, true),
            Op::Informal => set_register(&mut paras, i.ru, false),
            Op::Plain => plain(&mut paras, i.ru),
            Op::Drop(x) => drop_mentions(&mut paras, x),
            Op::Stress(x) => add_or_stress(&mut paras, i, x, true),
            Op::Add(x) => add_or_stress(&mut paras, i, x, false),
        };
        match r {
            Ok(()) => applied += 1,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if applied == 0 {
        return Err(first_error.unwrap_or(Unapplied::Unknown));
    }
    let out = join(&paras);
    if out == latest {
        return Err(first_error.unwrap_or(Unapplied::Unknown));
    }
    Ok(out)
}
