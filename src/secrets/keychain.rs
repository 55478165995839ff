//! The OS keychain through the `keyring` crate where credtray does not talk to the Secret
//! Service itself: macOS Keychain, Windows Credential Manager. Their calls are local (no
//! connection to keep), so an entry per call costs nothing worth saving.

use secrecy::{ExposeSecret, SecretString};

use super::{Error, Key, SERVICE, SecretStore};

/// The real keychain of this OS.
#[derive(Debug, Default, Clone, Copy)]
pub struct Keychain;

impl Keychain {
    pub fn new() -> Self {
        Self
    }

    fn entry(key: Key) -> Result<keyring::Entry, Error> {
        keyring::Entry::new(SERVICE, &key.to_string()).map_err(|e| map_error(key, e))
    }
}

impl SecretStore for Keychain {
    fn get(&self, key: Key) -> Result<Option<SecretString>, Error> {
        match Self::entry(key)?.get_password() {
            Ok(value) => Ok(Some(SecretString::from(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(key, e)),
        }
    }

    fn set(&self, key: Key, value: &SecretString) -> Result<(), Error> {
        Self::entry(key)?
            .set_password(value.expose_secret())
            .map_err(|e| map_error(key, e))
    }

    fn delete(&self, key: Key) -> Result<bool, Error> {
        match Self::entry(key)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(map_error(key, e)),
        }
    }
}

fn map_error(key: Key, error: keyring::Error) -> Error {
    let failure = |cause: String| Error::Failure {
        account: key.to_string(),
        cause,
    };
    match error {
        // The store as a whole can't be used: no service on the bus, locked, access refused.
        keyring::Error::PlatformFailure(e) | keyring::Error::NoStorageAccess(e) => {
            Error::Unavailable {
                cause: e.to_string(),
            }
        }
        // The bytes would be the secret itself: never put them in a message.
        keyring::Error::BadEncoding(_) => failure("the stored value is not UTF-8 text".to_owned()),
        keyring::Error::Ambiguous(found) => failure(format!("{} entries match it", found.len())),
        other => failure(other.to_string()),
    }
}
