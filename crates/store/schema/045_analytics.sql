-- Analytics summaries: what `user_cohorts_basic` needs per user and per cohort, so the view reads a
-- few hundred counter rows instead of joining every user to their sessions and subscriptions.
--
-- They are not a cache: triggers on users, letter_sessions, subscriptions and acquisition_channels
-- bring them up to date inside the writing transaction (any write path, FK cascades included), so a
-- reader never sees them out of step with the base tables. What depends on the clock (premium
-- expiry, users whose created_at is still in the future, the 12-month window) is left to the view.
--
-- A database that already had users when these tables were created is filled once with
-- `SELECT analytics_rebuild()` (`soprovod analytics rebuild`).

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

-- Adds one user's contribution (sign +1) to, or removes it (sign -1) from, its counter row.
CREATE FUNCTION analytics_cohort_add(p_cohort_month date, p_channel text, p_is_test boolean,
                                     p_created_at timestamptz, p_first_completed_at timestamptz,
                                     p_sign integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_is_test THEN
        RETURN;
    END IF;
    INSERT INTO analytics_cohort_counts AS c (cohort_month, channel, users, activated, days_to_first_seconds)
    VALUES (p_cohort_month,
            p_channel,
            p_sign,
            CASE WHEN p_first_completed_at IS NULL THEN 0 ELSE p_sign END,
            p_sign * coalesce(extract(epoch FROM p_first_completed_at - p_created_at), 0))
    ON CONFLICT (cohort_month, channel) DO UPDATE
    SET users = c.users + excluded.users,
        activated = c.activated + excluded.activated,
        days_to_first_seconds = c.days_to_first_seconds + excluded.days_to_first_seconds;
END;
$$;

-- Brings one user's facts (and the counters) in line with the base tables; removes them when the
-- user no longer exists. Idempotent, so every trigger just calls it for the users a row touches.
CREATE FUNCTION analytics_refresh_user(p_user_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    old_f analytics_user_facts;
    new_f analytics_user_facts;
    had_row boolean;
    inserted integer;
BEGIN
    LOOP
        -- Lock the user's row first: the reads below then take a fresh snapshot (READ COMMITTED),
        -- so concurrent writers for one user queue here and each sees what the previous committed.
        SELECT * INTO old_f FROM analytics_user_facts WHERE user_id = p_user_id FOR UPDATE;
        had_row := FOUND;

        new_f := NULL;
        SELECT u.id, u.created_at, date_trunc('month', u.created_at AT TIME ZONE 'UTC')::date, u.is_test
        INTO new_f.user_id, new_f.created_at, new_f.cohort_month, new_f.is_test
        FROM users u WHERE u.id = p_user_id;

        IF NOT FOUND THEN
            IF had_row THEN
                DELETE FROM analytics_user_facts WHERE user_id = p_user_id;
                PERFORM analytics_cohort_add(old_f.cohort_month, old_f.channel, old_f.is_test, old_f.created_at,
                                   old_f.first_completed_at, -1);
            END IF;
            RETURN;
        END IF;

        new_f.channel := 'direct';
        SELECT coalesce(a.utm_source, CASE WHEN a.referral_user_id IS NOT NULL THEN 'referral' END, 'direct')
        INTO new_f.channel
        FROM acquisition_channels a WHERE a.user_id = p_user_id;
        IF new_f.channel IS NULL THEN
            new_f.channel := 'direct';
        END IF;

        SELECT min(ls.created_at) INTO new_f.first_completed_at
        FROM letter_sessions ls WHERE ls.user_id = p_user_id AND ls.status = 'completed';

        SELECT max(coalesce(s.period_end, 'infinity'::timestamptz)) INTO new_f.premium_until
        FROM subscriptions s
        WHERE s.user_id = p_user_id AND s.plan_type = 'premium' AND s.status = 'active';

        IF had_row THEN
            IF old_f IS NOT DISTINCT FROM new_f THEN
                RETURN;
            END IF;
            UPDATE analytics_user_facts
            SET created_at = new_f.created_at, cohort_month = new_f.cohort_month, is_test = new_f.is_test,
                channel = new_f.channel, first_completed_at = new_f.first_completed_at,
                premium_until = new_f.premium_until
            WHERE user_id = p_user_id;
            -- Counter rows are always changed in key order, so two writers cannot deadlock on them.
            IF (old_f.cohort_month, old_f.channel) <= (new_f.cohort_month, new_f.channel) THEN
                PERFORM analytics_cohort_add(old_f.cohort_month, old_f.channel, old_f.is_test, old_f.created_at,
                                   old_f.first_completed_at, -1);
                PERFORM analytics_cohort_add(new_f.cohort_month, new_f.channel, new_f.is_test, new_f.created_at,
                                   new_f.first_completed_at, 1);
            ELSE
                PERFORM analytics_cohort_add(new_f.cohort_month, new_f.channel, new_f.is_test, new_f.created_at,
                                   new_f.first_completed_at, 1);
                PERFORM analytics_cohort_add(old_f.cohort_month, old_f.channel, old_f.is_test, old_f.created_at,
                                   old_f.first_completed_at, -1);
            END IF;
            RETURN;
        END IF;

        INSERT INTO analytics_user_facts VALUES (new_f.*) ON CONFLICT (user_id) DO NOTHING;
        GET DIAGNOSTICS inserted = ROW_COUNT;
        IF inserted = 1 THEN
            PERFORM analytics_cohort_add(new_f.cohort_month, new_f.channel, new_f.is_test, new_f.created_at,
                                   new_f.first_completed_at, 1);
            RETURN;
        END IF;
        -- Another transaction created the row meanwhile: start over with it locked.
    END LOOP;
END;
$$;

-- Trigger function for users (keyed by id).
CREATE FUNCTION analytics_users_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM analytics_refresh_user(NEW.id);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM analytics_refresh_user(OLD.id);
    ELSE
        PERFORM analytics_refresh_user(least(OLD.id, NEW.id));
        IF OLD.id <> NEW.id THEN
            PERFORM analytics_refresh_user(greatest(OLD.id, NEW.id));
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

-- Trigger function for the tables that point at a user with user_id.
CREATE FUNCTION analytics_user_rows_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM analytics_refresh_user(NEW.user_id);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM analytics_refresh_user(OLD.user_id);
    ELSE
        PERFORM analytics_refresh_user(least(OLD.user_id, NEW.user_id));
        IF OLD.user_id <> NEW.user_id THEN
            PERFORM analytics_refresh_user(greatest(OLD.user_id, NEW.user_id));
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

-- The WHEN clauses skip the frequent writes that cannot change a fact (quota counters, letter
-- text, last activity), so the bot's hot paths pay nothing for the summaries.
CREATE TRIGGER analytics_users_insert AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION analytics_users_changed();
CREATE TRIGGER analytics_users_update AFTER UPDATE OF id, created_at, is_test ON users
    FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id
          OR OLD.created_at IS DISTINCT FROM NEW.created_at
          OR OLD.is_test IS DISTINCT FROM NEW.is_test)
    EXECUTE FUNCTION analytics_users_changed();
CREATE TRIGGER analytics_users_delete AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION analytics_users_changed();

CREATE TRIGGER analytics_letter_sessions_insert AFTER INSERT ON letter_sessions
    FOR EACH ROW
    WHEN (NEW.status = 'completed')
    EXECUTE FUNCTION analytics_user_rows_changed();
CREATE TRIGGER analytics_letter_sessions_update AFTER UPDATE OF user_id, status, created_at ON letter_sessions
    FOR EACH ROW
    WHEN ((OLD.status = 'completed' OR NEW.status = 'completed')
          AND (OLD.user_id IS DISTINCT FROM NEW.user_id
               OR OLD.status IS DISTINCT FROM NEW.status
               OR OLD.created_at IS DISTINCT FROM NEW.created_at))
    EXECUTE FUNCTION analytics_user_rows_changed();
CREATE TRIGGER analytics_letter_sessions_delete AFTER DELETE ON letter_sessions
    FOR EACH ROW
    WHEN (OLD.status = 'completed')
    EXECUTE FUNCTION analytics_user_rows_changed();

CREATE TRIGGER analytics_subscriptions_insert AFTER INSERT ON subscriptions
    FOR EACH ROW
    WHEN (NEW.plan_type = 'premium' AND NEW.status = 'active')
    EXECUTE FUNCTION analytics_user_rows_changed();
CREATE TRIGGER analytics_subscriptions_update AFTER UPDATE OF user_id, plan_type, status, period_end ON subscriptions
    FOR EACH ROW
    WHEN ((OLD.plan_type = 'premium' AND OLD.status = 'active'
           OR NEW.plan_type = 'premium' AND NEW.status = 'active')
          AND (OLD.user_id IS DISTINCT FROM NEW.user_id
               OR OLD.plan_type IS DISTINCT FROM NEW.plan_type
               OR OLD.status IS DISTINCT FROM NEW.status
               OR OLD.period_end IS DISTINCT FROM NEW.period_end))
    EXECUTE FUNCTION analytics_user_rows_changed();
CREATE TRIGGER analytics_subscriptions_delete AFTER DELETE ON subscriptions
    FOR EACH ROW
    WHEN (OLD.plan_type = 'premium' AND OLD.status = 'active')
    EXECUTE FUNCTION analytics_user_rows_changed();

CREATE TRIGGER analytics_acquisition_channels_insert AFTER INSERT ON acquisition_channels
    FOR EACH ROW EXECUTE FUNCTION analytics_user_rows_changed();
CREATE TRIGGER analytics_acquisition_channels_update
    AFTER UPDATE OF user_id, utm_source, referral_user_id ON acquisition_channels
    FOR EACH ROW
    WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id
          OR OLD.utm_source IS DISTINCT FROM NEW.utm_source
          OR OLD.referral_user_id IS DISTINCT FROM NEW.referral_user_id)
    EXECUTE FUNCTION analytics_user_rows_changed();
CREATE TRIGGER analytics_acquisition_channels_delete AFTER DELETE ON acquisition_channels
    FOR EACH ROW EXECUTE FUNCTION analytics_user_rows_changed();

-- Recomputes both summaries from the base tables, set-based; writers wait until it commits.
-- Needed once when the summaries are added to a database that already has users.
CREATE FUNCTION analytics_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE users, letter_sessions, subscriptions, acquisition_channels IN SHARE MODE;
    LOCK TABLE analytics_user_facts, analytics_cohort_counts IN EXCLUSIVE MODE;
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
END;
$$;
