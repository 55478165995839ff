//! An import applied through the engine: one integration per IAM Identity Center start URL
//! first (the profile names of its roles remembered for its first sync), then the sessions
//! (keys into the keychain by `Engine::add`), sources before the sessions chained from them;
//! with `--move-keys`, the keys of each IAM-user profile then leave the files
//! (`Engine::move_keys`). A row for every profile: created, already present, remembered,
//! skipped or failed, with the reason. The CLI prints it; the tray's first-run offer runs it.

use std::collections::HashMap;
use std::path::PathBuf;

use super::{IntegrationOutcome, Outcome, Planned, PlannedIntegration};
use crate::awsfiles::Files;
use crate::engine::{self, Engine};
use crate::session::{NewSession, SessionId, SessionKind};

/// Why nothing could be imported (a file or the store could not be read), or the offer not
/// remembered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Files(#[from] crate::awsfiles::Error),
    #[error(transparent)]
    Engine(#[from] engine::Error),
    #[error("cannot remember that the import was offered ({})", .path.display())]
    Marker {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One line of the report.
#[derive(Debug, serde::Serialize)]
pub struct Row {
    pub profile: String,
    pub status: String,
    pub kind: &'static str,
    pub reason: String,
    /// With `--move-keys`: what became of the profile's keys in the files ("moved", "would
    /// move", or why they stay); empty when it has none to move.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub keys: String,
}

/// What an import did (or, dry, would do).
#[derive(Debug, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    /// The backup files recording the keys moved out (redacted).
    pub backups: Vec<PathBuf>,
}

/// Imports what `files` hold through `engine` (`dry_run`: plans only, changes nothing);
/// with `move_keys`, the keys of the IAM-user profiles then leave the files.
pub fn apply(
    engine: &mut Engine,
    files: &Files,
    dry_run: bool,
    move_keys: bool,
) -> Result<Report, Error> {
    let aws = super::Profiles::new(&files.credentials.read()?, &files.config.read()?);
    let catalog = engine.catalog()?;
    let planned = super::ordered(super::plan(&aws, &catalog), &catalog);
    // The session of each profile a chain may name: those there were, then those made here.
    let mut sessions: HashMap<String, SessionId> = catalog
        .sessions()
        .iter()
        .flat_map(|s| [(s.profile.to_string(), s.id), (s.alias.to_string(), s.id)])
        .collect();
    // Whose keys `--move-keys` moves: the session publishing to the profile, never one that
    // only shares its name as an alias.
    let mut on_profile: HashMap<String, SessionId> = catalog
        .sessions()
        .iter()
        .map(|s| (s.profile.to_string(), s.id))
        .collect();
    let mut backups: Vec<PathBuf> = Vec::new();
    let integrations = super::integrations(&aws, &catalog);
    // Each integration's fate, by alias, for the rows of the profiles that name its roles.
    let mut sso: HashMap<String, (String, bool)> = HashMap::new();
    let mut rows: Vec<Row> = integrations
        .into_iter()
        .map(|planned| {
            let row = integration(engine, planned, dry_run);
            for remembered in &row.1 {
                let ok = matches!(
                    row.0.status.as_str(),
                    "created" | "would be created" | "already present"
                );
                sso.insert(remembered.clone(), (row.0.profile.clone(), ok));
            }
            row.0
        })
        .collect();
    rows.extend(planned.into_iter().map(|p| {
            let (profile, kind) = (p.profile.clone(), p.kind());
            let has_keys = p.has_keys();
            let (status, reason) = match &p.outcome {
                Outcome::Skipped(why) => ("skipped".to_owned(), why.clone()),
                Outcome::Present => ("already present".to_owned(), String::new()),
                Outcome::Sso { integration } => match sso.get(&profile) {
                    Some((alias, true)) => (
                        if dry_run { "would be remembered" } else { "remembered" }.to_owned(),
                        format!("its session comes with integration {alias:?}'s first sync (credtray integration login {alias})"),
                    ),
                    _ => (
                        "skipped".to_owned(),
                        format!("its integration {integration:?} is not imported"),
                    ),
                },
                _ if dry_run => ("would be created".to_owned(), String::new()),
                _ => match create(engine, &sessions, p) {
                    Ok(id) => {
                        sessions.insert(profile.clone(), id);
                        on_profile.insert(profile.clone(), id);
                        ("created".to_owned(), String::new())
                    }
                    Err(e) => ("failed".to_owned(), crate::error_sentence(e.as_ref())),
                },
            };
            let keys = match on_profile.get(&profile) {
                _ if !move_keys || !has_keys => String::new(),
                _ if dry_run => "would move".to_owned(),
                Some(id) if status != "skipped" => match engine.move_keys(*id) {
                    Ok(written) => {
                        for backup in written {
                            if !backups.contains(&backup) {
                                backups.push(backup);
                            }
                        }
                        "moved".to_owned()
                    }
                    Err(e) => format!("stay: {}", crate::error_sentence(&e)),
                },
                _ => "stay: not imported".to_owned(),
            };
            Row {
                profile,
                status,
                kind,
                reason,
                keys,
            }
        }));
    Ok(Report { rows, backups })
}

/// Adds (or finds) the integration of one IAM Identity Center instance and remembers the
/// profile names of its roles; its row, and the profiles it remembers.
fn integration(
    engine: &mut Engine,
    planned: PlannedIntegration,
    dry_run: bool,
) -> (Row, Vec<String>) {
    let names: Vec<String> = planned
        .profiles
        .iter()
        .map(|p| p.profile.to_string())
        .collect();
    let remembered = match names.len() {
        0 => String::new(),
        n => format!("; the names of {n} profiles kept for its roles"),
    };
    let login = format!(
        "log in to sync its roles: credtray integration login {}",
        planned.alias
    );
    let (status, reason) = match planned.outcome {
        IntegrationOutcome::Skipped(why) => ("skipped".to_owned(), why),
        IntegrationOutcome::New(_) if dry_run => ("would be created".to_owned(), String::new()),
        IntegrationOutcome::Present(_) if dry_run => ("already present".to_owned(), String::new()),
        IntegrationOutcome::Present(id) => match engine.remember_profiles(id, planned.profiles) {
            Ok(()) => (
                "already present".to_owned(),
                remembered.trim_start_matches("; ").to_owned(),
            ),
            Err(e) => ("failed".to_owned(), crate::error_sentence(&e)),
        },
        IntegrationOutcome::New(new) => {
            let added = engine
                .add_integration(new)
                .and_then(|added| engine.remember_profiles(added.id, planned.profiles));
            match added {
                Ok(()) => ("created".to_owned(), format!("{login}{remembered}")),
                Err(e) => ("failed".to_owned(), crate::error_sentence(&e)),
            }
        }
    };
    let row = Row {
        profile: planned.alias,
        status,
        kind: "aws-sso integration",
        reason,
        keys: String::new(),
    };
    (row, names)
}

/// Adds the session a planned profile becomes (its assumer looked up in `sessions`).
fn create(
    engine: &mut Engine,
    sessions: &HashMap<String, SessionId>,
    p: Planned,
) -> Result<SessionId, Box<dyn std::error::Error>> {
    let (kind, keys) = match p.outcome {
        Outcome::User {
            mfa_device,
            mfa_source,
            keys,
        } => (
            SessionKind::IamUser {
                mfa_device,
                mfa_source,
            },
            Some(keys),
        ),
        Outcome::Chained {
            role_arn,
            source,
            role_session_name,
            external_id,
        } => {
            let assumer = *sessions
                .get(&source)
                .ok_or_else(|| format!("no session for its source_profile {source:?}"))?;
            let kind = SessionKind::IamRoleChained {
                role_arn,
                role_session_name,
                external_id,
                assumer,
            };
            (kind, None)
        }
        Outcome::Present | Outcome::Sso { .. } | Outcome::Skipped(_) => {
            return Err("not a profile to create".into());
        }
    };
    let new = NewSession {
        alias: p.profile.parse()?,
        profile: Some(p.profile.parse()?),
        region: p.region,
        publish: None,
        kind,
    };
    Ok(engine.add(new, keys)?.id)
}
