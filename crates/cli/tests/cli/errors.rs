//! What an operator sees when something is wrong: one line naming what failed (each cause once),
//! a hint of what to do, and nothing started before the arguments were checked.

use std::process::{Command, Output, Stdio};

fn soprovod(dir: &std::path::Path, args: &[&str], database_url: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_soprovod"));
    cmd.args(args)
        .env("SOPROVOD_DATA_DIR", dir)
        .env_remove("DATABASE_URL")
        .current_dir(dir)
        .stdin(Stdio::null());
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    cmd.output().expect("running soprovod")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn an_unreachable_database_is_named_once_with_a_hint_and_not_blamed_on_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgres://u:secret@127.0.0.1:{}/db", closed_port());
    let out = soprovod(dir.path(), &["db", "plan"], Some(&url));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.matches("Connection refused").count(), 1, "{err}");
    assert!(
        err.starts_with("error: introspecting postgres://u:***@127.0.0.1:"),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
    assert!(!err.contains("target"), "{err}");
    assert!(
        err.lines().nth(1).is_some_and(|l| l.starts_with("hint: ")),
        "{err}"
    );
}

#[test]
fn a_url_that_is_not_postgresql_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let out = soprovod(dir.path(), &["db", "plan"], Some("mysql://x"));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("DATABASE_URL is a mysql:// URL"), "{err}");
}

#[test]
fn a_missing_target_directory_is_refused_before_the_embedded_database_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let out = soprovod(
        dir.path(),
        &[
            "db",
            "apply",
            "--yes",
            "--target",
            "/nonexistent/soprovod-target",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/soprovod-target"),
        "{}",
        stderr(&out)
    );
    assert!(
        !dir.path().join("pg").exists(),
        "no cluster may be created for a command that cannot run"
    );
}

#[tokio::test]
async fn a_broken_file_in_a_target_directory_is_named_with_its_line() {
    let db = testkit::empty_db().await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("schema");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("010_ok.sql"), "CREATE TABLE a (id bigint);\n").unwrap();
    std::fs::write(
        target.join("020_broken.sql"),
        "CREATE TABLE b (id bigint);\n\nCREATE TABLE c (id bigint,, name text);\n",
    )
    .unwrap();
    let out = soprovod(
        dir.path(),
        &["db", "plan", "--target", target.to_str().unwrap()],
        Some(&db.url),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("020_broken.sql, line 3: "), "{err}");
    assert!(err.contains("syntax error"), "{err}");
}

#[tokio::test]
async fn analytics_on_a_database_without_the_schema_says_to_run_db_apply() {
    let db = testkit::empty_db().await;
    let dir = tempfile::tempdir().unwrap();
    let out = soprovod(dir.path(), &["analytics", "cohorts"], Some(&db.url));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.lines()
            .any(|l| l.starts_with("hint: ") && l.contains("soprovod db apply")),
        "{err}"
    );
}

#[test]
fn a_bad_setting_in_the_environment_is_named_with_a_hint_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_soprovod"))
        .args(["db", "up"])
        .env("SOPROVOD_DATA_DIR", dir.path())
        .env_remove("DATABASE_URL")
        .env("OPENAI_TIMEOUT_SECS", "soon")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: OPENAI_TIMEOUT_SECS must be"),
        "{err}"
    );
    assert!(
        err.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("hint: fix that variable")),
        "{err}"
    );
    assert!(
        !dir.path().join("pg").exists(),
        "no cluster may be created before the settings are read"
    );
}

/// `url` with its user (and database, when given) replaced.
fn as_user(url: &str, user: &str, database: Option<&str>) -> String {
    let mut url = url::Url::parse(url).unwrap();
    url.set_username(user).unwrap();
    if let Some(db) = database {
        url.set_path(&format!("/{db}"));
    }
    url.to_string()
}

/// A login role without CREATEDB or any grant, unique to this test process.
async fn plain_role(db: &testkit::TestDb, tag: &str) -> String {
    let role = format!("plain_{tag}_{}", std::process::id());
    sqlx::raw_sql(&format!("CREATE ROLE {role} LOGIN NOCREATEDB"))
        .execute(&db.pool().await)
        .await
        .unwrap();
    role
}

/// The `hint:` line, checked to be the second and last line after one `error:` line.
fn hint_of(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    let err = stderr(out);
    let lines: Vec<&str> = err.trim().lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    lines[1]
        .strip_prefix("hint: ")
        .unwrap_or_else(|| panic!("no hint: {err}"))
        .to_string()
}

#[tokio::test]
async fn a_database_that_does_not_exist_gets_a_hint_to_create_it() {
    let db = testkit::empty_db().await;
    let dir = tempfile::tempdir().unwrap();
    let url = as_user(&db.url, "soprovod", Some("no_such_database_here"));
    let out = soprovod(dir.path(), &["db", "verify"], Some(&url));
    let hint = hint_of(&out);
    assert!(
        hint.contains("does not exist") && hint.contains("createdb"),
        "{hint}"
    );
}

#[tokio::test]
async fn a_user_the_server_does_not_accept_gets_a_hint_about_the_credentials() {
    let db = testkit::empty_db().await;
    let dir = tempfile::tempdir().unwrap();
    let url = as_user(&db.url, "no_such_role_here", None);
    let out = soprovod(dir.path(), &["db", "verify"], Some(&url));
    let hint = hint_of(&out);
    assert!(hint.contains("user name or password"), "{hint}");
}

#[tokio::test]
async fn a_role_without_createdb_is_told_the_scratch_database_needs_it() {
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let role = plain_role(&db, "nocreatedb").await;
    let dir = tempfile::tempdir().unwrap();
    let out = soprovod(
        dir.path(),
        &["db", "plan"],
        Some(&as_user(&db.url, &role, None)),
    );
    let err = stderr(&out);
    assert!(err.contains("creating a scratch database"), "{err}");
    let hint = hint_of(&out);
    assert!(hint.contains("CREATEDB"), "{hint}");
}

#[tokio::test]
async fn a_role_without_a_privilege_is_told_to_connect_as_one_that_has_it() {
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let role = plain_role(&db, "noselect").await;
    let dir = tempfile::tempdir().unwrap();
    let out = soprovod(
        dir.path(),
        &["analytics", "cohorts"],
        Some(&as_user(&db.url, &role, None)),
    );
    assert!(
        stderr(&out).contains("permission denied"),
        "{}",
        stderr(&out)
    );
    let hint = hint_of(&out);
    assert!(hint.contains("lacks a privilege"), "{hint}");
}
