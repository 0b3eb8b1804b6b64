-- Analytics summaries: what `user_cohorts_basic` needs per user and per cohort, so the view reads a
-- few hundred counter rows instead of joining every user to their sessions and subscriptions.
--
-- They are not a cache: triggers on users, letter_sessions, subscriptions and acquisition_channels
-- bring them up to date when the writing transaction commits (any write path, FK cascades included;
-- see 056_analytics_commit.sql), so a reader never sees them out of step with the base tables. What depends on the clock (premium
-- expiry, users whose created_at is still in the future, the 12-month window) is left to the view.
--
-- A database that already had users when these tables were added (a migration) has no row in
-- analytics_summary_state: until `SELECT analytics_rebuild()` (`soprovod analytics rebuild`) fills
-- the summaries, the cohort view computes its figures from the base tables instead (exact, slow).

-- One row once the summaries cover every user: inserted when the schema is created on an empty
-- database (below) and by analytics_rebuild().
CREATE TABLE analytics_summary_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    filled_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO analytics_summary_state DEFAULT VALUES;

-- One row per user: the facts the cohort report reads, derived from the base tables only.
CREATE TABLE analytics_user_facts (
    user_id            bigint PRIMARY KEY,
    created_at         timestamptz NOT NULL,
    -- first day of the UTC calendar month of created_at
    cohort_month       date NOT NULL,
    is_test            boolean NOT NULL,
    -- utm_source, else 'referral' when referral_user_id is set, else 'direct'
    channel            text NOT NULL,
    -- created_at of the user's earliest completed letter session
    first_completed_at timestamptz,
    -- latest period_end of an active premium subscription ('infinity' when open-ended)
    premium_until      timestamptz
);

-- For the view's corrections: users not created yet, and users whose premium is still running.
CREATE INDEX analytics_user_facts_created_at_idx ON analytics_user_facts (created_at);
CREATE INDEX analytics_user_facts_premium_idx ON analytics_user_facts (premium_until)
    INCLUDE (cohort_month, channel, created_at)
    WHERE premium_until IS NOT NULL AND NOT is_test;

-- Sums over the non-test users of analytics_user_facts, per (cohort_month, channel), all months.
CREATE TABLE analytics_cohort_counts (
    cohort_month          date NOT NULL,
    channel               text NOT NULL,
    users                 bigint NOT NULL DEFAULT 0,
    activated             bigint NOT NULL DEFAULT 0,
    -- sum over activated users of (first_completed_at - created_at) in seconds; numeric, so exact
    days_to_first_seconds numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (cohort_month, channel)
);

-- Brings the facts of the given users (and the counters) in line with the base tables, set-based;
-- a user that no longer exists loses its facts. Idempotent, so every trigger just passes the users
-- its statement touched. Its plans (and the triggers') are generic: planning them afresh on every
-- call cost a single-row write about 1 ms; they are index probes per user whatever the array size.
CREATE FUNCTION analytics_refresh_users(p_user_ids bigint[]) RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    IF cardinality(p_user_ids) = 0 THEN
        RETURN;
    END IF;
    -- Lock the users' rows first, in id order (no deadlock between two writers); the statement
    -- below then takes a fresh snapshot (READ COMMITTED), so concurrent writers for one user queue
    -- here and each sees what the previous one committed.
    PERFORM f.user_id FROM analytics_user_facts f
    WHERE f.user_id = ANY (p_user_ids)
    ORDER BY f.user_id
    FOR UPDATE;

    WITH old_facts AS (
        SELECT f.* FROM analytics_user_facts f WHERE f.user_id = ANY (p_user_ids)
    ),
    new_facts AS (
        SELECT u.id AS user_id,
               u.created_at,
               date_trunc('month', u.created_at AT TIME ZONE 'UTC')::date AS cohort_month,
               u.is_test,
               coalesce((SELECT coalesce(a.utm_source,
                                         CASE WHEN a.referral_user_id IS NOT NULL THEN 'referral' END,
                                         'direct')
                         FROM acquisition_channels a WHERE a.user_id = u.id),
                        'direct') AS channel,
               (SELECT min(ls.created_at) FROM letter_sessions ls
                WHERE ls.user_id = u.id AND ls.status = 'completed') AS first_completed_at,
               (SELECT max(coalesce(s.period_end, 'infinity'::timestamptz)) FROM subscriptions s
                WHERE s.user_id = u.id AND s.plan_type = 'premium' AND s.status = 'active') AS premium_until
        FROM users u
        WHERE u.id = ANY (p_user_ids)
    ),
    removed AS (
        DELETE FROM analytics_user_facts f
        WHERE f.user_id = ANY (p_user_ids)
          AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = f.user_id)
    ),
    saved AS (
        INSERT INTO analytics_user_facts AS f (user_id, created_at, cohort_month, is_test, channel,
                                               first_completed_at, premium_until)
        SELECT n.user_id, n.created_at, n.cohort_month, n.is_test, n.channel, n.first_completed_at,
               n.premium_until
        FROM new_facts n
        ON CONFLICT (user_id) DO UPDATE
        SET created_at = excluded.created_at, cohort_month = excluded.cohort_month,
            is_test = excluded.is_test, channel = excluded.channel,
            first_completed_at = excluded.first_completed_at, premium_until = excluded.premium_until
        WHERE (f.created_at, f.cohort_month, f.is_test, f.channel, f.first_completed_at, f.premium_until)
              IS DISTINCT FROM
              (excluded.created_at, excluded.cohort_month, excluded.is_test, excluded.channel,
               excluded.first_completed_at, excluded.premium_until)
    ),
    contributions AS (
        SELECT n.cohort_month, n.channel, 1 AS users,
               CASE WHEN n.first_completed_at IS NULL THEN 0 ELSE 1 END AS activated,
               coalesce(extract(epoch FROM n.first_completed_at - n.created_at), 0) AS seconds
        FROM new_facts n WHERE NOT n.is_test
        UNION ALL
        SELECT o.cohort_month, o.channel, -1,
               CASE WHEN o.first_completed_at IS NULL THEN 0 ELSE -1 END,
               -coalesce(extract(epoch FROM o.first_completed_at - o.created_at), 0)
        FROM old_facts o WHERE NOT o.is_test
    ),
    delta AS (
        SELECT c.cohort_month, c.channel, sum(c.users)::bigint AS users,
               sum(c.activated)::bigint AS activated, sum(c.seconds) AS seconds
        FROM contributions c
        GROUP BY c.cohort_month, c.channel
        HAVING sum(c.users) <> 0 OR sum(c.activated) <> 0 OR sum(c.seconds) <> 0
    )
    -- A statement changes counter rows in key order, so two single-statement writers cannot
    -- deadlock on them. (Every signup updates its month's 'direct' row: signups queue on that row
    -- lock until their transaction commits, which for the bot's short transactions is brief.)
    INSERT INTO analytics_cohort_counts AS c (cohort_month, channel, users, activated, days_to_first_seconds)
    SELECT d.cohort_month, d.channel, d.users, d.activated, d.seconds
    FROM delta d
    ORDER BY d.cohort_month, d.channel
    ON CONFLICT (cohort_month, channel) DO UPDATE
    SET users = c.users + excluded.users,
        activated = c.activated + excluded.activated,
        days_to_first_seconds = c.days_to_first_seconds + excluded.days_to_first_seconds;
END;
$$;

-- The triggers are per statement, with transition tables, so a bulk write refreshes each user once
-- and each counter row once, instead of once per row. Each passes only the users whose facts a
-- changed row can move: for an UPDATE, the rows whose relevant columns differ between the old and
-- the new image. The rows a user deletion cascades to are skipped (their user is gone; the users
-- trigger removes its facts in one go). The triggers of users, letter_sessions and
-- acquisition_channels serve every summary at once and are in 057_analytics_triggers.sql.

CREATE FUNCTION analytics_subscriptions_changed() RETURNS trigger
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM analytics_defer('cohort', ARRAY(
            SELECT DISTINCT n.user_id FROM new_rows n WHERE n.plan_type = 'premium' AND n.status = 'active'));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM analytics_defer('cohort', ARRAY(
            SELECT DISTINCT o.user_id FROM old_rows o
            WHERE o.plan_type = 'premium' AND o.status = 'active'
              AND EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id)));
    ELSE
        PERFORM analytics_defer('cohort', ARRAY(
            SELECT DISTINCT d.user_id
            FROM ((SELECT o.id, o.user_id, o.period_end FROM old_rows o
                   WHERE o.plan_type = 'premium' AND o.status = 'active'
                   EXCEPT SELECT n.id, n.user_id, n.period_end FROM new_rows n
                   WHERE n.plan_type = 'premium' AND n.status = 'active')
                  UNION
                  (SELECT n.id, n.user_id, n.period_end FROM new_rows n
                   WHERE n.plan_type = 'premium' AND n.status = 'active'
                   EXCEPT SELECT o.id, o.user_id, o.period_end FROM old_rows o
                   WHERE o.plan_type = 'premium' AND o.status = 'active')) d));
    END IF;
    RETURN NULL;
END;
$$;



CREATE TRIGGER analytics_subscriptions_insert AFTER INSERT ON subscriptions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_subscriptions_changed();
CREATE TRIGGER analytics_subscriptions_update AFTER UPDATE ON subscriptions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_subscriptions_changed();
CREATE TRIGGER analytics_subscriptions_delete AFTER DELETE ON subscriptions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_subscriptions_changed();


-- The cohort report straight from the base tables, one row per user: what user_cohorts_basic
-- shows while the summaries have not been filled. A function, not a subquery of the view, so its
-- cost does not weigh on the planning of the fast path (it would switch JIT compilation on).
CREATE FUNCTION analytics_cohorts_from_base_tables()
RETURNS TABLE (cohort_month date, acquisition_channel text, cohort_size bigint, activated_users bigint,
               premium_users bigint, avg_days_to_first_generation numeric)
LANGUAGE plpgsql STABLE ROWS 100
AS $$
BEGIN
    RETURN QUERY
    WITH cohort_users AS (
        SELECT date_trunc('month', u.created_at AT TIME ZONE 'UTC')::date AS month,
               coalesce(ac.utm_source, CASE WHEN ac.referral_user_id IS NOT NULL THEN 'referral' END, 'direct')
                                                                        AS channel,
               u.created_at,
               (SELECT min(ls.created_at) FROM letter_sessions ls
                WHERE ls.user_id = u.id AND ls.status = 'completed')    AS first_completed_at,
               EXISTS (SELECT 1 FROM subscriptions s
                       WHERE s.user_id = u.id AND s.plan_type = 'premium' AND s.status = 'active'
                         AND (s.period_end IS NULL OR s.period_end > now())) AS premium
        FROM users u
        LEFT JOIN acquisition_channels ac ON ac.user_id = u.id
        WHERE NOT u.is_test
          AND u.created_at <= now()
          AND u.created_at >= (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months') AT TIME ZONE 'UTC'
    )
    SELECT cu.month,
           cu.channel,
           count(*)::bigint,
           count(cu.first_completed_at)::bigint,
           (count(*) FILTER (WHERE cu.premium))::bigint,
           round(sum(extract(epoch FROM cu.first_completed_at - cu.created_at))::numeric(1000, 30)
                 / nullif(count(cu.first_completed_at) * 86400, 0), 2)
    FROM cohort_users cu
    GROUP BY cu.month, cu.channel;
END;
$$;

-- TRUNCATE has no transition tables and fires no row deletions: recompute everything.
CREATE FUNCTION analytics_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_rebuild();
    RETURN NULL;
END;
$$;

CREATE TRIGGER analytics_users_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_truncated();
CREATE TRIGGER analytics_letter_sessions_truncate AFTER TRUNCATE ON letter_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_truncated();
CREATE TRIGGER analytics_subscriptions_truncate AFTER TRUNCATE ON subscriptions
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_truncated();
CREATE TRIGGER analytics_acquisition_channels_truncate AFTER TRUNCATE ON acquisition_channels
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_truncated();

-- Recomputes both summaries from the base tables, set-based; writers wait until it commits.
-- Needed once when the summaries are added to a database that already has users.
CREATE FUNCTION analytics_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE users, letter_sessions, subscriptions, acquisition_channels IN SHARE MODE;
    LOCK TABLE analytics_user_facts, analytics_cohort_counts, analytics_summary_state IN EXCLUSIVE MODE;
    DELETE FROM analytics_cohort_counts;
    DELETE FROM analytics_user_facts;
    INSERT INTO analytics_user_facts (user_id, created_at, cohort_month, is_test, channel,
                                      first_completed_at, premium_until)
    SELECT u.id,
           u.created_at,
           date_trunc('month', u.created_at AT TIME ZONE 'UTC')::date,
           u.is_test,
           coalesce(a.utm_source, CASE WHEN a.referral_user_id IS NOT NULL THEN 'referral' END, 'direct'),
           fc.first_completed_at,
           pr.premium_until
    FROM users u
    LEFT JOIN acquisition_channels a ON a.user_id = u.id
    LEFT JOIN (SELECT ls.user_id, min(ls.created_at) AS first_completed_at
               FROM letter_sessions ls WHERE ls.status = 'completed'
               GROUP BY ls.user_id) fc ON fc.user_id = u.id
    LEFT JOIN (SELECT s.user_id, max(coalesce(s.period_end, 'infinity'::timestamptz)) AS premium_until
               FROM subscriptions s WHERE s.plan_type = 'premium' AND s.status = 'active'
               GROUP BY s.user_id) pr ON pr.user_id = u.id;
    INSERT INTO analytics_cohort_counts (cohort_month, channel, users, activated, days_to_first_seconds)
    SELECT f.cohort_month,
           f.channel,
           count(*),
           count(f.first_completed_at),
           coalesce(sum(extract(epoch FROM f.first_completed_at - f.created_at)), 0)
    FROM analytics_user_facts f
    WHERE NOT f.is_test
    GROUP BY f.cohort_month, f.channel;
    INSERT INTO analytics_summary_state DEFAULT VALUES
    ON CONFLICT (singleton) DO UPDATE SET filled_at = excluded.filled_at;
END;
$$;
