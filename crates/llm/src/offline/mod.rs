//! The offline composer: without an API key, a cover letter written from the vacancy and the
//! resume alone — connected prose, 200–300 words, in the vacancy's language — and offline
//! improvements of it. It never adds facts: every claim about the candidate is a resume clause.
//!
//! `vacancy` (with `company`) reads the vacancy, `resume` the resume, `matching` ranks the resume's
//! facts against the vacancy, `compose` writes the letter, `request` reads an improvement request
//! and `improve` applies it.

mod company;
mod compose;
mod improve;
mod matching;
mod request;
mod resume;
mod text;
mod vacancy;

use domain::TextLanguage;

pub use improve::Unapplied;
pub use text::plural_ru;

use crate::Task;

pub const MODEL: &str = "offline-composer";

/// Distinct takes the composer has on one pair of texts; variant `n` and `n + VARIANTS` are the
/// same letter, so the bot refuses (without charging) a variant past them.
pub const VARIANTS: u32 = 12;

fn vacancy_is_russian(vacancy: &str) -> bool {
    TextLanguage::detect(vacancy) == TextLanguage::Russian
}

/// A letter for a first letter (`variant` 0) or another variant (each variant opens differently
/// and tells other facts or the same ones in another order).
pub fn compose(vacancy: &str, resume: &str, variant: u32) -> String {
    let inputs = compose::Inputs::read(vacancy, resume);
    compose::letter(&inputs, (variant % VARIANTS) as usize)
}

/// `latest` changed as `request` asks, or why the offline composer cannot do it.
pub fn improve(
    vacancy: &str,
    resume: &str,
    latest: &str,
    request: &str,
) -> Result<String, Unapplied> {
    let inputs = compose::Inputs::read(vacancy, resume);
    improve::improve(&inputs, latest, request)
}

/// The language the offline composer writes and explains itself in: the vacancy's.
pub fn writes_russian(vacancy: &str) -> bool {
    vacancy_is_russian(vacancy)
}

/// The offline answer to a task; an improvement it cannot apply is an error the caller shows.
pub fn write(task: &Task<'_>) -> Result<String, Unapplied> {
    match *task {
        Task::Letter {
            vacancy,
            resume,
            variant,
        } => Ok(compose(vacancy, resume, variant)),
        Task::Improve {
            vacancy,
            resume,
            latest,
            request,
        } => improve(vacancy, resume, latest, request),
    }
}
