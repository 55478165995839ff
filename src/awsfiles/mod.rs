//! `~/.aws/credentials` and `~/.aws/config`, edited losslessly (every byte credtray does not
//! own is kept), atomically, and only where credtray owns the section. `document` is the
//! byte-exact model, `file` the safe I/O, `owned` the ownership records and the only code that
//! writes sections; this module knows the two files and their naming schemes, and checks them.

mod document;
mod file;
mod moving;
mod owned;

pub use document::{
    Document, ParseError, RepeatedKey, RepeatedSection, Upserted, header_text, heads_profile,
};
pub use file::{AwsFile, ReadableByOthers};
pub use moving::{KeptEdit, KeyMove, KeysHome, Refused};
pub use owned::{Contents, Original, Owned, Plan, Published, Settled, TakenOver};

use std::path::PathBuf;

use crate::session::ProfileName;

/// Keys of a profile that make it a credential source, or shape one (botocore's and the SDKs'
/// providers): what `exec` takes out of its child's default profile. Deleting a session whose
/// keys moved heeds a narrower list (see [`Files::put_keys_back`]).
pub const CREDENTIAL_SOURCE_KEYS: &[&str] = &[
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
    "credential_process",
    "credential_source",
    "source_profile",
    "role_arn",
    "role_session_name",
    "external_id",
    "mfa_serial",
    "duration_seconds",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
    "sso_region",
    "sso_account_id",
    "sso_role_name",
    "login_session",
];

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
    #[error(
        "[{section}] in {} changed while credtray was taking it over; nothing was written, so try again",
        .path.display()
    )]
    ChangedMeanwhile { path: PathBuf, section: String },
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
        // An unparseable or duplicated file is a file error (exit 1); a section
        // credtray does not own waits for the user's decision (--take-over), like bad input.
        matches!(self, Error::NotOwned { .. })
    }
}

/// Which of the two files, with its section naming scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
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

/// The two files, as the AWS CLI finds them.
#[derive(Debug, Clone)]
pub struct Files {
    pub credentials: AwsFile,
    pub config: AwsFile,
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

    /// Parses both files and reports, for each, its sections, the ones credtray owns, and any
    /// problem.
    pub fn check(&self, owned: &[Owned]) -> Vec<Report> {
        self.both()
            .into_iter()
            .map(|(file, flavor)| {
                let mut report = Report {
                    path: file.path().to_owned(),
                    exists: file.target().is_ok_and(|t| t.exists()),
                    sections: 0,
                    owned: Vec::new(),
                    problems: Vec::new(),
                    warnings: Vec::new(),
                    // The credentials file holds secrets. The config file holds none (regions,
                    // role ARNs, credential_process commands, SSO start URLs: the AWS tools
                    // create it 0644 as often as not), so warning about it would teach people
                    // to ignore the warning that matters.
                    readable_by_others: match flavor {
                        Flavor::Credentials => file.readable_by_others(),
                        Flavor::Config => None,
                    },
                };
                match file.read() {
                    Ok(doc) => {
                        report.sections = doc.section_names().count();
                        report.warnings = unreadable_by_botocore(&doc);
                        for record in owned.iter().filter(|o| o.file == file.path()) {
                            match (doc.count(&record.section), record.withheld) {
                                // Held out of the file on purpose (published as a process).
                                (0, Some(_)) => report.owned.push(record.section.clone()),
                                // Removed by the user while it was theirs: nothing to check.
                                (0, None) if owned::on_nothing(record) => {}
                                (_, Some(_)) => report.problems.push(format!(
                                    "[{}] is kept out of this file by credtray (its profile is published as a credential_process), but it is there: the AWS tools read it first",
                                    record.section
                                )),
                                (count, None) => match count {
                                1 => report.owned.push(record.section.clone()),
                                0 => report.problems.push(format!(
                                    "[{}] is owned by credtray but missing (removed by hand?)",
                                    record.section
                                )),
                                n => report.problems.push(format!(
                                    "[{}] is owned by credtray but appears {n} times",
                                    record.section
                                )),
                                },
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
    /// The credentials file, when others may read it (a warning: the check still passes, and
    /// credtray keeps the file's mode).
    pub readable_by_others: Option<ReadableByOthers>,
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
