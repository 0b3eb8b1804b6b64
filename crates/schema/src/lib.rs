//! The schema engine: introspect a live database, diff two schemas, plan and apply the change.
//!
//! It knows nothing about the bot: it takes database URLs and SQL text. A target given as SQL is
//! loaded into a scratch database on the same server and introspected, so no SQL parser is needed.
//!
//! ```text
//! introspect (catalog) -> Model ─┐
//!                                ├─ diff::compare -> Drift      (db diff, db verify)
//! target (scratch db)  -> Model ─┴─ plan::plan    -> Plan       (db plan)
//!                                                  └─ apply::apply (one transaction, verified)
//! ```

pub mod apply;
pub mod backup;
pub mod casts;
pub mod catalog;
pub mod dburl;
pub mod diff;
pub mod directives;
pub mod dump;
pub mod equivalence;
pub mod format;
pub mod kinds;
pub mod locks;
pub mod model;
pub mod objects;
pub mod online;
pub mod order;
pub mod plan;
pub mod preflight;
pub mod privileges;
pub mod provenance;
pub mod roundtrip;
pub mod scope;
mod split;
pub mod target;
pub mod unmodelled;

pub use apply::{apply, ApplyOptions, ApplyReport, Progress};
pub use backup::{backup_database, restore, Backup, Manifest, RestoreReport};
pub use diff::{compare, CompareOptions, Difference, Drift, Presence};
pub use directives::{Directives, SourceFile};
pub use equivalence::{reconcile, reconcile_url};
pub use model::{Model, QName};
pub use plan::{plan, Hazard, HazardKind, Plan, Step};
pub use preflight::{preflight, Blocker, DataCheck, Preflight, Resolution, ResolveKind};
pub use provenance::{plan_directed, PlannedDataStep};
pub use roundtrip::reconcile_checks;
pub use target::{introspect_url, load_target, Target};

/// Errors of the schema engine.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("{file}{}: {source}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    TargetSql {
        file: String,
        line: Option<usize>,
        source: sqlx::Error,
    },
    /// The server refused the scratch database a SQL target is loaded into (no CREATEDB, say).
    #[error("creating a scratch database to load the target into: {0}")]
    ScratchDb(#[source] sqlx::Error),
    #[error("reading the target directory {path}: {source}")]
    TargetDir {
        path: String,
        source: std::io::Error,
    },
    #[error("the target directory {0} holds no .sql files")]
    EmptyTargetDir(String),
    #[error("bad database URL: {0}")]
    Url(String),
    #[error("step {step} ({object}: {action}) failed: {source}; the transaction was rolled back, nothing changed")]
    Step {
        step: usize,
        object: String,
        action: String,
        source: sqlx::Error,
    },
    #[error("could not lock {table}: {source}; the transaction was rolled back, nothing changed (the table is busy: retry later, or raise --lock-timeout / --retries)")]
    Lock { table: String, source: sqlx::Error },
    #[error("the database changed since the plan was made ({0} differences); nothing changed, plan again")]
    ChangedSincePlan(usize),
    #[error("after the plan the database still differs from the target in {} objects; the transaction was rolled back, nothing changed", .0.differences.len())]
    Leftover(Drift),
    #[error("the plan is blocked: {} objects the engine does not model differ ({}); nothing changed. Change them by hand or in the target, then plan again", .0.len(), .0.first().map(String::as_str).unwrap_or(""))]
    Blocked(Vec<String>),
    #[error(
        "the catalog holds a {what} code this engine does not know: {code:?} (a newer PostgreSQL?)"
    )]
    UnknownCatalogCode { what: &'static str, code: String },
    #[error("dump: {0}")]
    Dump(String),
    #[error("{0}")]
    Directive(#[from] directives::DirectiveError),
    #[error("{origin}: the @{what} query of data step {step} failed: {source}")]
    DataQuery {
        origin: String,
        step: String,
        what: &'static str,
        source: sqlx::Error,
    },
    #[error("data step {step} ({origin}): its @when no longer says what it said when the plan was made; nothing changed, plan again")]
    DataChangedSincePlan { step: String, origin: String },
    #[error("online {stage}: {what} failed: {source}; what ran before it stays done, run the same command again to finish")]
    Online {
        stage: &'static str,
        what: String,
        source: sqlx::Error,
    },
    #[error("backup with pg_dump failed: {0}")]
    Backup(String),
}
