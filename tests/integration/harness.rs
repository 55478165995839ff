//! Per-test environments: a temp dir holding HOME and the config dir, a way to run the
//! `credtray` binary in it, and `secret-tool` to look into the real keychain from outside.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub struct Env {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
}

/// What one `credtray` run did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success, got {self:#?}");
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("credtray-it-")
            .tempdir()
            .unwrap();
        let root = dir.path().to_owned();
        std::fs::create_dir_all(root.join("home")).unwrap();
        Self { _dir: dir, root }
    }

    pub fn config_dir(&self) -> PathBuf {
        self.root.join("config")
    }

    pub fn store_path(&self) -> PathBuf {
        self.config_dir().join("config.toml")
    }

    /// The store's bytes, or `None` when it does not exist.
    pub fn store_bytes(&self) -> Option<Vec<u8>> {
        std::fs::read(self.store_path()).ok()
    }

    /// A `credtray` command in this environment, logging everything it would log.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_credtray"));
        cmd.args(args)
            .env("HOME", self.root.join("home"))
            .env("XDG_CONFIG_HOME", self.root.join("home/.config"))
            .env("CREDTRAY_CONFIG_DIR", self.config_dir())
            .env("CREDTRAY_LOG", "trace")
            .env_remove("AWS_SHARED_CREDENTIALS_FILE")
            .env_remove("AWS_CONFIG_FILE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs `credtray args` with `stdin` as its standard input.
    pub fn run(&self, args: &[&str], stdin: &str) -> Run {
        finish(self.command(args), stdin)
    }

    pub fn session(&self, alias: &str) -> Value {
        self.run(&["session", "show", alias, "--json"], "")
            .ok()
            .json()
    }

    pub fn id_of(&self, alias: &str) -> String {
        self.session(alias)["id"].as_str().unwrap().to_owned()
    }

    /// Adds an IAM-user session with the given keys.
    pub fn add_user(&self, alias: &str, access_key_id: &str, secret: &str) -> String {
        self.run(
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
        self.id_of(alias)
    }

    pub fn add_federated(&self, alias: &str) -> String {
        self.run(
            &[
                "session",
                "add",
                "iam-role-federated",
                "--alias",
                alias,
                "--role-arn",
                "arn:aws:iam::123456789012:role/federated",
                "--idp-arn",
                "arn:aws:iam::123456789012:saml-provider/idp",
                "--saml-url",
                "https://idp.example.com/saml",
            ],
            "",
        )
        .ok();
        self.id_of(alias)
    }

    pub fn add_chained(&self, alias: &str, assumer: &str) -> String {
        self.run(
            &[
                "session",
                "add",
                "iam-role-chained",
                "--alias",
                alias,
                "--role-arn",
                "arn:aws:iam::123456789012:role/chained",
                "--assumer",
                assumer,
            ],
            "",
        )
        .ok();
        self.id_of(alias)
    }

    /// Every file below this environment's root, with its bytes.
    pub fn files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }
}

pub fn finish(mut cmd: Command, stdin: &str) -> Run {
    let mut child = cmd.spawn().expect("credtray runs");
    // A command that fails before reading its input closes the pipe: that is not our failure.
    match child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("cannot feed stdin: {e}"),
        _ => {}
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    Run {
        code: status.code().expect("credtray exited, not killed"),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
}

/// One keychain item, as `secret-tool` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub account: String,
    pub secret: String,
}

/// Every item of service `credtray` in the real Secret Service whose account starts with
/// `prefix` (a session id), read from outside with libsecret's `secret-tool`.
pub fn keychain(prefix: &str) -> Vec<Item> {
    require_secret_service();
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", "credtray"])
        .output()
        .expect("secret-tool runs (libsecret-tools)");
    // secret-tool prints each item's attributes on stderr and its secret on stdout.
    let listing = String::from_utf8_lossy(&out.stderr);
    let mut items: Vec<Item> = listing
        .lines()
        .filter_map(|line| line.strip_prefix("attribute.username = "))
        .filter(|account| account.starts_with(prefix))
        .map(|account| Item {
            account: account.to_owned(),
            secret: lookup(account).expect("a listed item can be looked up"),
        })
        .collect();
    items.sort_by(|a, b| a.account.cmp(&b.account));
    items
}

/// The secret of one account of service `credtray`, if there is one.
pub fn lookup(account: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "credtray", "username", account])
        .output()
        .expect("secret-tool runs (libsecret-tools)");
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).unwrap())
}

/// The keychain tests need the Secret Service that `scripts/test` starts.
pub fn require_secret_service() {
    assert!(
        std::env::var_os("CREDTRAY_TEST_SECRET_SERVICE").is_some(),
        "these tests need a real Secret Service on a private D-Bus session bus: run them with scripts/test"
    );
}

/// A fresh, unique, valid-looking access key id and secret access key.
pub fn fresh_keys() -> (String, String) {
    let u = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    (
        format!("AKIA{}", &u[..16]),
        format!("sk/{}+{}", uuid::Uuid::new_v4().simple(), &u[16..]),
    )
}
