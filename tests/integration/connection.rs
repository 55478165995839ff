//! One keychain connection per process: a `credtray` command opens one Secret Service session
//! (`OpenSession`) however many entries it reads and writes, a process whose Secret Service
//! restarts under it reconnects once and carries on, and the entries are the very ones
//! keyring 3.6 (credtray before it kept a connection) reads and writes.
//!
//! The counting tests run their own D-Bus bus and gnome-keyring, watched with `dbus-monitor`,
//! so what they count is their own process's traffic and a restart disturbs no other test.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use credtray::secrets::{Item, Key, Keychain, SERVICE, SecretStore};
use credtray::session::SessionId;
use secrecy::{ExposeSecret, SecretString};

use crate::harness::{Env, Run, finish, fixtures, fresh_keys, moto, require_secret_service};

/// A D-Bus session bus and an unlocked gnome-keyring of this test's own, in a temp dir.
pub(crate) struct PrivateKeyring {
    dir: tempfile::TempDir,
    address: String,
    bus: Child,
    keyring: Option<Child>,
}

impl PrivateKeyring {
    pub(crate) fn start() -> Self {
        require_secret_service();
        let dir = tempfile::Builder::new()
            .prefix("credtray-bus-")
            .tempdir()
            .unwrap();
        for sub in ["home", "run"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        // gnome-keyring wants its runtime directory private.
        std::fs::set_permissions(
            dir.path().join("run"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!(
                "--address=unix:path={}",
                dir.path().join("bus").display()
            ))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon runs (package dbus-daemon)");
        let mut address = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        let mut this = Self {
            dir,
            address: address.trim().to_owned(),
            bus,
            keyring: None,
        };
        assert!(!this.address.is_empty(), "dbus-daemon printed no address");
        this.start_keyring();
        this
    }

    /// Starts gnome-keyring on this bus (its login keyring kept in this test's HOME, so a
    /// restart finds the same entries) and waits until it owns the Secret Service's name.
    fn start_keyring(&mut self) {
        let home = self.dir.path().join("home");
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon runs");
        // The password on stdin, then end of input: it reads until EOF.
        keyring
            .stdin
            .take()
            .unwrap()
            .write_all(b"credtray-test\n")
            .unwrap();
        self.keyring = Some(keyring);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = Command::new("dbus-send")
                .arg(format!("--bus={}", self.address))
                .args([
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .output()
                .expect("dbus-send runs");
            if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "gnome-keyring-daemon did not take the Secret Service's name"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops gnome-keyring and starts it again, as a daemon that crashed and came back.
    fn restart_keyring(&mut self) {
        if let Some(mut keyring) = self.keyring.take() {
            keyring.kill().unwrap();
            keyring.wait().unwrap();
        }
        self.start_keyring();
    }

    /// Starts gnome-keyring again if it died (a client killed while opening its session can
    /// abort it); whether it had to.
    pub(crate) fn revive(&mut self) -> bool {
        let died = self
            .keyring
            .as_mut()
            .is_none_or(|k| k.try_wait().ok().flatten().is_some());
        if died {
            // Reaped already: nothing to kill.
            self.keyring = None;
            self.start_keyring();
        }
        died
    }

    /// `credtray args` on this bus, not yet run.
    pub(crate) fn command(&self, env: &Env, args: &[&str]) -> Command {
        let mut cmd = env.command(args);
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("AWS_ENDPOINT_URL", moto());
        cmd
    }

    /// `credtray args` on this bus.
    /// Adds IAM-user session `alias` with these keys, on this keyring.
    pub(crate) fn add_user(&self, env: &Env, alias: &str, access_key_id: &str, secret: &str) {
        self.credtray(
            env,
            &[
                "session",
                "add",
                "iam-user",
                "--alias",
                alias,
                "--access-key-id",
                "-",
                "--secret-access-key",
                "-",
            ],
            &format!("{access_key_id}\n{secret}\n"),
        )
        .ok();
    }

    pub(crate) fn credtray(&self, env: &Env, args: &[&str], stdin: &str) -> Run {
        finish(self.command(env, args), stdin)
    }

    /// The secret `secret-tool lookup service credtray username <account>` finds on this bus.
    pub(crate) fn lookup(&self, account: &str) -> Option<String> {
        let out = Command::new("secret-tool")
            .args(["lookup", "service", SERVICE, "username", account])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()
            .expect("secret-tool runs (libsecret-tools)");
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).unwrap())
    }

    fn monitor(&self) -> Monitor {
        Monitor::start(&self.address)
    }
}

impl Drop for PrivateKeyring {
    fn drop(&mut self) {
        for child in self.keyring.iter_mut().chain([&mut self.bus]) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `dbus-monitor` on a bus, watching for `OpenSession` calls to the Secret Service.
struct Monitor {
    child: Child,
    lines: Receiver<String>,
    address: String,
    pings: u32,
}

impl Monitor {
    fn start(address: &str) -> Self {
        let mut child = Command::new("dbus-monitor")
            .args([
                "--address",
                address,
                "type='method_call',interface='org.freedesktop.Secret.Service',member='OpenSession'",
                // The marks `sync` sends, to know the monitor has printed everything before.
                "type='method_call',interface='org.freedesktop.DBus.Peer',member='Ping'",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor runs (package dbus-bin)");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut monitor = Self {
            child,
            lines,
            address: address.to_owned(),
            pings: 0,
        };
        // Watching once it sees a mark of ours.
        let deadline = Instant::now() + Duration::from_secs(30);
        while monitor.mark(Duration::from_millis(200)).is_none() {
            assert!(Instant::now() < deadline, "dbus-monitor never started");
        }
        monitor
    }

    /// Sends a mark through the bus and returns what the monitor printed before it, or `None`
    /// if the mark did not come back within `wait`.
    fn mark(&mut self, wait: Duration) -> Option<Vec<String>> {
        self.pings += 1;
        let path = format!("/credtray/mark/{}", self.pings);
        // The bus answers Ping on any path; only the call matters here.
        let _ = Command::new("dbus-send")
            .arg(format!("--bus={}", self.address))
            .args(["--print-reply", "--dest=org.freedesktop.DBus", &path])
            .arg("org.freedesktop.DBus.Peer.Ping")
            .output()
            .expect("dbus-send runs");
        let deadline = Instant::now() + wait;
        let mut before = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(&format!("path={path};")) => return Some(before),
                Ok(line) => before.push(line),
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => panic!("dbus-monitor ended"),
            }
        }
    }

    /// The `OpenSession` calls made since the last count.
    fn open_sessions(&mut self) -> usize {
        self.mark(Duration::from_secs(30))
            .expect("the monitor saw the mark")
            .iter()
            .filter(|l| l.starts_with("method call") && l.contains("member=OpenSession"))
            .count()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_command_opens_one_secret_service_session_however_many_entries_it_touches() {
    let bus = PrivateKeyring::start();
    let mut monitor = bus.monitor();
    let env = Env::new();
    let f = fixtures();
    let mut counts = Vec::new();

    // Counts are taken right after each command: only it touched the bus in between.
    // Two writes (each a search, then a create).
    add_dev(&bus, &env, &f);
    counts.push(("session add", monitor.open_sessions()));
    let id = bus
        .credtray(&env, &["session", "show", "dev", "--json"], "")
        .ok()
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    counts.push(("session show", monitor.open_sessions()));

    // No cached token yet: reads the token (a miss), both keys, then caches the new token.
    let token = format!("{id}-iam-user-session-token");
    assert_eq!(bus.lookup(&token), None);
    // secret-tool opens a session of its own: counts start after it.
    monitor.open_sessions();
    bus.credtray(&env, &["credential-process", "--session", "dev"], "")
        .ok();
    counts.push(("credential-process", monitor.open_sessions()));
    assert!(bus.lookup(&token).is_some(), "the token was cached");
    monitor.open_sessions();

    // Replaces both keys (reading the old ones, to put back on failure) and drops the token.
    let (access_key_id, secret) = fresh_keys();
    bus.credtray(
        &env,
        &[
            "session",
            "edit",
            "dev",
            "--access-key-id",
            "-",
            "--secret-access-key",
            "-",
        ],
        &format!("{access_key_id}\n{secret}\n"),
    )
    .ok();
    counts.push(("session edit", monitor.open_sessions()));
    assert_eq!(
        bus.lookup(&format!("{id}-iam-user-access-key"))
            .map(|json| crate::harness::parse_key_pair(&json)),
        Some((access_key_id, secret))
    );
    assert_eq!(bus.lookup(&token), None);

    assert_eq!(
        counts,
        [
            ("session add", 1),
            ("session show", 0),
            ("credential-process", 1),
            ("session edit", 1),
        ]
    );
}

/// `examples/keychain.rs` (`cargo test` builds the examples), serving commands on stdin.
struct Served {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Served {
    fn start(bus: &PrivateKeyring) -> Self {
        let mut child = Command::new(example("keychain"))
            .arg("serve")
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the keychain example runs");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            stdin,
            stdout,
        }
    }

    fn ask(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").unwrap();
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).unwrap();
        answer.trim().to_owned()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An example program beside this test binary (`target/<profile>/deps/…` →
/// `target/<profile>/examples/<name>`).
fn example(name: &str) -> PathBuf {
    let me = std::env::current_exe().unwrap();
    let path = me
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing: `cargo test` builds it",
        path.display()
    );
    path
}

#[test]
fn a_restarted_secret_service_is_reconnected_once_and_no_call_fails() {
    let mut bus = PrivateKeyring::start();
    let mut monitor = bus.monitor();
    let mut served = Served::start(&bus);
    let id = SessionId::new().to_string();
    let account = format!("{id}-iam-user-access-key-id");

    assert_eq!(served.ask(&format!("set {id} first")), "ok");
    assert_eq!(served.ask(&format!("check {id} first")), "match");
    assert_eq!(served.ask(&format!("check {id} other")), "mismatch");
    assert_eq!(monitor.open_sessions(), 1, "one session for three calls");

    // The new daemon knows nothing of the old one's session: the next call reconnects.
    bus.restart_keyring();
    assert_eq!(served.ask(&format!("check {id} first")), "match");
    assert_eq!(served.ask(&format!("set {id} second")), "ok");
    assert_eq!(served.ask(&format!("check {id} second")), "match");
    assert_eq!(served.ask(&format!("delete {id}")), "deleted");
    assert_eq!(served.ask(&format!("delete {id}")), "none");
    assert_eq!(
        monitor.open_sessions(),
        1,
        "one new session after the restart, kept for the calls after it"
    );
    assert_eq!(bus.lookup(&account), None);
}

/// The label and attributes `secret-tool` lists for `account`'s one item, `account` written
/// as `<account>`.
fn listing(account: &str) -> Vec<String> {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", SERVICE, "username", account])
        .output()
        .expect("secret-tool runs (libsecret-tools)");
    assert!(out.status.success(), "{out:?}");
    // The label is on stdout with the secret; the attributes on stderr.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("label = ") || l.starts_with("attribute."))
        .map(|l| l.replace(account, "<account>"))
        .collect();
    lines.sort();
    lines
}

fn secret(text: &str) -> SecretString {
    SecretString::from(text.to_owned())
}

fn read(keychain: &Keychain, key: Key) -> Option<String> {
    keychain
        .get(key)
        .unwrap()
        .map(|s| s.expose_secret().to_owned())
}

#[test]
fn entries_keyring_3_6_wrote_are_read_replaced_and_deleted_in_place() {
    require_secret_service();
    let session = SessionId::new();
    let current = Key::new(session, Item::AccessKeyId);
    let legacy = Key::new(session, Item::SecretAccessKey);
    let missing = Key::new(session, Item::SessionToken);
    // As credtray wrote it before: keyring 3.6 itself.
    keyring::Entry::new(SERVICE, &current.to_string())
        .unwrap()
        .set_password("written-by-keyring")
        .unwrap();
    // As keyring v1 and other tools wrote them: no `target`; keyring 3.6 still reads these.
    let stored = Command::new("sh")
        .args([
            "-c",
            "printf %s written-by-v1 | secret-tool store --label=legacy service credtray username \"$1\"",
            "sh",
            &legacy.to_string(),
        ])
        .status()
        .unwrap();
    assert!(stored.success());

    let keychain = Keychain::new();
    assert_eq!(
        read(&keychain, current).as_deref(),
        Some("written-by-keyring")
    );
    assert_eq!(read(&keychain, legacy).as_deref(), Some("written-by-v1"));
    assert_eq!(read(&keychain, missing), None);

    // Replaced in place: keyring 3.6 reads the new value, and finds one item, not two
    // (it would answer Ambiguous).
    keychain.set(current, &secret("replaced")).unwrap();
    assert_eq!(
        keyring::Entry::new(SERVICE, &current.to_string())
            .unwrap()
            .get_password()
            .unwrap(),
        "replaced"
    );
    keychain.set(legacy, &secret("replaced-v1")).unwrap();
    let after = listing(&legacy.to_string());
    assert_eq!(
        after.iter().filter(|l| l.starts_with("label = ")).count(),
        1,
        "one item: {after:?}"
    );
    assert!(
        !after.iter().any(|l| l.starts_with("attribute.target")),
        "{after:?}"
    );
    assert_eq!(
        crate::harness::lookup(&legacy.to_string()).as_deref(),
        Some("replaced-v1")
    );

    assert!(keychain.delete(current).unwrap());
    assert!(keychain.delete(legacy).unwrap());
    assert!(!keychain.delete(current).unwrap());
    assert!(matches!(
        keyring::Entry::new(SERVICE, &current.to_string())
            .unwrap()
            .get_password(),
        Err(keyring::Error::NoEntry)
    ));
    assert_eq!(crate::harness::lookup(&legacy.to_string()), None);
}

#[test]
fn entries_the_keychain_writes_are_the_ones_keyring_3_6_writes() {
    require_secret_service();
    let ours = Key::new(SessionId::new(), Item::TakenOverConfig);
    let theirs = Key::new(SessionId::new(), Item::TakenOverConfig);
    let keychain = Keychain::new();
    keychain.set(ours, &secret("written-by-credtray")).unwrap();
    let entry = keyring::Entry::new(SERVICE, &theirs.to_string()).unwrap();
    entry.set_password("written-by-keyring").unwrap();

    let expected = listing(&theirs.to_string());
    assert!(
        expected.contains(&"attribute.target = default".to_owned()),
        "{expected:?}"
    );
    assert_eq!(listing(&ours.to_string()), expected);
    assert_eq!(
        crate::harness::lookup(&ours.to_string()).as_deref(),
        Some("written-by-credtray")
    );
    assert_eq!(
        keyring::Entry::new(SERVICE, &ours.to_string())
            .unwrap()
            .get_password()
            .unwrap(),
        "written-by-credtray"
    );

    assert!(keychain.delete(ours).unwrap());
    entry.delete_credential().unwrap();
}

/// Adds the IAM-user session `dev` with moto's keys, on `bus`.
fn add_dev(bus: &PrivateKeyring, env: &Env, f: &crate::harness::Fixtures) {
    bus.add_user(env, "dev", &f.access_key_id, &f.secret_access_key);
}

#[test]
fn the_agent_opens_one_secret_service_session_for_fifty_requests() {
    let bus = PrivateKeyring::start();
    let env = Env::new();
    let f = fixtures();
    add_dev(&bus, &env, &f);
    bus.credtray(
        &env,
        &[
            "session",
            "chain",
            "dev",
            "--role-arn",
            &f.role_arn,
            "--alias",
            "ops",
        ],
        "",
    )
    .ok();
    let mut monitor = bus.monitor();
    let mut agent = env.command(&["agent"]);
    agent
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env("AWS_ENDPOINT_URL", moto())
        .stdin(Stdio::null());
    let mut agent = agent.spawn().unwrap();
    let socket = env.runtime_dir().join("credtray/agent.sock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        assert!(
            Instant::now() < deadline,
            "the agent did not start listening"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Cold first (the keys, the token, the role's cache), then from memory.
    for n in 0..50 {
        let session = if n % 2 == 0 { "dev" } else { "ops" };
        let run = bus.credtray(&env, &["credential-process", "--session", session], "");
        assert_eq!(run.code, 0, "{run:?}");
    }
    let opened = monitor.open_sessions();
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(
        opened, 1,
        "one Secret Service session for the agent's lifetime"
    );
}
