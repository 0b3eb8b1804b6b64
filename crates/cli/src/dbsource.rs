//! Where the database comes from: `--database-url`, else DATABASE_URL, else the embedded cluster.

use std::path::PathBuf;

use anyhow::Context;
use pgcluster::LocalCluster;

/// The database a command works on.
#[derive(Debug, Clone)]
pub enum DbSource {
    /// A server somebody else runs.
    Url(String),
    /// The embedded cluster in this data directory.
    Embedded(PathBuf),
}

impl DbSource {
    pub fn resolve(flag: Option<&str>) -> Self {
        if let Some(url) = flag.filter(|u| !u.is_empty()) {
            return Self::Url(url.to_string());
        }
        if let Ok(url) = std::env::var("DATABASE_URL") {
            if !url.is_empty() {
                return Self::Url(url);
            }
        }
        Self::Embedded(data_dir())
    }

    /// The URL to connect to, starting the embedded database first if that is the source.
    pub async fn ensure_url(&self) -> anyhow::Result<String> {
        match self {
            Self::Url(url) => Ok(url.clone()),
            Self::Embedded(dir) => Ok(start_embedded(dir.clone()).await?.1),
        }
    }
}

/// `$SOPROVOD_DATA_DIR`, default `./.soprovod`.
pub fn data_dir() -> PathBuf {
    std::env::var_os("SOPROVOD_DATA_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".soprovod"))
}

/// Starts (or finds running) the embedded cluster; returns whether this call started it, and its URL.
pub async fn start_embedded(dir: PathBuf) -> anyhow::Result<(bool, String)> {
    tokio::task::spawn_blocking(move || {
        let cluster = LocalCluster::new(&dir)?;
        let running = cluster
            .up()
            .with_context(|| format!("starting the embedded database in {}", dir.display()))?;
        Ok((running.started_now, running.url()))
    })
    .await?
}

/// The bot needs the declared schema: created in an empty database, refused in a foreign one (an
/// existing database is brought to it with `soprovod db apply`, never implicitly).
pub async fn ensure_product_schema(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let relations = store::user_relations(pool)
        .await
        .context("reading the database catalog")?;
    if relations.is_empty() {
        store::create_declared_schema(pool)
            .await
            .context("creating the declared schema")?;
        eprintln!("created the declared schema in the empty database");
    } else if !relations.iter().any(|r| r == "public.conversations") {
        anyhow::bail!("the database is not at the declared schema (no conversations table); run `soprovod db apply` first");
    }
    Ok(())
}

/// A URL with any password replaced, for printing.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((creds, host)) => match creds.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
                None => url.to_string(),
            },
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(
            super::redact("postgres://u:secret@h:5/db"),
            "postgres://u:***@h:5/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
