//! The domain: what a session is (its kind, alias, profile, region and state), its validated fields, and the [`Catalog`] of all
//! sessions and named profiles whose invariants (unique aliases, existing profiles and
//! assumers, no assumer cycles) every change must keep. Nothing here does I/O.

mod catalog;
mod fields;

pub use catalog::{Catalog, Edit, EditOutcome, Error, NewSession, Settings};
pub use fields::{
    AccessKeyId, AccountId, Alias, Field, IamUserKeys, IdpArn, IntegrationId, MfaCode, MfaDevice,
    PARTITIONS, ProfileName, Region, RoleArn, RoleName, RoleSessionName, SamlUrl, SecretAccessKey,
    SessionId, ValidationError,
};

use std::fmt;
use std::str::FromStr;

/// A session: a way to obtain temporary credentials for one named profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub alias: Alias,
    pub profile: ProfileName,
    pub region: Region,
    pub kind: SessionKind,
    pub state: State,
    /// When the credentials of an active session expire.
    pub expiration: Option<time::OffsetDateTime>,
    /// When those credentials were issued: with the expiry, their lifetime, which sets when
    /// they are refreshed ([`crate::aws::refresh_due`]).
    pub issued: Option<time::OffsetDateTime>,
}

/// The four session types and their own fields. Secrets are not here: they live in the
/// keychain under the session's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionKind {
    IamUser {
        mfa_device: Option<MfaDevice>,
    },
    IamRoleChained {
        role_arn: RoleArn,
        role_session_name: Option<RoleSessionName>,
        assumer: SessionId,
    },
    IamRoleFederated {
        role_arn: RoleArn,
        saml_url: SamlUrl,
        idp_arn: IdpArn,
    },
    /// Integration-derived: its definition comes from the integration and can't be edited.
    AwsSsoRole {
        account_id: AccountId,
        role_name: RoleName,
        integration: IntegrationId,
    },
}

impl SessionKind {
    /// Which of the four kinds, without its fields (`kind = …` in the store and `--json`).
    pub fn tag(&self) -> Kind {
        match self {
            SessionKind::IamUser { .. } => Kind::IamUser,
            SessionKind::IamRoleChained { .. } => Kind::IamRoleChained,
            SessionKind::IamRoleFederated { .. } => Kind::IamRoleFederated,
            SessionKind::AwsSsoRole { .. } => Kind::AwsSsoRole,
        }
    }

    /// The session this one assumes its role from, for chained sessions.
    pub fn assumer(&self) -> Option<SessionId> {
        match self {
            SessionKind::IamRoleChained { assumer, .. } => Some(*assumer),
            _ => None,
        }
    }
}

/// The type tag of a session, as `kind` in the store and in `--json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    IamUser,
    IamRoleChained,
    IamRoleFederated,
    AwsSsoRole,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::IamUser,
        Kind::IamRoleChained,
        Kind::IamRoleFederated,
        Kind::AwsSsoRole,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IamUser => "iam-user",
            Kind::IamRoleChained => "iam-role-chained",
            Kind::IamRoleFederated => "iam-role-federated",
            Kind::AwsSsoRole => "aws-sso-role",
        }
    }

    /// Whether the session's definition comes from an integration (and so can't be edited).
    pub fn is_integration_derived(self) -> bool {
        self == Kind::AwsSsoRole
    }

    /// Whether the session has long-term secrets in the keychain.
    pub fn has_keys(self) -> bool {
        self == Kind::IamUser
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            ValidationError::new(
                Field::Kind,
                format!("{s:?} is not one of iam-user, iam-role-chained, iam-role-federated, aws-sso-role"),
            )
        })
    }
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
}
