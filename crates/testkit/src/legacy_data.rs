//! Realistic dirty data for the old bot's database (every kind the legacy README lists), generated
//! in SQL so a million users take minutes, not hours. Deterministic: every value is a hash of the
//! row number and the seed (`hashint8extended`), timestamps are relative to the day it runs.
//!
//! What the old bot's bugs left behind, and where it is made (user categories by a hash of the id):
//! several `active` subscriptions per user, free rows whose `period_end` is long past, premium rows
//! past their end still `active`; several `acquisition_channels` rows per user; payments of every
//! status of the state's era (`paid` in A; `succeeded`/`canceled` in B; `pending`, `failed`,
//! `refunded` in both), hand-typed ones without provider, amounts in rubles; `user_events` without
//! `event_data`; uuid-keyed `openai_requests`/`user_events`/`error_logs`; integer generation times,
//! models in `openai_model_used`, completion in `session_end`; consent in `consent_given` /
//! `consent_timestamp` (UTC wall-clock time); `last_activity`; `error_logs`; a test account
//! (Telegram id 678674926, the one the old bot hard-coded) with the old test payment.

use sqlx::{Connection, PgConnection};

use crate::legacy::LegacyState;

/// How much data to make.
#[derive(Debug, Clone, Copy)]
pub struct LegacySize {
    /// Users (ids 1..=users with a gap at every multiple of 97, as deletions leave).
    pub users: i64,
    /// Letter sessions, spread over the users.
    pub sessions: i64,
}

impl LegacySize {
    pub const fn new(users: i64, sessions: i64) -> Self {
        Self { users, sessions }
    }
}

/// The Telegram id the old bot hard-coded for `/test_premium` and its test webhook: a test account.
pub const TEST_TELEGRAM_ID: i64 = 678_674_926;

/// Fills the legacy schema of `state` at `url` with dirty data.
pub async fn fill_dirty_data(
    url: &str,
    state: LegacyState,
    size: LegacySize,
    seed: u32,
) -> Result<(), String> {
    let mut conn = PgConnection::connect(url)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let sql = script(state, size, seed);
    sqlx::raw_sql(&sql)
        .execute(&mut conn)
        .await
        .map_err(|e| format!("filling the legacy database: {e}"))?;
    let _ = conn.close().await;
    Ok(())
}

/// The generating script (temporary helper functions only: nothing stays in the schema).
pub fn script(state: LegacyState, size: LegacySize, seed: u32) -> String {
    let a = state == LegacyState::A;
    let users_extra_cols = if a {
        ", updated_at, total_generations"
    } else {
        ""
    };
    let users_extra_vals = if a {
        ", coalesce(last_act, created), pg_temp.r(i, 12, 10)::int"
    } else {
        ""
    };
    let paid = if a { "paid" } else { "succeeded" };
    // Statuses a payment that did not go through can have in this era.
    let other_statuses = if a {
        "ARRAY['pending','failed','refunded']"
    } else {
        "ARRAY['pending','failed','refunded','canceled']"
    };
    let b_only = if a { "" } else { B_ONLY };
    TEMPLATE
        .replace("{USERS_EXTRA_COLS}", users_extra_cols)
        .replace("{USERS_EXTRA_VALS}", users_extra_vals)
        .replace("{PAID}", paid)
        .replace("{OTHER_STATUSES}", other_statuses)
        .replace("{B_ONLY}", b_only)
        .replace("{N}", &size.users.to_string())
        .replace("{S}", &size.sessions.to_string())
        .replace("{SEED}", &seed.to_string())
        .replace("{TEST_TG}", &TEST_TELEGRAM_ID.to_string())
}

/// What only state B's columns can hold: the payment method (v10.1) and the payment that
/// activated a subscription.
const B_ONLY: &str = r#"
UPDATE payments SET payment_method = CASE WHEN provider = 'yookassa' OR metadata ? 'yookassa_payment_id'
                                          THEN 'yookassa' ELSE 'manual' END;
UPDATE subscriptions s SET payment_id = p.payment_id, upgraded_at = s.period_start
  FROM payments p WHERE s.plan_type = 'premium' AND p.user_id = s.user_id AND p.status = 'succeeded';
"#;

const TEMPLATE: &str = r#"
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.r(i bigint, salt int, n bigint) RETURNS bigint LANGUAGE sql IMMUTABLE
  AS $$ SELECT abs(hashint8extended(i, salt::bigint * 7919 + {SEED})) % n $$;
CREATE FUNCTION pg_temp.t0() RETURNS timestamptz LANGUAGE sql STABLE
  AS $$ SELECT date_trunc('day', now()) - interval '400 days' $$;
-- When user u registered: spread over 380 days from t0, in id order, plus up to an hour.
CREATE FUNCTION pg_temp.created(u bigint) RETURNS timestamptz LANGUAGE sql STABLE
  AS $$ SELECT pg_temp.t0() + make_interval(secs => (u::float8 / {N} * 380 * 86400)::bigint + pg_temp.r(u, 9, 3600)) $$;
-- Existing user for any number in 1..{N} (ids divisible by 97 were deleted).
CREATE FUNCTION pg_temp.uid(u bigint) RETURNS bigint LANGUAGE sql IMMUTABLE
  AS $$ SELECT CASE WHEN u % 97 = 0 THEN u - 1 ELSE u END $$;
CREATE FUNCTION pg_temp.uuid(kind text, k bigint) RETURNS uuid LANGUAGE sql IMMUTABLE
  AS $$ SELECT md5(kind || ':' || k || ':' || {SEED})::uuid $$;
-- Subscription category of a user (see below).
CREATE FUNCTION pg_temp.sc(u bigint) RETURNS bigint LANGUAGE sql IMMUTABLE
  AS $$ SELECT pg_temp.r(u, 20, 20) $$;

-- Users; user 2 is the test account; consent_timestamp holds UTC wall-clock time.
INSERT INTO users (id, telegram_user_id, username, first_name, last_name, language_code, created_at,
                   last_activity, consent_given, consent_timestamp, consent_version, marketing_consent
                   {USERS_EXTRA_COLS})
SELECT i,
       CASE WHEN i = 2 THEN {TEST_TG} ELSE 100000000 + i * 13 END,
       CASE WHEN i = 2 THEN 'soprovod_test' WHEN pg_temp.r(i, 2, 10) = 0 THEN NULL ELSE 'user_' || i END,
       (ARRAY['Анна','Иван','Мария','Пётр','Ольга','Дмитрий','Елена','Сергей'])[1 + pg_temp.r(i, 3, 8)],
       CASE WHEN pg_temp.r(i, 4, 3) = 0 THEN NULL
            ELSE (ARRAY['Иванова','Петров','Смирнова','Кузнецов'])[1 + pg_temp.r(i, 5, 4)] END,
       (ARRAY['ru','ru','ru','en',NULL])[1 + pg_temp.r(i, 6, 5)],
       created,
       last_act,
       CASE WHEN cc < 10 OR cc = 12 THEN true WHEN cc < 12 THEN false END,
       CASE WHEN cc < 12 THEN (created + make_interval(secs => pg_temp.r(i, 11, 600))) AT TIME ZONE 'UTC' END,
       CASE WHEN cc < 5 THEN 'v1.1' ELSE 'v1.0' END,
       CASE WHEN pg_temp.r(i, 13, 20) < 4 THEN true WHEN pg_temp.r(i, 13, 20) = 4 THEN NULL ELSE false END
       {USERS_EXTRA_VALS}
FROM (SELECT i, pg_temp.created(i) AS created, pg_temp.r(i, 10, 20) AS cc,
             CASE WHEN pg_temp.r(i, 7, 33) = 0 THEN NULL
                  ELSE least(pg_temp.created(i) + make_interval(secs => pg_temp.r(i, 8, 200 * 86400)), now()) END AS last_act
      FROM generate_series(1, {N}) i WHERE i % 97 <> 0) g;
SELECT setval('users_id_seq', (SELECT max(id) FROM users));

-- Subscriptions by category sc (0..19):
--   0-9 one free row, active, its free month long past; 10-11 free, active, the current month;
--   12-13 two active free rows (inserted twice); 14 premium past its end, still active;
--   15 premium still paid, active, plus the older free row still active; 16 free row with
--   period_end NULL (the old bot's fresh row); 17 a cancelled premium and an active free row;
--   18-19 no row at all.
INSERT INTO subscriptions (user_id, plan_type, status, letters_limit, letters_used, period_start, period_end, created_at, updated_at)
SELECT u, 'free', 'active', 3, pg_temp.r(u, 21, 4)::int,
       CASE WHEN sc IN (10, 11) THEN date_trunc('month', now())
            WHEN sc = 16 THEN NULL ELSE date_trunc('month', c) END,
       CASE WHEN sc IN (10, 11) THEN date_trunc('month', now()) + interval '1 month'
            WHEN sc = 16 THEN NULL ELSE date_trunc('month', c) + interval '1 month' END,
       c, CASE WHEN sc IN (10, 11) THEN now() - interval '1 hour' ELSE c + interval '2 days' END
FROM (SELECT u, pg_temp.created(u) AS c, pg_temp.sc(u) AS sc FROM users x(u)) g
WHERE sc < 18 AND sc <> 14;
INSERT INTO subscriptions (user_id, plan_type, status, letters_limit, letters_used, period_start, period_end, created_at, updated_at)
SELECT u, 'free', 'active', 3, 0, date_trunc('month', c + interval '1 day'),
       date_trunc('month', c + interval '1 day') + interval '1 month', c + interval '1 day', c + interval '1 day'
FROM (SELECT u, pg_temp.created(u) AS c FROM users x(u) WHERE pg_temp.sc(u) IN (12, 13)) g;
INSERT INTO subscriptions (user_id, plan_type, status, letters_limit, letters_used, period_start, period_end, created_at, updated_at)
SELECT u, 'premium', 'active', 20, pg_temp.r(u, 22, 21)::int, c + interval '3 days', c + interval '33 days',
       c + interval '3 days', c + interval '10 days'
FROM (SELECT u, pg_temp.created(u) AS c FROM users x(u) WHERE pg_temp.sc(u) = 14) g;
INSERT INTO subscriptions (user_id, plan_type, status, letters_limit, letters_used, period_start, period_end, created_at, updated_at)
SELECT u, 'premium', 'active', 20, pg_temp.r(u, 23, 21)::int,
       now() - make_interval(days => 1 + pg_temp.r(u, 24, 20)::int),
       now() + make_interval(days => 1 + pg_temp.r(u, 25, 25)::int),
       now() - make_interval(days => 1 + pg_temp.r(u, 24, 20)::int), now() - interval '2 hours'
FROM users x(u) WHERE pg_temp.sc(u) = 15;
UPDATE subscriptions SET letters_used = letters_limit WHERE plan_type = 'premium' AND letters_used > letters_limit;
INSERT INTO subscriptions (user_id, plan_type, status, letters_limit, letters_used, period_start, period_end, created_at, updated_at,
                           is_active, cancellation_reason, cancelled_at)
SELECT u, 'premium', 'cancelled', 20, 5, c + interval '5 days', c + interval '35 days', c + interval '5 days',
       c + interval '20 days', false, 'user_request', c + interval '20 days'
FROM (SELECT u, pg_temp.created(u) AS c FROM users x(u) WHERE pg_temp.sc(u) = 17) g;

-- The v7.3 snapshot (fill_data.py): every third subscription as it was then.
INSERT INTO subscriptions_backup (id, user_id, plan_type, status, letters_limit, letters_used, period_start, period_end,
                                  auto_renew, created_at, updated_at)
SELECT id, user_id, plan_type, status, letters_limit, letters_used, period_start, period_end, auto_renew, created_at, updated_at
FROM subscriptions WHERE id % 3 = 0;

-- Payments: each premium user paid once ({PAID}); half through YooKassa (uuid-like id, metadata),
-- half typed in by hand (no provider, amount in rubles). One user in ten also has a payment that
-- did not go through. The old test webhook's payment belongs to user 1.
INSERT INTO payments (user_id, payment_id, amount, currency, status, provider, plan_type, metadata, created_at, updated_at)
SELECT u,
       CASE WHEN u % 2 = 0 THEN pg_temp.uuid('yk', u)::text ELSE 'manual_' || u END,
       CASE WHEN pg_temp.r(u, 31, 3) = 0 THEN 1.00 ELSE 199.00 END,
       'RUB', '{PAID}',
       CASE WHEN u % 2 = 0 AND u % 4 = 0 THEN 'yookassa' END,
       'premium',
       CASE WHEN u % 2 = 0 THEN jsonb_build_object('yookassa_payment_id', pg_temp.uuid('yk', u)::text,
                                                    'telegram_id', 100000000 + u * 13, 'subscription_type', 'premium')
            ELSE '{}'::jsonb END,
       pg_temp.created(u) + interval '3 days', pg_temp.created(u) + interval '3 days'
FROM users x(u) WHERE pg_temp.sc(u) IN (14, 15, 17);
INSERT INTO payments (user_id, payment_id, amount, currency, status, provider, plan_type, metadata, created_at, updated_at)
SELECT u, pg_temp.uuid('yk2', u)::text, 199.00, 'RUB',
       ({OTHER_STATUSES})[1 + pg_temp.r(u, 32, array_length({OTHER_STATUSES}, 1))],
       'yookassa', 'premium', jsonb_build_object('yookassa_payment_id', pg_temp.uuid('yk2', u)::text),
       pg_temp.created(u) + interval '1 day', pg_temp.created(u) + interval '1 day'
FROM users x(u) WHERE pg_temp.r(u, 30, 10) = 0;
INSERT INTO payments (user_id, payment_id, amount, currency, status, provider, plan_type, metadata, created_at, updated_at)
SELECT 1, 'test_payment_123', 199.00, 'RUB', '{PAID}', NULL, 'premium', NULL, pg_temp.t0(), pg_temp.t0()
WHERE EXISTS (SELECT 1 FROM users WHERE id = 1);

-- Letter sessions: 70% completed, 20% abandoned, 10% started; integer generation times, the model
-- in openai_model_used, the end in session_end; a third were improved (current_iteration > 1).
INSERT INTO letter_sessions (id, user_id, status, mode, job_description, job_description_length, resume_text,
                             resume_length, selected_style, generated_letter, generated_letter_length,
                             generation_time_seconds, openai_model_used, session_start, session_end,
                             created_at, updated_at, letters_used_count, is_premium_feature,
                             max_iterations, current_iteration, has_feedback)
SELECT pg_temp.uuid('s', k), u, st, (ARRAY['simple','advanced'])[1 + pg_temp.r(k, 43, 2)],
       'Вакансия ' || k || ': Python-разработчик, опыт от 3 лет, Django, PostgreSQL.', 60,
       'Резюме ' || k || ': 5 лет Python, Django, PostgreSQL, Docker.', 50,
       (ARRAY['professional','friendly',NULL])[1 + pg_temp.r(k, 44, 3)],
       CASE WHEN st = 'completed' THEN 'Здравствуйте! Письмо ' || k || '. С уважением.' END,
       CASE WHEN st = 'completed' THEN 40 END,
       CASE WHEN st = 'completed' THEN 5 + pg_temp.r(k, 45, 40)::int END,
       CASE WHEN st = 'started' THEN NULL
            ELSE (ARRAY['gpt-4o','gpt-4o','gpt-4','claude-3-5-sonnet-20241022'])[1 + pg_temp.r(k, 46, 4)] END,
       c, CASE WHEN st <> 'started' THEN c + make_interval(secs => 10 + pg_temp.r(k, 47, 300)) END,
       c, c + interval '5 minutes', 1, false,
       (ARRAY[3, 3, 2])[1 + pg_temp.r(k, 48, 3)],
       CASE WHEN st = 'completed' AND pg_temp.r(k, 49, 3) = 0 THEN 2 + pg_temp.r(k, 50, 2)::int ELSE 1 END,
       st = 'completed' AND k % 4 = 0
FROM (SELECT k, u, least(pg_temp.created(u) + make_interval(secs => pg_temp.r(k, 42, 20 * 86400)), now()) AS c,
             CASE WHEN pg_temp.r(k, 41, 10) < 7 THEN 'completed' WHEN pg_temp.r(k, 41, 10) < 9 THEN 'abandoned'
                  ELSE 'started' END AS st
      FROM (SELECT k, pg_temp.uid(1 + pg_temp.r(k, 40, {N})) AS u FROM generate_series(1, {S}) k) q) g;

INSERT INTO letter_iterations (session_id, user_id, iteration_number, user_feedback, improvement_request,
                               generated_letter, generation_time_seconds, ai_model_used, created_at)
SELECT s.id, s.user_id, n, 'сделай короче', 'Короче и конкретнее', 'Улучшенное письмо ' || n || '.',
       3 + pg_temp.r(n, 51, 20)::int, 'claude', s.created_at + make_interval(mins => n)
FROM letter_sessions s, generate_series(2, s.current_iteration) n
WHERE s.current_iteration > 1;

INSERT INTO letter_feedback (session_id, user_id, iteration_number, feedback_type, created_at)
SELECT id, user_id, 1, CASE WHEN hashtext(id::text) % 5 = 0 THEN 'dislike' ELSE 'like' END,
       created_at + interval '10 minutes'
FROM letter_sessions WHERE has_feedback;

-- Events: a start per user (a third without event_data) and a vacancy_sent per session (event_data
-- missing on a quarter).
INSERT INTO user_events (id, user_id, event_type, session_id, event_data, created_at)
SELECT pg_temp.uuid('es', u), u, 'start', NULL,
       CASE WHEN pg_temp.r(u, 60, 3) = 0 THEN NULL ELSE jsonb_build_object('payload', NULL) END,
       pg_temp.created(u)
FROM users x(u);
INSERT INTO user_events (id, user_id, event_type, session_id, event_data, created_at)
SELECT md5('ev:' || id::text)::uuid, user_id, 'vacancy_sent', id,
       CASE WHEN hashtext(id::text) % 4 = 0 THEN NULL ELSE jsonb_build_object('length', job_description_length) END,
       created_at
FROM letter_sessions;

-- LLM calls: one per letter that got a model, one per improvement; a few failed.
INSERT INTO openai_requests (id, user_id, session_id, model, request_type, prompt_tokens, completion_tokens,
                             total_tokens, response_time_ms, success, error_message, created_at)
SELECT md5('oa:' || id::text)::uuid, user_id, id, openai_model_used, 'letter_generation',
       700, 300, 1000, 2000 + abs(hashtext(id::text)) % 9000, hashtext(id::text) % 50 <> 0,
       CASE WHEN hashtext(id::text) % 50 = 0 THEN 'Request timed out' END, created_at
FROM letter_sessions WHERE openai_model_used IS NOT NULL;
INSERT INTO openai_requests (id, user_id, session_id, model, request_type, prompt_tokens, completion_tokens,
                             total_tokens, response_time_ms, success, error_message, created_at)
SELECT pg_temp.uuid('oi', i.id), i.user_id, i.session_id, 'claude-3-5-sonnet-20241022', 'letter_improvement',
       900, 350, 1250, 3100, true, NULL, i.created_at
FROM letter_iterations i;

-- The operator's error history.
INSERT INTO error_logs (id, user_id, session_id, error_type, error_message, stack_trace, handler_name, created_at)
SELECT pg_temp.uuid('er', e), CASE WHEN e % 5 = 0 THEN NULL ELSE pg_temp.uid(1 + pg_temp.r(e, 70, {N})) END, NULL,
       (ARRAY['OpenAIError','TimeoutError','TelegramError'])[1 + pg_temp.r(e, 71, 3)],
       'Ошибка генерации №' || e, 'Traceback (most recent call last): ...',
       (ARRAY['generate_simple_letter','openai_get_completion','handle_resume'])[1 + pg_temp.r(e, 72, 3)],
       pg_temp.t0() + make_interval(secs => pg_temp.r(e, 73, 380 * 86400))
FROM generate_series(1, greatest({N} / 20, 3)) e;

-- Acquisition: a third of the users came with a payload, and every /start with it added a row (1-3).
INSERT INTO acquisition_channels (user_id, utm_source, utm_medium, utm_campaign, telegram_start_param,
                                  referral_user_id, session_count, first_session_at, last_session_at, created_at)
SELECT u,
       CASE WHEN kind = 0 THEN NULL WHEN kind = 3 THEN 'vk' ELSE 'organic' END,
       CASE WHEN kind = 3 THEN 'post' END,
       CASE WHEN kind = 1 THEN 'promo_spring' WHEN kind = 2 THEN 'ad_hh' END,
       CASE WHEN kind = 0 THEN 'ref_' || pg_temp.uid(greatest(u - 1 - pg_temp.r(u, 53, 50), 1))
            WHEN kind = 1 THEN 'promo_spring' WHEN kind = 2 THEN 'ad_hh' ELSE 'utm_source_vk_utm_medium_post' END,
       CASE WHEN kind = 0 AND u > 1 THEN pg_temp.uid(greatest(u - 1 - pg_temp.r(u, 53, 50), 1)) END,
       j, pg_temp.created(u), pg_temp.created(u) + make_interval(hours => j),
       pg_temp.created(u) + make_interval(hours => j - 1)
FROM (SELECT u, pg_temp.r(u, 52, 4) AS kind FROM users x(u) WHERE pg_temp.r(u, 50, 3) = 0) g,
     generate_series(1, 1 + pg_temp.r(g.u, 54, 3)::int) j;
UPDATE acquisition_channels SET referral_user_id = NULL WHERE referral_user_id = user_id;

{B_ONLY}
ANALYZE;
"#;
