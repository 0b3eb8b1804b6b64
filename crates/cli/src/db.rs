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
    } else if existing == declared_relation_names(&pool).await? {
        // Interim check until the schema engine verifies the whole catalog: same relations.
        "declared relations present"
    } else {
        anyhow::bail!(
            "the database holds {} relations that are not the declared schema; bringing an existing \
             database to the declared schema needs the schema engine (`soprovod db plan`), so nothing was changed",
            existing.len()
        );
    };
    eprintln!("database ready ({origin}); {schema_state}");
    println!("{url}");
    Ok(Outcome::Ok)
}

/// The relation names the declared schema creates, read from a rolled-back transaction.
async fn declared_relation_names(pool: &sqlx::PgPool) -> anyhow::Result<Vec<String>> {
    let mut tx = pool.begin().await?;
    sqlx::raw_sql("CREATE SCHEMA soprovod_probe; SET LOCAL search_path = soprovod_probe, public").execute(&mut *tx).await?;
    sqlx::raw_sql(&store::declared_sql()).execute(&mut *tx).await?;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT 'public.' || c.relname FROM pg_class c WHERE c.relnamespace = 'soprovod_probe'::regnamespace ORDER BY 1",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.rollback().await?;
    Ok(names)
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
