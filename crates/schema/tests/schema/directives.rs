//! Renames, data moves and data steps of a declared schema, on real databases: values survive,
//! conversions convert, data steps are needed and run where they must, and on a fresh or an
//! already migrated database the directives do nothing.

use schema::directives::ResolveKind;
use schema::{HazardKind, Model, Plan, QName, SchemaError, SourceFile, Target};
use testkit::TestDb;

use crate::support::{db_from, leftover};

fn files(list: &[(&str, &str)]) -> Target {
    Target::Files(list.iter().map(|(n, t)| SourceFile::new(*n, *t)).collect())
}

/// The live model, the target's model and the directed plan, as `db plan` makes them.
async fn plan_for(db: &TestDb, target: &Target) -> Result<(Model, Model, Plan), SchemaError> {
    let mut to = schema::load_target(&db.url, target).await?;
    let from = schema::introspect_url(&db.url).await?;
    schema::reconcile_url(&db.url, &from, &mut to).await?;
    let directives = target.directives()?;
    let plan =
        schema::plan_directed(&db.url, &from, &to, target.compare_options(), &directives).await?;
    Ok((from, to, plan))
}

async fn apply(db: &TestDb, target: &Target) -> Result<Plan, (Plan, SchemaError)> {
    let (from, to, plan) = plan_for(db, target).await.expect("planning");
    let options = schema::ApplyOptions {
        compare: target.compare_options(),
        ..Default::default()
    };
    match schema::apply(&db.url, &from, &plan, &to, options, &mut |_| {}).await {
        Ok(_) => Ok(plan),
        Err(e) => Err((plan, e)),
    }
}

async fn apply_ok(db: &TestDb, target: &Target) -> Plan {
    apply(db, target).await.unwrap_or_else(|(plan, e)| {
        panic!(
            "apply failed: {e}\n{}\n{}",
            schema::format::plan_text(&plan),
            leftover(&e)
        )
    })
}

async fn rows(db: &TestDb, sql: &str) -> Vec<String> {
    let mut conn = db.connect().await;
    sqlx::query_scalar::<_, String>(sql)
        .fetch_all(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn data_loss(plan: &Plan) -> Vec<String> {
    plan.hazards()
        .into_iter()
        .filter(|(_, h)| h.kind == HazardKind::DataLoss)
        .map(|(s, h)| format!("{}: {}", s.object, h.reason))
        .collect()
}

const USERS_OLD: &str = r#"
CREATE TABLE users (
    id integer PRIMARY KEY,
    last_activity timestamptz,
    updated_at timestamptz NOT NULL DEFAULT '2020-01-01 00:00:00+00'
);
CREATE INDEX users_last_activity_idx ON users (last_activity);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at = '2099-01-01 00:00:00+00'; RETURN NEW; END $$;
CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();
INSERT INTO users (id, last_activity) VALUES
    (1, '2024-03-01 10:00:00+00'), (2, NULL), (3, '2024-05-06 07:08:09+00');
"#;

const USERS_NEW: &str = r#"
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at = '2099-01-01 00:00:00+00'; RETURN NEW; END $$;
-- @column public.users.last_activity_at from last_activity
CREATE TABLE users (
    id integer PRIMARY KEY,
    last_activity_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT '2020-01-01 00:00:00+00'
);
CREATE INDEX users_last_activity_idx ON users (last_activity_at);
CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_column_keeps_its_values_and_drops_nothing() {
    let db = db_from(USERS_OLD).await;
    let target = files(&[("010_users.sql", USERS_NEW)]);
    let before = rows(
        &db,
        "SELECT id || ':' || coalesce(last_activity::text, '-') FROM users ORDER BY id",
    )
    .await;
    let plan = apply_ok(&db, &target).await;
    assert!(data_loss(&plan).is_empty(), "{:?}", data_loss(&plan));
    assert!(
        plan.steps[0]
            .sql
            .contains("RENAME COLUMN last_activity TO last_activity_at"),
        "{}",
        schema::format::plan_text(&plan)
    );
    assert!(
        !plan.steps.iter().any(|s| s.sql.contains("DROP INDEX")),
        "the index follows the rename: {}",
        schema::format::plan_text(&plan)
    );
    let after = rows(
        &db,
        "SELECT id || ':' || coalesce(last_activity_at::text, '-') FROM users ORDER BY id",
    )
    .await;
    assert_eq!(before, after);
}

const PAYMENTS_OLD: &str = r#"
CREATE TABLE payments (
    id integer PRIMARY KEY,
    amount numeric(10, 2),
    created timestamp NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT '2020-01-01 00:00:00+00'
);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at = '2099-01-01 00:00:00+00'; RETURN NEW; END $$;
CREATE TRIGGER payments_touch BEFORE UPDATE ON payments FOR EACH ROW EXECUTE FUNCTION touch();
INSERT INTO payments (id, amount, created) VALUES
    (1, 199.00, '2024-01-01 12:00:00'),
    (2, 0.50, '2024-06-30 23:30:00'),
    (3, 1234.56, '2023-12-31 21:00:00');
"#;

const PAYMENTS_NEW: &str = r#"
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at = '2099-01-01 00:00:00+00'; RETURN NEW; END $$;
-- Kopecks from rubles; the old bot wrote Moscow wall-clock time.
-- @column public.payments.amount_minor from amount using (round(amount * 100)::bigint)
-- @column public.payments.created using (created AT TIME ZONE 'Europe/Moscow')
CREATE TABLE payments (
    id integer PRIMARY KEY,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    created timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT '2020-01-01 00:00:00+00'
);
CREATE TRIGGER payments_touch BEFORE UPDATE ON payments FOR EACH ROW EXECUTE FUNCTION touch();
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_column_converts_rubles_to_kopecks_and_a_using_retype_converts_the_zone() {
    let db = db_from(PAYMENTS_OLD).await;
    let target = files(&[("030_billing.sql", PAYMENTS_NEW)]);
    let plan = apply_ok(&db, &target).await;
    let text = schema::format::plan_text(&plan);
    assert!(data_loss(&plan).is_empty(), "{text}");
    assert!(
        plan.steps
            .iter()
            .any(|s| s.action == "data: amount_minor moved from amount (3 rows)"),
        "{text}"
    );
    assert!(
        text.contains("USING (created AT TIME ZONE 'Europe/Moscow')"),
        "{text}"
    );
    let moved = plan
        .steps
        .iter()
        .position(|s| s.action.starts_with("data: amount_minor"))
        .unwrap();
    let dropped = plan
        .steps
        .iter()
        .position(|s| s.sql.contains("DROP COLUMN amount"))
        .unwrap();
    let not_null = plan
        .steps
        .iter()
        .position(|s| s.sql.contains("amount_minor SET NOT NULL"))
        .unwrap();
    assert!(moved < not_null && not_null < dropped, "{text}");
    // Ordered by keys: it makes the new column and reads the old one.
    let keys =
        |ks: &[schema::objects::ObjKey]| ks.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    assert_eq!(
        keys(plan.steps[moved].creates()),
        ["column public.payments.amount_minor"]
    );
    assert_eq!(
        keys(plan.steps[moved].needs()),
        ["column public.payments.amount"]
    );
    let after = rows(
        &db,
        "SELECT id || ':' || amount_minor || ':' || to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') \
         || ':' || (updated_at = '2020-01-01 00:00:00+00') FROM payments ORDER BY id",
    )
    .await;
    assert_eq!(
        after,
        [
            "1:19900:2024-01-01 09:00:true",
            "2:50:2024-06-30 20:30:true",
            "3:123456:2023-12-31 18:00:true",
        ]
    );
}

const CHANNELS_OLD: &str = r#"
CREATE TABLE users (id integer PRIMARY KEY);
CREATE TABLE channels_old (
    id integer PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users (id),
    source text NOT NULL
);
CREATE TABLE visits (id integer PRIMARY KEY, channel_id integer REFERENCES channels_old (id));
INSERT INTO users VALUES (1), (2);
INSERT INTO channels_old VALUES (10, 1, 'hh'), (11, 2, 'tg'), (12, 1, 'ads');
INSERT INTO visits VALUES (100, 10), (101, 12);
"#;

const CHANNELS_NEW: &str = r#"
CREATE TABLE users (id integer PRIMARY KEY);
-- @table public.acquisition_channels from channels_old
CREATE TABLE acquisition_channels (
    id integer PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users (id),
    source text NOT NULL
);
CREATE TABLE visits (id integer PRIMARY KEY, channel_id integer REFERENCES acquisition_channels (id));
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_table_keeps_its_rows_and_the_keys_that_point_at_it() {
    let db = db_from(CHANNELS_OLD).await;
    let target = files(&[("040_tracking.sql", CHANNELS_NEW)]);
    let plan = apply_ok(&db, &target).await;
    let text = schema::format::plan_text(&plan);
    assert!(data_loss(&plan).is_empty(), "{text}");
    assert!(!text.contains("DROP TABLE"), "{text}");
    assert_eq!(
        plan.steps[0].action,
        "rename from public.channels_old (3 rows keep their values)"
    );
    // The backup happens before the rename, under the old name.
    assert!(plan
        .touched_tables()
        .iter()
        .all(|t| t.name != "acquisition_channels"));
    let kept = rows(
        &db,
        "SELECT c.id || ':' || c.source || ':' || coalesce(v.id::text, '-') \
         FROM acquisition_channels c LEFT JOIN visits v ON v.channel_id = c.id ORDER BY c.id",
    )
    .await;
    assert_eq!(kept, ["10:hh:100", "11:tg:-", "12:ads:101"]);
}

const ACQ_OLD: &str = r#"
CREATE TABLE acquisition (
    id integer PRIMARY KEY,
    user_id integer NOT NULL,
    source text,
    created_at timestamptz NOT NULL
);
INSERT INTO acquisition VALUES
    (1, 7, 'hh',  '2024-01-02'),
    (2, 7, 'ads', '2024-01-01'),
    (3, 7, 'tg',  '2024-01-03'),
    (4, 8, NULL,  '2024-02-01'),
    (5, 9, 'hh',  '2024-03-01'),
    (6, 9, 'hh',  '2024-03-01');
"#;

const ACQ_NEW: &str = r#"
CREATE TABLE acquisition (
    id integer PRIMARY KEY,
    user_id integer NOT NULL UNIQUE,
    source text NOT NULL,
    created_at timestamptz NOT NULL
);
"#;

const ACQ_STEPS: &str = r#"-- First touch wins: the earliest row per user (ties: the lowest id).
-- @step acquisition_first_touch
-- @when SELECT EXISTS (SELECT 1 FROM public.acquisition GROUP BY user_id HAVING count(*) > 1)
-- @rows SELECT count(*) FROM public.acquisition a WHERE EXISTS (SELECT 1 FROM public.acquisition b WHERE b.user_id = a.user_id AND (b.created_at, b.id) < (a.created_at, a.id))
-- @resolves unique public.acquisition (user_id)
DELETE FROM public.acquisition a USING public.acquisition b
 WHERE b.user_id = a.user_id AND (b.created_at, b.id) < (a.created_at, a.id);

-- @step acquisition_unknown_source
-- @when SELECT EXISTS (SELECT 1 FROM public.acquisition WHERE source IS NULL)
-- @rows SELECT count(*) FROM public.acquisition WHERE source IS NULL
-- @resolves not-null public.acquisition (source)
UPDATE public.acquisition SET source = 'unknown' WHERE source IS NULL;

-- @step check_the_keys_came_first
-- @phase end
-- @when SELECT EXISTS (SELECT 1 FROM public.acquisition GROUP BY user_id HAVING count(*) > 1)
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'acquisition_user_id_key') THEN
    RAISE EXCEPTION 'the end step ran before the unique key';
  END IF;
END $$;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_step_keeps_the_first_touch_before_the_unique_key_so_the_apply_succeeds() {
    let db = db_from(ACQ_OLD).await;
    let target = files(&[
        ("040_tracking.sql", ACQ_NEW),
        ("900_takeover.data.sql", ACQ_STEPS),
    ]);
    let (_, _, planned) = plan_for(&db, &target).await.unwrap();
    let text = schema::format::plan_text(&planned);
    let first = planned
        .data_steps
        .iter()
        .find(|d| d.name == "acquisition_first_touch")
        .unwrap();
    assert_eq!(first.rows, Some(3), "{text}");
    assert_eq!(first.origin, "900_takeover.data.sql:2");
    let at = first.step.expect("the dedupe runs") - 1;
    assert!(
        planned.steps[at]
            .action
            .ends_with("(900_takeover.data.sql:2), touches 3 rows"),
        "{text}"
    );
    let unique = planned
        .steps
        .iter()
        .position(|s| s.sql.contains("UNIQUE"))
        .expect("the unique key is added");
    let not_null = planned
        .steps
        .iter()
        .position(|s| s.sql.contains("source SET NOT NULL"))
        .expect("source becomes NOT NULL");
    assert!(at < unique && at < not_null, "{text}");
    // Its SQL is not parsed: the graph knows the columns it resolves.
    let needs: Vec<String> = planned.steps[at]
        .needs()
        .iter()
        .map(|k| k.to_string())
        .collect();
    assert_eq!(needs, ["column public.acquisition.user_id"], "{text}");
    let end = planned
        .data_steps
        .iter()
        .find(|d| d.name == "check_the_keys_came_first")
        .unwrap();
    assert_eq!(end.step, Some(planned.steps.len()), "{text}");
    assert_eq!(
        planned
            .resolved_by(
                ResolveKind::Unique,
                &QName::new("public", "acquisition"),
                &["user_id".to_string()]
            )
            .map(|d| d.name.as_str()),
        Some("acquisition_first_touch")
    );
    assert!(
        text.contains("resolves unique public.acquisition (user_id)"),
        "{text}"
    );
    let (from, _, _) = plan_for(&db, &target).await.unwrap();
    let checked = schema::preflight(&db.url, &from, &planned, &planned.resolutions())
        .await
        .unwrap();
    assert!(checked.blockers.is_empty(), "{}", checked.text());
    let resolved: Vec<(&str, Option<&str>)> = checked
        .resolved
        .iter()
        .map(|b| (b.kind.as_str(), b.resolved_by.as_deref()))
        .collect();
    assert!(
        resolved.contains(&("unique", Some("acquisition_first_touch")))
            && resolved.contains(&("not-null", Some("acquisition_unknown_source"))),
        "{}",
        checked.text()
    );
    let json = schema::format::plan_json(&planned);
    assert!(json.contains("\"acquisition_first_touch\""), "{json}");

    apply_ok(&db, &target).await;
    let kept = rows(
        &db,
        "SELECT id || ':' || user_id || ':' || source FROM acquisition ORDER BY id",
    )
    .await;
    assert_eq!(kept, ["2:7:ads", "4:8:unknown", "5:9:hh"]);

    // Migrated: every @when is false now, and the plan is empty.
    let (_, _, again) = plan_for(&db, &target).await.unwrap();
    assert!(again.is_empty(), "{}", schema::format::plan_text(&again));
    assert!(again.data_steps.iter().all(|d| !d.runs));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_data_steps_preflight_reports_the_blockers_and_the_apply_fails() {
    let db = db_from(ACQ_OLD).await;
    let target = files(&[("040_tracking.sql", ACQ_NEW)]);
    let (from, _, planned) = plan_for(&db, &target).await.unwrap();
    let checked = schema::preflight(&db.url, &from, &planned, &planned.resolutions())
        .await
        .unwrap();
    let kinds: Vec<&str> = checked.blockers.iter().map(|b| b.kind.as_str()).collect();
    assert!(
        kinds.contains(&"unique") && kinds.contains(&"not-null"),
        "{}",
        checked.text()
    );
    assert!(checked.resolved.is_empty());
    let (plan, e) = apply(&db, &target)
        .await
        .expect_err("duplicates and NULLs break the new constraints");
    assert!(plan.data_steps.is_empty());
    assert!(matches!(e, SchemaError::Step { .. }), "{e}");
    let count = rows(&db, "SELECT count(*)::text FROM acquisition").await;
    assert_eq!(count, ["6"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_step_whose_when_changed_after_the_plan_stops_the_apply() {
    let db = db_from(ACQ_OLD).await;
    let target = files(&[
        ("040_tracking.sql", ACQ_NEW),
        ("900_takeover.data.sql", ACQ_STEPS),
    ]);
    let (from, to, plan) = plan_for(&db, &target).await.unwrap();
    let mut conn = db.connect().await;
    sqlx::raw_sql("UPDATE acquisition SET source = 'hh' WHERE source IS NULL")
        .execute(&mut conn)
        .await
        .unwrap();
    let options = schema::ApplyOptions {
        compare: target.compare_options(),
        ..Default::default()
    };
    let e = schema::apply(&db.url, &from, &plan, &to, options, &mut |_| {})
        .await
        .expect_err("the data changed since the plan");
    match e {
        SchemaError::DataChangedSincePlan { step, .. } => {
            assert_eq!(step, "acquisition_unknown_source")
        }
        other => panic!("{other}"),
    }
    let count = rows(&db, "SELECT count(*)::text FROM acquisition").await;
    assert_eq!(count, ["6"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_fresh_database_directives_add_nothing_and_after_the_apply_the_plan_is_empty() {
    let db = db_from("").await;
    let all = format!("{USERS_NEW}\n");
    let target = files(&[
        ("010_users.sql", &all),
        (
            "030_billing.sql",
            &PAYMENTS_NEW.replace("touch()", "touch2()"),
        ),
        ("040_tracking.sql", ACQ_NEW),
        (
            "041_channels.sql",
            &CHANNELS_NEW.replace("CREATE TABLE users (id integer PRIMARY KEY);", ""),
        ),
        ("900_takeover.data.sql", ACQ_STEPS),
    ]);
    let (from, to, directed) = plan_for(&db, &target).await.unwrap();
    let plain = schema::plan(&from, &to, target.compare_options());
    assert_eq!(directed.steps, plain.steps);
    assert_eq!(directed.data_steps.len(), 3);
    assert!(directed
        .data_steps
        .iter()
        .all(|d| !d.runs && d.step.is_none()));
    apply_ok(&db, &target).await;
    let (_, _, again) = plan_for(&db, &target).await.unwrap();
    assert!(again.is_empty(), "{}", schema::format::plan_text(&again));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_an_already_migrated_database_the_renames_and_moves_are_inert() {
    let db = db_from(PAYMENTS_OLD).await;
    let target = files(&[("030_billing.sql", PAYMENTS_NEW)]);
    apply_ok(&db, &target).await;
    let (_, _, again) = plan_for(&db, &target).await.unwrap();
    assert!(again.is_empty(), "{}", schema::format::plan_text(&again));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_directive_is_an_error_naming_its_file_and_line() {
    let target = files(&[(
        "030_billing.sql",
        "CREATE TABLE t (a int);\n-- @column public.t.a form b\n",
    )]);
    let e = target.directives().expect_err("a typo");
    assert!(
        e.to_string().starts_with("030_billing.sql:2: bad @column"),
        "{e}"
    );

    // Well formed, but naming a column the target does not declare.
    let db = db_from("CREATE TABLE t (b int);").await;
    let target = files(&[(
        "030_billing.sql",
        "CREATE TABLE t (a int);\n\n-- @column public.t.c from b\n",
    )]);
    let e = plan_for(&db, &target).await.expect_err("c is not declared");
    assert!(
        e.to_string()
            .starts_with("030_billing.sql:3: the target declares no column public.t.c"),
        "{e}"
    );

    // A @when that fails for another reason than a missing table is reported where it is written.
    let target = files(&[
        ("030_billing.sql", "CREATE TABLE t (a int);\n"),
        (
            "900_x.data.sql",
            "-- @step s\n-- @when SELECT 1/0 = 1\nSELECT 1;\n",
        ),
    ]);
    let e = plan_for(&db, &target).await.expect_err("division by zero");
    assert!(
        e.to_string()
            .starts_with("900_x.data.sql:1: the @when query of data step s failed"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_directory_does_not_load_its_data_files_into_the_scratch_database() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("010_t.sql"), "CREATE TABLE t (a int);\n").unwrap();
    std::fs::write(
        dir.path().join("900_x.data.sql"),
        "-- @step s\nUPDATE no_such_table SET a = 1;\n",
    )
    .unwrap();
    let db = db_from("").await;
    let target = Target::Dir(dir.path().to_path_buf());
    let model = schema::load_target(&db.url, &target).await.unwrap();
    assert!(model.tables.contains_key(&QName::new("public", "t")));
    assert_eq!(target.directives().unwrap().steps.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_over_an_added_and_a_renamed_column_reaches_the_target() {
    // The target declares the two columns in the key's order; the live table, after the rename
    // and the add, has them the other way round. The database after the plan must still equal
    // the target (key columns are compared in key order, not column order).
    let db = db_from(
        "CREATE TABLE payments (id integer PRIMARY KEY, payment_id text UNIQUE NOT NULL);
         INSERT INTO payments VALUES (1, 'a'), (2, 'b');",
    )
    .await;
    let target = files(&[(
        "030_billing.sql",
        "-- @column public.payments.provider_payment_id from payment_id
         CREATE TABLE payments (
             id integer PRIMARY KEY,
             provider text NOT NULL DEFAULT 'yookassa',
             provider_payment_id text NOT NULL,
             UNIQUE (provider, provider_payment_id)
         );",
    )]);
    apply_ok(&db, &target).await;
    let kept = rows(
        &db,
        "SELECT id || ':' || provider || ':' || provider_payment_id FROM payments ORDER BY id",
    )
    .await;
    assert_eq!(kept, ["1:yookassa:a", "2:yookassa:b"]);
}

const RENAMED_OLD: &str = "CREATE TABLE payments (id integer PRIMARY KEY, payment_id varchar(100));
     INSERT INTO payments VALUES (1, 'a'), (2, NULL), (3, 'a');";

const RENAMED_NEW: &str = "-- @column public.payments.provider_payment_id from payment_id
     CREATE TABLE payments (id integer PRIMARY KEY, provider_payment_id text NOT NULL UNIQUE);";

const RENAMED_FIX: &str = "-- @step payment_ids
-- @when SELECT EXISTS (SELECT 1 FROM public.payments WHERE payment_id IS NULL OR payment_id = 'a')
-- @resolves not-null public.payments (provider_payment_id)
-- @resolves unique public.payments (provider_payment_id)
UPDATE public.payments SET provider_payment_id = 'unknown-' || id
 WHERE provider_payment_id IS NULL OR provider_payment_id = 'a';
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_checks_a_renamed_column_under_its_live_name_and_a_step_resolves_it() {
    let db = db_from(RENAMED_OLD).await;
    let target = files(&[("030_billing.sql", RENAMED_NEW)]);
    let (from, _, plan) = plan_for(&db, &target).await.unwrap();
    let checked = schema::preflight(&db.url, &from, &plan, &plan.resolutions())
        .await
        .unwrap();
    let found: Vec<(&str, &str)> = checked
        .blockers
        .iter()
        .map(|b| (b.kind.as_str(), b.object.as_str()))
        .collect();
    assert!(
        found.contains(&("not-null", "public.payments.payment_id"))
            && found.iter().any(|(k, _)| *k == "unique"),
        "{}",
        checked.text()
    );
    assert!(checked.unchecked.is_empty(), "{}", checked.text());

    let target = files(&[
        ("030_billing.sql", RENAMED_NEW),
        ("900_fix.data.sql", RENAMED_FIX),
    ]);
    let (from, _, plan) = plan_for(&db, &target).await.unwrap();
    let checked = schema::preflight(&db.url, &from, &plan, &plan.resolutions())
        .await
        .unwrap();
    assert!(checked.blockers.is_empty(), "{}", checked.text());
    assert_eq!(checked.resolved.len(), 2, "{}", checked.text());
    apply_ok(&db, &target).await;
    let kept = rows(
        &db,
        "SELECT id || ':' || provider_payment_id FROM payments ORDER BY id",
    )
    .await;
    assert_eq!(kept, ["1:unknown-1", "2:unknown-2", "3:unknown-3"]);
}
