//! The `credtray` command line: each subcommand is one engine call plus output formatting.
//! It links no GUI toolkit, so it works over SSH and without a display; with no subcommand it
//! execs the tray, `credtray-tray`, from beside its own executable.

mod args;
mod input;
mod output;
mod prompt;
mod sessions;

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::aws::sts::Sdk;
use crate::awsfiles::Files;
use crate::engine::{self, Engine, NoPrompt, Tested};
use crate::secrets::Keychain;
use crate::session::{
    self, AccessKeyId, Edit, IamUserKeys, NewSession, RoleSessionName, SecretAccessKey,
    SessionKind, ValidationError,
};
use crate::store::{self, Store};
use args::{
    AddCommand, Cli, Command, Common, EditArgs, FilesCommand, ProfileCommand, SecretOption,
};
use secrecy::ExposeSecret;

/// Input the user must correct (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Logs go to stderr. `CREDTRAY_LOG` sets the level of credtray's own logs (default: warn);
/// libraries stay at warn whatever it says, because the AWS SDK's debug and trace logs carry
/// request and response bodies, and with them credentials.
pub fn init_logging() {
    let level = std::env::var("CREDTRAY_LOG")
        .ok()
        .and_then(|l| l.trim().parse::<tracing::level_filters::LevelFilter>().ok())
        .unwrap_or(tracing::level_filters::LevelFilter::WARN);
    let filter = tracing_subscriber::EnvFilter::new(format!("warn,credtray={level}"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// 2 when the input is at fault (usage, validation, unknown session, a corrupt store), else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let invalid = err.chain().any(|cause| {
        cause.downcast_ref::<UsageError>().is_some()
            || cause.downcast_ref::<ValidationError>().is_some()
            || cause.downcast_ref::<session::Error>().is_some()
            || cause
                .downcast_ref::<engine::Error>()
                .is_some_and(engine::Error::is_invalid_input)
            || cause
                .downcast_ref::<store::Error>()
                .is_some_and(store::Error::is_invalid_input)
    });
    if invalid { 2 } else { 1 }
}

/// The tray's executable, installed beside this one.
const TRAY: &str = if cfg!(windows) {
    "credtray-tray.exe"
} else {
    "credtray-tray"
};

/// `credtray` with no command: replaces this process with `credtray-tray` from beside this
/// executable (the same PID, so autostart and process managers see one process).
fn exec_tray() -> anyhow::Result<()> {
    let me = std::env::current_exe().context("cannot find the path of this executable")?;
    let tray = me
        .parent()
        .map(|dir| dir.join(TRAY))
        .with_context(|| format!("{} has no directory", me.display()))?;
    if !tray.is_file() {
        anyhow::bail!(
            "the tray is not installed: {} is missing (it is installed beside credtray; reinstall, or build both with `cargo build`); the subcommands work without it (`credtray --help`)",
            tray.display()
        );
    }
    let mut command = std::process::Command::new(&tray);
    #[cfg(unix)]
    {
        let error = std::os::unix::process::CommandExt::exec(&mut command);
        Err(error).with_context(|| format!("cannot start {}", tray.display()))
    }
    #[cfg(not(unix))]
    {
        let status = command
            .status()
            .with_context(|| format!("cannot start {}", tray.display()))?;
        if status.success() {
            Ok(())
        } else {
            anyhow::bail!("{} ended with {status}", tray.display())
        }
    }
}

/// Parses the process arguments and runs the command.
pub fn run() -> anyhow::Result<()> {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches)?;
    let Some(command) = cli.command else {
        // No command: the tray, a separate executable (this one links no GUI toolkit).
        return exec_tray();
    };
    let sts = Arc::new(Sdk::new().context("cannot start the STS client")?);
    let mut engine = Engine::new(
        Store::from_env()?,
        Arc::new(Keychain),
        Files::from_env()?,
        sts,
    );
    match command {
        Command::Session(command) => sessions::run(&mut engine, command, leaf(&matches)),
        Command::Profile(command) => profile(&engine, command),
        Command::Files(FilesCommand::Check { json }) => check_files(&engine, json),
        Command::CredentialProcess { session } => credential_process(&mut engine, &session),
    }
}

/// The matches of the innermost subcommand, where the options' positions are recorded.
fn leaf(matches: &ArgMatches) -> &ArgMatches {
    match matches.subcommand() {
        Some((_, sub)) => leaf(sub),
        None => matches,
    }
}

fn profile(engine: &Engine, command: ProfileCommand) -> anyhow::Result<()> {
    match command {
        ProfileCommand::List { json } => {
            let catalog = engine.catalog()?;
            let profiles = output::profiles(&catalog);
            if json {
                print_json(&profiles)
            } else {
                let lines: String = profiles
                    .iter()
                    .map(|p| {
                        format!(
                            "{}  ({} session{})\n",
                            p.name,
                            p.sessions,
                            if p.sessions == 1 { "" } else { "s" }
                        )
                    })
                    .collect();
                print(&lines)
            }
        }
        ProfileCommand::Add { name } => {
            engine.add_profile(name.clone())?;
            print(&format!("added named profile {name}\n"))
        }
        ProfileCommand::Delete { name } => {
            engine.delete_profile(&name)?;
            print(&format!("deleted named profile {name}\n"))
        }
    }
}

/// Prints a dry run's result; a failed test is exit code 1 (after printing, with --json).
fn report_test(result: Result<Tested, engine::Error>, json: bool) -> anyhow::Result<()> {
    if json {
        let (ok, caller_arn, expiration, error) = match &result {
            Ok(t) => (
                true,
                Some(t.caller_arn.clone()),
                Some(crate::aws::rfc3339(t.expiration)),
                None,
            ),
            Err(e) => (
                false,
                None,
                None,
                Some(format!("{:#}", anyhow::anyhow!(e.to_string()))),
            ),
        };
        print_json(
            &serde_json::json!({"ok": ok, "caller_arn": caller_arn, "expiration": expiration, "error": error}),
        )?;
    }
    match result {
        Ok(t) => {
            if !json {
                print(&format!(
                    "credentials work: caller {} (they would expire {}); nothing was saved\n",
                    t.caller_arn,
                    crate::aws::rfc3339(t.expiration)
                ))?;
            }
            Ok(())
        }
        Err(e) => Err(anyhow::Error::from(e).context("test credential generation failed")),
    }
}

/// The `credential_process` document (Version 1), borrowing the secrets it shows.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessCredentials<'a> {
    version: u8,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: &'a str,
    expiration: String,
}

/// `credential_process`: JSON Version 1 on stdout, or exit 1 with the reason on stderr.
fn credential_process(engine: &mut Engine, session: &str) -> anyhow::Result<()> {
    let id = engine.catalog()?.resolve(session)?.id;
    let c = engine.credentials_for(id, &mut NoPrompt)?;
    let document = ProcessCredentials {
        version: 1,
        access_key_id: c.access_key_id.expose_secret(),
        secret_access_key: c.secret_access_key.expose_secret(),
        session_token: c.session_token.expose_secret(),
        expiration: crate::aws::rfc3339(c.expiration),
    };
    let text = process_json(&document)?;
    print_secret(&text)
}

/// The document as JSON text in one wiped buffer. It is sized up front, so it never grows: a
/// `Vec` that grows leaves its old allocation, with the secrets written so far, unwiped.
fn process_json(document: &ProcessCredentials<'_>) -> anyhow::Result<zeroize::Zeroizing<Vec<u8>>> {
    let secrets = document.access_key_id.len()
        + document.secret_access_key.len()
        + document.session_token.len();
    // JSON escapes a character into at most six bytes; the rest is under 200 bytes.
    let capacity = 6 * secrets + document.expiration.len() + 256;
    let mut text = zeroize::Zeroizing::new(Vec::with_capacity(capacity));
    let reserved = text.capacity();
    serde_json::to_writer(&mut *text, document)?;
    text.push(b'\n');
    debug_assert_eq!(text.capacity(), reserved, "the buffer grew");
    Ok(text)
}

/// Writes secret bytes straight to the standard output's file descriptor: `std::io::stdout()`
/// would copy them into its own line buffer, which lives on, unwiped, until the process ends.
#[cfg(unix)]
fn print_secret(bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::fd::AsFd;
    std::io::stdout()
        .flush()
        .context("cannot write to standard output")?;
    let fd = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .context("cannot write to standard output")?;
    std::fs::File::from(fd)
        .write_all(bytes)
        .context("cannot write to standard output")
}

#[cfg(not(unix))]
fn print_secret(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .context("cannot write to standard output")?;
    out.flush().context("cannot write to standard output")
}

fn check_files(engine: &Engine, json: bool) -> anyhow::Result<()> {
    let reports = engine.check_files()?;
    if json {
        print_json(&reports)?;
    } else {
        print(&output::files(&reports))?;
    }
    let problems: usize = reports.iter().map(|r| r.problems.len()).sum();
    if problems > 0 {
        anyhow::bail!("{problems} problem(s) found in the AWS files");
    }
    Ok(())
}

fn new_session(
    engine: &Engine,
    add: AddCommand,
    matches: &ArgMatches,
) -> anyhow::Result<(NewSession, Option<IamUserKeys>)> {
    let new = |common: Common, kind| NewSession {
        alias: common.alias,
        profile: common.profile,
        region: common.region,
        kind,
    };
    Ok(match add {
        AddCommand::IamUser(a) => {
            let keys = match read_keys(matches, Some(&a.access_key_id), Some(&a.secret_access_key))?
            {
                (Some(access_key_id), Some(secret_access_key)) => Some(IamUserKeys {
                    access_key_id,
                    secret_access_key,
                }),
                // The engine refuses an IAM user without keys, naming what is missing.
                _ => None,
            };
            (
                new(
                    a.common,
                    SessionKind::IamUser {
                        mfa_device: a.mfa_device,
                    },
                ),
                keys,
            )
        }
        AddCommand::IamRoleChained(a) => {
            let assumer = engine
                .catalog()?
                .resolve(&a.assumer)
                .map_err(assumer_error)?
                .id;
            let kind = SessionKind::IamRoleChained {
                role_arn: a.role_arn,
                role_session_name: a.role_session_name,
                assumer,
            };
            (new(a.common, kind), None)
        }
        AddCommand::IamRoleFederated(a) => {
            let kind = SessionKind::IamRoleFederated {
                role_arn: a.role_arn,
                saml_url: a.saml_url,
                idp_arn: a.idp_arn,
            };
            (new(a.common, kind), None)
        }
    })
}

fn to_edit(catalog: &session::Catalog, e: EditArgs, matches: &ArgMatches) -> anyhow::Result<Edit> {
    let assumer = match &e.assumer {
        Some(name) => Some(catalog.resolve(name).map_err(assumer_error)?.id),
        None => None,
    };
    let (access_key_id, secret_access_key) = read_keys(
        matches,
        e.access_key_id.as_ref(),
        e.secret_access_key.as_ref(),
    )?;
    Ok(Edit {
        alias: e.alias,
        profile: e.profile,
        region: e.region,
        mfa_device: e.mfa_device.map(args::Clearable::into_option),
        role_arn: e.role_arn,
        role_session_name: e
            .role_session_name
            .map(args::Clearable::<RoleSessionName>::into_option),
        assumer,
        saml_url: e.saml_url,
        idp_arn: e.idp_arn,
        access_key_id,
        secret_access_key,
    })
}

fn assumer_error(e: session::Error) -> anyhow::Error {
    match e {
        session::Error::UnknownSession(name) => ValidationError::new(
            session::Field::Assumer,
            format!("no session has the id or alias {name:?}"),
        )
        .into(),
        other => other.into(),
    }
}

/// Reads the requested keys from stdin (or prompts), in the order their options were given.
fn read_keys(
    matches: &ArgMatches,
    access_key_id: Option<&SecretOption>,
    secret_access_key: Option<&SecretOption>,
) -> anyhow::Result<(Option<AccessKeyId>, Option<SecretAccessKey>)> {
    let mut wanted: Vec<(usize, &str)> = Vec::new();
    for (option, id, label) in [
        (access_key_id, "access_key_id", "access key id"),
        (secret_access_key, "secret_access_key", "secret access key"),
    ] {
        let Some(option) = option else { continue };
        if !option.is_stdin() {
            return Err(UsageError(format!(
                "secrets are never taken from the command line: pass --{} - and give the {label} on standard input",
                id.replace('_', "-")
            ))
            .into());
        }
        wanted.push((matches.index_of(id).unwrap_or(usize::MAX), label));
    }
    if wanted.is_empty() {
        return Ok((None, None));
    }
    wanted.sort_unstable();
    let labels: Vec<&str> = wanted.iter().map(|(_, label)| *label).collect();
    let values = input::read_secrets(&labels)?;
    let mut access_key_id = None;
    let mut secret_access_key = None;
    for (label, value) in labels.iter().zip(&values) {
        if *label == "access key id" {
            access_key_id = Some(AccessKeyId::parse(value)?);
        } else {
            secret_access_key = Some(SecretAccessKey::parse(value)?);
        }
    }
    Ok((access_key_id, secret_access_key))
}

fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .context("cannot write to standard output")?;
    out.flush().context("cannot write to standard output")
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    print(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_process_json_is_built_in_one_wiped_buffer_that_never_grows() {
        let token =
            "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDx7Kq2+9zWb3f1".repeat(6);
        let document = ProcessCredentials {
            version: 1,
            access_key_id: "ASIAQWERTYUIOP123456",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            session_token: &token,
            expiration: "2026-11-28T01:02:03Z".to_owned(),
        };
        let text: zeroize::Zeroizing<Vec<u8>> = process_json(&document).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "Version": 1,
                "AccessKeyId": "ASIAQWERTYUIOP123456",
                "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "SessionToken": token,
                "Expiration": "2026-11-28T01:02:03Z",
            })
        );
        assert!(text.ends_with(b"}\n"));
        let secrets = 20 + 40 + token.len();
        assert_eq!(text.capacity(), 6 * secrets + 20 + 256, "the buffer grew");
    }
}
