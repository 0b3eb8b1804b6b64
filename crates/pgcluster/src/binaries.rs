//! Locating PostgreSQL's server binaries on PATH or in Debian's versioned directories.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ClusterError;

/// The directory holding `postgres`, `initdb`, `pg_ctl`, `pg_dump` and `psql`.
#[derive(Debug, Clone)]
pub struct Binaries {
    dir: PathBuf,
}

impl Binaries {
    /// Finds the server binaries: `$SOPROVOD_PG_BINDIR`, then PATH, then the newest
    /// `/usr/lib/postgresql/<version>/bin` (the root can be moved with `$SOPROVOD_PG_ROOT`).
    pub fn locate() -> Result<Self, ClusterError> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(dir) = std::env::var_os("SOPROVOD_PG_BINDIR") {
            candidates.push(PathBuf::from(dir));
        }
        if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                if dir.join("initdb").is_file() {
                    // Debian links initdb into PATH; follow the link to find its siblings.
                    let real = std::fs::canonicalize(dir.join("initdb")).ok();
                    if let Some(parent) = real.as_deref().and_then(Path::parent) {
                        candidates.push(parent.to_path_buf());
                    }
                    candidates.push(dir);
                }
            }
        }
        let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir(
            std::env::var_os("SOPROVOD_PG_ROOT").unwrap_or_else(|| "/usr/lib/postgresql".into()),
        )
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .collect();
        versioned.sort_by_key(|v| std::cmp::Reverse(v.0));
        candidates.extend(versioned.into_iter().map(|(_, p)| p));

        candidates
            .into_iter()
            .find(|dir| {
                ["postgres", "initdb", "pg_ctl"]
                    .iter()
                    .all(|t| dir.join(t).is_file())
            })
            .map(|dir| Self { dir })
            .ok_or(ClusterError::NotInstalled)
    }

    /// The path of one tool; client tools fall back to PATH when not beside the server.
    pub fn tool(&self, name: &str) -> PathBuf {
        let beside = self.dir.join(name);
        if beside.is_file() {
            beside
        } else {
            PathBuf::from(name)
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's major version, from `postgres --version`.
    pub fn major_version(&self) -> Result<u32, ClusterError> {
        let out = Command::new(self.tool("postgres"))
            .arg("--version")
            .output()
            .map_err(|e| ClusterError::io("running postgres --version", e))?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .find_map(|w| w.split('.').next()?.parse::<u32>().ok())
            .ok_or_else(|| ClusterError::Tool {
                tool: "postgres --version".into(),
                status: out.status.to_string(),
                stderr: text.into_owned(),
            })
    }
}
