-- Analytics views. Every date bucket is a UTC calendar day or month whatever the session TimeZone
-- is (`now() AT TIME ZONE 'UTC'` and `x AT TIME ZONE 'UTC'` work on UTC wall-clock time), and test
-- users are excluded everywhere.

CREATE VIEW user_stats AS
SELECT count(*)::bigint                                                   AS total_users,
       count(*) FILTER (WHERE u.created_at >= now() - interval '1 day')::bigint  AS users_today,
       count(*) FILTER (WHERE u.created_at >= now() - interval '7 days')::bigint AS users_week,
       count(*) FILTER (WHERE u.created_at >= now() - interval '30 days')::bigint AS users_month
FROM users u
WHERE NOT u.is_test;

CREATE VIEW session_stats AS
SELECT ls.status,
       ls.model_used,
       count(*)::bigint                                       AS sessions,
       avg(ls.generation_time_seconds)                        AS avg_generation_time_seconds,
       avg(length(ls.generated_letter))                       AS avg_letter_length,
       avg(length(ls.resume_text))                            AS avg_resume_length,
       avg(length(ls.job_description))                        AS avg_job_description_length
FROM letter_sessions ls
JOIN users u ON u.id = ls.user_id
WHERE NOT u.is_test
  AND ls.created_at >= now() - interval '30 days'
GROUP BY ls.status, ls.model_used;

CREATE VIEW user_activity AS
SELECT (e.created_at AT TIME ZONE 'UTC')::date AS date,
       count(DISTINCT e.user_id)::bigint        AS active_users,
       count(*)::bigint                         AS total_events
FROM user_events e
LEFT JOIN users u ON u.id = e.user_id
WHERE u.is_test IS NOT TRUE
  AND e.created_at >= now() - interval '30 days'
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
  AND r.created_at >= now() - interval '30 days'
GROUP BY 1, 2;

-- The TZ v9.5 cohort report, exact: each user once per figure (no join fan-out), the 12 UTC months
-- ending with the current one, no future users, no NOT IN.
CREATE VIEW user_cohorts_basic AS
WITH cohort_users AS (
    SELECT u.id,
           u.created_at,
           date_trunc('month', u.created_at AT TIME ZONE 'UTC')::date AS cohort_month,
           coalesce(ac.utm_source,
                    CASE WHEN ac.referral_user_id IS NOT NULL THEN 'referral' END,
                    'direct')                                      AS acquisition_channel
    FROM users u
    LEFT JOIN acquisition_channels ac ON ac.user_id = u.id
    WHERE NOT u.is_test
      AND u.created_at <= now()
      AND u.created_at >= (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months') AT TIME ZONE 'UTC'
)
SELECT cu.cohort_month,
       cu.acquisition_channel,
       count(*)::bigint                                   AS cohort_size,
       count(fc.first_completed_at)::bigint               AS activated_users,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM subscriptions s
           WHERE s.user_id = cu.id
             AND s.plan_type = 'premium'
             AND s.status = 'active'
             AND (s.period_end IS NULL OR s.period_end > now())))::bigint AS premium_users,
       round(avg(extract(epoch FROM fc.first_completed_at - cu.created_at) / 86400), 2)
                                                          AS avg_days_to_first_generation
FROM cohort_users cu
LEFT JOIN LATERAL (
    SELECT min(ls.created_at) AS first_completed_at
    FROM letter_sessions ls
    WHERE ls.user_id = cu.id AND ls.status = 'completed'
) fc ON true
GROUP BY cu.cohort_month, cu.acquisition_channel;
