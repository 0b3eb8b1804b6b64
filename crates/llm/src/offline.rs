//! The offline composer: without an API key, a structured draft built only from the vacancy's
//! requirements and the resume lines that match them, clearly labelled as an offline draft.
//! It never adds facts: every claim about the candidate is a line of the resume.

use domain::TextLanguage;

use crate::Task;

pub const MODEL: &str = "offline-composer";

const LABEL_RU: &str = "[Офлайн-черновик: составлен без ИИ из текста вакансии и резюме. Проверьте и доработайте перед отправкой.]";
const LABEL_EN: &str = "[Offline draft: put together without AI from the vacancy and the resume. Review and edit it before sending.]";
const NOTE_RU: &str = "[Офлайн-режим не переписывает текст по пожеланиям: внесите правку вручную.]";
const NOTE_EN: &str = "[Offline mode cannot rewrite the text as asked: please make the change by hand.]";

const STOPWORDS: &[&str] = &[
    "опыт", "работы", "знание", "умение", "навыки", "будет", "плюсом", "желательно", "лет", "года", "более", "менее",
    "experience", "with", "knowledge", "skills", "years", "ability", "будет", "from", "that", "have", "your", "and",
];

fn is_bullet(line: &str) -> Option<&str> {
    let t = line.trim_start();
    for marker in ["- ", "• ", "* ", "— ", "– ", "· ", "▪ ", "✓ ", "✔ "] {
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

/// Word stems good enough to match "PostgreSQL" with "postgresql" and "командой" with "команды".
fn stems(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '+' && c != '#')
        .filter(|w| w.chars().count() >= 3)
        .map(|w| w.to_lowercase())
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .map(|w| w.chars().take(6).collect())
        .collect()
}

fn requirements(vacancy: &str) -> Vec<String> {
    let mut found: Vec<String> = vacancy.lines().filter_map(is_bullet).filter(|l| l.chars().count() >= 8).map(str::to_string).collect();
    if found.is_empty() {
        let keys = ["опыт", "знан", "умен", "владен", "experience", "knowledge", "familiar"];
        found = vacancy
            .split(['.', '\n', ';'])
            .map(str::trim)
            .filter(|s| s.chars().count() >= 12 && keys.iter().any(|k| s.to_lowercase().contains(k)))
            .map(str::to_string)
            .collect();
    }
    found.truncate(6);
    found
}

fn resume_lines(resume: &str) -> Vec<String> {
    resume
        .split(['\n', ';'])
        .flat_map(|l| l.split(". "))
        .map(|l| is_bullet(l).unwrap_or(l).trim().trim_end_matches('.').to_string())
        .filter(|l| l.chars().count() >= 12)
        .collect()
}

fn title(vacancy: &str) -> String {
    let first = vacancy.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let short: String = first.chars().take(80).collect();
    short.trim_end_matches(['.', ':', '!', ',']).to_string()
}

/// (requirement, matching resume line) pairs, each resume line used once.
fn matches(vacancy: &str, resume: &str) -> Vec<(String, String)> {
    let lines = resume_lines(resume);
    let mut used = vec![false; lines.len()];
    let mut pairs = Vec::new();
    for req in requirements(vacancy) {
        let want = stems(&req);
        let best = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| !used[*i])
            .map(|(i, l)| {
                let have = stems(l);
                // Technology names (Latin script) say more about a match than common words.
                let score: usize = want.iter().filter(|w| have.contains(w)).map(|w| if w.is_ascii() { 3 } else { 1 }).sum();
                (i, score)
            })
            .filter(|(_, score)| *score > 0)
            .max_by_key(|(i, score)| (*score, std::cmp::Reverse(*i)));
        if let Some((i, _)) = best {
            used[i] = true;
            pairs.push((req, lines[i].clone()));
        }
    }
    pairs
}

/// A draft letter for a first letter or another variant.
pub fn compose(vacancy: &str, resume: &str, variant: u32) -> String {
    let ru = TextLanguage::detect(vacancy) == TextLanguage::Russian;
    let role = title(vacancy);
    let pairs = matches(vacancy, resume);
    let mut out = String::new();
    out += if ru { LABEL_RU } else { LABEL_EN };
    out += "\n\n";
    out += if ru { "Здравствуйте!\n\n" } else { "Dear hiring team,\n\n" };
    let openings_ru = [
        format!("Меня заинтересовала вакансия «{role}». Ниже — как мой опыт соотносится с вашими требованиями."),
        format!("Откликаюсь на вакансию «{role}»: многое из того, что вы ищете, я уже делал на практике."),
        format!("Пишу по поводу вакансии «{role}». Коротко о том, чем мой опыт может быть полезен вашей команде."),
    ];
    let openings_en = [
        format!("I am applying for the position \"{role}\". Below is how my experience meets your requirements."),
        format!("I would like to apply for \"{role}\": much of what you are looking for is work I have already done."),
        format!("I am writing about the \"{role}\" opening. In short, here is how my experience can help your team."),
    ];
    let i = variant as usize % 3;
    out += if ru { &openings_ru[i] } else { &openings_en[i] };
    out += "\n\n";
    if pairs.is_empty() {
        out += if ru {
            "Мой опыт подробно описан в резюме; буду рад рассказать, как он пригодится в ваших задачах."
        } else {
            "My experience is described in my resume; I would be glad to explain how it fits your needs."
        };
        out += "\n\n";
    } else {
        let ordered: Vec<&(String, String)> = if variant % 2 == 1 { pairs.iter().rev().collect() } else { pairs.iter().collect() };
        for (req, line) in ordered {
            out += &format!("• {req} — {line}\n");
        }
        out += "\n";
    }
    out += if ru {
        "Буду рад обсудить, чем могу быть полезен. Спасибо за внимание!\n\nС уважением,\n[Ваше имя]"
    } else {
        "I would be glad to discuss how I can help. Thank you for your time.\n\nBest regards,\n[Your name]"
    };
    out
}

/// The offline answer to any task.
pub fn write(task: &Task<'_>) -> String {
    match *task {
        Task::Letter { vacancy, resume, variant } => compose(vacancy, resume, variant),
        Task::Improve { vacancy, latest, .. } => {
            let ru = TextLanguage::detect(vacancy) == TextLanguage::Russian;
            let note = if ru { NOTE_RU } else { NOTE_EN };
            let body: Vec<&str> = latest.lines().filter(|l| *l != NOTE_RU && *l != NOTE_EN).collect();
            format!("{}\n\n{note}", body.join("\n").trim_end())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VACANCY: &str = "Backend-разработчик на Rust\nТребования:\n- Опыт коммерческой разработки на Rust от 2 лет\n- Уверенное знание PostgreSQL\n- Опыт работы с Kafka\n";
    const RESUME: &str = "Иван Петров, разработчик\nРазрабатываю сервисы на Rust три года в компании Ромашка\nОптимизировал запросы PostgreSQL в биллинге\nЛюблю горные лыжи\n";

    #[test]
    fn the_draft_is_labelled_and_pairs_requirements_with_resume_lines() {
        let d = compose(VACANCY, RESUME, 0);
        assert!(d.starts_with(LABEL_RU), "{d}");
        assert!(d.contains("• Опыт коммерческой разработки на Rust от 2 лет — Разрабатываю сервисы на Rust три года в компании Ромашка"), "{d}");
        assert!(d.contains("• Уверенное знание PostgreSQL — Оптимизировал запросы PostgreSQL в биллинге"), "{d}");
        // Nothing in the resume mentions Kafka, so the draft does not claim it.
        assert!(!d.contains("Kafka"), "{d}");
        assert!(d.contains("«Backend-разработчик на Rust»"));
    }

    #[test]
    fn an_english_vacancy_gets_an_english_draft_and_variants_differ() {
        let v = "Senior Rust engineer\n- Experience building web services in Rust\n- PostgreSQL in production\n";
        let r = "Built web services in Rust for four years at Acme\nRan PostgreSQL clusters in production";
        let a = compose(v, r, 0);
        let b = compose(v, r, 1);
        assert!(a.starts_with(LABEL_EN));
        assert_ne!(a, b);
        assert!(a.contains("Best regards"));
    }
}
