//! Where the database comes from: `--database-url`, else DATABASE_URL, else the embedded cluster.

use std::path::PathBuf;

use anyhow::Context;
use pgcluster::LocalCluster;

use crate::settings::Settings;

/// The database a command works on.
#[derive(Debug, Clone)]
pub enum DbSource {
    /// A server somebody else runs.
    Url(String),
    /// The embedded cluster in this data directory.
    Embedded(PathBuf),
}

impl DbSource {
    /// Where the database is; a URL that is not a PostgreSQL one is refused here, before
    /// anything starts.
    pub fn resolve(flag: Option<&str>, settings: &Settings) -> anyhow::Result<Self> {
        if let Some(url) = flag.filter(|u| !u.is_empty()) {
            return Ok(Self::Url(check_url(url, "--database-url")?));
        }
        Ok(match &settings.database_url {
            Some(url) => Self::Url(url.clone()),
            None => Self::Embedded(settings.data_dir.clone()),
        })
    }

    /// The URL to connect to, starting the embedded database first if that is the source.
    pub async fn ensure_url(&self) -> anyhow::Result<String> {
        match self {
            Self::Url(url) => Ok(url.clone()),
            Self::Embedded(dir) => Ok(start_embedded(dir.clone()).await?.1),
        }
    }
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

/// Accepts `postgres://` and `postgresql://` URLs; anything else is a one-line error naming
/// where the value came from (the value itself is not printed: it may hold a password).
pub fn check_url(raw: &str, origin: &str) -> anyhow::Result<String> {
    let parsed = url::Url::parse(raw)
        .map_err(|e| anyhow::anyhow!("{origin} is not a valid URL ({e}); expected postgres://user:password@host:port/database"))?;
    match parsed.scheme() {
        "postgres" | "postgresql" => Ok(raw.to_string()),
        other => anyhow::bail!(
            "{origin} is a {other}:// URL; Soprovod needs PostgreSQL: postgres://user:password@host:port/database"
        ),
    }
}

pub use schema::dburl::redact;

#[cfg(test)]
mod tests {
    #[test]
    fn a_mysql_url_is_refused_before_anything_starts() {
        let e = super::check_url("mysql://x", "DATABASE_URL").unwrap_err();
        assert!(
            e.to_string().contains("DATABASE_URL is a mysql:// URL"),
            "{e}"
        );
        assert!(super::check_url("postgresql://u@h/db", "x").is_ok());
        assert!(super::check_url("not a url", "x").is_err());
    }
}
