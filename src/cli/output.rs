//! How the CLI renders sessions, profiles and the AWS files' check: aligned text for people,
//! one JSON document for programs. Sessions hold no secrets, and the check names sections,
//! keys and lines but never a value, so nothing here can print one.

use std::fmt::Write as _;

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::awsfiles::Report;
use crate::session::{Catalog, Integration, Login, Session, SessionKind, Value};

/// A session as `--json` shows it: a stable, documented set of keys, no secret among them.
#[derive(Debug, Serialize)]
pub struct SessionJson<'a> {
    id: String,
    alias: &'a str,
    kind: &'static str,
    profile: &'a str,
    region: &'a str,
    publish: &'static str,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    /// When the credentials written for it expire (RFC 3339), while it has some.
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration: Option<String>,
    /// Pinned to the top of the tray's menu.
    pinned: bool,
    /// When it was last started (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    last_used: Option<String>,
    #[serde(flatten)]
    fields: KindJson<'a>,
}

/// A session's own fields ([`Kind::fields`]) under their snake-case names, `null` when an
/// optional one has no value; secrets (in the keychain) are never among them.
#[derive(Debug)]
struct KindJson<'a>(&'a SessionKind);

impl Serialize for KindJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let values = self.0.values();
        let mut map = serializer.serialize_map(Some(values.len()))?;
        for value in &values {
            map.serialize_entry(&value.field().key(), &value.text())?;
        }
        map.end()
    }
}

impl<'a> SessionJson<'a> {
    pub fn new(s: &'a Session) -> Self {
        Self {
            id: s.id.to_string(),
            alias: s.alias.as_str(),
            kind: s.kind.tag().as_str(),
            profile: s.profile.as_str(),
            region: s.region.as_str(),
            publish: s.publish.as_str(),
            state: s.state.as_str(),
            error: s.state.error(),
            expiration: s.expiration.map(crate::aws::rfc3339),
            pinned: s.pinned,
            last_used: s.last_used.map(crate::aws::rfc3339),
            fields: KindJson(&s.kind),
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
    aligned(&header, &rows)
}

/// A header and rows as columns aligned on their widest cell.
pub fn aligned<R: AsRef<[String]>>(header: &[String], rows: &[R]) -> String {
    let lines = || std::iter::once(header).chain(rows.iter().map(AsRef::as_ref));
    let mut widths = vec![0; header.len()];
    for row in lines() {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in lines() {
        let mut line = String::new();
        for (cell, w) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell}{}  ", " ".repeat(w - cell.chars().count()));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Every field of one session, one per line; secrets only as "stored in the OS keychain".
pub fn details(catalog: &Catalog, s: &Session) -> String {
    let mut lines: Vec<(String, String)> = vec![
        ("alias".to_owned(), s.alias.to_string()),
        ("id".to_owned(), s.id.to_string()),
        ("kind".to_owned(), s.kind.tag().to_string()),
        ("state".to_owned(), s.state.as_str().to_owned()),
        ("named profile".to_owned(), s.profile.to_string()),
        ("region".to_owned(), s.region.to_string()),
        ("publish".to_owned(), s.publish.to_string()),
    ];
    if let Some(error) = s.state.error() {
        lines.push(("last error".to_owned(), error.to_owned()));
    }
    for &field in s.kind.tag().fields() {
        let value = match s.kind.get(field) {
            _ if field.is_secret() => "•••• (in the OS keychain)".to_owned(),
            Some(Value::Assumer(id)) => {
                let alias = catalog
                    .get(id)
                    .map_or_else(|| "(none)".to_owned(), |a| a.alias.to_string());
                format!("{alias} ({id})")
            }
            Some(value) => value.text().unwrap_or_else(|| field.unset().to_owned()),
            None => field.unset().to_owned(),
        };
        lines.push((field.to_string(), value));
    }
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    lines
        .iter()
        .map(|(k, v)| format!("{k:width$}  {v}\n"))
        .collect()
}

/// An integration as `integration list/show --json` shows it (its tokens are in the keychain
/// and never here).
#[derive(Debug, Serialize)]
pub struct IntegrationJson<'a> {
    id: String,
    alias: &'a str,
    kind: &'static str,
    start_url: &'a str,
    region: &'a str,
    state: &'static str,
    /// When the portal session of a logged-in integration ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<String>,
    /// How many sessions are derived from it.
    sessions: usize,
}

impl<'a> IntegrationJson<'a> {
    pub fn new(catalog: &Catalog, i: &'a Integration) -> Self {
        Self {
            id: i.id.to_string(),
            alias: i.alias.as_str(),
            kind: i.kind(),
            start_url: i.start_url.as_str(),
            region: i.region.as_str(),
            state: i.login.as_str(),
            until: match i.login {
                Login::LoggedIn { until } => until.map(crate::aws::rfc3339),
                Login::LoggedOut => None,
            },
            sessions: catalog.derived_from(i.id).count(),
        }
    }
}

/// One line per integration, columns aligned.
pub fn integrations(catalog: &Catalog) -> String {
    if catalog.integrations().is_empty() {
        return "no integrations yet: add one with `credtray integration add aws-sso`\n".to_owned();
    }
    let header = ["STATE", "ALIAS", "START URL", "REGION", "SESSIONS", "ID"].map(str::to_owned);
    let rows: Vec<[String; 6]> = catalog
        .integrations()
        .iter()
        .map(|i| {
            [
                i.login.as_str().to_owned(),
                i.alias.to_string(),
                i.start_url.to_string(),
                i.region.to_string(),
                catalog.derived_from(i.id).count().to_string(),
                i.id.to_string(),
            ]
        })
        .collect();
    aligned(&header, &rows)
}

/// Every field of one integration, one per line, then its sessions.
pub fn integration_details(catalog: &Catalog, i: &Integration) -> String {
    let mut text = format!(
        "alias      {}\nid         {}\nkind       {}\nstart URL  {}\nregion     {}\nstate      {}\n",
        i.alias,
        i.id,
        i.kind(),
        i.start_url,
        i.region,
        i.login.as_str()
    );
    if let Login::LoggedIn { until: Some(until) } = i.login {
        let _ = writeln!(text, "until      {}", crate::aws::rfc3339(until));
    }
    let sessions: Vec<&str> = catalog
        .derived_from(i.id)
        .map(|s| s.alias.as_str())
        .collect();
    let _ = writeln!(text, "sessions   {}", sessions.len());
    for alias in sessions {
        let _ = writeln!(text, "  {alias}");
    }
    text
}

/// What a sync did, for people.
pub fn sync_report(integration: &crate::session::Alias, r: &crate::engine::SyncReport) -> String {
    let mut text = String::new();
    if let Some(holder) = &r.ran_by {
        let _ = writeln!(
            text,
            "another sync of {:?} was running ({holder}); this is what it found:",
            integration.as_str()
        );
    }
    let _ = writeln!(
        text,
        "synced {:?}: {} accounts, {} sessions ({} added, {} kept, {} removed) in {:.1} s",
        integration.as_str(),
        r.accounts,
        r.sessions,
        r.added.len(),
        r.kept,
        r.removed.len(),
        r.took.as_secs_f64()
    );
    for alias in &r.orphaned {
        let _ = writeln!(
            text,
            "kept {alias:?}, which other sessions assume from, though its role is no longer assigned (it is in error)"
        );
    }
    if !r.failed.is_empty() {
        let _ = writeln!(
            text,
            "{} account(s) could not be listed; their sessions are kept as they were:",
            r.failed.len()
        );
        for (account, why) in &r.failed {
            let _ = writeln!(text, "  {account}: {why}");
        }
    }
    text
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
/// whether others can read it, then the warnings as `path:line: warning: …` (the form editors
/// and terminals link to).
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
        if let Some(readable) = &r.readable_by_others {
            let _ = writeln!(text, "{path}: warning: {readable}");
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
