//! Which account the server runs as: the caller's, or an unprivileged one when the caller is root.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::unistd::{geteuid, setgid, setgroups, setuid, Gid, Uid, User};

use crate::ClusterError;

/// The account PostgreSQL's processes run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerUser {
    /// The current (non-root) user.
    Current,
    /// Root drops to this account before exec'ing any server tool.
    Switch { name: String, uid: u32, gid: u32 },
}

impl ServerUser {
    /// `Current` for a normal user; for root, the `postgres` account, else `nobody`.
    pub fn detect() -> Result<Self, ClusterError> {
        if !geteuid().is_root() {
            return Ok(Self::Current);
        }
        ["postgres", "nobody"]
            .iter()
            .find_map(|name| lookup(name))
            .ok_or(ClusterError::NoServerUser)
    }

    /// A command for a server tool that runs as this account.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        if let Self::Switch { uid, gid, .. } = *self {
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    setgroups(&[])?;
                    setgid(Gid::from_raw(gid))?;
                    setuid(Uid::from_raw(uid))?;
                    Ok(())
                });
            }
            // HOME of root is unreadable to the server account; some tools look at it.
            cmd.env("HOME", "/tmp");
        }
        cmd
    }

    /// Gives `path` (a file or directory made by us) to the server account.
    pub fn take_ownership(&self, path: &Path) -> Result<(), ClusterError> {
        if let Self::Switch { uid, gid, .. } = *self {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| {
                ClusterError::io(
                    format!("giving {} to the server account", path.display()),
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// Checks that the server account can enter every ancestor of `dir`. Nothing is changed:
    /// opening someone's home directory (a 0700 `/root`) is the operator's decision, so the error
    /// says what to do instead.
    pub fn ensure_reachable(&self, dir: &Path) -> Result<(), ClusterError> {
        let Self::Switch { uid, gid, ref name } = *self else {
            return Ok(());
        };
        let absolute = std::fs::canonicalize(dir)
            .map_err(|e| ClusterError::io(format!("resolving {}", dir.display()), e))?;
        for ancestor in absolute.ancestors().skip(1) {
            let meta = std::fs::metadata(ancestor)
                .map_err(|e| ClusterError::io(format!("reading {}", ancestor.display()), e))?;
            let mode = meta.mode();
            let can_enter = if meta.uid() == uid {
                mode & 0o100 != 0
            } else if meta.gid() == gid {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            };
            if !can_enter {
                return Err(ClusterError::Unreachable {
                    account: name.clone(),
                    dir: ancestor.to_path_buf(),
                    data_dir: absolute.clone(),
                });
            }
        }
        Ok(())
    }
}

fn lookup(name: &str) -> Option<ServerUser> {
    let user = User::from_name(name).ok().flatten()?;
    if user.uid.is_root() {
        return None;
    }
    Some(ServerUser::Switch {
        name: name.to_string(),
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
    })
}
