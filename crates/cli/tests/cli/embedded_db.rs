//! `soprovod db up` / `db down` on the embedded database: persistence, crash recovery, concurrency.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::{getegid, geteuid, setgid, setgroups, setuid, Gid, Pid, Uid};

/// A data directory whose embedded server is stopped when the test ends, pass or fail.
struct DataDir {
    dir: tempfile::TempDir,
}

impl DataDir {
    fn new() -> Self {
        Self {
            dir: tempfile::Builder::new()
                .prefix("soprovod-cli-")
                .tempdir()
                .unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn soprovod(&self, args: &[&str]) -> Output {
        soprovod_in(self.path(), args)
    }

    fn up(&self) -> String {
        let out = self.soprovod(&["db", "up"]);
        assert!(
            out.status.success(),
            "db up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn postmaster_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.path().join("pg/postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = self.soprovod(&["db", "down"]);
    }
}

fn soprovod_in(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_soprovod"))
        .args(args)
        .env("SOPROVOD_DATA_DIR", data_dir)
        .env_remove("DATABASE_URL")
        .current_dir(data_dir)
        .output()
        .expect("running soprovod")
}

fn process_alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
}

fn psql(url: &str, sql: &str) -> String {
    let out = Command::new(testkit::bin("psql"))
        .args([url, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("running psql");
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn db_up_creates_the_declared_schema_and_prints_a_url() {
    let data = DataDir::new();
    let url = data.up();
    assert!(url.starts_with("postgres://"), "{url}");
    // The ten tables and five views of the data contract (the schema may add more).
    let tables = "'users','letter_sessions','letter_iterations','letter_feedback','subscriptions',\
                  'subscriptions_backup','payments','acquisition_channels','openai_requests','user_events'";
    let views = "'user_stats','session_stats','user_activity','openai_usage','user_cohorts_basic'";
    let count = |catalog: &str, names: &str| {
        let name_col = if catalog == "pg_tables" {
            "tablename"
        } else {
            "viewname"
        };
        psql(&url, &format!("SELECT count(*) FROM {catalog} WHERE schemaname = 'public' AND {name_col} IN ({names})"))
    };
    assert_eq!(count("pg_tables", tables), "10");
    assert_eq!(count("pg_views", views), "5");
}

#[test]
fn data_survives_up_down_up() {
    let data = DataDir::new();
    let url = data.up();
    psql(
        &url,
        "INSERT INTO users (telegram_user_id, username) VALUES (1001, 'kept')",
    );
    let down = data.soprovod(&["db", "down"]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(data.postmaster_pid().is_none(), "the server is stopped");
    let url_again = data.up();
    assert_eq!(
        psql(
            &url_again,
            "SELECT username FROM users WHERE telegram_user_id = 1001"
        ),
        "kept"
    );
}

#[test]
fn db_up_recovers_after_the_server_is_killed() {
    let data = DataDir::new();
    let url = data.up();
    psql(&url, "INSERT INTO users (telegram_user_id) VALUES (2002)");
    let pid = data
        .postmaster_pid()
        .expect("a running server has a pid file");
    // Killing the server we started, as a crash would.
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while process_alive(pid) {
        assert!(
            Instant::now() < deadline,
            "the killed server did not go away"
        );
        std::thread::yield_now();
    }
    assert!(
        data.path().join("pg/postmaster.pid").exists(),
        "the crash leaves a stale pid file"
    );
    let url_again = data.up();
    assert_eq!(
        psql(
            &url_again,
            "SELECT count(*) FROM users WHERE telegram_user_id = 2002"
        ),
        "1"
    );
    assert_ne!(data.postmaster_pid(), Some(pid));
}

#[test]
fn two_concurrent_db_up_start_one_server() {
    let data = DataDir::new();
    let path: PathBuf = data.path().to_path_buf();
    let a = std::thread::spawn({
        let path = path.clone();
        move || soprovod_in(&path, &["db", "up"])
    });
    let b = std::thread::spawn(move || soprovod_in(&path, &["db", "up"]));
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    let outcomes = [&a, &b];
    let ok: Vec<_> = outcomes.iter().filter(|o| o.status.success()).collect();
    // One creates the schema; the other either finds it done or refuses to touch a non-empty
    // database (exit 2) — but neither starts a second server.
    assert!(
        !ok.is_empty(),
        "a: {}\nb: {}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    let log = std::fs::read_to_string(data.path().join("postgres.log")).unwrap();
    assert_eq!(
        log.matches("database system is ready to accept connections")
            .count(),
        1,
        "{log}"
    );
    let urls: Vec<String> = outcomes
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|u| !u.is_empty())
        .collect();
    assert!(urls.windows(2).all(|w| w[0] == w[1]), "{urls:?}");
}

#[test]
fn the_server_does_not_run_as_root() {
    let data = DataDir::new();
    data.up();
    let pid = data.postmaster_pid().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid: u32 = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    let me = geteuid().as_raw();
    if me == 0 {
        assert_ne!(uid, 0, "PostgreSQL must run as an unprivileged account");
    } else {
        assert_eq!(uid, me);
    }
}

#[test]
fn a_missing_postgresql_install_is_a_one_line_error_naming_the_package() {
    let data = DataDir::new();
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_soprovod"))
        .args(["db", "up"])
        .env("SOPROVOD_DATA_DIR", data.path())
        .env("PATH", empty.path())
        .env("SOPROVOD_PG_ROOT", empty.path())
        .env_remove("SOPROVOD_PG_BINDIR")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("postgresql"), "{stderr}");
}

/// Runs `soprovod` as an unprivileged account: `nobody` when the tests run as root (the test
/// switches to it), else the current, already unprivileged, user.
#[test]
fn the_embedded_database_works_for_a_normal_user_too() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let as_root = geteuid().is_root();
    let (uid, gid) = if as_root {
        (65534u32, 65534u32)
    } else {
        (geteuid().as_raw(), getegid().as_raw())
    };
    assert_ne!(uid, 0, "the account under test is unprivileged");
    // The test binary's own directory may be private to root; give nobody a readable copy.
    let place = tempfile::Builder::new()
        .prefix("soprovod-nobody-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(place.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = place.path().join("soprovod");
    std::fs::copy(env!("CARGO_BIN_EXE_soprovod"), &exe).unwrap();
    let data = place.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::os::unix::fs::chown(&data, Some(uid), Some(gid)).unwrap();
    let run = |args: &[&str]| {
        let mut cmd = Command::new(&exe);
        cmd.args(args)
            .env("SOPROVOD_DATA_DIR", &data)
            .env("HOME", "/tmp")
            .env_remove("DATABASE_URL")
            .current_dir(&data);
        if as_root {
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    setgroups(&[])?;
                    setgid(Gid::from_raw(gid))?;
                    setuid(Uid::from_raw(uid))?;
                    Ok(())
                });
            }
        }
        cmd.output().unwrap()
    };
    let up = run(&["db", "up"]);
    let down = run(&["db", "down"]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(String::from_utf8_lossy(&up.stdout).starts_with("postgres://"));
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(data.join("pg")).unwrap());
    assert_eq!(
        owner, uid,
        "the cluster belongs to the user who ran soprovod"
    );
}

#[tokio::test]
async fn with_database_url_set_db_up_uses_that_server_and_starts_none() {
    let db = testkit::empty_db().await;
    let data = DataDir::new();
    let out = Command::new(env!("CARGO_BIN_EXE_soprovod"))
        .args(["db", "up"])
        .env("SOPROVOD_DATA_DIR", data.path())
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), db.url);
    assert!(
        !data.path().join("pg").exists(),
        "no embedded cluster is created"
    );
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'users'",
    )
    .fetch_one(&db.pool().await)
    .await
    .unwrap();
    assert_eq!(tables, 1);
}

#[tokio::test]
async fn the_embedded_database_lets_in_only_its_own_user_with_the_generated_password() {
    use sqlx::Connection;
    use std::os::unix::fs::PermissionsExt;
    let data = DataDir::new();
    let url = data.up();
    let parsed = url::Url::parse(&url).unwrap();
    let password = parsed
        .password()
        .expect("db up prints a URL that carries the password");
    let kept = std::fs::read_to_string(data.path().join("password")).unwrap();
    assert_eq!(kept.trim(), password);
    let mode = std::fs::metadata(data.path().join("password"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "only its owner reads the password");
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let method: String = sqlx::query_scalar("SELECT current_setting('password_encryption')")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(method, "scram-sha-256");
    conn.close().await.unwrap();
    let mut bare = parsed.clone();
    bare.set_password(None).unwrap();
    assert!(
        sqlx::PgConnection::connect(bare.as_str()).await.is_err(),
        "no password, no entry"
    );
    let mut wrong = parsed;
    wrong.set_password(Some("not-the-password")).unwrap();
    assert!(sqlx::PgConnection::connect(wrong.as_str()).await.is_err());
}
