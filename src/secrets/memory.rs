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
}

#[derive(Debug, Default, Clone, Copy)]
enum Fault {
    #[default]
    None,
    /// Every operation fails, as with no Secret Service on the bus.
    Unreachable,
    /// Writing this item fails; everything else works.
    Refuses(Item),
}

impl Memory {
    pub fn new() -> Self {
        Self::default()
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

    /// The accounts stored, sorted.
    pub fn accounts(&self) -> Vec<String> {
        let mut accounts: Vec<String> = lock(&self.entries).keys().cloned().collect();
        accounts.sort();
        accounts
    }

    fn check(&self, key: Key, writing: bool) -> Result<(), Error> {
        match *lock(&self.fault) {
            Fault::Unreachable => Err(Error::Unavailable {
                cause: "the in-memory test keychain is switched off".to_owned(),
            }),
            Fault::Refuses(item) if writing && item == key.item => Err(Error::Failure {
                account: key.to_string(),
                cause: "the in-memory test keychain refuses this entry".to_owned(),
            }),
            _ => Ok(()),
        }
    }
}

/// A poisoned lock only means another test thread panicked; the map itself is still whole.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SecretStore for Memory {
    fn get(&self, key: Key) -> Result<Option<SecretString>, Error> {
        self.check(key, false)?;
        Ok(lock(&self.entries)
            .get(&key.to_string())
            .map(|v| SecretString::from(v.expose_secret().to_owned())))
    }

    fn set(&self, key: Key, value: &SecretString) -> Result<(), Error> {
        self.check(key, true)?;
        lock(&self.entries).insert(
            key.to_string(),
            SecretString::from(value.expose_secret().to_owned()),
        );
        Ok(())
    }

    fn delete(&self, key: Key) -> Result<bool, Error> {
        self.check(key, false)?;
        Ok(lock(&self.entries).remove(&key.to_string()).is_some())
    }
}
