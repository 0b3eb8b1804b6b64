//! LLM settings from the variables OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL,
//! OPENAI_FALLBACK_MODEL, OPENAI_TIMEOUT_SECS, OPENAI_CHECK_LETTERS, looked up through whatever
//! the caller gives (the crate never reads the process environment itself).

use std::time::Duration;

/// The API key: its Debug prints `[REDACTED]`, it has no Display, and it is wiped when dropped.
pub type ApiKey = secrecy::SecretString;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{name} must be {what}, got {value:?}")]
    Invalid {
        name: &'static str,
        what: &'static str,
        value: String,
    },
}

/// How to reach the model and how patient to be.
#[derive(Debug, Clone)]
pub struct Settings {
    pub api_key: Option<ApiKey>,
    /// Base URL up to and including `/v1`.
    pub base_url: String,
    pub model: String,
    /// Tried once after the main model failed every attempt; None or the same model skips it.
    pub fallback_model: Option<String>,
    /// Per request.
    pub timeout: Duration,
    /// Extra attempts of the main model after a 429, a 5xx or a timeout.
    pub retries: u32,
    /// First pause before a retry; doubled each time.
    pub backoff: Duration,
    /// The longest `Retry-After` waited out before a retry; a longer one ends this model's
    /// retries (the fallback model is tried at once).
    pub max_retry_after: Duration,
    /// Name stored in `openai_requests.provider`.
    pub provider: String,
    /// Run the objective letter checks on the model's letter and regenerate once when they fail
    /// (`OPENAI_CHECK_LETTERS=off` disables them).
    pub check_letters: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            api_key: None,
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o".into(),
            fallback_model: Some("gpt-4o-mini".into()),
            timeout: Duration::from_secs(60),
            retries: 2,
            backoff: Duration::from_millis(800),
            max_retry_after: Duration::from_secs(20),
            provider: "openai".into(),
            check_letters: true,
        }
    }
}

impl Settings {
    /// Reads the variables through `get` (the cli passes the environment it read once at
    /// startup; tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |n: &str| {
            get(n)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut s = Self {
            api_key: get("OPENAI_API_KEY").map(ApiKey::from),
            ..Self::default()
        };
        if let Some(url) = get("OPENAI_BASE_URL") {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(SettingsError::Invalid {
                    name: "OPENAI_BASE_URL",
                    what: "an http(s) URL",
                    value: url,
                });
            }
            s.base_url = url.trim_end_matches('/').to_string();
        }
        if let Some(m) = get("OPENAI_MODEL") {
            s.model = m;
        }
        if let Some(m) = get("OPENAI_FALLBACK_MODEL") {
            s.fallback_model = if m == "none" { None } else { Some(m) };
        }
        if let Some(v) = get("OPENAI_CHECK_LETTERS") {
            s.check_letters = match v.to_ascii_lowercase().as_str() {
                "on" | "1" | "true" | "yes" => true,
                "off" | "0" | "false" | "no" => false,
                _ => {
                    return Err(SettingsError::Invalid {
                        name: "OPENAI_CHECK_LETTERS",
                        what: "on or off",
                        value: v,
                    })
                }
            };
        }
        if let Some(t) = get("OPENAI_TIMEOUT_SECS") {
            let secs: f64 = t
                .parse()
                .ok()
                .filter(|v: &f64| *v > 0.0 && *v <= 600.0)
                .ok_or(SettingsError::Invalid {
                    name: "OPENAI_TIMEOUT_SECS",
                    what: "seconds between 0 and 600",
                    value: t,
                })?;
            s.timeout = Duration::from_secs_f64(secs);
        }
        Ok(s)
    }
}
