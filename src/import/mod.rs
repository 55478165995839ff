//! `credtray import aws-config`: what the profiles of `~/.aws` become, planned as pure data
//! from the two parsed files and the catalog, then applied by the caller through the engine.
//! A profile with static keys becomes an `iam-user` session (its `mfa_serial` its MFA device);
//! one with `role_arn` and `source_profile` a chained session whose assumer is the source's
//! session; an IAM Identity Center role (`sso_session`, or a legacy `sso_start_url`) is
//! remembered by the one integration planned per start URL ([`integrations`]), so its first
//! sync calls the role's session like the profile; everything else is reported as skipped,
//! with the reason. Every session is called like its profile and publishes to it; a profile a
//! session already has is "present", so a second import creates nothing.

mod apply;

pub use apply::{Error, Report, Row, apply};

use std::collections::BTreeMap;

use secrecy::SecretString;

use crate::awsfiles::Document;
use crate::session::{
    AccessKeyId, Alias, Catalog, CommandLine, ExternalId, IamUserKeys, IntegrationId, MfaDevice,
    MfaSource, NewIntegration, ProfileName, RememberedProfile, RoleArn, RoleSessionName,
    SecretAccessKey, StartUrl,
};

/// What one profile becomes.
#[derive(Debug)]
pub enum Outcome {
    /// A new IAM-user session with these keys.
    User {
        mfa_device: Option<MfaDevice>,
        /// aws-vault's `mfa_process`, beside an `mfa_serial`.
        mfa_source: Option<MfaSource>,
        keys: IamUserKeys,
    },
    /// A new chained session assuming `role_arn` with the session of profile `source`.
    Chained {
        role_arn: RoleArn,
        source: String,
        role_session_name: Option<RoleSessionName>,
        external_id: Option<ExternalId>,
    },
    /// A session already uses this profile (or has its alias).
    Present,
    /// An IAM Identity Center role: remembered by the integration `integration` (planned in
    /// [`integrations`]), whose first sync creates its session under this profile name.
    Sso { integration: String },
    /// Not imported, and why.
    Skipped(String),
}

/// One profile of `~/.aws` and what it becomes.
#[derive(Debug)]
pub struct Planned {
    pub profile: String,
    pub region: Option<String>,
    pub outcome: Outcome,
    /// The profile holds long-term keys in the files (an access key pair, no session token).
    pub static_keys: bool,
}

impl Planned {
    /// The report's word for it.
    pub fn status(&self) -> &'static str {
        match self.outcome {
            Outcome::User { .. } | Outcome::Chained { .. } => "created",
            Outcome::Present => "already present",
            Outcome::Sso { .. } => "remembered",
            Outcome::Skipped(_) => "skipped",
        }
    }

    /// Whether it becomes a session holding long-term keys (which `--move-keys` may move).
    pub fn has_keys(&self) -> bool {
        self.static_keys && matches!(self.outcome, Outcome::User { .. } | Outcome::Present)
    }

    pub fn kind(&self) -> &'static str {
        match self.outcome {
            Outcome::User { .. } => "iam-user",
            Outcome::Chained { .. } => "iam-role-chained",
            Outcome::Sso { .. } => "aws-sso-role",
            Outcome::Present | Outcome::Skipped(_) => "",
        }
    }
}

/// A profile's keys and values from both files (the config file's win, as botocore reads
/// config settings; keys from the credentials file win, as botocore reads those).
#[derive(Default)]
struct Profile {
    values: BTreeMap<String, String>,
}

impl Profile {
    fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// The profile a section header names: `default`, `profile X` → `X` in the config file;
/// `None` for `sso-session`, `services` and other non-profile sections.
fn profile_of(header: &str, config: bool) -> Option<String> {
    let words: Vec<&str> = header.split_whitespace().collect();
    match (config, words.as_slice()) {
        (_, ["default"]) => Some("default".to_owned()),
        (true, ["profile", rest @ ..]) if !rest.is_empty() => Some(rest.join(" ")),
        (true, _) => None,
        (false, _) if !words.is_empty() => Some(words.join(" ")),
        _ => None,
    }
}

/// The profiles and the `[sso-session]`s of `~/.aws`, read out of the two parsed files once;
/// what [`plan`], [`integrations`] and [`offer`] all work from.
pub struct Profiles {
    profiles: BTreeMap<String, Profile>,
    sso_sessions: BTreeMap<String, Instance>,
}

impl Profiles {
    pub fn new(credentials: &Document, config: &Document) -> Self {
        Self {
            profiles: profiles(credentials, config),
            sso_sessions: sso_sessions(config),
        }
    }
}

fn profiles(credentials: &Document, config: &Document) -> BTreeMap<String, Profile> {
    const KEYS: &[&str] = &[
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "mfa_serial",
        "mfa_process",
        "region",
        "role_arn",
        "source_profile",
        "role_session_name",
        "external_id",
        "credential_source",
        "web_identity_token_file",
        "credential_process",
        "sso_session",
        "sso_start_url",
        "sso_region",
        "sso_account_id",
        "sso_role_name",
    ];
    let mut out: BTreeMap<String, Profile> = BTreeMap::new();
    // The config file first, then the credentials file, whose keys win.
    for (document, is_config) in [(config, true), (credentials, false)] {
        let headers: Vec<String> = document.section_names().map(str::to_owned).collect();
        for header in headers {
            let Some(name) = profile_of(&header, is_config) else {
                continue;
            };
            let profile = out.entry(name).or_default();
            for key in KEYS {
                if let Some(value) = document.get(&header, key) {
                    profile
                        .values
                        .insert((*key).to_owned(), value.trim().to_owned());
                }
            }
        }
    }
    out
}

/// Plans the import of every profile of `aws` into `catalog`.
pub fn plan(aws: &Profiles, catalog: &Catalog) -> Vec<Planned> {
    aws.profiles
        .iter()
        .map(|(name, profile)| Planned {
            region: profile.get("region").map(str::to_owned),
            static_keys: profile.get("aws_access_key_id").is_some()
                && profile.get("aws_secret_access_key").is_some()
                && profile.get("aws_session_token").is_none(),
            outcome: outcome(name, profile, catalog, &aws.sso_sessions),
            profile: name.clone(),
        })
        .collect()
}

fn outcome(
    name: &str,
    p: &Profile,
    catalog: &Catalog,
    sso_sessions: &BTreeMap<String, Instance>,
) -> Outcome {
    let skipped = |why: &str| Outcome::Skipped(why.to_owned());
    if let Err(e) = name.parse::<ProfileName>() {
        return Outcome::Skipped(format!("the profile name can't be a named profile ({e})"));
    }
    if let Err(e) = name.parse::<Alias>() {
        return Outcome::Skipped(format!("the profile name can't be an alias ({e})"));
    }
    let present = catalog
        .sessions()
        .iter()
        .any(|s| s.alias.as_str() == name || s.profile.as_str() == name);
    if present {
        return Outcome::Present;
    }
    if p.get("sso_session").is_some() || p.get("sso_start_url").is_some() {
        return match sso_role(p, sso_sessions) {
            Ok((instance, _)) => Outcome::Sso {
                integration: instance.alias,
            },
            Err(why) => Outcome::Skipped(why),
        };
    }
    if p.get("credential_source").is_some() {
        return skipped(
            "credential_source takes credentials from the EC2/ECS environment, not from a session",
        );
    }
    if p.get("web_identity_token_file").is_some() {
        return skipped("web identity (OIDC token file) profiles are not sessions credtray keeps");
    }
    if p.get("credential_process").is_some() {
        return skipped("credential_process profiles get credentials from their own tool");
    }
    if let Some(role) = p.get("role_arn") {
        let Some(source) = p.get("source_profile") else {
            return skipped("role_arn without source_profile");
        };
        let role_arn = match role.parse::<RoleArn>() {
            Ok(r) => r,
            Err(e) => return Outcome::Skipped(e.to_string()),
        };
        let role_session_name = match p.get("role_session_name").map(str::parse).transpose() {
            Ok(r) => r,
            Err(e) => return Outcome::Skipped(format!("{e}")),
        };
        let external_id = match p.get("external_id").map(str::parse).transpose() {
            Ok(r) => r,
            Err(e) => return Outcome::Skipped(format!("{e}")),
        };
        return Outcome::Chained {
            role_arn,
            source: source.to_owned(),
            role_session_name,
            external_id,
        };
    }
    match (p.get("aws_access_key_id"), p.get("aws_secret_access_key")) {
        (Some(_), Some(_)) if p.get("aws_session_token").is_some() => skipped(
            "temporary credentials (aws_session_token): nothing long-term to keep (credtray may have written them)",
        ),
        (Some(id), Some(secret)) => {
            let keys = AccessKeyId::parse(&SecretString::from(id)).and_then(|access_key_id| {
                Ok(IamUserKeys {
                    access_key_id,
                    secret_access_key: SecretAccessKey::parse(&SecretString::from(secret))?,
                })
            });
            let keys = match keys {
                Ok(k) => k,
                Err(e) => return Outcome::Skipped(e.to_string()),
            };
            let mfa_device = match p.get("mfa_serial").map(str::parse).transpose() {
                Ok(m) => m,
                Err(e) => return Outcome::Skipped(format!("{e}")),
            };
            // aws-vault's `mfa_process` runs through a shell; a command that needs none runs
            // as its words.
            let mfa_source = match (&mfa_device, p.get("mfa_process")) {
                (Some(_), Some(command)) => match CommandLine::from_shell(command) {
                    Ok(command) => Some(MfaSource::Process(command)),
                    Err(e) => return Outcome::Skipped(format!("mfa_process: {}", e.rule)),
                },
                _ => None,
            };
            Outcome::User {
                mfa_device,
                mfa_source,
                keys,
            }
        }
        (Some(_), None) | (None, Some(_)) => skipped("only one of the two keys"),
        (None, None) => skipped("no credentials of its own (settings only)"),
    }
}

/// An IAM Identity Center instance as `~/.aws/config` names it: an `[sso-session X]`, or the
/// `sso_start_url` of a legacy profile.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Instance {
    alias: String,
    start_url: String,
    region: String,
}

/// The `[sso-session X]` sections that name a start URL and a region.
fn sso_sessions(config: &Document) -> BTreeMap<String, Instance> {
    config
        .section_names()
        .filter_map(|header| {
            let name = header.strip_prefix("sso-session")?.trim();
            let get = |key| {
                config
                    .get(header, key)
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
            };
            Some((
                name.to_owned(),
                Instance {
                    alias: name.to_owned(),
                    start_url: get("sso_start_url")?.to_owned(),
                    region: get("sso_region")?.to_owned(),
                },
            ))
        })
        .collect()
}

/// The instance, account and role an SSO profile names, or why it can't be imported.
fn sso_role(
    p: &Profile,
    sso_sessions: &BTreeMap<String, Instance>,
) -> Result<(Instance, RememberedProfile), String> {
    let instance = match p.get("sso_session") {
        Some(name) => sso_sessions.get(name).cloned().ok_or_else(|| {
            format!("its sso_session {name:?} has no [sso-session {name}] with sso_start_url and sso_region")
        })?,
        None => {
            let (Some(url), Some(region)) = (p.get("sso_start_url"), p.get("sso_region")) else {
                return Err("a legacy IAM Identity Center profile without sso_start_url and sso_region".to_owned());
            };
            Instance {
                alias: legacy_alias(url),
                start_url: url.to_owned(),
                region: region.to_owned(),
            }
        }
    };
    let (Some(account), Some(role)) = (p.get("sso_account_id"), p.get("sso_role_name")) else {
        return Err(format!(
            "no sso_account_id and sso_role_name: a login profile of {:?}, whose roles come with its integration",
            instance.alias
        ));
    };
    let remembered = RememberedProfile {
        account_id: account.parse().map_err(|e| format!("{e}"))?,
        role_name: role.parse().map_err(|e| format!("{e}"))?,
        // The caller sets the profile name.
        profile: "default".parse().map_err(|e| format!("{e}"))?,
    };
    Ok((instance, remembered))
}

/// A legacy profile's start URL's first host label (`https://my-corp.awsapps.com/start` →
/// `my-corp`), for the alias of its integration.
fn legacy_alias(start_url: &str) -> String {
    url::Url::parse(start_url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| h.split('.').next().unwrap_or(h).to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "aws-sso".to_owned())
}

/// One IAM Identity Center instance of `~/.aws/config` and what it becomes.
#[derive(Debug)]
pub struct PlannedIntegration {
    pub alias: String,
    pub start_url: String,
    pub region: String,
    /// The profiles that named its roles, for its first sync.
    pub profiles: Vec<RememberedProfile>,
    pub outcome: IntegrationOutcome,
}

#[derive(Debug)]
pub enum IntegrationOutcome {
    /// A new integration.
    New(NewIntegration),
    /// An integration with this start URL exists; its roles' profile names are remembered.
    Present(IntegrationId),
    /// Not imported, and why.
    Skipped(String),
}

/// One integration per start URL that SSO profiles (or `[sso-session]`s) of `aws` name,
/// called like the first sso-session naming it; profiles a session already uses are not
/// remembered.
pub fn integrations(aws: &Profiles, catalog: &Catalog) -> Vec<PlannedIntegration> {
    let mut out: Vec<PlannedIntegration> = Vec::new();
    for instance in aws.sso_sessions.values() {
        slot(&mut out, instance, catalog);
    }
    for (name, profile) in &aws.profiles {
        let Ok((instance, mut remembered)) = sso_role(profile, &aws.sso_sessions) else {
            continue;
        };
        let i = slot(&mut out, &instance, catalog);
        let Ok(profile_name) = name.parse::<ProfileName>() else {
            continue;
        };
        let used = catalog
            .sessions()
            .iter()
            .any(|s| s.profile == profile_name || s.alias.as_str() == name.as_str());
        if !used {
            remembered.profile = profile_name;
            out[i].profiles.push(remembered);
        }
    }
    out
}

/// The index in `out` of the integration of `instance`'s start URL, added when new.
fn slot(out: &mut Vec<PlannedIntegration>, instance: &Instance, catalog: &Catalog) -> usize {
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    if let Some(i) = out
        .iter()
        .position(|p| same(&p.start_url, &instance.start_url))
    {
        return i;
    }
    let outcome = match catalog
        .integrations()
        .iter()
        .find(|i| same(i.start_url.as_str(), &instance.start_url))
    {
        Some(existing) => IntegrationOutcome::Present(existing.id),
        None => match (
            instance.start_url.parse::<StartUrl>(),
            instance.alias.parse::<Alias>(),
        ) {
            (Err(e), _) | (_, Err(e)) => IntegrationOutcome::Skipped(e.to_string()),
            (Ok(start_url), Ok(alias)) => IntegrationOutcome::New(NewIntegration {
                alias,
                start_url,
                region: instance.region.clone(),
            }),
        },
    };
    out.push(PlannedIntegration {
        alias: instance.alias.clone(),
        start_url: instance.start_url.clone(),
        region: instance.region.clone(),
        profiles: Vec::new(),
        outcome,
    });
    out.len() - 1
}

/// The created ones in an order that puts every source before the sessions chained from it;
/// chained ones whose source is skipped, missing or part of a cycle become skipped.
pub fn ordered(mut planned: Vec<Planned>, catalog: &Catalog) -> Vec<Planned> {
    let mut done: Vec<Planned> = Vec::new();
    let available = |name: &str, done: &[Planned]| {
        catalog.sessions().iter().any(|s| s.alias.as_str() == name)
            || done.iter().any(|d| {
                d.profile == name
                    && matches!(d.outcome, Outcome::User { .. } | Outcome::Chained { .. })
            })
    };
    loop {
        let before = planned.len();
        let mut rest = Vec::new();
        for p in planned {
            let ready = match &p.outcome {
                Outcome::Chained { source, .. } => available(source, &done),
                _ => true,
            };
            if ready {
                done.push(p);
            } else {
                rest.push(p);
            }
        }
        planned = rest;
        if planned.is_empty() || planned.len() == before {
            break;
        }
    }
    for mut p in planned {
        if let Outcome::Chained { source, .. } = &p.outcome {
            p.outcome = Outcome::Skipped(format!(
                "its source_profile {source:?} is not imported (skipped, missing, or a cycle)"
            ));
        }
        done.push(p);
    }
    done
}

/// What the tray offers on its first run: when credtray has no session and no integration
/// yet and `~/.aws` has something to import, one line per session or integration it would
/// make, then the profiles it would leave out. `None`: nothing to offer.
pub fn first_run_offer(aws: &Profiles, catalog: &Catalog) -> Option<String> {
    if !catalog.sessions().is_empty() || !catalog.integrations().is_empty() {
        return None;
    }
    offer(aws, catalog)
}

/// What an import would make now, one line per session or integration, then the profiles it
/// would leave out; `None` when it would make nothing.
pub fn offer(aws: &Profiles, catalog: &Catalog) -> Option<String> {
    let planned = ordered(plan(aws, catalog), catalog);
    let mut lines: Vec<String> = integrations(aws, catalog)
        .iter()
        .filter(|i| matches!(i.outcome, IntegrationOutcome::New(_)))
        .map(|i| {
            let roles = match i.profiles.len() {
                0 => String::new(),
                n => format!(", {n} of its roles named after your profiles"),
            };
            format!(
                "• {}: IAM Identity Center at {}{roles}",
                i.alias, i.start_url
            )
        })
        .collect();
    lines.extend(planned.iter().filter_map(|p| match &p.outcome {
        Outcome::User {
            mfa_device,
            mfa_source,
            ..
        } => Some(format!(
            "• {}: IAM user, its keys into the keychain{}",
            p.profile,
            match (mfa_device, mfa_source) {
                (Some(_), Some(source)) => format!(", with its MFA device and {source}"),
                (Some(_), None) => ", with its MFA device".to_owned(),
                _ => String::new(),
            }
        )),
        Outcome::Chained {
            role_arn, source, ..
        } => Some(format!("• {}: role {role_arn} through {source}", p.profile)),
        _ => None,
    }));
    if lines.is_empty() {
        return None;
    }
    let left: Vec<&str> = planned
        .iter()
        .filter(|p| matches!(p.outcome, Outcome::Skipped(_)))
        .map(|p| p.profile.as_str())
        .collect();
    if !left.is_empty() {
        lines.push(format!("Left as they are: {}", left.join(", ")));
    }
    Some(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::awsfiles::Flavor;

    fn plan_of(credentials: &str, config: &str) -> Vec<Planned> {
        let credentials = Document::parse(credentials, Flavor::Credentials).unwrap();
        let config = Document::parse(config, Flavor::Config).unwrap();
        let catalog = Catalog::default();
        ordered(
            plan(&Profiles::new(&credentials, &config), &catalog),
            &catalog,
        )
    }

    fn summary(planned: &[Planned]) -> Vec<(String, &'static str, &'static str)> {
        planned
            .iter()
            .map(|p| (p.profile.clone(), p.status(), p.kind()))
            .collect()
    }

    #[test]
    fn keys_become_users_and_role_chains_follow_their_sources() {
        let credentials = "[dev]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\n[temp]\naws_access_key_id = ASIAIOSFODNN7EXAMPLE\naws_secret_access_key = x\naws_session_token = y\n";
        let config = "[profile dev]\nregion = eu-west-1\nmfa_serial = arn:aws:iam::123456789012:mfa/me\n\n[profile deep]\nrole_arn = arn:aws:iam::123456789012:role/Deep\nsource_profile = ops\n\n[profile ops]\nrole_arn = arn:aws:iam::123456789012:role/Ops\nsource_profile = dev\nexternal_id = partner-1\n\n[profile ec2]\nrole_arn = arn:aws:iam::123456789012:role/X\ncredential_source = Ec2InstanceMetadata\n\n[profile sso]\nsso_session = corp\nsso_account_id = 123456789012\n\n[sso-session corp]\nsso_start_url = https://d-1.awsapps.com/start\n\n[profile orphan]\nrole_arn = arn:aws:iam::123456789012:role/O\nsource_profile = nowhere\n\n[default]\nregion = us-east-1\n";
        let planned = plan_of(credentials, config);
        let s = summary(&planned);
        let pos = |n: &str| s.iter().position(|(p, _, _)| p == n).unwrap();
        assert_eq!(s[pos("dev")].1..=s[pos("dev")].2, "created"..="iam-user");
        assert_eq!(s[pos("ops")].2, "iam-role-chained");
        assert_eq!(s[pos("deep")].2, "iam-role-chained");
        assert!(pos("dev") < pos("ops") && pos("ops") < pos("deep"), "{s:?}");
        for skipped in ["temp", "ec2", "sso", "orphan", "default"] {
            assert_eq!(s[pos(skipped)].1, "skipped", "{skipped}: {s:?}");
        }
        let Outcome::User { mfa_device, .. } = &planned[pos("dev")].outcome else {
            panic!()
        };
        assert_eq!(
            mfa_device.as_ref().unwrap().as_str(),
            "arn:aws:iam::123456789012:mfa/me"
        );
        assert_eq!(planned[pos("dev")].region.as_deref(), Some("eu-west-1"));
        let Outcome::Chained {
            external_id,
            source,
            ..
        } = &planned[pos("ops")].outcome
        else {
            panic!()
        };
        assert_eq!(
            (source.as_str(), external_id.as_ref().unwrap().as_str()),
            ("dev", "partner-1")
        );
        assert!(
            !s.iter().any(|(p, _, _)| p == "corp"),
            "an sso-session is not a profile"
        );
    }

    #[test]
    fn aws_vaults_mfa_process_becomes_the_users_mfa_source() {
        let credentials = "[a]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\n[b]\naws_access_key_id = AKIAIOSFODNN7EXAMPLF\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\n[c]\naws_access_key_id = AKIAIOSFODNN7EXAMPLG\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
        let config = "[profile a]\nmfa_serial = arn:aws:iam::123456789012:mfa/a\nmfa_process = pass otp aws/a\n\n[profile b]\nmfa_serial = arn:aws:iam::123456789012:mfa/b\nmfa_process = op item get aws --otp | tr -d ' '\n\n[profile c]\nmfa_process = pass otp aws/c\n";
        let planned = plan_of(credentials, config);
        let source = |name: &str| {
            let p = planned.iter().find(|p| p.profile == name).unwrap();
            let Outcome::User { mfa_source, .. } = &p.outcome else {
                panic!("{name}: {:?}", p.outcome)
            };
            mfa_source.as_ref().map(ToString::to_string)
        };
        assert_eq!(source("a").as_deref(), Some("process:pass otp aws/a"));
        assert_eq!(
            source("b").as_deref(),
            Some("process:sh -c \"op item get aws --otp | tr -d ' '\"")
        );
        assert_eq!(source("c"), None, "no MFA device: nothing asks for a code");
    }

    #[test]
    fn the_first_run_offer_lists_what_would_be_imported_and_only_on_a_first_run() {
        let credentials = Document::parse("[dev]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", Flavor::Credentials).unwrap();
        let config = Document::parse("[profile ops]\nrole_arn = arn:aws:iam::123456789012:role/Ops\nsource_profile = dev\n\n[profile box]\ncredential_source = Ec2InstanceMetadata\n\n[sso-session corp]\nsso_start_url = https://d-1234567890.awsapps.com/start\nsso_region = eu-west-1\n\n[profile admin]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n", Flavor::Config).unwrap();
        let aws = Profiles::new(&credentials, &config);
        let mut catalog = Catalog::default();
        let offer = first_run_offer(&aws, &catalog).unwrap();
        assert_eq!(
            offer,
            "• corp: IAM Identity Center at https://d-1234567890.awsapps.com/start, 1 of its roles named after your profiles\n• dev: IAM user, its keys into the keychain\n• ops: role arn:aws:iam::123456789012:role/Ops through dev\nLeft as they are: box"
        );
        let empty = Document::parse("", Flavor::Config).unwrap();
        assert_eq!(
            first_run_offer(&Profiles::new(&empty, &empty), &catalog),
            None
        );
        catalog
            .add(crate::session::NewSession {
                alias: "mine".parse().unwrap(),
                profile: None,
                region: None,
                publish: None,
                kind: crate::session::SessionKind::IamUser {
                    mfa_device: None,
                    mfa_source: None,
                },
            })
            .unwrap();
        assert_eq!(first_run_offer(&aws, &catalog), None, "not a first run");
        // Asked for (the first-run menu's Import item), it still lists what is not there yet.
        assert!(
            super::offer(&aws, &catalog)
                .unwrap()
                .contains("• dev: IAM user")
        );
    }

    #[test]
    fn a_cycle_of_sources_is_skipped_not_looped() {
        let config = "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/A\nsource_profile = b\n\n[profile b]\nrole_arn = arn:aws:iam::123456789012:role/B\nsource_profile = a\n";
        let s = summary(&plan_of("", config));
        assert!(s.iter().all(|(_, status, _)| *status == "skipped"), "{s:?}");
    }
}
