//! Backing up the tables a plan touches with pg_dump before it runs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::model::QName;
use crate::SchemaError;

/// A finished backup.
#[derive(Debug, Clone)]
pub struct Backup {
    pub file: PathBuf,
    /// The shell command that puts the backed-up tables back (with the URL's password hidden).
    pub restore_command: String,
}

/// Dumps `tables` (structure and rows, custom format) from `url` into a new file in `dir`.
pub fn backup_tables(
    url: &str,
    tables: &BTreeSet<QName>,
    dir: &Path,
) -> Result<Backup, SchemaError> {
    let binaries = pgcluster::Binaries::locate().map_err(|e| SchemaError::Backup(e.to_string()))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| SchemaError::Backup(format!("creating {}: {e}", dir.display())))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let file = dir.join(format!("soprovod-backup-{stamp}.dump"));
    let mut cmd = Command::new(binaries.tool("pg_dump"));
    cmd.arg("--format=custom")
        .arg("--no-owner")
        .arg(format!("--file={}", file.display()))
        .arg(format!("--dbname={url}"));
    for t in tables {
        // pg_dump patterns: double quotes keep names exact.
        cmd.arg("--table").arg(format!(
            "\"{}\".\"{}\"",
            t.schema.replace('"', "\"\""),
            t.name.replace('"', "\"\"")
        ));
    }
    let out = cmd
        .output()
        .map_err(|e| SchemaError::Backup(format!("running pg_dump: {e}")))?;
    if !out.status.success() {
        return Err(SchemaError::Backup(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let restore_command = format!(
        "{} --clean --if-exists --single-transaction --dbname='{}' '{}'",
        binaries.tool("pg_restore").display(),
        redact(url),
        file.display()
    );
    Ok(Backup {
        file,
        restore_command,
    })
}

/// A URL with its password replaced by `***`.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}
