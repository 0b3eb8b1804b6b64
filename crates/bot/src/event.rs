//! What comes into the engine: one event per user action, with a unique id and the sender.

pub use domain::{EventId, EventIdError};
pub use store::users::Profile;

/// Media the bot does not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Photo,
    Sticker,
    Voice,
    Video,
    Audio,
    /// A document of a type or size the transport does not extract.
    Document,
    /// A .txt/.pdf/.docx whose text could not be read (damaged, a scan, or over the memory or
    /// time budget of extraction).
    UnreadableDocument,
    Other,
}

/// What the user did.
#[derive(Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A text message. Text starting with `/` is taken as a command.
    Text(String),
    /// A command, name without the slash (a `@botname` suffix is ignored), and its arguments.
    Command {
        name: String,
        args: String,
    },
    /// An inline button press with its callback data.
    Button {
        data: String,
    },
    /// A document whose text the transport extracted.
    Document {
        file_name: String,
        text: String,
    },
    Unsupported(Media),
}

impl std::fmt::Debug for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Text(t) => write!(f, "Text({} chars)", t.chars().count()),
            Self::Command { name, .. } => write!(f, "Command({name})"),
            Self::Button { data } => write!(f, "Button({data})"),
            Self::Document { text, .. } => write!(f, "Document({} chars)", text.chars().count()),
            Self::Unsupported(m) => write!(f, "Unsupported({m:?})"),
        }
    }
}

/// One incoming event.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: EventId,
    pub from: Profile,
    pub kind: EventKind,
}

/// The language of the replies: Russian unless Telegram says the user's language is English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Ru,
    En,
}

impl Lang {
    pub fn from_code(code: Option<&str>) -> Self {
        match code {
            Some(c) if c.to_ascii_lowercase().starts_with("en") => Self::En,
            _ => Self::Ru,
        }
    }
}

/// `/name@bot args` → (name, args), or None for text that is not a command.
pub fn split_command(text: &str) -> Option<(String, String)> {
    let rest = text.trim_start().strip_prefix('/')?;
    let (head, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let name = head.split('@').next().unwrap_or("").to_ascii_lowercase();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some((name, args.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_split_from_their_arguments_and_bot_name() {
        assert_eq!(
            split_command("/start@SoprovodBot ref_5"),
            Some(("start".into(), "ref_5".into()))
        );
        assert_eq!(split_command("/HELP"), Some(("help".into(), String::new())));
        assert_eq!(split_command("/ путь"), None);
        assert_eq!(split_command("просто текст"), None);
    }

    #[test]
    fn english_only_for_english_language_codes() {
        assert_eq!(Lang::from_code(Some("en-US")), Lang::En);
        assert_eq!(Lang::from_code(Some("ru")), Lang::Ru);
        assert_eq!(Lang::from_code(Some("de")), Lang::Ru);
        assert_eq!(Lang::from_code(None), Lang::Ru);
    }
}
