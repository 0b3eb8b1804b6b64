//! A PostgreSQL server run from the system's own binaries: the embedded database and the test cluster.
//!
//! Nothing here speaks SQL. It finds `initdb`/`pg_ctl`/`postgres`, creates a cluster in a directory,
//! starts and stops it, and recovers from a crash. When run as root it drops to an unprivileged
//! account for the server, because PostgreSQL refuses to run as root.

mod binaries;
mod cluster;
mod ephemeral;
mod user;

pub use binaries::Binaries;
pub use cluster::{LocalCluster, Running};
pub use ephemeral::Ephemeral;
pub use user::ServerUser;

use std::path::PathBuf;

/// The superuser and database every cluster made here has.
pub const SUPERUSER: &str = "soprovod";
pub const DATABASE: &str = "soprovod";

/// Errors of finding, creating, starting or stopping a cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server binaries not found (looked on PATH and in /usr/lib/postgresql/*/bin): \
         install the Debian package `postgresql` (apt-get install -y postgresql)"
    )]
    NotInstalled,
    #[error("running as root, but neither the `postgres` nor the `nobody` account exists to run the server as")]
    NoServerUser,
    #[error("{action} failed: {source}")]
    Io {
        action: String,
        source: std::io::Error,
    },
    #[error("{tool} failed ({status}): {stderr}")]
    Tool {
        tool: String,
        status: String,
        stderr: String,
    },
    #[error(
        "the PostgreSQL server runs as `{account}`, which cannot enter {dir}: put the data \
         directory somewhere it can reach (e.g. SOPROVOD_DATA_DIR=/var/lib/soprovod), or let it \
         in yourself with `chmod o+x {dir}` (wanted for {data_dir})",
        dir = dir.display(),
        data_dir = data_dir.display()
    )]
    Unreachable {
        account: String,
        dir: PathBuf,
        data_dir: PathBuf,
    },
    #[error("the server did not become ready within {seconds} s; its log is {log}")]
    NotReady { seconds: u64, log: PathBuf },
}

impl ClusterError {
    pub(crate) fn io(action: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            action: action.into(),
            source,
        }
    }
}

/// A URL for `database` on a cluster listening on 127.0.0.1:`port`.
pub fn url_for(port: u16, database: &str) -> String {
    format!("postgres://{SUPERUSER}@127.0.0.1:{port}/{database}")
}

/// [`url_for`] with the superuser's password (hex, so it needs no escaping).
pub fn url_with_password(port: u16, database: &str, password: Option<&str>) -> String {
    match password {
        Some(p) => format!("postgres://{SUPERUSER}:{p}@127.0.0.1:{port}/{database}"),
        None => url_for(port, database),
    }
}

/// A TCP port that was free a moment ago on 127.0.0.1 (the caller retries if it is taken meanwhile).
pub fn free_port() -> Result<u16, ClusterError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| ClusterError::io("finding a free port", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| ClusterError::io("finding a free port", e))?
        .port();
    Ok(port)
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_in_use(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        std::time::Duration::from_millis(200),
    )
    .is_ok()
}
