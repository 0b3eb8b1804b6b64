//! The old Python bot's real database (`../shared/reference/legacy/`, states A and B filled with
//! testkit's dirty data): what `db apply` backs up restores into a fresh database and in place,
//! and a restore that does not give back exactly the rows it held changes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use testkit::legacy::{LegacySize, LegacyState};
use testkit::TestDb;

pub(crate) use crate::support::{db_cmd, text};

pub(crate) const SIZE: LegacySize = LegacySize::new(400, 1200);
pub(crate) const SEED: u32 = 9;

pub(crate) fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

pub(crate) async fn one(db: &TestDb, sql: &str) -> i64 {
    let mut conn = db.connect().await;
    sqlx::query_scalar(sql)
        .fetch_one(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

pub(crate) fn apply_all(dir: &Path, db: &TestDb, backups: &Path) -> Output {
    db_cmd(
        dir,
        &db.url,
        &[
            "apply",
            "--yes",
            "--allow-hazards",
            "all",
            "--backup-dir",
            backups.to_str().unwrap(),
        ],
    )
}

/// Every row of every table, as text (each table sorted), for comparing two databases.
async fn everything(db: &TestDb) -> BTreeMap<String, Vec<String>> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    )
    .fetch_all(&mut db.connect().await)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        let mut conn = db.connect().await;
        let mut r: Vec<String> = sqlx::query_scalar(&format!("SELECT x::text FROM {t} x"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        r.sort();
        out.insert(t, r);
    }
    out
}

fn backup_file(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "dump"))
        .expect("a .dump in the backup directory")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_of_a_takeover_restores_into_a_fresh_database_and_in_place_with_identical_rows()
{
    let db = testkit::legacy_db(LegacyState::B, SIZE, SEED).await;
    let legacy = everything(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let out = apply_all(dir.path(), &db, &backups);
    assert!(
        text(&out.stderr).contains("restore with: soprovod db restore"),
        "{}",
        show(&out)
    );
    let dump = backup_file(&backups);
    let manifest = std::fs::read_to_string(schema::backup::manifest_path(&dump)).unwrap();
    assert!(manifest.contains("\"letter_sessions\""), "{manifest}");

    let fresh = testkit::empty_db().await;
    let into = db_cmd(
        dir.path(),
        &db.url,
        &["restore", dump.to_str().unwrap(), "--into", &fresh.url],
    );
    assert_eq!(
        into.status.code(),
        Some(0),
        "restore --into: {}",
        show(&into)
    );
    assert_eq!(
        everything(&fresh).await,
        legacy,
        "the fresh database holds every row"
    );

    // A second restore into a database that now has tables is refused.
    let again = db_cmd(
        dir.path(),
        &db.url,
        &["restore", dump.to_str().unwrap(), "--into", &fresh.url],
    );
    assert_eq!(again.status.code(), Some(2), "{}", show(&again));

    // In place over the migrated database: a rollback.
    let back = db_cmd(dir.path(), &db.url, &["restore", dump.to_str().unwrap()]);
    assert_eq!(
        back.status.code(),
        Some(0),
        "restore in place: {}",
        show(&back)
    );
    assert_eq!(
        everything(&db).await,
        legacy,
        "in place: every row as before"
    );
    assert_eq!(
        one(&db, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'consent_timestamp'").await,
        1,
        "the old schema is back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_whose_rows_do_not_match_the_manifest_changes_nothing_and_exits_2() {
    let db = testkit::legacy_db(LegacyState::A, SIZE, SEED).await;
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let _ = apply_all(dir.path(), &db, &backups);
    let dump = backup_file(&backups);
    let path = schema::backup::manifest_path(&dump);
    let manifest = std::fs::read_to_string(&path).unwrap();
    let mut m: schema::Manifest = serde_json::from_str(&manifest).unwrap();
    let t = m.tables.iter_mut().find(|t| t.name == "payments").unwrap();
    t.rows += 1;
    std::fs::write(&path, serde_json::to_string(&m).unwrap()).unwrap();

    let fresh = testkit::empty_db().await;
    let out = db_cmd(
        dir.path(),
        &db.url,
        &["restore", dump.to_str().unwrap(), "--into", &fresh.url],
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("payments"),
        "names the table: {}",
        show(&out)
    );
    assert_eq!(
        one(&fresh, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'").await,
        0,
        "nothing restored"
    );
}
