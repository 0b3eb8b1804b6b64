//! The schema engine through the `soprovod` binary: the v9.5 scenario (an old production database
//! brought to the declared schema in one command), refusals, `db up` on an existing database, and
//! `db diff` between two drifted databases whose SQL script makes them equal.

use crate::support::{db_cmd, soprovod, text};
use std::process::{Command, Output};

use testkit::TestDb;

/// The old production rows on top of `testkit::old_prod::SCHEMA`: thousands of rows.
const OLD_PROD_ROWS: &str = r#"
-- Thousands of rows.
INSERT INTO users (telegram_user_id, username, language_code, is_test, total_generations, created_at, updated_at)
SELECT 1000000 + g, 'user' || g, CASE WHEN g % 3 = 0 THEN 'en' ELSE 'ru' END, g % 50 = 0, g % 7,
       now() - (g % 400) * interval '1 day', now() - (g % 30) * interval '1 day'
FROM generate_series(1, 3000) g;
INSERT INTO letter_sessions (user_id, status, job_description, resume_text, generated_letter, generation_time_seconds, model_used, created_at)
SELECT 1 + g % 3000, (ARRAY['started', 'generating', 'completed', 'failed', 'abandoned'])[1 + g % 5],
       'job ' || g, 'resume ' || g, 'letter ' || g, g % 90, CASE WHEN g % 2 = 0 THEN 'gpt-4o' ELSE 'gpt-4o-mini' END,
       now() - (g % 365) * interval '1 day'
FROM generate_series(1, 6000) g;
INSERT INTO letter_iterations (session_id, user_id, iteration_number, improvement_request, generated_letter, generation_time_seconds)
SELECT id, user_id::integer, 1, 'shorter', 'better ' || user_id, 1.5 FROM letter_sessions WHERE status = 'completed';
INSERT INTO letter_feedback (session_id, user_id, feedback_type)
SELECT id, user_id::integer, CASE WHEN random() < 0.5 THEN 'like' ELSE 'dislike' END FROM letter_sessions WHERE status IN ('completed', 'failed');
INSERT INTO subscriptions (user_id, plan_type, status, letters_used, period_end)
SELECT g, CASE WHEN g % 10 = 0 THEN 'premium' ELSE 'free' END, 'active', g % 3, CASE WHEN g % 20 = 0 THEN now() + interval '5 days' END
FROM generate_series(1, 3000) g;
INSERT INTO subscriptions_backup SELECT id, user_id, plan_type, status, letters_limit, letters_used, quota_window_start,
       quota_window_end, period_start, period_end, created_at, updated_at FROM subscriptions WHERE id % 3 = 0;
INSERT INTO payments (user_id, provider, provider_payment_id, amount_minor, currency, status)
SELECT g * 10, 'telegram_stars', 'charge-' || g, 150, 'XTR', 'succeeded' FROM generate_series(1, 300) g;
INSERT INTO acquisition_channels (user_id, utm_source, referral_user_id)
SELECT g, CASE WHEN g % 4 = 0 THEN 'habr' END, CASE WHEN g % 5 = 0 THEN g - 1 END FROM generate_series(2, 2500) g;
INSERT INTO openai_requests (user_id, provider, model, request_type, prompt_tokens, completion_tokens, total_tokens, response_time_ms, success)
SELECT 1 + g % 3000, 'openai', 'gpt-4o', 'letter_generation', 100, 200, 300, 900 + g % 100, g % 17 <> 0 FROM generate_series(1, 3000) g;
INSERT INTO user_events (user_id, event_type, created_at)
SELECT 1 + g % 3000, 'start', now() - (g % 40) * interval '1 day' FROM generate_series(1, 5000) g;
"#;

/// The tables of the old database, each with the column its rows are ordered by.
const TABLES: &[(&str, &str)] = &[
    ("users", "id"),
    ("letter_sessions", "id"),
    ("letter_iterations", "id"),
    ("letter_feedback", "id"),
    ("subscriptions", "id"),
    ("subscriptions_backup", "id"),
    ("payments", "id"),
    ("acquisition_channels", "id"),
    ("openai_requests", "id"),
    ("user_events", "id"),
];

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

async fn old_prod() -> TestDb {
    let db = testkit::empty_db().await;
    let mut conn = db.connect().await;
    sqlx::raw_sql(&format!("{}{OLD_PROD_ROWS}", testkit::old_prod::SCHEMA))
        .execute(&mut conn)
        .await
        .expect("building the old production state");
    db
}

/// Row count and a checksum of every value, per (table, column), in a stable row order.
async fn fingerprints(db: &TestDb) -> std::collections::BTreeMap<(String, String), String> {
    let mut conn = db.connect().await;
    let mut out = std::collections::BTreeMap::new();
    for (table, order) in TABLES {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
        )
        .bind(format!("public.{table}"))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        for column in columns {
            let sql = format!(
                "SELECT count(*)::text || ':' || md5(coalesce(string_agg(coalesce(\"{column}\"::text, '<null>'), ',' ORDER BY {order}), '')) FROM public.{table}"
            );
            let value: String = sqlx::query_scalar(&sql).fetch_one(&mut conn).await.unwrap();
            out.insert((table.to_string(), column), value);
        }
    }
    out
}

async fn column_type(db: &TestDb, table: &str, column: &str) -> String {
    let mut conn = db.connect().await;
    sqlx::query_scalar(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2",
    )
    .bind(format!("public.{table}"))
    .bind(column)
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_production_database_reaches_the_declared_schema_in_one_command_and_keeps_every_row(
) {
    let db = old_prod().await;
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let before = fingerprints(&db).await;

    let out = db_cmd(
        dir.path(),
        &db.url,
        &[
            "apply",
            "--yes",
            "--allow-hazards",
            "all",
            "--backup-dir",
            backups.to_str().unwrap(),
        ],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(code(&out), 0, "apply failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("DROP VIEW public.ops_slow_top"), "{stdout}");
    assert!(
        stderr.contains("[1/") && stderr.contains("restore with: "),
        "{stderr}"
    );
    let mut files: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "one backup and its manifest: {files:?}");
    assert!(
        files[0].ends_with(".dump") && files[1] == files[0].replace(".dump", ".manifest.json"),
        "{files:?}"
    );

    let after = fingerprints(&db).await;
    let dropped: Vec<_> = before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .cloned()
        .collect();
    assert_eq!(
        dropped,
        vec![
            ("users".to_string(), "total_generations".to_string()),
            ("users".to_string(), "updated_at".to_string())
        ]
    );
    for (key, value) in &before {
        if let Some(now) = after.get(key) {
            assert_eq!(now, value, "rows or values of {key:?} changed");
        }
    }
    assert_eq!(
        column_type(&db, "letter_sessions", "generation_time_seconds").await,
        "double precision"
    );
    for (table, column) in [
        ("acquisition_channels", "user_id"),
        ("acquisition_channels", "referral_user_id"),
        ("letter_feedback", "user_id"),
        ("letter_iterations", "user_id"),
        ("payments", "user_id"),
        ("subscriptions", "user_id"),
        ("subscriptions_backup", "user_id"),
    ] {
        assert_eq!(
            column_type(&db, table, column).await,
            "bigint",
            "{table}.{column}"
        );
    }
    let mut conn = db.connect().await;
    // The cohort view exists with the contract's columns (its summaries are filled by the product's
    // own rebuild, not by a schema change).
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT attname::text FROM pg_attribute WHERE attrelid = 'public.user_cohorts_basic'::regclass AND attnum > 0 ORDER BY attnum",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        columns,
        [
            "cohort_month",
            "acquisition_channel",
            "cohort_size",
            "activated_users",
            "premium_users",
            "avg_days_to_first_generation"
        ]
    );

    // The product fills the new analytics summaries from the kept rows right after the apply.
    assert!(stderr.contains("analytics summaries filled"), "{stderr}");
    let (facts, users): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM analytics_user_facts), (SELECT count(*) FROM users)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(users > 0);
    assert_eq!(facts, users, "one summary row per kept user");

    let verify = db_cmd(dir.path(), &db.url, &["verify"]);
    assert_eq!(
        code(&verify),
        0,
        "verify:\n{}{}",
        text(&verify.stdout),
        text(&verify.stderr)
    );
    let plan = db_cmd(dir.path(), &db.url, &["plan", "--format", "json"]);
    assert_eq!(code(&plan), 0, "{}", text(&plan.stderr));
    let json: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan json");
    assert_eq!(json["steps"].as_array().map(Vec::len), Some(0), "{json}");
    let again = db_cmd(
        dir.path(),
        &db.url,
        &["apply", "--yes", "--allow-hazards", "all", "--no-backup"],
    );
    assert_eq!(code(&again), 0);
    assert!(
        text(&again.stderr).contains("nothing to do"),
        "{}",
        text(&again.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_allowed_hazards_apply_lists_them_exits_1_and_changes_nothing() {
    let db = old_prod().await;
    let dir = tempfile::tempdir().unwrap();
    let before = schema::introspect_url(&db.url).await.unwrap();

    let out = db_cmd(dir.path(), &db.url, &["apply", "--yes"]);
    assert_eq!(code(&out), 1, "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    for kind in ["data-loss", "table-rewrite"] {
        assert!(stderr.contains(kind), "{kind} not listed:\n{stderr}");
    }
    assert!(stderr.contains("column total_generations"), "{stderr}");

    // Allowing only some kinds is still a refusal.
    let partly = db_cmd(
        dir.path(),
        &db.url,
        &["apply", "--yes", "--allow-hazards", "table-rewrite"],
    );
    assert_eq!(code(&partly), 1);
    assert!(
        !text(&partly.stderr).contains("  table-rewrite "),
        "allowed kinds are not listed as refused"
    );

    // Hazards allowed but no --yes and no terminal: refused too.
    let unconfirmed = db_cmd(dir.path(), &db.url, &["apply", "--allow-hazards", "all"]);
    assert_eq!(code(&unconfirmed), 1);
    assert!(
        text(&unconfirmed.stderr).contains("--yes"),
        "{}",
        text(&unconfirmed.stderr)
    );

    let after = schema::introspect_url(&db.url).await.unwrap();
    assert_eq!(after, before, "nothing changed");
    let verify = db_cmd(dir.path(), &db.url, &["verify"]);
    assert_eq!(code(&verify), 1, "the drift is still there");
    assert!(
        text(&verify.stdout).contains("table public.users: differs"),
        "{}",
        text(&verify.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_up_on_an_existing_database_refuses_hazards_unless_allowed_and_then_converges() {
    let db = old_prod().await;
    let dir = tempfile::tempdir().unwrap();
    let refused = db_cmd(dir.path(), &db.url, &["up"]);
    assert_eq!(code(&refused), 1, "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("data-loss"));
    assert!(
        refused.stdout.is_empty(),
        "no URL is printed when nothing was done"
    );

    let up = db_cmd(
        dir.path(),
        &db.url,
        &["up", "--allow-hazards", "all", "--no-backup"],
    );
    assert_eq!(code(&up), 0, "{}", text(&up.stderr));
    assert_eq!(text(&up.stdout).trim(), db.url, "stdout holds only the URL");
    let verify = db_cmd(dir.path(), &db.url, &["verify"]);
    assert_eq!(code(&verify), 0, "{}", text(&verify.stdout));
}

const DRIFT_A: &str = r#"
CREATE TABLE items (id serial PRIMARY KEY, owner_id integer NOT NULL, price integer, note text);
CREATE TABLE gone (id integer);
CREATE VIEW item_prices AS SELECT id, owner_id, price FROM items;
CREATE VIEW owner_totals AS SELECT owner_id, sum(price) AS total FROM item_prices GROUP BY owner_id;
CREATE VIEW owner_best AS SELECT owner_id, total FROM owner_totals WHERE total > 100;
GRANT SELECT ON owner_totals TO PUBLIC;
INSERT INTO items (owner_id, price, note) SELECT g % 10, g, 'n' || g FROM generate_series(1, 300) g;
"#;

const DRIFT_B: &str = r#"
CREATE TABLE items (id bigserial PRIMARY KEY, owner_id bigint NOT NULL, price double precision, note text, tag text);
CREATE TABLE extra (id bigint PRIMARY KEY);
CREATE VIEW item_prices AS SELECT id, owner_id, price FROM items;
CREATE VIEW owner_totals WITH (security_barrier = true) AS SELECT owner_id, sum(price) AS total FROM item_prices GROUP BY owner_id;
CREATE VIEW owner_best AS SELECT owner_id, total FROM owner_totals WHERE total > 100;
COMMENT ON VIEW owner_totals IS 'money per owner';
GRANT SELECT ON owner_totals TO PUBLIC;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_diff_reports_drift_and_its_sql_run_with_psql_makes_from_equal_to() {
    let a = testkit::empty_db().await;
    let b = testkit::empty_db().await;
    for (db, sql) in [(&a, DRIFT_A), (&b, DRIFT_B)] {
        let mut conn = db.connect().await;
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let report = soprovod(
        dir.path(),
        &["db", "diff", "--from", &a.url, "--to", &b.url],
    );
    assert_eq!(code(&report), 1, "{}", text(&report.stderr));
    let stdout = text(&report.stdout);
    assert!(
        stdout.contains("table public.gone: only in FROM"),
        "{stdout}"
    );
    assert!(
        stdout.contains("table public.extra: only in TO"),
        "{stdout}"
    );
    assert!(stdout.contains("table public.items: differs"), "{stdout}");
    assert!(
        stdout.contains("column owner_id type: \"integer\" → \"bigint\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("sequence public.items_id_seq: differs"),
        "{stdout}"
    );

    let json = soprovod(
        dir.path(),
        &[
            "db", "diff", "--from", &a.url, "--to", &b.url, "--format", "json",
        ],
    );
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("diff json");
    assert_eq!(doc["drift"], serde_json::Value::Bool(true));

    let sql = soprovod(
        dir.path(),
        &[
            "db", "diff", "--from", &a.url, "--to", &b.url, "--format", "sql",
        ],
    );
    assert_eq!(code(&sql), 1);
    let script = dir.path().join("drift.sql");
    std::fs::write(&script, &sql.stdout).unwrap();
    let psql = Command::new(testkit::bin("psql"))
        .args([
            "-X",
            "-q",
            "-1",
            "-v",
            "ON_ERROR_STOP=1",
            "-f",
            script.to_str().unwrap(),
            &a.url,
        ])
        .output()
        .unwrap();
    assert!(
        psql.status.success(),
        "psql -1 failed: {}",
        text(&psql.stderr)
    );

    let after = soprovod(
        dir.path(),
        &["db", "diff", "--from", &a.url, "--to", &b.url],
    );
    assert_eq!(code(&after), 0, "{}", text(&after.stdout));
    assert!(text(&after.stdout).starts_with("No drift"));
    let mut conn = a.connect().await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 300, "the rows survive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_elsewhere_makes_apply_retry_then_give_up_having_changed_nothing() {
    use sqlx::Connection;
    let db = old_prod().await;
    let dir = tempfile::tempdir().unwrap();
    let before = schema::introspect_url(&db.url).await.unwrap();
    // The apply locks users (and every table it changes) before its first step.
    let mut holder = db.connect().await;
    let mut tx = holder.begin().await.unwrap();
    sqlx::query("LOCK TABLE users IN ACCESS SHARE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let out = db_cmd(
        dir.path(),
        &db.url,
        &[
            "apply",
            "--yes",
            "--allow-hazards",
            "all",
            "--no-backup",
            "--lock-timeout",
            "300",
            "--retries",
            "2",
        ],
    );
    tx.rollback().await.unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(code(&out), 2, "{stderr}");
    assert!(
        stderr.contains("could not lock public.users") && stderr.contains("lock timeout"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("; retry ").count(),
        2,
        "two retries: {stderr}"
    );
    assert!(
        !stderr.contains("[1/"),
        "no step ran without its locks: {stderr}"
    );
    let after = schema::introspect_url(&db.url).await.unwrap();
    assert_eq!(after, before, "the database is exactly as it was");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_of_sql_files_is_a_target_for_plan_apply_and_verify() {
    let db = testkit::empty_db().await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("schema");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(
        target.join("010_t.sql"),
        "CREATE TABLE t (id bigint PRIMARY KEY, name text);",
    )
    .unwrap();
    std::fs::write(
        target.join("020_v.sql"),
        "CREATE VIEW v AS SELECT name FROM t;",
    )
    .unwrap();
    std::fs::write(target.join("README.txt"), "not SQL, not run").unwrap();
    let t = target.to_str().unwrap();

    let verify = db_cmd(dir.path(), &db.url, &["verify", "--target", t]);
    assert_eq!(code(&verify), 1);
    assert!(
        text(&verify.stdout).contains("table public.t: only in TO"),
        "{}",
        text(&verify.stdout)
    );
    let plan = db_cmd(
        dir.path(),
        &db.url,
        &["plan", "--target", t, "--format", "sql"],
    );
    assert_eq!(code(&plan), 0);
    let sql = text(&plan.stdout);
    assert!(
        sql.find("CREATE TABLE public.t").unwrap() < sql.find("CREATE VIEW public.v").unwrap(),
        "{sql}"
    );
    let apply = db_cmd(dir.path(), &db.url, &["apply", "--target", t, "--yes"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply.stderr));
    let verify = db_cmd(dir.path(), &db.url, &["verify", "--target", t]);
    assert_eq!(code(&verify), 0, "{}", text(&verify.stdout));
    let bad = db_cmd(
        dir.path(),
        &db.url,
        &["plan", "--target", "/nonexistent/dir"],
    );
    assert_eq!(code(&bad), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_difference_the_engine_does_not_model_makes_verify_exit_1_and_apply_refuse() {
    let db = testkit::empty_db().await;
    let mut conn = db.connect().await;
    sqlx::raw_sql("CREATE TABLE t (id bigint PRIMARY KEY, name text);")
        .execute(&mut conn)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("schema");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(
        target.join("010_t.sql"),
        "CREATE TABLE t (id bigint PRIMARY KEY, name text);
         CREATE RULE no_delete AS ON DELETE TO t DO INSTEAD NOTHING;",
    )
    .unwrap();
    let t = target.to_str().unwrap();
    let run = |cmd: &str| db_cmd(dir.path(), &db.url, &[cmd, "--target", t]);

    let verify = run("verify");
    assert_eq!(code(&verify), 1, "{}", text(&verify.stdout));
    assert!(
        text(&verify.stdout).contains("rule (not modelled) public.t.no_delete: only in TO"),
        "{}",
        text(&verify.stdout)
    );
    let plan = run("plan");
    assert!(
        text(&plan.stdout).contains(
            "rule public.t.no_delete is only in the target and is not modelled: the plan cannot create it"
        ),
        "{}",
        text(&plan.stdout)
    );
    let apply = db_cmd(dir.path(), &db.url, &["apply", "--target", t, "--yes"]);
    assert_eq!(code(&apply), 1, "{}", text(&apply.stderr));
    assert!(
        text(&apply.stderr).contains("nothing was changed"),
        "{}",
        text(&apply.stderr)
    );
    assert_eq!(code(&run("verify")), 1, "still different");
    let rules: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_rules WHERE rulename = 'no_delete'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(rules, 0);
}

/// B: a schema with most kinds the engine models; A: another version of it.
const DUMP_B: &str = r#"
CREATE SCHEMA billing;
CREATE TYPE mood AS ENUM ('good', 'bad');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL, mood mood DEFAULT 'good', score posint);
COMMENT ON TABLE users IS 'people';
CREATE TABLE billing.payments (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE, amount numeric(10,2) CHECK (amount > 0));
CREATE INDEX payments_user ON billing.payments (user_id);
CREATE FUNCTION total(u bigint) RETURNS numeric LANGUAGE sql STABLE AS $$ SELECT sum(amount) FROM billing.payments WHERE user_id = u $$;
CREATE VIEW user_totals AS SELECT id, name, total(id) AS total FROM users;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();
GRANT SELECT ON user_totals TO PUBLIC;
"#;

const DUMP_A: &str = r#"
CREATE TABLE users (id serial PRIMARY KEY, name text, legacy text);
INSERT INTO users (name) VALUES ('a'), ('b');
CREATE VIEW old_view AS SELECT name FROM users;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_of_b_applied_to_a_makes_a_equal_to_b() {
    let b = testkit::empty_db().await;
    sqlx::raw_sql(DUMP_B)
        .execute(&mut b.connect().await)
        .await
        .unwrap();
    let a = testkit::empty_db().await;
    sqlx::raw_sql(DUMP_A)
        .execute(&mut a.connect().await)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b-schema");
    let o = out.to_str().unwrap();

    let dump = db_cmd(dir.path(), &b.url, &["dump", "--out", o]);
    assert_eq!(code(&dump), 0, "{}", text(&dump.stderr));
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(files.iter().any(|f| f.ends_with("_table.sql")), "{files:?}");
    assert!(files.iter().any(|f| f.ends_with("_view.sql")), "{files:?}");
    assert!(
        files.iter().any(|f| f.ends_with("_domain.sql")),
        "{files:?}"
    );
    let again = db_cmd(dir.path(), &b.url, &["dump", "--out", o]);
    assert_eq!(code(&again), 2, "an existing dump is not overwritten");

    let verify_b = db_cmd(dir.path(), &b.url, &["verify", "--target", o]);
    assert_eq!(
        code(&verify_b),
        0,
        "B is at its own dump:\n{}",
        text(&verify_b.stdout)
    );
    let apply = db_cmd(
        dir.path(),
        &a.url,
        &[
            "apply",
            "--target",
            o,
            "--yes",
            "--allow-hazards",
            "all",
            "--no-backup",
        ],
    );
    assert_eq!(
        code(&apply),
        0,
        "{}{}",
        text(&apply.stdout),
        text(&apply.stderr)
    );
    let diff = soprovod(
        dir.path(),
        &["db", "diff", "--from", &a.url, "--to", &b.url],
    );
    assert_eq!(code(&diff), 0, "A equals B:\n{}", text(&diff.stdout));
    let names: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut a.connect().await)
        .await
        .unwrap();
    assert_eq!(names, 2, "A's rows are kept");
}
