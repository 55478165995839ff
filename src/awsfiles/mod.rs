//! `~/.aws/credentials` and `~/.aws/config`, edited losslessly, atomically, and only where
//! credtray owns the section (SPEC §3). `document` is the byte-exact model, `file` the safe
//! I/O; this module knows the two naming schemes, publishes a profile's credentials and region,
//! and keeps the record of owned sections that the store saves.

mod document;
mod file;
mod owned;

pub use document::{Document, ParseError, Upserted};
pub use file::AwsFile;
pub use owned::{Original, Owned, Plan, Published, Settled, TakenOver};

use std::path::PathBuf;

use crate::session::ProfileName;

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
        // An unparseable or duplicated file is a file error (exit 1, SPEC §5); a section
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
        let locate = |var: &str, default: &str| -> Result<AwsFile, Error> {
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
            Ok(AwsFile::new(std::path::absolute(&path).unwrap_or(path)))
        };
        Ok(Self {
            credentials: locate("AWS_SHARED_CREDENTIALS_FILE", "credentials")?,
            config: locate("AWS_CONFIG_FILE", "config")?,
        })
    }

    pub fn at(credentials: impl Into<PathBuf>, config: impl Into<PathBuf>) -> Self {
        Self {
            credentials: AwsFile::new(credentials),
            config: AwsFile::new(config),
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
            .map(|(file, _)| {
                let mut report = Report {
                    path: file.path().to_owned(),
                    exists: file.target().is_ok_and(|t| t.exists()),
                    sections: 0,
                    owned: Vec::new(),
                    problems: Vec::new(),
                };
                match file.read() {
                    Ok(doc) => {
                        report.sections = doc.section_names().count();
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

/// One file's state, as `credtray files check` prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub path: PathBuf,
    pub exists: bool,
    pub sections: usize,
    pub owned: Vec<String>,
    pub problems: Vec<String>,
}

#[cfg(test)]
mod tests;
