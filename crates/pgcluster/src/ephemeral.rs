//! A throwaway server for tests: runs in the foreground and dies with the process that started it.

use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::prctl::set_pdeathsig;
use nix::sys::signal::{kill, Signal};
use nix::unistd::{getppid, Pid};

use crate::{free_port, url_for, Binaries, ClusterError, ServerUser, SUPERUSER};

/// A running throwaway cluster. [`Ephemeral::stop`] ends it; if the owning process dies first, the
/// kernel ends it (parent-death signal), so no server outlives a test run.
#[derive(Debug)]
pub struct Ephemeral {
    port: u16,
    pid: i32,
    root: PathBuf,
    bins: Binaries,
}

impl Ephemeral {
    /// Creates a cluster under `root` (which must not exist yet) and starts it, tuned for speed
    /// over durability.
    pub fn start(root: &Path) -> Result<Self, ClusterError> {
        let bins = Binaries::locate()?;
        let user = ServerUser::detect()?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(root)
            .map_err(|e| ClusterError::io(format!("creating {}", root.display()), e))?;
        user.ensure_reachable(root)?;
        let pgdata = root.join("pg");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&pgdata)
            .map_err(|e| ClusterError::io(format!("creating {}", pgdata.display()), e))?;
        user.take_ownership(&pgdata)?;
        let out = user
            .command(bins.tool("initdb"))
            .args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
                "-D",
            ])
            .arg(&pgdata)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| ClusterError::io("running initdb", e))?;
        if !out.status.success() {
            return Err(ClusterError::Tool {
                tool: "initdb".into(),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        let log = root.join("postgres.log");
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            match spawn_server(&bins, &user, &pgdata, &log, port) {
                Ok(pid) => {
                    return Ok(Self {
                        port,
                        pid,
                        root: root.to_path_buf(),
                        bins,
                    })
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(ClusterError::NotReady { seconds: 60, log }))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn binaries(&self) -> &Binaries {
        &self.bins
    }

    /// URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        url_for(self.port, database)
    }

    /// Immediate shutdown, then removes the cluster's files.
    pub fn stop(&self) {
        let _ = kill(Pid::from_raw(self.pid), Signal::SIGQUIT);
        let deadline = Instant::now() + Duration::from_secs(10);
        while crate::cluster::is_postgres_process(self.pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn spawn_server(
    bins: &Binaries,
    user: &ServerUser,
    pgdata: &Path,
    log: &Path,
    port: u16,
) -> Result<i32, ClusterError> {
    let log_file =
        std::fs::File::create(log).map_err(|e| ClusterError::io("creating the server log", e))?;
    let log_err = log_file
        .try_clone()
        .map_err(|e| ClusterError::io("creating the server log", e))?;
    let mut cmd = user.command(bins.tool("postgres"));
    cmd.arg("-D")
        .arg(pgdata)
        .args(["-c", &format!("port={port}")])
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
        ])
        .args([
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ])
        .args(["-c", "max_connections=300", "-c", "shared_buffers=256MB"])
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err);
    let parent = std::process::id() as i32;
    // SAFETY: prctl and getppid are async-signal-safe, and the errors allocate nothing. This runs
    // after the account switch, which would otherwise clear the parent-death signal. A parent
    // already gone: the child fails before exec, so no orphaned server.
    unsafe {
        cmd.pre_exec(move || {
            set_pdeathsig(Signal::SIGQUIT)?;
            if getppid() != Pid::from_raw(parent) {
                return Err(Errno::ESRCH.into());
            }
            Ok(())
        });
    }
    // The parent-death signal fires when the *thread* that forked exits, so the fork happens on a
    // thread that lives exactly as long as the server (it waits for it).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("ephemeral-postgres".into())
        .spawn(move || match cmd.spawn() {
            Ok(mut child) => {
                let _ = tx.send(Ok(child.id() as i32));
                let status = child.wait();
                let _ = tx.send(Err(format!("{status:?}")));
            }
            Err(e) => {
                let _ = tx.send(Err(e.to_string()));
            }
        })
        .map_err(|e| ClusterError::io("starting the server thread", e))?;
    let pid = match rx.recv() {
        Ok(Ok(pid)) => pid,
        Ok(Err(e)) => {
            return Err(ClusterError::Tool {
                tool: "postgres".into(),
                status: "spawn".into(),
                stderr: e,
            });
        }
        Err(_) => {
            return Err(ClusterError::NotReady {
                seconds: 0,
                log: log.to_path_buf(),
            })
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let pid_path = pgdata.join("postmaster.pid");
    loop {
        if let Ok(Err(exit)) = rx.try_recv() {
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            return Err(ClusterError::Tool {
                tool: "postgres".into(),
                status: exit,
                stderr: tail,
            });
        }
        let ready = std::fs::read_to_string(&pid_path)
            .map(|t| {
                t.lines()
                    .nth(7)
                    .map(|l| l.trim() == "ready")
                    .unwrap_or(false)
            })
            .unwrap_or(false);
        if ready {
            return Ok(pid);
        }
        if Instant::now() > deadline {
            let _ = kill(Pid::from_raw(pid), Signal::SIGQUIT);
            return Err(ClusterError::NotReady {
                seconds: 60,
                log: log.to_path_buf(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
