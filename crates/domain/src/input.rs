//! Validated user input: a vacancy, a resume and an improvement request, with the limits of bot.md.
//!
//! Holding a `Vacancy` or a `Resume` means the text passed every rule, so the engine never stores
//! refused text. Error values carry only counts, never the text itself (they may end up in logs).

use std::fmt;

/// Text over this many bytes (UTF-8) is refused before anything else is looked at.
pub const MAX_MESSAGE_BYTES: usize = 50 * 1024;
pub const VACANCY_MIN_CHARS: usize = 100;
pub const VACANCY_MAX_CHARS: usize = 10_000;
pub const RESUME_MIN_CHARS: usize = 300;
pub const RESUME_MAX_CHARS: usize = 15_000;
pub const IMPROVEMENT_MIN_CHARS: usize = 3;
pub const IMPROVEMENT_MAX_CHARS: usize = 2_000;

/// Hosts whose links mean "the text is behind a link I cannot open".
const FILE_HOSTS: &[(&str, &str)] = &[
    ("docs.google.com", "Google Docs"),
    ("drive.google.com", "Google Drive"),
    ("dropbox.com", "Dropbox"),
    ("disk.yandex.", "Яндекс Диск"),
    ("yadi.sk", "Яндекс Диск"),
    ("yandex.ru/disk", "Яндекс Диск"),
    ("cloud.mail.ru", "Облако Mail.ru"),
    ("onedrive.live.com", "OneDrive"),
    ("1drv.ms", "OneDrive"),
    ("sharepoint.com", "SharePoint"),
];

/// Why a piece of text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("the text is empty")]
    Empty,
    #[error("the text has {chars} characters, at least {min} are needed")]
    TooShort { chars: usize, min: usize },
    #[error("the text has {chars} characters, at most {max} are allowed")]
    TooLong { chars: usize, max: usize },
    #[error("the message is {bytes} bytes, over the limit of {max} bytes")]
    TooLarge { bytes: usize, max: usize },
    #[error("the text links to a file host ({host}) instead of containing the text")]
    FileHostLink { host: &'static str },
    #[error(
        "the text has {words} words, at least {min} are needed (emoji and symbols are not words)"
    )]
    TooFewWords { words: usize, min: usize },
    #[error("the text holds a NUL byte, as binary files do")]
    NulByte,
}

/// Words a vacancy needs at least: a title and a few requirements. Emoji, symbols and numbers
/// are not words.
pub const VACANCY_MIN_WORDS: usize = 8;

/// Words of two or more letters, outside links.
pub fn word_count(text: &str) -> usize {
    text.split_whitespace()
        .filter(|w| !w.contains("://") && !w.starts_with("www."))
        .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2)
        .count()
}

/// The text without its links: what is left when a file-host link is taken out.
fn without_links(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| file_host_link(w).is_none() && !w.contains("://"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The language a letter should be written in, guessed from the vacancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextLanguage {
    Russian,
    English,
}

impl TextLanguage {
    /// Russian when at least a fifth of the letters are Cyrillic: vacancies in Russian are full of
    /// English technology names, so a plain majority would misjudge them.
    pub fn detect(text: &str) -> Self {
        let (mut cyr, mut letters) = (0usize, 0usize);
        for c in text.chars().filter(|c| c.is_alphabetic()) {
            letters += 1;
            if matches!(c, '\u{0400}'..='\u{04FF}') {
                cyr += 1;
            }
        }
        if letters > 0 && cyr * 5 >= letters {
            Self::Russian
        } else {
            Self::English
        }
    }
}

fn checked(raw: &str, min: usize, max: usize) -> Result<String, InputError> {
    if raw.len() > MAX_MESSAGE_BYTES {
        return Err(InputError::TooLarge {
            bytes: raw.len(),
            max: MAX_MESSAGE_BYTES,
        });
    }
    let text = raw.trim();
    if text.is_empty() {
        return Err(InputError::Empty);
    }
    // PostgreSQL text cannot hold NUL; a NUL means a binary file was pasted or sent.
    if text.contains('\0') {
        return Err(InputError::NulByte);
    }
    let chars = text.chars().count();
    if chars < min {
        return Err(InputError::TooShort { chars, min });
    }
    if chars > max {
        return Err(InputError::TooLong { chars, max });
    }
    Ok(text.to_string())
}

/// The file host a text links to, if any.
pub fn file_host_link(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    FILE_HOSTS
        .iter()
        .find(|(needle, _)| lower.contains(needle))
        .map(|(_, name)| *name)
}

/// A vacancy: 100–10 000 characters after trimming and at least a few words; a file-host link
/// is refused only when the text is little more than the link (a full vacancy may link to a test
/// task on Google Docs).
#[derive(Clone, PartialEq, Eq)]
pub struct Vacancy(String);

impl Vacancy {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        if raw.len() <= MAX_MESSAGE_BYTES {
            if let Some(host) = file_host_link(raw) {
                if without_links(raw).chars().count() < VACANCY_MIN_CHARS {
                    return Err(InputError::FileHostLink { host });
                }
            }
        }
        let text = checked(raw, VACANCY_MIN_CHARS, VACANCY_MAX_CHARS)?;
        let words = word_count(&text);
        if words < VACANCY_MIN_WORDS {
            return Err(InputError::TooFewWords {
                words,
                min: VACANCY_MIN_WORDS,
            });
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn language(&self) -> TextLanguage {
        TextLanguage::detect(&self.0)
    }
}

/// A resume: 300–15 000 characters after trimming. Links are allowed (portfolios, GitHub), except a
/// resume that is little more than a file-host link.
#[derive(Clone, PartialEq, Eq)]
pub struct Resume(String);

impl Resume {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        if raw.len() <= MAX_MESSAGE_BYTES && raw.trim().chars().count() < RESUME_MIN_CHARS {
            if let Some(host) = file_host_link(raw) {
                return Err(InputError::FileHostLink { host });
            }
        }
        checked(raw, RESUME_MIN_CHARS, RESUME_MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// What the user wants changed in the letter: 3–2 000 characters.
#[derive(Clone, PartialEq, Eq)]
pub struct ImprovementRequest(String);

impl ImprovementRequest {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        checked(raw, IMPROVEMENT_MIN_CHARS, IMPROVEMENT_MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// Debug prints sizes only: these values must never reach a log in clear.
macro_rules! redacted_debug {
    ($($t:ident),*) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($t), "({} chars)"), self.0.chars().count())
            }
        }
    )*};
}
redacted_debug!(Vacancy, Resume, ImprovementRequest);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_byte_is_refused_in_every_kind_of_input() {
        let text = format!("{}\0{}", "слово ".repeat(30), "слово ".repeat(60));
        assert_eq!(Vacancy::parse(&text), Err(InputError::NulByte));
        assert_eq!(Resume::parse(&text), Err(InputError::NulByte));
        assert_eq!(
            ImprovementRequest::parse("коро\0че"),
            Err(InputError::NulByte)
        );
    }

    #[test]
    fn a_vacancy_of_emoji_and_symbols_only_is_refused_for_lack_of_words() {
        let emoji = "🔥🚀💼✨ ".repeat(40);
        assert_eq!(
            Vacancy::parse(&emoji),
            Err(InputError::TooFewWords { words: 0, min: 8 })
        );
        let symbols = "!!! ??? ### $$$ %%% 123 456 ".repeat(6);
        assert!(matches!(
            Vacancy::parse(&symbols),
            Err(InputError::TooFewWords { .. })
        ));
    }

    #[test]
    fn a_full_vacancy_may_link_to_a_test_task_but_a_bare_link_is_refused() {
        let full = "QA-инженер в интернет-магазин. Требования: опыт автоматизации тестирования от 2 лет, Python, pytest, Selenium, понимание CI/CD. Тестовое задание: https://docs.google.com/document/d/1AbCdEf/edit — пришлите решение вместе с откликом.";
        assert!(Vacancy::parse(full).is_ok());
        let bare = "Вакансия тут: https://docs.google.com/document/d/1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789/edit?usp=sharing посмотрите, пожалуйста";
        assert_eq!(
            Vacancy::parse(bare),
            Err(InputError::FileHostLink {
                host: "Google Docs"
            })
        );
    }

    #[test]
    fn vacancy_length_is_counted_after_trimming() {
        let ninety_nine = format!("   {}   ", "а".repeat(99));
        assert_eq!(
            Vacancy::parse(&ninety_nine),
            Err(InputError::TooShort {
                chars: 99,
                min: 100
            })
        );
        let hundred = format!("\n{}абвгд\n", "абвг ".repeat(19));
        assert_eq!(
            Vacancy::parse(&hundred).unwrap().as_str().chars().count(),
            100
        );
        assert_eq!(
            Vacancy::parse(&"б".repeat(10_001)),
            Err(InputError::TooLong {
                chars: 10_001,
                max: 10_000
            })
        );
        assert!(Vacancy::parse(&format!("{}абвгд", "абвг ".repeat(1999))).is_ok());
    }

    #[test]
    fn resume_bounds_are_300_and_15000() {
        assert_eq!(
            Resume::parse(&"x".repeat(299)),
            Err(InputError::TooShort {
                chars: 299,
                min: 300
            })
        );
        assert!(Resume::parse(&"x".repeat(300)).is_ok());
        assert!(Resume::parse(&"x".repeat(15_000)).is_ok());
        assert_eq!(
            Resume::parse(&"x".repeat(15_001)),
            Err(InputError::TooLong {
                chars: 15_001,
                max: 15_000
            })
        );
    }

    #[test]
    fn text_over_50_kilobytes_is_refused_before_length_rules() {
        let big = "ж".repeat(30_000); // 60 000 bytes, 30 000 chars
        assert_eq!(
            Vacancy::parse(&big),
            Err(InputError::TooLarge {
                bytes: 60_000,
                max: MAX_MESSAGE_BYTES
            })
        );
        assert_eq!(
            Resume::parse(&big),
            Err(InputError::TooLarge {
                bytes: 60_000,
                max: MAX_MESSAGE_BYTES
            })
        );
    }

    #[test]
    fn vacancy_links_to_file_hosts_are_refused() {
        for link in [
            "https://docs.google.com/document/d/abc",
            "https://drive.google.com/file/d/1",
            "https://www.dropbox.com/s/x",
            "https://disk.yandex.ru/i/abc",
            "https://yandex.ru/disk/abc",
            "https://cloud.mail.ru/public/x",
            "https://onedrive.live.com/x",
            "https://corp.sharepoint.com/x",
        ] {
            let text = format!("Вакансия тут: {link} {}", "очень подробно ".repeat(3));
            assert!(
                matches!(Vacancy::parse(&text), Err(InputError::FileHostLink { .. })),
                "{link}"
            );
        }
        let ok = format!(
            "Откликайтесь на https://company.ru/jobs {}",
            "описание ".repeat(15)
        );
        assert!(Vacancy::parse(&ok).is_ok());
    }

    #[test]
    fn a_long_resume_may_contain_links() {
        let text = format!(
            "Портфолио: https://drive.google.com/x\n{}",
            "опыт работы ".repeat(40)
        );
        assert!(Resume::parse(&text).is_ok());
        assert!(matches!(
            Resume::parse("https://drive.google.com/file/d/1"),
            Err(InputError::FileHostLink { .. })
        ));
    }

    #[test]
    fn debug_output_never_contains_the_text() {
        let v = Vacancy::parse(&format!("секретнаявакансия {}", "текст ".repeat(20))).unwrap();
        let shown = format!("{v:?}");
        assert!(!shown.contains("секретная"), "{shown}");
        assert!(shown.contains("chars"));
    }

    #[test]
    fn language_follows_the_share_of_cyrillic_letters() {
        assert_eq!(
            TextLanguage::detect("Ищем Rust-разработчика в команду платформы"),
            TextLanguage::Russian
        );
        assert_eq!(
            TextLanguage::detect("We are hiring a Rust developer"),
            TextLanguage::English
        );
    }
}
