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

/// A vacancy: 100–10 000 characters after trimming, no file-host links.
#[derive(Clone, PartialEq, Eq)]
pub struct Vacancy(String);

impl Vacancy {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        if raw.len() <= MAX_MESSAGE_BYTES {
            if let Some(host) = file_host_link(raw) {
                return Err(InputError::FileHostLink { host });
            }
        }
        checked(raw, VACANCY_MIN_CHARS, VACANCY_MAX_CHARS).map(Self)
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
    fn vacancy_length_is_counted_after_trimming() {
        let ninety_nine = format!("   {}   ", "а".repeat(99));
        assert_eq!(
            Vacancy::parse(&ninety_nine),
            Err(InputError::TooShort {
                chars: 99,
                min: 100
            })
        );
        let hundred = format!("\n{}\n", "а".repeat(100));
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
        assert!(Vacancy::parse(&"б".repeat(10_000)).is_ok());
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
            let text = format!("Вакансия тут: {link} {}", "очень подробно ".repeat(10));
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
        let v = Vacancy::parse(&format!("секретнаявакансия {}", "т".repeat(120))).unwrap();
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
