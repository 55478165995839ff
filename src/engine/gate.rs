//! The keychain as the engine calls it: never while holding the store's lock, so that no
//! command waits on another one's keychain (an unlock prompt nobody answers, a slow Secret
//! Service).
//!
//! Every engine call to the keychain goes through [`Gate`]. Outside the store's lock it is the
//! plain call. Under it (a command that read the store, decided, and now keeps an original,
//! reads the ones it gives back, writes keys, drops what no saved record needs), the gate lets
//! the store's lock go for the call and takes it back after ([`crate::store::Hold::released`]):
//! if the store changed meanwhile, the call returns [`secrets::Error::Moved`] and the command's
//! own keychain-failure path runs (it undoes what it wrote and changes no file: each keychain
//! call comes before the file writes it allows, or after the save that records them), and the
//! store saves nothing more. Stop and publish then start again from the store as it is (`run::retrying`);
//! other commands fail with a sentence that says to try again. So every check and the write it
//! allows still see one store, as when the lock was held throughout.
//!
//! What the store can't vouch for is the keychain itself: a decision such as "no saved record
//! points at this kept original, drop it" must not meet another command that keeps a new
//! original under the same entry in between. So calls under the store's lock also hold a lock
//! of the entry's owner (the session or integration), `keychain/<uuid>.lock` beside the store,
//! tried (without waiting) while the store's lock is still held, so that the decision and the
//! call are one step for every other keychain call on that owner, and kept until the command
//! lets the store go (its `Locked` is dropped). While held, no other command reads, writes or
//! drops that owner's entries, nor saves a record pointing at one (it would have to write the
//! entry first): so once the store moved, a command may still undo its own writes there, and
//! nothing else. When another process holds an owner's lock (at the keychain itself), the gate
//! lets the store's lock go, waits at most [`crate::atomic::LOCK_WAIT`] (then says who holds it
//! and that it waits for the keychain), and checks the store as above. No process waits for
//! any lock while holding the store's; two commands that each hold an owner the other waits
//! for (two deletes of overlapping cascades) give up after those 5 s, naming each other,
//! rather than hang. Calls outside the store's lock (obtaining credentials, caching them) take
//! no owner's lock: they decide nothing that the store records.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::thread::ThreadId;

use secrecy::SecretString;

use super::owning::failpoint_wait;
use crate::atomic;
use crate::secrets::{self, Key, SecretStore};
use crate::store::{Hold, Locked};

/// What the holder of an owner's lock says it is doing.
const AT_THE_KEYCHAIN: &str = "waiting for the OS keychain";

/// The engine's keychain: the real one, called with the store's lock let go (module docs).
pub(super) struct Gate {
    inner: Arc<dyn SecretStore>,
    /// Where the owners' locks are: `keychain/` in the store's directory.
    locks: PathBuf,
    /// The store's lock the engine holds now, and on which thread.
    held: Mutex<Option<(ThreadId, Weak<Hold>)>>,
}

impl Gate {
    pub(super) fn new(inner: Arc<dyn SecretStore>, store_dir: &std::path::Path) -> Self {
        Self {
            inner,
            locks: store_dir.join("keychain"),
            held: Mutex::new(None),
        }
    }

    /// From now on (until `locked` is dropped), keychain calls on this thread let its lock go.
    pub(super) fn hold(&self, locked: &Locked) {
        let held = Some((std::thread::current().id(), Arc::downgrade(locked.hold())));
        *self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = held;
    }

    /// The keychain itself, for a caller that holds no store lock at all (`doctor`).
    pub(super) fn unlocked(&self) -> &dyn SecretStore {
        &*self.inner
    }

    pub(super) fn get(&self, key: Key) -> Result<Option<SecretString>, secrets::Error> {
        self.call(key, |store| store.get(key))
    }

    pub(super) fn set(&self, key: Key, value: &SecretString) -> Result<(), secrets::Error> {
        self.call(key, |store| store.set(key, value))
    }

    pub(super) fn delete(&self, key: Key) -> Result<bool, secrets::Error> {
        self.call(key, |store| store.delete(key))
    }

    /// The store's lock this thread holds now, if any.
    fn held(&self) -> Option<Arc<Hold>> {
        let held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*held {
            Some((thread, hold)) if *thread == std::thread::current().id() => hold.upgrade(),
            _ => None,
        }
    }

    fn call<T>(
        &self,
        key: Key,
        op: impl FnOnce(&dyn SecretStore) -> Result<T, secrets::Error>,
    ) -> Result<T, secrets::Error> {
        let Some(hold) = self.held() else {
            failpoint_wait("keychain-wait");
            return op(&*self.inner);
        };
        let moved = || secrets::Error::Moved {
            account: key.to_string(),
        };
        let busy = |e: std::io::Error| secrets::Error::Busy {
            account: key.to_string(),
            cause: e.to_string(),
        };
        let owner = key.owner().hyphenated().to_string();
        if hold.moved() {
            // What was decided on the store as it was may not go on; only undoing this
            // command's own writes may, on owners it still holds (no one else wrote there).
            if !hold.keeps(&owner) {
                return Err(moved());
            }
            let (result, _) = hold.released(|| op(&*self.inner));
            return result;
        }
        if !hold.keeps(&owner) {
            atomic::create_dir(&self.locks, 0o700).map_err(busy)?;
            let path = self.locks.join(format!("{owner}.lock"));
            // Tried under the store's lock: what was just decided and this call are one step
            // for every other keychain call on this owner.
            let lock =
                match atomic::Lock::try_exclusive(&path, 0o600, AT_THE_KEYCHAIN).map_err(busy)? {
                    Some(lock) => Some(lock),
                    None => {
                        let (lock, retaken) = hold
                            .released(|| atomic::Lock::exclusive(&path, 0o600, AT_THE_KEYCHAIN));
                        let lock = lock.map_err(busy)?;
                        let moved_meanwhile = retaken.is_err();
                        hold.keep(owner.clone(), lock);
                        if moved_meanwhile {
                            return Err(moved());
                        }
                        None
                    }
                };
            if let Some(lock) = lock {
                hold.keep(owner, lock);
            }
        }
        let (result, retaken) = hold.released(|| {
            failpoint_wait("keychain-wait");
            op(&*self.inner)
        });
        retaken.map_err(|_| moved())?;
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use secrecy::{ExposeSecret, SecretString};

    use crate::awsfiles::Files;
    use crate::engine::{Engine, Error, NoPrompt};
    use crate::secrets::{Item, Key, Memory, SecretStore};
    use crate::session::{
        AccessKeyId, IamUserKeys, NewSession, SecretAccessKey, SessionId, SessionKind,
    };
    use crate::store::Store;

    struct Rig {
        dir: tempfile::TempDir,
        mem: Arc<Memory>,
        engine: Engine,
    }

    fn rig() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let mem = Arc::new(Memory::new());
        let engine = Engine::new(
            Store::at(dir.path().join("cfg")),
            mem.clone(),
            Files::at(dir.path().join("credentials"), dir.path().join("config")),
            Arc::new(crate::aws::Fake::new()),
        );
        Rig { dir, mem, engine }
    }

    impl Rig {
        fn user(&self, alias: &str, key_id: &str) -> SessionId {
            let new = NewSession {
                publish: None,
                alias: alias.parse().unwrap(),
                profile: Some(alias.parse().unwrap()),
                region: Some("eu-west-1".into()),
                kind: SessionKind::IamUser {
                    mfa_device: None,
                    mfa_source: None,
                },
            };
            let keys = IamUserKeys {
                access_key_id: key_id_of(key_id),
                secret_access_key: secret_of("s3cret"),
            };
            self.engine.add(new, Some(keys)).unwrap().id
        }

        fn secret(&self, id: SessionId, item: Item) -> Option<String> {
            self.mem
                .get(Key::new(id, item))
                .unwrap()
                .map(|s| s.expose_secret().to_owned())
        }

        fn credentials(&self) -> String {
            std::fs::read_to_string(self.dir.path().join("credentials")).unwrap_or_default()
        }

        /// What another command does while this one is at the keychain: pins `id`, through the
        /// store's lock (which it gets at once: this one let it go).
        fn pin_meanwhile(&self, item: Item, id: SessionId) {
            let store = self.engine.store().clone();
            self.mem.during_next(item, move || {
                let mut locked = store.lock().expect("the store's lock is free meanwhile");
                locked.catalog.set_pinned(id, true).unwrap();
                locked.save().unwrap();
            });
        }

        fn pinned(&self, id: SessionId) -> bool {
            self.engine.catalog().unwrap().get(id).unwrap().pinned
        }
    }

    fn key_id_of(id: &str) -> AccessKeyId {
        AccessKeyId::parse(&SecretString::from(id.to_owned())).unwrap()
    }

    fn secret_of(secret: &str) -> SecretAccessKey {
        SecretAccessKey::parse(&SecretString::from(secret.to_owned())).unwrap()
    }

    const MINE: &str = "[dev]\naws_access_key_id = AKIAMINE\n";

    #[test]
    fn a_take_over_whose_store_changed_while_keeping_the_original_starts_afresh() {
        let mut r = rig();
        let id = r.user("dev", "AKIAAAAAAAAAAAAAAAAA");
        let other = r.user("other", "AKIABBBBBBBBBBBBBBBB");
        std::fs::write(r.dir.path().join("credentials"), MINE).unwrap();
        r.pin_meanwhile(Item::TakenOverCredentials, other);
        r.engine.start(id, &mut NoPrompt, true).unwrap();
        assert!(r.pinned(other), "the other command's change is kept");
        assert!(r.credentials().contains("ASIA"), "{}", r.credentials());
        assert_eq!(
            r.secret(id, Item::TakenOverCredentials).as_deref(),
            Some(MINE)
        );
        r.engine.stop(id).unwrap();
        assert_eq!(r.credentials(), MINE);
        assert_eq!(r.secret(id, Item::TakenOverCredentials), None);
    }

    #[test]
    fn a_stop_whose_store_changed_while_reading_the_original_starts_afresh() {
        let mut r = rig();
        let id = r.user("dev", "AKIAAAAAAAAAAAAAAAAA");
        let other = r.user("other", "AKIABBBBBBBBBBBBBBBB");
        std::fs::write(r.dir.path().join("credentials"), MINE).unwrap();
        r.engine.start(id, &mut NoPrompt, true).unwrap();
        r.pin_meanwhile(Item::TakenOverCredentials, other);
        r.engine.stop(id).unwrap();
        assert!(r.pinned(other), "the other command's change is kept");
        assert_eq!(r.credentials(), MINE);
        assert_eq!(r.secret(id, Item::TakenOverCredentials), None);
        assert!(r.engine.store().load_all().unwrap().owned.is_empty());
    }

    #[test]
    fn an_edit_whose_store_changed_while_writing_keys_fails_and_puts_the_old_keys_back() {
        let mut r = rig();
        let id = r.user("dev", "AKIAAAAAAAAAAAAAAAAA");
        let other = r.user("other", "AKIABBBBBBBBBBBBBBBB");
        let edit = crate::session::Edit {
            access_key_id: Some(key_id_of("AKIACCCCCCCCCCCCCCCC")),
            secret_access_key: Some(secret_of("n3w")),
            ..crate::session::Edit::default()
        };
        r.pin_meanwhile(Item::AccessKey, other);
        let before = r.engine.catalog().unwrap();
        let err = r.engine.edit(id, edit, &mut NoPrompt).unwrap_err();
        assert!(super::super::run::moved(&err), "{err}");
        assert!(err.to_string().contains("try again"), "{err}");
        assert!(r.pinned(other), "the other command's change is kept");
        assert_eq!(
            r.engine.catalog().unwrap().get(id),
            before.get(id),
            "the edit saved nothing"
        );
        let pair: serde_json::Value =
            serde_json::from_str(&r.secret(id, Item::AccessKey).unwrap()).unwrap();
        assert_eq!(
            pair,
            serde_json::json!({"access_key_id": "AKIAAAAAAAAAAAAAAAAA", "secret_access_key": "s3cret"}),
            "the old pair is back"
        );
    }

    #[test]
    fn a_keychain_call_of_a_change_waits_for_no_store_lock_and_another_at_the_same_entries_is_named()
     {
        let mut r = rig();
        let id = r.user("dev", "AKIAAAAAAAAAAAAAAAAA");
        std::fs::write(r.dir.path().join("credentials"), MINE).unwrap();
        r.engine.start(id, &mut NoPrompt, true).unwrap();
        // Another process at the keychain for this session's entries.
        let lock = r
            .engine
            .store()
            .dir()
            .join("keychain")
            .join(format!("{}.lock", id.uuid().hyphenated()));
        let at_keychain =
            crate::atomic::Lock::exclusive(&lock, 0o600, super::AT_THE_KEYCHAIN).unwrap();
        let store = r.engine.store().clone();
        let meanwhile = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(500));
            let started = std::time::Instant::now();
            // Waiting for the entries, the stop does not hold the store.
            drop(store.lock().unwrap());
            started.elapsed()
        });
        let err = r.engine.stop(id).unwrap_err();
        assert!(
            meanwhile.join().unwrap() < std::time::Duration::from_secs(2),
            "the store's lock was free while the stop waited"
        );
        let Error::Secrets(crate::secrets::Error::Busy { cause, .. }) = &err else {
            panic!("{err}");
        };
        assert!(
            cause.contains(&format!("process {}", std::process::id()))
                && cause.contains("waiting for the OS keychain"),
            "{err}"
        );
        drop(at_keychain);
        assert!(
            r.credentials().contains("ASIA"),
            "nothing was given back yet"
        );
        r.engine.stop(id).unwrap();
        assert_eq!(r.credentials(), MINE);
    }
}
