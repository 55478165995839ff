//! Secrets: the long-term keys and cached session tokens of sessions (and the original text
//! of `~/.aws` sections a session took over, which may hold the user's keys), kept only in the OS
//! keychain (service `credtray`, account `<uuid>-<informative name>`). [`SecretStore`] is the
//! seam; [`Keychain`] is the real store, `Memory` an in-memory fake for unit tests. NotFound
//! is an `Ok(None)`, never confused with a failure, and there is no plaintext fallback.

// The Secret Service, where `keyring` would use it, through one kept connection; `keyring`
// for the rest (macOS Keychain, Windows Credential Manager).
#[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")))]
mod keychain;
#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
mod secret_service;
// The in-memory fake exists only in unit-test builds: a shipped binary can't fall back to a
// store that forgets everything.
pub mod chosen;
pub mod file;
#[cfg(test)]
mod memory;
pub mod pass;

#[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")))]
pub use keychain::Keychain;
#[cfg(test)]
pub use memory::Memory;
#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
pub use secret_service::Keychain;

pub use chosen::{Backend, Choice, ChosenBy};

use std::fmt;

use secrecy::SecretString;

use crate::session::{IntegrationId, SessionId};

/// The keychain service every credtray entry is stored under.
pub const SERVICE: &str = "credtray";

/// Which secret of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Item {
    /// An IAM user's long-term key pair: JSON with the access key id and the secret access key,
    /// one item so that no crash can pair a new id with an old secret (see `engine::keys`).
    AccessKey,
    /// The access key id alone: how keys were kept before [`Item::AccessKey`], still read (and
    /// moved into the pair) for one release.
    AccessKeyId,
    /// The secret access key alone, kept beside [`Item::AccessKeyId`] in the same old layout.
    SecretAccessKey,
    /// The cached `GetSessionToken` result (JSON with its expiry).
    SessionToken,
    /// The user's original text of a `~/.aws/credentials` section this session took over
    /// (it may hold their long-term keys), put back when the session gives the profile up.
    TakenOverCredentials,
    /// The same for the `~/.aws/config` section.
    TakenOverConfig,
    /// An integration's IAM Identity Center client registration, access and refresh tokens
    /// (JSON with their expiries).
    AwsSsoToken,
    /// A role session's last credentials (JSON with their expiry and the definition they were
    /// obtained for), so `credential-process` without an agent does not call STS every time.
    RoleCredentials,
    /// The password of `[settings] proxy`'s user: not a session's, so its account is
    /// `settings-proxy-password`, which no `<uuid>-…` account can be.
    ProxyPassword,
}

impl Item {
    /// Every secret an IAM-user session may have, the old layout's two items included: what
    /// deleting the session removes.
    pub const IAM_USER: [Item; 4] = [
        Item::AccessKey,
        Item::AccessKeyId,
        Item::SecretAccessKey,
        Item::SessionToken,
    ];

    /// Every item, in a stable order.
    pub const ALL: [Item; 9] = [
        Item::AccessKey,
        Item::AccessKeyId,
        Item::SecretAccessKey,
        Item::SessionToken,
        Item::TakenOverCredentials,
        Item::TakenOverConfig,
        Item::AwsSsoToken,
        Item::RoleCredentials,
        Item::ProxyPassword,
    ];

    /// Where the original of a taken-over section of this file is kept.
    pub fn taken_over(flavor: crate::awsfiles::Flavor) -> Self {
        match flavor {
            crate::awsfiles::Flavor::Credentials => Item::TakenOverCredentials,
            crate::awsfiles::Flavor::Config => Item::TakenOverConfig,
        }
    }

    fn informative_name(self) -> &'static str {
        match self {
            Item::AccessKey => "iam-user-access-key",
            Item::AccessKeyId => "iam-user-access-key-id",
            Item::SecretAccessKey => "iam-user-secret-access-key",
            Item::SessionToken => "iam-user-session-token",
            Item::TakenOverCredentials => "taken-over-credentials",
            Item::TakenOverConfig => "taken-over-config",
            Item::RoleCredentials => "role-credentials",
            Item::AwsSsoToken => "aws-sso-token",
            Item::ProxyPassword => "settings-proxy-password",
        }
    }
}

/// The keychain account of one secret of one session or integration:
/// `<uuid>-<informative name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    owner: uuid::Uuid,
    pub item: Item,
}

impl Key {
    /// A secret of a session.
    pub fn new(session: SessionId, item: Item) -> Self {
        Self {
            owner: session.uuid(),
            item,
        }
    }

    /// A secret of an integration.
    pub fn integration(integration: IntegrationId, item: Item) -> Self {
        Self {
            owner: integration.uuid(),
            item,
        }
    }

    /// The proxy's password (`settings-proxy-password`), the settings' own secret.
    pub fn proxy_password() -> Self {
        Self {
            owner: uuid::Uuid::nil(),
            item: Item::ProxyPassword,
        }
    }

    /// The session or integration whose secret this is.
    pub fn owner(&self) -> uuid::Uuid {
        self.owner
    }

    /// The key an account name stands for (the inverse of its `Display`); `None` for a name
    /// credtray does not make.
    pub fn parse(account: &str) -> Option<Self> {
        if account == Item::ProxyPassword.informative_name() {
            return Some(Self::proxy_password());
        }
        let (owner, name) = (account.get(..36)?, account.get(36..)?.strip_prefix('-')?);
        let owner = uuid::Uuid::try_parse(owner).ok()?;
        let item = Item::ALL
            .into_iter()
            .find(|i| *i != Item::ProxyPassword && i.informative_name() == name)?;
        Some(Self { owner, item })
    }

    /// Whether this is a secret of `session`.
    pub fn is_of(&self, session: SessionId) -> bool {
        self.owner == session.uuid()
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.item == Item::ProxyPassword {
            return f.write_str(self.item.informative_name());
        }
        write!(
            f,
            "{}-{}",
            self.owner.hyphenated(),
            self.item.informative_name()
        )
    }
}

/// A keychain failure. Messages name the entry and the cause, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the OS keychain is not reachable ({cause}); {}", unavailable_hint())]
    Unavailable { cause: String },
    /// The chosen store other than the OS keychain (`file`, `pass`) can't be used: the
    /// sentence says why (a wrong passphrase, a damaged file, `pass` missing).
    #[error("{0}")]
    Store(String),
    #[error("the OS keychain failed on entry {account} of service credtray: {cause}")]
    Failure { account: String, cause: String },
    /// Another credtray process is at the keychain for the same session or integration, and
    /// did not finish in time (the engine serialises those calls; see `engine::gate`).
    #[error("keychain entry {account} is in use by another credtray process: {cause}")]
    Busy { account: String, cause: String },
    /// The store changed while this command was at the keychain with its lock let go, so
    /// what it had decided no longer holds (see `store::Hold`).
    #[error(
        "another credtray command changed credtray's store while this one was at the OS keychain (entry {account}); try again"
    )]
    Moved { account: String },
}

fn unavailable_hint() -> &'static str {
    if cfg!(target_os = "macos") {
        "unlock your login keychain and try again, or keep credtray's secrets in an encrypted file or in pass instead: `credtray settings keychain file` or `credtray settings keychain pass` (credtray never falls back to another store by itself)"
    } else if cfg!(windows) {
        "check that Windows Credential Manager is available, or keep credtray's secrets in an encrypted file instead: `credtray settings keychain file` (credtray never falls back to another store by itself)"
    } else {
        "start a Secret Service (GNOME Keyring, KWallet, KeePassXC) on the D-Bus session bus, or keep credtray's secrets in an encrypted file or in pass instead: `credtray settings keychain file` or `credtray settings keychain pass` (credtray never falls back to another store by itself)"
    }
}

/// Appends `bytes` to `buf`, growing it by hand when it must grow, so that the old buffer is
/// wiped rather than freed as it is (a secret read in pieces from a child's output).
pub(crate) fn extend_wiped(buf: &mut zeroize::Zeroizing<Vec<u8>>, bytes: &[u8]) {
    if buf.len() + bytes.len() > buf.capacity() {
        let mut bigger = zeroize::Zeroizing::new(Vec::with_capacity((buf.len() + bytes.len()) * 2));
        bigger.extend_from_slice(buf);
        *buf = bigger;
    }
    buf.extend_from_slice(bytes);
}

/// Where secrets are kept.
pub trait SecretStore: Send + Sync {
    /// The secret, or `None` when there is no such entry.
    fn get(&self, key: Key) -> Result<Option<SecretString>, Error>;
    /// Creates or replaces the entry.
    fn set(&self, key: Key, value: &SecretString) -> Result<(), Error>;
    /// Deletes the entry; `Ok(false)` when there was none.
    fn delete(&self, key: Key) -> Result<bool, Error>;
    /// The accounts it holds (names only, sorted), where it can list them; `Ok(None)` where
    /// it can't (the caller then asks for the accounts it knows of, see `keychain status`).
    fn accounts(&self) -> Result<Option<Vec<String>>, Error> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_account_name_parses_back_to_its_key() {
        let owner = uuid::Uuid::parse_str("0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10").unwrap();
        for item in Item::ALL {
            let key = if item == Item::ProxyPassword {
                Key::proxy_password()
            } else {
                Key { owner, item }
            };
            assert_eq!(Key::parse(&key.to_string()), Some(key), "{key}");
        }
        for foreign in [
            "",
            "settings-proxy-password-x",
            "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10",
            "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10-",
            "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10-settings-proxy-password",
            "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10xiam-user-access-key",
            "not-a-uuid-at-all-not-a-uuid-at-all-iam-user-access-key",
            "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10-iam-user-access-key ",
        ] {
            assert_eq!(Key::parse(foreign), None, "{foreign:?}");
        }
    }
}
