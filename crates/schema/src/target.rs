//! Where a schema comes from: a live database, or SQL loaded into a scratch database.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

use crate::diff::CompareOptions;
use crate::directives::{Directives, SourceFile};
use crate::model::{ident, Model};
use crate::{catalog, SchemaError};

/// What a database is brought to.
#[derive(Debug, Clone)]
pub enum Target {
    /// SQL text (e.g. the product's declared schema).
    Sql(String),
    /// A directory of `.sql` files, run in file-name order (`*.data.sql` files hold data steps
    /// and are not run).
    Dir(PathBuf),
    /// Named SQL files, run in file-name order (`*.data.sql` files hold data steps and are not
    /// run): the product's declared schema.
    Files(Vec<SourceFile>),
    /// A live database whose schema is copied.
    Url(String),
}

impl Target {
    /// How to compare a database with this target: owners only count when the target is a live
    /// database (a scratch database's objects all belong to whoever loaded them).
    pub fn compare_options(&self) -> CompareOptions {
        CompareOptions {
            owners: matches!(self, Target::Url(_)),
        }
    }

    /// Parses a `--target` value: a `postgres://` URL or a directory.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Target::Url(raw.to_string()));
        }
        let path = PathBuf::from(raw);
        if path.is_dir() {
            Ok(Target::Dir(path))
        } else {
            Err(format!(
                "--target {raw:?} is neither a postgres:// URL nor a directory of .sql files"
            ))
        }
    }
}

impl Target {
    /// The target's files: a `Sql` target is one file named "the declared schema"; a URL has
    /// none.
    pub fn files(&self) -> Result<Vec<SourceFile>, SchemaError> {
        match self {
            Target::Url(_) => Ok(Vec::new()),
            Target::Sql(sql) => Ok(vec![SourceFile::new("the declared schema", sql.clone())]),
            Target::Files(files) => Ok(files.clone()),
            Target::Dir(dir) => read_dir_files(dir),
        }
    }

    /// The provenance directives and data steps the target's files carry (none for a URL).
    pub fn directives(&self) -> Result<Directives, SchemaError> {
        Ok(Directives::parse(&self.files()?)?)
    }
}

/// A connection that does not log statements: progress is reported by the caller, and a slow
/// `ALTER TABLE` or `DROP DATABASE` is expected here, not a warning.
pub(crate) async fn connect(url: &str) -> Result<PgConnection, SchemaError> {
    let options = PgConnectOptions::from_str(url)?.disable_statement_logging();
    Ok(PgConnection::connect_with(&options).await?)
}

/// Introspects a live database in one `REPEATABLE READ READ ONLY` transaction.
pub async fn introspect_url(url: &str) -> Result<Model, SchemaError> {
    let mut conn = connect(url).await?;
    let model = introspect_conn(&mut conn).await;
    let _ = conn.close().await;
    model
}

pub(crate) async fn introspect_conn(conn: &mut PgConnection) -> Result<Model, SchemaError> {
    let mut tx = conn.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let model = catalog::introspect(&mut tx).await?;
    tx.rollback().await?;
    Ok(model)
}

static SCRATCH: AtomicU64 = AtomicU64::new(0);

/// A scratch database on the same server as a URL's database, for the server to render SQL in.
/// Whoever creates one calls `drop` whatever happened in between.
pub(crate) struct Scratch {
    admin: PgConnection,
    name: String,
}

impl Scratch {
    /// Creates an empty database (from template0) next to `server_url`'s database.
    pub(crate) async fn create(server_url: &str) -> Result<Self, SchemaError> {
        let name = format!(
            "soprovod_scratch_{}_{}_{}",
            std::process::id(),
            SCRATCH.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let mut admin = connect(server_url).await?;
        if let Err(e) = sqlx::raw_sql(&format!(
            "CREATE DATABASE {} TEMPLATE template0",
            ident(&name)
        ))
        .execute(&mut admin)
        .await
        {
            let _ = admin.close().await;
            return Err(SchemaError::ScratchDb(e));
        }
        Ok(Self { admin, name })
    }

    /// A connection to the scratch database (`server_url` gives user, host and port).
    pub(crate) async fn connect(&self, server_url: &str) -> Result<PgConnection, SchemaError> {
        connect(&with_database(server_url, &self.name)?).await
    }

    /// Drops the database, closing whatever connection is still in it.
    pub(crate) async fn drop(mut self) -> Result<(), SchemaError> {
        let dropped = sqlx::raw_sql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            ident(&self.name)
        ))
        .execute(&mut self.admin)
        .await;
        let _ = self.admin.close().await;
        dropped?;
        Ok(())
    }
}

/// The model of `target`. SQL targets are loaded into a scratch database created next to
/// `server_url`'s database and dropped afterwards, whatever happens.
pub async fn load_target(server_url: &str, target: &Target) -> Result<Model, SchemaError> {
    let files = match target {
        Target::Url(url) => return introspect_url(url).await,
        Target::Sql(_) | Target::Dir(_) | Target::Files(_) => schema_files(&target.files()?),
    };
    let scratch = Scratch::create(server_url).await?;
    let result = async {
        let mut conn = scratch.connect(server_url).await?;
        let mut loaded = Ok(());
        for (file, sql) in &files {
            if let Err((line, source)) = load_file(&mut conn, sql).await {
                loaded = Err(SchemaError::TargetSql {
                    file: file.clone(),
                    line,
                    source,
                });
                break;
            }
        }
        let model = match loaded {
            Ok(_) => introspect_conn(&mut conn).await,
            Err(e) => Err(e),
        };
        let _ = conn.close().await;
        model
    }
    .await;
    let dropped = scratch.drop().await;
    let model = result?;
    dropped?;
    Ok(model)
}

/// Runs one target file in the scratch database. The whole text goes in one round trip, which
/// PostgreSQL runs as one implicit transaction; if a statement cannot run in a transaction block
/// (`CREATE INDEX CONCURRENTLY`: SQLSTATE 25001) or uses an enum label the file added (55P04),
/// nothing of the file stayed, and it runs again one statement at a time, as psql would run it.
/// On failure: the line the error points at, and the error.
async fn load_file(conn: &mut PgConnection, sql: &str) -> Result<(), (Option<usize>, sqlx::Error)> {
    let Err(error) = sqlx::raw_sql(sql).execute(&mut *conn).await else {
        return Ok(());
    };
    let needs_statements = matches!(
        &error,
        sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("25001" | "55P04"))
    );
    if !needs_statements {
        return Err((error_line(sql, &error), error));
    }
    for statement in crate::split::statements(sql) {
        if let Err(error) = sqlx::raw_sql(statement.text).execute(&mut *conn).await {
            let before = sql[..statement.offset].matches('\n').count();
            let line = error_line(statement.text, &error).map(|l| l + before);
            return Err((line, error));
        }
    }
    Ok(())
}

/// The 1-based line of `sql` that PostgreSQL's error points at, when it says where.
fn error_line(sql: &str, error: &sqlx::Error) -> Option<usize> {
    let sqlx::Error::Database(db) = error else {
        return None;
    };
    let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
    let sqlx::postgres::PgErrorPosition::Original(chars) = pg.position()? else {
        return None;
    };
    // PostgreSQL counts characters from 1.
    let before: String = sql.chars().take(chars.saturating_sub(1)).collect();
    Some(before.matches('\n').count() + 1)
}

fn read_dir_files(dir: &PathBuf) -> Result<Vec<SourceFile>, SchemaError> {
    let err = |source| SchemaError::TargetDir {
        path: dir.display().to_string(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    paths.sort();
    if paths.iter().all(|p| {
        p.file_name()
            .is_some_and(|n| crate::directives::is_data_file(&n.to_string_lossy()))
    }) {
        return Err(SchemaError::EmptyTargetDir(dir.display().to_string()));
    }
    let mut files = Vec::new();
    for p in paths {
        let name = p
            .file_name()
            .map(|_| p.display().to_string())
            .unwrap_or_default();
        files.push(SourceFile::new(
            name,
            std::fs::read_to_string(&p).map_err(err)?,
        ));
    }
    Ok(files)
}

/// The schema files (not the data steps) in file-name order, each with its name.
fn schema_files(files: &[SourceFile]) -> Vec<(String, String)> {
    let mut files: Vec<&SourceFile> = files.iter().filter(|f| !f.is_data()).collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
        .into_iter()
        .map(|f| (f.name.clone(), f.text.clone()))
        .collect()
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, database: &str) -> Result<String, SchemaError> {
    let mut u = url::Url::parse(url).map_err(|e| SchemaError::Url(e.to_string()))?;
    u.set_path(&format!("/{database}"));
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != "dbname")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.is_empty() {
        u.set_query(None);
    } else {
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    Ok(u.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(
            super::with_database(
                "postgres://u:p@127.0.0.1:5432/prod?sslmode=disable",
                "scratch"
            )
            .unwrap(),
            "postgres://u:p@127.0.0.1:5432/scratch?sslmode=disable"
        );
    }
}
