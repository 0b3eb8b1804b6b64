//! Letters: sessions (`letter_sessions`), their improvements (`letter_iterations`) and ratings
//! (`letter_feedback`).

use chrono::{DateTime, Utc};
use domain::{SessionId, SessionStatus, UserId};
use sqlx::PgConnection;

use crate::StoreError;

/// A letter session as the engine reads it back.
#[derive(Clone, PartialEq)]
pub struct Session {
    pub id: SessionId,
    pub user: UserId,
    pub status: SessionStatus,
    pub job_description: String,
    pub resume_text: Option<String>,
    pub generated_letter: Option<String>,
    pub max_iterations: i32,
    pub iterations_used: i32,
}

// Sizes only: the texts must never reach a log.
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("status", &self.status)
            .field("iterations", &(self.iterations_used, self.max_iterations))
            .finish_non_exhaustive()
    }
}

/// A new session holding the vacancy (and the resume, for another variant of a letter).
pub async fn create(
    conn: &mut PgConnection,
    user: UserId,
    vacancy: &str,
    resume: Option<&str>,
    max_iterations: i32,
    now: DateTime<Utc>,
) -> Result<SessionId, StoreError> {
    let id = SessionId::new_random();
    sqlx::query(
        "INSERT INTO letter_sessions (id, user_id, status, job_description, resume_text, max_iterations, created_at)
         VALUES ($1, $2, 'started', $3, $4, $5, $6)",
    )
    .bind(id.get())
    .bind(user.get())
    .bind(vacancy)
    .bind(resume)
    .bind(max_iterations)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

type SessionRow = (
    UserId,
    SessionStatus,
    Option<String>,
    Option<String>,
    Option<String>,
    i32,
    i32,
);

pub async fn get(conn: &mut PgConnection, id: SessionId) -> Result<Option<Session>, StoreError> {
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT user_id, status, job_description, resume_text, generated_letter, max_iterations, iterations_used
         FROM letter_sessions WHERE id = $1",
    )
    .bind(id.get())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Session {
            id,
            user: r.0,
            status: r.1,
            job_description: r.2.unwrap_or_default(),
            resume_text: r.3,
            generated_letter: r.4,
            max_iterations: r.5,
            iterations_used: r.6,
        })
    })
    .transpose()
}

/// Stores the resume on the session.
pub async fn set_resume(
    conn: &mut PgConnection,
    id: SessionId,
    resume: &str,
    max_iterations: i32,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE letter_sessions SET resume_text = $2, max_iterations = $3 WHERE id = $1")
        .bind(id.get())
        .bind(resume)
        .bind(max_iterations)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Marks the session generating with the improvements its plan allows (and the resume, if given);
/// returns its vacancy and resume.
pub async fn start_generating(
    conn: &mut PgConnection,
    id: SessionId,
    resume: Option<&str>,
    max_iterations: i32,
) -> Result<Option<(String, String)>, StoreError> {
    let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "UPDATE letter_sessions SET status = 'generating', resume_text = coalesce($2, resume_text), max_iterations = $3
         WHERE id = $1 RETURNING job_description, resume_text",
    )
    .bind(id.get())
    .bind(resume)
    .bind(max_iterations)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(v, r)| (v.unwrap_or_default(), r.unwrap_or_default())))
}

/// Sets the status.
pub async fn set_status(
    conn: &mut PgConnection,
    id: SessionId,
    status: SessionStatus,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE letter_sessions SET status = $2 WHERE id = $1")
        .bind(id.get())
        .bind(status)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Marks the user's unfinished sessions abandoned (the user moved on).
pub async fn abandon_unfinished(conn: &mut PgConnection, user: UserId) -> Result<(), StoreError> {
    sqlx::query("UPDATE letter_sessions SET status = 'abandoned' WHERE user_id = $1 AND status IN ('started', 'generating', 'failed')")
        .bind(user.get())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Stores the first letter of a session.
pub async fn complete(
    conn: &mut PgConnection,
    id: SessionId,
    letter: &str,
    generation_time_seconds: f64,
    model: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE letter_sessions SET status = 'completed', generated_letter = $2, generation_time_seconds = $3,
                model_used = $4, completed_at = $5
         WHERE id = $1",
    )
    .bind(id.get())
    .bind(letter)
    .bind(generation_time_seconds)
    .bind(model)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every first letter this user already has for exactly this vacancy and resume, oldest first:
/// another variant must differ from all of them.
pub async fn letters_for_inputs(
    conn: &mut PgConnection,
    user: UserId,
    vacancy: &str,
    resume: &str,
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT generated_letter FROM letter_sessions
         WHERE user_id = $1 AND job_description = $2 AND resume_text = $3
           AND generated_letter IS NOT NULL
         ORDER BY created_at, id",
    )
    .bind(user.get())
    .bind(vacancy)
    .bind(resume)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(t,)| t).collect())
}

/// The latest version of the letter: (iteration number, text), 0 being the first letter.
pub async fn latest_version(
    conn: &mut PgConnection,
    id: SessionId,
) -> Result<Option<(i32, String)>, StoreError> {
    let row: Option<(i32, Option<String>)> = sqlx::query_as(
        "SELECT coalesce(i.iteration_number, 0), coalesce(i.generated_letter, s.generated_letter)
         FROM letter_sessions s
         LEFT JOIN LATERAL (
             SELECT iteration_number, generated_letter FROM letter_iterations
             WHERE session_id = s.id ORDER BY iteration_number DESC LIMIT 1
         ) i ON true
         WHERE s.id = $1",
    )
    .bind(id.get())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.and_then(|(n, text)| text.map(|t| (n, t))))
}

/// One improvement of a letter, as written.
#[derive(Clone, Copy)]
pub struct NewIteration<'a> {
    pub request: &'a str,
    pub letter: &'a str,
    pub generation_time_seconds: f64,
    pub model: &'a str,
}

/// Records one improvement if the session has one left; returns its iteration number.
pub async fn add_iteration(
    conn: &mut PgConnection,
    id: SessionId,
    user: UserId,
    it: NewIteration<'_>,
    now: DateTime<Utc>,
) -> Result<Option<i32>, StoreError> {
    let n: Option<i32> = sqlx::query_scalar(
        "UPDATE letter_sessions SET iterations_used = iterations_used + 1
         WHERE id = $1 AND iterations_used < max_iterations RETURNING iterations_used",
    )
    .bind(id.get())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(n) = n else { return Ok(None) };
    sqlx::query(
        "INSERT INTO letter_iterations (session_id, user_id, iteration_number, improvement_request, generated_letter,
                                        generation_time_seconds, model_used, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id.get())
    .bind(user.get())
    .bind(n)
    .bind(it.request)
    .bind(it.letter)
    .bind(it.generation_time_seconds)
    .bind(it.model)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(Some(n))
}

/// Like or dislike of a letter version: a second press changes the rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    Like,
    Dislike,
}

impl Feedback {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Like => "like",
            Self::Dislike => "dislike",
        }
    }
}

pub async fn upsert_feedback(
    conn: &mut PgConnection,
    id: SessionId,
    user: UserId,
    iteration_number: i32,
    feedback: Feedback,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO letter_feedback (session_id, user_id, iteration_number, feedback_type, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (session_id, iteration_number) DO UPDATE SET feedback_type = EXCLUDED.feedback_type, created_at = EXCLUDED.created_at",
    )
    .bind(id.get())
    .bind(user.get())
    .bind(iteration_number)
    .bind(feedback.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Erases every letter of the user with its vacancy, resume, improvements and ratings
/// (`/delete_me`); analytics rows keep only ids. Returns the number of letters deleted (sessions
/// that got as far as a letter; a vacancy still waiting for its resume is deleted but is no letter).
pub async fn delete_all_of(conn: &mut PgConnection, user: UserId) -> Result<u64, StoreError> {
    let letters: i64 = sqlx::query_scalar(
        "WITH gone AS (DELETE FROM letter_sessions WHERE user_id = $1 RETURNING generated_letter)
         SELECT count(generated_letter) FROM gone",
    )
    .bind(user.get())
    .fetch_one(&mut *conn)
    .await?;
    // Iterations and ratings cascade with their session; these catch rows whose session is gone.
    sqlx::query("DELETE FROM letter_iterations WHERE user_id = $1")
        .bind(user.get())
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM letter_feedback WHERE user_id = $1")
        .bind(user.get())
        .execute(&mut *conn)
        .await?;
    Ok(u64::try_from(letters).unwrap_or(0))
}

/// How many letters the user has started, to number variants.
pub async fn count_of(conn: &mut PgConnection, user: UserId) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM letter_sessions WHERE user_id = $1")
            .bind(user.get())
            .fetch_one(&mut *conn)
            .await?,
    )
}
