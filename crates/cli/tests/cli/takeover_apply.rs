//! The takeover's data steps are what stands between the old bot's data and the declared
//! constraints: turned off, its blocker is back and apply changes nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use testkit::legacy::LegacyState;
use testkit::TestDb;

use crate::takeover::{db_cmd, one, show, SEED, SIZE};

const TABLES: &[&str] = &[
    "users",
    "letter_sessions",
    "letter_iterations",
    "letter_feedback",
    "subscriptions",
    "subscriptions_backup",
    "payments",
    "openai_requests",
    "user_events",
    "error_logs",
];

pub(crate) async fn counts(db: &TestDb) -> BTreeMap<&'static str, i64> {
    let mut out = BTreeMap::new();
    for t in TABLES {
        out.insert(
            *t,
            one(db, &format!("SELECT count(*) FROM public.{t}")).await,
        );
    }
    out
}

/// The declared schema directory with one data step cut out of the takeover file.
fn declared_without_step(step: &str) -> tempfile::TempDir {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../store/schema");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let mut sql = std::fs::read_to_string(&path).unwrap();
        if name.ends_with(".data.sql") {
            let start = sql
                .find(&format!("-- @step {step}\n"))
                .unwrap_or_else(|| panic!("{name} has no step {step}"));
            let end = sql[start + 1..]
                .find("-- @step ")
                .map(|e| start + 1 + e)
                .unwrap_or(sql.len());
            sql.replace_range(start..end, "");
        }
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_first_touch_step_the_plan_names_the_duplicate_acquisition_rows_as_a_blocker_and_apply_changes_nothing(
) {
    let db = testkit::legacy_db(LegacyState::A, SIZE, SEED).await;
    // However preflight counts duplicates: users, their rows, or the rows beyond the first.
    let dup_users = one(&db, "SELECT count(*) FROM (SELECT user_id FROM acquisition_channels GROUP BY user_id HAVING count(*) > 1) x").await;
    let dup_rows = one(&db, "SELECT coalesce(sum(n), 0)::bigint FROM (SELECT count(*) AS n FROM acquisition_channels GROUP BY user_id HAVING count(*) > 1) x").await;
    let counts_ok = [dup_users, dup_rows, dup_rows - dup_users];
    let dir = tempfile::tempdir().unwrap();
    let target = declared_without_step("acquisition_first_touch");
    let target = target.path().to_str().unwrap();

    let with = db_cmd(dir.path(), &db.url, &["plan", "--format", "json"]);
    let with_json: serde_json::Value = serde_json::from_slice(&with.stdout)
        .unwrap_or_else(|e| panic!("plan json: {e}: {}", show(&with)));
    let resolved = with_json["preflight"]["resolved"].to_string();
    assert!(
        resolved.contains("acquisition_first_touch") && resolved.contains("acquisition_channels"),
        "the shipped plan's step resolves the blocker: {resolved}"
    );
    assert!(
        !with_json["blockers"]
            .to_string()
            .contains("acquisition_channels"),
        "{}",
        with_json["blockers"]
    );

    let plan = db_cmd(
        dir.path(),
        &db.url,
        &["plan", "--target", target, "--format", "json"],
    );
    let json: serde_json::Value = serde_json::from_slice(&plan.stdout)
        .unwrap_or_else(|e| panic!("plan json: {e}: {}", show(&plan)));
    let blockers = json["blockers"].as_array().cloned().unwrap_or_default();
    let acquisition: Vec<_> = blockers
        .iter()
        .filter(|b| b["kind"] == "unique" && b.to_string().contains("acquisition_channels"))
        .collect();
    assert_eq!(
        acquisition.len(),
        1,
        "a unique blocker on acquisition_channels: {}",
        show(&plan)
    );
    let count = acquisition[0]["count"].as_i64().unwrap();
    assert!(
        counts_ok.contains(&count) && count > 0,
        "the blocker counts the duplicates ({dup_users} users, {dup_rows} rows): {}",
        acquisition[0]
    );
    assert!(!acquisition[0]["examples"].as_array().unwrap().is_empty());

    let before = counts(&db).await;
    let apply = db_cmd(
        dir.path(),
        &db.url,
        &[
            "apply",
            "--yes",
            "--allow-hazards",
            "all",
            "--no-backup",
            "--target",
            target,
        ],
    );
    assert_eq!(
        apply.status.code(),
        Some(1),
        "apply refuses: {}",
        show(&apply)
    );
    assert_eq!(counts(&db).await, before, "nothing changed");
    assert!(one(&db, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'consent_timestamp'").await == 1);
}
