//! An in-memory secret store for unit tests, which can also play an unreachable keychain or
//! one that fails part-way, to test that callers roll back.

use std::collections::HashMap;
use std::sync::Mutex;

use secrecy::{ExposeSecret, SecretString};

use super::{Error, Item, Key, SecretStore};

/// Secrets in a map. Not for shipping builds: it forgets everything on exit.
#[derive(Debug, Default)]
pub struct Memory {
    entries: Mutex<HashMap<String, SecretString>>,
    fault: Mutex<Fault>,
    during: Mutex<During>,
}

/// What runs inside the next call on one item, as another process would meanwhile.
#[derive(Default)]
struct During(Option<(Item, Box<dyn FnOnce() + Send>)>);

impl std::fmt::Debug for During {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "During(set)"
        } else {
            "During(none)"
        })
    }
}

#[derive(Debug, Default, Clone, Copy)]
enum Fault {
    #[default]
    None,
    /// Every operation fails, as with no Secret Service on the bus.
    Unreachable,
    /// Writing this item fails; everything else works.
    Refuses(Item),
    /// Deleting this item fails; everything else works.
    RefusesDelete(Item),
    /// Reading this item fails; everything else works.
    RefusesRead(Item),
    /// Writing this item "succeeds" but keeps nothing, as a keychain that lost the write.
    Forgets(Item),
}

impl Memory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether it holds no entry at all.
    pub fn is_empty(&self) -> bool {
        lock(&self.entries).is_empty()
    }

    /// A store whose every operation fails, as an unreachable keychain does.
    pub fn unreachable() -> Self {
        Self {
            fault: Mutex::new(Fault::Unreachable),
            ..Self::default()
        }
    }

    /// From now on, refuses to write `item`, to fail a change part-way.
    pub fn refuse(&self, item: Item) {
        *lock(&self.fault) = Fault::Refuses(item);
    }

    /// From now on, refuses to delete `item`.
    pub fn refuse_delete(&self, item: Item) {
        *lock(&self.fault) = Fault::RefusesDelete(item);
    }

    /// From now on, refuses to read `item`, as a keychain that fails one lookup.
    pub fn refuse_read(&self, item: Item) {
        *lock(&self.fault) = Fault::RefusesRead(item);
    }

    /// From now on, says yes to writes of `item` but keeps nothing.
    pub fn forget_writes(&self, item: Item) {
        *lock(&self.fault) = Fault::Forgets(item);
    }

    /// Runs `meanwhile` inside the next call on `item` (before it reads or writes), as another
    /// process acting while this one is at the keychain.
    pub fn during_next(&self, item: Item, meanwhile: impl FnOnce() + Send + 'static) {
        lock(&self.during).0 = Some((item, Box::new(meanwhile)));
    }

    /// Works normally again.
    pub fn heal(&self) {
        *lock(&self.fault) = Fault::None;
    }

    /// The accounts stored, sorted.
    pub fn accounts(&self) -> Vec<String> {
        let mut accounts: Vec<String> = lock(&self.entries).keys().cloned().collect();
        accounts.sort();
        accounts
    }

    fn check(&self, key: Key, op: Op) -> Result<(), Error> {
        let meanwhile = {
            let mut during = lock(&self.during);
            match during.0.take() {
                Some((item, meanwhile)) if item == key.item => Some(meanwhile),
                other => {
                    during.0 = other;
                    None
                }
            }
        };
        if let Some(meanwhile) = meanwhile {
            meanwhile();
        }
        let refused = || Error::Failure {
            account: key.to_string(),
            cause: "the in-memory test keychain refuses this entry".to_owned(),
        };
        match *lock(&self.fault) {
            Fault::Unreachable => Err(Error::Unavailable {
                cause: "the in-memory test keychain is switched off".to_owned(),
            }),
            Fault::Refuses(item) if op == Op::Write && item == key.item => Err(refused()),
            Fault::RefusesDelete(item) if op == Op::Delete && item == key.item => Err(refused()),
            Fault::RefusesRead(item) if op == Op::Read && item == key.item => Err(refused()),
            _ => Ok(()),
        }
    }

    fn forgets(&self, key: Key) -> bool {
        matches!(*lock(&self.fault), Fault::Forgets(item) if item == key.item)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    Write,
    Delete,
}

/// A poisoned lock only means another test thread panicked; the map itself is still whole.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SecretStore for Memory {
    fn get(&self, key: Key) -> Result<Option<SecretString>, Error> {
        self.check(key, Op::Read)?;
        Ok(lock(&self.entries)
            .get(&key.to_string())
            .map(|v| SecretString::from(v.expose_secret().to_owned())))
    }

    fn set(&self, key: Key, value: &SecretString) -> Result<(), Error> {
        self.check(key, Op::Write)?;
        if self.forgets(key) {
            return Ok(());
        }
        lock(&self.entries).insert(
            key.to_string(),
            SecretString::from(value.expose_secret().to_owned()),
        );
        Ok(())
    }

    fn delete(&self, key: Key) -> Result<bool, Error> {
        self.check(key, Op::Delete)?;
        Ok(lock(&self.entries).remove(&key.to_string()).is_some())
    }
}
