//! `~/.aws/credentials` and `~/.aws/config`, edited losslessly, atomically, and only where
//! credtray owns the section (SPEC §3). `document` is the byte-exact model, `file` the safe
//! I/O; this module knows the two naming schemes, publishes a profile's credentials and region,
//! and keeps the record of owned sections that the store saves.

mod document;
mod file;

pub use document::{Document, ParseError, RepeatedKey, RepeatedSection, Upserted};
pub use file::AwsFile;

use std::path::PathBuf;

use secrecy::ExposeSecret;

use crate::aws::Credentials;
use crate::session::{ProfileName, Region};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {action} {}", .path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{} can't be parsed, so credtray leaves it untouched", .path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: ParseError,
    },
    #[error(
        "[{section}] in {} was not written by credtray; it is left as it is (take it over to let credtray replace it, after a copy is saved to {}.credtray-backup)",
        .path.display(), .path.display()
    )]
    NotOwned { path: PathBuf, section: String },
    #[error("[{section}] appears {count} times in {}; credtray won't guess which one to change, so fix the file by hand", .path.display())]
    Duplicate {
        path: PathBuf,
        section: String,
        count: usize,
    },
    #[error(
        "cannot find the home directory: set HOME, or AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE"
    )]
    NoHome,
}

impl Error {
    /// Whether the user must decide (take over, fix the file) rather than retry.
    pub fn is_invalid_input(&self) -> bool {
        // An unparseable or duplicated file is a file error (exit 1, SPEC §5); a section
        // credtray does not own waits for the user's decision (--take-over), like bad input.
        matches!(self, Error::NotOwned { .. })
    }
}

/// Which of the two files, with its section naming scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `[name]`, keys `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`.
    Credentials,
    /// `[default]` or `[profile name]` (also `[sso-session name]`, `[services name]`).
    Config,
}

impl Flavor {
    /// The section header (without brackets) of a named profile in this file.
    pub fn section(self, profile: &ProfileName) -> String {
        match self {
            Flavor::Credentials => profile.to_string(),
            Flavor::Config if profile.is_default() => "default".to_owned(),
            Flavor::Config => format!("profile {profile}"),
        }
    }
}

/// A section credtray owns: it created it, or the user let it take it over.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owned {
    /// The file as configured (absolute).
    pub file: PathBuf,
    /// The section header without brackets, e.g. `dev` or `profile dev`.
    pub section: String,
    /// What credtray put before the section when it created it (see [`Upserted::separator`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub separator: String,
    /// A fingerprint of the section as credtray last wrote it: a section changed by hand since
    /// is backed up before credtray replaces or removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// FNV-1a (64 bit) of a section's text, in hex: stable across builds and platforms.
fn fingerprint(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// Whether the section is not as credtray last wrote it.
fn changed_by_hand(record: Option<&Owned>, doc: &Document, section: &str) -> bool {
    match (
        record.and_then(|r| r.fingerprint.as_deref()),
        doc.section_text(section),
    ) {
        (Some(written), Some(text)) => fingerprint(text) != written,
        _ => false,
    }
}

/// The two files, as the AWS CLI finds them.
#[derive(Debug, Clone)]
pub struct Files {
    pub credentials: AwsFile,
    pub config: AwsFile,
}

/// Keys that point the AWS tools at another credential source, removed from a section credtray
/// takes over (the backup keeps them).
const CONFLICTING_KEYS: [&str; 12] = [
    "role_arn",
    "source_profile",
    "credential_source",
    "credential_process",
    "web_identity_token_file",
    "role_session_name",
    "mfa_serial",
    "sso_session",
    "sso_start_url",
    "sso_region",
    "sso_account_id",
    "sso_role_name",
];

/// One file a publish changed: the section's record, whether it was created or already
/// credtray's, and the values it had before (to put back if the other file fails).
type Done<'a> = (
    &'a AwsFile,
    Owned,
    bool,
    bool,
    Vec<(String, Option<String>)>,
);

/// Keys and values to set in one section.
type Pairs<'a> = &'a [(&'a str, &'a str)];

/// What [`Files::publish`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Published {
    /// Backups of sections taken over, if any.
    pub backups: Vec<PathBuf>,
}

impl Files {
    /// `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE` (with `~/` expanded), else
    /// `~/.aws/credentials` and `~/.aws/config`.
    pub fn from_env() -> Result<Self, Error> {
        let home = directories::BaseDirs::new().map(|b| b.home_dir().to_owned());
        let locate = |var: &str, default: &str, flavor: Flavor| -> Result<AwsFile, Error> {
            let path = match std::env::var_os(var).filter(|v| !v.is_empty()) {
                Some(value) => {
                    let value = PathBuf::from(value);
                    match (value.strip_prefix("~"), &home) {
                        (Ok(rest), Some(home)) => home.join(rest),
                        _ => value,
                    }
                }
                None => home
                    .as_ref()
                    .ok_or(Error::NoHome)?
                    .join(".aws")
                    .join(default),
            };
            Ok(AwsFile::new(
                std::path::absolute(&path).unwrap_or(path),
                flavor,
            ))
        };
        Ok(Self {
            credentials: locate(
                "AWS_SHARED_CREDENTIALS_FILE",
                "credentials",
                Flavor::Credentials,
            )?,
            config: locate("AWS_CONFIG_FILE", "config", Flavor::Config)?,
        })
    }

    pub fn at(credentials: impl Into<PathBuf>, config: impl Into<PathBuf>) -> Self {
        Self {
            credentials: AwsFile::new(credentials, Flavor::Credentials),
            config: AwsFile::new(config, Flavor::Config),
        }
    }

    fn both(&self) -> [(&AwsFile, Flavor); 2] {
        [
            (&self.credentials, Flavor::Credentials),
            (&self.config, Flavor::Config),
        ]
    }

    /// Writes `credentials` to the profile's section of the credentials file and `region` to its
    /// section of the config file, recording ownership in `owned`. A section that exists but
    /// is not owned is refused, unless `take_over`, which first backs it up. Nothing is
    /// written unless both files can be changed.
    pub fn publish(
        &self,
        profile: &ProfileName,
        region: &Region,
        credentials: &Credentials,
        owned: &mut Vec<Owned>,
        take_over: bool,
    ) -> Result<Published, Error> {
        let creds = [
            (
                "aws_access_key_id",
                credentials.access_key_id.expose_secret(),
            ),
            (
                "aws_secret_access_key",
                credentials.secret_access_key.expose_secret(),
            ),
            (
                "aws_session_token",
                credentials.session_token.expose_secret(),
            ),
        ];
        let config = [("region", region.as_str())];
        let plan: [(&AwsFile, Flavor, Pairs); 2] = [
            (&self.credentials, Flavor::Credentials, &creds),
            (&self.config, Flavor::Config, &config),
        ];
        // Check both first, so a refusal in the second file leaves the first untouched.
        self.check_publish(profile, owned, take_over)?;
        let mut published = Published::default();
        let mut done: Vec<Done<'_>> = Vec::new();
        for (file, flavor, pairs) in plan {
            let section = flavor.section(profile);
            let result = file.edit(|doc| {
                let taking_over = check_writable(file, doc, &section, owned, take_over)?;
                let record = owned
                    .iter()
                    .find(|o| o.file == file.path() && o.section == section);
                if (taking_over || changed_by_hand(record, doc, &section))
                    && let Some(text) = doc.section_text(&section)
                {
                    published.backups.push(file.back_up(text)?);
                }
                // A section taken over keeps none of the keys that would make the AWS tools get
                // credentials elsewhere (they rank assume-role and SSO above static keys).
                let remove: &[&str] = if taking_over { &CONFLICTING_KEYS } else { &[] };
                let previous: Vec<(String, Option<String>)> = pairs
                    .iter()
                    .map(|(k, _)| *k)
                    .chain(remove.iter().copied())
                    .map(|k| (k.to_owned(), doc.get(&section, k).map(str::to_owned)))
                    .collect();
                let upserted =
                    doc.upsert(&section, pairs, remove)
                        .map_err(|source| Error::Parse {
                            path: file.path().to_owned(),
                            source,
                        })?;
                let written = doc.section_text(&section).map(fingerprint);
                Ok((upserted, previous, written))
            });
            match result {
                Ok((upserted, previous, written)) => {
                    let record = Owned {
                        file: file.path().to_owned(),
                        section,
                        separator: upserted.separator,
                        fingerprint: written.clone(),
                    };
                    let existing = owned
                        .iter_mut()
                        .find(|o| o.file == record.file && o.section == record.section);
                    let new = existing.is_none();
                    match existing {
                        Some(o) => o.fingerprint = written,
                        None => owned.push(record.clone()),
                    }
                    done.push((file, record, upserted.created, new, previous));
                }
                Err(e) => {
                    // Undo what this call did to the other file, so a failed publish leaves
                    // neither a half-written profile nor one session's keys under another's name.
                    for (file, record, created, new, previous) in done {
                        let undone = file.edit(|doc| {
                            if created {
                                doc.remove(&record.section, &record.separator);
                            } else {
                                let restore: Vec<(&str, &str)> = previous
                                    .iter()
                                    .filter_map(|(k, v)| v.as_deref().map(|v| (k.as_str(), v)))
                                    .collect();
                                let absent: Vec<&str> = previous
                                    .iter()
                                    .filter(|(_, v)| v.is_none())
                                    .map(|(k, _)| k.as_str())
                                    .collect();
                                let _ = doc.upsert(&record.section, &restore, &absent);
                            }
                            Ok(doc.section_text(&record.section).map(fingerprint))
                        });
                        let same = |o: &Owned| o.file == record.file && o.section == record.section;
                        if new {
                            owned.retain(|o| !same(o));
                        } else if let Ok(restored) = undone
                            && let Some(o) = owned.iter_mut().find(|o| same(o))
                        {
                            o.fingerprint = restored;
                        }
                    }
                    return Err(e);
                }
            }
        }
        Ok(published)
    }

    /// Whether [`Self::publish`] would be allowed, checked without writing anything.
    pub fn check_publish(
        &self,
        profile: &ProfileName,
        owned: &[Owned],
        take_over: bool,
    ) -> Result<(), Error> {
        for (file, flavor) in self.both() {
            check_writable(
                file,
                &file.read()?,
                &flavor.section(profile),
                owned,
                take_over,
            )?;
        }
        Ok(())
    }

    /// Removes the profile's owned sections from both files and forgets them; sections
    /// credtray does not own are left alone.
    pub fn unpublish(&self, profile: &ProfileName, owned: &mut Vec<Owned>) -> Result<(), Error> {
        for (file, flavor) in self.both() {
            let section = flavor.section(profile);
            let Some(record) = owned
                .iter()
                .find(|o| o.file == file.path() && o.section == section)
                .cloned()
            else {
                continue;
            };
            file.edit(|doc| {
                let count = doc.count(&section);
                if count > 1 {
                    return Err(Error::Duplicate {
                        path: file.path().to_owned(),
                        section: section.clone(),
                        count,
                    });
                }
                // Changed by hand since credtray wrote it: keep a copy of what is about to go.
                if changed_by_hand(Some(&record), doc, &section)
                    && let Some(text) = doc.section_text(&section)
                {
                    file.back_up(text)?;
                }
                Ok(doc.remove(&section, &record.separator))
            })?;
            owned.retain(|o| *o != record);
        }
        Ok(())
    }

    /// Parses both files and reports, for each, its sections, the ones credtray owns, and any
    /// problem.
    pub fn check(&self, owned: &[Owned]) -> Vec<Report> {
        self.both()
            .into_iter()
            .map(|(file, _)| {
                let mut report = Report {
                    path: file.path().to_owned(),
                    exists: file.target().is_ok_and(|t| t.exists()),
                    sections: 0,
                    owned: Vec::new(),
                    problems: Vec::new(),
                    warnings: Vec::new(),
                };
                match file.read() {
                    Ok(doc) => {
                        report.sections = doc.section_names().count();
                        report.warnings = unreadable_by_botocore(&doc);
                        for record in owned.iter().filter(|o| o.file == file.path()) {
                            match doc.count(&record.section) {
                                1 => report.owned.push(record.section.clone()),
                                0 => report.problems.push(format!(
                                    "[{}] is owned by credtray but missing (removed by hand?)",
                                    record.section
                                )),
                                n => report.problems.push(format!(
                                    "[{}] is owned by credtray but appears {n} times",
                                    record.section
                                )),
                            }
                        }
                    }
                    Err(e) => report.problems.push(crate::error_sentence(&e)),
                }
                report
            })
            .collect()
    }
}

/// Whether `section` may be written: `Ok(true)` when it must be taken over first.
fn check_writable(
    file: &AwsFile,
    doc: &Document,
    section: &str,
    owned: &[Owned],
    take_over: bool,
) -> Result<bool, Error> {
    let count = doc.count(section);
    if count > 1 {
        return Err(Error::Duplicate {
            path: file.path().to_owned(),
            section: section.to_owned(),
            count,
        });
    }
    let is_owned = owned
        .iter()
        .any(|o| o.file == file.path() && o.section == section);
    match (count, is_owned, take_over) {
        (0, _, _) | (_, true, _) => Ok(false),
        (_, false, true) => Ok(true),
        (_, false, false) => Err(Error::NotOwned {
            path: file.path().to_owned(),
            section: section.to_owned(),
        }),
    }
}

/// One file's state, as `credtray files check` prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub path: PathBuf,
    pub exists: bool,
    pub sections: usize,
    pub owned: Vec<String>,
    /// What keeps credtray from doing its job (the check fails).
    pub problems: Vec<String>,
    /// What credtray can work with but the AWS tools can't read (the check still passes).
    pub warnings: Vec<Warning>,
}

/// Something in a file that the AWS tools can't read, at its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    pub line: usize,
    pub message: String,
}

/// What botocore (so the AWS CLI and boto3) refuses or silently drops in a file credtray can
/// parse, verified against botocore 1.44: a BOM makes the first line neither a comment nor a
/// header, and configparser's strict mode rejects a repeated section or key.
fn unreadable_by_botocore(doc: &Document) -> Vec<Warning> {
    const REFUSED: &str = "botocore (the AWS CLI, boto3) refuses to read any of the file";
    let mut warnings = Vec::new();
    if doc.has_bom() {
        warnings.push(Warning {
            line: 1,
            message: format!(
                "the file starts with a UTF-8 byte order mark, so {REFUSED} (\"Unable to parse config file\"); save it as UTF-8 without a BOM"
            ),
        });
    }
    for r in doc.repeated_sections() {
        let message = if r.same_text {
            format!(
                "[{}] repeats the section on line {}, so {REFUSED}; merge the two",
                r.header, r.earlier_line
            )
        } else {
            format!(
                "[{}] is the same section to botocore as [{}] on line {}; it reads only the last of them",
                r.header, r.earlier, r.earlier_line
            )
        };
        warnings.push(Warning {
            line: r.line,
            message,
        });
    }
    for r in doc.repeated_keys() {
        warnings.push(Warning {
            line: r.line,
            message: format!(
                "{} repeats the key on line {} in [{}], so {REFUSED}; keep one",
                r.key, r.earlier_line, r.section
            ),
        });
    }
    warnings.sort_by_key(|w| w.line);
    warnings
}

#[cfg(test)]
mod tests;
