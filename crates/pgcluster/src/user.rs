//! Which account the server runs as: the caller's, or an unprivileged one when the caller is root.

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

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
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
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
                    if libc::setgroups(0, std::ptr::null()) != 0
                        || libc::setgid(gid) != 0
                        || libc::setuid(uid) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
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
    let cname = CString::new(name).ok()?;
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the call; buf outlives it.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() || pwd.pw_uid == 0 {
        return None;
    }
    Some(ServerUser::Switch {
        name: name.to_string(),
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
    })
}
