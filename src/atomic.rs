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

/// How long a command waits for another one's lock before giving up with a message that names
/// the holder. Holders finish in milliseconds: no credtray process waits on a person (a keychain
/// unlock prompt, an MFA code) while it holds the store's lock, so a lock held longer is
/// exceptional and said so at once rather than after a long silence.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// An exclusive advisory lock on a sidecar file, held until dropped. Locking a sidecar (not
/// the data file) keeps the lock valid across the rename that replaces the data file. While
/// held, the sidecar names its holder (pid, the first words of its command line, what it is
/// doing: never a secret), so that a command that gives up waiting can say who it waited for.
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: std::path::PathBuf,
    /// Whether this process holds it now (it may be [`Self::release`]d): the record in the
    /// file is then this process's to write or clear.
    held: std::sync::atomic::AtomicBool,
}

impl Lock {
    /// Waits (at most [`LOCK_WAIT`]) until this process holds the lock at `path` (created with
    /// `mode` if missing), then records itself as the holder, `doing` what (a clause such as
    /// "waiting for the OS keychain").
    pub fn exclusive(path: &Path, mode: u32, doing: &str) -> io::Result<Self> {
        let lock = Self {
            file: open_sidecar(path, mode)?,
            path: path.to_owned(),
            held: false.into(),
        };
        lock.wait()?;
        lock.doing(doing);
        Ok(lock)
    }

    /// The lock at `path` if no one holds it now; `None` without waiting if someone does.
    pub fn try_exclusive(path: &Path, mode: u32, doing: &str) -> io::Result<Option<Self>> {
        let file = open_sidecar(path, mode)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        let lock = Self {
            file,
            path: path.to_owned(),
            held: true.into(),
        };
        lock.doing(doing);
        Ok(Some(lock))
    }

    /// Waits as long as it takes (a lock held for minutes, as a sync's), asking `cancelled`
    /// every `every`: the lock, or `None` once cancelled.
    pub fn patiently(
        path: &Path,
        mode: u32,
        doing: &str,
        every: std::time::Duration,
        cancelled: &dyn Fn() -> bool,
    ) -> io::Result<Option<Self>> {
        loop {
            if let Some(lock) = Self::try_exclusive(path, mode, doing)? {
                return Ok(Some(lock));
            }
            if cancelled() {
                return Ok(None);
            }
            std::thread::sleep(every);
        }
    }

    /// Lets the lock go for a while; [`Self::retake`] takes it back.
    pub fn release(&self) -> io::Result<()> {
        self.clear();
        self.held.store(false, std::sync::atomic::Ordering::SeqCst);
        match self.file.unlock() {
            // std unlocks twice on Windows (a handle may hold a shared and an exclusive lock)
            // and takes the second call's ERROR_NOT_LOCKED as success; wine answers that call
            // with ERROR_LOCK_VIOLATION (33) instead, the lock being let go all the same.
            #[cfg(windows)]
            Err(e) if e.raw_os_error() == Some(33) => Ok(()),
            unlocked => unlocked,
        }
    }

    /// Takes back a lock [`Self::release`]d, waiting as [`Self::exclusive`] does.
    pub fn retake(&self, doing: &str) -> io::Result<()> {
        self.wait()?;
        self.doing(doing);
        Ok(())
    }

    /// Says what the holder does now. Best effort: the record only words a waiter's message.
    pub fn doing(&self, doing: &str) {
        let record = format!(
            "pid={}\ncommand={}\ndoing={doing}\n",
            std::process::id(),
            command_words()
        );
        #[cfg(windows)]
        {
            let _ = fs::write(record_path(&self.path), record.as_bytes());
        }
        #[cfg(not(windows))]
        self.write_record(&record);
    }

    #[cfg(not(windows))]
    fn write_record(&self, record: &str) {
        let _ = self.file.set_len(0);
        let _ = io::Seek::seek(&mut &self.file, io::SeekFrom::Start(0))
            .and_then(|_| (&self.file).write_all(record.as_bytes()));
    }

    fn clear(&self) {
        if self.held.load(std::sync::atomic::Ordering::SeqCst) {
            #[cfg(windows)]
            let _ = fs::write(record_path(&self.path), b"");
            #[cfg(not(windows))]
            let _ = self.file.set_len(0);
        }
    }

    fn wait(&self) -> io::Result<()> {
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match self.file.try_lock() {
                Ok(()) => {
                    self.held.store(true, std::sync::atomic::Ordering::SeqCst);
                    return Ok(());
                }
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        held_for_too_long(&self.path),
                    ));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // The record names the holder only while there is one; the lock itself goes with the
        // file.
        self.clear();
    }
}

fn open_sidecar(path: &Path, mode: u32) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}

/// The sentence a waiter gives up with: who holds the lock at `path` and what it is doing, as
/// its record says.
fn held_for_too_long(path: &Path) -> String {
    let waited = LOCK_WAIT.as_secs();
    match holder(path) {
        Some((who, doing)) => format!("{who} has held it for more than {waited} s, {doing}"),
        None => format!("another process has held it for more than {waited} s"),
    }
}

/// Where the holder of the lock at `path` records itself: in the lock file on Unix; beside it on
/// Windows (`<lock>.holder`), where file locks are mandatory and no one but the holder could
/// read a locked file.
pub fn record_path(path: &Path) -> std::path::PathBuf {
    if cfg!(windows) {
        let mut beside = path.as_os_str().to_owned();
        beside.push(".holder");
        beside.into()
    } else {
        path.to_owned()
    }
}

/// Who holds the lock at `path` as its record says ("process 4242 (credtray integration
/// sync)"), and what it is doing; `None` when no holder is recorded.
pub fn holder(path: &Path) -> Option<(String, String)> {
    let record = fs::read_to_string(record_path(path)).unwrap_or_default();
    let field = |name: &str| {
        record
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .filter(|v| !v.is_empty())
    };
    match (field("pid"), field("command"), field("doing")) {
        (Some(pid), Some(command), Some(doing)) => {
            Some((format!("process {pid} ({command})"), doing.to_owned()))
        }
        _ => None,
    }
}

/// This process's program name and first subcommand words, which name what it is ("credtray
/// session add", "credtray-tray"): the program's file name and at most two more words, none
/// an option, so no value given on the command line is ever recorded.
fn command_words() -> String {
    let mut args = std::env::args();
    let program = args
        .next()
        .map(|p| {
            Path::new(&p)
                .file_name()
                .map_or_else(|| p.clone(), |n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "credtray".to_owned());
    let words = args
        .take(2)
        .take_while(|a| {
            !a.starts_with('-') && a.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        })
        .collect::<Vec<_>>();
    std::iter::once(program)
        .chain(words)
        .collect::<Vec<_>>()
        .join(" ")
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
        let first = Lock::exclusive(&path, 0o600, "testing").unwrap();
        assert!(held(&path), "the first writer holds the lock");
        let trying = Arc::new(Barrier::new(2));
        let released = Arc::new(AtomicBool::new(false));
        let second = std::thread::spawn({
            let (trying, released, path) = (trying.clone(), released.clone(), path.clone());
            move || {
                trying.wait();
                let lock = Lock::exclusive(&path, 0o600, "testing").unwrap();
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
    fn a_waiter_gives_up_after_5_s_naming_the_holder_and_what_it_waits_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.lock");
        let holder = Lock::exclusive(&path, 0o600, "waiting for an MFA code").unwrap();
        let started = std::time::Instant::now();
        let err = Lock::exclusive(&path, 0o600, "testing").unwrap_err();
        assert!(started.elapsed() >= LOCK_WAIT, "{:?}", started.elapsed());
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let said = err.to_string();
        assert!(
            said.starts_with(&format!("process {} (", std::process::id()))
                && said.ends_with(") has held it for more than 5 s, waiting for an MFA code"),
            "{said}"
        );
        // Let go, the record names no one: a later waiter never blames a process gone.
        holder.release().unwrap();
        assert_eq!(fs::read_to_string(record_path(&path)).unwrap(), "");
        let other = Lock::try_exclusive(&path, 0o600, "changing it")
            .unwrap()
            .unwrap();
        assert!(
            fs::read_to_string(record_path(&path))
                .unwrap()
                .contains("doing=changing it")
        );
        assert!(
            Lock::try_exclusive(&path, 0o600, "testing")
                .unwrap()
                .is_none(),
            "held"
        );
        drop(holder);
        assert!(
            fs::read_to_string(record_path(&path))
                .unwrap()
                .contains("doing=changing it"),
            "a lock let go does not wipe the record of the one that holds it now"
        );
        drop(other);
        assert_eq!(fs::read_to_string(record_path(&path)).unwrap(), "");
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

    /// Unix only: Windows has no directory fsync (`sync_dir`).
    #[test]
    #[cfg(unix)]
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
