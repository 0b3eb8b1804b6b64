//! Cleaning a model's reply into the bare letter: no preamble, no code fences, no Markdown, no
//! literal "\n", no closing remarks; and refusing replies that hold no letter.

use crate::LlmError;

/// Shortest text still taken for a letter (a 200-word letter is well over a thousand characters).
const MIN_LETTER_CHARS: usize = 150;

const PREAMBLE_STARTS: &[&str] = &[
    "вот ",
    "конечно",
    "ниже ",
    "разумеется",
    "отлично",
    "хорошо,",
    "с удовольствием",
    "here is",
    "here's",
    "sure",
    "certainly",
    "below is",
    "of course",
    "absolutely",
];
const PREAMBLE_WORDS: &[&str] = &["письм", "letter", "вариант", "version", "draft", "черновик"];
const CLOSING_STARTS: &[&str] = &[
    "надеюсь",
    "если нужно",
    "если хотите",
    "если потребуется",
    "дайте знать",
    "let me know",
    "i hope",
    "feel free",
    "if you'd like",
    "if you want",
];
const NOT_A_LETTER: &[&str] = &[
    "предоставьте, пожалуйста",
    "пожалуйста, предоставьте",
    "не вижу в предоставленных",
    "отсутствует описание вакансии",
    "необходимо предоставить",
    "please provide",
    "i cannot",
    "i can't",
    "я не могу",
];

fn is_preamble(line: &str) -> bool {
    let l = line.trim().to_lowercase();
    if l.is_empty() || l.chars().count() > 140 {
        return false;
    }
    let starts = PREAMBLE_STARTS.iter().any(|p| l.starts_with(p));
    let about_letter = PREAMBLE_WORDS.iter().any(|w| l.contains(w));
    (starts && (about_letter || l.ends_with(':') || l.ends_with('!')))
        || (about_letter && l.ends_with(':'))
}

fn is_closing_remark(line: &str) -> bool {
    let l = line.trim().to_lowercase();
    !l.is_empty() && l.chars().count() <= 200 && CLOSING_STARTS.iter().any(|p| l.starts_with(p))
}

fn strip_markdown(line: &str) -> String {
    let trimmed = line.trim_start();
    let without_heading = trimmed.trim_start_matches('#').trim_start();
    let base = if trimmed.starts_with('#') {
        without_heading
    } else {
        line
    };
    base.replace("**", "").replace("__", "")
}

/// The letter in a raw reply, or why there is none.
pub fn clean_letter(raw: &str) -> Result<String, LlmError> {
    let text = raw
        .replace("\r\n", "\n")
        .replace("\\n", "\n")
        .replace("\\t", " ");
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("```"))
        .map(strip_markdown)
        .map(|l| l.trim_end().to_string())
        .collect();

    while lines
        .first()
        .is_some_and(|l| l.trim().is_empty() || is_preamble(l))
    {
        lines.remove(0);
    }
    while lines
        .last()
        .is_some_and(|l| l.trim().is_empty() || l.trim() == "---" || is_closing_remark(l))
    {
        lines.pop();
    }
    // Blank-line runs collapse to one blank line.
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    for line in lines {
        if line.trim().is_empty() && out.last().is_some_and(|l: &String| l.is_empty()) {
            continue;
        }
        out.push(if line.trim().is_empty() {
            String::new()
        } else {
            line
        });
    }
    let mut letter = out.join("\n").trim().to_string();
    for (open, close) in [('"', '"'), ('«', '»'), ('“', '”')] {
        if letter.starts_with(open) && letter.ends_with(close) && letter.chars().count() > 2 {
            letter = letter[open.len_utf8()..letter.len() - close.len_utf8()]
                .trim()
                .to_string();
        }
    }
    if letter.is_empty() {
        return Err(LlmError::NoLetter("empty reply"));
    }
    let lower = letter.to_lowercase();
    if letter.chars().count() < 600 && NOT_A_LETTER.iter().any(|p| lower.contains(p)) {
        return Err(LlmError::NoLetter(
            "the model asked for input instead of writing",
        ));
    }
    if letter.chars().count() < MIN_LETTER_CHARS {
        return Err(LlmError::NoLetter("reply too short for a letter"));
    }
    Ok(letter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> String {
        "Здравствуйте!\n\nМеня заинтересовала вакансия разработчика. За пять лет я построил платёжный сервис \
         и сократил время ответа API вдвое.\n\nС уважением,\n[Ваше имя]"
            .to_string()
    }

    #[test]
    fn a_preamble_fences_and_literal_newlines_are_removed() {
        let raw = format!(
            "Вот ваше сопроводительное письмо:\n```\n{}\n```\nНадеюсь, это поможет!",
            body().replace('\n', "\\n")
        );
        assert_eq!(clean_letter(&raw).unwrap(), body());
        let raw = format!("Конечно! Here is a draft:\n\n**{}**", body());
        assert_eq!(clean_letter(&raw).unwrap(), body());
    }

    #[test]
    fn a_clean_letter_is_kept_as_is() {
        assert_eq!(clean_letter(&body()).unwrap(), body());
    }

    #[test]
    fn empty_or_preamble_only_replies_hold_no_letter() {
        assert!(matches!(clean_letter(""), Err(LlmError::NoLetter(_))));
        assert!(matches!(
            clean_letter("  \n```\n```"),
            Err(LlmError::NoLetter(_))
        ));
        assert!(matches!(
            clean_letter("Вот ваше письмо:"),
            Err(LlmError::NoLetter(_))
        ));
        assert!(matches!(
            clean_letter(
                "Чтобы написать письмо, предоставьте, пожалуйста, текст вакансии и резюме."
            ),
            Err(LlmError::NoLetter(_))
        ));
    }
}
