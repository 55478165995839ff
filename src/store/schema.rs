//! The on-disk shape of `config.toml`, kept apart from the domain: flat serde records,
//! converted to and from [`Catalog`] with every rule checked on the way in.
//!
//! Version 2 added to version 1: each `[[owned]]` record's `flavor` (which of the two AWS
//! files), `intent` (a write recorded before it happens) and `taken_over` (where the original
//! of a user's section is kept); a session's `issued` time; the `deleting` state. A version-1
//! file is read and migrated (the flavor of its records inferred, see [`infer_flavor`]) and
//! saved as the current version; an older credtray refuses a newer file by its version.
//!
//! Version 3 added a chained session's `external_id`; every session's `publish` mode
//! (`file` or `process`) and its default, `[settings] publish`; and an `[[owned]]` record's
//! `withheld` (a section credtray holds by keeping it out of the file, for a session published
//! as a process, at the byte offset where it was); and `[[integration]]` records (IAM Identity
//! Center instances, which `aws-sso-role` sessions name; their tokens are in the keychain).
//! A session without `publish` is a `file`
//! session, whatever the default says: every version-2 session was one, and the default only
//! shapes new sessions (as `default_region` does). Otherwise sessions are written as version 2
//! wrote them, so a version-2 file is read as it is and saved as version 3.
//!
//! Version 4 added an `[[integration]]` record's `pace_rate` and `pace_ceiling` (calls per
//! second: what the pace of its calls learned in its last sync, see
//! [`crate::aws::pace::Learned`]). A version-3 record has neither (its first sync starts at
//! the default pace): a version-3 file is read as it is and saved as version 4.
//!
//! Version 5 added the network settings: `[settings] proxy` (an `http://host:port` URL, or
//! `none` for direct connections whatever the environment says), `no_proxy`, `proxy_user`
//! (its password is in the keychain, never here) and `ca_bundle` (see [`crate::net`]). A
//! version-4 file has none of them (the environment decides, as before): it is read as it is
//! and saved as version 5.
//!
//! Version 6 added the choice of secret store: `[settings] keychain` (`os`, `file` or `pass`;
//! absent: the OS keychain, as before) and `keychain_from` (the store `keychain migrate` moved
//! the items from, kept until their old copies are removed, so an interrupted move can be
//! finished). A version-5 file has neither: it is read as it is and saved as version 6; an
//! older credtray refuses a version-6 file by its version, so it never reads the OS keychain
//! of a user whose keys are elsewhere.
//!
//! Version 7 added an IAM-user session's `mfa_source` (`ykman:<OATH account>` or
//! `process:<command line>`; absent: the person is asked, as before). A version-6 file has
//! none: it is read as it is and saved as version 7; an older credtray refuses a version-7
//! file by its version rather than start a session with a prompt its user chose not to see.

use serde::{Deserialize, Serialize};
use toml::Spanned;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::awsfiles::{Flavor, Owned, TakenOver};
use crate::session::{
    Alias, Catalog, Field, Integration, IntegrationId, Kind, Login, Mismatch, ProfileName, Publish,
    Region, RememberedProfile, Session, SessionId, SessionKind, Settings, StartUrl, State,
    ValidationError, Value,
};

pub const VERSION: u32 = 7;

/// The oldest version this credtray reads (and migrates).
pub const OLDEST: u32 = 1;

/// Read first, alone, so a file from a newer credtray is refused by its version rather than by
/// whatever field it added.
#[derive(Deserialize)]
pub struct Probe {
    pub version: Option<Spanned<i64>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub version: u32,
    #[serde(default)]
    pub settings: SettingsV1,
    #[serde(default)]
    pub profiles: Vec<Spanned<ProfileName>>,
    #[serde(default, rename = "integration", skip_serializing_if = "Vec::is_empty")]
    pub integrations: Vec<Spanned<IntegrationRecord>>,
    #[serde(default, rename = "session", skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<Spanned<SessionRecord>>,
    /// Sections of the AWS files credtray owns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owned: Vec<Spanned<OwnedRecord>>,
}

/// One `[[integration]]` record: an IAM Identity Center instance (its tokens are in the
/// keychain, never here).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationRecord {
    pub id: IntegrationId,
    pub alias: Alias,
    /// `aws-sso`, the one kind there is.
    pub kind: String,
    pub start_url: StartUrl,
    pub region: String,
    #[serde(default = "logged_out")]
    pub state: String,
    /// When the portal session of a logged-in integration ends.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub until: Option<time::OffsetDateTime>,
    /// The user's profile names for some of its roles, from `import aws-config`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<RememberedProfile>,
    /// Calls per second that held in the last sync (version 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pace_rate: Option<f64>,
    /// Calls per second at which the portal last throttled (version 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pace_ceiling: Option<f64>,
}

fn round(rate: f64) -> f64 {
    (rate * 100.0).round() / 100.0
}

fn logged_out() -> String {
    "logged-out".to_owned()
}

impl IntegrationRecord {
    fn into_integration(self, settings: &Settings) -> Result<Integration, ValidationError> {
        if self.kind != "aws-sso" {
            return Err(ValidationError::new(
                Field::Integration,
                format!(
                    "integration {:?} is of the unknown kind {:?} (only aws-sso)",
                    self.alias.as_str(),
                    self.kind
                ),
            ));
        }
        let login = match self.state.as_str() {
            "logged-out" => Login::LoggedOut,
            "logged-in" => Login::LoggedIn { until: self.until },
            other => {
                return Err(ValidationError::new(
                    Field::Integration,
                    format!(
                        "integration {:?} has the unknown state {other:?}",
                        self.alias.as_str()
                    ),
                ));
            }
        };
        let pace = match self.pace_rate {
            None if self.pace_ceiling.is_some() => {
                return Err(ValidationError::new(
                    Field::Integration,
                    format!(
                        "integration {:?} has a pace_ceiling but no pace_rate",
                        self.alias.as_str()
                    ),
                ));
            }
            None => None,
            Some(rate) => Some(
                crate::aws::pace::Learned::new(rate, self.pace_ceiling).ok_or_else(|| {
                    ValidationError::new(
                        Field::Integration,
                        format!(
                            "integration {:?} has a pace_rate or pace_ceiling that is not a number of calls per second above 0 and at most {}",
                            self.alias.as_str(),
                            crate::aws::pace::Learned::MOST
                        ),
                    )
                })?,
            ),
        };
        Ok(Integration {
            pace,
            id: self.id,
            region: Region::parse(&self.region, &settings.extra_regions)?,
            alias: self.alias,
            start_url: self.start_url,
            login,
            profiles: self.profiles,
        })
    }

    fn from_integration(i: &Integration) -> Self {
        Self {
            id: i.id,
            alias: i.alias.clone(),
            kind: i.kind().to_owned(),
            start_url: i.start_url.clone(),
            region: i.region.to_string(),
            state: i.login.as_str().to_owned(),
            until: match i.login {
                Login::LoggedIn { until } => until,
                Login::LoggedOut => None,
            },
            profiles: i.profiles.clone(),
            // Two decimals say all a pace needs, and keep the file readable.
            pace_rate: i.pace.map(|p| round(p.rate())),
            pace_ceiling: i.pace.and_then(|p| p.ceiling()).map(round),
        }
    }
}

/// One `[[owned]]` record.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnedRecord {
    pub file: PathBuf,
    /// Absent in version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flavor: Option<Flavor>,
    pub section: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub separator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<SessionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_over: Option<TakenOver>,
    /// Version 3: held out of the file, having been at this byte offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld: Option<usize>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SettingsV1 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_region: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_regions: Vec<String>,
    /// Version 3; absent: `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<Publish>,
    /// Seconds a federated login may take; absent: five minutes. Written only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml_login_timeout: Option<std::num::NonZeroU64>,
    /// Version 5: the proxy URL, or `none`; absent: the environment's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Version 5: hosts that bypass the proxy (curl's `NO_PROXY` syntax).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    /// Version 5: the proxy's Basic-auth user (the password is in the keychain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_user: Option<String>,
    /// Version 5: a PEM bundle of CA certificates to trust beside the platform's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<PathBuf>,
    /// Version 6: the store of secrets; absent: the OS keychain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keychain: Option<crate::secrets::Backend>,
    /// Version 6: the store a move came from, until its old copies are removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keychain_from: Option<crate::secrets::Backend>,
}

/// `[settings] proxy = "none"`: direct connections.
const NO_PROXY_SETTING: &str = "none";

impl SettingsV1 {
    /// The network settings, checked.
    fn network(&self) -> Result<crate::net::Settings, crate::session::Error> {
        use crate::net::{NoProxy, ProxySetting, ProxyUrl, ProxyUser};
        let bad =
            |name: &'static str| move |why: String| crate::session::Error::Setting { name, why };
        let proxy = match self.proxy.as_deref() {
            None => ProxySetting::Environment,
            Some(NO_PROXY_SETTING) => ProxySetting::Direct,
            Some(url) => ProxySetting::Via(ProxyUrl::parse_setting(url).map_err(bad("proxy"))?),
        };
        let ca_bundle = self.ca_bundle.clone();
        if let Some(path) = &ca_bundle
            && !path.is_absolute()
        {
            return Err(bad("ca_bundle")(
                "the path of a CA bundle is absolute".to_owned(),
            ));
        }
        Ok(crate::net::Settings {
            proxy,
            no_proxy: self
                .no_proxy
                .as_deref()
                .map(NoProxy::new)
                .transpose()
                .map_err(bad("no_proxy"))?,
            proxy_user: self
                .proxy_user
                .as_deref()
                .map(ProxyUser::new)
                .transpose()
                .map_err(bad("proxy_user"))?,
            ca_bundle,
        })
    }

    /// The record of network settings.
    fn set_network(&mut self, network: &crate::net::Settings) {
        use crate::net::ProxySetting;
        self.proxy = match &network.proxy {
            ProxySetting::Environment => None,
            ProxySetting::Direct => Some(NO_PROXY_SETTING.to_owned()),
            ProxySetting::Via(url) => Some(url.to_string()),
        };
        self.no_proxy = network.no_proxy.as_ref().map(|n| n.as_str().to_owned());
        self.proxy_user = network.proxy_user.as_ref().map(|u| u.as_str().to_owned());
        self.ca_bundle = network.ca_bundle.clone();
    }
}

/// One session: what every session has, then its kind's own fields ([`Kind::fields`]) under
/// their snake-case names, checked against the kind's table on the way in (so a field of
/// another kind, or a name nothing uses, is refused rather than dropped on the next save).
#[derive(Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: SessionId,
    pub alias: Alias,
    pub kind: String,
    pub profile: ProfileName,
    pub region: String,
    /// Version 3; absent: `file` (not the settings' default, see the module's doc).
    #[serde(default)]
    pub publish: Publish,
    #[serde(default = "inactive")]
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expiration: Option<time::OffsetDateTime>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub issued: Option<time::OffsetDateTime>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub last_used: Option<time::OffsetDateTime>,
    #[serde(flatten)]
    pub fields: BTreeMap<String, toml::Value>,
}

fn inactive() -> String {
    "inactive".to_owned()
}

/// A rule broken at a byte offset of the file.
pub struct Invalid {
    pub offset: usize,
    pub error: crate::session::Error,
}

impl File {
    /// The domain catalog, with every rule checked; errors carry where in the file they are.
    pub fn into_stored(self) -> Result<super::Stored, Invalid> {
        let at = |offset: usize| {
            move |e: ValidationError| Invalid {
                offset,
                error: e.into(),
            }
        };
        let extra_regions = self
            .settings
            .extra_regions
            .iter()
            .map(|r| Region::parse_custom(r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(at(0))?;
        let default_region = match &self.settings.default_region {
            Some(r) => Region::parse(r, &extra_regions).map_err(at(0))?,
            None => Region::us_east_1(),
        };
        let network = self
            .settings
            .network()
            .map_err(|error| Invalid { offset: 0, error })?;
        let settings = Settings {
            network,
            keychain: self.settings.keychain,
            keychain_from: self.settings.keychain_from,
            default_region,
            extra_regions,
            publish: self.settings.publish.unwrap_or_default(),
            saml_login_timeout: self
                .settings
                .saml_login_timeout
                .map_or(Settings::SAML_LOGIN_TIMEOUT, |s| {
                    std::time::Duration::from_secs(s.get())
                }),
        };
        let profiles = self.profiles.into_iter().map(Spanned::into_inner).collect();
        let integrations = self
            .integrations
            .into_iter()
            .map(|i| {
                let offset = i.span().start;
                i.into_inner()
                    .into_integration(&settings)
                    .map_err(at(offset))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let first_offset = self.sessions.first().map_or(0, |s| s.span().start);
        let sessions = self
            .sessions
            .into_iter()
            .map(|s| {
                let offset = s.span().start;
                s.into_inner().into_session(&settings).map_err(at(offset))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let catalog =
            Catalog::new(settings, profiles, sessions, integrations).map_err(|error| Invalid {
                offset: first_offset,
                error,
            })?;
        let records: Vec<(usize, OwnedRecord)> = self
            .owned
            .into_iter()
            .map(|r| (r.span().start, r.into_inner()))
            .collect();
        let mut owned = Vec::new();
        for (offset, record) in &records {
            let invalid = |message: &str| Invalid {
                offset: *offset,
                error: ValidationError::new(Field::Profile, message).into(),
            };
            if !record.file.is_absolute() || record.section.trim().is_empty() {
                return Err(invalid(
                    "an [[owned]] entry needs an absolute file path and a section name",
                ));
            }
            let flavor = match (record.flavor, self.version) {
                (Some(flavor), _) => flavor,
                (None, 1) => infer_flavor(record, &records),
                (None, _) => {
                    return Err(invalid(
                        "an [[owned]] entry needs its flavor (credentials or config)",
                    ));
                }
            };
            owned.push(Owned {
                file: record.file.clone(),
                flavor,
                section: record.section.clone(),
                separator: record.separator.clone(),
                fingerprint: record.fingerprint.clone(),
                intent: record.intent,
                taken_over: record.taken_over.clone(),
                withheld: record.withheld,
            });
        }
        Ok(super::Stored { catalog, owned })
    }

    pub fn from_catalog(catalog: &Catalog, owned: &[Owned]) -> Self {
        let settings = &catalog.settings;
        let mut record = SettingsV1 {
            default_region: Some(settings.default_region.to_string()),
            extra_regions: settings
                .extra_regions
                .iter()
                .map(ToString::to_string)
                .collect(),
            publish: Some(settings.publish),
            saml_login_timeout: (settings.saml_login_timeout != Settings::SAML_LOGIN_TIMEOUT)
                .then(|| std::num::NonZeroU64::new(settings.saml_login_timeout.as_secs()))
                .flatten(),
            keychain: settings.keychain,
            keychain_from: settings.keychain_from,
            ..SettingsV1::default()
        };
        record.set_network(&settings.network);
        Self {
            version: VERSION,
            settings: record,
            profiles: catalog
                .profiles()
                .iter()
                .map(|p| Spanned::new(0..0, p.clone()))
                .collect(),
            integrations: catalog
                .integrations()
                .iter()
                .map(|i| Spanned::new(0..0, IntegrationRecord::from_integration(i)))
                .collect(),
            sessions: catalog
                .sessions()
                .iter()
                .map(|s| Spanned::new(0..0, SessionRecord::from_session(s)))
                .collect(),
            owned: owned
                .iter()
                .map(|o| {
                    Spanned::new(
                        0..0,
                        OwnedRecord {
                            file: o.file.clone(),
                            flavor: Some(o.flavor),
                            section: o.section.clone(),
                            separator: o.separator.clone(),
                            fingerprint: o.fingerprint.clone(),
                            intent: o.intent,
                            taken_over: o.taken_over.clone(),
                            withheld: o.withheld,
                        },
                    )
                })
                .collect(),
        }
    }
}

/// The file a version-1 record (which did not say) was written to. Version 1 recorded the
/// paths this process's environment names, so those decide first; then `[profile …]` sections
/// are only in the config file and other names but `default` only in the credentials file; a
/// `[default]` elsewhere is judged by its file's other records, then by the file's name.
fn infer_flavor(record: &OwnedRecord, records: &[(usize, OwnedRecord)]) -> Flavor {
    if let Ok(files) = crate::awsfiles::Files::from_env() {
        if record.file == files.config.path() {
            return Flavor::Config;
        }
        if record.file == files.credentials.path() {
            return Flavor::Credentials;
        }
    }
    let by_name = |section: &str| {
        if section.starts_with("profile ") {
            Some(Flavor::Config)
        } else if section == "default" {
            None
        } else {
            Some(Flavor::Credentials)
        }
    };
    by_name(&record.section)
        .or_else(|| {
            records
                .iter()
                .filter(|(_, r)| r.file == record.file)
                .find_map(|(_, r)| by_name(&r.section))
        })
        .unwrap_or_else(|| {
            let name = Path::new(&record.file)
                .file_name()
                .map(|n| n.to_string_lossy().to_lowercase())
                .unwrap_or_default();
            if name.contains("config") {
                Flavor::Config
            } else {
                Flavor::Credentials
            }
        })
}

impl SessionRecord {
    fn into_session(self, settings: &Settings) -> Result<Session, ValidationError> {
        let kind: Kind = self.kind.parse()?;
        let alias = self.alias.as_str().to_owned();
        let missing = |field: Field| {
            ValidationError::new(
                field,
                format!("session {alias:?} ({kind}) has none, but needs one"),
            )
        };
        let stray = |field: Field| {
            ValidationError::new(
                field,
                format!("session {alias:?} is {kind}, which has no {field}"),
            )
        };
        let mut values = Vec::new();
        for (key, value) in &self.fields {
            let field = Field::ALL
                .into_iter()
                .find(|f| f.key() == *key && !f.is_secret() && Kind::ALL.iter().any(|k| k.has(*f)))
                .ok_or_else(|| {
                    ValidationError::new(
                        Field::Kind,
                        format!("session {alias:?} has the unknown field {key:?}"),
                    )
                })?;
            if !kind.has(field) {
                return Err(stray(field));
            }
            let text = value.as_str().ok_or_else(|| {
                ValidationError::new(field, format!("session {alias:?}: must be a string"))
            })?;
            values.push(Value::parse(field, text)?);
        }
        let kind = SessionKind::from_values(kind, values).map_err(|e| match e {
            Mismatch::Missing(field) => missing(field),
            Mismatch::Stray(field) => stray(field),
        })?;
        let state = match (self.state.as_str(), self.error) {
            ("inactive", _) => State::Inactive,
            ("pending", _) => State::Pending,
            ("active", _) => State::Active,
            ("error", message) => State::Error(message.unwrap_or_default()),
            ("deleting", _) => State::Deleting,
            (other, _) => {
                return Err(ValidationError::new(
                    Field::Id,
                    format!("session {alias:?} has the unknown state {other:?}"),
                ));
            }
        };
        Ok(Session {
            id: self.id,
            region: Region::parse(&self.region, &settings.extra_regions)?,
            alias: self.alias,
            profile: self.profile,
            publish: self.publish,
            kind,
            state,
            expiration: self.expiration,
            issued: self.issued,
            pinned: self.pinned,
            last_used: self.last_used,
        })
    }

    fn from_session(s: &Session) -> Self {
        Self {
            id: s.id,
            alias: s.alias.clone(),
            kind: s.kind.tag().as_str().to_owned(),
            profile: s.profile.clone(),
            region: s.region.to_string(),
            publish: s.publish,
            state: s.state.as_str().to_owned(),
            error: s.state.error().map(str::to_owned),
            expiration: s.expiration,
            issued: s.issued,
            pinned: s.pinned,
            last_used: s.last_used,
            fields: s
                .kind
                .values()
                .iter()
                .filter_map(|v| Some((v.field().key(), toml::Value::String(v.text()?))))
                .collect(),
        }
    }
}
