//! `credtray doctor`: whether this machine's setup lets credtray work, one check at a time, each
//! ok, failed (with the fix in one sentence), a warning (credtray works, but something wants the
//! person's attention: with the fix too) or skipped (with why). Only a failed check fails the
//! run. Nothing here changes the user's state but one throw-away keychain item, written, read
//! back and deleted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::awsfiles::Files;
use crate::secrets::{Item, Key, SecretStore};
use crate::session::SessionId;
use crate::store::Store;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Ok,
    /// Works, but the person should act (the fix says how); the run still succeeds.
    Warning,
    Failed,
    Skipped,
}

impl Status {
    pub fn mark(self) -> &'static str {
        match self {
            Status::Ok => "✓",
            Status::Warning => "!",
            Status::Failed => "✗",
            Status::Skipped => "–",
        }
    }
}

/// One check's outcome, as `doctor` prints it (and `--json` gives it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    pub check: &'static str,
    pub status: Status,
    pub detail: String,
    /// For a failed check or a warning: what to do, in one sentence.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix: String,
}

impl Check {
    fn ok(check: &'static str, detail: impl Into<String>) -> Self {
        Check {
            check,
            status: Status::Ok,
            detail: detail.into(),
            fix: String::new(),
        }
    }

    fn failed(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            check,
            status: Status::Failed,
            detail: detail.into(),
            fix: fix.into(),
        }
    }

    fn warning(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            check,
            status: Status::Warning,
            detail: detail.into(),
            fix: fix.into(),
        }
    }

    fn skipped(check: &'static str, why: impl Into<String>) -> Self {
        Check {
            check,
            status: Status::Skipped,
            detail: why.into(),
            fix: String::new(),
        }
    }
}

/// STS refuses requests signed more than this far from its clock.
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);
/// How long the clock check waits for STS.
const CLOCK_WITHIN: Duration = Duration::from_secs(2);

/// What the checks look at: the machine's own, or a test's.
pub struct Setup<'a> {
    pub store: &'a Store,
    pub secrets: &'a dyn SecretStore,
    pub files: &'a Files,
    /// Where `credential_process` lines' credtray and the agent's socket are looked for.
    pub agent_socket: PathBuf,
    /// Whether an agent should be running (the tray starts at login, or a systemd unit).
    pub agent_expected: bool,
    /// The STS endpoint whose `Date` header is compared with this clock.
    pub sts_endpoint: String,
    /// Which store `secrets` is.
    pub keychain: &'a crate::secrets::chosen::InUse,
}

/// Whether an agent should be running: the tray starts at login (`autostart`: its entry is
/// there), or the systemd user unit of `credtray agent` is enabled (a headless machine).
pub fn agent_expected(autostart: bool) -> bool {
    let unit = directories::BaseDirs::new().map(|b| {
        b.config_dir()
            .join("systemd/user/default.target.wants/credtray-agent.service")
    });
    autostart || unit.is_some_and(|u| u.exists())
}

/// Runs every check, in order.
pub fn run(setup: &Setup<'_>) -> Vec<Check> {
    // Read once: three checks look at it.
    let stored = setup.store.load_all();
    let owned_records = stored.as_ref().ok().map(|s| s.owned.as_slice());
    let federated = stored.as_ref().is_ok_and(|s| {
        s.catalog
            .sessions()
            .iter()
            .any(|s| matches!(s.kind, crate::session::SessionKind::IamRoleFederated { .. }))
    });
    let (proxy, bundle) = network(&setup.sts_endpoint, federated);
    vec![
        store(setup.store, &stored),
        keychain(setup.secrets, setup.keychain, &setup.agent_socket),
        files(setup.files, owned_records.unwrap_or_default()),
        credentials_mode(setup.files),
        owned(setup.files, owned_records),
        credential_process(setup.files),
        mfa_sources(stored.as_ref().ok().map(|s| &s.catalog)),
        agent(setup),
        tray_host(),
        proxy,
        bundle,
        clock(&setup.sts_endpoint),
        aws_cli(),
    ]
}

/// How long the proxy check waits for the proxy's answer.
const PROXY_WITHIN: Duration = Duration::from_secs(5);

/// The network policy: which proxy STS, IAM Identity Center and the console sign-in go through
/// (the password masked) and whether it opens a tunnel to STS; which CA bundle is trusted
/// beside the platform's roots, and how many certificates it holds.
/// `federated`: some session logs in through the SAML login window, whose WebKit trusts the
/// system's store only.
fn network(sts_endpoint: &str, federated: bool) -> (Check, Check) {
    let policy = match crate::net::policy() {
        Ok(p) => p,
        Err(e) => {
            let fix = "fix the setting or variable named (`credtray settings show`; `credtray settings proxy --env` drops a bad proxy setting)";
            return (
                Check::failed("proxy", e.to_string(), fix),
                Check::skipped("ca bundle", "the network settings can't be used"),
            );
        }
    };
    let route = policy.route();
    let targets = [
        ("STS", sts_endpoint.to_owned()),
        (
            "IAM Identity Center",
            crate::aws::endpoint(
                "SSO_OIDC",
                "https://oidc.us-east-1.amazonaws.com".to_owned(),
            ),
        ),
        ("sign-in", "https://signin.aws.amazon.com".to_owned()),
    ];
    let mut ways = Vec::new();
    for (name, target) in &targets {
        let way = match target.parse::<http::Uri>() {
            Ok(uri) => match route.proxy_for(&uri) {
                Some(p) => format!("{name} through {} (from {})", p.shown(), p.from),
                None => format!("{name} direct"),
            },
            Err(_) => format!("{name} at {target:?}, which is not a URL"),
        };
        ways.push(way);
    }
    let mut detail = ways.join("; ");
    if let Some(from) = route.no_proxy_from {
        detail.push_str(&format!(
            "; {} from {from} go direct",
            route.no_proxy.as_str()
        ));
    }
    let sts = sts_endpoint.parse::<http::Uri>().ok();
    let proxy = match sts
        .as_ref()
        .and_then(|uri| Some((uri, route.proxy_for(uri)?)))
    {
        None => Check::ok("proxy", detail),
        Some((uri, proxy)) => {
            let host = uri.host().unwrap_or_default();
            let port = uri
                .port_u16()
                .unwrap_or(if uri.scheme_str() == Some("http") {
                    80
                } else {
                    443
                });
            match crate::net::connect_through(proxy, host, port, PROXY_WITHIN) {
                Ok(line) => Check::ok(
                    "proxy",
                    format!("{detail}; a tunnel to {host}:{port} opened ({line})"),
                ),
                Err(why) => Check::failed(
                    "proxy",
                    format!("{detail}; {why}"),
                    if why.contains("credentials") {
                        "set the proxy's user and password: `credtray settings proxy URL --user USER --password -`"
                    } else {
                        "check the proxy's address (`credtray settings show`, HTTPS_PROXY), or ask its administrators to allow AWS's endpoints"
                    },
                ),
            }
        }
    };
    let bundle = match policy.bundle() {
        None => Check::ok(
            "ca bundle",
            "the platform's CA certificates only (no AWS_CA_BUNDLE, profile ca_bundle or [settings] ca_bundle)",
        ),
        Some(b) => {
            let detail = format!(
                "{} ({} certificate{}, from {}) beside the platform's CA certificates",
                b.path.display(),
                b.len(),
                if b.len() == 1 { "" } else { "s" },
                b.named_by
            );
            if federated {
                Check::warning(
                    "ca bundle",
                    format!(
                        "{detail}; the SAML login window can't use it (WebKit trusts the system's store only)"
                    ),
                    "if the identity provider's pages are behind the company CA, install it into the system's store too (Debian: copy it to /usr/local/share/ca-certificates/ and run update-ca-certificates)",
                )
            } else {
                Check::ok("ca bundle", detail)
            }
        }
    };
    (proxy, bundle)
}

fn store(store: &Store, stored: &Result<crate::store::Stored, crate::store::Error>) -> Check {
    match stored {
        Ok(stored) => Check::ok(
            "store",
            format!(
                "{} sessions, {} integrations in {}",
                stored.catalog.sessions().len(),
                stored.catalog.integrations().len(),
                store.path().display()
            ),
        ),
        Err(e) => Check::failed(
            "store",
            crate::error_sentence(e),
            format!(
                "fix what it names in {} (or move the file aside to start afresh)",
                store.path().display()
            ),
        ),
    }
}

/// A throw-away item under a session id no session has: written, read back, deleted.
/// The store of secrets: which one, whether it answers (an item written, read back and
/// deleted) and, for the file store, whether the agent holds it open. A locked file store
/// nobody holds open is not opened (doctor asks for no passphrase): its file is checked to be
/// credtray's encrypted keychain.
fn keychain(
    secrets: &dyn SecretStore,
    in_use: &crate::secrets::chosen::InUse,
    agent_socket: &Path,
) -> Check {
    use crate::secrets::Backend;
    let backend = in_use.choice.backend;
    let fix = match backend {
        Backend::Os
            if cfg!(any(
                target_os = "linux",
                target_os = "freebsd",
                target_os = "openbsd"
            )) =>
        {
            "run a Secret Service on your session bus (gnome-keyring or KeePassXC with its Secret Service integration) and unlock its default collection, or keep secrets elsewhere: `credtray settings keychain file` or `credtray settings keychain pass`"
        }
        Backend::Os if cfg!(windows) => {
            "check that Windows' Credential Manager works for your account (Control Panel, Credential Manager), or keep secrets in an encrypted file: `credtray settings keychain file`"
        }
        Backend::Os => {
            "unlock the OS keychain, or keep secrets in an encrypted file: `credtray settings keychain file`"
        }
        Backend::File => "check the file and its passphrase (`credtray keychain status` says more)",
        Backend::Pass => {
            "install pass and initialise it (`pass init <your GPG key id>`), and check that gpg-agent can decrypt"
        }
    };
    let store = format!("{} ({})", backend.describe(), in_use.choice.by.clause());
    let mut held = String::new();
    if let Some(file) = &in_use.file {
        let open_in_agent = crate::agent::client::AgentKeychain::if_open_at(agent_socket).is_some();
        held = if open_in_agent {
            "; the agent holds it open".to_owned()
        } else {
            "; the agent does not hold it open".to_owned()
        };
        let can_open = open_in_agent
            || file.is_open()
            || std::env::var_os(crate::secrets::chosen::PASSPHRASE_COMMAND)
                .is_some_and(|c| !c.is_empty());
        if !can_open {
            return match std::fs::read(file.path()) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Check::ok(
                    "keychain",
                    format!("{store}: no file yet (it is made with the first secret kept){held}"),
                ),
                Err(e) => Check::failed(
                    "keychain",
                    format!("{store}: cannot read {}: {e}", file.path().display()),
                    fix,
                ),
                Ok(bytes) => match crate::secrets::file::is_keychain(&bytes) {
                    Ok(()) => Check::ok(
                        "keychain",
                        format!(
                            "{store}: locked, and its file is credtray's encrypted keychain{held} (commands ask for its passphrase)"
                        ),
                    ),
                    Err(why) => Check::failed(
                        "keychain",
                        format!(
                            "{store}: {} is damaged or is not credtray's encrypted keychain ({why})",
                            file.path().display()
                        ),
                        fix,
                    ),
                },
            };
        }
    }
    let key = Key::new(SessionId::new(), Item::AccessKey);
    let value = SecretString::from("credtray doctor: a throw-away item");
    let round = secrets.set(key, &value).and_then(|()| secrets.get(key));
    let _ = secrets.delete(key);
    match round {
        Ok(Some(back)) if back.expose_secret() == value.expose_secret() => Check::ok(
            "keychain",
            format!("{store}: an item was written, read back and deleted{held}"),
        ),
        Ok(_) => Check::failed(
            "keychain",
            format!("{store}: it did not give back the item just written{held}"),
            fix,
        ),
        Err(e) => Check::failed(
            "keychain",
            format!("{store}: {}{held}", crate::error_sentence(&e)),
            fix,
        ),
    }
}

fn files(files: &Files, owned: &[crate::awsfiles::Owned]) -> Check {
    let mut problems = Vec::new();
    for report in files.check(owned) {
        let path = report.path.display();
        problems.extend(report.problems.iter().map(|p| format!("{path}: {p}")));
        problems.extend(
            report
                .warnings
                .iter()
                .map(|w| format!("{path}, line {}: {}", w.line, w.message)),
        );
    }
    if problems.is_empty() {
        Check::ok("aws files", "both parse, and the AWS tools can read them")
    } else {
        Check::failed(
            "aws files",
            problems.join("; "),
            "edit the file at the line named (`credtray files check` says the same)",
        )
    }
}

/// Whether others can read the credentials file, where credtray writes temporary credentials.
/// credtray keeps the mode a file has, so only the person can close it: a warning, as `files
/// check` and the tray give (the word), not a failure: everything still works, and
/// scripts that run `doctor` must not start failing on a mode they chose.
fn credentials_mode(files: &Files) -> Check {
    const CHECK: &str = "credentials file";
    let path = files.credentials.path();
    if let Some(readable) = files.credentials.readable_by_others() {
        return Check::warning(
            CHECK,
            readable.to_string(),
            format!(
                "run {} (credtray keeps the mode a file has)",
                readable.fix()
            ),
        );
    }
    if files.credentials.target().is_ok_and(|t| t.exists()) {
        Check::ok(CHECK, format!("only you can read {}", path.display()))
    } else {
        Check::skipped(
            CHECK,
            format!(
                "{} does not exist yet (credtray creates it with mode 0600)",
                path.display()
            ),
        )
    }
}

fn owned(files: &Files, owned: Option<&[crate::awsfiles::Owned]>) -> Check {
    let Some(owned) = owned else {
        return Check::skipped("owned sections", "the store can't be read");
    };
    if owned.is_empty() {
        return Check::skipped("owned sections", "credtray writes no section now");
    }
    let changed = files.changed_by_hand(owned);
    if changed.is_empty() {
        return Check::ok(
            "owned sections",
            format!("{} sections are as credtray wrote them", owned.len()),
        );
    }
    let named: Vec<String> = changed
        .iter()
        .map(|(file, section)| format!("[{section}] in {}", file.display()))
        .collect();
    Check::failed(
        "owned sections",
        format!(
            "changed by hand since credtray wrote them: {}",
            named.join(", ")
        ),
        "stop and start their sessions to write them afresh (a copy of the hand-made text goes to the .credtray-backup file)",
    )
}

/// Every `credential_process` line of the config file that runs credtray names an executable
/// that exists (an upgrade or a move can leave them pointing at nothing).
fn credential_process(files: &Files) -> Check {
    const CHECK: &str = "credential_process";
    let doc = match files.config.read() {
        Ok(doc) => doc,
        Err(_) => return Check::skipped(CHECK, "the config file can't be read"),
    };
    let mut lines = 0;
    let mut broken = Vec::new();
    for header in doc.section_names() {
        let Some(command) = doc.get(header, "credential_process") else {
            continue;
        };
        let program = first_word(command);
        if !program.contains("credtray") {
            continue;
        }
        lines += 1;
        if !is_executable(Path::new(&program)) {
            broken.push(format!("[{header}] runs {program}, which is not there"));
        }
    }
    match (lines, broken.is_empty()) {
        (0, _) => Check::skipped(CHECK, "no profile runs credtray as its credential_process"),
        (n, true) => Check::ok(CHECK, format!("{n} profiles run a credtray that is there")),
        (_, false) => Check::failed(
            CHECK,
            broken.join("; "),
            "start each session again (its line is rewritten with this credtray's path), or reinstall credtray where it was",
        ),
    }
}

/// The programs of the sessions' MFA sources (`ykman`, a command) are there to run. They are
/// not run: a YubiKey may want a touch, a password manager its password.
fn mfa_sources(catalog: Option<&crate::session::Catalog>) -> Check {
    use crate::session::{MfaSource, SessionKind};
    const CHECK: &str = "mfa sources";
    let Some(catalog) = catalog else {
        return Check::skipped(CHECK, "the store can't be read");
    };
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for session in catalog.sessions() {
        let SessionKind::IamUser {
            mfa_source: Some(source),
            ..
        } = &session.kind
        else {
            continue;
        };
        let program = source.program();
        let there = if program.contains('/') {
            is_executable(Path::new(program))
        } else {
            std::env::var_os("PATH").is_some_and(|path| {
                std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
            })
        };
        let named = format!("{} ({program})", session.alias);
        if there {
            found.push(named);
        } else {
            let hint = match source {
                MfaSource::Ykman { .. } => "; install yubikey-manager",
                MfaSource::Process(_) => "",
            };
            missing.push((named, hint, session.alias.to_string()));
        }
    }
    match (found.len(), missing.first()) {
        (0, None) => Check::skipped(CHECK, "no session takes its MFA code from a source"),
        (n, None) => Check::ok(
            CHECK,
            format!("{n} sessions' sources are there: {}", found.join(", ")),
        ),
        (_, Some((_, hint, alias))) => Check::failed(
            CHECK,
            format!(
                "not found on PATH: {}",
                missing
                    .iter()
                    .map(|m| m.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "install what they run{hint}, or let a person type the code: credtray session edit {alias:?} --mfa-source prompt"
            ),
        ),
    }
}

/// A command line's program, as botocore's shlex splits it (one level of quotes).
fn first_word(command: &str) -> String {
    let command = command.trim_start();
    match command.chars().next() {
        Some(q @ ('"' | '\'')) => command[1..].split(q).next().unwrap_or_default().to_owned(),
        _ => command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

fn agent(setup: &Setup<'_>) -> Check {
    use crate::agent::protocol::{Answer, Ask};
    const CHECK: &str = "agent";
    match crate::agent::client::request(&setup.agent_socket, Ask::Hello) {
        Ok(Some(reply)) => match reply.body {
            Answer::Hello { pid, tray } => Check::ok(
                CHECK,
                format!(
                    "{} (pid {pid}) answers on {}",
                    if tray { "the tray" } else { "credtray agent" },
                    setup.agent_socket.display()
                ),
            ),
            _ => Check::failed(
                CHECK,
                "the agent's socket answers, but not as an agent",
                "stop what listens there and start the tray (or `credtray agent`)",
            ),
        },
        Ok(None) if setup.agent_expected => Check::failed(
            CHECK,
            format!("no agent answers on {}", setup.agent_socket.display()),
            if cfg!(windows) {
                "start the tray (credtray-tray.exe), or `credtray agent` in a window of its own"
            } else {
                "start the tray (or `systemctl --user start credtray-agent` on a machine without a desktop)"
            },
        ),
        Ok(None) => Check::skipped(
            CHECK,
            "none is running and none is expected (credential_process works without one, only slower)",
        ),
        Err(e @ crate::agent::client::Error::Untrusted { .. }) => Check::failed(
            CHECK,
            crate::error_sentence(&e),
            format!(
                "set XDG_RUNTIME_DIR to a directory of yours with mode 0700, or have {} removed; credential_process works without the agent meanwhile",
                setup
                    .agent_socket
                    .parent()
                    .unwrap_or(&setup.agent_socket)
                    .display()
            ),
        ),
        Err(e) => Check::failed(
            CHECK,
            crate::error_sentence(&e),
            "restart the tray (or `credtray agent`)",
        ),
    }
}

/// A tray host on the session bus (org.kde.StatusNotifierWatcher), when there is a display.
fn tray_host() -> Check {
    const CHECK: &str = "tray host";
    if !crate::saml_login::has_display() {
        return Check::skipped(CHECK, "no graphical session");
    }
    match watcher_present() {
        Ok(true) => Check::ok(CHECK, "a StatusNotifierWatcher is on the session bus"),
        Ok(false) => Check::failed(
            CHECK,
            "no StatusNotifierWatcher on the session bus: the tray's icon has nowhere to show",
            "on GNOME, install and enable the AppIndicator/KStatusNotifierItem extension (gnome-shell-extension-appindicator)",
        ),
        Err(e) => Check::skipped(CHECK, format!("the session bus can't be asked: {e}")),
    }
}

/// Whether `org.kde.StatusNotifierWatcher` has an owner on the session bus.
#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
fn watcher_present() -> Result<bool, String> {
    let bus = dbus::blocking::Connection::new_session().map_err(|e| e.to_string())?;
    let proxy = bus.with_proxy(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        Duration::from_secs(2),
    );
    let (owned,): (bool,) = proxy
        .method_call(
            "org.freedesktop.DBus",
            "NameHasOwner",
            ("org.kde.StatusNotifierWatcher",),
        )
        .map_err(|e| e.to_string())?;
    Ok(owned)
}

/// macOS and Windows always have a menu bar or notification area.
#[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")))]
fn watcher_present() -> Result<bool, String> {
    Ok(true)
}

/// This clock against STS's `Date` header: STS refuses signatures more than 5 minutes off
/// (`SignatureDoesNotMatch`, `Signature expired`), a common silent cause of failures.
fn clock(endpoint: &str) -> Check {
    const CHECK: &str = "clock";
    let response = match crate::aws::https::get(endpoint, CLOCK_WITHIN) {
        Ok(r) => r,
        Err(e) => return Check::skipped(CHECK, format!("STS at {endpoint} can't be reached: {e}")),
    };
    let now = time::OffsetDateTime::now_utc();
    let Some(theirs) = response.date.as_deref().and_then(parse_http_date) else {
        return Check::skipped(CHECK, format!("STS at {endpoint} sent no Date"));
    };
    let offset = theirs - now;
    let seconds = offset.whole_seconds();
    let said = if seconds >= 0 {
        format!("{} behind STS", human(seconds))
    } else {
        format!("{} ahead of STS", human(-seconds))
    };
    if offset.abs() > MAX_SKEW {
        Check::failed(
            CHECK,
            format!("this clock is {said}: STS refuses requests signed more than 5 minutes off"),
            "turn on network time (`timedatectl set-ntp true`) or set the clock right",
        )
    } else {
        Check::ok(
            CHECK,
            format!("this clock is {said} (within the 5 minutes STS allows)"),
        )
    }
}

/// An offset as a person reads it (HTTP dates have whole seconds, so minutes are rounded).
fn human(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s => format!("about {} min", (s + 30) / 60),
    }
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn parse_http_date(text: &str) -> Option<time::OffsetDateTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text.trim(), format)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// The AWS CLI on PATH, for information: credtray works without it.
fn aws_cli() -> Check {
    const CHECK: &str = "aws cli";
    match std::process::Command::new("aws").arg("--version").output() {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout);
            let version = if version.trim().is_empty() {
                String::from_utf8_lossy(&out.stderr).into_owned()
            } else {
                version.into_owned()
            };
            Check::ok(CHECK, version.trim().to_owned())
        }
        _ => Check::skipped(
            CHECK,
            "not on PATH (informative only: any AWS SDK reads the profiles credtray writes)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_and_command_words_are_read_as_the_wire_and_botocore_have_them() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(time::macros::datetime!(1994-11-06 08:49:37 UTC))
        );
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(
            first_word("\"/opt/cred tray/credtray\" credential-process --session x"),
            "/opt/cred tray/credtray"
        );
        assert_eq!(
            first_word("/usr/bin/credtray credential-process"),
            "/usr/bin/credtray"
        );
        assert_eq!(human(59), "59 s");
        assert_eq!(human(599), "about 10 min");
    }

    #[test]
    fn a_working_keychain_passes_and_leaves_nothing() {
        let memory = crate::secrets::Memory::default();
        let check = keychain(
            &memory,
            &crate::secrets::chosen::InUse::default(),
            Path::new("/nonexistent/agent.sock"),
        );
        assert_eq!(check.status, Status::Ok, "{check:?}");
        assert!(check.detail.contains("the OS keychain"), "{check:?}");
        assert!(memory.is_empty());
    }
}
