//! Objective checks of a model's letter — length, language, numbers traceable to the inputs —
//! the same promises the offline composer is held to; a letter that fails is regenerated once.

use domain::TextLanguage;

use crate::Task;

/// What is wrong with a letter, as the regeneration request tells the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Words outside 200–300 (first letters and variants only: an improvement may be asked to
    /// be shorter or longer).
    Length(usize),
    /// Not written in the vacancy's language.
    Language,
    /// Numbers that are in neither the vacancy nor the resume (nor the letter being improved or
    /// the request).
    Invented(Vec<String>),
}

fn words(text: &str) -> usize {
    text.split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count()
}

fn numbers(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn cyrillic_share(text: &str) -> f64 {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count().max(1);
    let cyr = text
        .chars()
        .filter(|c| matches!(c, '\u{0400}'..='\u{04FF}'))
        .count();
    cyr as f64 / letters as f64
}

pub fn problems(task: &Task<'_>, letter: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    let (sources, length_matters) = match *task {
        Task::Letter {
            vacancy, resume, ..
        } => (format!("{vacancy}\n{resume}"), true),
        Task::Improve {
            vacancy,
            resume,
            latest,
            request,
        } => (format!("{vacancy}\n{resume}\n{latest}\n{request}"), false),
    };
    let n = words(letter);
    if length_matters && !(200..=300).contains(&n) {
        out.push(Problem::Length(n));
    }
    let ru = TextLanguage::detect(task.vacancy()) == TextLanguage::Russian;
    let share = cyrillic_share(letter);
    if (ru && share < 0.5) || (!ru && share > 0.2) {
        out.push(Problem::Language);
    }
    let known = numbers(&sources);
    let mut invented: Vec<String> = numbers(letter)
        .into_iter()
        .filter(|n| !known.contains(n))
        .collect();
    invented.dedup();
    if !invented.is_empty() {
        out.push(Problem::Invented(invented));
    }
    out
}

/// The note appended to the request when the letter is asked for again.
pub fn correction(task: &Task<'_>, problems: &[Problem]) -> String {
    let ru = TextLanguage::detect(task.vacancy()) == TextLanguage::Russian;
    let what: Vec<String> = problems
        .iter()
        .map(|p| match (p, ru) {
            (Problem::Length(n), true) => format!("в нём {n} слов, а нужно 200–300"),
            (Problem::Length(n), false) => format!("it has {n} words instead of 200-300"),
            (Problem::Language, true) => "оно написано не на русском языке".to_string(),
            (Problem::Language, false) => "it is not written in English".to_string(),
            (Problem::Invented(v), true) => format!(
                "в нём есть числа, которых нет ни в вакансии, ни в резюме: {}",
                v.join(", ")
            ),
            (Problem::Invented(v), false) => format!(
                "it has numbers that are in neither the vacancy nor the resume: {}",
                v.join(", ")
            ),
        })
        .collect();
    if ru {
        format!(
            "\n\nПредыдущий вариант не прошёл проверку: {}. Напиши письмо заново и соблюдай все правила.",
            what.join("; ")
        )
    } else {
        format!(
            "\n\nThe previous attempt failed a check: {}. Write the letter again and follow every rule.",
            what.join("; ")
        )
    }
}
