-- Summaries for the retention triangle and for premium expiry, kept exact the way those of
-- 045_analytics.sql are: statement-level triggers (transition tables) in the writing transaction.
--
-- * analytics_user_active_months / analytics_retention_counts: per user, the UTC months with a
--   completed letter session; per (cohort month, active month), how many non-test users of the
--   cohort were active. user_retention_monthly reads a few hundred counter rows instead of joining
--   every user to their sessions.
-- * analytics_premium_expiry_counts: per (cohort month, channel, UTC day the premium ends), the
--   non-test users whose active premium ends that day. Premium expiry depends on now(), so it
--   cannot be counted in advance; but "ends after now" is "ends on a later UTC day, or later today",
--   so user_cohorts_basic sums the counters of later days and looks at today's few users only.
--   These counters are derived from analytics_user_facts by a trigger on that table, so every path
--   that moves the facts (the refresh, a rebuild, a truncate) moves them too.
--
-- When the summaries are (re)filled, which analytics_rebuild() marks in analytics_summary_state,
-- a trigger on that mark recomputes the two retention tables and the expiry counters as well.
-- They have their own mark, analytics_retention_state: a database whose 045 summaries were filled
-- before this file existed gets these tables empty and unmarked from a migration, and the views
-- compute from the base tables until analytics_rebuild() has run (`db up`/`db apply` run it).

CREATE TABLE analytics_retention_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    filled_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO analytics_retention_state DEFAULT VALUES;

-- One row per (user, UTC month) in which the user has at least one completed letter session.
CREATE TABLE analytics_user_active_months (
    user_id      bigint NOT NULL,
    active_month date NOT NULL,
    -- the user's cohort (UTC month of users.created_at) and test flag, so counters move with them
    cohort_month date NOT NULL,
    is_test      boolean NOT NULL,
    PRIMARY KEY (user_id, active_month)
);

-- Non-test users of a cohort with a completed letter session in active_month (all months).
CREATE TABLE analytics_retention_counts (
    cohort_month date NOT NULL,
    active_month date NOT NULL,
    users        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (cohort_month, active_month)
);

-- Non-test users per (cohort month, channel) whose latest active premium ends on until_day (UTC
-- date of analytics_user_facts.premium_until; 'infinity' when open-ended).
CREATE TABLE analytics_premium_expiry_counts (
    cohort_month date NOT NULL,
    channel      text NOT NULL,
    until_day    date NOT NULL,
    users        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (cohort_month, channel, until_day)
);

-- Brings the active months of the given users (and the counters) in line with the base tables;
-- idempotent, like analytics_refresh_users, so a trigger passes every user its statement touched.
CREATE FUNCTION analytics_refresh_active_months(p_user_ids bigint[]) RETURNS void
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
    -- The same per-user lock as analytics_refresh_users (facts rows, in id order), so two writers
    -- of one user's rows queue and the statement below sees what the previous one committed.
    PERFORM f.user_id FROM analytics_user_facts f
    WHERE f.user_id = ANY (p_user_ids)
    ORDER BY f.user_id
    FOR UPDATE;

    WITH old_months AS (
        SELECT m.* FROM analytics_user_active_months m WHERE m.user_id = ANY (p_user_ids)
    ),
    new_months AS (
        SELECT DISTINCT u.id AS user_id,
               date_trunc('month', ls.created_at AT TIME ZONE 'UTC')::date AS active_month,
               date_trunc('month', u.created_at AT TIME ZONE 'UTC')::date AS cohort_month,
               u.is_test
        FROM users u
        JOIN letter_sessions ls ON ls.user_id = u.id AND ls.status = 'completed'
        WHERE u.id = ANY (p_user_ids)
    ),
    removed AS (
        -- Probing the base tables (by index), not new_months: see analytics_refresh_funnel.
        DELETE FROM analytics_user_active_months m
        WHERE m.user_id = ANY (p_user_ids)
          AND NOT (EXISTS (SELECT 1 FROM users u WHERE u.id = m.user_id)
                   AND EXISTS (SELECT 1 FROM letter_sessions ls
                               WHERE ls.user_id = m.user_id AND ls.status = 'completed'
                                 AND ls.created_at >= m.active_month::timestamp AT TIME ZONE 'UTC'
                                 AND ls.created_at < (m.active_month + interval '1 month') AT TIME ZONE 'UTC'))
    ),
    saved AS (
        INSERT INTO analytics_user_active_months AS m (user_id, active_month, cohort_month, is_test)
        SELECT n.user_id, n.active_month, n.cohort_month, n.is_test FROM new_months n
        ON CONFLICT (user_id, active_month) DO UPDATE
        SET cohort_month = excluded.cohort_month, is_test = excluded.is_test
        WHERE (m.cohort_month, m.is_test) IS DISTINCT FROM (excluded.cohort_month, excluded.is_test)
    ),
    contributions AS (
        SELECT n.cohort_month, n.active_month, 1 AS users FROM new_months n WHERE NOT n.is_test
        UNION ALL
        SELECT o.cohort_month, o.active_month, -1 FROM old_months o WHERE NOT o.is_test
    ),
    delta AS (
        SELECT c.cohort_month, c.active_month, sum(c.users)::bigint AS users
        FROM contributions c
        GROUP BY c.cohort_month, c.active_month
        HAVING sum(c.users) <> 0
    )
    -- Counter rows in key order: two single-statement writers cannot deadlock on them.
    INSERT INTO analytics_retention_counts AS c (cohort_month, active_month, users)
    SELECT d.cohort_month, d.active_month, d.users
    FROM delta d
    ORDER BY d.cohort_month, d.active_month
    ON CONFLICT (cohort_month, active_month) DO UPDATE
    SET users = c.users + excluded.users;
END;
$$;

-- Which users' active months a statement can move (the triggers are in
-- 057_analytics_triggers.sql): completed sessions appearing, disappearing, changing user or month;
-- a user's cohort or test flag moves all of their active months; a deleted user loses them.

-- The expiry counters follow the facts: every row the facts lose is taken off, every row they
-- gain is added; an UPDATE is both. (One function per operation: a trigger function may only name
-- the transition tables its trigger declares.)
CREATE FUNCTION analytics_premium_expiry_updated() RETURNS trigger
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    WITH contributions AS (
        SELECT n.cohort_month, n.channel, (n.premium_until AT TIME ZONE 'UTC')::date AS until_day,
               1 AS users
        FROM new_rows n
        WHERE n.premium_until IS NOT NULL AND NOT n.is_test
        UNION ALL
        SELECT o.cohort_month, o.channel, (o.premium_until AT TIME ZONE 'UTC')::date, -1
        FROM old_rows o
        WHERE o.premium_until IS NOT NULL AND NOT o.is_test
    ),
    delta AS (
        SELECT c.cohort_month, c.channel, c.until_day, sum(c.users)::bigint AS users
        FROM contributions c
        GROUP BY c.cohort_month, c.channel, c.until_day
        HAVING sum(c.users) <> 0
    )
    INSERT INTO analytics_premium_expiry_counts AS e (cohort_month, channel, until_day, users)
    SELECT d.cohort_month, d.channel, d.until_day, d.users
    FROM delta d
    ORDER BY d.cohort_month, d.channel, d.until_day
    ON CONFLICT (cohort_month, channel, until_day) DO UPDATE
    SET users = e.users + excluded.users;
    RETURN NULL;
END;
$$;

CREATE FUNCTION analytics_premium_expiry_inserted() RETURNS trigger
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    WITH delta AS (
        SELECT n.cohort_month, n.channel, (n.premium_until AT TIME ZONE 'UTC')::date AS until_day,
               count(*)::bigint AS users
        FROM new_rows n
        WHERE n.premium_until IS NOT NULL AND NOT n.is_test
        GROUP BY 1, 2, 3
    )
    INSERT INTO analytics_premium_expiry_counts AS e (cohort_month, channel, until_day, users)
    SELECT d.cohort_month, d.channel, d.until_day, d.users
    FROM delta d
    ORDER BY d.cohort_month, d.channel, d.until_day
    ON CONFLICT (cohort_month, channel, until_day) DO UPDATE
    SET users = e.users + excluded.users;
    RETURN NULL;
END;
$$;

CREATE FUNCTION analytics_premium_expiry_deleted() RETURNS trigger
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    WITH delta AS (
        SELECT o.cohort_month, o.channel, (o.premium_until AT TIME ZONE 'UTC')::date AS until_day,
               -count(*)::bigint AS users
        FROM old_rows o
        WHERE o.premium_until IS NOT NULL AND NOT o.is_test
        GROUP BY 1, 2, 3
    )
    INSERT INTO analytics_premium_expiry_counts AS e (cohort_month, channel, until_day, users)
    SELECT d.cohort_month, d.channel, d.until_day, d.users
    FROM delta d
    ORDER BY d.cohort_month, d.channel, d.until_day
    ON CONFLICT (cohort_month, channel, until_day) DO UPDATE
    SET users = e.users + excluded.users;
    RETURN NULL;
END;
$$;

CREATE TRIGGER analytics_premium_expiry_insert AFTER INSERT ON analytics_user_facts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_premium_expiry_inserted();
CREATE TRIGGER analytics_premium_expiry_update AFTER UPDATE ON analytics_user_facts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_premium_expiry_updated();
CREATE TRIGGER analytics_premium_expiry_delete AFTER DELETE ON analytics_user_facts
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_premium_expiry_deleted();

-- Recomputes the three tables of this file from the base tables and the facts, set-based.
CREATE FUNCTION analytics_rebuild_retention() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE users, letter_sessions IN SHARE MODE;
    LOCK TABLE analytics_user_active_months, analytics_retention_counts,
               analytics_premium_expiry_counts, analytics_retention_state IN EXCLUSIVE MODE;
    DELETE FROM analytics_retention_counts;
    DELETE FROM analytics_user_active_months;
    INSERT INTO analytics_user_active_months (user_id, active_month, cohort_month, is_test)
    SELECT DISTINCT u.id,
           date_trunc('month', ls.created_at AT TIME ZONE 'UTC')::date,
           date_trunc('month', u.created_at AT TIME ZONE 'UTC')::date,
           u.is_test
    FROM users u
    JOIN letter_sessions ls ON ls.user_id = u.id AND ls.status = 'completed';
    INSERT INTO analytics_retention_counts (cohort_month, active_month, users)
    SELECT m.cohort_month, m.active_month, count(*)
    FROM analytics_user_active_months m
    WHERE NOT m.is_test
    GROUP BY m.cohort_month, m.active_month;
    DELETE FROM analytics_premium_expiry_counts;
    INSERT INTO analytics_premium_expiry_counts (cohort_month, channel, until_day, users)
    SELECT f.cohort_month, f.channel, (f.premium_until AT TIME ZONE 'UTC')::date, count(*)
    FROM analytics_user_facts f
    WHERE f.premium_until IS NOT NULL AND NOT f.is_test
    GROUP BY 1, 2, 3;
    INSERT INTO analytics_retention_state DEFAULT VALUES
    ON CONFLICT (singleton) DO UPDATE SET filled_at = excluded.filled_at;
END;
$$;

-- analytics_rebuild() ends by marking the summaries filled: rebuild these with them.
CREATE FUNCTION analytics_summaries_marked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_rebuild_retention();
    RETURN NULL;
END;
$$;

-- (Its INSERT ... ON CONFLICT DO UPDATE fires statement-level INSERT triggers in either case.)
CREATE TRIGGER analytics_summary_state_insert AFTER INSERT ON analytics_summary_state
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_summaries_marked();

-- The retention triangle straight from the base tables: what user_retention_monthly shows while
-- the summaries have not been filled (a function, for the same reason as
-- analytics_cohorts_from_base_tables).
CREATE FUNCTION analytics_retention_from_base_tables()
RETURNS TABLE (cohort_month date, cohort_size bigint, months_after_signup integer,
               retained_users bigint, retention_pct numeric)
LANGUAGE plpgsql STABLE ROWS 144
AS $$
BEGIN
    RETURN QUERY
    WITH bounds AS (
        SELECT now()                                                                AS at_now,
               (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months')::date AS first_month,
               date_trunc('month', now() AT TIME ZONE 'UTC')::date                 AS last_month
    ),
    cohort AS (
        SELECT u.id, date_trunc('month', u.created_at AT TIME ZONE 'UTC')::date AS month
        FROM users u
        JOIN bounds b ON u.created_at >= b.first_month::timestamp AT TIME ZONE 'UTC'
                     AND u.created_at <= b.at_now
        WHERE NOT u.is_test
    ),
    sizes AS (
        SELECT c.month, count(*)::bigint AS size
        FROM cohort c
        GROUP BY c.month
    ),
    active AS (
        SELECT a.month, a.n, count(DISTINCT a.id)::bigint AS retained
        FROM (SELECT c.month, c.id,
                     ((extract(year FROM ls.created_at AT TIME ZONE 'UTC') - extract(year FROM c.month)) * 12
                      + extract(month FROM ls.created_at AT TIME ZONE 'UTC') - extract(month FROM c.month))::integer
                         AS n
              FROM cohort c
              JOIN letter_sessions ls ON ls.user_id = c.id AND ls.status = 'completed') a
        GROUP BY a.month, a.n
    )
    SELECT s.month,
           s.size,
           g.n,
           CASE WHEN (s.month + make_interval(months => g.n))::date <= b.last_month
                THEN coalesce(a.retained, 0) END,
           CASE WHEN (s.month + make_interval(months => g.n))::date <= b.last_month
                THEN round(100.0 * coalesce(a.retained, 0) / s.size, 2) END
    FROM sizes s
    CROSS JOIN bounds b
    CROSS JOIN generate_series(0, 11) AS g (n)
    LEFT JOIN active a ON a.month = s.month AND a.n = g.n;
END;
$$;
