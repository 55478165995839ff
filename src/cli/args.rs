//! The command line's grammar as clap derive types. Field values are parsed into
//! validated types here, so a bad value is a usage error (exit 2) before anything is touched.

use std::str::FromStr;

use clap::{Args, Parser, Subcommand};

use crate::session::{
    Alias, IdpArn, MfaCode, MfaDevice, ProfileName, RoleArn, RoleSessionName, SamlUrl,
};

#[derive(Debug, Parser)]
#[command(
    name = "credtray",
    version,
    about = "AWS credential sessions: long-term keys in the OS keychain, temporary credentials in ~/.aws",
    after_help = "Exit codes: 0 success, 1 the operation failed, 2 invalid input.\n\
                  Secrets are read from standard input (or a no-echo prompt), never from the command line."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing buys nothing
pub enum Command {
    /// List, show, add, edit and delete sessions
    #[command(subcommand)]
    Session(SessionCommand),
    /// List, add and delete named profiles
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Inspect ~/.aws/credentials and ~/.aws/config
    #[command(subcommand)]
    Files(FilesCommand),
    /// Print a session's credentials for the AWS CLI's credential_process (JSON, Version 1)
    CredentialProcess {
        /// The session's id or alias
        #[arg(long)]
        session: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum FilesCommand {
    /// Parse both AWS files, list the sections credtray owns, report problems (exit 1), and
    /// warn (file:line) about what the AWS tools themselves can't read: a UTF-8 BOM,
    /// repeated sections or keys
    Check {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List every session
    List {
        /// Print one JSON array instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Show one session
    Show {
        /// The session's id or alias
        session: String,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Add a session
    #[command(subcommand)]
    Add(AddCommand),
    /// Change a session's definition or replace its keys
    Edit(EditArgs),
    /// Start a session: temporary credentials into its named profile
    Start {
        /// The session's id or alias
        session: String,
        #[command(flatten)]
        answers: Answers,
        /// Take over the profile's existing sections (a copy goes to <file>.credtray-backup)
        #[arg(long)]
        take_over: bool,
    },
    /// Stop a session (or all): its profile's sections are removed
    Stop {
        /// The session's id or alias
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        session: Option<String>,
        /// Stop every session
        #[arg(long)]
        all: bool,
    },
    /// Test credential generation: a real dry run that writes nothing
    Test {
        /// The session's id or alias
        session: String,
        #[command(flatten)]
        answers: Answers,
        /// Print {"ok", "caller_arn", "expiration", "error"}
        #[arg(long)]
        json: bool,
    },
    /// Create a chained session whose assumer is SESSION
    Chain {
        /// The assumer session's id or alias
        session: String,
        /// The role to assume
        #[arg(long)]
        role_arn: RoleArn,
        /// [default: "<assumer alias> chained"]
        #[arg(long)]
        alias: Option<Alias>,
        /// [default: credtray-<assumer alias>]
        #[arg(long)]
        role_session_name: Option<RoleSessionName>,
        /// [default: default]
        #[arg(long)]
        profile: Option<ProfileName>,
        /// [default: the assumer's region]
        #[arg(long)]
        region: Option<String>,
    },
    /// Delete a session and its keychain entries
    Delete {
        /// The session's id or alias
        session: String,
        /// Also delete every session chained from it
        #[arg(long)]
        cascade: bool,
    },
}

#[derive(Debug, Subcommand)]
#[allow(clippy::enum_variant_names)] // the variants spell the session kinds, as users type them
pub enum AddCommand {
    /// An IAM user with long-term keys (kept in the OS keychain)
    IamUser(AddIamUser),
    /// A role assumed with the credentials of another session
    IamRoleChained(AddChained),
    /// A role assumed with a SAML assertion from an identity provider
    IamRoleFederated(AddFederated),
}

#[derive(Debug, Args)]
pub struct Common {
    /// The display name (unique, ignoring case)
    #[arg(long)]
    pub alias: Alias,
    /// The named profile to write credentials to [default: default]
    #[arg(long)]
    pub profile: Option<ProfileName>,
    /// The AWS region [default: the configured default region]
    #[arg(long)]
    pub region: Option<String>,
}

#[derive(Debug, Args)]
pub struct AddIamUser {
    #[command(flatten)]
    pub common: Common,
    /// The virtual MFA device ARN or hardware serial
    #[arg(long)]
    pub mfa_device: Option<MfaDevice>,
    /// `-`: read the access key id from standard input
    #[arg(long, value_name = "-")]
    pub access_key_id: SecretOption,
    /// `-`: read the secret access key from standard input
    #[arg(long, value_name = "-")]
    pub secret_access_key: SecretOption,
}

#[derive(Debug, Args)]
pub struct AddChained {
    #[command(flatten)]
    pub common: Common,
    /// The role to assume
    #[arg(long)]
    pub role_arn: RoleArn,
    /// The session (id or alias) whose credentials assume the role
    #[arg(long)]
    pub assumer: String,
    /// The role session name [default: credtray-<alias>]
    #[arg(long)]
    pub role_session_name: Option<RoleSessionName>,
}

#[derive(Debug, Args)]
pub struct AddFederated {
    #[command(flatten)]
    pub common: Common,
    /// The role to assume
    #[arg(long)]
    pub role_arn: RoleArn,
    /// The identity provider's ARN in IAM
    #[arg(long)]
    pub idp_arn: IdpArn,
    /// The identity provider's SAML 2.0 login URL
    #[arg(long)]
    pub saml_url: SamlUrl,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// The session's id or alias
    pub session: String,
    #[arg(long)]
    pub alias: Option<Alias>,
    #[arg(long)]
    pub profile: Option<ProfileName>,
    #[arg(long)]
    pub region: Option<String>,
    /// A new MFA device, or "" to remove it
    #[arg(long)]
    pub mfa_device: Option<Clearable<MfaDevice>>,
    /// `-`: read a new access key id from standard input
    #[arg(long, value_name = "-")]
    pub access_key_id: Option<SecretOption>,
    /// `-`: read a new secret access key from standard input
    #[arg(long, value_name = "-")]
    pub secret_access_key: Option<SecretOption>,
    #[arg(long)]
    pub role_arn: Option<RoleArn>,
    /// A new role session name, or "" for the default
    #[arg(long)]
    pub role_session_name: Option<Clearable<RoleSessionName>>,
    /// The new assumer session (id or alias)
    #[arg(long)]
    pub assumer: Option<String>,
    #[arg(long)]
    pub saml_url: Option<SamlUrl>,
    #[arg(long)]
    pub idp_arn: Option<IdpArn>,
    /// Test the edited parameters (test credential generation) and save nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub answers: Answers,
}

/// What a start, restart or test may need from the person.
#[derive(Debug, Args, Default)]
pub struct Answers {
    /// The current code of the session's MFA device (else asked for on a terminal)
    #[arg(long)]
    pub mfa_code: Option<MfaCode>,
    /// `-`: read the SAML assertion (base64) from standard input
    #[arg(long, value_name = "-")]
    pub saml_assertion: Option<SecretOption>,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// List named profiles and how many sessions use each
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a named profile
    Add { name: ProfileName },
    /// Delete a named profile no session uses
    Delete { name: ProfileName },
}

/// The value of a secret option. Only `-` ("read it from standard input") is accepted, and
/// the check happens after parsing so that a refused value is never echoed in clap's message.
#[derive(Clone)]
pub struct SecretOption(String);

impl SecretOption {
    pub fn is_stdin(&self) -> bool {
        self.0 == "-"
    }
}

impl FromStr for SecretOption {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl std::fmt::Debug for SecretOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_stdin() {
            "SecretOption(-)"
        } else {
            "SecretOption(••••)"
        })
    }
}

/// A value, or `""` to clear an optional field.
#[derive(Debug, Clone)]
pub enum Clearable<T> {
    Clear,
    Set(T),
}

impl<T: FromStr> FromStr for Clearable<T> {
    type Err = T::Err;
    fn from_str(s: &str) -> Result<Self, T::Err> {
        if s.trim().is_empty() {
            Ok(Clearable::Clear)
        } else {
            s.parse().map(Clearable::Set)
        }
    }
}

impl<T> Clearable<T> {
    pub fn into_option(self) -> Option<T> {
        match self {
            Clearable::Clear => None,
            Clearable::Set(v) => Some(v),
        }
    }
}
