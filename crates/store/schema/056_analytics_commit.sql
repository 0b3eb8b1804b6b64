-- When the analytics summaries are brought up to date: at the commit of the writing transaction,
-- all at once, not statement by statement.
--
-- The triggers of 045, 046 and 055 only note which users a statement touched (analytics_defer);
-- one deferred trigger per transaction refreshes them just before it commits (analytics_flush).
-- Why: the summaries end in counter rows shared by every user of a cohort and channel. Updated by
-- each statement, a transaction held such a row from its first write to its commit, and two
-- transactions touching two counters in different orders (a signup and a letter: 'direct' then
-- the start parameter's channel, or the other way round) deadlocked; under load every bot
-- transaction queued behind the one holding its cohort's row. At commit the rows are taken in one
-- fixed order — every touched user's facts row (the per-user lock) in id order, then the cohort
-- counters, the retention counters, the funnel and revenue counters, each in key order — and held
-- only for the flush. Readers still never see the summaries out of step with the base tables: the
-- flush commits with the rows it summarises. (A query inside the writing transaction, before it
-- commits, sees the summaries as they were; the views only ever read committed state elsewhere.)

-- The users each open transaction touched, by summary: noted in transaction-local settings
-- (`soprovod.analytics_<summary>`, a comma-separated list), which cost no statement — the note
-- was two INSERTs per trigger call and a DELETE at the flush, a fifth of the database's work per
-- bot update. A transaction that touches many users (a batch, a migration) spills past a few
-- thousand characters into this table instead, so appending to the note never grows quadratic.
-- Both are transactional: a rolled-back savepoint takes its notes with it.
CREATE TABLE analytics_pending (
    xact    xid8 NOT NULL,
    -- 'cohort' (045), 'retention' (046) or 'funnel' (055)
    summary text NOT NULL CHECK (summary IN ('cohort', 'retention', 'funnel')),
    user_id bigint NOT NULL,
    PRIMARY KEY (xact, summary, user_id)
);

-- One row per transaction with something pending: its insertion queues the one deferred flush.
CREATE TABLE analytics_pending_xact (
    xact xid8 PRIMARY KEY
);

-- Notes the users of `p_summary` to refresh when the current transaction commits.
CREATE FUNCTION analytics_defer(p_summary text, p_user_ids bigint[]) RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_setting text := 'soprovod.analytics_' || p_summary;
    v_noted   text;
    v_ignored text;
BEGIN
    IF coalesce(cardinality(p_user_ids), 0) = 0 THEN
        RETURN;
    END IF;
    -- Assignments, not PERFORM: plpgsql evaluates a plain expression without a query.
    v_noted := nullif(current_setting(v_setting, true), '');
    IF cardinality(p_user_ids) <= 256 AND coalesce(length(v_noted), 0) < 8192 THEN
        v_ignored := set_config(v_setting, concat_ws(',', v_noted, array_to_string(p_user_ids, ',')), true);
    ELSE
        INSERT INTO analytics_pending (xact, summary, user_id)
        SELECT pg_current_xact_id(), p_summary, u FROM unnest(p_user_ids) AS u
        ON CONFLICT DO NOTHING;
        v_ignored := set_config('soprovod.analytics_spilled', 'yes', true);
    END IF;
    IF coalesce(current_setting('soprovod.analytics_queued', true), '') <> 'yes' THEN
        -- Marked first: under SET CONSTRAINTS ... IMMEDIATE the flush runs within the INSERT
        -- and clears the mark, which must then stay cleared.
        v_ignored := set_config('soprovod.analytics_queued', 'yes', true);
        INSERT INTO analytics_pending_xact (xact) VALUES (pg_current_xact_id())
        ON CONFLICT DO NOTHING;
    END IF;
END;
$$;

-- The users a transaction noted for `p_summary`, and the note emptied (a flush forced early by
-- SET CONSTRAINTS ... IMMEDIATE leaves nothing behind for the one at commit).
CREATE FUNCTION analytics_take_noted(p_summary text) RETURNS bigint[]
LANGUAGE plpgsql
AS $$
DECLARE
    v_setting text := 'soprovod.analytics_' || p_summary;
    v_noted   text := nullif(current_setting(v_setting, true), '');
    v_ignored text;
BEGIN
    IF v_noted IS NULL THEN
        RETURN '{}';
    END IF;
    v_ignored := set_config(v_setting, '', true);
    RETURN string_to_array(v_noted, ',')::bigint[];
END;
$$;

-- The deferred flush: takes what the transaction noted and refreshes each summary once.
CREATE FUNCTION analytics_flush() RETURNS trigger
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_all       bigint[];
    v_cohort    bigint[] := analytics_take_noted('cohort');
    v_retention bigint[] := analytics_take_noted('retention');
    v_funnel    bigint[] := analytics_take_noted('funnel');
    v_ignored   text;
BEGIN
    DELETE FROM analytics_pending_xact WHERE xact = NEW.xact;
    v_ignored := set_config('soprovod.analytics_queued', '', true);
    IF coalesce(current_setting('soprovod.analytics_spilled', true), '') = 'yes' THEN
        v_ignored := set_config('soprovod.analytics_spilled', '', true);
        WITH taken AS (
            DELETE FROM analytics_pending p WHERE p.xact = NEW.xact RETURNING p.summary, p.user_id
        )
        SELECT v_cohort || coalesce(array_agg(t.user_id) FILTER (WHERE t.summary = 'cohort'), '{}'),
               v_retention || coalesce(array_agg(t.user_id) FILTER (WHERE t.summary = 'retention'), '{}'),
               v_funnel || coalesce(array_agg(t.user_id) FILTER (WHERE t.summary = 'funnel'), '{}')
        INTO v_cohort, v_retention, v_funnel
        FROM taken t;
    END IF;
    -- A user may be listed more than once: every refresh selects by `= ANY`, so that is harmless.
    v_all := v_cohort || v_retention || v_funnel;
    -- Every user's per-user lock first, in id order: the three refreshes below take the same
    -- rows again (already held), so no counter row is ever held while waiting for a user.
    PERFORM f.user_id FROM analytics_user_facts f
    WHERE f.user_id = ANY (v_all)
    ORDER BY f.user_id
    FOR UPDATE;
    IF cardinality(v_cohort) > 0 THEN
        PERFORM analytics_refresh_users(v_cohort);
    END IF;
    IF cardinality(v_retention) > 0 THEN
        PERFORM analytics_refresh_active_months(v_retention);
    END IF;
    IF cardinality(v_funnel) > 0 THEN
        PERFORM analytics_refresh_funnel(v_funnel);
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER analytics_flush_at_commit AFTER INSERT ON analytics_pending_xact
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION analytics_flush();
