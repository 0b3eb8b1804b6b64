//! The engine's settings (variables of cli.md), parsed into typed values from whatever lookup
//! the caller gives: the crate never reads the process environment itself.

use domain::ratelimit::{self, RateRule};
use domain::{QuotaRules, TelegramUserId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} must be {what}, got {value:?}")]
    Invalid {
        name: &'static str,
        what: &'static str,
        value: String,
    },
}

/// How the product behaves: plans, price, admins.
#[derive(Debug, Clone)]
pub struct Config {
    pub quota: QuotaRules,
    /// Price of one premium period in Telegram Stars (PREMIUM_PRICE_STARS).
    pub premium_price_stars: u32,
    pub premium_days: i64,
    /// ADMIN_TELEGRAM_IDS: exempt from rate limits, may use admin commands.
    pub admins: Vec<TelegramUserId>,
    /// Commands a user may send per minute (RATE_LIMIT_COMMANDS, bot.md: 5).
    pub commands_rate: RateRule,
    /// Generations a user may start per 5 minutes (RATE_LIMIT_GENERATIONS, bot.md: 3).
    pub generations_rate: RateRule,
    /// A generation older than this is taken for interrupted (the process died mid-way).
    pub stale_generation_after: chrono::Duration,
    /// Version of the privacy policy recorded with consent.
    pub consent_version: String,
    /// SUPPORT_CONTACT: where /support points, if set.
    pub support_contact: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            quota: QuotaRules::default(),
            premium_price_stars: 150,
            premium_days: domain::plan::PREMIUM_PERIOD_DAYS,
            admins: Vec::new(),
            commands_rate: ratelimit::COMMANDS,
            generations_rate: ratelimit::GENERATIONS,
            stale_generation_after: chrono::Duration::minutes(5),
            consent_version: "2026-01".into(),
            support_contact: None,
        }
    }
}

fn positive(name: &'static str, raw: String) -> Result<u32, ConfigError> {
    raw.parse::<u32>()
        .ok()
        .filter(|v| *v > 0 && *v <= 100_000)
        .ok_or(ConfigError::Invalid {
            name,
            what: "a positive integer",
            value: raw,
        })
}

impl Config {
    /// Reads the variables through `get` (the cli passes the environment it read once at
    /// startup; tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |n: &str| {
            get(n)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut c = Self::default();
        if let Some(v) = get("FREE_LETTERS_PER_MONTH") {
            c.quota.free_letters_per_month = positive("FREE_LETTERS_PER_MONTH", v)? as i32;
        }
        if let Some(v) = get("PREMIUM_LETTERS_PER_DAY") {
            c.quota.premium_letters_per_day = positive("PREMIUM_LETTERS_PER_DAY", v)? as i32;
        }
        if let Some(v) = get("PREMIUM_PRICE_STARS") {
            c.premium_price_stars = positive("PREMIUM_PRICE_STARS", v)?;
        }
        if let Some(v) = get("RATE_LIMIT_COMMANDS") {
            c.commands_rate.max = positive("RATE_LIMIT_COMMANDS", v)? as usize;
        }
        if let Some(v) = get("RATE_LIMIT_GENERATIONS") {
            c.generations_rate.max = positive("RATE_LIMIT_GENERATIONS", v)? as usize;
        }
        if let Some(v) = get("ADMIN_TELEGRAM_IDS") {
            for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let id = part
                    .parse::<i64>()
                    .ok()
                    .and_then(|n| TelegramUserId::parse(n).ok())
                    .ok_or(ConfigError::Invalid {
                        name: "ADMIN_TELEGRAM_IDS",
                        what: "comma-separated Telegram user ids",
                        value: part.to_string(),
                    })?;
                c.admins.push(id);
            }
        }
        c.support_contact = get("SUPPORT_CONTACT");
        Ok(c)
    }

    pub fn is_admin(&self, id: TelegramUserId) -> bool {
        self.admins.contains(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_parsed_and_bad_values_refused() {
        let c = Config::from_lookup(|n| match n {
            "FREE_LETTERS_PER_MONTH" => Some("5".into()),
            "PREMIUM_PRICE_STARS" => Some(" 99 ".into()),
            "ADMIN_TELEGRAM_IDS" => Some("12, 34".into()),
            "RATE_LIMIT_GENERATIONS" => Some("40".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.generations_rate.max, 40);
        assert_eq!(c.generations_rate.window, chrono::Duration::seconds(300));
        assert_eq!(c.commands_rate, domain::ratelimit::COMMANDS);
        assert_eq!(c.quota.free_letters_per_month, 5);
        assert_eq!(c.quota.premium_letters_per_day, 20);
        assert_eq!(c.premium_price_stars, 99);
        assert!(c.is_admin(TelegramUserId::parse(34).unwrap()));
        assert!(
            Config::from_lookup(|n| (n == "PREMIUM_PRICE_STARS").then(|| "-1".into())).is_err()
        );
        assert!(Config::from_lookup(|n| (n == "ADMIN_TELEGRAM_IDS").then(|| "x".into())).is_err());
        assert!(Config::from_lookup(|n| (n == "RATE_LIMIT_COMMANDS").then(|| "0".into())).is_err());
    }
}
