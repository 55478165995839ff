//! The domain: what a session is (its kind, alias, profile, region and state), its validated fields, and the [`Catalog`] of all
//! sessions and named profiles whose invariants (unique aliases, existing profiles and
//! assumers, no assumer cycles) every change must keep. Nothing here does I/O.

mod catalog;
mod fields;
mod integration;
mod kind;
mod mfa_source;
mod search;

pub use catalog::{Catalog, Edit, EditOutcome, Error, NewSession, Settings};
pub use fields::{
    AccessKeyId, AccountId, Alias, ExternalId, Field, IamUserKeys, IdpArn, IntegrationId, MfaCode,
    MfaDevice, PARTITIONS, ProfileName, Publish, Region, RoleArn, RoleName, RoleSessionName,
    SamlUrl, SecretAccessKey, SessionId, StartUrl, ValidationError,
};
pub use integration::{Integration, IntegrationEdit, Login, NewIntegration, RememberedProfile};
pub use kind::{Kind, Mismatch, SessionKind, Value};
pub use mfa_source::{CommandLine, MfaSource};
pub use search::search;

/// A session: a way to obtain temporary credentials for one named profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub alias: Alias,
    pub profile: ProfileName,
    pub region: Region,
    /// How its credentials reach the AWS tools once started.
    pub publish: Publish,
    pub kind: SessionKind,
    pub state: State,
    /// When the credentials of an active session expire.
    pub expiration: Option<time::OffsetDateTime>,
    /// When those credentials were issued: with the expiry, their lifetime, which sets when
    /// they are refreshed ([`crate::aws::refresh_due`]).
    pub issued: Option<time::OffsetDateTime>,
    /// Pinned to the top of the tray's menu (`session pin`).
    pub pinned: bool,
    /// When it was last started: the tray's "recent" sessions.
    pub last_used: Option<time::OffsetDateTime>,
}

/// Where a session stands. `Error` carries the last error message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum State {
    #[default]
    Inactive,
    Pending,
    Active,
    Error(String),
    /// Removed from the catalog once its keychain entries are gone; a delete that could not
    /// remove them all leaves the session here, to be finished by deleting it again.
    Deleting,
}

impl State {
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Inactive => "inactive",
            State::Pending => "pending",
            State::Active => "active",
            State::Error(_) => "error",
            State::Deleting => "deleting",
        }
    }

    /// The mark CLI and tray put in front of a session: ● active, ○ inactive, ◌ starting,
    /// ⚠ error.
    pub fn mark(&self) -> &'static str {
        match self {
            State::Active => "●",
            State::Inactive => "○",
            State::Pending => "◌",
            State::Error(_) => "⚠",
            State::Deleting => "✕",
        }
    }

    pub fn error(&self) -> Option<&str> {
        match self {
            State::Error(message) => Some(message),
            _ => None,
        }
    }

    /// Running, as a stop (or a logout) sees it: neither inactive nor being deleted, so it
    /// may have credentials written (a `pending` or `error` session too).
    pub fn is_running(&self) -> bool {
        !matches!(self, State::Inactive | State::Deleting)
    }
}
