//! Crash-safe file replacement and the advisory locks that serialise writers across
//! processes. A reader sees the old file or the new one, never a torn write; a writer that dies
//! mid-write leaves at most a stray temp file, never a damaged original.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// How a [`write()`] that replaced the file ended.
#[derive(Debug)]
#[must_use = "a replaced file whose directory was not synced deserves at least a warning"]
pub enum Written {
    /// Replaced, and the rename is on disk.
    Durable,
    /// Replaced (every reader now sees the new bytes), but the directory fsync after the rename
    /// failed, so a power cut might still bring the old file back. Not a failure to undo: the
    /// change happened.
    Unsynced(io::Error),
}

impl Written {
    /// Logs a replaced-but-unsynced write as a warning; `what` names the file.
    pub fn warn_if_unsynced(self, what: &Path) {
        if let Written::Unsynced(e) = self {
            tracing::warn!(path = %what.display(), error = %e, "the file was replaced, but syncing its directory failed; a power cut could undo the change");
        }
    }
}

/// Replaces `path` with `bytes`: a temp file in the same directory, fsync, rename, then fsync
/// of the directory so the rename itself survives a power cut. `mode` applies on Unix.
/// `Err` means the file was **not** replaced; a failure after the rename is
/// [`Written::Unsynced`], since the new bytes are already what everyone reads.
pub fn write(path: &Path, bytes: &[u8], mode: u32) -> io::Result<Written> {
    let dir = parent(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        let mut file = create_new(&tmp, mode)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        // Best effort: the original is intact either way; only the temp file may be left.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(match sync_dir(dir) {
        Ok(()) => Written::Durable,
        Err(e) => Written::Unsynced(e),
    })
}

#[cfg(test)]
thread_local! {
    /// Unit tests of callers: the directory fsync after a rename fails on this thread, as it
    /// can on some network and FUSE file systems.
    static FAIL_DIR_SYNC: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes every directory fsync on this thread fail (or work again), for tests.
#[cfg(test)]
pub(crate) fn fail_dir_sync(fail: bool) {
    FAIL_DIR_SYNC.with(|f| f.set(fail));
}

/// Removes temp files that [`write()`] left beside `path` when its process was killed mid-write.
/// Call it only while holding the lock that serialises writers of `path`, so none is in use.
pub fn remove_stale_temps(path: &Path) {
    let (Some(name), dir) = (path.file_name(), parent(path)) else {
        return;
    };
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            // Best effort: a temp file that stays is clutter, never damage.
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Creates `dir` (and its parents) if missing; a directory this creates gets `mode` on Unix.
pub fn create_dir(dir: &Path, mode: u32) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, mode);
    #[cfg(not(unix))]
    let _ = mode;
    builder.create(dir)
}

fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let file = options.open(path)?;
    // The mode given to open() is reduced by the umask; "keep the file's mode" means exactly it.
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
    Ok(file)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(test)]
    if FAIL_DIR_SYNC.with(std::cell::Cell::get) {
        return Err(io::Error::other("the test seam fails directory fsyncs"));
    }
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Windows has no directory handles to fsync; MoveFileEx's replace is what we get.
    Ok(())
}

/// How long a writer waits for another one before giving up with a clear message.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// An exclusive advisory lock on a sidecar file, held until dropped. Locking a sidecar (not
/// the data file) keeps the lock valid across the rename that replaces the data file.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Waits (at most a minute) until this process holds the lock at `path` (created with
    /// `mode` if missing).
    pub fn exclusive(path: &Path, mode: u32) -> io::Result<Self> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        #[cfg(not(unix))]
        let _ = mode;
        let file = options.open(path)?;
        // Holders finish in milliseconds, unless one waits on a person (a keychain unlock
        // prompt left unanswered): then say so rather than hang without a word.
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "another credtray process has held it for {} s (is a keychain unlock prompt waiting for an answer?)",
                            LOCK_WAIT.as_secs()
                        ),
                    ));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
        }
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        assert!(matches!(
            write(&path, b"one", 0o600).unwrap(),
            Written::Durable
        ));
        assert!(matches!(
            write(&path, b"two", 0o600).unwrap(),
            Written::Durable
        ));
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("f.toml")]);
    }

    #[cfg(unix)]
    #[test]
    fn write_sets_the_mode_and_create_dir_too() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        create_dir(&sub, 0o700).unwrap();
        assert_eq!(
            fs::metadata(&sub).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let path = sub.join("f");
        let _ = write(&path, b"x", 0o600).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    /// Whether some process holds the lock at `path`, asked without waiting through another
    /// open file (flock locks belong to the open file, so this conflicts even in-process).
    fn held(path: &Path) -> bool {
        matches!(
            File::open(path).unwrap().try_lock(),
            Err(fs::TryLockError::WouldBlock)
        )
    }

    #[test]
    fn a_second_writer_waits_for_the_first() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Barrier};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.lock");
        let first = Lock::exclusive(&path, 0o600).unwrap();
        assert!(held(&path), "the first writer holds the lock");
        let trying = Arc::new(Barrier::new(2));
        let released = Arc::new(AtomicBool::new(false));
        let second = std::thread::spawn({
            let (trying, released, path) = (trying.clone(), released.clone(), path.clone());
            move || {
                trying.wait();
                let lock = Lock::exclusive(&path, 0o600).unwrap();
                (lock, released.load(Ordering::SeqCst))
            }
        });
        // Past the barrier the second thread is running, however late it started. Every
        // assertion below holds whatever the timing from here on; the pause only makes it
        // likely that the second is already waiting, so that path is the one exercised.
        trying.wait();
        std::thread::sleep(std::time::Duration::from_millis(20));
        released.store(true, Ordering::SeqCst);
        drop(first);
        let (second, after_release) = second.join().unwrap();
        assert!(
            after_release,
            "the second got the lock only after the first let go"
        );
        assert!(held(&path), "the second writer really holds it");
        drop(second);
        assert!(!held(&path), "and lets it go");
    }

    #[test]
    fn a_failed_write_keeps_the_original() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let _ = write(&path, b"original", 0o600).unwrap();
        // Renaming a file over a non-empty directory fails after the temp file was written.
        let blocked = dir.path().join("d");
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("x"), b"").unwrap();
        assert!(write(&blocked, b"new", 0o600).is_err());
        assert_eq!(fs::read(&path).unwrap(), b"original");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_failed_directory_fsync_after_the_rename_is_not_reported_as_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fail_dir_sync(true);
        let written = write(&path, b"new", 0o600);
        fail_dir_sync(false);
        assert!(
            matches!(written, Ok(Written::Unsynced(_))),
            "the file was replaced: {written:?}"
        );
        assert_eq!(fs::read(&path).unwrap(), b"new");
    }
}
