//! Test support: one throwaway PostgreSQL cluster per test process, and a fresh database per test.
//!
//! The cluster starts on first use, is stopped by an exit hook when the test binary ends, and is
//! killed by the kernel if the binary dies some other way (see `pgcluster::Ephemeral`). Databases
//! are cloned from templates, so a test that needs the product schema gets it in milliseconds.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use pgcluster::Ephemeral;

#[cfg(feature = "doubles")]
pub mod doubles;
pub mod legacy;
mod legacy_data;
pub mod live_load;
pub mod old_prod;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

static CLUSTER: OnceLock<Ephemeral> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);
/// Template databases already prepared in this process, by name.
static TEMPLATES: Mutex<Option<HashMap<String, ()>>> = Mutex::new(None);
static TEMPLATE_BUILD: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The cluster of this test process, started on first call.
pub fn cluster() -> &'static Ephemeral {
    CLUSTER.get_or_init(|| {
        remove_stale_clusters();
        let root = std::env::temp_dir().join(format!("soprovod-testkit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let cluster =
            Ephemeral::start(&root).unwrap_or_else(|e| panic!("starting the test cluster: {e}"));
        // The one raw libc call left: neither std nor nix registers an exit hook, and a static's
        // Drop never runs at exit. SAFETY: registering a plain extern "C" function.
        unsafe { libc::atexit(stop_cluster) };
        cluster
    })
}

extern "C" fn stop_cluster() {
    if let Some(cluster) = CLUSTER.get() {
        cluster.stop();
    }
}

/// Clusters of earlier test processes that died before their exit hook ran.
fn remove_stale_clusters() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("soprovod-testkit-"))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        // No signal: only whether the process exists.
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A database made for one test.
#[derive(Debug, Clone)]
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A small pool on this database.
    pub async fn pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(10)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.name))
    }

    /// One connection to this database.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.name))
    }
}

/// The `pg_dump`/`psql` directory of the cluster's PostgreSQL.
pub fn bin(tool: &str) -> PathBuf {
    cluster().binaries().tool(tool)
}

async fn admin() -> PgConnection {
    let options: PgConnectOptions = cluster().url("postgres").parse().expect("cluster url");
    options
        .connect()
        .await
        .expect("connecting to the test cluster")
}

fn fresh_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// An empty database (from template0).
pub async fn empty_db() -> TestDb {
    create_from("template0").await
}

/// A database holding what `setup_sql` creates. The SQL runs once per test process into a template
/// named after `template`; each call clones that template.
pub async fn db_with(template: &str, setup_sql: &str) -> TestDb {
    let template_db = format!("tpl_{template}");
    {
        let _building = TEMPLATE_BUILD.lock().await;
        let known = TEMPLATES
            .lock()
            .unwrap()
            .get_or_insert_with(HashMap::new)
            .contains_key(&template_db);
        if !known {
            let mut admin = admin().await;
            sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {template_db}"))
                .execute(&mut admin)
                .await
                .expect("drop template");
            sqlx::raw_sql(&format!("CREATE DATABASE {template_db} TEMPLATE template0"))
                .execute(&mut admin)
                .await
                .expect("create template");
            let mut conn = PgConnection::connect(&cluster().url(&template_db))
                .await
                .expect("connect template");
            sqlx::raw_sql(setup_sql)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("preparing template {template}: {e}"));
            conn.close().await.expect("close template connection");
            TEMPLATES
                .lock()
                .unwrap()
                .get_or_insert_with(HashMap::new)
                .insert(template_db.clone(), ());
        }
    }
    create_from(&template_db).await
}

/// A copy of the old bot's database in `state` with dirty data of `size` from `seed`, built once per
/// test process into a template. Tests that call it are compiled only where
/// `../shared/reference/legacy` exists (a build script's `legacy_corpus` cfg).
pub async fn legacy_db(state: legacy::LegacyState, size: legacy::LegacySize, seed: u32) -> TestDb {
    let dir = legacy::legacy_dir();
    let template_db = format!(
        "tpl_legacy_{}_{}_{}_{seed}",
        if state == legacy::LegacyState::A {
            "a"
        } else {
            "b"
        },
        size.users,
        size.sessions
    );
    {
        let _building = TEMPLATE_BUILD.lock().await;
        let known = TEMPLATES
            .lock()
            .unwrap()
            .get_or_insert_with(HashMap::new)
            .contains_key(&template_db);
        if !known {
            let mut admin = admin().await;
            sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {template_db}"))
                .execute(&mut admin)
                .await
                .expect("drop template");
            sqlx::raw_sql(&format!("CREATE DATABASE {template_db} TEMPLATE template0"))
                .execute(&mut admin)
                .await
                .expect("create template");
            legacy::build(&cluster().url(&template_db), &dir, state, size, seed)
                .await
                .unwrap_or_else(|e| panic!("building the legacy state {state:?}: {e}"));
            TEMPLATES
                .lock()
                .unwrap()
                .get_or_insert_with(HashMap::new)
                .insert(template_db.clone(), ());
        }
    }
    create_from(&template_db).await
}

async fn create_from(template: &str) -> TestDb {
    let name = fresh_name("t");
    let mut admin = admin().await;
    sqlx::raw_sql(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("creating test database from {template}: {e}"));
    TestDb {
        url: cluster().url(&name),
        name,
    }
}
