//! The chat-completions client: one request per attempt, retries with backoff on 429, 5xx and
//! timeouts (waiting at least what a 429/503's `Retry-After` asks, up to a bound), then one
//! attempt with the fallback model. Every attempt becomes a [`CallRecord`].

use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use crate::{clean_letter, prompt, quality, CallRecord, Failure, Letter, LlmError, Settings, Task};

/// An OpenAI-compatible client.
#[derive(Debug, Clone)]
pub struct Client {
    /// The HTTP client, or why it could not be built (every call then fails with that reason,
    /// rather than running on a default client without the configured timeouts).
    http: Result<reqwest::Client, String>,
    settings: Settings,
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
struct Usage {
    prompt_tokens: Option<i32>,
    completion_tokens: Option<i32>,
    total_tokens: Option<i32>,
}

struct Reply {
    content: String,
    usage: Option<Usage>,
}

/// One request's outcome, how long it took, and how long the server asked us to wait before the
/// next one (`Retry-After` on a 429 or 503).
struct Attempt {
    result: Result<Reply, LlmError>,
    elapsed: Duration,
    retry_after: Option<Duration>,
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3); a date in the past is 0.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

impl Client {
    pub fn new(settings: Settings) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| e.to_string());
        Self { http, settings }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    async fn call(&self, model: &str, system: &str, user: &str, temperature: f64) -> Attempt {
        let started = Instant::now();
        let http = match &self.http {
            Ok(http) => http,
            Err(why) => {
                return Attempt {
                    result: Err(LlmError::ClientSetup(why.clone())),
                    elapsed: started.elapsed(),
                    retry_after: None,
                }
            }
        };
        let body = json!({
            "model": model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "temperature": temperature,
            "max_tokens": 1200,
        });
        let mut request = http
            .post(format!("{}/chat/completions", self.settings.base_url))
            .timeout(self.settings.timeout)
            .json(&body);
        if let Some(key) = &self.settings.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let mut wait = None;
        let result = async {
            let response = request.send().await.map_err(|e| self.transport_error(&e))?;
            let status = response.status();
            if matches!(status.as_u16(), 429 | 503) {
                wait = retry_after(response.headers());
            }
            if !status.is_success() {
                return Err(LlmError::Status(status.as_u16()));
            }
            let bytes = response
                .bytes()
                .await
                .map_err(|e| self.transport_error(&e))?;
            let parsed: Completion = serde_json::from_slice(&bytes).map_err(|e| {
                LlmError::Malformed(format!("line {} column {}", e.line(), e.column()))
            })?;
            let content = parsed
                .choices
                .into_iter()
                .next()
                .ok_or_else(|| LlmError::Malformed("no choices".into()))?
                .message
                .content
                .unwrap_or_default();
            Ok(Reply {
                content,
                usage: parsed.usage,
            })
        }
        .await;
        Attempt {
            result,
            elapsed: started.elapsed(),
            retry_after: wait,
        }
    }

    fn transport_error(&self, e: &reqwest::Error) -> LlmError {
        if e.is_timeout() {
            LlmError::Timeout(self.settings.timeout)
        } else {
            LlmError::Unreachable
        }
    }

    fn record(
        &self,
        model: &str,
        task: &Task<'_>,
        elapsed: Duration,
        usage: Option<Usage>,
        error: Option<&LlmError>,
    ) -> CallRecord {
        CallRecord {
            provider: self.settings.provider.clone(),
            model: model.to_string(),
            kind: task.kind(),
            prompt_tokens: usage.and_then(|u| u.prompt_tokens),
            completion_tokens: usage.and_then(|u| u.completion_tokens),
            total_tokens: usage.and_then(|u| u.total_tokens),
            response_time_ms: elapsed.as_millis().min(i32::MAX as u128) as i32,
            success: error.is_none(),
            error: error.map(|e| e.to_string()),
        }
    }

    /// The letter, or — when it fails an objective check — the model's second attempt with the
    /// problems named; the first stands when the second call fails or does no better.
    async fn checked(
        &self,
        task: &Task<'_>,
        model: &str,
        user: &str,
        temperature: f64,
        text: String,
        calls: &mut Vec<CallRecord>,
    ) -> String {
        if !self.settings.check_letters {
            return text;
        }
        let found = quality::problems(task, &text);
        if found.is_empty() {
            return text;
        }
        tracing::info!(model = %model, problems = found.len(), "letter failed a check; asking once more");
        let (system, _) = prompt::messages(task);
        let again = format!("{user}{}", quality::correction(task, &found));
        let Attempt {
            result, elapsed, ..
        } = self.call(model, &system, &again, temperature).await;
        let (outcome, usage) = match result {
            Ok(reply) => (clean_letter(&reply.content), reply.usage),
            Err(e) => (Err(e), None),
        };
        calls.push(self.record(model, task, elapsed, usage, outcome.as_ref().err()));
        match outcome {
            Ok(second) if quality::problems(task, &second).len() <= found.len() => second,
            _ => text,
        }
    }

    /// Writes the letter of `task`, trying the main model up to `1 + retries` times and then the
    /// fallback model once.
    pub async fn write(&self, task: &Task<'_>) -> Result<Letter, Failure> {
        let started = Instant::now();
        let (system, user) = prompt::messages(task);
        let temperature = match task {
            Task::Letter { variant, .. } if *variant > 0 => 0.9,
            _ => 0.7,
        };
        let mut models = vec![(self.settings.model.clone(), 1 + self.settings.retries)];
        if let Some(fallback) = self
            .settings
            .fallback_model
            .as_ref()
            .filter(|f| **f != self.settings.model)
        {
            models.push((fallback.clone(), 1));
        }
        let mut calls = Vec::new();
        let mut last_error = LlmError::Unreachable;
        for (model, attempts) in models {
            for attempt in 0..attempts {
                let Attempt {
                    result,
                    elapsed,
                    retry_after,
                } = self.call(&model, &system, &user, temperature).await;
                let (outcome, usage) = match result {
                    Ok(reply) => (clean_letter(&reply.content), reply.usage),
                    Err(e) => (Err(e), None),
                };
                calls.push(self.record(&model, task, elapsed, usage, outcome.as_ref().err()));
                tracing::info!(
                    model = %model,
                    attempt = attempt + 1,
                    ms = elapsed.as_millis() as u64,
                    ok = outcome.is_ok(),
                    "model call finished"
                );
                match outcome {
                    Ok(text) => {
                        let text = self
                            .checked(task, &model, &user, temperature, text, &mut calls)
                            .await;
                        return Ok(Letter {
                            text,
                            model,
                            seconds: started.elapsed().as_secs_f64(),
                            calls,
                            offline: false,
                        });
                    }
                    Err(e) => {
                        tracing::warn!(model = %model, attempt = attempt + 1, error = %e, "LLM call failed");
                        let retry = e.retryable() && attempt + 1 < attempts;
                        last_error = e;
                        if !retry {
                            break;
                        }
                        let backoff = self.settings.backoff * 2u32.saturating_pow(attempt);
                        let pause = match retry_after {
                            // Asked to wait longer than the user should: this model is done, the
                            // fallback (another model, maybe another limit) is tried at once.
                            Some(asked) if asked > self.settings.max_retry_after => {
                                tracing::warn!(model = %model, retry_after_secs = asked.as_secs(), "the LLM endpoint asked to wait too long; not retrying this model");
                                break;
                            }
                            Some(asked) => asked.max(backoff),
                            None => backoff,
                        };
                        tokio::time::sleep(pause).await;
                    }
                }
            }
        }
        Err(Failure {
            error: last_error,
            calls,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}
