//! Backing up a database with pg_dump before a plan runs, and restoring that backup (in place, as
//! a rollback, or into a fresh database) with a check that every table holds exactly the rows it
//! held.
//!
//! The backup is the whole database (custom format), so it restores without preparing anything by
//! hand: extensions, functions, sequences and views the tables need come with it. Next to the dump
//! a manifest (`.manifest.json`) records each table's row count and a checksum of its rows, taken
//! in the snapshot pg_dump dumps. A password never goes on a command line: pg_dump, pg_restore and
//! psql get it in `PGPASSWORD`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use sqlx::Connection;

use crate::SchemaError;

/// A finished backup.
#[derive(Debug, Clone)]
pub struct Backup {
    pub file: PathBuf,
    pub manifest: PathBuf,
    /// The command that puts the database back as it was (the URL's password hidden).
    pub restore_command: String,
    pub tables: usize,
    pub rows: i64,
    pub bytes: u64,
}

/// What a backup held, table by table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format_version: u32,
    /// Schemas the dump holds (a restore in place replaces exactly these).
    pub schemas: Vec<String>,
    pub tables: Vec<TableRows>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TableRows {
    pub schema: String,
    pub name: String,
    pub rows: i64,
    /// Sum of a 64-bit hash of each row's text (order does not matter), as decimal text.
    pub checksum: String,
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub tables: usize,
    pub rows: i64,
}

/// Settings under which a row's text is the same at backup and after restore.
const ROW_TEXT_SETTINGS: &str = "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; \
     SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'";

/// The count and checksum of one table (`%s` is its quoted name).
const TABLE_SUMS: &str =
    "SELECT count(*)::bigint, coalesce(sum(hashtextextended(t::text, 0)), 0)::text FROM %s t";

/// Schemas pg_dump does not dump or that belong to the server.
const SYSTEM_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
     AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'";

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A command for a PostgreSQL client tool connecting to `url`, the password in its environment.
pub(crate) fn tool(name: &str, url: &str) -> Result<(Command, String), SchemaError> {
    let binaries = pgcluster::Binaries::locate().map_err(|e| SchemaError::Backup(e.to_string()))?;
    let (bare, password) = crate::dburl::split_password(url);
    let mut cmd = Command::new(binaries.tool(name));
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    Ok((cmd, bare))
}

/// Dumps the whole database at `url` into a new file in `dir`, with its manifest.
pub async fn backup_database(url: &str, dir: &Path) -> Result<Backup, SchemaError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| SchemaError::Backup(format!("creating {}: {e}", dir.display())))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let file = dir.join(format!("soprovod-backup-{stamp}.dump"));
    let manifest_file = manifest_path(&file);
    // The manifest is counted in the snapshot pg_dump dumps, held open until it is done.
    let mut conn = crate::target::connect(url).await?;
    let mut tx = conn.begin().await?;
    sqlx::raw_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut *tx)
        .await?;
    let (mut cmd, bare) = tool("pg_dump", url)?;
    cmd.arg("--format=custom")
        .arg(format!("--snapshot={snapshot}"))
        .arg(format!("--file={}", file.display()))
        .arg(format!("--dbname={bare}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .map_err(|e| SchemaError::Backup(format!("running pg_dump: {e}")))?;
    let manifest = manifest_in(&mut tx).await;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .map_err(|e| SchemaError::Backup(e.to_string()))?
        .map_err(|e| SchemaError::Backup(format!("running pg_dump: {e}")))?;
    tx.rollback().await?;
    let _ = conn.close().await;
    if !out.status.success() {
        return Err(SchemaError::Backup(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let manifest = manifest?;
    let json =
        serde_json::to_string_pretty(&manifest).map_err(|e| SchemaError::Backup(e.to_string()))?;
    std::fs::write(&manifest_file, json)
        .map_err(|e| SchemaError::Backup(format!("writing {}: {e}", manifest_file.display())))?;
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    Ok(Backup {
        restore_command: format!("soprovod db restore '{}'", file.display()),
        tables: manifest.tables.len(),
        rows: manifest.tables.iter().map(|t| t.rows).sum(),
        file,
        manifest: manifest_file,
        bytes,
    })
}

/// The manifest next to a dump file.
pub fn manifest_path(dump: &Path) -> PathBuf {
    dump.with_extension("manifest.json")
}

async fn manifest_in(conn: &mut sqlx::PgConnection) -> Result<Manifest, SchemaError> {
    sqlx::raw_sql(ROW_TEXT_SETTINGS).execute(&mut *conn).await?;
    let schemas: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT n.nspname::text FROM pg_namespace n WHERE {SYSTEM_SCHEMAS}
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                             AND d.objid = n.oid AND d.deptype = 'e')
         ORDER BY 1"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let names: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND {SYSTEM_SCHEMAS}
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                              AND d.objid = c.oid AND d.deptype = 'e')
          ORDER BY 1, 2"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let mut tables = Vec::new();
    for (schema, name) in names {
        let sql = TABLE_SUMS.replace("%s", &format!("{}.{}", quote(&schema), quote(&name)));
        let (rows, checksum): (i64, String) = sqlx::query_as(&sql).fetch_one(&mut *conn).await?;
        tables.push(TableRows {
            schema,
            name,
            rows,
            checksum,
        });
    }
    Ok(Manifest {
        format_version: 1,
        schemas,
        tables,
    })
}

/// Reads the manifest of a dump.
pub fn read_manifest(dump: &Path) -> Result<Manifest, SchemaError> {
    let path = manifest_path(dump);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        SchemaError::Backup(format!(
            "reading {}: {e} (a backup is the .dump file and its .manifest.json next to it)",
            path.display()
        ))
    })?;
    serde_json::from_str(&text)
        .map_err(|e| SchemaError::Backup(format!("reading {}: {e}", path.display())))
}

/// Restores the backup `dump` into the database at `url`, in one transaction: the schemas the
/// backup holds are dropped and created again from it (a database restored in place gets back
/// exactly what it had; anything created after the backup in those schemas goes), then every
/// table is checked against the manifest before COMMIT. Any failure leaves the database as it was.
pub fn restore(dump: &Path, url: &str) -> Result<RestoreReport, SchemaError> {
    let manifest = read_manifest(dump)?;
    let (mut pg_restore, _) = tool("pg_restore", url)?;
    let mut reader = pg_restore
        .arg("--no-owner")
        .arg("--file=-")
        .arg(dump)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| SchemaError::Backup(format!("running pg_restore: {e}")))?;
    let (mut psql, bare) = tool("psql", url)?;
    psql.arg("--no-psqlrc")
        .arg("--quiet")
        .arg("--single-transaction")
        .arg("--set=ON_ERROR_STOP=1")
        .arg(format!("--dbname={bare}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = psql
        .spawn()
        .map_err(|e| SchemaError::Backup(format!("running psql: {e}")))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut script = reader.stdout.take().expect("piped stdout");
    let before = preamble(&manifest);
    let after = verification(&manifest);
    // The script streams from pg_restore to psql: a big database never sits in memory.
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        stdin.write_all(before.as_bytes())?;
        std::io::copy(&mut script, &mut stdin)?;
        stdin.write_all(after.as_bytes())?;
        Ok(())
    });
    let out = child
        .wait_with_output()
        .map_err(|e| SchemaError::Backup(format!("running psql: {e}")))?;
    let written = writer.join();
    let read = reader
        .wait_with_output()
        .map_err(|e| SchemaError::Backup(format!("running pg_restore: {e}")))?;
    if !read.status.success() {
        return Err(SchemaError::Backup(format!(
            "pg_restore could not read {}; nothing was changed: {}",
            dump.display(),
            String::from_utf8_lossy(&read.stderr).trim()
        )));
    }
    if !out.status.success() || !matches!(written, Ok(Ok(()))) {
        return Err(SchemaError::Backup(format!(
            "restoring {} failed, nothing was changed: {}",
            dump.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(RestoreReport {
        tables: manifest.tables.len(),
        rows: manifest.tables.iter().map(|t| t.rows).sum(),
    })
}

/// Drops the backed-up schemas; `public` comes back empty as PostgreSQL makes it.
fn preamble(manifest: &Manifest) -> String {
    let mut s = String::from("SET client_min_messages = warning;\n");
    for schema in &manifest.schemas {
        s.push_str(&format!(
            "DROP SCHEMA IF EXISTS {} CASCADE;\n",
            quote(schema)
        ));
    }
    if manifest.schemas.iter().any(|s| s == "public") {
        s.push_str(
            "CREATE SCHEMA public AUTHORIZATION pg_database_owner;\n\
             GRANT USAGE ON SCHEMA public TO PUBLIC;\n",
        );
    }
    s
}

/// A block that fails the transaction unless every table matches the manifest.
fn verification(manifest: &Manifest) -> String {
    let mut s = format!(
        "\n{ROW_TEXT_SETTINGS};\nDO $soprovod_restore_check$\nDECLARE n bigint; h text;\nBEGIN\n"
    );
    for t in &manifest.tables {
        let name = format!("{}.{}", quote(&t.schema), quote(&t.name));
        let sql = TABLE_SUMS.replace("%s", &name);
        s.push_str(&format!(
            "  IF to_regclass('{lit}') IS NULL THEN RAISE EXCEPTION 'table {lit} is missing after the restore'; END IF;\n  \
             EXECUTE '{q}' INTO n, h;\n  \
             IF n <> {rows} OR h <> '{sum}' THEN RAISE EXCEPTION 'table {lit} holds % rows (checksum %), the backup held {rows} (checksum {sum})', n, h; END IF;\n",
            lit = name.replace('\'', "''"),
            q = sql.replace('\'', "''"),
            rows = t.rows,
            sum = t.checksum,
        ));
    }
    s.push_str("END\n$soprovod_restore_check$;\n");
    s
}
