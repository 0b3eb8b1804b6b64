-- The product funnel and revenue per cohort (issue 14), over the cohorts of user_cohorts_basic:
-- the 12 UTC calendar months ending with the current one, users created after now() in none,
-- test users excluded, the channel defined the same way (utm_source, else 'referral', else
-- 'direct'). Both read the base tables directly (no summaries).

-- One row per (cohort_month, acquisition_channel) with at least one user: how many of the cohort's
-- users reached each step, each user once per step. The steps are nested, as in an ordered funnel:
-- a user reaches a step when they did what it names and reached the step before (so the counts
-- never grow down the funnel). What a step needs, each from the event the bot records or the rows
-- the step leaves behind (older rows may lack the event):
--   started                  the user exists (/start created them)
--   vacancy_sent             a vacancy_sent event, or a letter session holding a job description
--   resume_sent              a resume_sent event, or a letter session holding a resume
--   first_letter             a completed letter session
--   feedback_or_improvement  a like/dislike (letter_feedback) or an improvement (letter_iterations)
--   invoice_sent             an invoice_sent event, or a payment row in any status
--   paid                     a payment that succeeded (a later refund does not undo having paid;
--                            user_cohort_revenue subtracts the money)
CREATE VIEW user_funnel AS
WITH cohort AS (
    SELECT u.id,
           date_trunc('month', u.created_at AT TIME ZONE 'UTC')::date AS cohort_month,
           coalesce(ac.utm_source, CASE WHEN ac.referral_user_id IS NOT NULL THEN 'referral' END, 'direct')
                                                                     AS channel
    FROM users u
    LEFT JOIN acquisition_channels ac ON ac.user_id = u.id
    WHERE NOT u.is_test
      AND u.created_at <= now()
      AND u.created_at >= (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months') AT TIME ZONE 'UTC'
),
events AS (
    SELECT e.user_id,
           bool_or(e.event_type = 'vacancy_sent') AS vacancy,
           bool_or(e.event_type = 'resume_sent')  AS resume,
           bool_or(e.event_type = 'invoice_sent') AS invoice
    FROM user_events e
    WHERE e.event_type IN ('vacancy_sent', 'resume_sent', 'invoice_sent')
      AND e.user_id IS NOT NULL
    GROUP BY e.user_id
),
letters AS (
    SELECT ls.user_id,
           bool_or(ls.job_description IS NOT NULL) AS vacancy,
           bool_or(ls.resume_text IS NOT NULL)     AS resume,
           bool_or(ls.status = 'completed')        AS completed
    FROM letter_sessions ls
    GROUP BY ls.user_id
),
engaged AS (
    SELECT lf.user_id FROM letter_feedback lf
    UNION
    SELECT li.user_id FROM letter_iterations li
),
paying AS (
    SELECT p.user_id, bool_or(p.status IN ('succeeded', 'refunded')) AS paid
    FROM payments p
    GROUP BY p.user_id
),
steps AS (
    SELECT c.cohort_month,
           c.channel,
           coalesce(ev.vacancy, false) OR coalesce(l.vacancy, false)  AS s2,
           coalesce(ev.resume, false) OR coalesce(l.resume, false)    AS s3,
           coalesce(l.completed, false)                               AS s4,
           en.user_id IS NOT NULL                                     AS s5,
           coalesce(ev.invoice, false) OR pay.user_id IS NOT NULL     AS s6,
           coalesce(pay.paid, false)                                  AS s7
    FROM cohort c
    LEFT JOIN events ev ON ev.user_id = c.id
    LEFT JOIN letters l ON l.user_id = c.id
    LEFT JOIN engaged en ON en.user_id = c.id
    LEFT JOIN paying pay ON pay.user_id = c.id
)
SELECT s.cohort_month,
       s.channel                                                              AS acquisition_channel,
       count(*)::bigint                                                       AS started,
       count(*) FILTER (WHERE s.s2)::bigint                                   AS vacancy_sent,
       count(*) FILTER (WHERE s.s2 AND s.s3)::bigint                          AS resume_sent,
       count(*) FILTER (WHERE s.s2 AND s.s3 AND s.s4)::bigint                 AS first_letter,
       count(*) FILTER (WHERE s.s2 AND s.s3 AND s.s4 AND s.s5)::bigint        AS feedback_or_improvement,
       count(*) FILTER (WHERE s.s2 AND s.s3 AND s.s4 AND s.s5 AND s.s6)::bigint AS invoice_sent,
       count(*) FILTER (WHERE s.s2 AND s.s3 AND s.s4 AND s.s5 AND s.s6 AND s.s7)::bigint AS paid
FROM steps s
GROUP BY s.cohort_month, s.channel;

-- Money per cohort: one row per (cohort_month, acquisition_channel, currency) that has a paid
-- payment. Stars (XTR) and rubles (RUB, in kopecks) are never added together. A payment counts
-- whatever its date (the cohort's revenue so far); pending, canceled and failed ones are not money.
--   paying_users    users with a succeeded payment in that currency that was not refunded
--   payments        paid payments (succeeded, or succeeded then refunded)
--   gross_minor     their amounts
--   refunded_minor  the amounts of the refunded ones
--   net_minor       gross_minor - refunded_minor
CREATE VIEW user_cohort_revenue AS
WITH cohort AS (
    SELECT u.id,
           date_trunc('month', u.created_at AT TIME ZONE 'UTC')::date AS cohort_month,
           coalesce(ac.utm_source, CASE WHEN ac.referral_user_id IS NOT NULL THEN 'referral' END, 'direct')
                                                                     AS channel
    FROM users u
    LEFT JOIN acquisition_channels ac ON ac.user_id = u.id
    WHERE NOT u.is_test
      AND u.created_at <= now()
      AND u.created_at >= (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months') AT TIME ZONE 'UTC'
)
SELECT c.cohort_month,
       c.channel                                                                   AS acquisition_channel,
       p.currency,
       count(DISTINCT c.id) FILTER (WHERE p.status = 'succeeded')::bigint          AS paying_users,
       count(*)::bigint                                                            AS payments,
       sum(p.amount_minor)::bigint                                                 AS gross_minor,
       coalesce(sum(p.amount_minor) FILTER (WHERE p.status = 'refunded'), 0)::bigint AS refunded_minor,
       (sum(p.amount_minor) - coalesce(sum(p.amount_minor) FILTER (WHERE p.status = 'refunded'), 0))::bigint
                                                                                   AS net_minor
FROM cohort c
JOIN payments p ON p.user_id = c.id AND p.status IN ('succeeded', 'refunded')
GROUP BY c.cohort_month, c.channel, p.currency;
