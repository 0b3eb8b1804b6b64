//! Taking over the old bot's database at scale: state A of `../shared/reference/legacy` with
//! `LEGACY_USERS` users (default 1 000 000) and `LEGACY_SESSIONS` letter sessions (default
//! 5 000 000) of testkit's dirty data; prints how long `db plan` (preflight included) and
//! `db apply` take, what the backup costs, and how long each table is locked.
//!
//! `cargo bench -p cli --bench takeover` (needs `../shared/reference/legacy`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use testkit::legacy::{self, LegacySize, LegacyState};

fn env_or(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn soprovod(url: &str, dir: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_soprovod"));
    cmd.arg("--database-url")
        .arg(url)
        .args(args)
        .env("SOPROVOD_DATA_DIR", dir)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null());
    cmd
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let size = LegacySize::new(
        env_or("LEGACY_USERS", 1_000_000),
        env_or("LEGACY_SESSIONS", 5_000_000),
    );
    let dir = legacy::legacy_dir();
    assert!(
        dir.join("supabase_schema.sql").is_file(),
        "the legacy SQL is missing at {}",
        dir.display()
    );
    let db = testkit::empty_db().await;
    let t = Instant::now();
    legacy::build_schema(&db.url, &dir, LegacyState::A)
        .await
        .expect("state A");
    legacy::fill_dirty_data(&db.url, LegacyState::A, size, 1)
        .await
        .expect("dirty data");
    let mut conn = db.connect().await;
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT relname::text, n_live_tup FROM pg_stat_user_tables WHERE schemaname = 'public' ORDER BY 2 DESC",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    drop(conn);
    println!(
        "state A with {} users, {} letter sessions built in {:.1} s; database {:.0} MB",
        size.users,
        size.sessions,
        t.elapsed().as_secs_f64(),
        bytes as f64 / 1e6
    );
    for (table, n) in &rows {
        println!("  {table:<22} {n:>10} rows");
    }

    let work = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let plan = soprovod(&db.url, work.path(), &["db", "plan"])
        .output()
        .unwrap();
    let plan_secs = t.elapsed().as_secs_f64();
    let plan_text = String::from_utf8_lossy(&plan.stdout);
    println!(
        "db plan (introspection, preflight on the live rows, data-step counts): {plan_secs:.2} s, exit {:?}, {} lines",
        plan.status.code(),
        plan_text.lines().count()
    );

    let backups = work.path().join("backups");
    let t = Instant::now();
    let mut child = soprovod(
        &db.url,
        work.path(),
        &[
            "db",
            "apply",
            "--yes",
            "--allow-hazards",
            "all",
            "--lock-timeout",
            "60000",
            "--backup-dir",
            backups.to_str().unwrap(),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Each stderr line with the moment it arrived: locks, steps, the commit.
    let mut locked: BTreeMap<String, f64> = BTreeMap::new();
    let mut step_secs: BTreeMap<String, f64> = BTreeMap::new();
    let mut committed = None;
    let mut last_lines = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let at = t.elapsed().as_secs_f64();
        if let Some(rest) = line.strip_prefix("locked ") {
            let table = rest.split(' ').next().unwrap_or("").to_string();
            locked.entry(table).or_insert(at);
        } else if line.starts_with('[') {
            // "[i/n] object: action (x.xxx s)"
            if let (Some(obj), Some(secs)) = (
                line.split("] ").nth(1).and_then(|r| r.split(": ").next()),
                line.rsplit('(')
                    .next()
                    .and_then(|r| r.strip_suffix(" s)"))
                    .and_then(|s| s.parse::<f64>().ok()),
            ) {
                *step_secs.entry(obj.to_string()).or_default() += secs;
            }
        } else if line.starts_with("applied ") {
            committed = Some(at);
        }
        if line.starts_with("backup ") || line.starts_with("applied ") || line.starts_with("error")
        {
            println!("  {line}");
        }
        last_lines.push(line);
    }
    let status = child.wait().unwrap();
    let apply_secs = t.elapsed().as_secs_f64();
    println!(
        "db apply --yes --allow-hazards all: {apply_secs:.2} s, exit {:?}",
        status.code()
    );
    if !status.success() {
        for l in last_lines.iter().rev().take(15).rev() {
            println!("  | {l}");
        }
    }
    if let Some(end) = committed {
        println!("ACCESS EXCLUSIVE held until COMMIT, per table (from its lock):");
        for (table, at) in &locked {
            println!("  {table:<36} {:>8.2} s", end - at);
        }
    }
    println!("time in the steps of each object:");
    let mut by_time: Vec<_> = step_secs.into_iter().collect();
    by_time.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (obj, secs) in by_time.iter().take(15) {
        println!("  {obj:<44} {secs:>8.2} s");
    }
}
