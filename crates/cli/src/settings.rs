//! Everything `soprovod` takes from its environment, read once in `main` (after `.env`) and
//! checked before any command starts; each command gets its part as plain values, and the
//! library crates never read the environment for it.

use std::path::PathBuf;

use secrecy::SecretString;

/// The environment, parsed. Its Debug shows no secret: the URL's password is masked, the
/// token, key and webhook secret are `SecretString`s.
pub struct Settings {
    /// DATABASE_URL, checked to be a PostgreSQL URL (`--database-url` overrides it).
    pub database_url: Option<String>,
    /// SOPROVOD_DATA_DIR: the embedded database and the backups (default `./.soprovod`).
    pub data_dir: PathBuf,
    /// FREE_LETTERS_PER_MONTH, PREMIUM_*, RATE_LIMIT_*, ADMIN_TELEGRAM_IDS, SUPPORT_CONTACT.
    pub bot: bot::Config,
    /// OPENAI_*.
    pub llm: llm::Settings,
    pub telegram: TelegramSettings,
    /// SOPROVOD_LOG: the log filter.
    pub log: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field(
                "database_url",
                &self.database_url.as_deref().map(crate::dbsource::redact),
            )
            .field("data_dir", &self.data_dir)
            .field("bot", &self.bot)
            .field("llm", &self.llm)
            .field("telegram", &self.telegram)
            .field("log", &self.log)
            .finish()
    }
}

/// What `serve` needs from the environment; the required parts are checked by `serve`.
#[derive(Debug)]
pub struct TelegramSettings {
    /// TELEGRAM_BOT_TOKEN.
    pub token: Option<SecretString>,
    /// TELEGRAM_API_URL (default Telegram's own).
    pub api_url: url::Url,
    /// TELEGRAM_WEBHOOK_SECRET, checked against Telegram's alphabet.
    pub webhook_secret: Option<SecretString>,
    /// TELEGRAM_WEBHOOK_URL (`--webhook-url` overrides it).
    pub webhook_url: Option<String>,
}

/// A variable with a value that cannot be used: which one, what is wrong, what to do.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct SettingError {
    pub name: &'static str,
    pub problem: String,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `get` (tests pass a map instead of the process environment).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let set = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let database_url = match set("DATABASE_URL") {
            Some(url) => Some(crate::dbsource::check_url(&url, "DATABASE_URL")?),
            None => None,
        };
        let data_dir = set("SOPROVOD_DATA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".soprovod"));
        let bot = bot::Config::from_lookup(&get)?;
        let llm = llm::Settings::from_lookup(&get)?;
        let api_url =
            telegram::serve::api_url(set("TELEGRAM_API_URL").as_deref()).map_err(|e| {
                SettingError {
                    name: "TELEGRAM_API_URL",
                    problem: format!("{e}; unset it to use https://api.telegram.org"),
                }
            })?;
        let webhook_secret = match set("TELEGRAM_WEBHOOK_SECRET") {
            Some(raw) => {
                Some(
                    telegram::transport::parse_secret(&raw).map_err(|e| SettingError {
                        name: "TELEGRAM_WEBHOOK_SECRET",
                        problem: e.to_string(),
                    })?,
                )
            }
            None => None,
        };
        Ok(Self {
            database_url,
            data_dir,
            bot,
            llm,
            telegram: TelegramSettings {
                token: set("TELEGRAM_BOT_TOKEN").map(SecretString::from),
                api_url,
                webhook_secret,
                webhook_url: set("TELEGRAM_WEBHOOK_URL"),
            },
            log: set("SOPROVOD_LOG"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Settings;
    use secrecy::ExposeSecret;

    fn from(vars: &[(&str, &str)]) -> anyhow::Result<Settings> {
        Settings::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn an_empty_environment_gives_the_defaults() {
        let s = from(&[]).unwrap();
        assert_eq!(s.database_url, None);
        assert_eq!(s.data_dir, std::path::PathBuf::from(".soprovod"));
        assert!(s.telegram.token.is_none() && s.llm.api_key.is_none());
        assert_eq!(s.telegram.api_url.as_str(), "https://api.telegram.org/");
    }

    #[test]
    fn every_part_is_read_from_one_environment() {
        let s = from(&[
            ("DATABASE_URL", "postgres://u:pw-in-url@h/db"),
            ("OPENAI_API_KEY", "sk-in-env"),
            ("SOPROVOD_DATA_DIR", "/var/lib/soprovod"),
            ("FREE_LETTERS_PER_MONTH", "7"),
            ("OPENAI_MODEL", "m"),
            ("TELEGRAM_BOT_TOKEN", " 1:abc "),
            ("TELEGRAM_WEBHOOK_SECRET", "s3cret"),
        ])
        .unwrap();
        assert_eq!(
            s.database_url.as_deref(),
            Some("postgres://u:pw-in-url@h/db")
        );
        assert_eq!(s.data_dir, std::path::PathBuf::from("/var/lib/soprovod"));
        assert_eq!(s.bot.quota.free_letters_per_month, 7);
        assert_eq!(s.llm.model, "m");
        assert_eq!(s.telegram.token.as_ref().unwrap().expose_secret(), "1:abc");
        let shown = format!("{s:?}");
        for secret in ["1:abc", "s3cret", "pw-in-url", "sk-in-env"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    #[test]
    fn a_bad_value_is_refused_naming_its_variable() {
        for (name, value) in [
            ("DATABASE_URL", "mysql://x"),
            ("FREE_LETTERS_PER_MONTH", "many"),
            ("OPENAI_TIMEOUT_SECS", "-1"),
            ("TELEGRAM_API_URL", "ftp://x"),
            ("TELEGRAM_WEBHOOK_SECRET", "has space"),
        ] {
            let e = from(&[(name, value)]).unwrap_err();
            assert!(format!("{e:#}").contains(name), "{name}: {e:#}");
        }
    }
}
