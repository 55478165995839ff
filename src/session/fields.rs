//! Validated field types of a session ("parse, don't validate"): each newtype's only
//! constructors run the field's rule (written beside each type), and its `Deserialize` runs the same check, so an invalid
//! value can't exist. Errors name the field and the rule, never a secret.

use std::fmt;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;
use zeroize::Zeroizing;

// The one place the domain reaches into `aws`: a region is valid when it is in the SDK's
// partition data (`aws::region`), which is plain data with no I/O.
use crate::aws;

/// The user-facing name of a field, as error messages show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Id,
    Alias,
    Kind,
    Profile,
    Region,
    MfaDevice,
    MfaSource,
    MfaCode,
    RoleArn,
    RoleSessionName,
    Assumer,
    ExternalId,
    SamlUrl,
    IdpArn,
    AccessKeyId,
    SecretAccessKey,
    AccountId,
    RoleName,
    Integration,
    /// How a started session reaches the AWS tools ([`Publish`]); every session has one.
    Publish,
    StartUrl,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Id => "session id",
            Field::Alias => "alias",
            Field::Kind => "session kind",
            Field::Profile => "named profile",
            Field::Region => "region",
            Field::MfaDevice => "MFA device",
            Field::MfaSource => "MFA source",
            Field::MfaCode => "MFA code",
            Field::RoleArn => "role ARN",
            Field::RoleSessionName => "role session name",
            Field::Assumer => "assumer session",
            Field::ExternalId => "external id",
            Field::SamlUrl => "SAML 2.0 URL",
            Field::IdpArn => "identity provider ARN",
            Field::AccessKeyId => "access key id",
            Field::SecretAccessKey => "secret access key",
            Field::AccountId => "account id",
            Field::RoleName => "role name",
            Field::Integration => "integration",
            Field::Publish => "publish mode",
            Field::StartUrl => "start URL",
        })
    }
}

impl Field {
    /// Every field, in the order forms show them.
    pub const ALL: [Field; 21] = [
        Field::Id,
        Field::Alias,
        Field::Kind,
        Field::Profile,
        Field::Region,
        Field::MfaDevice,
        Field::MfaSource,
        Field::MfaCode,
        Field::AccessKeyId,
        Field::SecretAccessKey,
        Field::RoleArn,
        Field::RoleSessionName,
        Field::Assumer,
        Field::ExternalId,
        Field::SamlUrl,
        Field::IdpArn,
        Field::AccountId,
        Field::RoleName,
        Field::Integration,
        Field::Publish,
        Field::StartUrl,
    ];

    /// The field's stable name in kebab case, as its CLI flag spells it (`role-arn`); the
    /// tray's menu ids carry it too.
    pub fn code(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Alias => "alias",
            Field::Kind => "kind",
            Field::Profile => "profile",
            Field::Region => "region",
            Field::MfaDevice => "mfa-device",
            Field::MfaSource => "mfa-source",
            Field::MfaCode => "mfa-code",
            Field::RoleArn => "role-arn",
            Field::RoleSessionName => "role-session-name",
            Field::Assumer => "assumer",
            Field::ExternalId => "external-id",
            Field::SamlUrl => "saml-url",
            Field::IdpArn => "idp-arn",
            Field::AccessKeyId => "access-key-id",
            Field::SecretAccessKey => "secret-access-key",
            Field::AccountId => "account-id",
            Field::RoleName => "role-name",
            Field::Integration => "integration",
            Field::Publish => "publish",
            Field::StartUrl => "start-url",
        }
    }

    /// The field whose [`Self::code`] this is.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.code() == code)
    }

    /// The label a form shows, e.g. "Role ARN".
    pub fn label(self) -> &'static str {
        match self {
            Field::Id => "Session ID",
            Field::Alias => "Session alias",
            Field::Kind => "Session type",
            Field::Profile => "Named profile",
            Field::Region => "AWS region",
            Field::MfaDevice => "MFA device",
            Field::MfaSource => "MFA source",
            Field::MfaCode => "MFA code",
            Field::RoleArn => "Role ARN",
            Field::RoleSessionName => "Role session name",
            Field::Assumer => "Assumer session",
            Field::ExternalId => "External ID",
            Field::SamlUrl => "SAML 2.0 URL",
            Field::IdpArn => "Identity provider ARN",
            Field::AccessKeyId => "Access key ID",
            Field::SecretAccessKey => "Secret access key",
            Field::AccountId => "Account ID",
            Field::RoleName => "Role name",
            Field::Integration => "Integration",
            Field::Publish => "Publish as",
            Field::StartUrl => "Start URL",
        }
    }

    /// The field's name in snake case, as the store's `config.toml` and `--json` spell it
    /// (`role_arn`).
    pub fn key(self) -> String {
        self.code().replace('-', "_")
    }

    /// What an optional field of a session's definition means when it has no value.
    pub fn unset(self) -> &'static str {
        match self {
            Field::RoleSessionName => "(default: credtray-<alias>)",
            Field::MfaSource => "(default: prompt)",
            _ => "(none)",
        }
    }

    /// A valid value of a field of a session's definition, for help texts (and tests that walk
    /// every field); empty for the others.
    pub fn example(self) -> &'static str {
        match self {
            Field::MfaDevice => "arn:aws:iam::123456789012:mfa/alice",
            Field::MfaSource => "ykman:AWS:alice",
            Field::RoleArn => "arn:aws:iam::123456789012:role/Admin",
            Field::RoleSessionName => "alice-admin",
            Field::Assumer => "6f1c2b9e-4a3d-4e5f-9a8b-7c6d5e4f3a2b",
            Field::ExternalId => "partner-7Hq:2026/ops",
            Field::SamlUrl => "https://idp.example.com/saml/login",
            Field::IdpArn => "arn:aws:iam::123456789012:saml-provider/Okta",
            Field::AccountId => "123456789012",
            Field::RoleName => "AdministratorAccess",
            Field::Integration => "0b7e4f3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
            Field::StartUrl => "https://d-1234567890.awsapps.com/start",
            Field::Publish => "process",
            _ => "",
        }
    }

    /// Secrets are asked for in a masked, empty entry and never shown or stored outside the
    /// keychain.
    pub fn is_secret(self) -> bool {
        matches!(
            self,
            Field::AccessKeyId | Field::SecretAccessKey | Field::MfaCode
        )
    }
}

/// How a started session's credentials reach the AWS tools: written into
/// `~/.aws/credentials` (`file`), or handed out on demand by `credtray credential-process`,
/// which `~/.aws/config` names (`process`), so no credential is at rest outside the keychain.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub enum Publish {
    #[default]
    File,
    Process,
}

impl Publish {
    pub const ALL: [Publish; 2] = [Publish::File, Publish::Process];

    /// The name the CLI, the store and `--json` use.
    pub fn as_str(self) -> &'static str {
        match self {
            Publish::File => "file",
            Publish::Process => "process",
        }
    }

    /// How a menu or a help text names it.
    pub fn label(self) -> &'static str {
        match self {
            Publish::File => "File (temporary credentials in ~/.aws/credentials)",
            Publish::Process => "Process (credential_process: nothing in plain files)",
        }
    }
}

impl FromStr for Publish {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s.trim())
            .ok_or_else(|| {
                ValidationError::new(
                    Field::Publish,
                    format!("must be file or process, got {:?}", s.trim()),
                )
            })
    }
}

impl TryFrom<String> for Publish {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, ValidationError> {
        s.parse()
    }
}

impl From<Publish> for String {
    fn from(p: Publish) -> String {
        p.as_str().to_owned()
    }
}

impl fmt::Display for Publish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that breaks a field's rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {rule}")]
pub struct ValidationError {
    pub field: Field,
    pub rule: String,
}

impl ValidationError {
    pub fn new(field: Field, rule: impl Into<String>) -> Self {
        Self {
            field,
            rule: rule.into(),
        }
    }
}

type Parsed = Result<String, ValidationError>;

/// Declares a string newtype whose every constructor (and `Deserialize`) runs `$parse`.
macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $parse:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, ValidationError> {
                $parse(s).map(Self)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(s: String) -> Result<Self, ValidationError> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// `[\w+=,.@-]`: the character class AWS uses for role names and role session names.
fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

fn check_len(field: Field, s: &str, min: usize, max: usize) -> Result<(), ValidationError> {
    let n = s.chars().count();
    if n < min || n > max {
        let what = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(ValidationError::new(
            field,
            format!("must be {what} characters long, got {n}"),
        ));
    }
    Ok(())
}

fn check_chars(
    field: Field,
    s: &str,
    allowed: fn(char) -> bool,
    class: &str,
) -> Result<(), ValidationError> {
    match s.chars().find(|&c| !allowed(c)) {
        Some(c) => Err(ValidationError::new(
            field,
            format!("{c:?} is not allowed (only {class})"),
        )),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Identity and display

/// The hidden, never reused identity of a session (a UUID v4).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(Uuid);

impl SessionId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// The UUID, for keychain accounts.
    pub fn uuid(self) -> Uuid {
        self.0
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for SessionId {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        match Uuid::parse_str(s.trim()) {
            Ok(id) if id.get_version_num() == 4 => Ok(Self(id)),
            Ok(_) => Err(ValidationError::new(
                Field::Id,
                format!("{s:?} is not a UUID v4"),
            )),
            Err(_) => Err(ValidationError::new(
                Field::Id,
                format!("{s:?} is not a UUID"),
            )),
        }
    }
}

impl TryFrom<String> for SessionId {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, ValidationError> {
        s.parse()
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> String {
        id.to_string()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Unicode's format characters (general category Cf, Unicode 16) and the line and paragraph
/// separators (Zl, Zp). All are invisible; bidi overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069) also reorder the text around them, so an alias holding one can display as
/// another session's name.
const INVISIBLE: [(u32, u32); 21] = [
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

fn is_invisible(c: char) -> bool {
    let c = u32::from(c);
    INVISIBLE
        .iter()
        .any(|&(first, last)| (first..=last).contains(&c))
}

fn parse_alias(s: &str) -> Parsed {
    let s = s.trim();
    check_len(Field::Alias, s, 1, 64)?;
    if s.chars().any(char::is_control) {
        return Err(ValidationError::new(
            Field::Alias,
            "must not contain control characters such as line breaks or tabs",
        ));
    }
    if let Some(c) = s.chars().find(|&c| is_invisible(c)) {
        return Err(ValidationError::new(
            Field::Alias,
            format!(
                "must not contain the invisible character U+{:04X} (bidi controls, zero-width and other format characters can make one alias look like another)",
                u32::from(c)
            ),
        ));
    }
    // Ids and aliases are kept apart, so a name given to `resolve` means one session whatever
    // else exists: an alias shaped like an id could stand for another session's id.
    if Uuid::parse_str(s).is_ok() {
        return Err(ValidationError::new(
            Field::Alias,
            format!("{s:?} has the shape of a session id; an alias must not"),
        ));
    }
    Ok(s.to_owned())
}

validated_string!(
    /// The display name of a session: 1–64 characters, trimmed, unique case-insensitively.
    Alias,
    parse_alias
);

impl Alias {
    /// The key under which aliases must be unique.
    pub fn folded(&self) -> String {
        self.0.to_lowercase()
    }
}

fn parse_profile(s: &str) -> Parsed {
    if s.starts_with("profile ") {
        return Err(ValidationError::new(
            Field::Profile,
            format!(
                "{s:?} must not start with \"profile \" (credtray adds that prefix in ~/.aws/config itself)"
            ),
        ));
    }
    // Python's configparser (botocore's reader) treats a `[DEFAULT]` section as defaults for
    // every other section: credentials written there would apply to every profile of the file.
    if s == "DEFAULT" {
        return Err(ValidationError::new(
            Field::Profile,
            "\"DEFAULT\" is reserved: the AWS tools read [DEFAULT] as defaults for every profile (use \"default\")",
        ));
    }
    check_len(Field::Profile, s, 1, 64)?;
    check_chars(
        Field::Profile,
        s,
        |c| c.is_ascii_alphanumeric() || "_.+@-".contains(c),
        "letters, digits and _ . + @ -",
    )
    .map_err(|e| ValidationError::new(Field::Profile, format!("{s:?}: {}", e.rule)))?;
    Ok(s.to_owned())
}

validated_string!(
    /// A named profile of `~/.aws`: 1–64 characters of `[A-Za-z0-9_.+@-]`.
    ProfileName,
    parse_profile
);

impl ProfileName {
    pub fn default_profile() -> Self {
        Self("default".to_owned())
    }

    pub fn is_default(&self) -> bool {
        self.0 == "default"
    }
}

// ---------------------------------------------------------------------------------------------
// Regions

/// An AWS region code that is known: in the SDK's partition data, or one the user has already
/// used (listed in the store's `extra_regions`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(String);

impl Region {
    /// Accepts a region of the SDK's partition data, or one of `extra` (regions the user has
    /// already used, e.g. one launched after this build).
    pub fn parse(s: &str, extra: &[Region]) -> Result<Self, ValidationError> {
        let s = s.trim();
        if aws::region(s).is_some() || extra.iter().any(|r| r.0 == s) {
            return Ok(Self(s.to_owned()));
        }
        let hint = aws::nearest_region(s)
            .map(|r| format!(" (did you mean {r}?)"))
            .unwrap_or_default();
        Err(ValidationError::new(
            Field::Region,
            format!("{s:?} is not a known AWS region{hint}"),
        ))
    }

    /// A region code that is only well-formed (`xx-name-1`), for the store's list of extra
    /// regions the user has used.
    pub fn parse_custom(s: &str) -> Result<Self, ValidationError> {
        let s = s.trim();
        let mut parts = s.split('-');
        let well_formed = s.len() <= 32
            && parts.clone().count() >= 3
            && parts.all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
            && s.rsplit('-')
                .next()
                .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()));
        if well_formed {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::new(
                Field::Region,
                format!("{s:?} is not a region code like eu-west-1"),
            ))
        }
    }

    pub fn us_east_1() -> Self {
        Self("us-east-1".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// ARNs

/// The AWS partitions an IAM ARN may name.
pub const PARTITIONS: [&str; 8] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// Checks `arn:<partition>:iam::<12 digits>:<resource_type>/<path/><name>` and returns the
/// name after the resource type (path included).
fn parse_iam_arn<'a>(
    field: Field,
    s: &'a str,
    resource_type: &str,
    name_max: usize,
) -> Result<&'a str, ValidationError> {
    let shape = format!("arn:<partition>:iam::<12-digit account>:{resource_type}/<name>");
    let bad = |why: String| ValidationError::new(field, format!("{s:?} {why} (expected {shape})"));
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return Err(bad("is not an ARN".to_owned()));
    };
    if arn != "arn" {
        return Err(bad("does not start with \"arn:\"".to_owned()));
    }
    if !PARTITIONS.contains(&partition) {
        return Err(bad(format!(
            "names the unknown partition {partition:?}; known: {}",
            PARTITIONS.join(", ")
        )));
    }
    if service != "iam" {
        return Err(bad(format!("names the service {service:?}, not iam")));
    }
    if !region.is_empty() {
        return Err(bad("has a region, but IAM ARNs have none".to_owned()));
    }
    if parse_account_digits(account).is_err() {
        return Err(bad(format!(
            "has the account id {account:?}, which is not exactly 12 digits"
        )));
    }
    let Some(path_and_name) = resource
        .strip_prefix(resource_type)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return Err(bad(format!("does not name a {resource_type}/ resource")));
    };
    let (path, name) = path_and_name
        .rsplit_once('/')
        .unwrap_or(("", path_and_name));
    if path.len() > 510
        || path.split('/').any(|seg| {
            !path.is_empty() && (seg.is_empty() || !seg.chars().all(|c| c.is_ascii_graphic()))
        })
    {
        return Err(bad("has an invalid path".to_owned()));
    }
    if name.is_empty() || name.chars().count() > name_max || !name.chars().all(is_iam_name_char) {
        return Err(bad(format!(
            "has an invalid name {name:?}: 1 to {name_max} characters of letters, digits and _ + = , . @ -"
        )));
    }
    Ok(path_and_name)
}

fn parse_account_digits(s: &str) -> Parsed {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err(ValidationError::new(
            Field::AccountId,
            format!("account id {s:?}: must be exactly 12 digits"),
        ))
    }
}

validated_string!(
    /// An AWS account id: exactly 12 digits.
    AccountId,
    parse_account_digits
);

fn parse_role_arn(s: &str) -> Parsed {
    let s = s.trim();
    parse_iam_arn(Field::RoleArn, s, "role", 64)?;
    Ok(s.to_owned())
}

validated_string!(
    /// `arn:<partition>:iam::<account>:role/<path/><name>`.
    RoleArn,
    parse_role_arn
);

fn parse_idp_arn(s: &str) -> Parsed {
    let s = s.trim();
    parse_iam_arn(Field::IdpArn, s, "saml-provider", 128)?;
    Ok(s.to_owned())
}

validated_string!(
    /// `arn:<partition>:iam::<account>:saml-provider/<name>`.
    IdpArn,
    parse_idp_arn
);

fn parse_mfa_device(s: &str) -> Parsed {
    let s = s.trim();
    if s.starts_with("arn:") {
        parse_iam_arn(Field::MfaDevice, s, "mfa", 128)?;
    }
    // AWS's SerialNumber rule applies to ARNs and hardware serials alike.
    check_len(Field::MfaDevice, s, 9, 256)?;
    check_chars(
        Field::MfaDevice,
        s,
        |c| is_iam_name_char(c) || c == '/' || c == ':',
        "letters, digits and _ + = / : , . @ -",
    )?;
    Ok(s.to_owned())
}

validated_string!(
    /// A virtual MFA device ARN (`arn:<partition>:iam::<account>:mfa/<name>`) or a hardware
    /// serial (9–256 characters of `[\w+=/:,.@-]`).
    MfaDevice,
    parse_mfa_device
);

fn parse_role_session_name(s: &str) -> Parsed {
    let s = s.trim();
    check_len(Field::RoleSessionName, s, 2, 64)?;
    check_chars(
        Field::RoleSessionName,
        s,
        is_iam_name_char,
        "letters, digits and _ + = , . @ -",
    )?;
    Ok(s.to_owned())
}

validated_string!(
    /// An STS role session name: 2–64 characters of `[\w+=,.@-]`.
    RoleSessionName,
    parse_role_session_name
);

impl RoleSessionName {
    /// `credtray-<alias>`, with characters AWS refuses replaced by `-` and cut to 64
    /// characters (AWS's limit), for chained sessions that have none.
    pub fn derived_from(alias: &Alias) -> Self {
        let mut name: String = format!("credtray-{alias}")
            .chars()
            .map(|c| if is_iam_name_char(c) { c } else { '-' })
            .collect();
        name.truncate(64); // every char is ASCII now, so this cuts on a char boundary
        Self(name)
    }
}

fn parse_external_id(s: &str) -> Parsed {
    let s = s.trim();
    check_len(Field::ExternalId, s, 2, 1224)?;
    check_chars(
        Field::ExternalId,
        s,
        |c| is_iam_name_char(c) || c == '/' || c == ':',
        "letters, digits and _ + = , . @ : / -",
    )?;
    Ok(s.to_owned())
}

validated_string!(
    /// The external id a role's trust policy asks of whoever assumes it (`sts:ExternalId`),
    /// sent with AssumeRole: 2–1224 characters of `[\w+=,.@:/-]`.
    ExternalId,
    parse_external_id
);

fn parse_role_name(s: &str) -> Parsed {
    let s = s.trim();
    check_len(Field::RoleName, s, 1, 64)?;
    check_chars(
        Field::RoleName,
        s,
        is_iam_name_char,
        "letters, digits and _ + = , . @ -",
    )?;
    Ok(s.to_owned())
}

validated_string!(
    /// An IAM role name (of an SSO permission set): 1–64 characters of `[\w+=,.@-]`.
    RoleName,
    parse_role_name
);

fn parse_saml_url(s: &str) -> Parsed {
    let s = s.trim();
    let url = url::Url::parse(s).map_err(|e| {
        ValidationError::new(
            Field::SamlUrl,
            format!("{s:?} is not an absolute URL ({e})"),
        )
    })?;
    let host = url.host_str().unwrap_or_default();
    match url.scheme() {
        "https" if !host.is_empty() => Ok(s.to_owned()),
        "http" if host == "localhost" || host == "127.0.0.1" => Ok(s.to_owned()),
        "http" => Err(ValidationError::new(
            Field::SamlUrl,
            format!(
                "{s:?} must use https:// (http:// is only allowed for localhost and 127.0.0.1)"
            ),
        )),
        _ => Err(ValidationError::new(
            Field::SamlUrl,
            format!("{s:?} must be an https:// URL"),
        )),
    }
}

validated_string!(
    /// The IdP's SAML 2.0 login URL: absolute `https://` (`http://` only for local hosts).
    SamlUrl,
    parse_saml_url
);

fn parse_start_url(s: &str) -> Parsed {
    let s = s.trim();
    let url = url::Url::parse(s).map_err(|e| {
        ValidationError::new(
            Field::StartUrl,
            format!("{s:?} is not an absolute URL ({e})"),
        )
    })?;
    let host = url.host_str().unwrap_or_default();
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    match url.scheme() {
        "https" if !host.is_empty() => Ok(s.to_owned()),
        "http" if loopback => Ok(s.to_owned()),
        _ => Err(ValidationError::new(
            Field::StartUrl,
            format!("{s:?} must be an https:// URL (http:// only for a loopback host)"),
        )),
    }
}

validated_string!(
    /// The AWS access portal's start URL of an IAM Identity Center instance: absolute
    /// `https://` (`http://` only for a loopback host, as a test stub is).
    StartUrl,
    parse_start_url
);

/// The hidden id of an integration (a UUID v4), which its derived sessions name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IntegrationId(Uuid);

impl IntegrationId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// The UUID, for keychain accounts.
    pub fn uuid(self) -> Uuid {
        self.0
    }
}

impl Default for IntegrationId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for IntegrationId {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        Uuid::parse_str(s.trim())
            .map(Self)
            .map_err(|_| ValidationError::new(Field::Integration, format!("{s:?} is not a UUID")))
    }
}

impl TryFrom<String> for IntegrationId {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, ValidationError> {
        s.parse()
    }
}

impl From<IntegrationId> for String {
    fn from(id: IntegrationId) -> String {
        id.to_string()
    }
}

impl fmt::Display for IntegrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A one-time MFA code: exactly six digits, wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct MfaCode(Zeroizing<String>);

impl MfaCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for MfaCode {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        let s = s.trim();
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(Zeroizing::new(s.to_owned())))
        } else {
            Err(ValidationError::new(
                Field::MfaCode,
                "must be exactly 6 digits",
            ))
        }
    }
}

// The one field is `Zeroizing`, so dropping an `MfaCode` wipes it.
impl zeroize::ZeroizeOnDrop for MfaCode {}

impl fmt::Debug for MfaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MfaCode(••••••)")
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets: no Debug that shows them, no Display, no Serialize; the messages never echo them.

/// A long-term access key id. Kept secret like the key itself: it names the user.
pub struct AccessKeyId(SecretString);

impl AccessKeyId {
    pub fn parse(s: &SecretString) -> Result<Self, ValidationError> {
        let v = s.expose_secret().trim();
        check_len(Field::AccessKeyId, v, 16, 128)?;
        if !v
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(ValidationError::new(
                Field::AccessKeyId,
                "only upper-case letters A-Z and digits are allowed",
            ));
        }
        Ok(Self(SecretString::from(v.to_owned())))
    }

    pub fn secret(&self) -> &SecretString {
        &self.0
    }

    /// The last four characters, the most a log line or a menu may show.
    pub fn masked(&self) -> String {
        let v = self.0.expose_secret();
        format!("••••{}", &v[v.len() - 4..])
    }
}

impl fmt::Debug for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessKeyId({})", self.masked())
    }
}

/// A long-term secret access key.
pub struct SecretAccessKey(SecretString);

impl SecretAccessKey {
    pub fn parse(s: &SecretString) -> Result<Self, ValidationError> {
        let v = s.expose_secret().trim();
        check_len(Field::SecretAccessKey, v, 1, 128)?;
        if v.chars().any(char::is_whitespace) {
            return Err(ValidationError::new(
                Field::SecretAccessKey,
                "must not contain whitespace",
            ));
        }
        Ok(Self(SecretString::from(v.to_owned())))
    }

    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

impl fmt::Debug for SecretAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretAccessKey(••••)")
    }
}

/// The long-term keys of an IAM user.
#[derive(Debug)]
pub struct IamUserKeys {
    pub access_key_id: AccessKeyId,
    pub secret_access_key: SecretAccessKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn mfa_codes_are_exactly_six_digits() {
        for bad in [
            "12345",
            "1234567",
            "abcdef",
            "12345a",
            "",
            "12 345",
            "١٢٣٤٥٦",
        ] {
            let err = bad.parse::<MfaCode>().unwrap_err();
            assert_eq!(err.field, Field::MfaCode, "{bad:?}");
            assert!(err.to_string().contains("MFA code"));
        }
        assert_eq!(" 123456 ".parse::<MfaCode>().unwrap().as_str(), "123456");
        assert_eq!(
            format!("{:?}", "123456".parse::<MfaCode>().unwrap()),
            "MfaCode(••••••)"
        );
    }

    #[test]
    fn mfa_codes_are_wiped_when_dropped() {
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}
        wiped_on_drop(&"123456".parse::<MfaCode>().unwrap());
    }

    #[test]
    fn aliases_with_bidi_zero_width_or_other_format_characters_are_refused() {
        for (alias, code_point) in [
            ("prod\u{202E}nimda", "U+202E"),
            ("\u{202A}dev", "U+202A"),
            ("dev\u{2066}x\u{2069}", "U+2066"),
            ("de\u{200B}v", "U+200B"),
            ("de\u{200D}v", "U+200D"),
            ("dev\u{200F}", "U+200F"),
            ("d\u{2060}ev", "U+2060"),
            ("\u{FEFF}dev", "U+FEFF"),
            ("de\u{00AD}v", "U+00AD"),
            ("dev\u{E0041}", "U+E0041"),
            ("one\u{2028}two", "U+2028"),
        ] {
            let err = alias.parse::<Alias>().unwrap_err();
            assert_eq!(err.field, Field::Alias, "{alias:?}");
            assert!(err.to_string().contains(code_point), "{alias:?}: {err}");
        }
        // Visible Unicode stays welcome.
        for ok in [
            "Prod ✓",
            "Entwicklung (München)",
            "本番",
            "dev 🚀",
            "ops—eu",
        ] {
            ok.parse::<Alias>().unwrap();
        }
    }

    #[test]
    fn an_alias_shaped_like_a_session_id_is_refused() {
        let id = SessionId::new().to_string();
        let simple = id.replace('-', "");
        for alias in [
            id.clone(),
            id.to_uppercase(),
            format!(" {id} "),
            format!("{{{id}}}"),
            format!("urn:uuid:{id}"),
            simple,
            "6ba7b810-9dad-11d1-80b4-00c04fd430c8".to_owned(),
        ] {
            let err = alias.parse::<Alias>().unwrap_err();
            assert_eq!(err.field, Field::Alias, "{alias:?}");
            assert!(err.to_string().contains("session id"), "{alias:?}: {err}");
        }
        // Near misses are ordinary names.
        format!("{id} copy").parse::<Alias>().unwrap();
        id[..35].parse::<Alias>().unwrap();
    }

    #[test]
    fn accepts_valid_values_of_every_partition_and_path() {
        for p in PARTITIONS {
            format!("arn:{p}:iam::123456789012:role/path/to/Admin+=,.@-_")
                .parse::<RoleArn>()
                .unwrap();
            format!("arn:{p}:iam::123456789012:saml-provider/Okta")
                .parse::<IdpArn>()
                .unwrap();
            format!("arn:{p}:iam::123456789012:mfa/me")
                .parse::<MfaDevice>()
                .unwrap();
        }
        "GAHT12345678".parse::<MfaDevice>().unwrap();
        "http://localhost:8080/saml".parse::<SamlUrl>().unwrap();
        "http://127.0.0.1/saml".parse::<SamlUrl>().unwrap();
        "prod.eu+ops@corp_1-x".parse::<ProfileName>().unwrap();
        assert_eq!(
            "  Prod admin  ".parse::<Alias>().unwrap().as_str(),
            "Prod admin"
        );
        assert_eq!(
            "Prod Admin".parse::<Alias>().unwrap().folded(),
            "prod admin"
        );
    }

    #[test]
    fn role_arn_names_are_limited_to_64_characters() {
        let ok = format!("arn:aws:iam::123456789012:role/{}", "a".repeat(64));
        ok.parse::<RoleArn>().unwrap();
        let err = format!("{ok}a").parse::<RoleArn>().unwrap_err();
        assert_eq!(err.field, Field::RoleArn);
    }

    #[test]
    fn derived_role_session_names_follow_the_aws_rule() {
        let alias: Alias = "Prod admin (EU) ✓".parse().unwrap();
        let name = RoleSessionName::derived_from(&alias);
        assert_eq!(name.as_str(), "credtray-Prod-admin--EU---");
        name.as_str().parse::<RoleSessionName>().unwrap();
        let long: Alias = "x".repeat(64).parse().unwrap();
        assert_eq!(RoleSessionName::derived_from(&long).as_str().len(), 64);
    }

    #[test]
    fn external_ids_follow_the_aws_rule() {
        for ok in [
            "ab",
            "partner-7Hq:2026/ops",
            "a+b=c,d.e@f_g",
            &"x".repeat(1224),
        ] {
            assert_eq!(ok.parse::<ExternalId>().unwrap().as_str(), ok);
        }
        assert_eq!(" ab ".parse::<ExternalId>().unwrap().as_str(), "ab");
        for (bad, rule) in [
            ("a", "2 to 1224 characters"),
            (&"x".repeat(1225) as &str, "2 to 1224 characters"),
            ("two words", "not allowed"),
            ("naïve", "not allowed"),
            ("a;b", "not allowed"),
        ] {
            let err = bad.parse::<ExternalId>().unwrap_err();
            assert_eq!(err.field, Field::ExternalId);
            assert!(err.to_string().contains(rule), "{bad:?}: {err}");
        }
    }

    #[test]
    fn keys_are_trimmed_checked_and_never_shown() {
        let id = AccessKeyId::parse(&secret(" AKIAIOSFODNN7EXAMPLE\n")).unwrap();
        assert_eq!(id.secret().expose_secret(), "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(format!("{id:?}"), "AccessKeyId(••••MPLE)");
        let key = SecretAccessKey::parse(&secret("wJalrXUtnFEMI/K7MDENG")).unwrap();
        assert!(!format!("{key:?}").contains("wJal"));
        for bad in ["AKIA", "akiaiosfodnn7example", "AKIA IOSFODNN7EXAMPLE"] {
            let err = AccessKeyId::parse(&secret(bad)).unwrap_err();
            assert!(
                !err.to_string().contains(bad),
                "the message echoes the value: {err}"
            );
        }
        let err = SecretAccessKey::parse(&secret("has space")).unwrap_err();
        assert!(!err.to_string().contains("has space"));
        assert!(SecretAccessKey::parse(&secret(&"k".repeat(129))).is_err());
    }

    #[test]
    fn regions_come_from_the_partition_data_or_the_users_extra_list() {
        Region::parse("eu-west-1", &[]).unwrap();
        Region::parse("us-isob-east-1", &[]).unwrap();
        let err = Region::parse("eu-west-9", &[]).unwrap_err();
        assert!(err.to_string().contains("did you mean"), "{err}");
        let extra = Region::parse_custom("xx-future-1").unwrap();
        Region::parse("xx-future-1", &[extra]).unwrap();
        for bad in ["xx", "xx-future", "XX-FUTURE-1", "xx--1", "xx-future-1a"] {
            assert!(Region::parse_custom(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn session_ids_are_uuid_v4() {
        let id = SessionId::new();
        assert_eq!(id.to_string().parse::<SessionId>().unwrap(), id);
        assert!(
            "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
                .parse::<SessionId>()
                .is_err(),
            "v1 is refused"
        );
        assert!("nope".parse::<SessionId>().is_err());
    }

    #[test]
    fn deserialising_runs_the_same_check() {
        #[derive(serde::Deserialize)]
        struct T {
            #[allow(dead_code)]
            arn: RoleArn,
        }
        assert!(toml::from_str::<T>("arn = \"arn:aws:iam::1:role/x\"").is_err());
        assert!(toml::from_str::<T>("arn = \"arn:aws:iam::123456789012:role/x\"").is_ok());
    }

    #[test]
    fn a_profile_named_default_in_capitals_would_give_every_profile_its_credentials() {
        let err = "DEFAULT".parse::<ProfileName>().unwrap_err();
        assert_eq!(err.field, Field::Profile);
        assert!(err.to_string().contains("reserved"), "{err}");
        assert!("default".parse::<ProfileName>().is_ok());
        assert!("Default".parse::<ProfileName>().is_ok());
    }
}
