//! `soprovod db …`: the embedded database and the declared schema.

use anyhow::Context;
use clap::Subcommand;
use pgcluster::LocalCluster;

use crate::dbsource::{self, redact, DbSource};
use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Start the embedded database if needed, bring it to the declared schema, print its URL.
    Up,
    /// Stop the embedded database.
    Down,
}

pub async fn run(cmd: DbCommand, source: &DbSource) -> anyhow::Result<Outcome> {
    match cmd {
        DbCommand::Up => up(source).await,
        DbCommand::Down => down(source).await,
    }
}

async fn up(source: &DbSource) -> anyhow::Result<Outcome> {
    let (origin, url) = match source {
        DbSource::Url(url) => ("external", url.clone()),
        DbSource::Embedded(dir) => {
            let (started, url) = dbsource::start_embedded(dir.clone()).await?;
            (if started { "embedded, started" } else { "embedded, already running" }, url)
        }
    };
    let pool = store::connect(&url, 2).await.with_context(|| format!("connecting to {}", redact(&url)))?;
    let existing = store::user_relations(&pool).await?;
    let schema_state = if existing.is_empty() {
        store::create_declared_schema(&pool).await.context("creating the declared schema")?;
        "declared schema created"
    } else {
        anyhow::bail!(
            "the database already holds {} relations; bringing an existing database to the declared \
             schema needs the schema engine (`soprovod db plan`), so nothing was changed",
            existing.len()
        );
    };
    eprintln!("database ready ({origin}); {schema_state}");
    println!("{url}");
    Ok(Outcome::Ok)
}

async fn down(source: &DbSource) -> anyhow::Result<Outcome> {
    let DbSource::Embedded(dir) = source else {
        anyhow::bail!("`db down` stops the embedded database; with DATABASE_URL or --database-url set there is none to stop");
    };
    let dir = dir.clone();
    let stopped = tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
        let cluster = LocalCluster::new(&dir)?;
        Ok(cluster.down()?)
    })
    .await??;
    eprintln!("{}", if stopped { "embedded database stopped" } else { "embedded database was not running" });
    Ok(Outcome::Ok)
}
