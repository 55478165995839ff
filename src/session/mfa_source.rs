//! Where an IAM user's MFA code comes from when credtray needs one: a person at the prompt
//! (the default, no value stored), a YubiKey's OATH account read through `ykman`, or any
//! command that prints the code. This is configuration, not a secret: the command line is
//! stored and shown; what the command prints never is. Running them is [`crate::mfa`]'s.

use std::fmt;
use std::str::FromStr;

use super::{Field, ValidationError};

/// What `ykman oath accounts list` names a credential by: the issuer and the account, as
/// `AWS:alice`; 1–64 characters without control characters (the OATH applet's limit).
const OATH_NAME_MAX: usize = 64;
/// A command line fits on a line of `config.toml` and in a form's entry.
const COMMAND_MAX: usize = 1024;

/// A non-default MFA source of an IAM-user session (no value means `prompt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MfaSource {
    /// `ykman oath accounts code --single <account>` with the YubiKey's OATH account.
    Ykman { account: String },
    /// A command whose last line of standard output is the code, run without a shell unless
    /// the command line names one.
    Process(CommandLine),
}

/// A command line as the user wrote it, with the words it splits into (POSIX shell quoting,
/// no expansion: `'op item get "aws prod" --otp'` is four words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    text: String,
    words: Vec<String>,
}

impl CommandLine {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        let bad = |rule: &str| ValidationError::new(Field::MfaSource, rule.to_owned());
        if text.is_empty() {
            return Err(bad(
                "process: needs a command line, e.g. process:pass otp aws",
            ));
        }
        if text.len() > COMMAND_MAX {
            return Err(bad("process: a command line is at most 1024 characters"));
        }
        if text.chars().any(char::is_control) {
            return Err(bad("process: a command line is one line"));
        }
        let words = shlex::split(text)
            .filter(|w| !w.is_empty())
            .ok_or_else(|| bad("process: the command line has an unclosed quote"))?;
        Ok(Self {
            text: text.to_owned(),
            words,
        })
    }

    /// A command line for a shell command (aws-vault's `mfa_process` runs through `sh -c`):
    /// the words themselves when the text needs no shell, else `sh -c '<text>'`.
    pub fn from_shell(text: &str) -> Result<Self, ValidationError> {
        // No `=`: `VAR=value command` is a shell's assignment, not a program's name.
        let plain = |c: char| c.is_ascii_alphanumeric() || " _-./:@,+%".contains(c);
        if text.trim().chars().all(plain) {
            return Self::parse(text);
        }
        let quoted = shlex::try_quote(text.trim()).map_err(|_| {
            ValidationError::new(Field::MfaSource, "process: the command line has a NUL")
        })?;
        Self::parse(&format!("sh -c {quoted}"))
    }

    /// The program and its arguments.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl MfaSource {
    /// A short name for messages: `ykman` or the program of a command.
    pub fn program(&self) -> &str {
        match self {
            MfaSource::Ykman { .. } => "ykman",
            MfaSource::Process(command) => command.words()[0].as_str(),
        }
    }
}

impl FromStr for MfaSource {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        let s = s.trim();
        let bad = |rule: String| ValidationError::new(Field::MfaSource, rule);
        if let Some(account) = s.strip_prefix("ykman:") {
            let account = account.trim();
            if account.is_empty() || account.chars().count() > OATH_NAME_MAX {
                return Err(bad(
                    "ykman: needs the OATH account's name (1 to 64 characters, as `ykman oath accounts list` shows it), e.g. ykman:AWS:alice".to_owned(),
                ));
            }
            if account.chars().any(char::is_control) {
                return Err(bad(
                    "ykman: an OATH account name has no control characters".to_owned()
                ));
            }
            if account.starts_with('-') {
                return Err(bad(
                    "ykman: an OATH account name can't start with - (ykman would read it as an option)".to_owned(),
                ));
            }
            return Ok(MfaSource::Ykman {
                account: account.to_owned(),
            });
        }
        if let Some(command) = s.strip_prefix("process:") {
            return CommandLine::parse(command).map(MfaSource::Process);
        }
        Err(bad(format!(
            "{s:?} is not one of prompt, ykman:<OATH account>, process:<command line>"
        )))
    }
}

impl fmt::Display for MfaSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MfaSource::Ykman { account } => write!(f, "ykman:{account}"),
            MfaSource::Process(command) => write!(f, "process:{}", command.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_read_and_print_as_the_user_writes_them() {
        for text in ["ykman:AWS:alice", "process:op item get aws --otp"] {
            assert_eq!(text.parse::<MfaSource>().unwrap().to_string(), text);
        }
        let MfaSource::Process(c) = "process: op item get 'aws prod' --otp "
            .parse::<MfaSource>()
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(c.words(), ["op", "item", "get", "aws prod", "--otp"]);
        assert_eq!(c.as_str(), "op item get 'aws prod' --otp");
    }

    #[test]
    fn bad_sources_are_refused_with_their_rule() {
        for (text, rule) in [
            ("yubikey", "is not one of prompt"),
            ("ykman:", "needs the OATH account"),
            ("process:", "needs a command line"),
            ("process:op 'unclosed", "unclosed quote"),
            ("process:a\nb", "one line"),
            ("ykman:--help", "can't start with -"),
        ] {
            let e = text.parse::<MfaSource>().unwrap_err();
            assert_eq!(e.field, Field::MfaSource);
            assert!(e.rule.contains(rule), "{text:?}: {}", e.rule);
        }
    }

    #[test]
    fn a_shell_command_runs_through_sh_only_when_it_needs_one() {
        let plain = CommandLine::from_shell("pass otp aws/mfa").unwrap();
        assert_eq!(plain.words(), ["pass", "otp", "aws/mfa"]);
        let assigned = CommandLine::from_shell("PASSWORD_STORE_DIR=/pw pass otp aws").unwrap();
        assert_eq!(
            assigned.words(),
            ["sh", "-c", "PASSWORD_STORE_DIR=/pw pass otp aws"]
        );
        let piped = CommandLine::from_shell("op item get aws --otp | tr -d ' '").unwrap();
        assert_eq!(
            piped.words(),
            ["sh", "-c", "op item get aws --otp | tr -d ' '"]
        );
    }
}
