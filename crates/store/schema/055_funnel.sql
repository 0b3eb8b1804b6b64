-- The product funnel and revenue per cohort (issue 14), over the cohorts of user_cohorts_basic:
-- the 12 UTC calendar months ending with the current one, users created after now() in none,
-- test users excluded, the channel defined the same way (utm_source, else 'referral', else
-- 'direct').
--
-- Funnel steps, in order. A user reaches a step when they did what it names and reached the step
-- before (an ordered funnel: the counts never grow down the funnel). Each step is shown by the
-- event the bot records or by the rows it leaves behind (older rows may lack the event):
--   started                  the user exists (/start created them)
--   vacancy_sent             a vacancy_sent event, or a letter session holding a job description
--   resume_sent              a resume_sent event, or a letter session holding a resume
--   first_letter             a completed letter session
--   feedback_or_improvement  a like/dislike (letter_feedback) or an improvement (letter_iterations)
--   invoice_sent             an invoice_sent event, or a payment row in any status
--   paid                     a payment that succeeded (a later refund does not undo having paid;
--                            the revenue view subtracts the money)
--
-- Revenue: paid payments (succeeded, or succeeded then refunded) of each cohort whatever their
-- date, per currency: Stars (XTR) and rubles (RUB, in kopecks) are never added together.
--
-- Both views read summaries kept exact the way 045's are (statement-level triggers in the writing
-- transaction): per user, the last funnel step reached and the paid money per currency; per
-- (cohort, channel), counters. The views subtract the users whose created_at is still in the
-- future. Until the summaries are filled (analytics_funnel_state, marked like 046's by the rebuild
-- that analytics_rebuild() triggers), the same figures come from the base tables.

CREATE TABLE analytics_funnel_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    filled_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO analytics_funnel_state DEFAULT VALUES;

-- One row per user: their cohort, channel, test flag and the last funnel step reached (1..7).
CREATE TABLE analytics_user_funnel (
    user_id      bigint PRIMARY KEY,
    created_at   timestamptz NOT NULL,
    cohort_month date NOT NULL,
    channel      text NOT NULL,
    is_test      boolean NOT NULL,
    stage        smallint NOT NULL CHECK (stage BETWEEN 1 AND 7)
);
CREATE INDEX analytics_user_funnel_created_at_idx ON analytics_user_funnel (created_at);

-- Non-test users per (cohort month, channel) whose last step is `stage` (all months).
CREATE TABLE analytics_funnel_counts (
    cohort_month date NOT NULL,
    channel      text NOT NULL,
    stage        smallint NOT NULL,
    users        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (cohort_month, channel, stage)
);

-- One row per user and currency with a paid payment.
CREATE TABLE analytics_user_revenue (
    user_id        bigint NOT NULL,
    currency       text NOT NULL,
    created_at     timestamptz NOT NULL,
    cohort_month   date NOT NULL,
    channel        text NOT NULL,
    is_test        boolean NOT NULL,
    -- a succeeded payment that was not refunded
    paying         boolean NOT NULL,
    payments       bigint NOT NULL,
    gross_minor    bigint NOT NULL,
    refunded_minor bigint NOT NULL,
    PRIMARY KEY (user_id, currency)
);
CREATE INDEX analytics_user_revenue_created_at_idx ON analytics_user_revenue (created_at);

-- Sums over the non-test rows of analytics_user_revenue per (cohort month, channel, currency).
CREATE TABLE analytics_revenue_counts (
    cohort_month   date NOT NULL,
    channel        text NOT NULL,
    currency       text NOT NULL,
    paying_users   bigint NOT NULL DEFAULT 0,
    payments       bigint NOT NULL DEFAULT 0,
    gross_minor    bigint NOT NULL DEFAULT 0,
    refunded_minor bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (cohort_month, channel, currency)
);

-- The funnel stage of the given users, from the base tables by index probes (the refresh).
CREATE FUNCTION analytics_funnel_of(p_user_ids bigint[])
RETURNS TABLE (user_id bigint, created_at timestamptz, cohort_month date, channel text,
               is_test boolean, stage smallint)
LANGUAGE sql STABLE
AS $$
    SELECT u.id,
           u.created_at,
           date_trunc('month', u.created_at AT TIME ZONE 'UTC')::date,
           coalesce(ac.utm_source, CASE WHEN ac.referral_user_id IS NOT NULL THEN 'referral' END, 'direct'),
           u.is_test,
           (CASE WHEN NOT (coalesce(ev.vacancy, false) OR coalesce(l.vacancy, false)) THEN 1
                 WHEN NOT (coalesce(ev.resume, false) OR coalesce(l.resume, false)) THEN 2
                 WHEN NOT coalesce(l.completed, false) THEN 3
                 WHEN NOT (EXISTS (SELECT 1 FROM letter_feedback lf WHERE lf.user_id = u.id)
                           OR EXISTS (SELECT 1 FROM letter_iterations li WHERE li.user_id = u.id)) THEN 4
                 WHEN NOT (coalesce(ev.invoice, false) OR pay.user_id IS NOT NULL) THEN 5
                 WHEN NOT coalesce(pay.paid, false) THEN 6
                 ELSE 7 END)::smallint
    FROM users u
    LEFT JOIN acquisition_channels ac ON ac.user_id = u.id
    LEFT JOIN LATERAL (
        SELECT bool_or(e.event_type = 'vacancy_sent') AS vacancy,
               bool_or(e.event_type = 'resume_sent')  AS resume,
               bool_or(e.event_type = 'invoice_sent') AS invoice
        FROM user_events e
        WHERE e.user_id = u.id AND e.event_type IN ('vacancy_sent', 'resume_sent', 'invoice_sent')
    ) ev ON true
    LEFT JOIN LATERAL (
        SELECT bool_or(ls.job_description IS NOT NULL) AS vacancy,
               bool_or(ls.resume_text IS NOT NULL)     AS resume,
               bool_or(ls.status = 'completed')        AS completed
        FROM letter_sessions ls
        WHERE ls.user_id = u.id
    ) l ON true
    LEFT JOIN LATERAL (
        SELECT p.user_id, bool_or(p.status IN ('succeeded', 'refunded')) AS paid
        FROM payments p
        WHERE p.user_id = u.id
        GROUP BY p.user_id
    ) pay ON true
    WHERE u.id = ANY (p_user_ids)
$$;

-- The same for every user, set-based (the rebuild, and the views until the summaries are filled).
CREATE FUNCTION analytics_funnel_of_everyone()
RETURNS TABLE (user_id bigint, created_at timestamptz, cohort_month date, channel text,
               is_test boolean, stage smallint)
LANGUAGE sql STABLE
AS $$
    WITH ev AS (
        SELECT e.user_id,
               bool_or(e.event_type = 'vacancy_sent') AS vacancy,
               bool_or(e.event_type = 'resume_sent')  AS resume,
               bool_or(e.event_type = 'invoice_sent') AS invoice
        FROM user_events e
        WHERE e.event_type IN ('vacancy_sent', 'resume_sent', 'invoice_sent') AND e.user_id IS NOT NULL
        GROUP BY e.user_id
    ),
    l AS (
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
    pay AS (
        SELECT p.user_id, bool_or(p.status IN ('succeeded', 'refunded')) AS paid
        FROM payments p
        GROUP BY p.user_id
    )
    SELECT u.id,
           u.created_at,
           date_trunc('month', u.created_at AT TIME ZONE 'UTC')::date,
           coalesce(ac.utm_source, CASE WHEN ac.referral_user_id IS NOT NULL THEN 'referral' END, 'direct'),
           u.is_test,
           (CASE WHEN NOT (coalesce(ev.vacancy, false) OR coalesce(l.vacancy, false)) THEN 1
                 WHEN NOT (coalesce(ev.resume, false) OR coalesce(l.resume, false)) THEN 2
                 WHEN NOT coalesce(l.completed, false) THEN 3
                 WHEN NOT (en.user_id IS NOT NULL) THEN 4
                 WHEN NOT (coalesce(ev.invoice, false) OR pay.user_id IS NOT NULL) THEN 5
                 WHEN NOT coalesce(pay.paid, false) THEN 6
                 ELSE 7 END)::smallint
    FROM users u
    LEFT JOIN acquisition_channels ac ON ac.user_id = u.id
    LEFT JOIN ev ON ev.user_id = u.id
    LEFT JOIN l ON l.user_id = u.id
    LEFT JOIN engaged en ON en.user_id = u.id
    LEFT JOIN pay ON pay.user_id = u.id
$$;

-- Paid money per (user, currency) of the given users (the refresh).
CREATE FUNCTION analytics_revenue_of(p_user_ids bigint[])
RETURNS TABLE (user_id bigint, currency text, created_at timestamptz, cohort_month date,
               channel text, is_test boolean, paying boolean, payments bigint, gross_minor bigint,
               refunded_minor bigint)
LANGUAGE sql STABLE
AS $$
    SELECT u.id,
           p.currency,
           u.created_at,
           date_trunc('month', u.created_at AT TIME ZONE 'UTC')::date,
           coalesce(ac.utm_source, CASE WHEN ac.referral_user_id IS NOT NULL THEN 'referral' END, 'direct'),
           u.is_test,
           bool_or(p.status = 'succeeded'),
           count(*)::bigint,
           sum(p.amount_minor)::bigint,
           coalesce(sum(p.amount_minor) FILTER (WHERE p.status = 'refunded'), 0)::bigint
    FROM users u
    JOIN payments p ON p.user_id = u.id AND p.status IN ('succeeded', 'refunded')
    LEFT JOIN acquisition_channels ac ON ac.user_id = u.id
    WHERE u.id = ANY (p_user_ids)
    GROUP BY u.id, p.currency, ac.utm_source, ac.referral_user_id
$$;

-- The same for every user (the rebuild and the fallback).
CREATE FUNCTION analytics_revenue_of_everyone()
RETURNS TABLE (user_id bigint, currency text, created_at timestamptz, cohort_month date,
               channel text, is_test boolean, paying boolean, payments bigint, gross_minor bigint,
               refunded_minor bigint)
LANGUAGE sql STABLE
AS $$
    SELECT u.id,
           p.currency,
           u.created_at,
           date_trunc('month', u.created_at AT TIME ZONE 'UTC')::date,
           coalesce(ac.utm_source, CASE WHEN ac.referral_user_id IS NOT NULL THEN 'referral' END, 'direct'),
           u.is_test,
           bool_or(p.status = 'succeeded'),
           count(*)::bigint,
           sum(p.amount_minor)::bigint,
           coalesce(sum(p.amount_minor) FILTER (WHERE p.status = 'refunded'), 0)::bigint
    FROM users u
    JOIN payments p ON p.user_id = u.id AND p.status IN ('succeeded', 'refunded')
    LEFT JOIN acquisition_channels ac ON ac.user_id = u.id
    GROUP BY u.id, p.currency, ac.utm_source, ac.referral_user_id
$$;

-- Brings the funnel and revenue rows of the given users (and the counters) in line with the base
-- tables; idempotent, like analytics_refresh_users, so every trigger passes the users it touched.
-- Rows to remove are found by probing the base tables, not the computed rows: the generic plan
-- cannot know how many users a statement passes, and an anti-join against a CTE of thousands of
-- rows would run as a nested loop.
CREATE FUNCTION analytics_refresh_funnel(p_user_ids bigint[]) RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
-- Every read here is a probe for the given users. A generic plan made while a table was nearly
-- empty would keep scanning it whole per user once it has grown (a bulk write of 100k payments
-- took minutes that way): index probes only.
SET enable_seqscan = off
AS $$
BEGIN
    IF cardinality(p_user_ids) = 0 THEN
        RETURN;
    END IF;
    -- The per-user lock of the other summaries (facts rows, in id order).
    PERFORM f.user_id FROM analytics_user_facts f
    WHERE f.user_id = ANY (p_user_ids)
    ORDER BY f.user_id
    FOR UPDATE;

    WITH old_rows AS (
        SELECT o.* FROM analytics_user_funnel o WHERE o.user_id = ANY (p_user_ids)
    ),
    new_rows AS (
        SELECT n.* FROM analytics_funnel_of(p_user_ids) n
    ),
    removed AS (
        DELETE FROM analytics_user_funnel o
        WHERE o.user_id = ANY (p_user_ids)
          AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id)
    ),
    saved AS (
        INSERT INTO analytics_user_funnel AS o (user_id, created_at, cohort_month, channel, is_test, stage)
        SELECT n.user_id, n.created_at, n.cohort_month, n.channel, n.is_test, n.stage FROM new_rows n
        ON CONFLICT (user_id) DO UPDATE
        SET created_at = excluded.created_at, cohort_month = excluded.cohort_month,
            channel = excluded.channel, is_test = excluded.is_test, stage = excluded.stage
        WHERE (o.created_at, o.cohort_month, o.channel, o.is_test, o.stage)
              IS DISTINCT FROM
              (excluded.created_at, excluded.cohort_month, excluded.channel, excluded.is_test, excluded.stage)
    ),
    contributions AS (
        SELECT n.cohort_month, n.channel, n.stage, 1 AS users FROM new_rows n WHERE NOT n.is_test
        UNION ALL
        SELECT o.cohort_month, o.channel, o.stage, -1 FROM old_rows o WHERE NOT o.is_test
    ),
    delta AS (
        SELECT c.cohort_month, c.channel, c.stage, sum(c.users)::bigint AS users
        FROM contributions c
        GROUP BY c.cohort_month, c.channel, c.stage
        HAVING sum(c.users) <> 0
    )
    INSERT INTO analytics_funnel_counts AS c (cohort_month, channel, stage, users)
    SELECT d.cohort_month, d.channel, d.stage, d.users
    FROM delta d
    ORDER BY d.cohort_month, d.channel, d.stage
    ON CONFLICT (cohort_month, channel, stage) DO UPDATE
    SET users = c.users + excluded.users;

    WITH old_rows AS (
        SELECT o.* FROM analytics_user_revenue o WHERE o.user_id = ANY (p_user_ids)
    ),
    new_rows AS (
        SELECT n.* FROM analytics_revenue_of(p_user_ids) n
    ),
    removed AS (
        DELETE FROM analytics_user_revenue o
        WHERE o.user_id = ANY (p_user_ids)
          AND NOT (EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id)
                   AND EXISTS (SELECT 1 FROM payments p
                               WHERE p.user_id = o.user_id AND p.currency = o.currency
                                 AND p.status IN ('succeeded', 'refunded')))
    ),
    saved AS (
        INSERT INTO analytics_user_revenue AS o (user_id, currency, created_at, cohort_month, channel,
                                                 is_test, paying, payments, gross_minor, refunded_minor)
        SELECT n.user_id, n.currency, n.created_at, n.cohort_month, n.channel, n.is_test, n.paying,
               n.payments, n.gross_minor, n.refunded_minor
        FROM new_rows n
        ON CONFLICT (user_id, currency) DO UPDATE
        SET created_at = excluded.created_at, cohort_month = excluded.cohort_month,
            channel = excluded.channel, is_test = excluded.is_test, paying = excluded.paying,
            payments = excluded.payments, gross_minor = excluded.gross_minor,
            refunded_minor = excluded.refunded_minor
        WHERE (o.created_at, o.cohort_month, o.channel, o.is_test, o.paying, o.payments, o.gross_minor,
               o.refunded_minor)
              IS DISTINCT FROM
              (excluded.created_at, excluded.cohort_month, excluded.channel, excluded.is_test,
               excluded.paying, excluded.payments, excluded.gross_minor, excluded.refunded_minor)
    ),
    contributions AS (
        SELECT n.cohort_month, n.channel, n.currency, CASE WHEN n.paying THEN 1 ELSE 0 END AS paying,
               n.payments, n.gross_minor, n.refunded_minor
        FROM new_rows n WHERE NOT n.is_test
        UNION ALL
        SELECT o.cohort_month, o.channel, o.currency, CASE WHEN o.paying THEN -1 ELSE 0 END,
               -o.payments, -o.gross_minor, -o.refunded_minor
        FROM old_rows o WHERE NOT o.is_test
    ),
    delta AS (
        SELECT c.cohort_month, c.channel, c.currency, sum(c.paying)::bigint AS paying,
               sum(c.payments)::bigint AS payments, sum(c.gross_minor)::bigint AS gross,
               sum(c.refunded_minor)::bigint AS refunded
        FROM contributions c
        GROUP BY c.cohort_month, c.channel, c.currency
        HAVING sum(c.paying) <> 0 OR sum(c.payments) <> 0 OR sum(c.gross_minor) <> 0
            OR sum(c.refunded_minor) <> 0
    )
    INSERT INTO analytics_revenue_counts AS c (cohort_month, channel, currency, paying_users, payments,
                                               gross_minor, refunded_minor)
    SELECT d.cohort_month, d.channel, d.currency, d.paying, d.payments, d.gross, d.refunded
    FROM delta d
    ORDER BY d.cohort_month, d.channel, d.currency
    ON CONFLICT (cohort_month, channel, currency) DO UPDATE
    SET paying_users = c.paying_users + excluded.paying_users,
        payments = c.payments + excluded.payments,
        gross_minor = c.gross_minor + excluded.gross_minor,
        refunded_minor = c.refunded_minor + excluded.refunded_minor;
END;
$$;

-- Which users a statement can move. Tables whose every change matters pass all their rows' users;
-- user_events only the funnel's event types. (users, letter_sessions and acquisition_channels:
-- 057_analytics_triggers.sql.)
CREATE FUNCTION analytics_funnel_rows_changed() RETURNS trigger
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM analytics_defer('funnel', ARRAY(SELECT DISTINCT n.user_id FROM new_rows n));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM analytics_defer('funnel', ARRAY(SELECT DISTINCT o.user_id FROM old_rows o));
    ELSE
        PERFORM analytics_defer('funnel', ARRAY(
            SELECT o.user_id FROM old_rows o UNION SELECT n.user_id FROM new_rows n));
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION analytics_funnel_events_changed() RETURNS trigger
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM analytics_defer('funnel', ARRAY(
            SELECT DISTINCT n.user_id FROM new_rows n
            WHERE n.event_type IN ('vacancy_sent', 'resume_sent', 'invoice_sent') AND n.user_id IS NOT NULL));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM analytics_defer('funnel', ARRAY(
            SELECT DISTINCT o.user_id FROM old_rows o
            WHERE o.event_type IN ('vacancy_sent', 'resume_sent', 'invoice_sent') AND o.user_id IS NOT NULL));
    ELSE
        PERFORM analytics_defer('funnel', ARRAY(
            SELECT d.user_id
            FROM ((SELECT o.id, o.user_id, o.event_type FROM old_rows o
                   EXCEPT SELECT n.id, n.user_id, n.event_type FROM new_rows n)
                  UNION
                  (SELECT n.id, n.user_id, n.event_type FROM new_rows n
                   EXCEPT SELECT o.id, o.user_id, o.event_type FROM old_rows o)) d
            WHERE d.user_id IS NOT NULL
            GROUP BY d.user_id));
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER analytics_funnel_user_events_insert AFTER INSERT ON user_events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_funnel_events_changed();
CREATE TRIGGER analytics_funnel_user_events_update AFTER UPDATE ON user_events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_funnel_events_changed();
CREATE TRIGGER analytics_funnel_user_events_delete AFTER DELETE ON user_events
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_funnel_events_changed();
CREATE TRIGGER analytics_funnel_letter_feedback_insert AFTER INSERT ON letter_feedback
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_funnel_rows_changed();
CREATE TRIGGER analytics_funnel_letter_feedback_update AFTER UPDATE ON letter_feedback
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_funnel_rows_changed();
CREATE TRIGGER analytics_funnel_letter_feedback_delete AFTER DELETE ON letter_feedback
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_funnel_rows_changed();
CREATE TRIGGER analytics_funnel_letter_iterations_insert AFTER INSERT ON letter_iterations
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_funnel_rows_changed();
CREATE TRIGGER analytics_funnel_letter_iterations_update AFTER UPDATE ON letter_iterations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_funnel_rows_changed();
CREATE TRIGGER analytics_funnel_letter_iterations_delete AFTER DELETE ON letter_iterations
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_funnel_rows_changed();
CREATE TRIGGER analytics_funnel_payments_insert AFTER INSERT ON payments
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_funnel_rows_changed();
CREATE TRIGGER analytics_funnel_payments_update AFTER UPDATE ON payments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_funnel_rows_changed();
CREATE TRIGGER analytics_funnel_payments_delete AFTER DELETE ON payments
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_funnel_rows_changed();

-- Recomputes the funnel and revenue summaries from the base tables, set-based.
CREATE FUNCTION analytics_rebuild_funnel() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE users, acquisition_channels, user_events, letter_sessions, letter_feedback,
               letter_iterations, payments IN SHARE MODE;
    LOCK TABLE analytics_user_funnel, analytics_funnel_counts, analytics_user_revenue,
               analytics_revenue_counts, analytics_funnel_state IN EXCLUSIVE MODE;
    DELETE FROM analytics_funnel_counts;
    DELETE FROM analytics_user_funnel;
    INSERT INTO analytics_user_funnel (user_id, created_at, cohort_month, channel, is_test, stage)
    SELECT e.user_id, e.created_at, e.cohort_month, e.channel, e.is_test, e.stage
    FROM analytics_funnel_of_everyone() e;
    INSERT INTO analytics_funnel_counts (cohort_month, channel, stage, users)
    SELECT f.cohort_month, f.channel, f.stage, count(*)
    FROM analytics_user_funnel f
    WHERE NOT f.is_test
    GROUP BY f.cohort_month, f.channel, f.stage;
    DELETE FROM analytics_revenue_counts;
    DELETE FROM analytics_user_revenue;
    INSERT INTO analytics_user_revenue (user_id, currency, created_at, cohort_month, channel, is_test,
                                        paying, payments, gross_minor, refunded_minor)
    SELECT r.user_id, r.currency, r.created_at, r.cohort_month, r.channel, r.is_test, r.paying,
           r.payments, r.gross_minor, r.refunded_minor
    FROM analytics_revenue_of_everyone() r;
    INSERT INTO analytics_revenue_counts (cohort_month, channel, currency, paying_users, payments,
                                          gross_minor, refunded_minor)
    SELECT r.cohort_month, r.channel, r.currency, count(*) FILTER (WHERE r.paying), sum(r.payments),
           sum(r.gross_minor), sum(r.refunded_minor)
    FROM analytics_user_revenue r
    WHERE NOT r.is_test
    GROUP BY r.cohort_month, r.channel, r.currency;
    INSERT INTO analytics_funnel_state DEFAULT VALUES
    ON CONFLICT (singleton) DO UPDATE SET filled_at = excluded.filled_at;
END;
$$;

CREATE FUNCTION analytics_summaries_marked_funnel() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_rebuild_funnel();
    RETURN NULL;
END;
$$;

-- analytics_rebuild() (and so TRUNCATE of its tables) ends by marking the summaries filled.
CREATE TRIGGER analytics_summary_state_insert_funnel AFTER INSERT ON analytics_summary_state
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_summaries_marked_funnel();

-- TRUNCATE of a table only the funnel reads: recompute the funnel summaries.
CREATE FUNCTION analytics_funnel_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_rebuild_funnel();
    RETURN NULL;
END;
$$;
CREATE TRIGGER analytics_funnel_user_events_truncate AFTER TRUNCATE ON user_events
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_funnel_truncated();
CREATE TRIGGER analytics_funnel_letter_feedback_truncate AFTER TRUNCATE ON letter_feedback
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_funnel_truncated();
CREATE TRIGGER analytics_funnel_letter_iterations_truncate AFTER TRUNCATE ON letter_iterations
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_funnel_truncated();
CREATE TRIGGER analytics_funnel_payments_truncate AFTER TRUNCATE ON payments
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_funnel_truncated();

-- The two reports straight from the base tables: what the views show until the summaries are
-- filled (and the unsummarised queries of the benchmark). plpgsql, so that the planner never
-- inlines them into the views' fast path (their cost would switch JIT compilation on).
CREATE FUNCTION analytics_funnel_from_base_tables()
RETURNS TABLE (cohort_month date, acquisition_channel text, started bigint, vacancy_sent bigint,
               resume_sent bigint, first_letter bigint, feedback_or_improvement bigint,
               invoice_sent bigint, paid bigint)
LANGUAGE plpgsql STABLE ROWS 100
AS $$
BEGIN
    RETURN QUERY
    SELECT e.cohort_month, e.channel, count(*)::bigint,
           (count(*) FILTER (WHERE e.stage >= 2))::bigint, (count(*) FILTER (WHERE e.stage >= 3))::bigint,
           (count(*) FILTER (WHERE e.stage >= 4))::bigint, (count(*) FILTER (WHERE e.stage >= 5))::bigint,
           (count(*) FILTER (WHERE e.stage >= 6))::bigint, (count(*) FILTER (WHERE e.stage >= 7))::bigint
    FROM analytics_funnel_of_everyone() e
    WHERE NOT e.is_test
      AND e.created_at <= now()
      AND e.created_at >= (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months') AT TIME ZONE 'UTC'
    GROUP BY e.cohort_month, e.channel;
END;
$$;

CREATE FUNCTION analytics_revenue_from_base_tables()
RETURNS TABLE (cohort_month date, acquisition_channel text, currency text, paying_users bigint,
               payments bigint, gross_minor bigint, refunded_minor bigint, net_minor bigint)
LANGUAGE plpgsql STABLE ROWS 100
AS $$
BEGIN
    RETURN QUERY
    SELECT r.cohort_month, r.channel, r.currency, (count(*) FILTER (WHERE r.paying))::bigint,
           sum(r.payments)::bigint, sum(r.gross_minor)::bigint, sum(r.refunded_minor)::bigint,
           (sum(r.gross_minor) - sum(r.refunded_minor))::bigint
    FROM analytics_revenue_of_everyone() r
    WHERE NOT r.is_test
      AND r.created_at <= now()
      AND r.created_at >= (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months') AT TIME ZONE 'UTC'
    GROUP BY r.cohort_month, r.channel, r.currency;
END;
$$;

-- One row per (cohort_month, acquisition_channel) with at least one user: how many of the cohort's
-- users reached each step, each user once per step. From the counters, minus the users created
-- after now().
CREATE VIEW user_funnel AS
WITH per_stage AS (
    SELECT c.cohort_month, c.channel, c.stage, c.users
    FROM analytics_funnel_counts c
    WHERE c.cohort_month >= (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months')::date
      AND c.cohort_month <= date_trunc('month', now() AT TIME ZONE 'UTC')::date
    UNION ALL
    SELECT f.cohort_month, f.channel, f.stage, -1
    FROM analytics_user_funnel f
    WHERE f.created_at > now()
      AND NOT f.is_test
      AND f.cohort_month >= (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months')::date
      AND f.cohort_month <= date_trunc('month', now() AT TIME ZONE 'UTC')::date
),
from_summaries AS (
    SELECT p.cohort_month,
           p.channel                                                     AS acquisition_channel,
           sum(p.users)::bigint                                          AS started,
           coalesce(sum(p.users) FILTER (WHERE p.stage >= 2), 0)::bigint AS vacancy_sent,
           coalesce(sum(p.users) FILTER (WHERE p.stage >= 3), 0)::bigint AS resume_sent,
           coalesce(sum(p.users) FILTER (WHERE p.stage >= 4), 0)::bigint AS first_letter,
           coalesce(sum(p.users) FILTER (WHERE p.stage >= 5), 0)::bigint AS feedback_or_improvement,
           coalesce(sum(p.users) FILTER (WHERE p.stage >= 6), 0)::bigint AS invoice_sent,
           coalesce(sum(p.users) FILTER (WHERE p.stage >= 7), 0)::bigint AS paid
    FROM per_stage p
    GROUP BY p.cohort_month, p.channel
    HAVING sum(p.users) > 0
)
SELECT * FROM from_summaries WHERE EXISTS (SELECT 1 FROM analytics_funnel_state)
UNION ALL
SELECT * FROM analytics_funnel_from_base_tables() WHERE NOT EXISTS (SELECT 1 FROM analytics_funnel_state);

-- Money per cohort: one row per (cohort_month, acquisition_channel, currency) that has a paid
-- payment.
--   paying_users    users with a succeeded payment in that currency that was not refunded
--   payments        paid payments (succeeded, or succeeded then refunded)
--   gross_minor     their amounts (Stars, or kopecks)
--   refunded_minor  the amounts of the refunded ones
--   net_minor       gross_minor - refunded_minor
CREATE VIEW user_cohort_revenue AS
WITH parts AS (
    SELECT c.cohort_month, c.channel, c.currency, c.paying_users, c.payments, c.gross_minor,
           c.refunded_minor
    FROM analytics_revenue_counts c
    WHERE c.cohort_month >= (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months')::date
      AND c.cohort_month <= date_trunc('month', now() AT TIME ZONE 'UTC')::date
    UNION ALL
    SELECT r.cohort_month, r.channel, r.currency, -(CASE WHEN r.paying THEN 1 ELSE 0 END)::bigint,
           -r.payments, -r.gross_minor, -r.refunded_minor
    FROM analytics_user_revenue r
    WHERE r.created_at > now()
      AND NOT r.is_test
      AND r.cohort_month >= (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months')::date
      AND r.cohort_month <= date_trunc('month', now() AT TIME ZONE 'UTC')::date
),
from_summaries AS (
    SELECT p.cohort_month,
           p.channel                                            AS acquisition_channel,
           p.currency,
           sum(p.paying_users)::bigint                          AS paying_users,
           sum(p.payments)::bigint                              AS payments,
           sum(p.gross_minor)::bigint                           AS gross_minor,
           sum(p.refunded_minor)::bigint                        AS refunded_minor,
           (sum(p.gross_minor) - sum(p.refunded_minor))::bigint AS net_minor
    FROM parts p
    GROUP BY p.cohort_month, p.channel, p.currency
    HAVING sum(p.payments) > 0
)
SELECT * FROM from_summaries WHERE EXISTS (SELECT 1 FROM analytics_funnel_state)
UNION ALL
SELECT * FROM analytics_revenue_from_base_tables() WHERE NOT EXISTS (SELECT 1 FROM analytics_funnel_state);
