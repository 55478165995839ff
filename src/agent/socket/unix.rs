//! The agent's place on Unix: `$XDG_RUNTIME_DIR/credtray/agent.sock`, or
//! `/tmp/credtray-<uid>/agent.sock` without `XDG_RUNTIME_DIR`, in a directory that must be the
//! user's own with mode 0700 (else it is refused, never used), the socket itself 0600, and
//! every connection's peer checked with `SO_PEERCRED` (`getpeereid` on the BSDs and macOS):
//! only the same user is answered. Clients hold the agent to the same checks: a socket in a
//! directory that is not the user's own 0700 one, or served by another user, is refused before
//! anything is sent. One agent at a time holds `agent.lock` beside the socket.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Error;

/// A connection to or from the agent.
pub type Stream = UnixStream;

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |cause| Error::Io {
        path: path.to_owned(),
        cause,
    }
}

/// This process's effective user id.
pub fn my_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The directory of the agent's socket, from the environment.
pub fn dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(runtime) => PathBuf::from(runtime).join("credtray"),
        None => PathBuf::from(format!("/tmp/credtray-{}", my_uid())),
    }
}

/// The agent's socket path.
pub fn path() -> PathBuf {
    dir().join("agent.sock")
}

/// Creates the socket's directory (0700) if missing, and refuses one that is not the user's
/// own or that others may read or write: someone else could put their own socket there.
pub fn prepare_dir(dir: &Path) -> Result<(), Error> {
    crate::atomic::create_dir(dir, 0o700).map_err(io_error(dir))?;
    check_dir(dir)
}

/// Checks that `dir` is a real directory (not a symlink) of this user with mode 0700: the
/// agent binds nowhere else, and its clients send nothing to a socket anywhere else.
pub fn check_dir(dir: &Path) -> Result<(), Error> {
    match unsafe_dir(dir).map_err(io_error(dir))? {
        None => Ok(()),
        Some(why) => Err(Error::UnsafeDir {
            dir: dir.to_owned(),
            why,
        }),
    }
}

/// Why `dir` may not hold the agent's socket (`is a symbolic link`, `has mode 0755`…), or
/// `None` when it may: a real directory of this user that no one else can enter.
pub fn unsafe_dir(dir: &Path) -> io::Result<Option<String>> {
    let meta = std::fs::symlink_metadata(dir)?;
    let mode = meta.permissions().mode() & 0o777;
    Ok(if meta.file_type().is_symlink() {
        Some("is a symbolic link".to_owned())
    } else if !meta.file_type().is_dir() {
        Some("is not a directory".to_owned())
    } else if meta.uid() != my_uid() {
        Some(format!("belongs to user {}", meta.uid()))
    } else if mode & 0o077 != 0 {
        Some(format!("has mode {mode:04o}"))
    } else {
        None
    })
}

/// Why the agent's place at `path` may not be trusted before connecting: its directory is not
/// this user's own 0700 one, so another user may have made the socket. `NotFound` when the
/// directory is missing (no agent).
pub fn untrusted_place(path: &Path) -> io::Result<Option<String>> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Ok(unsafe_dir(dir)?.map(|why| {
        format!(
            "its directory {} {why}, so another user may have made it (only a directory of yours with mode 0700 is trusted)",
            dir.display()
        )
    }))
}

/// Why the process at the other end of `stream` may not be talked to (another user's), or
/// `Ok` when it is this user's.
pub fn check_peer(stream: &Stream) -> io::Result<Result<(), String>> {
    let (peer, me) = (peer_uid(stream)?, my_uid());
    Ok(if peer_allowed(peer, me) {
        Ok(())
    } else {
        Err(format!("runs as user {peer}, not as you (user {me})"))
    })
}

/// Connects to the agent at `path` (`NotFound` or `ConnectionRefused` when none listens).
pub fn connect(path: &Path) -> io::Result<Stream> {
    UnixStream::connect(path)
}

/// How long reads and writes on `stream` may wait.
pub fn set_timeouts(stream: &Stream, read: Duration, write: Duration) -> io::Result<()> {
    stream.set_read_timeout(Some(read))?;
    stream.set_write_timeout(Some(write))
}

/// Tells the agent the request is whole (its end of the stream).
pub fn end_request(stream: &Stream) -> io::Result<()> {
    stream.shutdown(std::net::Shutdown::Write)
}

/// Whether a peer may be answered: only the agent's own user.
pub fn peer_allowed(peer_uid: u32, my_uid: u32) -> bool {
    peer_uid == my_uid
}

/// The user id of the process at the other end of `stream`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn peer_uid(stream: &UnixStream) -> io::Result<u32> {
    Ok(rustix::net::sockopt::socket_peercred(stream)?.uid.as_raw())
}

/// The user id of the process at the other end of `stream`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[allow(unsafe_code)] // getpeereid has no safe wrapper outside Linux
pub fn peer_uid(stream: &UnixStream) -> io::Result<u32> {
    use std::os::fd::AsRawFd;
    let (mut uid, mut gid) = (0, 0);
    // SAFETY: `uid` and `gid` are valid for writes, and the fd is open.
    let rc = unsafe { libc::getpeereid(stream.as_raw_fd(), &raw mut uid, &raw mut gid) };
    if rc == 0 {
        Ok(uid)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The agent's place: its lock held, its socket bound (mode 0600). Dropping it releases the
/// lock; the socket file is removed first.
pub struct Bound {
    pub listener: UnixListener,
    pub path: PathBuf,
    _lock: std::fs::File,
}

impl Bound {
    /// The next connection.
    pub fn accept(&self) -> io::Result<Stream> {
        self.listener.accept().map(|(stream, _)| stream)
    }
}

impl Drop for Bound {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Takes the agent's lock and binds its socket at `path`. A socket file left by an agent that
/// died is replaced; a live agent holding the lock is named in the error.
pub fn bind(path: &Path, who_holds: impl Fn() -> Option<(u32, bool)>) -> Result<Bound, Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    prepare_dir(dir)?;
    let lock = super::take_lock(&dir.join("agent.lock"), who_holds)?;
    // Holding the lock, any socket file here is a dead agent's.
    match std::fs::remove_file(path) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "replaced the socket of an agent that is gone")
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(path)(e)),
    }
    let listener = UnixListener::bind(path).map_err(io_error(path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io_error(path))?;
    Ok(Bound {
        listener,
        path: path.to_owned(),
        _lock: lock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_user_is_answered() {
        assert!(peer_allowed(1000, 1000));
        assert!(!peer_allowed(0, 1000), "not even root");
        assert!(!peer_allowed(1001, 1000));
    }

    #[test]
    fn a_directory_others_can_enter_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("credtray");
        prepare_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = prepare_dir(&dir).unwrap_err().to_string();
        assert!(err.contains("0755") && err.contains("0700"), "{err}");
        // A symlink to a good directory is not the directory.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(check_dir(&link).is_err());
    }

    #[test]
    fn one_agent_binds_a_second_is_told_who_holds_it_and_a_dead_ones_socket_is_replaced() {
        let base = tempfile::tempdir().unwrap();
        let path = base.path().join("credtray").join("agent.sock");
        let first = bind(&path, || None).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let err = bind(&path, || Some((4242, false))).err().unwrap();
        assert!(matches!(err, Error::Running { pid: 4242, .. }), "{err}");
        // The peer of a connection is this very user.
        let client = UnixStream::connect(&path).unwrap();
        let (server, _) = first.listener.accept().unwrap();
        assert_eq!(peer_uid(&server).unwrap(), my_uid());
        drop(client);
        // An agent killed without cleaning up leaves its socket file: the next one binds.
        let left = first.path.clone();
        drop(first);
        std::fs::write(&left, b"").unwrap();
        let second = bind(&path, || None).unwrap();
        assert!(UnixStream::connect(&second.path).is_ok());
    }
}
