-- The analytics triggers of the tables every summary reads: users, letter_sessions and
-- acquisition_channels. One statement-level trigger per table and operation notes the users for
-- all three summaries (cohort 045, retention 046, funnel 055) in one query, where one trigger per
-- summary ran three functions and three queries on every bot write (the bot writes users and
-- letter_sessions on most messages). The selection rules are those of the summaries' files; where
-- two summaries' rules differ only in that one is a subset of the other, the larger set is passed
-- to both: a refresh recomputes a user from the base tables, so an extra user costs a refresh and
-- never changes a figure, while a missing one would.

-- users: a new user enters the cohort and funnel summaries; a deleted one leaves all three; an
-- UPDATE matters only where created_at (cohort month, retention months) or is_test changed.
CREATE FUNCTION analytics_users_written() RETURNS trigger
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM analytics_defer('cohort', t.ids), analytics_defer('funnel', t.ids)
        FROM (SELECT ARRAY(SELECT n.id FROM new_rows n) AS ids) t;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM analytics_defer('cohort', t.ids), analytics_defer('retention', t.ids),
                analytics_defer('funnel', t.ids)
        FROM (SELECT ARRAY(SELECT o.id FROM old_rows o) AS ids) t;
    ELSE
        PERFORM analytics_defer('cohort', t.ids), analytics_defer('retention', t.ids),
                analytics_defer('funnel', t.ids)
        FROM (SELECT ARRAY(
                  SELECT d.id FROM ((SELECT o.id, o.created_at, o.is_test FROM old_rows o
                                     EXCEPT SELECT n.id, n.created_at, n.is_test FROM new_rows n)
                                    UNION
                                    (SELECT n.id, n.created_at, n.is_test FROM new_rows n
                                     EXCEPT SELECT o.id, o.created_at, o.is_test FROM old_rows o)) d
                  GROUP BY d.id) AS ids) t;
    END IF;
    RETURN NULL;
END;
$$;

-- letter_sessions: the cohort (first completed letter) and retention (months with a completed
-- letter) summaries move with completed sessions appearing, disappearing or changing user or
-- creation time; the funnel with any session appearing or disappearing, or an UPDATE of its user,
-- its completion, or whether it has a vacancy or a resume. Sessions deleted with their user are
-- left to the users trigger for the cohort.
CREATE FUNCTION analytics_letter_sessions_written() RETURNS trigger
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM analytics_defer('cohort', t.completed), analytics_defer('retention', t.completed),
                analytics_defer('funnel', t.all_users)
        FROM (SELECT ARRAY(SELECT DISTINCT n.user_id FROM new_rows n WHERE n.status = 'completed')
                         AS completed,
                     ARRAY(SELECT DISTINCT n.user_id FROM new_rows n) AS all_users) t;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM analytics_defer('cohort', t.completed_of_users), analytics_defer('retention', t.completed),
                analytics_defer('funnel', t.all_users)
        FROM (SELECT ARRAY(SELECT DISTINCT o.user_id FROM old_rows o
                           WHERE o.status = 'completed'
                             AND EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id))
                         AS completed_of_users,
                     ARRAY(SELECT DISTINCT o.user_id FROM old_rows o WHERE o.status = 'completed')
                         AS completed,
                     ARRAY(SELECT DISTINCT o.user_id FROM old_rows o) AS all_users) t;
    ELSE
        -- The retention rule (completed sessions changing user or month) is a subset of the
        -- cohort rule (... changing user or creation time): both get the cohort's users.
        PERFORM analytics_defer('cohort', t.completed), analytics_defer('retention', t.completed),
                analytics_defer('funnel', t.funnel)
        FROM (SELECT ARRAY(
                  SELECT DISTINCT d.user_id
                  FROM ((SELECT o.id, o.user_id, o.created_at FROM old_rows o WHERE o.status = 'completed'
                         EXCEPT SELECT n.id, n.user_id, n.created_at FROM new_rows n WHERE n.status = 'completed')
                        UNION
                        (SELECT n.id, n.user_id, n.created_at FROM new_rows n WHERE n.status = 'completed'
                         EXCEPT SELECT o.id, o.user_id, o.created_at FROM old_rows o WHERE o.status = 'completed')) d
              ) AS completed,
              ARRAY(
                  SELECT d.user_id
                  FROM ((SELECT o.id, o.user_id, o.status = 'completed' AS completed,
                                o.job_description IS NULL AS no_vacancy, o.resume_text IS NULL AS no_resume
                         FROM old_rows o
                         EXCEPT SELECT n.id, n.user_id, n.status = 'completed', n.job_description IS NULL,
                                       n.resume_text IS NULL
                         FROM new_rows n)
                        UNION
                        (SELECT n.id, n.user_id, n.status = 'completed', n.job_description IS NULL,
                                n.resume_text IS NULL
                         FROM new_rows n
                         EXCEPT SELECT o.id, o.user_id, o.status = 'completed', o.job_description IS NULL,
                                       o.resume_text IS NULL
                         FROM old_rows o)) d
                  GROUP BY d.user_id
              ) AS funnel) t;
    END IF;
    RETURN NULL;
END;
$$;

-- acquisition_channels: the channel of the cohort and funnel summaries. An UPDATE passes the
-- users of every updated row to both (rare writes; the funnel's rule already took them all).
CREATE FUNCTION analytics_acquisition_channels_written() RETURNS trigger
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM analytics_defer('cohort', t.ids), analytics_defer('funnel', t.ids)
        FROM (SELECT ARRAY(SELECT DISTINCT n.user_id FROM new_rows n) AS ids) t;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM analytics_defer('cohort', t.of_users), analytics_defer('funnel', t.ids)
        FROM (SELECT ARRAY(SELECT DISTINCT o.user_id FROM old_rows o
                           WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id)) AS of_users,
                     ARRAY(SELECT DISTINCT o.user_id FROM old_rows o) AS ids) t;
    ELSE
        PERFORM analytics_defer('cohort', t.ids), analytics_defer('funnel', t.ids)
        FROM (SELECT ARRAY(SELECT o.user_id FROM old_rows o UNION SELECT n.user_id FROM new_rows n)
                         AS ids) t;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER analytics_users_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_users_written();
CREATE TRIGGER analytics_users_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_users_written();
CREATE TRIGGER analytics_users_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_users_written();

CREATE TRIGGER analytics_letter_sessions_insert AFTER INSERT ON letter_sessions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_letter_sessions_written();
CREATE TRIGGER analytics_letter_sessions_update AFTER UPDATE ON letter_sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_letter_sessions_written();
CREATE TRIGGER analytics_letter_sessions_delete AFTER DELETE ON letter_sessions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_letter_sessions_written();

CREATE TRIGGER analytics_acquisition_channels_insert AFTER INSERT ON acquisition_channels
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_acquisition_channels_written();
CREATE TRIGGER analytics_acquisition_channels_update AFTER UPDATE ON acquisition_channels
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_acquisition_channels_written();
CREATE TRIGGER analytics_acquisition_channels_delete AFTER DELETE ON acquisition_channels
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_acquisition_channels_written();
