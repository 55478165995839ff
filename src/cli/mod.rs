//! The `credtray` command line: each subcommand is one engine call plus output formatting.
//! It links no GUI toolkit, so it works over SSH and without a display; with no subcommand it
//! execs the tray, `credtray-tray`, from beside its own executable.

mod args;
mod direct;
mod import;
mod input;
mod integrations;
mod keychain;
mod output;
mod prompt;
mod sessions;
mod settings;
mod sync_progress;
#[cfg(test)]
mod table_tests;

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;

use crate::aws::sts::Sdk;
use crate::awsfiles::Files;
use crate::engine::{self, Engine, NoPrompt, Tested};
use crate::session::{
    self, AccessKeyId, Edit, Field, IamUserKeys, Mismatch, NewSession, SecretAccessKey,
    SessionKind, ValidationError, Value,
};
use crate::store::{self, Store};
use args::{AddCommand, Cli, Command, EditArgs, FilesCommand, Flag, Given, ProfileCommand};
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

/// Replaces Rust's panic report (a message and, with `RUST_BACKTRACE`, a stack trace) by one
/// line on standard error: what failed, scrubbed of anything shaped like a secret, and where
/// the details are. The full report goes to the log (`CREDTRAY_LOG=debug`).
pub fn install_panic_hook(program: &'static str) {
    std::panic::set_hook(Box::new(move |info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "an unknown failure".to_owned());
        let what = crate::redact::scrub(&payload);
        let at = info
            .location()
            .map(|l| format!(" ({}:{})", l.file(), l.line()))
            .unwrap_or_default();
        tracing::debug!(%what, location = %at, backtrace = %std::backtrace::Backtrace::force_capture(), "panic");
        eprintln!(
            "{program}: internal error: {what}{at}; this is a bug in credtray (run again with CREDTRAY_LOG=debug for details)"
        );
    }));
    // Debug builds only: a panic on purpose, to test this hook.
    #[cfg(debug_assertions)]
    if std::env::var_os("CREDTRAY_FAILPOINT").is_some_and(|v| v == "panic") {
        panic!("the failpoint `panic`");
    }
}

/// Whether this process has a graphical session to show a tray in; the error to give when not.
pub fn no_display() -> Option<anyhow::Error> {
    (!crate::saml_login::has_display()).then(|| {
        anyhow::anyhow!(
            "no graphical session (neither DISPLAY nor WAYLAND_DISPLAY is set), so there is no tray to show; use the command line instead (`credtray session list`, `credtray session start SESSION`, `credtray --help`), and `credtray agent` to answer credential_process from memory"
        )
    })
}

/// 2 when the input is at fault (usage, validation, unknown session, a corrupt store), 130 for
/// a login or sync cancelled by Ctrl-C (as a shell reports a command SIGINT ended), else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<engine::Error>(),
            Some(engine::Error::SyncCancelled { .. } | engine::Error::LoginCancelled)
        )
    }) {
        return 130;
    }
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
            || cause
                .downcast_ref::<engine::desktop::Error>()
                .is_some_and(engine::desktop::Error::is_invalid_input)
    });
    if invalid { 2 } else { 1 }
}

/// `credtray` with no command: replaces this process with `credtray-tray` from beside this
/// executable (the same PID, so autostart and process managers see one process).
fn exec_tray() -> anyhow::Result<()> {
    if let Some(e) = no_display() {
        return Err(e);
    }
    let me = std::env::current_exe().context("cannot find the path of this executable")?;
    let tray = me
        .parent()
        .map(|dir| dir.join(crate::aws::process::TRAY))
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

/// `credtray doctor`: every check, one line each (the fix under a failed one or a warning), or
/// `--json`; exits 1 when one failed (warnings alone leave it 0).
fn doctor(engine: &Engine, json: bool) -> anyhow::Result<()> {
    let checks = engine.doctor(crate::agent::socket::path(), sts_endpoint());
    let failed = checks
        .iter()
        .any(|c| c.status == crate::doctor::Status::Failed);
    if json {
        print_json(&checks)?;
    } else {
        let mut text = String::new();
        for c in &checks {
            text.push_str(&format!(
                "{} {:<18} {}\n",
                c.status.mark(),
                c.check,
                c.detail
            ));
            if !c.fix.is_empty() {
                text.push_str(&format!("  {:<18} fix: {}\n", "", c.fix));
            }
        }
        print(&text)?;
    }
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

/// Where STS is, as the SDK finds it (its global endpoint unless a variable says).
fn sts_endpoint() -> String {
    crate::aws::endpoint("STS", "https://sts.amazonaws.com".to_owned())
}

/// The command line's grammar, as clap builds it for `--help` and the completions; also what
/// the man pages are written from (`examples/write_man.rs`).
pub fn grammar() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Parses the process arguments and runs the command.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let Some(command) = cli.command else {
        // No command: the tray, a separate executable (this one links no GUI toolkit).
        return exec_tray();
    };
    if let Command::Completions { shell } = command {
        // Into a buffer first: the generator panics on a write error (a closed pipe).
        let mut grammar = grammar();
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut grammar, "credtray", &mut script);
        return print(&String::from_utf8_lossy(&script));
    }
    // Asked for on every AWS CLI command: the agent answers from memory, before anything
    // else is set up.
    if let Command::CredentialProcess { session } = &command
        && let Some(document) = agent_credentials(session)?
    {
        return print_secret(&document);
    }
    let sts = Arc::new(Sdk::new().context("cannot start the STS client")?);
    if let Command::Agent { action } = command {
        return match action {
            None => run_agent(sts),
            Some(action) => keychain::agent(action),
        };
    }
    // Building the engine reads nothing yet: `doctor` runs on one whatever the store and the
    // files hold (what it checks).
    let parts = open_parts(
        Arc::new(input::Terminal),
        Some(Box::new(crate::agent::client::AgentHolder)),
    )?;
    let mut engine = Engine::new(parts.store, parts.secrets, parts.files, sts)
        .with_sso(Arc::new(crate::aws::sso::Sdk::new()))
        .with_keychain(parts.keychain);
    if let Command::Doctor { json } = command {
        return doctor(&engine, json);
    }
    if let Command::Exec(args) = command {
        let code = direct::exec(engine, args)?;
        if code != 0 {
            std::process::exit(code);
        }
        return Ok(());
    }
    match command {
        Command::Session(command) => sessions::run(&mut engine, command),
        Command::Profile(command) => profile(&engine, command),
        Command::Integration(command) => integrations::run(&mut engine, command),
        Command::Settings(command) => settings::run(&engine, command),
        Command::Keychain(command) => keychain::run(&engine, command),
        Command::Files(FilesCommand::Check { json }) => check_files(&engine, json),
        Command::CredentialProcess { session } => credential_process(&mut engine, &session),
        Command::Env {
            session,
            format,
            answers,
        } => direct::env(&mut engine, &session, format, answers),
        Command::Console(args) => direct::console(&mut engine, args),
        Command::Import(args::ImportCommand::AwsConfig {
            dry_run,
            move_keys,
            json,
        }) => import::aws_config(&mut engine, dry_run, move_keys, json),
        Command::Agent { .. }
        | Command::Exec(_)
        | Command::Completions { .. }
        | Command::Doctor { .. } => {
            unreachable!("handled above")
        }
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
            Err(e) => (false, None, None, Some(crate::error_sentence(e))),
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

/// The `credential_process` document from the running agent; `None` when no agent runs (or it
/// can't be understood, or its socket is refused), and the caller does the work itself.
fn agent_credentials(session: &str) -> anyhow::Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
    use crate::agent::client::Asked;
    use crate::agent::protocol::ErrorKind;
    match crate::agent::client::credentials(session) {
        Asked::NoAgent => Ok(None),
        Asked::Untrusted(e) => {
            agent_refused(&e);
            Ok(None)
        }
        Asked::Credentials(c) => {
            let document = ProcessCredentials {
                version: 1,
                access_key_id: &c.access_key_id,
                secret_access_key: &c.secret_access_key,
                session_token: &c.session_token,
                expiration: c.expiration.clone(),
            };
            process_json(&document).map(Some)
        }
        Asked::Refused(ErrorKind::NeedsMfa, _) => Err(needs_mfa(session)),
        Asked::Refused(ErrorKind::Invalid, message) => Err(UsageError(message).into()),
        Asked::Refused(_, message) => Err(anyhow::anyhow!(message)),
    }
}

/// Says, once per process, that the agent's socket was refused (another user may own it): the
/// command goes on without the agent, as when none runs, since the user's own agent can't
/// serve from that directory either; failing instead would let whoever made it stop every
/// `credential_process` call of this user.
pub(super) fn agent_refused(e: &crate::agent::client::Error) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        eprintln!("credtray: {e}; doing the work without the agent");
    });
}

/// What a `main` works on: the store, the chosen store of secrets, the AWS files.
pub struct Parts {
    pub store: Store,
    pub secrets: Arc<dyn crate::secrets::SecretStore>,
    pub files: Files,
    pub keychain: crate::secrets::chosen::InUse,
}

/// The store, the keychain and the AWS files of this process, with its network policy read
/// from them on its first call that needs it ([`crate::net::install`]); the file keychain's
/// passphrase asked on the terminal, unless the agent holds it open.
pub fn parts() -> anyhow::Result<(Store, Arc<dyn crate::secrets::SecretStore>, Files)> {
    let parts = open_parts(
        Arc::new(input::Terminal),
        Some(Box::new(crate::agent::client::AgentHolder)),
    )?;
    Ok((parts.store, parts.secrets, parts.files))
}

/// [`parts`] with the chosen store of secrets opened with `asker` asking for the file
/// keychain's passphrase and `holder` (the agent) tried first.
pub fn open_parts(
    asker: Arc<dyn crate::secrets::chosen::Asker>,
    holder: Option<Box<dyn crate::secrets::chosen::Holder>>,
) -> anyhow::Result<Parts> {
    use crate::secrets::chosen::{self, Choice, FileKeychain, InUse};
    let store = Store::from_env()?;
    let files = Files::from_env()?;
    // A store that can't be read fails the command that reads it, with its own sentence
    // (`doctor` reports it); the choice then is the environment's or the default.
    let setting = store.load().ok().and_then(|c| c.settings.keychain);
    let choice = Choice::resolve(setting).map_err(UsageError)?;
    let (secrets, file): (Arc<dyn crate::secrets::SecretStore>, _) = match choice.backend {
        crate::secrets::Backend::File => {
            let file = Arc::new(FileKeychain::new(chosen::file_path(), asker, holder));
            (file.clone(), Some(file))
        }
        backend => (chosen::open(backend, asker, holder), None),
    };
    crate::net::install(
        engine::network::source(store.clone(), secrets.clone(), files.clone()),
        engine::network::stamp(store.clone(), files.clone()),
    );
    Ok(Parts {
        store,
        secrets,
        files,
        keychain: InUse { choice, file },
    })
}

/// `credtray agent`: binds the agent's socket (refusing if another agent runs) and serves
/// until a tray asks it to hand over. With the file keychain, it asks for the passphrase once,
/// now (or stays locked until `agent unlock` when nobody can be asked).
fn run_agent(sts: Arc<Sdk>) -> anyhow::Result<()> {
    use crate::agent::{Agent, client, socket};
    // It holds credentials in memory: see `crate::harden`.
    crate::harden::keep_debuggers_out();
    let path = socket::path();
    let bound = socket::bind(&path, || client::who_holds(&path))?;
    // After its start, nobody is asked: a locked agent says so, and `agent unlock` opens it.
    let parts = open_parts(Arc::new(crate::secrets::chosen::NoAsker), None)?;
    if let Some(file) = &parts.keychain.file {
        if file.open_with(&input::Terminal)? {
            eprintln!(
                "credtray agent: the file keychain {} is open until the agent stops or `credtray agent lock`",
                file.path().display()
            );
        } else {
            eprintln!(
                "credtray agent: the file keychain {} stays locked until `credtray agent unlock` (nobody can be asked for its passphrase here)",
                file.path().display()
            );
        }
    }
    let agent = Arc::new(
        Agent::new(parts.store, parts.secrets, parts.files, sts)
            .with_sso(Arc::new(crate::aws::sso::Sdk::new()))
            .with_keychain(parts.keychain.choice.backend, parts.keychain.file),
    );
    eprintln!(
        "credtray agent: listening on {} (process {})",
        path.display(),
        std::process::id()
    );
    agent.serve(bound);
    Ok(())
}

/// credential_process has no terminal: say what to run instead.
fn needs_mfa(session: &str) -> anyhow::Error {
    UsageError(format!(
        "session {session:?} needs an MFA code, which credential_process can't ask for: run `credtray session start {session:?}` in a terminal (its token lasts 12 hours), or start it from the tray"
    ))
    .into()
}

/// `credential_process`: JSON Version 1 on stdout, or exit 1 with the reason on stderr.
fn credential_process(engine: &mut Engine, session: &str) -> anyhow::Result<()> {
    let id = engine.catalog()?.resolve(session)?.id;
    let c = match engine.credentials_for(id, &mut NoPrompt) {
        Err(engine::Error::NeedsMfaCode { .. }) => return Err(needs_mfa(session)),
        other => other?,
    };
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
) -> anyhow::Result<(NewSession, Option<IamUserKeys>)> {
    let (values, keys) = resolve(&engine.catalog()?, add.fields)?;
    let kind = SessionKind::from_values(add.kind, values).map_err(|m| {
        let (Mismatch::Missing(field) | Mismatch::Stray(field)) = m;
        UsageError(format!("{} sessions need --{}", add.kind, field.code()))
    })?;
    let keys = match keys {
        Keys {
            access_key_id: Some(access_key_id),
            secret_access_key: Some(secret_access_key),
        } => Some(IamUserKeys {
            access_key_id,
            secret_access_key,
        }),
        // The engine refuses an IAM user without keys, naming what is missing.
        _ => None,
    };
    let new = NewSession {
        alias: add.common.alias,
        profile: add.common.profile,
        region: add.common.region,
        publish: add.common.publish,
        kind,
    };
    Ok((new, keys))
}

fn to_edit(catalog: &session::Catalog, e: EditArgs) -> anyhow::Result<Edit> {
    let (values, keys) = resolve(catalog, e.fields.0)?;
    Ok(Edit {
        alias: e.alias,
        profile: e.profile,
        region: e.region,
        publish: e.publish,
        values,
        access_key_id: keys.access_key_id,
        secret_access_key: keys.secret_access_key,
    })
}

/// Keys read from standard input.
#[derive(Default)]
struct Keys {
    access_key_id: Option<AccessKeyId>,
    secret_access_key: Option<SecretAccessKey>,
}

/// The values of the kind fields given: sessions named by id or alias resolved against the
/// catalog, secrets read from stdin (or prompted for) in the order their flags were given.
fn resolve(catalog: &session::Catalog, given: Given) -> anyhow::Result<(Vec<Value>, Keys)> {
    let mut values = Vec::new();
    let mut secrets = Vec::new();
    for (field, flag) in given.0 {
        match flag {
            Flag::Value(value) => values.push(value),
            Flag::Session(name) => {
                let id = catalog
                    .resolve(&name)
                    .map_err(|e| session_error(field, e))?
                    .id;
                values.push(Value::parse(field, &id.to_string())?);
            }
            Flag::Secret(option) if option.is_stdin() => secrets.push(field),
            Flag::Secret(_) => {
                return Err(UsageError(format!(
                    "secrets are never taken from the command line: pass --{} - and give the {field} on standard input",
                    field.code()
                ))
                .into());
            }
        }
    }
    let mut keys = Keys::default();
    if secrets.is_empty() {
        return Ok((values, keys));
    }
    let labels: Vec<String> = secrets.iter().map(ToString::to_string).collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    for (field, value) in secrets.iter().zip(input::read_secrets(&labels)?) {
        match field {
            Field::AccessKeyId => keys.access_key_id = Some(AccessKeyId::parse(&value)?),
            Field::SecretAccessKey => {
                keys.secret_access_key = Some(SecretAccessKey::parse(&value)?);
            }
            other => return Err(UsageError(format!("{other} is not a key")).into()),
        }
    }
    Ok((values, keys))
}

/// A session named by a field (the assumer) that does not exist is that field's error.
fn session_error(field: Field, e: session::Error) -> anyhow::Error {
    match e {
        session::Error::UnknownSession(name) => {
            ValidationError::new(field, format!("no session has the id or alias {name:?}")).into()
        }
        other => other.into(),
    }
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
