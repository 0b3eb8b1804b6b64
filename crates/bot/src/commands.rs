//! The slash commands, listed once: the menu a transport registers, the /help text and the
//! engine's dispatch all come from [`Command`], so they cannot disagree.

use crate::event::Lang;
use crate::texts;

/// A command the engine understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    Start,
    New,
    Cancel,
    Subscription,
    Premium,
    Help,
    About,
    Support,
    Privacy,
    Terms,
    DeleteMe,
    /// Admin only (ADMIN_TELEGRAM_IDS): not in the menu or /help.
    Refund,
}

impl Command {
    /// Every command, in menu order.
    pub const ALL: [Command; 12] = [
        Self::Start,
        Self::New,
        Self::Cancel,
        Self::Subscription,
        Self::Premium,
        Self::Help,
        Self::About,
        Self::Support,
        Self::Privacy,
        Self::Terms,
        Self::DeleteMe,
        Self::Refund,
    ];

    /// The name after the slash.
    pub fn name(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::New => "new",
            Self::Cancel => "cancel",
            Self::Subscription => "subscription",
            Self::Premium => "premium",
            Self::Help => "help",
            Self::About => "about",
            Self::Support => "support",
            Self::Privacy => "privacy",
            Self::Terms => "terms",
            Self::DeleteMe => "delete_me",
            Self::Refund => "refund",
        }
    }

    /// A command name as users type it: `/Start`, `start`, `/start@SoprovodBot`.
    pub fn parse(raw: &str) -> Option<Self> {
        let name = raw.trim_start_matches('/').split('@').next().unwrap_or("");
        Self::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }

    /// Shown to every user (the menu and /help); admin commands are not.
    pub fn is_public(self) -> bool {
        !matches!(self, Self::Refund)
    }

    /// The public commands, in menu order.
    pub fn public() -> impl Iterator<Item = Command> {
        Self::ALL.into_iter().filter(|c| c.is_public())
    }

    /// The one-line description in the menu and in /help.
    pub fn description(self, lang: Lang) -> String {
        texts::command_description(lang, self)
    }
}

/// The user commands with a description in `lang`, for the transport's command menu.
pub fn menu(lang: Lang) -> Vec<(&'static str, String)> {
    Command::public()
        .map(|c| (c.name(), c.description(lang)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_parses_back_from_its_name_in_any_case_and_with_a_bot_mention() {
        for c in Command::ALL {
            assert_eq!(Command::parse(c.name()), Some(c));
            assert_eq!(
                Command::parse(&format!("/{}", c.name().to_uppercase())),
                Some(c)
            );
            assert_eq!(
                Command::parse(&format!("/{}@SoprovodBot", c.name())),
                Some(c)
            );
        }
        assert_eq!(Command::parse("/nonsense"), None);
        assert_eq!(Command::parse(""), None);
    }

    #[test]
    fn the_menu_lists_every_public_command_once_and_no_admin_command() {
        for lang in [Lang::Ru, Lang::En] {
            let names: Vec<_> = menu(lang).into_iter().map(|(n, _)| n).collect();
            let public: Vec<_> = Command::public().map(Command::name).collect();
            assert_eq!(names, public);
            assert!(!names.contains(&"refund"));
            let mut unique = names.clone();
            unique.dedup();
            assert_eq!(unique.len(), names.len());
        }
    }

    #[test]
    fn help_lists_every_menu_command_with_the_menu_wording() {
        for lang in [Lang::Ru, Lang::En] {
            let help = texts::help(lang);
            for (name, description) in menu(lang) {
                let line = format!("/{name} — {description}");
                assert!(help.contains(&line), "{lang:?} /help lacks {line:?}");
            }
            assert!(!help.contains("/refund"));
        }
    }

    #[test]
    fn menu_descriptions_fit_telegrams_limits() {
        // setMyCommands: description 1–256 characters, command 1–32 of a-z0-9_.
        for lang in [Lang::Ru, Lang::En] {
            for (name, description) in menu(lang) {
                assert!((1..=32).contains(&name.len()));
                assert!(name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
                assert!((1..=256).contains(&description.chars().count()), "{name}");
            }
        }
    }
}
