//! The client side: one blocking request over the agent's socket (no async runtime). Before a
//! byte is sent the socket is held to the agent's own rules (`socket::untrusted_place`,
//! `socket::check_peer`): on Unix its directory is the user's own, mode 0700, not a symlink,
//! and the process listening on it runs as this user (`SO_PEERCRED`); on Windows the pipe's
//! server process runs as this user (its token's SID). Without `XDG_RUNTIME_DIR` the socket is under `/tmp`, where
//! another user can create the directory first and answer with credentials of their own
//! account; such a socket is [`Error::Untrusted`], never mistaken for "no agent", and nothing
//! it could say is used. Text from the agent reaches terminals and toasts, so its control
//! characters, line separators and bidi controls are written out (`\u{1b}`, `\u{2028}`,
//! `\u{202e}`: [`crate::redact::escaped`]) instead of passed on.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

use super::protocol::{Answer, Ask, ErrorKind, MAX_MESSAGE, PROTOCOL, Reply, Request, Secrets};
use super::socket;
use crate::redact::escaped;

/// How long a reply may take: the agent may be waiting on an MFA source (its 60 s, see
/// `mfa::TIMEOUT`, and a 31-s wait for the next code) and then on the tray's MFA dialog,
/// which it bounds itself (120 s, see `agent::MFA_WAIT`); this only guards against an agent
/// that hangs. A client that gave up sooner would do the work itself beside the agent: the
/// source asked twice.
pub const REPLY_WAIT: Duration = Duration::from_secs(240);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    // The cause is in the message, not a source: a chain printed whole would say it twice.
    #[error("the credtray agent at {path} did not answer: {cause}")]
    Io { path: String, cause: io::Error },
    #[error("the credtray agent sent a reply this credtray can't read: {0}")]
    Garbled(String),
    #[error("the credtray agent speaks protocol version {0}, this credtray {PROTOCOL}")]
    Version(u32),
    /// The socket may be another user's: nothing was sent to it, nothing it said is used.
    #[error("refusing the agent's socket {}: {why}; nothing was sent to it", .path.display())]
    Untrusted { path: PathBuf, why: String },
}

/// Sends `ask` to the agent at `path`; `Ok(None)` when no agent is listening there, and
/// [`Error::Untrusted`] (before anything is sent) when what listens there may not be the
/// user's own agent.
pub fn request(path: &Path, ask: Ask) -> Result<Option<Reply>, Error> {
    let io = |cause| Error::Io {
        path: path.display().to_string(),
        cause,
    };
    let untrusted = |why: String| Error::Untrusted {
        path: path.to_owned(),
        why,
    };
    // The place first: where only this user can make the socket (a private directory on Unix),
    // no one else can have put it there (the peer check below then also covers a socket
    // swapped in meanwhile).
    match socket::untrusted_place(path) {
        Ok(None) => {}
        Ok(Some(why)) => return Err(untrusted(why)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    }
    let mut stream = match socket::connect(path) {
        Ok(stream) => stream,
        // No socket, or one left by an agent that is gone.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(io(e)),
    };
    if let Err(why) = socket::check_peer(&stream).map_err(io)? {
        return Err(untrusted(format!("the process listening on it {why}")));
    }
    socket::set_timeouts(&stream, REPLY_WAIT, Duration::from_secs(5)).map_err(io)?;
    let limit = ask.reply_limit();
    // The request may hold a secret (a value to keep, a passphrase): written into a buffer
    // sized up front (so it does not reallocate and leave copies, for any request the agent
    // accepts), wiped once sent.
    let mut text = Zeroizing::new(Vec::with_capacity(MAX_MESSAGE + 1));
    serde_json::to_writer(&mut *text, &Request::new(ask))
        .map_err(|e| Error::Garbled(e.to_string()))?;
    stream.write_all(&text).map_err(io)?;
    socket::end_request(&stream).map_err(io)?;
    // Sized up front, so the buffer holding the credentials never reallocates and leaves a copy
    // behind; wiped when dropped. (Only a list of accounts, no secret, may outgrow it.)
    let mut buffer = Zeroizing::new(Vec::with_capacity(limit.min(MAX_MESSAGE) + 1));
    (&mut stream)
        .take(limit as u64 + 1)
        .read_to_end(&mut buffer)
        .map_err(io)?;
    if buffer.len() > limit {
        return Err(Error::Garbled("the reply is too long".into()));
    }
    // serde's messages quote the input ("unknown variant `…`").
    let mut reply: Reply = serde_json::from_slice(&buffer)
        .map_err(|e| Error::Garbled(escaped(&e.to_string(), None)))?;
    if reply.version != PROTOCOL {
        return Err(Error::Version(reply.version));
    }
    if let Answer::Error { message, .. } = &mut reply.body {
        *message = escaped(message, None);
    }
    Ok(Some(reply))
}

/// Who holds the agent's socket at `path`: its pid and whether it is a tray; `None` when no
/// agent answers there (or its answer can't be used).
pub fn who_holds(path: &Path) -> Option<(u32, bool)> {
    match request(path, Ask::Hello) {
        Ok(Some(Reply {
            body: Answer::Hello { pid, tray },
            ..
        })) => Some((pid, tray)),
        _ => None,
    }
}

/// What asking the agent for a session's credentials came to.
pub enum Asked {
    Credentials(Secrets),
    /// The agent's refusal: its kind, and its message (what acts on the display written out).
    Refused(ErrorKind, String),
    /// No agent answers usefully (none runs, it speaks another protocol, asking failed): the
    /// caller does the work itself.
    NoAgent,
    /// The socket may not be the user's own agent's ([`Error::Untrusted`]): nothing was sent
    /// and nothing is used. The caller does the work itself, as with no agent, but says why
    /// (the user's own agent can't run there either: it refuses that directory too).
    Untrusted(Error),
}

/// The credentials of `session` (its id or alias) from the agent at the usual socket.
pub fn credentials(session: &str) -> Asked {
    credentials_at(&socket::path(), session)
}

/// The credentials of `session` from the agent at `path`.
pub fn credentials_at(path: &Path, session: &str) -> Asked {
    let ask = Ask::Credentials {
        session: session.to_owned(),
    };
    let reply = match request(path, ask) {
        Ok(Some(reply)) => reply,
        Ok(None) => return Asked::NoAgent,
        Err(e @ Error::Untrusted { .. }) => return Asked::Untrusted(e),
        Err(e) => {
            tracing::warn!(error = %e, "asking the agent failed; doing the work here");
            return Asked::NoAgent;
        }
    };
    match reply.body {
        Answer::Credentials(secrets) => Asked::Credentials(secrets),
        Answer::Error {
            kind: ErrorKind::Protocol,
            message,
        } => {
            tracing::warn!(%message, "the agent speaks another protocol; doing the work here");
            Asked::NoAgent
        }
        Answer::Error {
            kind: ErrorKind::Locked,
            message,
        } => {
            tracing::info!(%message, "the agent's file keychain is locked; doing the work here");
            Asked::NoAgent
        }
        Answer::Error { kind, message } => Asked::Refused(kind, message),
        _ => Asked::NoAgent,
    }
}

/// The file store the agent holds open, used over its socket: a command run while the agent
/// holds it needs no passphrase of its own.
pub struct AgentKeychain {
    path: PathBuf,
}

impl AgentKeychain {
    /// The agent's open file store, when the agent at the usual socket holds this process's
    /// file store ([`crate::secrets::chosen::file_path`]) open now.
    pub fn if_open() -> Option<Self> {
        Self::if_open_at(&socket::path())
    }

    pub fn if_open_at(path: &Path) -> Option<Self> {
        let mine = crate::secrets::chosen::file_path().display().to_string();
        match request(path, Ask::KeychainStatus) {
            Ok(Some(Reply {
                body:
                    Answer::Keychain {
                        open: true,
                        path: Some(file),
                        ..
                    },
                ..
            })) if file == mine => Some(Self {
                path: path.to_owned(),
            }),
            Ok(_) => None,
            Err(e) => {
                tracing::info!(error = %e, "the agent's file keychain can't be used; opening it here");
                None
            }
        }
    }

    fn ask(&self, ask: Ask) -> Result<Answer, crate::secrets::Error> {
        let failed =
            |why: String| crate::secrets::Error::Store(format!("the agent's file keychain: {why}"));
        match request(&self.path, ask) {
            Ok(Some(reply)) => match reply.body {
                Answer::Error { message, .. } => Err(failed(message)),
                body => Ok(body),
            },
            Ok(None) => Err(failed(
                "the agent stopped; run the command again".to_owned(),
            )),
            Err(e) => Err(failed(e.to_string())),
        }
    }
}

fn unexpected() -> crate::secrets::Error {
    crate::secrets::Error::Store("the agent's file keychain answered something else".to_owned())
}

impl crate::secrets::SecretStore for AgentKeychain {
    fn get(
        &self,
        key: crate::secrets::Key,
    ) -> Result<Option<secrecy::SecretString>, crate::secrets::Error> {
        match self.ask(Ask::SecretGet {
            account: key.to_string(),
        })? {
            Answer::Secret { value } => {
                Ok(value.map(|v| secrecy::SecretString::from(v.0.as_str())))
            }
            _ => Err(unexpected()),
        }
    }

    fn set(
        &self,
        key: crate::secrets::Key,
        value: &secrecy::SecretString,
    ) -> Result<(), crate::secrets::Error> {
        let value = super::protocol::Sealed::new(secrecy::ExposeSecret::expose_secret(value));
        match self.ask(Ask::SecretSet {
            account: key.to_string(),
            value,
        })? {
            Answer::Done => Ok(()),
            _ => Err(unexpected()),
        }
    }

    fn delete(&self, key: crate::secrets::Key) -> Result<bool, crate::secrets::Error> {
        match self.ask(Ask::SecretDelete {
            account: key.to_string(),
        })? {
            Answer::Deleted { existed } => Ok(existed),
            _ => Err(unexpected()),
        }
    }

    fn accounts(&self) -> Result<Option<Vec<String>>, crate::secrets::Error> {
        match self.ask(Ask::SecretList)? {
            Answer::Accounts { accounts } => Ok(Some(accounts)),
            _ => Err(unexpected()),
        }
    }
}

/// Finds the agent's open file store for [`crate::secrets::chosen::FileKeychain`].
pub struct AgentHolder;

impl crate::secrets::chosen::Holder for AgentHolder {
    fn open_store(&self) -> Option<std::sync::Arc<dyn crate::secrets::SecretStore>> {
        AgentKeychain::if_open().map(|k| std::sync::Arc::new(k) as _)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt;
    #[cfg(unix)]
    use std::os::unix::net::UnixListener;

    use super::*;

    const FAKE_KEY_ID: &str = "ASIAFAKEAGENTANSWER1";
    const CREDENTIALS_REPLY: &str = r#"{"version":1,"reply":"credentials","access_key_id":"ASIAFAKEAGENTANSWER1","secret_access_key":"fake-secret","session_token":"fake-token","expiration":"2099-01-01T00:00:00Z"}"#;

    /// A directory `credtray` of `mode` under a fresh temp dir, and its `agent.sock` path.
    #[cfg(unix)]
    fn socket_dir(mode: u32) -> (tempfile::TempDir, PathBuf) {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("credtray");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        (base, dir.join("agent.sock"))
    }

    /// A fake agent on `path` answering every request with `reply`, for up to 30 s.
    #[cfg(unix)]
    fn fake_agent(path: &Path, reply: &'static str) -> UnixListener {
        let listener = UnixListener::bind(path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let answering = listener.try_clone().unwrap();
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while std::time::Instant::now() < deadline {
                match answering.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                        let _ = stream.read_to_end(&mut Vec::new());
                        let _ = stream.write_all(reply.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        listener
    }

    /// A fake agent on the pipe `path` answering every request with `reply`.
    #[cfg(windows)]
    fn fake_agent(path: &Path, reply: &'static str) {
        let bound = socket::bind(path, || None).unwrap();
        std::thread::spawn(move || {
            while let Ok(mut stream) = bound.accept() {
                let _ =
                    socket::set_timeouts(&stream, Duration::from_secs(5), Duration::from_secs(5));
                let _ = stream.read_to_end(&mut Vec::new());
                let _ = stream.write_all(reply.as_bytes());
            }
        });
    }

    /// Where a fake agent of this user's may listen: a private directory's socket.
    #[cfg(unix)]
    fn private_place() -> (tempfile::TempDir, PathBuf) {
        socket_dir(0o700)
    }

    /// Where a fake agent of this user's may listen: a pipe of its own.
    #[cfg(windows)]
    fn private_place() -> ((), PathBuf) {
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!(r"\\.\pipe\credtray-client-test-{}-{n}", std::process::id());
        ((), PathBuf::from(name))
    }

    #[test]
    fn this_users_agent_is_asked_and_its_credentials_used() {
        let (_base, path) = private_place();
        let _agent = fake_agent(&path, CREDENTIALS_REPLY);
        assert!(matches!(
            credentials_at(&path, "dev"),
            Asked::Credentials(s) if s.access_key_id.as_str() == FAKE_KEY_ID
        ));
    }

    #[test]
    #[cfg(unix)]
    fn a_listener_in_a_directory_others_can_enter_is_refused_and_its_credentials_unused() {
        let (_base, path) = socket_dir(0o755);
        let _agent = fake_agent(&path, CREDENTIALS_REPLY);
        let err = match request(
            &path,
            Ask::Credentials {
                session: "dev".into(),
            },
        ) {
            Err(e) => e,
            Ok(_) => panic!("an agent in a 0755 directory was trusted"),
        };
        let text = err.to_string();
        assert!(matches!(err, Error::Untrusted { .. }), "{text}");
        assert!(
            text.contains(&path.display().to_string()) && text.contains("mode 0755"),
            "{text}"
        );
        assert!(!text.contains(FAKE_KEY_ID), "{text}");
        match credentials_at(&path, "dev") {
            Asked::Untrusted(e) => assert_eq!(e.to_string(), text),
            _ => panic!("credentials from an untrusted socket"),
        }
    }

    #[test]
    #[cfg(unix)]
    fn a_symlink_to_a_private_directory_is_refused_and_a_missing_one_is_no_agent() {
        let (base, path) = socket_dir(0o700);
        let _agent = fake_agent(&path, CREDENTIALS_REPLY);
        let link = base.path().join("link");
        std::os::unix::fs::symlink(path.parent().unwrap(), &link).unwrap();
        let err = request(&link.join("agent.sock"), Ask::Hello).err();
        assert!(
            matches!(&err, Some(Error::Untrusted { why, .. }) if why.contains("symbolic link")),
            "{err:?}"
        );
        // The real directory, private and this user's: trusted, and its answer used.
        assert!(matches!(
            credentials_at(&path, "dev"),
            Asked::Credentials(s) if s.access_key_id.as_str() == FAKE_KEY_ID
        ));
        assert!(matches!(
            request(&base.path().join("none/agent.sock"), Ask::Hello),
            Ok(None)
        ));
    }

    /// Tests run as root (scripts/test); `nobody` then owns the listener: the socket is bound
    /// as root in the private directory, then the listener drops to uid 65534 before
    /// `listen()`, which is when the kernel records the credentials `SO_PEERCRED` reports.
    #[test]
    #[cfg(unix)]
    fn a_listener_of_another_user_in_a_private_directory_is_refused() {
        assert_eq!(socket::my_uid(), 0, "this test runs as root (scripts/test)");
        let (_base, path) = socket_dir(0o700);
        let script = format!(
            "import os, socket, sys\n\
             s = socket.socket(socket.AF_UNIX)\n\
             s.bind(sys.argv[1])\n\
             os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)\n\
             s.listen()\n\
             print('ready', flush=True)\n\
             c, _ = s.accept()\n\
             while c.recv(65536): pass\n\
             c.sendall({CREDENTIALS_REPLY:?}.encode())\n\
             c.close()\n"
        );
        let mut child = std::process::Command::new("/usr/bin/python3")
            .args(["-c", &script])
            .arg(&path)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut ready,
        )
        .unwrap();
        assert_eq!(ready.trim(), "ready");
        let asked = credentials_at(&path, "dev");
        let _ = child.kill();
        let _ = child.wait();
        match asked {
            Asked::Untrusted(e) => {
                let text = e.to_string();
                assert!(
                    text.contains("runs as user 65534")
                        && text.contains(&path.display().to_string()),
                    "{text}"
                );
            }
            Asked::Credentials(_) => panic!("credentials from another user's agent were used"),
            _ => panic!("another user's agent was not refused"),
        }
    }

    #[test]
    fn the_agents_messages_reach_the_terminal_without_control_characters() {
        let (_base, path) = private_place();
        let _agent = fake_agent(
            &path,
            r#"{"version":1,"reply":"error","kind":"aws","message":"denied\u001b]0;owned\u0007\u001b[2J\r\ncredtray: fake line\u2028credtray: another\u202egnirts\u2066x\u2069"}"#,
        );
        match credentials_at(&path, "dev") {
            Asked::Refused(ErrorKind::Aws, message) => {
                // Unicode's line separator and bidi controls too: a toast or a terminal that
                // honours them would show a line of the agent's own, or reordered text.
                assert_eq!(
                    message,
                    r"denied\u{1b}]0;owned\u{7}\u{1b}[2J\r\ncredtray: fake line\u{2028}credtray: another\u{202e}gnirts\u{2066}x\u{2069}"
                );
            }
            _ => panic!("the refusal was not passed on"),
        }
    }
}
