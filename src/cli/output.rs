//! How the CLI renders sessions, profiles and the AWS files' check: aligned text for people,
//! one JSON document for programs. Sessions hold no secrets, and the check names sections,
//! keys and lines but never a value, so nothing here can print one.

use std::fmt::Write as _;

use serde::Serialize;

use crate::awsfiles::Report;
use crate::session::{Catalog, Session, SessionKind};

/// A session as `--json` shows it: a stable, documented set of keys, no secret among them.
#[derive(Debug, Serialize)]
pub struct SessionJson<'a> {
    id: String,
    alias: &'a str,
    kind: &'static str,
    profile: &'a str,
    region: &'a str,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(flatten)]
    fields: KindJson<'a>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum KindJson<'a> {
    IamUser {
        mfa_device: Option<&'a str>,
    },
    IamRoleChained {
        role_arn: &'a str,
        role_session_name: Option<&'a str>,
        assumer: String,
    },
    IamRoleFederated {
        role_arn: &'a str,
        saml_url: &'a str,
        idp_arn: &'a str,
    },
    AwsSsoRole {
        account_id: &'a str,
        role_name: &'a str,
        integration: String,
    },
}

impl<'a> SessionJson<'a> {
    pub fn new(s: &'a Session) -> Self {
        let fields = match &s.kind {
            SessionKind::IamUser { mfa_device } => KindJson::IamUser {
                mfa_device: mfa_device.as_ref().map(|m| m.as_str()),
            },
            SessionKind::IamRoleChained {
                role_arn,
                role_session_name,
                assumer,
            } => KindJson::IamRoleChained {
                role_arn: role_arn.as_str(),
                role_session_name: role_session_name.as_ref().map(|n| n.as_str()),
                assumer: assumer.to_string(),
            },
            SessionKind::IamRoleFederated {
                role_arn,
                saml_url,
                idp_arn,
            } => KindJson::IamRoleFederated {
                role_arn: role_arn.as_str(),
                saml_url: saml_url.as_str(),
                idp_arn: idp_arn.as_str(),
            },
            SessionKind::AwsSsoRole {
                account_id,
                role_name,
                integration,
            } => KindJson::AwsSsoRole {
                account_id: account_id.as_str(),
                role_name: role_name.as_str(),
                integration: integration.to_string(),
            },
        };
        Self {
            id: s.id.to_string(),
            alias: s.alias.as_str(),
            kind: s.kind.tag().as_str(),
            profile: s.profile.as_str(),
            region: s.region.as_str(),
            state: s.state.as_str(),
            error: s.state.error(),
            fields,
        }
    }
}

/// One line per session, columns aligned.
pub fn table(catalog: &Catalog) -> String {
    if catalog.sessions().is_empty() {
        return "no sessions yet: add one with `credtray session add`\n".to_owned();
    }
    let rows: Vec<[String; 6]> = catalog
        .sessions()
        .iter()
        .map(|s| {
            [
                format!("{} {}", s.state.mark(), s.state.as_str()),
                s.alias.to_string(),
                s.kind.tag().to_string(),
                s.profile.to_string(),
                s.region.to_string(),
                s.id.to_string(),
            ]
        })
        .collect();
    let header = ["STATE", "ALIAS", "KIND", "PROFILE", "REGION", "ID"].map(str::to_owned);
    let mut widths = [0; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (cell, w) in row.iter().zip(widths) {
            let _ = write!(line, "{cell}{}  ", " ".repeat(w - cell.chars().count()));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Every field of one session, one per line; secrets only as "stored in the OS keychain".
pub fn details(catalog: &Catalog, s: &Session) -> String {
    let mut lines: Vec<(&str, String)> = vec![
        ("alias", s.alias.to_string()),
        ("id", s.id.to_string()),
        ("kind", s.kind.tag().to_string()),
        ("state", s.state.as_str().to_owned()),
        ("named profile", s.profile.to_string()),
        ("region", s.region.to_string()),
    ];
    if let Some(error) = s.state.error() {
        lines.push(("last error", error.to_owned()));
    }
    let none = || "(none)".to_owned();
    match &s.kind {
        SessionKind::IamUser { mfa_device } => {
            lines.push((
                "MFA device",
                mfa_device.as_ref().map_or_else(none, ToString::to_string),
            ));
            lines.push(("access key id", "•••• (in the OS keychain)".to_owned()));
            lines.push(("secret access key", "•••• (in the OS keychain)".to_owned()));
        }
        SessionKind::IamRoleChained {
            role_arn,
            role_session_name,
            assumer,
        } => {
            lines.push(("role ARN", role_arn.to_string()));
            lines.push((
                "role session name",
                role_session_name.as_ref().map_or_else(
                    || "(default: credtray-<alias>)".to_owned(),
                    ToString::to_string,
                ),
            ));
            let assumer_alias = catalog
                .get(*assumer)
                .map_or_else(none, |a| a.alias.to_string());
            lines.push(("assumer session", format!("{assumer_alias} ({assumer})")));
        }
        SessionKind::IamRoleFederated {
            role_arn,
            saml_url,
            idp_arn,
        } => {
            lines.push(("role ARN", role_arn.to_string()));
            lines.push(("SAML 2.0 URL", saml_url.to_string()));
            lines.push(("identity provider ARN", idp_arn.to_string()));
        }
        SessionKind::AwsSsoRole {
            account_id,
            role_name,
            integration,
        } => {
            lines.push(("account id", account_id.to_string()));
            lines.push(("role name", role_name.to_string()));
            lines.push(("integration", integration.to_string()));
        }
    }
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    lines
        .iter()
        .map(|(k, v)| format!("{k:width$}  {v}\n"))
        .collect()
}

/// A named profile as `profile list --json` shows it.
#[derive(Debug, Serialize)]
pub struct ProfileJson<'a> {
    pub name: &'a str,
    pub sessions: usize,
}

pub fn profiles(catalog: &Catalog) -> Vec<ProfileJson<'_>> {
    catalog
        .profiles()
        .iter()
        .map(|p| ProfileJson {
            name: p.as_str(),
            sessions: catalog
                .sessions()
                .iter()
                .filter(|s| &s.profile == p)
                .count(),
        })
        .collect()
}

/// `files check` as text: per file its sections and what credtray owns, then its problems, then
/// the warnings as `path:line: warning: …` (the form editors and terminals link to).
pub fn files(reports: &[Report]) -> String {
    let mut text = String::new();
    for r in reports {
        let path = r.path.display();
        if !r.exists {
            let _ = writeln!(text, "{path}: does not exist yet");
        } else if r.problems.is_empty() || r.sections > 0 {
            let owned = if r.owned.is_empty() {
                "none".to_owned()
            } else {
                r.owned.join(", ")
            };
            let _ = writeln!(
                text,
                "{path}: {} section(s); credtray owns: {owned}",
                r.sections
            );
        }
        for problem in &r.problems {
            let _ = writeln!(text, "{path}: problem: {problem}");
        }
        for warning in &r.warnings {
            let _ = writeln!(
                text,
                "{path}:{}: warning: {}",
                warning.line, warning.message
            );
        }
    }
    text
}
