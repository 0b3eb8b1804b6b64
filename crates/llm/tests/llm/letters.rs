//! Letter quality of the offline composer, scored by objective checks on vacancy/resume pairs
//! written as people write them (`pairs/*.txt`). The checks are implemented here, independently
//! of the composer, and print a score; every pair must pass every check.
//!
//! A pair file holds `# key: value` lines (lang, role, company, name, key facts, absent claims;
//! `-` for none), then `=== vacancy` and `=== resume` sections.

use std::collections::BTreeMap;

use llm::{offline_compose, offline_improve};

struct Pair {
    name: String,
    meta: BTreeMap<String, String>,
    vacancy: String,
    resume: String,
}

impl Pair {
    fn get(&self, k: &str) -> Option<&str> {
        self.meta
            .get(k)
            .map(String::as_str)
            .filter(|v| *v != "-" && !v.is_empty())
    }
    fn list(&self, k: &str) -> Vec<&str> {
        self.get(k)
            .map(|v| v.split(" | ").map(str::trim).collect())
            .unwrap_or_default()
    }
    fn ru(&self) -> bool {
        self.get("lang") == Some("ru")
    }
}

fn pairs() -> Vec<Pair> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/llm/pairs");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("pairs directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let (head, rest) = text.split_once("=== vacancy\n").expect("=== vacancy");
            let (vacancy, resume) = rest.split_once("=== resume\n").expect("=== resume");
            let meta = head
                .lines()
                .filter_map(|l| l.strip_prefix("# "))
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            Pair {
                name: path.file_stem().unwrap().to_string_lossy().into_owned(),
                meta,
                vacancy: vacancy.trim().to_string(),
                resume: resume.trim().to_string(),
            }
        })
        .collect()
}

fn words(t: &str) -> usize {
    t.split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count()
}

/// The letter without its signature (the last paragraph: a sign-off line and a name).
fn body(letter: &str) -> &str {
    letter.rsplit_once("\n\n").map_or(letter, |(b, _)| b)
}

/// Text outside quotation marks: what the letter says in its own voice.
fn unquoted(t: &str) -> String {
    let mut depth = 0;
    let mut out = String::new();
    for c in t.chars() {
        match c {
            '«' | '“' => depth += 1,
            '»' | '”' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

fn numbers(t: &str) -> Vec<String> {
    t.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn cyrillic_share(t: &str) -> f64 {
    let letters = t.chars().filter(|c| c.is_alphabetic()).count().max(1);
    let cyr = t
        .chars()
        .filter(|c| matches!(c, '\u{0400}'..='\u{04FF}'))
        .count();
    cyr as f64 / letters as f64
}

/// Latin words written like technology names (a capital after the first letter, a digit, + or #).
fn tech_words(t: &str) -> Vec<String> {
    t.split(|c: char| !(c.is_alphanumeric() || "+#".contains(c)))
        .filter(|w| {
            w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+#".contains(c))
                && w.chars().any(|c| c.is_ascii_alphabetic())
                && w.chars()
                    .skip(1)
                    .any(|c| c.is_ascii_uppercase() || "+#".contains(c))
        })
        .map(str::to_string)
        .collect()
}

fn sentences_of(t: &str) -> Vec<String> {
    let mut out = Vec::new();
    for para in t.split("\n\n") {
        let mut cur = String::new();
        let cs: Vec<char> = para.chars().collect();
        for (i, c) in cs.iter().enumerate() {
            cur.push(*c);
            if ".!?".contains(*c) && cs.get(i + 1).is_none_or(|n| *n == ' ') {
                out.push(cur.trim().to_string());
                cur.clear();
            }
        }
        if !cur.trim().is_empty() {
            out.push(cur.trim().to_string());
        }
    }
    out
}

/// Each check: a name and `Err(why)` when the letter fails it.
fn checks(p: &Pair) -> Vec<(&'static str, Result<(), String>)> {
    let ru = p.ru();
    let letter = offline_compose(&p.vacancy, &p.resume, 0);
    let lower = letter.to_lowercase();
    let inputs = format!("{}\n{}", p.vacancy, p.resume);
    let mut out: Vec<(&'static str, Result<(), String>)> = Vec::new();
    let n = words(&letter);
    out.push((
        "200-300 words",
        if (200..=300).contains(&n) {
            Ok(())
        } else {
            Err(format!("{n} words"))
        },
    ));
    let share = cyrillic_share(&unquoted(&letter));
    out.push((
        "language of the vacancy",
        match (ru, share) {
            (true, s) if s >= 0.7 => Ok(()),
            (false, 0.0) => Ok(()),
            (_, s) => Err(format!("cyrillic share {s:.2}")),
        },
    ));
    let role_ok = p
        .get("role")
        .is_none_or(|r| lower.contains(&r.to_lowercase()));
    let company_ok = p.get("company").is_none_or(|c| letter.contains(c));
    out.push((
        "role and company named",
        if role_ok && company_ok {
            Ok(())
        } else {
            Err(format!("role {role_ok}, company {company_ok}"))
        },
    ));
    let sign = letter.rsplit_once("\n\n").map_or("", |(_, s)| s);
    let placeholder = if ru {
        "[Ваше имя]"
    } else {
        "[Your name]"
    };
    out.push((
        "signed with the candidate's name",
        match p.get("name") {
            Some(name) if sign.ends_with(name) => Ok(()),
            None if sign.ends_with(placeholder) => Ok(()),
            _ => Err(format!("signature {sign:?}")),
        },
    ));
    let keys = p.list("key");
    let found = keys
        .iter()
        .filter(|k| letter.contains(*k) || lower.contains(&k.to_lowercase()))
        .count();
    out.push((
        "at least 3 key resume facts",
        if found >= keys.len().min(3) {
            Ok(())
        } else {
            Err(format!("{found} of {keys:?}"))
        },
    ));
    let resume_l = p.resume.to_lowercase();
    let mut unsupported: Vec<String> = p
        .list("absent")
        .into_iter()
        .filter(|a| lower.contains(&a.to_lowercase()))
        .map(str::to_string)
        .collect();
    // A technology named in the letter's own voice must be in the resume.
    let own = unquoted(body(&letter));
    for t in tech_words(&own) {
        let named = p.get("role").is_some_and(|r| r.contains(&t))
            || p.get("company").is_some_and(|c| c.contains(&t));
        if !resume_l.contains(&t.to_lowercase()) && !named {
            unsupported.push(t);
        }
    }
    out.push((
        "no claim the resume does not support",
        if unsupported.is_empty() {
            Ok(())
        } else {
            Err(format!("{unsupported:?}"))
        },
    ));
    let input_numbers = numbers(&inputs);
    let invented: Vec<String> = numbers(&letter)
        .into_iter()
        .filter(|n| !input_numbers.contains(n))
        .collect();
    out.push((
        "every number traceable to the inputs",
        if invented.is_empty() {
            Ok(())
        } else {
            Err(format!("{invented:?}"))
        },
    ));
    let checklist: Vec<&str> = body(&letter)
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with(['-', '•', '*', '—', '–', '·'])
                || t.chars().next().is_some_and(|c| c.is_ascii_digit()) && t.contains(". ")
                || (t.contains(" — ") && words(t) < 25 && !t.ends_with(['.', '!', '?']))
        })
        .collect();
    let paras_ok = body(&letter).split("\n\n").skip(1).all(|p| {
        p.trim_end().ends_with(['.', '!', '?'])
            && !p.contains('\n')
            && (words(p) >= 8 || p.ends_with('!'))
    });
    out.push((
        "prose, no checklist lines",
        if checklist.is_empty() && paras_ok && body(&letter).split("\n\n").count() >= 4 {
            Ok(())
        } else {
            Err(format!("{checklist:?}, paragraphs ok {paras_ok}"))
        },
    ));
    let mut broken: Vec<String> = Vec::new();
    for bad in [
        "…",
        "...",
        ",.",
        "..",
        " ,",
        " .",
        ";.",
        ":.",
        "«»",
        "“”",
        "  ",
        "[Офлайн",
        "[Offline",
    ] {
        if body(&letter).contains(bad) {
            broken.push(format!("contains {bad:?}"));
        }
    }
    for (o, c) in [('«', '»'), ('(', ')'), ('“', '”')] {
        if letter.matches(o).count() != letter.matches(c).count() {
            broken.push(format!("unbalanced {o}{c}"));
        }
    }
    for s in sentences_of(body(&letter)) {
        let first = s
            .chars()
            .find(|c| c.is_alphanumeric() || *c == '«' || *c == '“');
        if first.is_some_and(char::is_lowercase) || words(&s) < 2 && !s.ends_with('!') {
            broken.push(format!("fragment {s:?}"));
        }
    }
    out.push((
        "no broken fragments",
        if broken.is_empty() {
            Ok(())
        } else {
            Err(broken.join("; "))
        },
    ));
    let v1 = offline_compose(&p.vacancy, &p.resume, 1);
    let v2 = offline_compose(&p.vacancy, &p.resume, 2);
    let opening = |t: &str| t.split("\n\n").nth(1).unwrap_or("").to_string();
    let differ = v1 != letter
        && v2 != letter
        && v2 != v1
        && opening(&v1) != opening(&letter)
        && opening(&v2) != opening(&letter)
        && opening(&v2) != opening(&v1);
    out.push((
        "variants differ from the letters before",
        if differ {
            Ok(())
        } else {
            Err("a variant repeats a letter or its opening".into())
        },
    ));
    let request = if ru {
        "сделай короче"
    } else {
        "make it shorter"
    };
    out.push((
        "\"shorter\" is shorter",
        match offline_improve(&p.vacancy, &p.resume, &letter, request) {
            Ok(s) if words(&s) < n => Ok(()),
            Ok(s) => Err(format!("{} words after, {n} before", words(&s))),
            Err(e) => Err(format!("{e:?}")),
        },
    ));
    out
}

#[test]
fn every_pair_of_the_letter_quality_suite_passes_every_objective_check() {
    let pairs = pairs();
    assert!(pairs.len() >= 10, "{} pairs", pairs.len());
    let (mut passed, mut total) = (0, 0);
    let mut failures = Vec::new();
    for p in &pairs {
        let results = checks(p);
        let ok = results.iter().filter(|(_, r)| r.is_ok()).count();
        println!("{:<40} {ok}/{}", p.name, results.len());
        for (check, r) in &results {
            total += 1;
            match r {
                Ok(()) => passed += 1,
                Err(why) => failures.push(format!("{}: {check}: {why}", p.name)),
            }
        }
    }
    println!(
        "letter quality: {passed}/{total} checks passed on {} pairs",
        pairs.len()
    );
    if !failures.is_empty() {
        for p in &pairs {
            if failures.iter().any(|f| f.starts_with(&p.name)) {
                println!(
                    "--- {}\n{}\n",
                    p.name,
                    offline_compose(&p.vacancy, &p.resume, 0)
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
