//! The cover-letter writer: an OpenAI-compatible chat-completions client and the offline composer.
//!
//! [`Writer::write`] turns a [`Task`] (a first letter, another variant, or an improvement of the
//! latest version) into a clean letter, and reports every LLM call it made so the caller can store
//! one `openai_requests` row per call. Nothing here logs request or response text.

mod clean;
mod client;
mod offline;
mod prompt;
mod quality;
mod settings;

pub use clean::clean_letter;
pub use client::Client;
pub use offline::{
    compose as offline_compose, improve as offline_improve, plural_ru, writes_russian, Unapplied,
};
pub use quality::{problems as letter_problems, Problem};
pub use settings::{ApiKey, Settings, SettingsError};

use std::time::Duration;

/// What to write.
#[derive(Clone, Copy)]
pub enum Task<'a> {
    /// A letter from the vacancy and the resume; `variant` > 0 asks for a different take.
    Letter {
        vacancy: &'a str,
        resume: &'a str,
        variant: u32,
    },
    /// A new version of `latest` changed as `request` says.
    Improve {
        vacancy: &'a str,
        resume: &'a str,
        latest: &'a str,
        request: &'a str,
    },
}

impl Task<'_> {
    pub fn kind(&self) -> Kind {
        match self {
            Self::Letter { .. } => Kind::Generation,
            Self::Improve { .. } => Kind::Improvement,
        }
    }

    fn vacancy(&self) -> &str {
        match self {
            Self::Letter { vacancy, .. } | Self::Improve { vacancy, .. } => vacancy,
        }
    }
}

/// `openai_requests.request_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Generation,
    Improvement,
}

/// One HTTP call to the LLM, as a row of `openai_requests` needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub provider: String,
    pub model: String,
    pub kind: Kind,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
    pub total_tokens: Option<i32>,
    pub response_time_ms: i32,
    pub success: bool,
    /// Short and free of request or response text.
    pub error: Option<String>,
}

/// A written letter.
#[derive(Clone)]
pub struct Letter {
    pub text: String,
    pub model: String,
    /// Wall time of the whole generation, retries included, in fractional seconds.
    pub seconds: f64,
    pub calls: Vec<CallRecord>,
    /// Written by the offline composer, not by a model.
    pub offline: bool,
}

impl std::fmt::Debug for Letter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Letter")
            .field("chars", &self.text.chars().count())
            .field("model", &self.model)
            .field("seconds", &self.seconds)
            .field("calls", &self.calls.len())
            .finish()
    }
}

/// Why one call did not give a letter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    #[error("the LLM endpoint answered HTTP {0}")]
    Status(u16),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot reach the LLM endpoint")]
    Unreachable,
    #[error("the HTTP client could not be set up: {0}")]
    ClientSetup(String),
    #[error("the answer is not a chat-completions response ({0})")]
    Malformed(String),
    #[error("the answer holds no letter ({0})")]
    NoLetter(&'static str),
    /// The offline composer cannot apply this improvement request; nothing was written.
    #[error("the offline composer cannot apply the request")]
    Unapplied(Unapplied),
}

impl LlmError {
    /// Worth the same request again after a pause (bot.md: 429, 5xx, timeouts).
    pub fn retryable(&self) -> bool {
        match self {
            Self::Status(s) => *s == 429 || *s == 408 || *s >= 500,
            Self::Timeout(_) | Self::Unreachable => true,
            Self::Malformed(_) | Self::NoLetter(_) | Self::Unapplied(_) | Self::ClientSetup(_) => {
                false
            }
        }
    }
}

/// Every call failed.
#[derive(Debug, Clone)]
pub struct Failure {
    pub error: LlmError,
    pub calls: Vec<CallRecord>,
    pub seconds: f64,
}

/// The letter writer of the product: the remote model, or the offline composer without an API key.
#[derive(Debug, Clone)]
pub enum Writer {
    Remote(Client),
    Offline,
}

impl Writer {
    /// The remote client when an API key is configured, else the offline composer.
    pub fn from_settings(settings: Settings) -> Self {
        if settings.api_key.is_some() {
            Self::Remote(Client::new(settings))
        } else {
            Self::Offline
        }
    }

    pub fn is_offline(&self) -> bool {
        matches!(self, Self::Offline)
    }

    pub async fn write(&self, task: &Task<'_>) -> Result<Letter, Failure> {
        match self {
            Self::Remote(client) => client.write(task).await,
            Self::Offline => {
                let started = std::time::Instant::now();
                let text = offline::write(task).map_err(|u| Failure {
                    error: LlmError::Unapplied(u),
                    calls: Vec::new(),
                    seconds: started.elapsed().as_secs_f64(),
                })?;
                Ok(Letter {
                    text,
                    model: offline::MODEL.to_string(),
                    seconds: started.elapsed().as_secs_f64(),
                    calls: Vec::new(),
                    offline: true,
                })
            }
        }
    }
}
