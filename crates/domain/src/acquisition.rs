//! The `/start` payload: where a user came from (bot.md "Acquisition").
//!
//! `ref_<telegram id>` is a referral, `<source>-<medium>-<campaign>` or `utm_<source>` set the utm
//! columns, any other well-formed payload is kept raw. Malformed payloads are an error the engine
//! ignores: they never fail `/start`.

use crate::ids::TelegramUserId;

pub const MAX_PAYLOAD_CHARS: usize = 64;

/// What a well-formed payload says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquisition {
    Referral {
        referrer: TelegramUserId,
    },
    Utm {
        source: String,
        medium: Option<String>,
        campaign: Option<String>,
    },
    Other,
}

/// A well-formed payload and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartPayload {
    raw: String,
    meaning: Acquisition,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the payload is empty")]
    Empty,
    #[error("the payload has {0} characters, at most 64 are allowed")]
    TooLong(usize),
    #[error("the payload has characters outside A-Za-z0-9_-")]
    BadCharacters,
}

impl StartPayload {
    pub fn parse(raw: &str) -> Result<Self, PayloadError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(PayloadError::Empty);
        }
        let chars = raw.chars().count();
        if chars > MAX_PAYLOAD_CHARS {
            return Err(PayloadError::TooLong(chars));
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(PayloadError::BadCharacters);
        }
        Ok(Self {
            raw: raw.to_string(),
            meaning: meaning(raw),
        })
    }

    pub fn raw(&self) -> &str {
        &self.raw
    }

    pub fn meaning(&self) -> &Acquisition {
        &self.meaning
    }
}

fn meaning(raw: &str) -> Acquisition {
    if let Some(id) = raw.strip_prefix("ref_") {
        if let Some(referrer) = id
            .parse::<i64>()
            .ok()
            .and_then(|n| TelegramUserId::parse(n).ok())
        {
            return Acquisition::Referral { referrer };
        }
        return Acquisition::Other;
    }
    if let Some(source) = raw.strip_prefix("utm_") {
        if !source.is_empty() {
            return Acquisition::Utm {
                source: source.to_string(),
                medium: None,
                campaign: None,
            };
        }
        return Acquisition::Other;
    }
    let parts: Vec<&str> = raw.splitn(3, '-').collect();
    if parts.len() == 3 && parts.iter().all(|p| !p.is_empty()) {
        return Acquisition::Utm {
            source: parts[0].to_string(),
            medium: Some(parts[1].to_string()),
            campaign: Some(parts[2].to_string()),
        };
    }
    Acquisition::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_kinds_are_recognised() {
        let p = StartPayload::parse("ref_12345").unwrap();
        assert_eq!(
            p.meaning(),
            &Acquisition::Referral {
                referrer: TelegramUserId::parse(12345).unwrap()
            }
        );
        let p = StartPayload::parse("vk-cpc-spring_sale").unwrap();
        assert_eq!(
            p.meaning(),
            &Acquisition::Utm {
                source: "vk".into(),
                medium: Some("cpc".into()),
                campaign: Some("spring_sale".into())
            }
        );
        let p = StartPayload::parse("hh-post-2026-05").unwrap();
        assert!(
            matches!(p.meaning(), Acquisition::Utm { campaign: Some(c), .. } if c == "2026-05")
        );
        assert_eq!(
            StartPayload::parse("utm_habr").unwrap().meaning(),
            &Acquisition::Utm {
                source: "habr".into(),
                medium: None,
                campaign: None
            }
        );
        let p = StartPayload::parse("promo2026").unwrap();
        assert_eq!((p.raw(), p.meaning()), ("promo2026", &Acquisition::Other));
        assert_eq!(
            StartPayload::parse("ref_abc").unwrap().meaning(),
            &Acquisition::Other
        );
        assert_eq!(
            StartPayload::parse("a--b").unwrap().meaning(),
            &Acquisition::Other
        );
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics() {
        assert_eq!(StartPayload::parse(""), Err(PayloadError::Empty));
        assert_eq!(
            StartPayload::parse(&"a".repeat(65)),
            Err(PayloadError::TooLong(65))
        );
        assert!(StartPayload::parse(&"a".repeat(64)).is_ok());
        assert_eq!(
            StartPayload::parse("hello world"),
            Err(PayloadError::BadCharacters)
        );
        assert_eq!(
            StartPayload::parse("<script>"),
            Err(PayloadError::BadCharacters)
        );
        assert_eq!(
            StartPayload::parse("ref_99999999999999999999999"),
            Ok(StartPayload {
                raw: "ref_99999999999999999999999".into(),
                meaning: Acquisition::Other
            })
        );
    }
}
