//! The product's SQL: the declared schema (as `.sql` files embedded in the binary) and the
//! queries of the bot and the reports. No other crate of the product writes SQL.

pub mod acquisition;
pub mod analytics;
pub mod conversation;
pub mod declared;
pub mod delivery;
pub mod events;
pub mod funnel;
pub mod llm_log;
pub mod payments;
pub mod quota;
pub mod sessions;
pub mod users;

pub use declared::{
    declared_data_files, declared_schema, declared_sql, declared_target_files, SqlFile,
};

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

/// Errors of the product's database layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("unexpected data in the database: {0}")]
    Corrupt(String),
    #[error("the database is not empty ({0}); refusing to create the declared schema over it")]
    NotEmpty(String),
}

/// How long one of the product's statements waits for a lock. A schema migration holding a table
/// makes the statement fail after this (the engine retries, then tells the user to try again in a
/// minute) instead of queueing behind the migration for as long as it runs.
pub const LOCK_TIMEOUT: &str = "3s";

/// Opens a pool on `url`. One plain connection is made first so that an unreachable server or a
/// wrong password is reported as such at once, not as a pool timeout ten seconds later. Every
/// connection of the pool has `lock_timeout` set to [`LOCK_TIMEOUT`].
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    use sqlx::Connection;
    use std::str::FromStr;
    let options =
        sqlx::postgres::PgConnectOptions::from_str(url)?.options([("lock_timeout", LOCK_TIMEOUT)]);
    sqlx::PgConnection::connect_with(&options)
        .await?
        .close()
        .await?;
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_with(options)
        .await?)
}

/// Whether `e` is a lock the statement gave up on, or a conflict PostgreSQL resolved by aborting
/// it (deadlock, serialization): nothing was written, and trying again shortly is safe.
pub fn is_transient(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("55P03" | "40P01" | "40001")))
}

/// Relations (tables, views, sequences...) in the user schemas of the database; empty means a
/// database nothing was created in yet.
pub async fn user_relations(pool: &PgPool) -> Result<Vec<String>, StoreError> {
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT n.nspname || '.' || c.relname
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
           AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await?;
    Ok(names.into_iter().map(|(n,)| n).collect())
}

/// Creates the declared schema in an empty database, in one transaction.
pub async fn create_declared_schema(pool: &PgPool) -> Result<(), StoreError> {
    let existing = user_relations(pool).await?;
    if !existing.is_empty() {
        let shown: Vec<_> = existing.iter().take(5).cloned().collect();
        return Err(StoreError::NotEmpty(format!(
            "{} relations, e.g. {}",
            existing.len(),
            shown.join(", ")
        )));
    }
    let mut tx = pool.begin().await?;
    sqlx::raw_sql(&declared_sql()).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}
