//! The embedded database: a persistent cluster in `$SOPROVOD_DATA_DIR`, started and stopped with pg_ctl.
//!
//! It accepts only its own superuser: initdb sets scram-sha-256 for every connection with a
//! password generated at creation and kept in `$SOPROVOD_DATA_DIR/password` (mode 0600), and
//! the server listens on 127.0.0.1 only, with no Unix socket.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::kill;
use nix::unistd::Pid;
use secrecy::{ExposeSecret, SecretString};

use crate::{
    free_port, port_in_use, url_with_password, Binaries, ClusterError, ServerUser, DATABASE,
    SUPERUSER,
};

/// A cluster living in a data directory (`pg/` inside it holds PGDATA).
#[derive(Debug)]
pub struct LocalCluster {
    data_dir: PathBuf,
    bins: Binaries,
    user: ServerUser,
}

/// A server that is up, and whether this call started it.
#[derive(Debug, Clone)]
pub struct Running {
    pub port: u16,
    pub started_now: bool,
    pub pid: i32,
    /// The superuser's password (None for a cluster made before passwords, which trusts).
    pub password: Option<SecretString>,
}

impl Running {
    pub fn url(&self) -> String {
        url_with_password(
            self.port,
            DATABASE,
            self.password.as_ref().map(|p| p.expose_secret()),
        )
    }
}

/// What `postmaster.pid` says about a server.
#[derive(Debug)]
struct PidFile {
    pid: i32,
    port: u16,
    ready: bool,
}

impl LocalCluster {
    /// A cluster in `data_dir`; nothing is created until [`LocalCluster::up`].
    pub fn new(data_dir: impl Into<PathBuf>) -> Result<Self, ClusterError> {
        Ok(Self {
            data_dir: data_dir.into(),
            bins: Binaries::locate()?,
            user: ServerUser::detect()?,
        })
    }

    pub fn pgdata(&self) -> PathBuf {
        self.data_dir.join("pg")
    }

    pub fn log_file(&self) -> PathBuf {
        self.data_dir.join("postgres.log")
    }

    /// Where the superuser's password is kept (mode 0600).
    pub fn password_file(&self) -> PathBuf {
        self.data_dir.join("password")
    }

    fn password(&self) -> Option<SecretString> {
        std::fs::read_to_string(self.password_file())
            .ok()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .map(SecretString::from)
    }

    pub fn binaries(&self) -> &Binaries {
        &self.bins
    }

    /// Creates the cluster if needed and starts it unless it already runs. Concurrent calls (in
    /// this or other processes) serialise on a lock file, so only one server is ever started.
    pub fn up(&self) -> Result<Running, ClusterError> {
        let _lock = self.lock()?;
        let created = self.init_if_needed()?;
        if let Some(running) = self.running()? {
            return Ok(running);
        }
        let running = self.start()?;
        if created {
            self.create_database(running.port)?;
        }
        Ok(running)
    }

    /// The running server, if any, without starting one.
    pub fn status(&self) -> Result<Option<Running>, ClusterError> {
        if !self.pgdata().join("PG_VERSION").exists() {
            return Ok(None);
        }
        let _lock = self.lock()?;
        self.running()
    }

    /// Stops the server (fast shutdown). Returns false when it was not running.
    pub fn down(&self) -> Result<bool, ClusterError> {
        if !self.pgdata().join("PG_VERSION").exists() {
            return Ok(false);
        }
        let _lock = self.lock()?;
        if self.running()?.is_none() {
            return Ok(false);
        }
        let pgdata = self.pgdata();
        let out = self
            .user
            .command(self.bins.tool("pg_ctl"))
            .args(["stop", "-m", "fast", "-w", "-t", "60", "-D"])
            .arg(&pgdata)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| ClusterError::io("running pg_ctl stop", e))?;
        check("pg_ctl stop", &out)?;
        Ok(true)
    }

    fn lock(&self) -> Result<File, ClusterError> {
        std::fs::create_dir_all(&self.data_dir)
            .map_err(|e| ClusterError::io(format!("creating {}", self.data_dir.display()), e))?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.data_dir.join("lock"))
            .map_err(|e| ClusterError::io("opening the data directory's lock file", e))?;
        file.lock()
            .map_err(|e| ClusterError::io("locking the data directory", e))?;
        Ok(file)
    }

    /// Runs initdb unless PGDATA already holds a cluster. Returns whether it created one.
    fn init_if_needed(&self) -> Result<bool, ClusterError> {
        let pgdata = self.pgdata();
        if pgdata.join("PG_VERSION").exists() {
            return Ok(false);
        }
        if pgdata.exists() {
            // No PG_VERSION: an initdb that was interrupted. Nothing of value can be inside.
            std::fs::remove_dir_all(&pgdata)
                .map_err(|e| ClusterError::io("removing a half-created cluster", e))?;
        }
        self.user.ensure_reachable(&self.data_dir)?;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&pgdata)
            .map_err(|e| ClusterError::io(format!("creating {}", pgdata.display()), e))?;
        self.user.take_ownership(&pgdata)?;
        let password = new_password()?;
        write_private(&self.password_file(), &password)?;
        // initdb reads it from a file only the server account can read, never from its command
        // line; the file is gone once initdb is done.
        let pwfile = self.data_dir.join("initial-password");
        write_private(&pwfile, &password)?;
        self.user.take_ownership(&pwfile)?;
        File::create(self.log_file())
            .map_err(|e| ClusterError::io("creating the server log", e))?;
        self.user.take_ownership(&self.log_file())?;
        let out = self
            .user
            .command(self.bins.tool("initdb"))
            .args([
                "-U",
                SUPERUSER,
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .arg("-D")
            .arg(&pgdata)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| ClusterError::io("running initdb", e))?;
        let _ = std::fs::remove_file(&pwfile);
        check("initdb", &out)?;
        Ok(true)
    }

    /// The server described by postmaster.pid if it is really up; removes a stale pid file.
    fn running(&self) -> Result<Option<Running>, ClusterError> {
        let pid_path = self.pgdata().join("postmaster.pid");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let Some(pidfile) = read_pid_file(&pid_path) else {
                return Ok(None);
            };
            if !is_postgres_process(pidfile.pid) {
                // Left behind by a crash (kill -9, power loss); the process is gone or reused.
                tracing::info!(pid = pidfile.pid, "removing a stale postmaster.pid");
                let _ = std::fs::remove_file(&pid_path);
                return Ok(None);
            }
            if pidfile.ready && port_in_use(pidfile.port) {
                return Ok(Some(Running {
                    port: pidfile.port,
                    started_now: false,
                    pid: pidfile.pid,
                    password: self.password(),
                }));
            }
            if Instant::now() > deadline {
                return Err(ClusterError::NotReady {
                    seconds: 30,
                    log: self.log_file(),
                });
            }
            // A server is starting or stopping right now; its state will settle shortly.
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn start(&self) -> Result<Running, ClusterError> {
        let port_file = self.data_dir.join("port");
        let mut last_error = None;
        for attempt in 0..8 {
            let remembered = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|s| s.trim().parse::<u16>().ok());
            let port = match remembered {
                Some(p) if attempt == 0 && !port_in_use(p) => p,
                _ => free_port()?,
            };
            let options = format!(
                "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
            );
            let out = self
                .user
                .command(self.bins.tool("pg_ctl"))
                .args(["start", "-w", "-t", "60", "-o", &options, "-l"])
                .arg(self.log_file())
                .arg("-D")
                .arg(self.pgdata())
                .stdin(Stdio::null())
                .output()
                .map_err(|e| ClusterError::io("running pg_ctl start", e))?;
            if out.status.success() {
                std::fs::write(&port_file, port.to_string())
                    .map_err(|e| ClusterError::io("remembering the port", e))?;
                let pidfile = read_pid_file(&self.pgdata().join("postmaster.pid")).ok_or(
                    ClusterError::NotReady {
                        seconds: 60,
                        log: self.log_file(),
                    },
                )?;
                return Ok(Running {
                    port,
                    started_now: true,
                    pid: pidfile.pid,
                    password: self.password(),
                });
            }
            // Typical transient causes: the port was taken meanwhile, or the backends of a killed
            // server still hold its shared memory for a moment. Both pass on a retry.
            last_error = Some(check("pg_ctl start", &out).unwrap_err());
            std::thread::sleep(Duration::from_millis(250 * (attempt + 1)));
        }
        Err(last_error.unwrap_or(ClusterError::NotReady {
            seconds: 60,
            log: self.log_file(),
        }))
    }

    fn create_database(&self, port: u16) -> Result<(), ClusterError> {
        let out = Command::new(self.bins.tool("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                SUPERUSER,
                DATABASE,
            ])
            .env(
                "PGPASSWORD",
                self.password().as_ref().map_or("", |p| p.expose_secret()),
            )
            .stdin(Stdio::null())
            .output()
            .map_err(|e| ClusterError::io("running createdb", e))?;
        if !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("already exists")
        {
            return Ok(());
        }
        check("createdb", &out)
    }
}

/// 24 random bytes from the kernel, as hex.
fn new_password() -> Result<String, ClusterError> {
    let mut bytes = [0u8; 24];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| ClusterError::io("generating the database password", e))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `text` to a new file only its owner can read.
fn write_private(path: &Path, text: &str) -> Result<(), ClusterError> {
    let _ = std::fs::remove_file(path);
    OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| ClusterError::io(format!("writing {}", path.display()), e))
}

fn check(tool: &str, out: &Output) -> Result<(), ClusterError> {
    if out.status.success() {
        return Ok(());
    }
    let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if stderr.is_empty() {
        stderr = String::from_utf8_lossy(&out.stdout).trim().to_string();
    }
    Err(ClusterError::Tool {
        tool: tool.into(),
        status: out.status.to_string(),
        stderr,
    })
}

fn read_pid_file(path: &Path) -> Option<PidFile> {
    let text = std::fs::read_to_string(path).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let pid = lines.first()?.trim().parse().ok()?;
    let port = lines
        .get(3)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    let ready = lines.get(7).map(|l| l.trim() == "ready").unwrap_or(false);
    Some(PidFile { pid, port, ready })
}

/// Whether `pid` is a live PostgreSQL server process (not a reused pid of something else).
pub(crate) fn is_postgres_process(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // No signal: only whether the process exists (EPERM: it does, as another account).
    let alive = matches!(
        kill(Pid::from_raw(pid), None),
        Ok(()) | Err(nix::errno::Errno::EPERM)
    );
    if !alive {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        Ok(comm) => {
            let comm = comm.trim();
            comm == "postgres" || comm == "postmaster"
        }
        // Without /proc we cannot tell; trust the pid.
        Err(_) => true,
    }
}
