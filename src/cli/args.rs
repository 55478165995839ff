//! The command line's grammar as clap derive types. Field values are parsed into
//! validated types here, so a bad value is a usage error (exit 2) before anything is touched.

use std::str::FromStr;

use clap::{ArgMatches, Args, FromArgMatches, Parser, Subcommand};

use crate::session::{
    Alias, ExternalId, Field, Kind, MfaCode, ProfileName, Publish, RoleArn, RoleSessionName,
    StartUrl, Value,
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
pub enum SettingsCommand {
    /// Show the settings (the proxy's password only as set or not)
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Set the proxy every call of credtray goes through, overriding HTTPS_PROXY, HTTP_PROXY,
    /// ALL_PROXY and NO_PROXY (--none: direct connections; --env: the variables decide again)
    Proxy(ProxyArgs),
    /// Trust a PEM bundle of CA certificates beside the platform's (AWS_CA_BUNDLE and a
    /// profile's ca_bundle in ~/.aws/config come first, as the AWS CLI reads them)
    CaBundle {
        /// The PEM file
        #[arg(required_unless_present = "none", conflicts_with = "none")]
        file: Option<std::path::PathBuf>,
        /// Trust the platform's roots alone
        #[arg(long)]
        none: bool,
    },
    /// Choose where secrets are kept: os (the platform's keychain), file (one file encrypted
    /// with a passphrase) or pass (the standard Unix password store). Refused while items
    /// live in the current store: move them with `credtray keychain migrate --to …`
    Keychain {
        #[arg(value_parser = parse_backend)]
        store: crate::secrets::Backend,
    },
}

fn parse_backend(text: &str) -> Result<crate::secrets::Backend, String> {
    text.parse()
}

#[derive(Debug, Subcommand)]
pub enum KeychainCommand {
    /// Which store keeps the secrets, whether it answers and how many items it holds (names of
    /// their accounts, never values)
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Move every item into another store: copied, each read back and compared, then the old
    /// copies removed and the new store chosen. Run it again to finish an interrupted move
    Migrate {
        #[arg(long, value_parser = parse_backend)]
        to: crate::secrets::Backend,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Close the file keychain the agent holds open (its items wiped from memory); the next
    /// command asks for the passphrase again
    Lock,
    /// Open the agent's file keychain with a passphrase read from the terminal (or from
    /// CREDTRAY_PASSPHRASE_COMMAND's output)
    Unlock,
}

#[derive(Debug, clap::Args)]
pub struct ProxyArgs {
    /// The proxy: http://host:port (CONNECT for https targets)
    #[arg(required_unless_present_any = ["none", "env"], conflicts_with_all = ["none", "env"])]
    pub url: Option<String>,
    /// Connect directly, whatever the environment's proxy variables say
    #[arg(long, conflicts_with = "env")]
    pub none: bool,
    /// Forget the setting: the environment's proxy variables decide again
    #[arg(long)]
    pub env: bool,
    /// Hosts that go direct, in curl's NO_PROXY syntax (comma-separated host names, a leading
    /// dot optional, `*`, IP addresses, CIDR ranges)
    #[arg(long, requires = "url")]
    pub no_proxy: Option<String>,
    /// The proxy's user (Basic authentication)
    #[arg(long, requires = "url")]
    pub user: Option<String>,
    /// `-`: read the proxy's password from standard input (kept in the keychain, never in a
    /// file or on a command line)
    #[arg(long, requires = "user", value_parser = ["-"])]
    pub password: Option<String>,
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
    /// Add, list, show, edit and delete integrations (AWS IAM Identity Center instances, whose
    /// roles become sessions)
    #[command(subcommand)]
    Integration(IntegrationCommand),
    /// Inspect ~/.aws/credentials and ~/.aws/config
    #[command(subcommand)]
    Files(FilesCommand),
    /// Show and change credtray's settings: the proxy, the CA bundle, the store of secrets
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// Print a session's credentials for the AWS CLI's credential_process (JSON, Version 1):
    /// from the running agent (the tray, or `credtray agent`) when there is one
    CredentialProcess {
        /// The session's id or alias
        #[arg(long)]
        session: String,
    },
    /// Run the agent in the foreground (for machines without a desktop; the tray is one):
    /// credential-process answered from memory over a unix socket; with the file keychain it
    /// asks for the passphrase once and keeps the keychain open for other commands
    Agent {
        #[command(subcommand)]
        action: Option<AgentCommand>,
    },
    /// The store of secrets: its status, moving items to another one
    #[command(subcommand)]
    Keychain(KeychainCommand),
    /// Run a command with a session's credentials, served to it by a loopback ECS credentials
    /// endpoint kept fresh for as long as it runs (or, with --env, as static variables); its
    /// exit status is credtray's
    Exec(ExecArgs),
    /// Sign in to the AWS web console with a session, in the default browser
    Console(ConsoleArgs),
    /// Make sessions of what ~/.aws already holds
    #[command(subcommand)]
    Import(ImportCommand),
    /// Check that this machine's setup lets credtray work: the store, the keychain, the AWS
    /// files and the sections credtray owns, credential_process lines, the agent, the tray
    /// host, the clock against STS, the AWS CLI. Exit 0 when nothing failed (warnings included)
    Doctor {
        /// Print one JSON array: {"check", "status": "ok"|"warning"|"failed"|"skipped", "detail",
        /// "fix"}
        #[arg(long)]
        json: bool,
    },
    /// Print the shell completions of credtray (e.g. `credtray completions bash >
    /// ~/.local/share/bash-completion/completions/credtray`)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a session's credentials as variables for a shell to eval (they are plaintext in
    /// its environment: a warning says so on stderr)
    Env {
        /// The session's id or alias
        session: String,
        #[arg(long, value_enum, default_value_t = EnvFormat::Sh)]
        format: EnvFormat,
        #[command(flatten)]
        answers: Answers,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Every profile of ~/.aws/credentials and ~/.aws/config with credentials of its own:
    /// static keys become iam-user sessions (keys into the keychain), role_arn + source_profile
    /// chained sessions; each called like its profile and publishing to it. Idempotent
    AwsConfig {
        /// Say what would be created; change nothing
        #[arg(long)]
        dry_run: bool,
        /// Then remove the imported long-term keys from the AWS files, once the keychain gives
        /// them back: the rest of each section stays, the .credtray-backup file records what
        /// went (values redacted), and the session gives the section back, without the keys,
        /// when it stops
        #[arg(long)]
        move_keys: bool,
        /// Print one JSON array: {"profile", "status", "kind", "reason", "keys"}
        #[arg(long)]
        json: bool,
    },
}

/// `credtray console`.
#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// The session's id or alias
    pub session: String,
    /// The service's console to land on (`s3`, `ec2`, `cloudwatch`…; default: the console's home)
    #[arg(long, value_parser = service)]
    pub service: Option<String>,
    /// The console's region (default: the session's)
    #[arg(long)]
    pub region: Option<String>,
    /// Print the sign-in URL instead of opening it (it is a credential: anyone who has it is
    /// signed in, for 15 minutes)
    #[arg(long)]
    pub print: bool,
    #[command(flatten)]
    pub answers: Answers,
}

/// A console service's path segment: lowercase letters, digits and `-`.
fn service(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not a console service (lowercase letters, digits and '-', e.g. s3, ec2)"
        ))
    }
}

/// `credtray exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The session's id or alias
    pub session: String,
    /// Static variables (with AWS_CREDENTIAL_EXPIRATION) instead of the endpoint, for tools
    /// that can't read one; they are not refreshed
    #[arg(long)]
    pub env: bool,
    #[command(flatten)]
    pub answers: Answers,
    /// The command and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

/// How `credtray env` writes the variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EnvFormat {
    /// `export NAME='value'` (bash, zsh, sh)
    Sh,
    /// `set -gx NAME 'value';`
    Fish,
    /// `$Env:NAME = 'value'`
    Powershell,
    /// One JSON object
    Json,
    /// `NAME="value"` lines
    Dotenv,
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
    /// Pin a session to the top of the tray's menu
    Pin {
        /// The session's id or alias
        session: String,
    },
    /// Unpin a session from the top of the tray's menu
    Unpin {
        /// The session's id or alias
        session: String,
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
        /// The external id the role's trust policy asks for [default: none]
        #[arg(long)]
        external_id: Option<ExternalId>,
        /// [default: default]
        #[arg(long)]
        profile: Option<ProfileName>,
        /// [default: the assumer's region]
        #[arg(long)]
        region: Option<String>,
        /// How its credentials reach the AWS tools [default: `[settings] publish`, else file]
        #[arg(long, value_name = "file|process")]
        publish: Option<Publish>,
    },
    /// Delete a session and its keychain entries
    Delete {
        /// The session's id or alias
        session: String,
        /// Also delete every session chained from it
        #[arg(long)]
        cascade: bool,
        /// Delete the long-term keys `import --move-keys` took off the disk even when the
        /// section they came from is gone (the keychain holds their only copy; without this
        /// the delete refuses)
        #[arg(long)]
        discard_keys: bool,
    },
    /// Add a copy of a session: its profile, region and fields, no secret (an IAM user's copy
    /// needs keys of its own)
    Duplicate {
        /// The session's id or alias
        session: String,
        /// [default: "<alias> copy"]
        #[arg(long)]
        alias: Option<Alias>,
        /// `-`: read the copy's access key ID from standard input
        #[arg(long, value_name = "-")]
        access_key_id: Option<SecretOption>,
        /// `-`: read the copy's secret access key from standard input
        #[arg(long, value_name = "-")]
        secret_access_key: Option<SecretOption>,
    },
    /// Forget a federated session's identity provider login (the cookies of its SAML 2.0 URL):
    /// every session with that URL shows the login form on its next start
    ForgetLogin {
        /// The session's id or alias
        session: String,
    },
}

/// `session add <kind>`: one subcommand per kind users define (not the integration-derived
/// ones), with a flag for each of the kind's fields ([`Kind::fields`]), required unless the
/// field is optional.
#[derive(Debug)]
pub struct AddCommand {
    pub kind: Kind,
    pub common: Common,
    pub fields: Given,
}

fn addable() -> impl Iterator<Item = Kind> {
    Kind::ALL
        .into_iter()
        .filter(|k| !k.is_integration_derived())
}

impl FromArgMatches for AddCommand {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let Some((name, sub)) = matches.subcommand() else {
            return Err(clap::Error::new(clap::error::ErrorKind::MissingSubcommand));
        };
        let kind = addable()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidSubcommand))?;
        Ok(Self {
            kind,
            common: Common::from_arg_matches(sub)?,
            fields: Given::from_matches(sub, kind.fields()),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Subcommand for AddCommand {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        addable()
            .fold(cmd, |cmd, kind| {
                let sub =
                    Common::augment_args(clap::Command::new(kind.as_str()).about(kind.about()));
                cmd.subcommand(field_args(sub, kind.fields().iter().copied(), Mode::Add))
            })
            .subcommand_required(true)
            .arg_required_else_help(true)
    }

    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_subcommands(cmd)
    }

    fn has_subcommand(name: &str) -> bool {
        addable().any(|k| k.as_str() == name)
    }
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
    /// file: temporary credentials into ~/.aws/credentials; process: only a
    /// credential_process line in ~/.aws/config, no credential in any file [default:
    /// `[settings] publish` in config.toml, else file]
    #[arg(long, value_name = "file|process")]
    pub publish: Option<Publish>,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// The session's id or alias
    pub session: String,
    /// A new display name (unique, ignoring case)
    #[arg(long)]
    pub alias: Option<Alias>,
    /// Another named profile to write credentials to
    #[arg(long)]
    pub profile: Option<ProfileName>,
    /// Another AWS region
    #[arg(long)]
    pub region: Option<String>,
    /// Publish its credentials as a file (~/.aws/credentials) or a credential_process
    #[arg(long, value_name = "file|process")]
    pub publish: Option<Publish>,
    #[command(flatten)]
    pub fields: EditFields,
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
pub enum IntegrationCommand {
    /// Add an integration
    #[command(subcommand)]
    Add(AddIntegration),
    /// List every integration
    List {
        /// Print one JSON array instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Show one integration
    Show {
        /// The integration's id or alias
        integration: String,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Change an integration (another start URL or region logs it out)
    Edit {
        /// The integration's id or alias
        integration: String,
        /// A new display name (unique among integrations, ignoring case)
        #[arg(long)]
        alias: Option<Alias>,
        /// Another AWS access portal start URL
        #[arg(long)]
        start_url: Option<StartUrl>,
        /// Another IAM Identity Center region
        #[arg(long)]
        region: Option<String>,
    },
    /// Log in (device authorization: a code to confirm in the browser), then sync
    Login {
        /// The integration's id or alias
        integration: String,
        /// Print the URL and code only; open no browser
        #[arg(long)]
        no_browser: bool,
    },
    /// Log out: end the portal session, delete the tokens and the sessions' cached role
    /// credentials from the keychain, and stop the integration's sessions
    Logout {
        /// The integration's id or alias
        integration: String,
        /// Print the integration and the sessions stopped as JSON
        #[arg(long)]
        json: bool,
    },
    /// List the accounts and roles assigned to you and update the derived sessions
    Sync {
        /// The integration's id or alias
        integration: String,
    },
    /// Delete an integration, its tokens and the sessions derived from it
    Delete {
        /// The integration's id or alias
        integration: String,
        /// Also delete the sessions chained from its sessions
        #[arg(long)]
        cascade: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AddIntegration {
    /// An AWS IAM Identity Center (SSO) instance
    AwsSso {
        /// The display name (unique among integrations, ignoring case)
        #[arg(long)]
        alias: Alias,
        /// The AWS access portal's start URL, e.g. https://d-1234567890.awsapps.com/start
        #[arg(long)]
        start_url: StartUrl,
        /// The IAM Identity Center's region, e.g. eu-west-1
        #[arg(long)]
        region: String,
    },
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

/// What the command line gave for a kind's own fields, in the order given.
#[derive(Debug, Clone, Default)]
pub struct Given(pub Vec<(Field, Flag)>);

/// One kind field's flag value.
#[derive(Debug, Clone)]
pub enum Flag {
    /// A parsed value (`""` clears an optional field).
    Value(Value),
    /// A session's id or alias, for a field naming a session (the assumer): resolved against
    /// the catalog.
    Session(String),
    /// A secret's flag: only `-`, "read it from standard input", is accepted.
    Secret(SecretOption),
}

impl Given {
    fn from_matches(matches: &ArgMatches, fields: &[Field]) -> Self {
        let mut given: Vec<(usize, Field, Flag)> = fields
            .iter()
            .filter_map(|&field| {
                let flag = matches.get_one::<Flag>(field.code())?.clone();
                Some((matches.index_of(field.code())?, field, flag))
            })
            .collect();
        given.sort_by_key(|(at, _, _)| *at);
        Self(given.into_iter().map(|(_, f, v)| (f, v)).collect())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Add,
    Edit,
}

/// A `--<code>` flag for each field, its value parsed as the field's (a usage error, exit 2,
/// when it breaks the field's rule).
fn field_args(
    cmd: clap::Command,
    fields: impl Iterator<Item = Field>,
    mode: Mode,
) -> clap::Command {
    fields.fold(cmd, |cmd, field| {
        let code = field.code();
        let arg = clap::Arg::new(code)
            .long(code)
            .required(mode == Mode::Add && !field.is_optional());
        let arg = if field.is_secret() {
            arg.value_name("-")
                .help(format!("`-`: read the {field} from standard input"))
                .value_parser(|s: &str| {
                    Ok::<_, std::convert::Infallible>(Flag::Secret(SecretOption(s.to_owned())))
                })
        } else if field == Field::Assumer {
            arg.value_name("SESSION")
                .help("The session (id or alias) whose credentials assume the role")
                .value_parser(|s: &str| {
                    Ok::<_, std::convert::Infallible>(Flag::Session(s.to_owned()))
                })
        } else {
            let clear = match mode {
                _ if !field.is_optional() => "",
                Mode::Edit => "; \"\" to clear it",
                Mode::Add => " [optional]",
            };
            arg.value_name(code.to_uppercase().replace('-', "_"))
                .help(format!("The {field}, e.g. {}{clear}", field.example()))
                .value_parser(move |s: &str| Value::parse(field, s).map(Flag::Value))
        };
        cmd.arg(arg)
    })
}

/// `session edit`'s flags for the kinds' own fields: one for each field any editable kind
/// has ([`Kind::fields`]); the catalog refuses a field the session's kind does not have.
#[derive(Debug, Clone, Default)]
pub struct EditFields(pub Given);

/// Every field of the kinds users edit, each once, in table order.
pub fn editable_fields() -> Vec<Field> {
    let mut fields: Vec<Field> = Vec::new();
    for kind in addable() {
        for &field in kind.fields() {
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
    }
    fields
}

impl FromArgMatches for EditFields {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self(Given::from_matches(matches, &editable_fields())))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for EditFields {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        field_args(cmd, editable_fields().into_iter(), Mode::Edit)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}
