//! One `openai_requests` row per LLM call, successful or not.

use domain::{SessionId, UserId};
use sqlx::PgConnection;

use crate::StoreError;

/// Why the LLM was called (`openai_requests.request_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    LetterGeneration,
    LetterImprovement,
}

impl RequestType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LetterGeneration => "letter_generation",
            Self::LetterImprovement => "letter_improvement",
        }
    }
}

/// One call as the LLM client reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmCall {
    pub provider: String,
    pub model: String,
    pub request_type: RequestType,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
    pub total_tokens: Option<i32>,
    pub response_time_ms: i32,
    pub success: bool,
    /// A short description without request or response text.
    pub error_message: Option<String>,
}

pub async fn record(
    conn: &mut PgConnection,
    user: UserId,
    session: Option<SessionId>,
    call: &LlmCall,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO openai_requests (user_id, session_id, provider, model, request_type, prompt_tokens,
                                      completion_tokens, total_tokens, response_time_ms, success, error_message)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(user.get())
    .bind(session.map(|s| s.get()))
    .bind(&call.provider)
    .bind(&call.model)
    .bind(call.request_type.as_str())
    .bind(call.prompt_tokens)
    .bind(call.completion_tokens)
    .bind(call.total_tokens)
    .bind(call.response_time_ms)
    .bind(call.success)
    .bind(&call.error_message)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
