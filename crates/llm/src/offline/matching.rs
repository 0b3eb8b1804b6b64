//! Which resume facts answer the vacancy, in what order of strength, which technologies both name,
//! and whether the candidate comes from the vacancy's field at all (a career changer does not).
//!
//! A requirement is never "matched" by a number of years from another field: the composer only
//! says what a resume fact says, and names the gap honestly when the fields differ.

use super::resume::{tech_words, Fact, Resume};
use super::text::{lower, stem, stems};
use super::vacancy::Vacancy;

/// Seniority and level words: they name no field.
const LEVEL_WORDS: &[&str] = &[
    "senior",
    "junior",
    "middle",
    "lead",
    "principal",
    "staff",
    "head",
    "chief",
    "старший",
    "ведущий",
    "младший",
    "главный",
    "опытный",
    "стажер",
    "стажёр",
    "intern",
    "trainee",
    "специалист",
    "specialist",
    "менеджер",
    "manager",
];

#[derive(Debug)]
pub struct Matched {
    /// Indices into `Resume::facts`, strongest first.
    pub ranked: Vec<usize>,
    /// Technologies both the vacancy and the resume name, as the resume writes them.
    pub shared_tech: Vec<String>,
    /// The resume shows work in the vacancy's field (its role words appear in the resume).
    pub same_field: bool,
}

fn field_stems(v: &Vacancy) -> Vec<String> {
    let Some((role, _)) = &v.role else {
        return Vec::new();
    };
    stems(role)
        .into_iter()
        .filter(|s| !LEVEL_WORDS.iter().any(|l| stem(l) == *s))
        .collect()
}

pub fn rank(v: &Vacancy, vacancy_text: &str, r: &Resume, resume_text: &str) -> Matched {
    let vac_stems = stems(vacancy_text);
    let vac_tech: Vec<String> = tech_words(vacancy_text).iter().map(|t| lower(t)).collect();
    let resume_tech = tech_words(resume_text);
    let shared_tech: Vec<String> = resume_tech
        .into_iter()
        .filter(|t| vac_tech.contains(&lower(t)))
        .collect();

    let score = |f: &Fact| -> i32 {
        let have = stems(&f.text);
        let overlap = have.iter().filter(|s| vac_stems.contains(s)).count() as i32;
        let tech = tech_words(&f.text)
            .iter()
            .filter(|t| vac_tech.contains(&lower(t)))
            .count() as i32;
        let mut s = 3 * tech + overlap.min(4);
        if f.figure {
            s += 4;
        }
        if f.verb {
            s += 1;
        }
        // Nothing in common with the vacancy: only a result with a figure is still worth telling.
        if overlap == 0 && tech == 0 && !f.figure {
            s -= 10;
        }
        s
    };
    let mut scored: Vec<(i32, usize)> = r
        .facts
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.list)
        .map(|(i, f)| (score(f), i))
        .filter(|(s, _)| *s > -12)
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));

    let field = field_stems(v);
    let resume_stems = stems(resume_text);
    let same_field = if field.is_empty() {
        // No role to compare with: the resume shares the requirements' vocabulary or not.
        let req = stems(&v.requirements.join(" "));
        let common = req.iter().filter(|s| resume_stems.contains(s)).count();
        req.is_empty() || common * 4 >= req.len()
    } else {
        field.iter().any(|s| resume_stems.contains(s))
    };
    Matched {
        ranked: scored.into_iter().map(|(_, i)| i).collect(),
        shared_tech,
        same_field,
    }
}
