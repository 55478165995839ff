//! The session kinds and the one table of their fields: [`Kind::fields`] says which fields
//! each kind has, [`Value`] holds a parsed value of any of them, and [`SessionKind`] reads and
//! writes its fields through [`SessionKind::get`] and [`SessionKind::set`]. Validation, the
//! store, the CLI's flags, `--json` and the tray's menu and forms are all derived from these,
//! so a field added here reaches every surface (ARCHITECTURE.md, "How to add a field").

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use super::{
    AccountId, ExternalId, Field, IdpArn, IntegrationId, MfaDevice, MfaSource, RoleArn, RoleName,
    RoleSessionName, SamlUrl, SessionId, ValidationError,
};

/// The four session types and their own fields. Secrets are not here: they live in the
/// keychain under the session's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionKind {
    IamUser {
        mfa_device: Option<MfaDevice>,
        /// Where the MFA code comes from; `None`: the person is asked.
        mfa_source: Option<MfaSource>,
    },
    IamRoleChained {
        role_arn: RoleArn,
        role_session_name: Option<RoleSessionName>,
        assumer: SessionId,
        external_id: Option<ExternalId>,
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

    /// The kind's own fields (beyond alias, profile and region), in the order forms, menus
    /// and `--json` show them. Secret fields ([`Field::is_secret`]) live in the keychain;
    /// the others in [`SessionKind`].
    pub fn fields(self) -> &'static [Field] {
        match self {
            Kind::IamUser => &[
                Field::MfaDevice,
                Field::MfaSource,
                Field::AccessKeyId,
                Field::SecretAccessKey,
            ],
            Kind::IamRoleChained => &[
                Field::RoleArn,
                Field::RoleSessionName,
                Field::Assumer,
                Field::ExternalId,
            ],
            Kind::IamRoleFederated => &[Field::RoleArn, Field::SamlUrl, Field::IdpArn],
            Kind::AwsSsoRole => &[Field::AccountId, Field::RoleName, Field::Integration],
        }
    }

    /// Whether sessions of this kind have `field`.
    pub fn has(self, field: Field) -> bool {
        self.fields().contains(&field)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IamUser => "iam-user",
            Kind::IamRoleChained => "iam-role-chained",
            Kind::IamRoleFederated => "iam-role-federated",
            Kind::AwsSsoRole => "aws-sso-role",
        }
    }

    /// One line saying what a session of this kind is (the CLI's `session add` help).
    pub fn about(self) -> &'static str {
        match self {
            Kind::IamUser => "An IAM user with long-term keys (kept in the OS keychain)",
            Kind::IamRoleChained => "A role assumed with the credentials of another session",
            Kind::IamRoleFederated => {
                "A role assumed with a SAML assertion from an identity provider"
            }
            Kind::AwsSsoRole => "A role of an AWS IAM Identity Center (SSO) account",
        }
    }

    /// Whether the session's definition comes from an integration (and so can't be edited).
    pub fn is_integration_derived(self) -> bool {
        self == Kind::AwsSsoRole
    }

    /// Whether the session has long-term secrets in the keychain.
    pub fn has_keys(self) -> bool {
        self.fields().iter().any(|f| f.is_secret())
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

/// How a field's value reads and prints as text: plain types through `FromStr` and `Display`,
/// optional ones with the empty text meaning "no value".
trait Text: Sized {
    const OPTIONAL: bool;
    fn parse_text(text: &str) -> Result<Self, ValidationError>;
    fn text(&self) -> Option<String>;
}

/// A field type that is always present when its field is required.
trait Plain: FromStr<Err = ValidationError> + fmt::Display {}

impl<T: Plain> Text for T {
    const OPTIONAL: bool = false;
    fn parse_text(text: &str) -> Result<Self, ValidationError> {
        text.parse()
    }
    fn text(&self) -> Option<String> {
        Some(self.to_string())
    }
}

/// `prompt`, the default, is stored as no value: a session that never chose keeps no line.
impl Text for Option<MfaSource> {
    const OPTIONAL: bool = true;
    fn parse_text(text: &str) -> Result<Self, ValidationError> {
        match text.trim() {
            "" | "prompt" => Ok(None),
            text => text.parse().map(Some),
        }
    }
    fn text(&self) -> Option<String> {
        self.as_ref().map(ToString::to_string)
    }
}

impl<T: Plain> Text for Option<T> {
    const OPTIONAL: bool = true;
    fn parse_text(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        if text.is_empty() {
            Ok(None)
        } else {
            text.parse().map(Some)
        }
    }
    fn text(&self) -> Option<String> {
        self.as_ref().map(ToString::to_string)
    }
}

/// Declares [`Value`], one variant per non-secret field of a session's definition with the
/// type its kinds hold (`Option<…>` for an optional field).
macro_rules! values {
    ($($field:ident: $ty:ty),* $(,)?) => {
        /// A parsed value of one field of a session's definition; an optional field's `None`
        /// clears it.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Value {
            $($field($ty)),*
        }

        impl Value {
            pub fn field(&self) -> Field {
                match self {
                    $(Value::$field(_) => Field::$field),*
                }
            }

            /// Parses `text` as the value of `field`; for an optional field the empty text is
            /// "no value".
            pub fn parse(field: Field, text: &str) -> Result<Self, ValidationError> {
                match field {
                    $(Field::$field => <$ty as Text>::parse_text(text).map(Value::$field),)*
                    _ => Err(ValidationError::new(field, "is not a field of a session's definition")),
                }
            }

            /// The value as text, `None` when an optional field has none.
            pub fn text(&self) -> Option<String> {
                match self {
                    $(Value::$field(v) => v.text()),*
                }
            }
        }

        impl Field {
            /// Whether a session may leave this field empty (a default applies).
            pub fn is_optional(self) -> bool {
                match self {
                    $(Field::$field => <$ty as Text>::OPTIONAL,)*
                    _ => false,
                }
            }
        }
    };
}

impl Plain for MfaDevice {}
impl Plain for RoleArn {}
impl Plain for RoleSessionName {}
impl Plain for SessionId {}
impl Plain for ExternalId {}
impl Plain for SamlUrl {}
impl Plain for IdpArn {}
impl Plain for AccountId {}
impl Plain for RoleName {}
impl Plain for IntegrationId {}

values! {
    MfaDevice: Option<MfaDevice>,
    MfaSource: Option<MfaSource>,
    RoleArn: RoleArn,
    RoleSessionName: Option<RoleSessionName>,
    Assumer: SessionId,
    ExternalId: Option<ExternalId>,
    SamlUrl: SamlUrl,
    IdpArn: IdpArn,
    AccountId: AccountId,
    RoleName: RoleName,
    Integration: IntegrationId,
}

/// Why a set of values does not make a session of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// A required field has no value.
    Missing(Field),
    /// A value of a field the kind does not have.
    Stray(Field),
}

/// Replaces `slot`'s value, saying whether it changed.
fn replace<T: PartialEq>(slot: &mut T, new: T) -> bool {
    let changed = *slot != new;
    *slot = new;
    changed
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

    /// The integration a derived session comes from.
    pub fn integration(&self) -> Option<IntegrationId> {
        match self {
            SessionKind::AwsSsoRole { integration, .. } => Some(*integration),
            _ => None,
        }
    }

    /// The session this one assumes its role from, for chained sessions.
    pub fn assumer(&self) -> Option<SessionId> {
        match self {
            SessionKind::IamRoleChained { assumer, .. } => Some(*assumer),
            _ => None,
        }
    }

    /// The value of one of this kind's non-secret fields; `None` for a field it does not have.
    pub fn get(&self, field: Field) -> Option<Value> {
        use SessionKind as K;
        Some(match (self, field) {
            (K::IamUser { mfa_device, .. }, Field::MfaDevice) => {
                Value::MfaDevice(mfa_device.clone())
            }
            (K::IamUser { mfa_source, .. }, Field::MfaSource) => {
                Value::MfaSource(mfa_source.clone())
            }
            (
                K::IamRoleChained { role_arn, .. } | K::IamRoleFederated { role_arn, .. },
                Field::RoleArn,
            ) => Value::RoleArn(role_arn.clone()),
            (
                K::IamRoleChained {
                    role_session_name, ..
                },
                Field::RoleSessionName,
            ) => Value::RoleSessionName(role_session_name.clone()),
            (K::IamRoleChained { assumer, .. }, Field::Assumer) => Value::Assumer(*assumer),
            (K::IamRoleChained { external_id, .. }, Field::ExternalId) => {
                Value::ExternalId(external_id.clone())
            }
            (K::IamRoleFederated { saml_url, .. }, Field::SamlUrl) => {
                Value::SamlUrl(saml_url.clone())
            }
            (K::IamRoleFederated { idp_arn, .. }, Field::IdpArn) => Value::IdpArn(idp_arn.clone()),
            (K::AwsSsoRole { account_id, .. }, Field::AccountId) => {
                Value::AccountId(account_id.clone())
            }
            (K::AwsSsoRole { role_name, .. }, Field::RoleName) => {
                Value::RoleName(role_name.clone())
            }
            (K::AwsSsoRole { integration, .. }, Field::Integration) => {
                Value::Integration(*integration)
            }
            _ => return None,
        })
    }

    /// Every non-secret field of the kind with its value, in table order.
    pub fn values(&self) -> Vec<Value> {
        let kind = self.tag();
        kind.fields()
            .iter()
            .filter_map(|&field| self.get(field))
            .collect()
    }

    /// Sets one field; whether its value changed, or `None` when the kind has no such field.
    pub fn set(&mut self, value: Value) -> Option<bool> {
        use SessionKind as K;
        Some(match (self, value) {
            (K::IamUser { mfa_device, .. }, Value::MfaDevice(v)) => replace(mfa_device, v),
            (K::IamUser { mfa_source, .. }, Value::MfaSource(v)) => replace(mfa_source, v),
            (
                K::IamRoleChained { role_arn, .. } | K::IamRoleFederated { role_arn, .. },
                Value::RoleArn(v),
            ) => replace(role_arn, v),
            (
                K::IamRoleChained {
                    role_session_name, ..
                },
                Value::RoleSessionName(v),
            ) => replace(role_session_name, v),
            (K::IamRoleChained { assumer, .. }, Value::Assumer(v)) => replace(assumer, v),
            (K::IamRoleChained { external_id, .. }, Value::ExternalId(v)) => {
                replace(external_id, v)
            }
            (K::IamRoleFederated { saml_url, .. }, Value::SamlUrl(v)) => replace(saml_url, v),
            (K::IamRoleFederated { idp_arn, .. }, Value::IdpArn(v)) => replace(idp_arn, v),
            (K::AwsSsoRole { account_id, .. }, Value::AccountId(v)) => replace(account_id, v),
            (K::AwsSsoRole { role_name, .. }, Value::RoleName(v)) => replace(role_name, v),
            (K::AwsSsoRole { integration, .. }, Value::Integration(v)) => replace(integration, v),
            _ => return None,
        })
    }

    /// A session kind from its fields' values (optional ones may be left out).
    pub fn from_values(
        kind: Kind,
        values: impl IntoIterator<Item = Value>,
    ) -> Result<Self, Mismatch> {
        let mut given: HashMap<Field, Value> = HashMap::new();
        for value in values {
            let field = value.field();
            if !kind.has(field) {
                return Err(Mismatch::Stray(field));
            }
            given.insert(field, value);
        }
        // Takes a field's value: a required one must be there, an optional one defaults to none.
        macro_rules! take {
            ($field:ident) => {
                match given.remove(&Field::$field) {
                    Some(Value::$field(v)) => v,
                    _ => return Err(Mismatch::Missing(Field::$field)),
                }
            };
            ($field:ident?) => {
                match given.remove(&Field::$field) {
                    Some(Value::$field(v)) => v,
                    _ => None,
                }
            };
        }
        Ok(match kind {
            Kind::IamUser => SessionKind::IamUser {
                mfa_device: take!(MfaDevice?),
                mfa_source: take!(MfaSource?),
            },
            Kind::IamRoleChained => SessionKind::IamRoleChained {
                role_arn: take!(RoleArn),
                role_session_name: take!(RoleSessionName?),
                assumer: take!(Assumer),
                external_id: take!(ExternalId?),
            },
            Kind::IamRoleFederated => SessionKind::IamRoleFederated {
                role_arn: take!(RoleArn),
                saml_url: take!(SamlUrl),
                idp_arn: take!(IdpArn),
            },
            Kind::AwsSsoRole => SessionKind::AwsSsoRole {
                account_id: take!(AccountId),
                role_name: take!(RoleName),
                integration: take!(Integration),
            },
        })
    }
}
