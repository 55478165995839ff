//! Federated logins through the embedded browser, as seen from outside it: the login runs in a
//! child process, `credtray-login --saml-login <session id>` (so WebKit never loads into the
//! tray and the CLI links no GUI library), which prints the captured SAMLResponse on
//! a pipe and says how it ended by its exit code. This module owns that contract (both sides),
//! where each SAML 2.0 URL keeps its cookies, forgetting them, which URLs are AWS's SAML
//! sign-in endpoints (the requests that must never leave the machine), which URLs the window
//! may load at all, and how page-supplied text is made safe to log.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::engine::{NoAssertion, SamlLogin};
use crate::session::{Catalog, SamlUrl, Session, SessionKind};

/// The option `credtray-login` is started with.
pub const FLAG: &str = "--saml-login";

/// What begins the child's reason on standard output. A SAMLResponse is base64, which never
/// holds `:` nor a space, so no assertion, nor any piece of one, begins with it.
pub const REASON: &str = "reason: ";

/// How the login child ends: its exit code. Standard output is the child's alone (set aside
/// before WebKit starts, close-on-exec): after `Captured` it holds the SAMLResponse; after
/// `Failed` it may begin with [`REASON`] and the reason, one line, as the child wrote it.
/// Standard output is read for nothing else: a child killed by a signal (WebKit crashing on its
/// way out, right after the assertion was written) or failing half-way through writing the
/// assertion leaves the assertion there, a live credential that must never become an error
/// message. Standard error is shared with WebKit's processes and carries what pages said
/// (escaped), so a reason is read from it only when standard output has none (the child failed
/// before setting it aside, or panicked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The SAMLResponse is on standard output.
    Captured = 0,
    /// Anything else: the reason is on standard output after [`REASON`] (see above), else the
    /// last line on standard error that starts with `credtray-login: `.
    Failed = 1,
    /// The person closed the window.
    Cancelled = 10,
    /// The login did not finish within the timeout.
    TimedOut = 11,
    /// Hidden only (a rotation): the identity provider wants the person.
    NeedsUser = 12,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }

    fn of(code: i32) -> Option<Self> {
        [
            Self::Captured,
            Self::Failed,
            Self::Cancelled,
            Self::TimedOut,
            Self::NeedsUser,
        ]
        .into_iter()
        .find(|e| e.code() == code)
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit as u8)
    }
}

/// `credtray-login` beside the running executable (the CLI, or the tray).
pub fn login_beside_me() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    Some(me.parent()?.join(crate::aws::process::LOGIN))
}

/// Whether this process can show a window: a display on Linux and the BSDs (X11 or Wayland),
/// always elsewhere.
pub fn has_display() -> bool {
    if cfg!(any(target_os = "macos", windows)) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()))
}

/// Where every identity provider's cookies live: `$XDG_DATA_HOME/credtray/idp` (the platform's
/// data directory elsewhere).
pub fn idp_dir() -> Option<PathBuf> {
    let base = directories::BaseDirs::new()?;
    Some(base.data_dir().join("credtray").join("idp"))
}

/// The cookie directory of one SAML 2.0 URL: sessions with the same URL share it (and so one
/// IdP login), different URLs never do.
pub fn cookie_dir(idp_dir: &Path, url: &SamlUrl) -> PathBuf {
    idp_dir.join(crate::sha256_hex(url.as_str().as_bytes(), 32))
}

/// Forgets the IdP login of `url`: deletes its cookie directory. Returns whether there was one.
pub fn forget(idp_dir: &Path, url: &SamlUrl) -> std::io::Result<bool> {
    match std::fs::remove_dir_all(cookie_dir(idp_dir, url)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// What forgetting a session's IdP login did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forgotten {
    pub url: SamlUrl,
    /// Every session with that URL (the one named first), all logged out by it.
    pub sessions: Vec<String>,
    /// Whether there were cookies to forget.
    pub existed: bool,
}

impl Forgotten {
    /// What the CLI prints and the tray's toast says.
    pub fn sentence(&self) -> String {
        let who = match self.sessions.as_slice() {
            [one] => format!("session {one:?} shows"),
            many => format!(
                "sessions {} show",
                many.iter()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        if self.existed {
            format!(
                "forgot the identity provider login of {}: {who} the login form on the next start",
                self.url
            )
        } else {
            format!(
                "no identity provider login of {} was kept; {who} the login form on the next start",
                self.url
            )
        }
    }
}

/// The sessions that share `url`, and so its IdP login: the ones a forget logs out.
pub fn sharing<'c>(catalog: &'c Catalog, url: &SamlUrl) -> Vec<&'c Session> {
    catalog
        .sessions()
        .iter()
        .filter(|s| matches!(&s.kind, SessionKind::IamRoleFederated { saml_url, .. } if saml_url == url))
        .collect()
}

/// Forgets the IdP login of a federated `session` (and so of every session with its URL).
pub fn forget_login(
    catalog: &Catalog,
    session: &Session,
    idp_dir: &Path,
) -> Result<Forgotten, ForgetError> {
    let SessionKind::IamRoleFederated { saml_url, .. } = &session.kind else {
        return Err(ForgetError::NotFederated {
            alias: session.alias.to_string(),
        });
    };
    let existed = forget(idp_dir, saml_url).map_err(|source| ForgetError::Io {
        dir: cookie_dir(idp_dir, saml_url),
        source,
    })?;
    let mut sessions = vec![session.alias.to_string()];
    sessions.extend(
        sharing(catalog, saml_url)
            .into_iter()
            .filter(|s| s.id != session.id)
            .map(|s| s.alias.to_string()),
    );
    Ok(Forgotten {
        url: saml_url.clone(),
        sessions,
        existed,
    })
}

impl ForgetError {
    /// The session named is the mistake (exit code 2), not the file system.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, ForgetError::NotFederated { .. })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ForgetError {
    #[error(
        "session {alias:?} is not federated: only federated sessions log in to an identity provider"
    )]
    NotFederated { alias: String },
    #[error("cannot delete the identity provider's cookies in {}", .dir.display())]
    Io {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Whether `url` is an AWS SAML sign-in (ACS) endpoint: `https`, port 443 if any, the host
/// `signin.aws.amazon.com`, `signin.amazonaws-us-gov.com` or `signin.amazonaws.cn` or a
/// regional one under them (`us-east-2.signin.aws.amazon.com`), the path `/saml` or under it.
pub fn is_aws_acs(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let aws = ["aws.amazon.com", "amazonaws-us-gov.com", "amazonaws.cn"]
        .iter()
        .any(|domain| {
            let signin = format!("signin.{domain}");
            host == signin || host.ends_with(&format!(".{signin}"))
        });
    url.scheme() == "https"
        && url.port().is_none_or(|p| p == 443)
        && aws
        && (url.path() == "/saml" || url.path().starts_with("/saml/"))
}

/// Whether the login window may load `url`, in its view, a frame, or a window a page opens:
/// `https` anywhere; `http` only on this machine (127.0.0.0/8, `[::1]`, `localhost`), where a
/// test or a local IdP lives and nothing crosses the network; `about:blank` and
/// `about:srcdoc`, the empty and inline documents a page makes for its frames (they load
/// nothing). Everything else is refused: `file:` would hand a page the person's files,
/// `data:` and `blob:` a document of the page's own making under no origin we can check, plain
/// `http:` to another host a cookie or a form anyone on the path can read or rewrite.
pub fn may_load(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        },
        "about" => matches!(url.path(), "blank" | "srcdoc"),
        _ => false,
    }
}

/// How much of one page-supplied text a log line carries (a page may send megabytes).
const LOGGED_CHARS: usize = 300;

/// Page-supplied text (a URL, a message's field, an error about a page) made safe for one log
/// line: control characters (newlines, carriage returns, escape sequences), Unicode line breaks
/// and bidirectional overrides written as escapes, so a page can never begin a line of its own,
/// such as a forged `credtray-login: ` reason, nor drive or reorder the terminal; cut at
/// `LOGGED_CHARS` characters.
pub fn loggable(text: &str) -> String {
    crate::redact::escaped(text, Some(LOGGED_CHARS))
}

/// One login to run in the child.
pub struct Login<'a> {
    /// `credtray-login`.
    pub window: &'a Path,
    /// The login as the engine asks for it, passed whole to the window (which reads nothing
    /// itself): the session's alias and URL (a dry run of an edit may differ from the stored
    /// session), the timeout and the cookie directory.
    pub login: &'a SamlLogin<'a>,
    /// A rotation: never show a window; give up when the identity provider wants the person.
    pub hidden_only: bool,
}

impl Login<'_> {
    /// Runs the login child and waits for it, killing it when `cancelled` turns true.
    pub fn run(&self, cancelled: &dyn Fn() -> bool) -> Result<SecretString, NoAssertion> {
        let session = self.login.session;
        let SessionKind::IamRoleFederated { saml_url, .. } = &session.kind else {
            return Err(NoAssertion::NotGiven);
        };
        let cookies = self.login.cookies.as_deref().ok_or_else(|| {
            NoAssertion::Failed(
                "cannot find the data directory, where the identity provider's cookies go"
                    .to_owned(),
            )
        })?;
        let mut command = Command::new(self.window);
        command
            .arg(FLAG)
            .arg(session.id.to_string())
            .arg("--alias")
            .arg(session.alias.as_str())
            .arg("--url")
            .arg(saml_url.as_str())
            .arg("--timeout")
            .arg(self.login.timeout.as_secs().to_string())
            .arg("--cookies")
            .arg(cookies);
        if self.hidden_only {
            command.arg("--hidden-only");
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| {
            NoAssertion::Failed(format!(
                "cannot start the login window ({}): {e}",
                self.window.display()
            ))
        })?;
        tracing::info!(session = %session.id, hidden_only = self.hidden_only, "SAML login started");
        let output = reader(child.stdout.take());
        let errors = reader(child.stderr.take());
        let status = wait(&mut child, cancelled)?;
        // The child is gone; its pipes end with it (WebKit's helpers may hold standard error a
        // moment longer, so that is not waited for long).
        let assertion = output.recv_timeout(PIPE_GRACE).unwrap_or_default();
        let errors = errors.recv_timeout(PIPE_GRACE).unwrap_or_default();
        for line in errors.lines() {
            tracing::debug!(target: "credtray::saml_login::child", "{line}");
        }
        outcome(status, &assertion, &errors)
    }
}

/// What a login child's end means, from its exit status and what it wrote on standard output
/// (`out`) and standard error.
fn outcome(
    status: std::process::ExitStatus,
    out: &str,
    errors: &str,
) -> Result<SecretString, NoAssertion> {
    // Standard error's last line of the child's own, else the exit status: for any end but
    // a reason given on standard output.
    let otherwise = || {
        errors
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("credtray-login: "))
            .map_or_else(
                || format!("the login window ended with {status}"),
                |said| crate::redact::escaped(said, None),
            )
    };
    match status.code().and_then(Exit::of) {
        Some(Exit::Captured) => {
            let assertion = out.trim();
            if assertion.is_empty() {
                Err(NoAssertion::Failed(
                    "the login window ended without an assertion".to_owned(),
                ))
            } else {
                Ok(SecretString::from(assertion.to_owned()))
            }
        }
        Some(Exit::Cancelled) => Err(NoAssertion::Cancelled),
        Some(Exit::TimedOut) => Err(NoAssertion::TimedOut),
        Some(Exit::NeedsUser) => Err(NoAssertion::NeedsUser),
        // The child's own word first (standard output is its alone), and only when marked as
        // a reason; its first line only. Escaped again: a reason is shown to the person as is.
        Some(Exit::Failed) => Err(NoAssertion::Failed(
            out.strip_prefix(REASON)
                .and_then(|said| said.lines().next())
                .map(str::trim)
                .filter(|said| !said.is_empty())
                .map_or_else(otherwise, |said| crate::redact::escaped(said, None)),
        )),
        // Killed by a signal, or a code that is none of ours (a panic): standard output may
        // hold the assertion, whole or in part, and is not read.
        None => Err(NoAssertion::Failed(otherwise())),
    }
}

/// How long a pipe may stay open after the child ended.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// Reads a pipe to its end on a thread of its own; the text arrives on the channel.
fn reader(pipe: Option<impl Read + Send + 'static>) -> Receiver<Zeroizing<String>> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = Zeroizing::new(String::new());
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        let _ = send.send(text);
    });
    receive
}

/// Waits for the child, killing it (a cancelled login) when `cancelled` says so.
fn wait(
    child: &mut Child,
    cancelled: &dyn Fn() -> bool,
) -> Result<std::process::ExitStatus, NoAssertion> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if cancelled() => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(NoAssertion::Cancelled);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => {
                return Err(NoAssertion::Failed(format!(
                    "cannot wait for the login window: {e}"
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SAMLResponse as the child writes it (its tests need a Unix exit status).
    #[cfg(unix)]
    const ASSERTION: &str = "PHNhbWxwOlJlc3BvbnNlIHhtbG5zOnNhbWxwPSJ1cm46b2FzaXM6bmFtZXM6dGM6U0FNTDoyLjA6cHJvdG9jb2wiPjwvc2FtbHA6UmVzcG9uc2U+";

    #[cfg(unix)]
    fn exited(code: i32) -> std::process::ExitStatus {
        std::os::unix::process::ExitStatusExt::from_raw(code << 8)
    }

    #[cfg(unix)]
    fn killed(signal: i32) -> std::process::ExitStatus {
        std::os::unix::process::ExitStatusExt::from_raw(signal)
    }

    /// The reason of a failed login, with no piece of [`ASSERTION`] in it.
    #[cfg(unix)]
    #[track_caller]
    fn failed_without_the_assertion(ended: Result<SecretString, NoAssertion>) -> String {
        let Err(NoAssertion::Failed(reason)) = ended else {
            panic!("not a failure: {ended:?}");
        };
        let leaked: Vec<_> = ASSERTION
            .as_bytes()
            .windows(12)
            .filter_map(|piece| std::str::from_utf8(piece).ok())
            .filter(|piece| reason.contains(piece))
            .collect();
        assert!(
            leaked.is_empty(),
            "the reason holds the assertion: {reason}"
        );
        reason
    }

    #[test]
    #[cfg(unix)]
    fn the_assertion_never_becomes_a_reason() {
        let half = &ASSERTION[..ASSERTION.len() / 2];
        let half_then_reason = format!("{half}{REASON}cannot hand the assertion over: gone\n");
        let said = "credtray-login: cannot hand the assertion over: Broken pipe (os error 32)\n";
        for (what, status, out, errors) in [
            // WebKit crashing on its way out, after the assertion went out.
            ("written, then killed", killed(6), ASSERTION, ""),
            (
                "written, then killed",
                killed(11),
                &*format!("{ASSERTION}\n"),
                "",
            ),
            ("written, then a panic", exited(101), ASSERTION, ""),
            (
                "written, then an exit code of no meaning",
                exited(3),
                ASSERTION,
                "",
            ),
            ("written, then failed", exited(1), ASSERTION, ""),
            ("half written, then failed", exited(1), half, said),
            (
                "half written, then a reason",
                exited(1),
                &*half_then_reason,
                said,
            ),
            ("half written, then killed", killed(9), half, ""),
        ] {
            let reason = failed_without_the_assertion(outcome(status, out, errors));
            assert!(!reason.is_empty(), "{what}");
            if !errors.is_empty() {
                assert!(
                    reason.contains("cannot hand the assertion over"),
                    "{what}: {reason}"
                );
            }
        }
        let reason = failed_without_the_assertion(outcome(killed(6), ASSERTION, ""));
        assert!(reason.contains("signal"), "{reason}");
    }

    #[test]
    #[cfg(unix)]
    fn a_failed_child_is_heard_only_through_its_marked_reason() {
        let reason = |out: &str, errors: &str| match outcome(exited(1), out, errors) {
            Err(NoAssertion::Failed(reason)) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            reason(&format!("{REASON}the page has no field\n"), ""),
            "the page has no field"
        );
        // One line, escaped: the rest is no reason of the child's.
        assert_eq!(
            reason(&format!("{REASON}a\u{1b}[2Kb\nsecond line\n"), ""),
            r"a\u{1b}[2Kb"
        );
        // Unmarked: not a reason; standard error's line is, else the exit.
        assert_eq!(
            reason(
                "the page has no field\n",
                "noise\ncredtray-login: it broke\nmore noise\n"
            ),
            "it broke"
        );
        assert_eq!(
            reason("the page has no field", ""),
            "the login window ended with exit status: 1"
        );
        assert_eq!(
            outcome(exited(0), &format!("{ASSERTION}\n"), "")
                .map(|s| secrecy::ExposeSecret::expose_secret(&s).to_owned()),
            Ok(ASSERTION.to_owned())
        );
        assert!(matches!(
            outcome(exited(10), "", ""),
            Err(NoAssertion::Cancelled)
        ));
    }

    /// The parent on a real child that writes the assertion and then dies of a signal (what
    /// WebKit does when it crashes on its way out).
    #[test]
    #[cfg(unix)]
    fn a_child_killed_after_writing_the_assertion_fails_without_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let window = dir.path().join("credtray-login");
        std::fs::write(
            &window,
            format!("#!/bin/sh\nprintf '%s' '{ASSERTION}'\nkill -ABRT $$\n"),
        )
        .unwrap();
        std::fs::set_permissions(&window, std::fs::Permissions::from_mode(0o755)).unwrap();
        let session = Session {
            id: crate::session::SessionId::new(),
            alias: "s".parse().unwrap(),
            profile: "s".parse().unwrap(),
            region: crate::session::Region::parse("us-east-1", &[]).unwrap(),
            publish: crate::session::Publish::File,
            kind: SessionKind::IamRoleFederated {
                role_arn: "arn:aws:iam::123456789012:role/r".parse().unwrap(),
                saml_url: "https://idp.example.com".parse().unwrap(),
                idp_arn: "arn:aws:iam::123456789012:saml-provider/p".parse().unwrap(),
            },
            state: crate::session::State::Inactive,
            expiration: None,
            issued: None,
            pinned: false,
            last_used: None,
        };
        let asked = SamlLogin {
            session: &session,
            timeout: std::time::Duration::from_secs(300),
            cookies: Some(dir.path().join("cookies")),
        };
        let login = Login {
            window: &window,
            login: &asked,
            hidden_only: false,
        };
        // Another test's thread may fork while the script's write descriptor is open, and the
        // script's exec then fails with ETXTBSY until that child has exec'd: try again then.
        let mut tries = 0;
        let ended = loop {
            let ended = login.run(&|| false);
            let busy =
                matches!(&ended, Err(NoAssertion::Failed(r)) if r.contains("Text file busy"));
            tries += 1;
            if !busy || tries == 20 {
                break ended;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        let reason = failed_without_the_assertion(ended);
        assert!(reason.contains("signal"), "{reason}");
    }

    #[test]
    fn aws_sign_in_endpoints_are_recognised() {
        for url in [
            "https://signin.aws.amazon.com/saml",
            "https://signin.aws.amazon.com:443/saml",
            "https://us-east-2.signin.aws.amazon.com/saml",
            "https://signin.aws.amazon.com/saml/acs/SAMLSP4SHN3UIS2D558H46",
            "https://signin.amazonaws-us-gov.com/saml",
            "https://signin.amazonaws.cn/saml?x=1",
            "https://SIGNIN.AWS.AMAZON.COM/saml",
        ] {
            assert!(is_aws_acs(url), "{url}");
        }
        for url in [
            "http://signin.aws.amazon.com/saml",
            "https://signin.aws.amazon.com:8443/saml",
            "https://signin.aws.amazon.com/samlx",
            "https://signin.aws.amazon.com/",
            "https://evilsignin.aws.amazon.com/saml",
            "https://signin.aws.amazon.com.evil.example/saml",
            "https://idp.example.com/saml",
            "not a url",
        ] {
            assert!(!is_aws_acs(url), "{url}");
        }
    }

    #[test]
    fn the_window_loads_https_and_plain_http_only_on_this_machine() {
        for url in [
            "https://idp.example.com/login",
            "https://signin.aws.amazon.com/saml",
            "http://127.0.0.1:8080/start",
            "http://127.9.9.9/",
            "http://[::1]:9/x",
            "http://LOCALHOST:3000/",
            "about:blank",
            "about:srcdoc",
        ] {
            assert!(may_load(url), "{url}");
        }
        for url in [
            "http://idp.example.com/login",
            "http://192.0.2.1:9/",
            "http://0.0.0.0:8080/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost.example.com/",
            "file:///etc/passwd",
            "data:text/html,<p>x</p>",
            "blob:https://idp.example.com/0d7f",
            "javascript:alert(1)",
            "about:config",
            "ftp://idp.example.com/",
            "not a url",
        ] {
            assert!(!may_load(url), "{url}");
        }
    }

    #[test]
    fn page_text_never_begins_a_line_of_its_own() {
        let forged =
            "form.submit\ncredtray-login: your keys were revoked\r\u{1b}[2K\u{2028}x\u{202e}y";
        let shown = loggable(forged);
        assert!(
            !shown.contains(['\n', '\r', '\u{1b}', '\u{2028}', '\u{202e}']),
            "{shown}"
        );
        assert_eq!(
            shown,
            r"form.submit\ncredtray-login: your keys were revoked\r\u{1b}[2K\u{2028}x\u{202e}y"
        );
        assert_eq!(loggable("idp.example.com/ä"), "idp.example.com/ä");
        let long = loggable(&"a".repeat(10_000));
        assert_eq!(long.chars().count(), LOGGED_CHARS + 1);
    }

    #[test]
    fn one_cookie_directory_per_url() {
        let idp = Path::new("/data/credtray/idp");
        let a: SamlUrl = "https://idp.example.com/a".parse().unwrap();
        let b: SamlUrl = "https://idp.example.com/b".parse().unwrap();
        assert_eq!(cookie_dir(idp, &a), cookie_dir(idp, &a.clone()));
        assert_ne!(cookie_dir(idp, &a), cookie_dir(idp, &b));
        let name = cookie_dir(idp, &a);
        assert_eq!(name.parent(), Some(idp));
        assert_eq!(name.file_name().unwrap().len(), 64);
    }

    #[test]
    fn forgetting_removes_only_that_urls_directory() {
        let dir = tempfile::tempdir().unwrap();
        let a: SamlUrl = "https://idp.example.com/a".parse().unwrap();
        let b: SamlUrl = "https://idp.example.com/b".parse().unwrap();
        std::fs::create_dir_all(cookie_dir(dir.path(), &a).join("storage")).unwrap();
        std::fs::create_dir_all(cookie_dir(dir.path(), &b)).unwrap();
        assert!(forget(dir.path(), &a).unwrap());
        assert!(!cookie_dir(dir.path(), &a).exists());
        assert!(cookie_dir(dir.path(), &b).exists());
        assert!(!forget(dir.path(), &a).unwrap());
    }
}
