//! The data contract of shared/spec/schema.md, checked against the catalog of a fresh database.

use std::collections::BTreeMap;

use sqlx::PgPool;

async fn declared_db() -> PgPool {
    testkit::db_with("declared", &store::declared_sql())
        .await
        .pool()
        .await
}

/// (table, column) -> (data type as format_type prints it, not null)
async fn columns(pool: &PgPool) -> BTreeMap<(String, String), (String, bool)> {
    let rows: Vec<(String, String, String, bool)> = sqlx::query_as(
        "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(t, c, ty, nn)| ((t, c), (ty, nn)))
        .collect()
}

/// A contract column: name, type, NOT NULL.
type ContractColumn = (&'static str, &'static str, bool);

/// Every column schema.md lists, with its type and whether it is NOT NULL.
const CONTRACT: &[(&str, &[ContractColumn])] = &[
    (
        "users",
        &[
            ("id", "bigint", true),
            ("telegram_user_id", "bigint", true),
            ("username", "text", false),
            ("first_name", "text", false),
            ("last_name", "text", false),
            ("language_code", "text", false),
            ("is_test", "boolean", true),
            ("consent_given_at", "timestamp with time zone", false),
            ("consent_version", "text", false),
            ("marketing_consent", "boolean", true),
            ("last_activity_at", "timestamp with time zone", false),
            ("created_at", "timestamp with time zone", true),
        ],
    ),
    (
        "letter_sessions",
        &[
            ("id", "uuid", true),
            ("user_id", "bigint", true),
            ("status", "text", true),
            ("job_description", "text", false),
            ("resume_text", "text", false),
            ("generated_letter", "text", false),
            ("generation_time_seconds", "double precision", false),
            ("model_used", "text", false),
            ("max_iterations", "integer", true),
            ("iterations_used", "integer", true),
            ("created_at", "timestamp with time zone", true),
            ("completed_at", "timestamp with time zone", false),
        ],
    ),
    (
        "letter_iterations",
        &[
            ("id", "bigint", true),
            ("session_id", "uuid", true),
            ("user_id", "bigint", true),
            ("iteration_number", "integer", true),
            ("improvement_request", "text", false),
            ("generated_letter", "text", false),
            ("generation_time_seconds", "double precision", false),
            ("model_used", "text", false),
            ("created_at", "timestamp with time zone", true),
        ],
    ),
    (
        "letter_feedback",
        &[
            ("id", "bigint", true),
            ("session_id", "uuid", true),
            ("user_id", "bigint", true),
            ("iteration_number", "integer", true),
            ("feedback_type", "text", true),
            ("created_at", "timestamp with time zone", true),
        ],
    ),
    (
        "subscriptions",
        &[
            ("id", "bigint", true),
            ("user_id", "bigint", true),
            ("plan_type", "text", true),
            ("status", "text", true),
            ("letters_limit", "integer", true),
            ("letters_used", "integer", true),
            ("quota_window_start", "timestamp with time zone", true),
            ("quota_window_end", "timestamp with time zone", true),
            ("period_start", "timestamp with time zone", false),
            ("period_end", "timestamp with time zone", false),
            ("created_at", "timestamp with time zone", true),
            ("updated_at", "timestamp with time zone", true),
        ],
    ),
    (
        "subscriptions_backup",
        &[
            ("user_id", "bigint", false),
            ("plan_type", "text", false),
            ("period_end", "timestamp with time zone", false),
        ],
    ),
    (
        "payments",
        &[
            ("id", "bigint", true),
            ("user_id", "bigint", true),
            ("provider", "text", true),
            ("provider_payment_id", "text", true),
            ("amount_minor", "bigint", true),
            ("currency", "text", true),
            ("status", "text", true),
            ("plan_type", "text", true),
            ("period_days", "integer", true),
            ("metadata", "jsonb", true),
            ("created_at", "timestamp with time zone", true),
            ("updated_at", "timestamp with time zone", true),
        ],
    ),
    (
        "acquisition_channels",
        &[
            ("id", "bigint", true),
            ("user_id", "bigint", true),
            ("telegram_start_param", "text", false),
            ("utm_source", "text", false),
            ("utm_medium", "text", false),
            ("utm_campaign", "text", false),
            ("utm_content", "text", false),
            ("referral_user_id", "bigint", false),
            ("created_at", "timestamp with time zone", true),
        ],
    ),
    (
        "openai_requests",
        &[
            ("id", "bigint", true),
            ("user_id", "bigint", false),
            ("session_id", "uuid", false),
            ("provider", "text", true),
            ("model", "text", true),
            ("request_type", "text", true),
            ("prompt_tokens", "integer", false),
            ("completion_tokens", "integer", false),
            ("total_tokens", "integer", false),
            ("response_time_ms", "integer", true),
            ("success", "boolean", true),
            ("error_message", "text", false),
            ("created_at", "timestamp with time zone", true),
        ],
    ),
    (
        "user_events",
        &[
            ("id", "bigint", true),
            ("user_id", "bigint", false),
            ("event_type", "text", true),
            ("session_id", "uuid", false),
            ("event_data", "jsonb", true),
            ("created_at", "timestamp with time zone", true),
        ],
    ),
];

const VIEWS: &[(&str, &[&str])] = &[
    (
        "user_stats",
        &["total_users", "users_today", "users_week", "users_month"],
    ),
    (
        "session_stats",
        &[
            "status",
            "model_used",
            "sessions",
            "avg_generation_time_seconds",
            "avg_letter_length",
            "avg_resume_length",
            "avg_job_description_length",
        ],
    ),
    ("user_activity", &["active_users", "total_events"]),
    (
        "openai_usage",
        &[
            "model",
            "requests",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "avg_response_time_ms",
            "success_rate",
        ],
    ),
    (
        "user_cohorts_basic",
        &[
            "cohort_month",
            "acquisition_channel",
            "cohort_size",
            "activated_users",
            "premium_users",
            "avg_days_to_first_generation",
        ],
    ),
];

#[tokio::test]
async fn every_table_and_column_of_the_contract_exists_with_its_type() {
    let pool = declared_db().await;
    let cols = columns(&pool).await;
    let mut problems = Vec::new();
    for (table, expected) in CONTRACT {
        for (column, ty, not_null) in expected.iter() {
            match cols.get(&(table.to_string(), column.to_string())) {
                None => problems.push(format!("{table}.{column} is missing")),
                Some((actual, nn)) if actual != ty || nn != not_null => {
                    problems.push(format!("{table}.{column} is {actual} (not null: {nn}), expected {ty} (not null: {not_null})"))
                }
                Some(_) => {}
            }
        }
    }
    assert!(
        problems.is_empty(),
        "contract violations:\n{}",
        problems.join("\n")
    );
}

#[tokio::test]
async fn every_column_pointing_at_a_user_is_bigint() {
    let pool = declared_db().await;
    let cols = columns(&pool).await;
    let user_columns: Vec<_> = cols
        .iter()
        .filter(|((_, c), _)| c.ends_with("user_id") && c != "telegram_user_id")
        .collect();
    assert!(
        user_columns.len() >= 10,
        "found only {} user-id columns",
        user_columns.len()
    );
    for ((table, column), (ty, _)) in user_columns {
        assert_eq!(ty, "bigint", "{table}.{column}");
    }
}

#[tokio::test]
async fn the_columns_removed_by_v9_5_do_not_exist() {
    let pool = declared_db().await;
    let cols = columns(&pool).await;
    assert!(!cols.contains_key(&("users".into(), "total_generations".into())));
    assert!(!cols.contains_key(&("users".into(), "updated_at".into())));
    assert_eq!(
        cols[&(
            "letter_sessions".to_string(),
            "generation_time_seconds".to_string()
        )]
            .0,
        "double precision"
    );
}

#[tokio::test]
async fn the_five_views_exist_with_their_columns_and_answer() {
    let pool = declared_db().await;
    let cols = columns(&pool).await;
    for (view, expected) in VIEWS {
        let kind: String = sqlx::query_scalar("SELECT relkind::text FROM pg_class WHERE relname = $1 AND relnamespace = 'public'::regnamespace")
            .bind(view)
            .fetch_one(&pool)
            .await
            .unwrap_or_else(|e| panic!("view {view}: {e}"));
        assert_eq!(kind, "v", "{view} is a view");
        for column in expected.iter() {
            assert!(
                cols.contains_key(&(view.to_string(), column.to_string())),
                "{view}.{column} is missing"
            );
        }
        sqlx::query(&format!("SELECT * FROM {view}"))
            .fetch_all(&pool)
            .await
            .unwrap_or_else(|e| panic!("{view} does not answer: {e}"));
    }
}

#[tokio::test]
async fn the_minimal_inserts_of_the_contract_succeed() {
    let pool = declared_db().await;
    let user_id: i64 =
        sqlx::query_scalar("INSERT INTO users (telegram_user_id) VALUES (42) RETURNING id")
            .fetch_one(&pool)
            .await
            .unwrap();
    let (start, end): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as(
            "INSERT INTO subscriptions (user_id, plan_type, status) VALUES ($1, 'free', 'active')
         RETURNING quota_window_start, quota_window_end",
        )
        .bind(user_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    use chrono::Datelike;
    let now = chrono::Utc::now();
    assert_eq!(
        (start.year(), start.month(), start.day()),
        (now.year(), now.month(), 1),
        "window starts on the 1st (UTC)"
    );
    assert_eq!(
        start.time(),
        chrono::NaiveTime::MIN,
        "window starts at UTC midnight"
    );
    assert_eq!(end.day(), 1);
    assert!(end > now && start <= now);
    let session: uuid::Uuid =
        sqlx::query_scalar("INSERT INTO letter_sessions (user_id) VALUES ($1) RETURNING id")
            .bind(user_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    sqlx::query(
        "INSERT INTO letter_feedback (session_id, user_id, feedback_type) VALUES ($1, $2, 'like')",
    )
    .bind(session)
    .bind(user_id)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO acquisition_channels (user_id, referral_user_id) VALUES ($1, NULL)")
        .bind(user_id)
        .execute(&pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_second_active_subscription_for_one_user_is_refused() {
    let pool = declared_db().await;
    let user_id: i64 =
        sqlx::query_scalar("INSERT INTO users (telegram_user_id) VALUES (7) RETURNING id")
            .fetch_one(&pool)
            .await
            .unwrap();
    let insert = "INSERT INTO subscriptions (user_id, plan_type, status) VALUES ($1, $2, 'active')";
    sqlx::query(insert)
        .bind(user_id)
        .bind("free")
        .execute(&pool)
        .await
        .unwrap();
    let err = sqlx::query(insert)
        .bind(user_id)
        .bind("premium")
        .execute(&pool)
        .await
        .unwrap_err();
    let code = err
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned());
    assert_eq!(
        code.as_deref(),
        Some("23505"),
        "unique violation expected, got {err}"
    );
    // An expired row beside the active one is fine.
    sqlx::query(
        "INSERT INTO subscriptions (user_id, plan_type, status) VALUES ($1, 'premium', 'expired')",
    )
    .bind(user_id)
    .execute(&pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn statuses_outside_the_contract_are_refused() {
    let pool = declared_db().await;
    let user_id: i64 =
        sqlx::query_scalar("INSERT INTO users (telegram_user_id) VALUES (8) RETURNING id")
            .fetch_one(&pool)
            .await
            .unwrap();
    let err = sqlx::query("INSERT INTO letter_sessions (user_id, status) VALUES ($1, 'paid')")
        .bind(user_id)
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("check constraint"), "{err}");
}

/// The text values a column's CHECK constraint allows, in order.
async fn allowed(pool: &PgPool, table: &str, column: &str) -> Vec<String> {
    let defs: Vec<String> = sqlx::query_scalar(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint
         WHERE conrelid = to_regclass($1) AND contype = 'c'",
    )
    .bind(format!("public.{table}"))
    .fetch_all(pool)
    .await
    .unwrap();
    let def = defs
        .into_iter()
        .find(|d| d.contains(&format!("({column} ")) || d.contains(&format!("(({column} ")))
        .unwrap_or_else(|| panic!("no check on {table}.{column}"));
    // CHECK ((status = ANY (ARRAY['a'::text, 'b'::text]))): the quoted parts.
    def.split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn the_status_enums_are_exactly_the_values_the_sql_checks_allow() {
    use domain::{PaymentStatus, RefundState, SessionStatus, SubscriptionStatus};
    fn texts<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Vec<String> {
        all.iter().map(|v| as_str(*v).to_string()).collect()
    }
    let pool = declared_db().await;
    assert_eq!(
        allowed(&pool, "payments", "status").await,
        texts(PaymentStatus::ALL, PaymentStatus::as_str)
    );
    assert_eq!(
        allowed(&pool, "subscriptions", "status").await,
        texts(SubscriptionStatus::ALL, SubscriptionStatus::as_str)
    );
    assert_eq!(
        allowed(&pool, "letter_sessions", "status").await,
        texts(SessionStatus::ALL, SessionStatus::as_str)
    );
    assert_eq!(
        allowed(&pool, "refunds", "state").await,
        texts(RefundState::ALL, RefundState::as_str)
    );
}
