//! Where the agent listens and who may talk to it, one module per platform behind one small
//! interface that everything else in `agent` uses: [`path`], [`bind`] and [`Bound::accept`],
//! [`connect`], [`untrusted_place`], [`check_peer`], [`Stream`] with [`set_timeouts`] and
//! [`end_request`]. Both sides check each other before a byte of a request or reply moves: the
//! agent answers only its own user, and a client talks only to an agent of its own user.
//! - `unix`: a unix socket in a private directory, peers checked with `SO_PEERCRED`.
//! - `windows`: a named pipe per user, its DACL limited to the user, peers checked by their
//!   process's token. The `unsafe` Win32 calls it needs are confined there.
//!
//! A request and a reply are each one message: on Unix the client ends its request by closing
//! its writing half ([`end_request`]) and the agent its reply by closing the connection; a
//! named pipe has no half-close, so on Windows the pipe is in message mode and each whole
//! request or reply is one write. The JSON protocol on top is the same.

use std::io;
use std::path::{Path, PathBuf};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{} is not safe for the agent's socket: it {why} (it must be a directory of yours with mode 0700)",
        .dir.display()
    )]
    UnsafeDir { dir: PathBuf, why: String },
    #[error("another credtray agent is running (process {pid}{})", if *.tray { ", the tray" } else { "" })]
    Running { pid: u32, tray: bool },
    #[error("another credtray agent holds {} but does not answer", .lock.display())]
    Stuck { lock: PathBuf },
    // The cause is in the message, not a source: a chain printed whole would say it twice.
    #[error("cannot set up the agent's socket {}: {cause}", .path.display())]
    Io { path: PathBuf, cause: io::Error },
    #[error(
        "another process, not a credtray agent of yours, serves {}: the agent can't listen there (a program squatting on credtray's pipe name?)",
        .path.display()
    )]
    Taken { path: PathBuf },
}

/// Takes the one-agent-at-a-time lock at `lock_path` (made 0600 on Unix if missing); a live
/// agent holding it is named in the error (`who_holds` asks it).
fn take_lock(
    lock_path: &Path,
    who_holds: impl Fn() -> Option<(u32, bool)>,
) -> Result<std::fs::File, Error> {
    let io_error = |cause| Error::Io {
        path: lock_path.to_owned(),
        cause,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let lock = options.open(lock_path).map_err(io_error)?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(std::fs::TryLockError::WouldBlock) => Err(match who_holds() {
            Some((pid, tray)) => Error::Running { pid, tray },
            None => Error::Stuck {
                lock: lock_path.to_owned(),
            },
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io_error(e)),
    }
}
