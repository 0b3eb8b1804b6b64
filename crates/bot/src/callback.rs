//! Inline-button callback data: compact (well under Telegram's 64 bytes), carrying the session id
//! where the press refers to one letter, so a press on an old message is recognised as such.

use domain::SessionId;
use store::sessions::Feedback;
use uuid::Uuid;

use crate::reply::Button;

/// What a button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Feedback {
        session: SessionId,
        iteration: i32,
        feedback: Feedback,
    },
    Improve(SessionId),
    Variant(SessionId),
    Retry(SessionId),
    Buy,
    NewLetter,
    DeleteConfirm,
    DeleteCancel,
}

fn sid(s: SessionId) -> String {
    s.get().simple().to_string()
}

fn parse_sid(raw: &str) -> Option<SessionId> {
    (raw.len() == 32)
        .then(|| Uuid::try_parse(raw).ok().map(SessionId::from_uuid))
        .flatten()
}

/// A button labelled `label` that asks for `action`.
pub(crate) fn btn(label: String, action: Action) -> Button {
    Button {
        label,
        data: action.encode(),
    }
}

impl Action {
    pub fn encode(self) -> String {
        match self {
            Self::Feedback {
                session,
                iteration,
                feedback,
            } => {
                let f = if feedback == Feedback::Like { 'l' } else { 'd' };
                format!("fb:{f}:{}:{iteration}", sid(session))
            }
            Self::Improve(s) => format!("imp:{}", sid(s)),
            Self::Variant(s) => format!("var:{}", sid(s)),
            Self::Retry(s) => format!("gen:{}", sid(s)),
            Self::Buy => "buy".into(),
            Self::NewLetter => "new".into(),
            Self::DeleteConfirm => "del:y".into(),
            Self::DeleteCancel => "del:n".into(),
        }
    }

    /// None for data this engine never produced (or produced by an older format).
    pub fn decode(data: &str) -> Option<Self> {
        if data.len() > 64 {
            return None;
        }
        let parts: Vec<&str> = data.split(':').collect();
        Some(match parts.as_slice() {
            ["fb", f, s, n] => Self::Feedback {
                session: parse_sid(s)?,
                iteration: n.parse().ok().filter(|n| (0..=100).contains(n))?,
                feedback: match *f {
                    "l" => Feedback::Like,
                    "d" => Feedback::Dislike,
                    _ => return None,
                },
            },
            ["imp", s] => Self::Improve(parse_sid(s)?),
            ["var", s] => Self::Variant(parse_sid(s)?),
            ["gen", s] => Self::Retry(parse_sid(s)?),
            ["buy"] => Self::Buy,
            ["new"] => Self::NewLetter,
            ["del", "y"] => Self::DeleteConfirm,
            ["del", "n"] => Self::DeleteCancel,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_within_64_bytes() {
        let s = SessionId::new_random();
        for a in [
            Action::Feedback {
                session: s,
                iteration: 3,
                feedback: Feedback::Dislike,
            },
            Action::Improve(s),
            Action::Variant(s),
            Action::Retry(s),
            Action::Buy,
            Action::NewLetter,
            Action::DeleteConfirm,
            Action::DeleteCancel,
        ] {
            let data = a.encode();
            assert!(data.len() <= 64, "{data}");
            assert_eq!(Action::decode(&data), Some(a));
        }
    }

    #[test]
    fn garbage_and_old_formats_decode_to_nothing() {
        for junk in [
            "",
            "restart",
            "feedback_like_1234_0",
            "fb:x:00:1",
            "imp:not-a-uuid",
            &"a".repeat(65),
        ] {
            assert_eq!(Action::decode(junk), None, "{junk}");
        }
    }
}
