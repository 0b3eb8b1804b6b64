//! Taking over the old Python bot's real database with one `db apply`: every value lands in its
//! new column, every step is inert afterwards, new ids come after the old ones, and a migrated free
//! user writes a letter through the bot.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use testkit::legacy::LegacyState;
use testkit::TestDb;

use crate::takeover::{apply_all, db_cmd, one, show, text, SEED, SIZE};
use crate::takeover_apply::counts;

/// Rows of a query as PostgreSQL's row text, in the query's order.
async fn rows(db: &TestDb, sql: &str) -> Vec<String> {
    let mut conn = db.connect().await;
    sqlx::query_scalar(&format!("SELECT q::text FROM ({sql}) q"))
        .fetch_all(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Each pair: what the old columns say the new ones must hold (computed from the legacy rows),
/// and what the new columns hold after the takeover. Same row order on both sides.
const CARRIED: &[(&str, &str, &str)] = &[
    (
        "users: last activity, consent (UTC wall time, only when given), marketing consent, test account",
        "SELECT id, telegram_user_id, last_activity, CASE WHEN consent_given THEN consent_timestamp AT TIME ZONE 'UTC' END AS consent, coalesce(marketing_consent, false) AS marketing, telegram_user_id = 678674926 AS test FROM users ORDER BY id",
        "SELECT id, telegram_user_id, last_activity_at, consent_given_at, marketing_consent, is_test FROM users ORDER BY id",
    ),
    (
        "letter_sessions: model, completion time, generation time, improvements made",
        "SELECT id, user_id, status, openai_model_used, session_end, generation_time_seconds::float8 AS g, greatest(current_iteration - 1, 0) AS used FROM letter_sessions ORDER BY id",
        "SELECT id, user_id, status, model_used, completed_at, generation_time_seconds AS g, iterations_used FROM letter_sessions ORDER BY id",
    ),
    (
        "letter_iterations: model",
        "SELECT id, session_id, iteration_number, ai_model_used FROM letter_iterations ORDER BY id",
        "SELECT id, session_id, iteration_number, model_used FROM letter_iterations ORDER BY id",
    ),
    (
        "payments: provider id, kopecks, 'paid' as 'succeeded', provider from the era",
        "SELECT id, user_id, payment_id, round(amount * 100)::bigint AS minor, CASE status WHEN 'paid' THEN 'succeeded' ELSE status END AS status, CASE WHEN provider IS NOT NULL THEN provider WHEN metadata ? 'yookassa_payment_id' THEN 'yookassa' ELSE 'manual' END AS provider, coalesce(currency, 'RUB') AS currency FROM payments ORDER BY id",
        "SELECT id, user_id, provider_payment_id, amount_minor, status, provider, currency FROM payments ORDER BY id",
    ),
    (
        "user_events: every row, its id from its uuid, missing data empty",
        "SELECT (('x' || substr(md5(id::text), 1, 16))::bit(64)::bigint & 4611686018427387903) AS id, user_id, event_type, session_id, coalesce(event_data, '{}')::text AS data, created_at FROM user_events ORDER BY 1",
        "SELECT id, user_id, event_type, session_id, event_data::text AS data, created_at FROM user_events ORDER BY id",
    ),
    (
        "openai_requests: every row, its id from its uuid, the provider",
        "SELECT (('x' || substr(md5(id::text), 1, 16))::bit(64)::bigint & 4611686018427387903) AS id, session_id, model, request_type, total_tokens, success, CASE WHEN model ILIKE 'claude%' THEN 'anthropic' ELSE 'openai' END AS provider FROM openai_requests ORDER BY 1",
        "SELECT id, session_id, model, request_type, total_tokens, success, provider FROM openai_requests ORDER BY id",
    ),
    (
        "acquisition_channels: the first touch of each user",
        "SELECT DISTINCT ON (user_id) user_id, telegram_start_param, utm_source, utm_campaign, referral_user_id, created_at FROM acquisition_channels ORDER BY user_id, created_at, id",
        "SELECT user_id, telegram_start_param, utm_source, utm_campaign, referral_user_id, created_at FROM acquisition_channels ORDER BY user_id",
    ),
    (
        "error_logs: the operator's history",
        "SELECT id, user_id, error_type, error_message, handler_name, created_at FROM error_logs ORDER BY id",
        "SELECT id, user_id, error_type, error_message, handler_name, created_at FROM error_logs ORDER BY id",
    ),
    (
        "subscriptions: a free row keeps its quota (a window that is still open keeps its count) and loses its period",
        "SELECT id, user_id, letters_used, letters_limit,
                CASE WHEN period_start < period_end THEN period_start ELSE date_trunc('month', coalesce(updated_at, created_at) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' END,
                CASE WHEN period_start < period_end THEN period_end ELSE (date_trunc('month', coalesce(updated_at, created_at) AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC' END,
                NULL::timestamptz, NULL::timestamptz
           FROM subscriptions WHERE plan_type = 'free' ORDER BY id",
        "SELECT id, user_id, letters_used, letters_limit, quota_window_start, quota_window_end, period_start, period_end FROM subscriptions WHERE plan_type = 'free' ORDER BY id",
    ),
    (
        "subscriptions: premium keeps its paid period",
        "SELECT id, user_id, period_start, period_end FROM subscriptions WHERE plan_type = 'premium' ORDER BY id",
        "SELECT id, user_id, period_start, period_end FROM subscriptions WHERE plan_type = 'premium' ORDER BY id",
    ),
];

/// The subscription each user must have active after the takeover: a premium still paid, else
/// the newest active row; premium past its end is expired.
const ACTIVE_BEFORE: &str = "SELECT DISTINCT ON (user_id) user_id, id FROM subscriptions
     WHERE status = 'active' AND NOT (plan_type = 'premium' AND period_end <= now())
     ORDER BY user_id, (plan_type = 'premium') DESC, created_at DESC, id DESC";
const ACTIVE_AFTER: &str =
    "SELECT user_id, id FROM subscriptions WHERE status = 'active' ORDER BY user_id";

struct Before {
    counts: BTreeMap<&'static str, i64>,
    carried: Vec<Vec<String>>,
    active: Vec<String>,
    expired_premium: Vec<String>,
    max_user_id: i64,
}

async fn before(db: &TestDb) -> Before {
    let mut carried = Vec::new();
    for (_, old, _) in CARRIED {
        carried.push(rows(db, old).await);
    }
    Before {
        counts: counts(db).await,
        carried,
        active: rows(db, ACTIVE_BEFORE).await,
        expired_premium: rows(db, "SELECT id FROM subscriptions WHERE plan_type = 'premium' AND status = 'active' AND period_end <= now() ORDER BY id").await,
        max_user_id: one(db, "SELECT max(id) FROM users").await,
    }
}

async fn check_taken_over(db: &TestDb, was: &Before, dir: &Path) {
    let verify = db_cmd(dir, &db.url, &["verify"]);
    assert_eq!(verify.status.code(), Some(0), "verify: {}", show(&verify));
    let again = db_cmd(dir, &db.url, &["plan"]);
    assert!(
        text(&again.stdout).contains("Nothing to do"),
        "every step is inert on the migrated database: {}",
        show(&again)
    );

    let now = counts(db).await;
    assert_eq!(now, was.counts, "row counts kept");
    for ((what, _, new), expected) in CARRIED.iter().zip(&was.carried) {
        let got = rows(db, new).await;
        assert!(
            !expected.is_empty(),
            "{what}: the generator made no such rows"
        );
        assert_eq!(&got, expected, "{what}");
    }
    assert_eq!(
        rows(db, ACTIVE_AFTER).await,
        was.active,
        "one active plan per user"
    );
    let expired = rows(db, "SELECT id FROM subscriptions WHERE plan_type = 'premium' AND status = 'expired' ORDER BY id").await;
    assert!(!was.expired_premium.is_empty());
    assert_eq!(
        expired, was.expired_premium,
        "premium past its end is expired"
    );
    assert_eq!(
        one(db, "SELECT count(*) FROM subscriptions WHERE plan_type = 'free' AND (period_start IS NOT NULL OR period_end IS NOT NULL)").await,
        0,
        "no free row has a paid period"
    );
    // uuid-keyed rows got bigint ids, one each.
    for t in ["user_events", "openai_requests"] {
        assert_eq!(
            one(db, &format!("SELECT count(DISTINCT id) FROM {t}")).await,
            was.counts[t],
            "{t}: a new id per row"
        );
    }
    // New users get ids after the old ones.
    let next: i64 = one(
        db,
        "INSERT INTO users (telegram_user_id) VALUES (999000111) RETURNING id",
    )
    .await;
    assert!(
        next > was.max_user_id,
        "new user id {next} after {}",
        was.max_user_id
    );
    let next_event: i64 = one(
        db,
        "INSERT INTO user_events (event_type) VALUES ('start') RETURNING id",
    )
    .await;
    assert!(next_event > was.counts["user_events"]);
}

async fn takes_over(state: LegacyState) {
    let db = testkit::legacy_db(state, SIZE, SEED).await;
    let was = before(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let out = apply_all(dir.path(), &db, &dir.path().join("backups"));
    assert_eq!(out.status.code(), Some(0), "apply: {}", show(&out));
    check_taken_over(&db, &was, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_a_with_dirty_data_is_taken_over_by_one_apply_and_every_value_lands_in_its_new_column(
) {
    takes_over(LegacyState::A).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_b_with_dirty_data_is_taken_over_by_one_apply_and_every_value_lands_in_its_new_column(
) {
    takes_over(LegacyState::B).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrated_free_user_whose_old_month_is_long_over_writes_a_letter_through_the_bot() {
    let db = testkit::legacy_db(LegacyState::A, SIZE, SEED).await;
    let dir = tempfile::tempdir().unwrap();
    let out = apply_all(dir.path(), &db, &dir.path().join("backups"));
    assert_eq!(out.status.code(), Some(0), "apply: {}", show(&out));
    let (user, tg): (i64, i64) = {
        let mut conn = db.connect().await;
        sqlx::query_as(
            "SELECT u.id, u.telegram_user_id FROM users u JOIN subscriptions s ON s.user_id = u.id
              WHERE s.status = 'active' AND s.plan_type = 'free' AND s.quota_window_end < now() - interval '60 days'
                AND NOT u.is_test ORDER BY u.id LIMIT 1",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap()
    };
    let sessions_before = one(
        &db,
        &format!("SELECT count(*) FROM letter_sessions WHERE user_id = {user}"),
    )
    .await;
    let script = "Backend-разработчик на Rust в команду платежей.\nТребования:\n\
                  - опыт коммерческой разработки на Rust от 2 лет\n- уверенное знание PostgreSQL\n.\n\
                  Мария Соколова, backend-разработчик.\n\
                  - 2020–2026: сервисы на Rust (tokio, axum) для платёжной системы, 3 года в проде\n\
                  - оптимизировала запросы PostgreSQL, сократив время отчётов вдвое\n\
                  - наставничество двух младших разработчиков\n\
                  Образование: СПбГУ, математико-механический факультет, 2019. Английский B2.\n.\n\
                  /subscription\n/quit\n";
    let mut child = Command::new(env!("CARGO_BIN_EXE_soprovod"))
        .args([
            "--database-url",
            &db.url,
            "chat",
            "--user-id",
            &tg.to_string(),
        ])
        .env_remove("OPENAI_API_KEY")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), script.as_bytes()).unwrap();
    let chat = child.wait_with_output().unwrap();
    assert!(chat.status.success(), "{}", show(&chat));
    let said = text(&chat.stdout);
    assert!(
        said.contains("С уважением,\nМария Соколова"),
        "a letter: {}",
        show(&chat)
    );
    assert!(
        said.contains("Писем осталось в этом месяце: 2/3"),
        "a new month of the free plan, one letter taken: {}",
        show(&chat)
    );
    assert_eq!(
        one(&db, &format!("SELECT count(*) FROM letter_sessions WHERE user_id = {user} AND status = 'completed' AND created_at > now() - interval '10 minutes'")).await,
        1,
        "the new letter is in the user's history"
    );
    assert_eq!(
        one(
            &db,
            &format!("SELECT count(*) FROM letter_sessions WHERE user_id = {user}")
        )
        .await,
        sessions_before + 1
    );
    assert_eq!(
        one(&db, &format!("SELECT letters_used::bigint FROM subscriptions WHERE user_id = {user} AND status = 'active' AND quota_window_start <= now() AND now() < quota_window_end")).await,
        1,
        "the free quota of this month counts the letter"
    );
}
