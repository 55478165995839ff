//! The Secret Service (GNOME Keyring, KWallet, KeePassXC) over one D-Bus connection per
//! [`Keychain`] value: the connection and its encryption session (`OpenSession`) are opened on
//! first use and reused for every later get, set and delete, where `keyring` 3.6 opened both
//! afresh for each call (twice for a write), milliseconds apiece for the Diffie-Hellman
//! exchange alone. A call that fails on a reused connection (the daemon or the bus restarted)
//! reconnects once and runs again.
//!
//! The items are the ones `keyring` 3.6 reads and writes, so entries written before this module
//! existed keep working and `secret-tool lookup service credtray username <account>` finds new
//! ones: searched service-wide by `target=default`, `service`, `username`, then (as `keyring`
//! does for items of keyring v1 and third-party tools) in the default collection without
//! `target`; created in the default collection with those attributes plus
//! `application=rust-keyring`, `keyring`'s label, content type `text/plain`; locked items and
//! a locked collection are unlocked through the service's prompt.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use dbus_secret_service::{EncryptionType, Item as SsItem, SecretService};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::{Error, Key, SERVICE, SecretStore};

/// The collection `keyring` files entries under (its `target`): the default collection.
const TARGET: &str = "default";
/// The `application` attribute `keyring` 3.6 sets on the items it creates.
const APPLICATION: &str = "rust-keyring";
/// The content type `keyring` 3.6 gives secrets.
const CONTENT_TYPE: &str = "text/plain";
/// The end of the label `keyring` 3.6.3 gives new items (`<account>@credtray:default (keyring
/// v3.6.3)`), the name Seahorse and `secret-tool` show: kept, so items look the same whichever
/// credtray wrote them.
const LABEL_SUFFIX: &str = "(keyring v3.6.3)";

/// The Secret Service on the D-Bus session bus, through one connection kept for the life of
/// this value. Share it (`Arc<dyn SecretStore>`) rather than building one per call.
pub struct Keychain {
    /// `None` until first used, and again after a connection failed. The lock also keeps
    /// calls from interleaving on the connection, which serves one call at a time.
    service: Mutex<Option<SecretService>>,
}

impl std::fmt::Debug for Keychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keychain")
            .field("connected", &self.lock().is_some())
            .finish()
    }
}

impl Default for Keychain {
    fn default() -> Self {
        Self::new()
    }
}

/// Why one call failed, before it becomes a [`Error`] naming the entry.
enum Fault {
    Service(dbus_secret_service::Error),
    /// More than one item matches the entry, so which one is meant is unknown.
    Ambiguous(usize),
    /// The stored bytes are not UTF-8 (they are never put in a message).
    NotText,
}

impl From<dbus_secret_service::Error> for Fault {
    fn from(e: dbus_secret_service::Error) -> Self {
        Fault::Service(e)
    }
}

impl Keychain {
    /// A keychain that connects on first use, so a command that needs no secret never
    /// touches the bus.
    pub fn new() -> Self {
        Self {
            service: Mutex::new(None),
        }
    }

    /// A panic during a call leaves the connection in an unknown state: start afresh.
    fn lock(&self) -> MutexGuard<'_, Option<SecretService>> {
        self.service.lock().unwrap_or_else(|poisoned| {
            let mut guard = poisoned.into_inner();
            *guard = None;
            guard
        })
    }

    /// Runs `op` on the kept connection, connecting first if there is none. A D-Bus failure
    /// on a connection opened by an earlier call may only mean that connection is gone (the
    /// daemon restarted and forgot our session, or the bus went away): connect again and run
    /// `op` once more. Every operation here is safe to repeat.
    fn with<T>(
        &self,
        key: Key,
        op: impl Fn(&SecretService) -> Result<T, Fault>,
    ) -> Result<T, Error> {
        let mut guard = self.lock();
        let reused = guard.is_some();
        let result = op(connected(&mut guard)?);
        let result = match result {
            Err(Fault::Service(dbus_secret_service::Error::Dbus(e))) if reused => {
                tracing::info!(
                    error = e.name().unwrap_or("unnamed"),
                    "the Secret Service connection failed; connecting again"
                );
                *guard = None;
                op(connected(&mut guard)?)
            }
            other => other,
        };
        if matches!(
            result,
            Err(Fault::Service(dbus_secret_service::Error::Dbus(_)))
        ) {
            // Whatever broke, the next call starts from a fresh connection.
            *guard = None;
        }
        result.map_err(|fault| map_fault(key, fault))
    }
}

/// The kept connection, opened (one D-Bus connection, one encrypted session) if there is none.
fn connected(slot: &mut Option<SecretService>) -> Result<&SecretService, Error> {
    let service = match slot.take() {
        Some(service) => service,
        None => {
            let service =
                SecretService::connect(EncryptionType::Dh).map_err(|e| Error::Unavailable {
                    cause: e.to_string(),
                })?;
            tracing::debug!("connected to the Secret Service");
            service
        }
    };
    Ok(slot.insert(service))
}

/// The one item of `account`, unlocked, or `None`; as `keyring` 3.6 finds it.
fn find<'a>(service: &'a SecretService, account: &str) -> Result<Option<SsItem<'a>>, Fault> {
    let search = service.search_items(HashMap::from([
        ("target", TARGET),
        ("service", SERVICE),
        ("username", account),
    ]))?;
    let count = search.unlocked.len() + search.locked.len();
    if count > 1 {
        return Err(Fault::Ambiguous(count));
    }
    if let Some(item) = search.unlocked.into_iter().next() {
        return Ok(Some(item));
    }
    if let Some(item) = search.locked.into_iter().next() {
        // The service asks the user (its own prompt) to unlock the collection.
        item.unlock()?;
        return Ok(Some(item));
    }
    // Items of keyring v1 and of other tools have no `target`; keyring 3.6 still finds them,
    // in the default collection only.
    let collection = service.get_default_collection()?;
    let legacy =
        collection.search_items(HashMap::from([("service", SERVICE), ("username", account)]))?;
    match legacy.as_slice() {
        [] => Ok(None),
        [item] => {
            // The collection's items borrow the collection; the same item, held by the service.
            let item = SsItem::new(service, item.path.clone());
            item.ensure_unlocked()?;
            Ok(Some(item))
        }
        more => Err(Fault::Ambiguous(more.len())),
    }
}

impl SecretStore for Keychain {
    fn get(&self, key: Key) -> Result<Option<SecretString>, Error> {
        let account = key.to_string();
        self.with(key, |service| {
            let Some(item) = find(service, &account)? else {
                return Ok(None);
            };
            let bytes = Zeroizing::new(item.get_secret()?);
            let text = std::str::from_utf8(&bytes).map_err(|_| Fault::NotText)?;
            Ok(Some(SecretString::from(text.to_owned())))
        })
    }

    fn set(&self, key: Key, value: &SecretString) -> Result<(), Error> {
        let account = key.to_string();
        let secret = value.expose_secret().as_bytes();
        self.with(key, |service| {
            // Replace an existing item's secret rather than add a second item beside it, which
            // would make every later lookup ambiguous.
            if let Some(item) = find(service, &account)? {
                return Ok(item.set_secret(secret, CONTENT_TYPE)?);
            }
            let collection = service.get_default_collection()?;
            collection.ensure_unlocked()?;
            let label = format!("{account}@{SERVICE}:{TARGET} {LABEL_SUFFIX}");
            collection.create_item(
                &label,
                HashMap::from([
                    ("target", TARGET),
                    ("service", SERVICE),
                    ("username", account.as_str()),
                    ("application", APPLICATION),
                ]),
                secret,
                true,
                CONTENT_TYPE,
            )?;
            Ok(())
        })
    }

    fn delete(&self, key: Key) -> Result<bool, Error> {
        let account = key.to_string();
        self.with(key, |service| match find(service, &account)? {
            Some(item) => {
                item.delete()?;
                Ok(true)
            }
            None => Ok(false),
        })
    }

    fn accounts(&self) -> Result<Option<Vec<String>>, Error> {
        // Listing reads attributes only, which a locked item shows too: nothing is unlocked.
        // The key only names an entry in messages of faults a listing can't have.
        self.with(Key::proxy_password(), |service| {
            let search = service.search_items(HashMap::from([("service", SERVICE)]))?;
            let mut accounts = Vec::new();
            for item in search.unlocked.iter().chain(&search.locked) {
                if let Some(account) = item.get_attributes()?.remove("username") {
                    accounts.push(account);
                }
            }
            accounts.sort();
            accounts.dedup();
            Ok(Some(accounts))
        })
    }
}

/// As `keyring` 3.6 mapped them (and so as credtray did before): any failure of the service is
/// "unavailable", an entry that can't be read as one secret is a failure of that entry.
fn map_fault(key: Key, fault: Fault) -> Error {
    let failure = |cause: String| Error::Failure {
        account: key.to_string(),
        cause,
    };
    match fault {
        Fault::Service(e) => Error::Unavailable {
            cause: e.to_string(),
        },
        Fault::NotText => failure("the stored value is not UTF-8 text".to_owned()),
        Fault::Ambiguous(n) => failure(format!("{n} entries match it")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keychain_is_shared_between_threads_and_connects_only_when_used() {
        fn shared<T: Send + Sync>() {}
        shared::<Keychain>();
        let keychain = Keychain::new();
        assert_eq!(format!("{keychain:?}"), "Keychain { connected: false }");
    }

    #[test]
    fn messages_name_the_entry_and_never_the_bytes() {
        let key = Key::new(
            crate::session::SessionId::new(),
            super::super::Item::AccessKeyId,
        );
        let e = map_fault(key, Fault::NotText);
        assert!(
            e.to_string().contains(&key.to_string()) && e.to_string().contains("not UTF-8"),
            "{e}"
        );
        let e = map_fault(key, Fault::Ambiguous(2));
        assert!(e.to_string().contains("2 entries match it"), "{e}");
        let e = map_fault(key, Fault::Service(dbus_secret_service::Error::Locked));
        assert!(matches!(e, Error::Unavailable { .. }), "{e}");
    }
}
