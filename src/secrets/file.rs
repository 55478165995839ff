//! The `file` store (issue 27, first part): every keychain item in one file encrypted with a
//! passphrase, for machines without a Secret Service (WSL, servers, containers). The file is an
//! [age](https://age-encryption.org) file (scrypt passphrase recipient, ChaCha20-Poly1305
//! payload) whose plaintext is a JSON object from account name (the same `<uuid>-<item>` names
//! as the OS keychain's) to secret. Each change rewrites the whole file atomically (old or new,
//! never torn; mode 0600 in a 0700 directory); the open store keeps the items in memory, wiped
//! when dropped. A wrong passphrase and a damaged file are told apart, and neither changes
//! the file.
//!
//! Not yet chosen by anything: the `[settings] keychain` choice, the passphrase prompts, the
//! agent holding the store open and `keychain migrate` are the rest of issue 27.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::{Error, Key, SecretStore};

/// The scrypt work factor's upper bound when opening (age's own default target is about one
/// second on the machine that writes; a file from a faster machine may ask for more).
const MAX_WORK_FACTOR: u8 = 22;

/// Why the store can't be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("wrong passphrase for {}", .0.display())]
    WrongPassphrase(PathBuf),
    #[error("{} is damaged or is not credtray's encrypted keychain ({why}); it was left as it is", .path.display())]
    Damaged { path: PathBuf, why: String },
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The open store: its file, the passphrase it is written with, the items.
pub struct FileStore {
    path: PathBuf,
    passphrase: SecretString,
    /// scrypt's work factor for writing; `None`: age's default (about a second).
    work_factor: Option<u8>,
    loaded: Mutex<Loaded>,
}

/// The items as last read or written, and the file they were in then.
struct Loaded {
    items: BTreeMap<String, Zeroizing<String>>,
    /// `None`: there was no file.
    stamp: Option<Stamp>,
}

/// Which file, of what length, changed when: another process's write changes it (a rename
/// brings a new inode), so this process reads the file again before using its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    #[cfg(unix)]
    inode: (u64, u64),
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Stamp {
    fn of(path: &Path) -> std::io::Result<Option<Self>> {
        match std::fs::metadata(path) {
            Ok(m) => Ok(Some(Self {
                #[cfg(unix)]
                inode: {
                    use std::os::unix::fs::MetadataExt;
                    (m.dev(), m.ino())
                },
                len: m.len(),
                modified: m.modified().ok(),
            })),
            // No file, or no directory for it (a file in the way): no items yet.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.path)
            .finish()
    }
}

impl FileStore {
    /// Opens the store at `path` with `passphrase`; a file that does not exist yet is an empty
    /// store (written on its first change).
    pub fn open(path: impl Into<PathBuf>, passphrase: SecretString) -> Result<Self, OpenError> {
        let path = path.into();
        let loaded = read(&path, &passphrase)?;
        Ok(Self {
            path,
            passphrase,
            work_factor: None,
            loaded: Mutex::new(loaded),
        })
    }

    /// Writes with scrypt's work factor `log_n` instead of age's default (tests: fast).
    pub fn with_work_factor(mut self, log_n: u8) -> Self {
        self.work_factor = Some(log_n.clamp(1, MAX_WORK_FACTOR));
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The accounts it holds (names only).
    pub fn accounts(&self) -> Result<Vec<String>, Error> {
        Ok(self.current()?.items.keys().cloned().collect())
    }

    /// The items, read again first if another process changed the file since.
    fn current(&self) -> Result<std::sync::MutexGuard<'_, Loaded>, Error> {
        let mut loaded = self
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Stamp::of(&self.path).map_err(|e| self.unreadable(e))?;
        if now != loaded.stamp {
            tracing::debug!(path = %self.path.display(), "the file keychain changed; reading it again");
            *loaded =
                read(&self.path, &self.passphrase).map_err(|e| Error::Store(e.to_string()))?;
        }
        Ok(loaded)
    }

    fn unreadable(&self, e: std::io::Error) -> Error {
        Error::Store(format!("cannot read {}: {e}", self.path.display()))
    }

    /// Changes the items with `change` (which says whether it changed anything) and writes
    /// them, holding the file's lock so that no other process's change in between is lost.
    fn change(
        &self,
        account: &str,
        change: impl FnOnce(&mut BTreeMap<String, Zeroizing<String>>) -> bool,
    ) -> Result<bool, Error> {
        let lock_path = lock_path(&self.path);
        if let Some(dir) = self.path.parent() {
            crate::atomic::create_dir(dir, 0o700)
                .map_err(|e| Error::Store(format!("cannot create {}: {e}", dir.display())))?;
        }
        let _lock =
            crate::atomic::Lock::exclusive(&lock_path, 0o600, "writing credtray's file keychain")
                .map_err(|e| Error::Store(format!("cannot lock {}: {e}", lock_path.display())))?;
        let mut loaded = self.current()?;
        let mut next = loaded.items.clone();
        if !change(&mut next) {
            return Ok(false);
        }
        self.save(&next, account)?;
        let stamp = Stamp::of(&self.path).map_err(|e| self.unreadable(e))?;
        *loaded = Loaded { items: next, stamp };
        Ok(true)
    }

    /// Writes `items` over the file (atomically): on failure the file and the caller's map
    /// are as they were.
    fn save(
        &self,
        items: &BTreeMap<String, Zeroizing<String>>,
        account: &str,
    ) -> Result<(), Error> {
        let fail = |cause: String| {
            Error::Store(format!(
                "cannot write {} (entry {account}): {cause}",
                self.path.display()
            ))
        };
        let plain = Zeroizing::new(
            serde_json::to_vec(
                &items
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect::<BTreeMap<_, _>>(),
            )
            .map_err(|e| fail(e.to_string()))?,
        );
        let mut recipient = age::scrypt::Recipient::new(self.passphrase.clone());
        if let Some(log_n) = self.work_factor {
            recipient.set_work_factor(log_n);
        }
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(|e| fail(e.to_string()))?;
        let mut sealed = Vec::with_capacity(plain.len() + 256);
        let mut writer = encryptor
            .wrap_output(&mut sealed)
            .map_err(|e| fail(e.to_string()))?;
        writer
            .write_all(&plain)
            .and_then(|()| writer.finish().map(drop))
            .map_err(|e| fail(e.to_string()))?;
        crate::atomic::write(&self.path, &sealed, 0o600)
            .map_err(|e| fail(e.to_string()))?
            .warn_if_unsynced(&self.path);
        Ok(())
    }
}

/// Whether `bytes` look like credtray's encrypted keychain (an age file with a passphrase
/// recipient), without decrypting it; why not.
pub fn is_keychain(bytes: &[u8]) -> Result<(), String> {
    let decryptor = age::Decryptor::new(bytes).map_err(|e| e.to_string())?;
    if decryptor.is_scrypt() {
        Ok(())
    } else {
        Err("it is not encrypted with a passphrase".to_owned())
    }
}

/// The lock beside the file that writers hold (a sidecar: the file itself is replaced).
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".lock");
    path.with_file_name(name)
}

/// The file's items and its stamp; no file is no items.
fn read(path: &Path, passphrase: &SecretString) -> Result<Loaded, OpenError> {
    // Stamped before reading: a write in between makes the next use read it again.
    let read_error = |source| OpenError::Read {
        path: path.to_owned(),
        source,
    };
    let stamp = Stamp::of(path).map_err(read_error)?;
    let items = match std::fs::read(path) {
        Ok(bytes) => decrypt(path, &bytes, passphrase)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(source) => return Err(read_error(source)),
    };
    Ok(Loaded { items, stamp })
}

/// The items of an encrypted file, or why not.
fn decrypt(
    path: &Path,
    bytes: &[u8],
    passphrase: &SecretString,
) -> Result<BTreeMap<String, Zeroizing<String>>, OpenError> {
    let damaged = |why: String| OpenError::Damaged {
        path: path.to_owned(),
        why,
    };
    let decryptor = age::Decryptor::new(bytes).map_err(|e| damaged(e.to_string()))?;
    if !decryptor.is_scrypt() {
        return Err(damaged("it is not encrypted with a passphrase".to_owned()));
    }
    let mut identity = age::scrypt::Identity::new(passphrase.clone());
    identity.set_max_work_factor(MAX_WORK_FACTOR);
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => {
                OpenError::WrongPassphrase(path.to_owned())
            }
            other => damaged(other.to_string()),
        })?;
    let mut plain = Zeroizing::new(Vec::new());
    reader
        .read_to_end(&mut plain)
        .map_err(|e| damaged(e.to_string()))?;
    let items: BTreeMap<String, String> =
        serde_json::from_slice(&plain).map_err(|e| damaged(format!("its content: {e}")))?;
    Ok(items
        .into_iter()
        .map(|(k, v)| (k, Zeroizing::new(v)))
        .collect())
}

impl SecretStore for FileStore {
    fn get(&self, key: Key) -> Result<Option<SecretString>, Error> {
        Ok(self
            .current()?
            .items
            .get(&key.to_string())
            .map(|v| SecretString::from(v.as_str().to_owned())))
    }

    fn set(&self, key: Key, value: &SecretString) -> Result<(), Error> {
        let account = key.to_string();
        self.change(&account, |items| {
            items.insert(
                account.clone(),
                Zeroizing::new(value.expose_secret().to_owned()),
            );
            true
        })
        .map(drop)
    }

    fn delete(&self, key: Key) -> Result<bool, Error> {
        let account = key.to_string();
        self.change(&account, |items| items.remove(&account).is_some())
    }

    fn accounts(&self) -> Result<Option<Vec<String>>, Error> {
        FileStore::accounts(self).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Item;

    fn key(item: Item) -> Key {
        Key::new(
            "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10".parse().unwrap(),
            item,
        )
    }

    fn open(path: &Path, passphrase: &str) -> Result<FileStore, OpenError> {
        FileStore::open(path, passphrase.into()).map(|s| s.with_work_factor(10))
    }

    #[test]
    fn items_round_trip_through_the_encrypted_file_and_nothing_is_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credtray/keychain.age");
        let store = open(&path, "correct horse").unwrap();
        assert!(!path.exists(), "nothing is written before a change");
        store
            .set(key(Item::AccessKey), &"AKIA-and-secret-7731".into())
            .unwrap();
        store
            .set(Key::proxy_password(), &"proxy-pw-5521".into())
            .unwrap();
        assert!(store.delete(key(Item::AccessKey)).unwrap());
        assert!(!store.delete(key(Item::AccessKey)).unwrap());
        store
            .set(key(Item::SessionToken), &"token-9090".into())
            .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        for clear in [
            "AKIA-and-secret",
            "proxy-pw-5521",
            "token-9090",
            "settings-proxy",
        ] {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(clear),
                "{clear} in clear"
            );
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
        let again = open(&path, "correct horse").unwrap();
        assert_eq!(
            again.accounts().unwrap(),
            [
                "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10-iam-user-session-token",
                "settings-proxy-password"
            ]
        );
        assert_eq!(
            again
                .get(Key::proxy_password())
                .unwrap()
                .unwrap()
                .expose_secret(),
            "proxy-pw-5521"
        );
        assert!(again.get(key(Item::AccessKey)).unwrap().is_none());
    }

    #[test]
    fn a_wrong_passphrase_and_a_damaged_file_are_told_apart_and_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keychain.age");
        let store = open(&path, "right").unwrap();
        store.set(key(Item::SessionToken), &"t".into()).unwrap();
        let written = std::fs::read(&path).unwrap();
        let err = open(&path, "wrong").unwrap_err();
        assert!(matches!(err, OpenError::WrongPassphrase(_)), "{err}");
        assert!(
            err.to_string().starts_with("wrong passphrase for "),
            "{err}"
        );
        for damaged in [
            written[..written.len() / 2].to_vec(),
            written[..written.len() - 1].to_vec(),
            b"not an age file".to_vec(),
            {
                let mut flipped = written.clone();
                let last = flipped.len() - 1;
                flipped[last] ^= 1;
                flipped
            },
        ] {
            std::fs::write(&path, &damaged).unwrap();
            let err = open(&path, "right").unwrap_err();
            assert!(matches!(err, OpenError::Damaged { .. }), "{err}");
            assert!(err.to_string().contains("keychain.age"), "{err}");
            assert_eq!(std::fs::read(&path).unwrap(), damaged, "left as it is");
        }
    }

    #[test]
    fn a_failed_write_keeps_the_items_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir.path().join("blocker/keychain.age"), "pw").unwrap();
        // Its directory can't be made (a file is in the way), even for root.
        std::fs::write(dir.path().join("blocker"), "").unwrap();
        let refused = store
            .set(key(Item::SessionToken), &"never kept".into())
            .unwrap_err();
        assert!(refused.to_string().contains("blocker"), "{refused}");
        assert!(store.get(key(Item::SessionToken)).unwrap().is_none());
        assert!(store.accounts().unwrap().is_empty());
    }

    #[test]
    fn two_processes_writing_the_same_file_lose_nothing_of_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keychain.age");
        let a = open(&path, "pw").unwrap();
        let b = open(&path, "pw").unwrap();
        a.set(key(Item::SessionToken), &"from a".into()).unwrap();
        // b opened before a wrote: it reads the file again before its own write and its read.
        b.set(key(Item::RoleCredentials), &"from b".into()).unwrap();
        assert_eq!(
            a.get(key(Item::RoleCredentials))
                .unwrap()
                .unwrap()
                .expose_secret(),
            "from b"
        );
        assert!(a.delete(key(Item::SessionToken)).unwrap());
        assert!(b.get(key(Item::SessionToken)).unwrap().is_none());
        let fresh = open(&path, "pw").unwrap();
        assert_eq!(
            fresh.accounts().unwrap(),
            ["0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10-role-credentials"]
        );
    }
}
