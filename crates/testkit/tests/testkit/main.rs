//! The test kit's promise: a test cluster never outlives the process that started it.

mod tidy;

use std::process::Command;

#[cfg(legacy_corpus)]
mod legacy;
use std::time::{Duration, Instant};

fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// Runs the probe and returns the server pid and directory it reported.
fn run_probe(how: &str) -> (i32, std::path::PathBuf) {
    let out = Command::new(env!("CARGO_BIN_EXE_cluster_probe"))
        .arg(how)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the probe is meant to fail");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let (pid, dir) = stdout.trim().split_once(' ').unwrap_or_else(|| {
        panic!(
            "probe said {stdout:?}, stderr {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (pid.parse().unwrap(), dir.into())
}

fn wait_gone(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while alive(pid) {
        assert!(
            Instant::now() < deadline,
            "postgres {pid} outlived the process that started it"
        );
        std::thread::yield_now();
    }
}

#[test]
fn the_cluster_is_stopped_and_removed_when_the_process_panics() {
    let (pid, dir) = run_probe("panic");
    wait_gone(pid);
    assert!(!dir.exists(), "{} was left behind", dir.display());
}

#[test]
fn the_cluster_dies_with_a_process_that_aborts() {
    let (pid, _dir) = run_probe("abort");
    wait_gone(pid);
}

#[tokio::test]
async fn tests_get_separate_databases_from_one_cluster() {
    let a = testkit::empty_db().await;
    let b = testkit::empty_db().await;
    assert_ne!(a.name, b.name);
    let pool = a.pool().await;
    sqlx::query("CREATE TABLE only_in_a (x int)")
        .execute(&pool)
        .await
        .unwrap();
    let seen: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'")
            .fetch_one(&b.pool().await)
            .await
            .unwrap();
    assert_eq!(seen, 0);
}
