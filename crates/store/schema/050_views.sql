-- Analytics views (contract: spec/schema.md, "Views").
--
-- Every date bucket is a UTC calendar day or month whatever the session TimeZone is:
-- `x AT TIME ZONE 'UTC'` turns a timestamptz into UTC wall-clock time before it is truncated, and
-- a UTC boundary goes back to a timestamptz with `boundary AT TIME ZONE 'UTC'`. Test users are
-- excluded everywhere. "The last N days" is the rolling interval (now() - N days, now()]; a
-- per-date view covers whole UTC days, the N dates ending with today (UTC), so its first bucket is
-- not cut short. Rows dated after now() (clock skew) are in no window.

CREATE VIEW user_stats AS
SELECT count(*)::bigint                                                            AS total_users,
       count(*) FILTER (WHERE u.created_at > now() - interval '1 day'
                          AND u.created_at <= now())::bigint                      AS users_today,
       count(*) FILTER (WHERE u.created_at > now() - interval '7 days'
                          AND u.created_at <= now())::bigint                      AS users_week,
       count(*) FILTER (WHERE u.created_at > now() - interval '30 days'
                          AND u.created_at <= now())::bigint                      AS users_month
FROM users u
WHERE NOT u.is_test;

CREATE VIEW session_stats AS
SELECT ls.status,
       ls.model_used,
       count(*)::bigint                       AS sessions,
       avg(ls.generation_time_seconds)        AS avg_generation_time_seconds,
       avg(length(ls.generated_letter))       AS avg_letter_length,
       avg(length(ls.resume_text))            AS avg_resume_length,
       avg(length(ls.job_description))        AS avg_job_description_length
FROM letter_sessions ls
JOIN users u ON u.id = ls.user_id
WHERE NOT u.is_test
  AND ls.created_at > now() - interval '30 days'
  AND ls.created_at <= now()
GROUP BY ls.status, ls.model_used;

-- Events without a user (deleted accounts) still count as events, not as active users.
CREATE VIEW user_activity AS
SELECT (e.created_at AT TIME ZONE 'UTC')::date AS date,
       count(DISTINCT e.user_id)::bigint        AS active_users,
       count(*)::bigint                         AS total_events
FROM user_events e
LEFT JOIN users u ON u.id = e.user_id
WHERE u.is_test IS NOT TRUE
  AND e.created_at >= ((now() AT TIME ZONE 'UTC')::date - 29)::timestamp AT TIME ZONE 'UTC'
  AND e.created_at <= now()
GROUP BY 1;

CREATE VIEW openai_usage AS
SELECT (r.created_at AT TIME ZONE 'UTC')::date                              AS date,
       r.model,
       count(*)::bigint                                                     AS requests,
       coalesce(sum(r.prompt_tokens), 0)::bigint                            AS prompt_tokens,
       coalesce(sum(r.completion_tokens), 0)::bigint                        AS completion_tokens,
       coalesce(sum(r.total_tokens), 0)::bigint                             AS total_tokens,
       round(avg(r.response_time_ms), 2)                                    AS avg_response_time_ms,
       round(100.0 * count(*) FILTER (WHERE r.success) / count(*), 2)       AS success_rate
FROM openai_requests r
LEFT JOIN users u ON u.id = r.user_id
WHERE u.is_test IS NOT TRUE
  AND r.created_at >= ((now() AT TIME ZONE 'UTC')::date - 29)::timestamp AT TIME ZONE 'UTC'
  AND r.created_at <= now()
GROUP BY 1, 2;

-- The TZ v9.5 cohort report, exact: the 12 UTC calendar months ending with the current one (the
-- first one whole), users created after now() in no cohort, each user once per figure.
--
-- Normally it is the sum of four parts, read from the summaries of 045_analytics.sql and
-- 046_analytics_retention.sql that triggers keep exact in every writing transaction:
--   1. the counters of every non-test user per (month, channel): size, activated, days sum;
--   2. minus the users of those months whose created_at is still in the future (a few rows,
--      through an index), premium included;
--   3. plus the users whose active premium ends on a UTC day after today (or never): a few
--      counter rows per (month, channel) and day;
--   4. plus the users whose premium ends later today (premium depends on now(), so the last day
--      is decided per user; the partial index holds only users with premium, ordered by the end).
-- The mean is taken from an exact sum of seconds; the division runs at scale 30, far finer than
-- any difference between two means of microsecond data, so rounding to 2 decimals is exact.
--
-- Until the summaries have been filled (analytics_summary_state or analytics_retention_state is
-- empty after a migration added them), the same figures come from
-- analytics_cohorts_from_base_tables() instead. Only one of the two branches runs: each is gated
-- by a one-time filter.
CREATE VIEW user_cohorts_basic AS
WITH parts AS (
    SELECT c.cohort_month, c.channel, c.users, c.activated, c.days_to_first_seconds AS seconds,
           0::bigint AS premium
    FROM analytics_cohort_counts c
    WHERE c.cohort_month >= (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months')::date
      AND c.cohort_month <= date_trunc('month', now() AT TIME ZONE 'UTC')::date
    UNION ALL
    SELECT f.cohort_month, f.channel, -1, CASE WHEN f.first_completed_at IS NULL THEN 0 ELSE -1 END,
           -coalesce(extract(epoch FROM f.first_completed_at - f.created_at), 0),
           CASE WHEN f.premium_until > now() THEN -1 ELSE 0 END
    FROM analytics_user_facts f
    WHERE f.created_at > now()
      AND NOT f.is_test
      AND f.cohort_month >= (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months')::date
      AND f.cohort_month <= date_trunc('month', now() AT TIME ZONE 'UTC')::date
    UNION ALL
    SELECT e.cohort_month, e.channel, 0, 0, 0, e.users
    FROM analytics_premium_expiry_counts e
    WHERE e.until_day > (now() AT TIME ZONE 'UTC')::date
      AND e.cohort_month >= (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months')::date
      AND e.cohort_month <= date_trunc('month', now() AT TIME ZONE 'UTC')::date
    UNION ALL
    SELECT f.cohort_month, f.channel, 0, 0, 0, 1
    FROM analytics_user_facts f
    WHERE f.premium_until > now()
      AND f.premium_until < ((now() AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC'
      AND f.premium_until IS NOT NULL
      AND NOT f.is_test
      AND f.cohort_month >= (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months')::date
      AND f.cohort_month <= date_trunc('month', now() AT TIME ZONE 'UTC')::date
),
from_summaries AS (
    SELECT p.cohort_month,
           p.channel                     AS acquisition_channel,
           sum(p.users)::bigint          AS cohort_size,
           sum(p.activated)::bigint      AS activated_users,
           sum(p.premium)::bigint        AS premium_users,
           round(sum(p.seconds)::numeric(1000, 30) / nullif(sum(p.activated) * 86400, 0), 2)
                                         AS avg_days_to_first_generation
    FROM parts p
    GROUP BY p.cohort_month, p.channel
    HAVING sum(p.users) > 0
)
SELECT * FROM from_summaries
WHERE EXISTS (SELECT 1 FROM analytics_summary_state) AND EXISTS (SELECT 1 FROM analytics_retention_state)
UNION ALL
SELECT * FROM analytics_cohorts_from_base_tables()
WHERE NOT (EXISTS (SELECT 1 FROM analytics_summary_state) AND EXISTS (SELECT 1 FROM analytics_retention_state));

-- Monthly retention triangle: for each cohort of user_cohorts_basic's window (all channels), the
-- share of its users with a completed letter session created in the UTC calendar month N after
-- signup (N = 0 is the signup month), N = 0..11. Cells of months that have not begun yet are null.
--
-- Read from the summaries (046_analytics_retention.sql): cohort sizes from the cohort counters,
-- active users per (cohort, month) from the retention counters, both minus the users whose
-- created_at is still in the future. Until the summaries are filled, the same figures come from
-- analytics_retention_from_base_tables().
CREATE VIEW user_retention_monthly AS
WITH bounds AS (
    SELECT now()                                                                AS at_now,
           (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months')::date AS first_month,
           date_trunc('month', now() AT TIME ZONE 'UTC')::date                 AS last_month
),
future_users AS (
    SELECT f.user_id, f.cohort_month
    FROM analytics_user_facts f, bounds b
    WHERE f.created_at > b.at_now
      AND NOT f.is_test
      AND f.cohort_month >= b.first_month
      AND f.cohort_month <= b.last_month
),
sizes AS (
    SELECT p.cohort_month, sum(p.users)::bigint AS cohort_size
    FROM (SELECT c.cohort_month, c.users
          FROM analytics_cohort_counts c, bounds b
          WHERE c.cohort_month >= b.first_month AND c.cohort_month <= b.last_month
          UNION ALL
          SELECT fu.cohort_month, -1 FROM future_users fu) p
    GROUP BY p.cohort_month
    HAVING sum(p.users) > 0
),
active AS (
    SELECT p.cohort_month,
           ((extract(year FROM p.active_month) - extract(year FROM p.cohort_month)) * 12
            + extract(month FROM p.active_month) - extract(month FROM p.cohort_month))::integer
               AS months_after_signup,
           sum(p.users)::bigint AS retained_users
    FROM (SELECT r.cohort_month, r.active_month, r.users
          FROM analytics_retention_counts r, bounds b
          WHERE r.cohort_month >= b.first_month AND r.cohort_month <= b.last_month
          UNION ALL
          SELECT fu.cohort_month, m.active_month, -1
          FROM future_users fu
          JOIN analytics_user_active_months m ON m.user_id = fu.user_id) p
    GROUP BY p.cohort_month, p.active_month
),
from_summaries AS (
    SELECT s.cohort_month,
           s.cohort_size,
           n.months_after_signup,
           CASE WHEN (s.cohort_month + make_interval(months => n.months_after_signup))::date <= b.last_month
                THEN coalesce(a.retained_users, 0) END                          AS retained_users,
           CASE WHEN (s.cohort_month + make_interval(months => n.months_after_signup))::date <= b.last_month
                THEN round(100.0 * coalesce(a.retained_users, 0) / s.cohort_size, 2) END AS retention_pct
    FROM sizes s
    CROSS JOIN bounds b
    CROSS JOIN generate_series(0, 11) AS n (months_after_signup)
    LEFT JOIN active a ON a.cohort_month = s.cohort_month AND a.months_after_signup = n.months_after_signup
)
SELECT * FROM from_summaries
WHERE EXISTS (SELECT 1 FROM analytics_summary_state) AND EXISTS (SELECT 1 FROM analytics_retention_state)
UNION ALL
SELECT * FROM analytics_retention_from_base_tables()
WHERE NOT (EXISTS (SELECT 1 FROM analytics_summary_state) AND EXISTS (SELECT 1 FROM analytics_retention_state));
