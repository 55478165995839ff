//! Per-test environments: a temp dir holding HOME and the config dir, a way to run the
//! `credtray` binary in it, and `secret-tool` to look into the real keychain from outside.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub struct Env {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    /// Variables every command of this environment gets (`Some`) or loses (`None`), after
    /// the ones it always sets: the store of secrets of `stores.rs`'s tests.
    vars: Vec<(String, Option<std::ffi::OsString>)>,
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
        // The agent's socket lives under XDG_RUNTIME_DIR, which must be private (0700).
        std::fs::create_dir_all(root.join("run")).unwrap();
        std::fs::set_permissions(
            root.join("run"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        Self {
            _dir: dir,
            root,
            vars: Vec::new(),
        }
    }

    /// Every command of this environment (credtray's and the tools') gets `name=value`.
    pub fn with_var(mut self, name: &str, value: impl Into<std::ffi::OsString>) -> Self {
        self.vars.push((name.to_owned(), Some(value.into())));
        self
    }

    /// Every command of this environment runs without `name`.
    pub fn without_var(mut self, name: &str) -> Self {
        self.vars.push((name.to_owned(), None));
        self
    }

    fn apply_vars(&self, cmd: &mut Command) {
        for (name, value) in &self.vars {
            match value {
                Some(value) => cmd.env(name, value),
                None => cmd.env_remove(name),
            };
        }
    }

    /// This environment's `XDG_RUNTIME_DIR`: where its agent's socket is.
    pub fn runtime_dir(&self) -> PathBuf {
        self.root.join("run")
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
        self.command_of(env!("CARGO_BIN_EXE_credtray"), args)
    }

    /// `program` (another build of `credtray`, e.g. a package's) run as [`Env::command`] runs
    /// the one under test.
    pub fn command_of(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env("HOME", self.root.join("home"))
            .env("XDG_CONFIG_HOME", self.root.join("home/.config"))
            .env("CREDTRAY_CONFIG_DIR", self.config_dir())
            .env("CREDTRAY_LOG", "trace")
            .env("XDG_RUNTIME_DIR", self.runtime_dir())
            .env("XDG_DATA_HOME", self.data_dir())
            .env_remove("AWS_SHARED_CREDENTIALS_FILE")
            .env_remove("AWS_CONFIG_FILE")
            // Headless unless a test gives it the display (the SAML login window's tests).
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.apply_vars(&mut cmd);
        cmd
    }

    /// This environment's `XDG_DATA_HOME` (where the IdP cookies of SAML logins are kept).
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("home/.local/share")
    }

    /// Runs `credtray args` with STS at `endpoint` (moto, a stub, a closed port).
    pub fn run_against(&self, endpoint: &str, args: &[&str], stdin: &str) -> Run {
        let mut cmd = self.command(args);
        cmd.env("AWS_ENDPOINT_URL", endpoint);
        finish(cmd, stdin)
    }

    /// Runs `credtray args` against moto.
    pub fn run_moto(&self, args: &[&str], stdin: &str) -> Run {
        self.run_against(&moto(), args, stdin)
    }

    /// Runs the real AWS CLI in this environment (its HOME, so its ~/.aws), against moto.
    pub fn aws(&self, args: &[&str]) -> Run {
        let aws = std::env::var("CREDTRAY_TEST_AWS")
            .expect("CREDTRAY_TEST_AWS (the AWS CLI) is set by scripts/test");
        let mut cmd = self.tool(aws);
        cmd.args(args);
        finish(cmd, "")
    }

    /// An AWS tool (the AWS CLI, a boto3 script) in this environment: its HOME (so its
    /// ~/.aws), its store and agent socket (for the credtray it runs as a credential_process),
    /// STS at moto.
    pub fn tool(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("HOME", self.root.join("home"))
            .env("CREDTRAY_CONFIG_DIR", self.config_dir())
            .env("XDG_RUNTIME_DIR", self.runtime_dir())
            .env("XDG_DATA_HOME", self.data_dir())
            .env("AWS_ENDPOINT_URL", moto())
            .env_remove("AWS_SHARED_CREDENTIALS_FILE")
            .env_remove("AWS_CONFIG_FILE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.apply_vars(&mut cmd);
        cmd
    }

    pub fn aws_dir(&self) -> PathBuf {
        self.root.join("home/.aws")
    }

    /// The bytes of ~/.aws/credentials and ~/.aws/config (empty when missing).
    pub fn aws_files(&self) -> (String, String) {
        let read =
            |name: &str| std::fs::read_to_string(self.aws_dir().join(name)).unwrap_or_default();
        (read("credentials"), read("config"))
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
        // Killed by a signal (a failpoint's abort): 128 + the signal, as a shell reports it.
        code: status.code().unwrap_or_else(|| {
            128 + std::os::unix::process::ExitStatusExt::signal(&status)
                .expect("an exit code or a signal")
        }),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.is_file() {
            // Sockets (gpg-agent's, the agent's) hold no bytes to read.
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
    // secret-tool lists every item of the service and then loads their secrets in one call,
    // which fails as a whole when another test deletes one of them in between: try again.
    let mut out = None;
    for _ in 0..20 {
        let run = Command::new("secret-tool")
            .args(["search", "--all", "service", "credtray"])
            .output()
            .expect("secret-tool runs (libsecret-tools)");
        if run.status.success() {
            out = Some(run);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = out.expect("secret-tool search keeps failing");
    // secret-tool prints each item's attributes on stderr and its secret on stdout.
    let listing = String::from_utf8_lossy(&out.stderr);
    let mut items: Vec<Item> = listing
        .lines()
        .filter_map(|line| line.strip_prefix("attribute.username = "))
        .filter(|account| account.starts_with(prefix))
        // Another test running alongside may delete one of its own items in between.
        .filter_map(|account| {
            Some(Item {
                account: account.to_owned(),
                secret: lookup(account)?,
            })
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

/// The access key pair of session `id`, from its one keychain item (`<id>-iam-user-access-key`,
/// JSON with both halves): `(access key id, secret access key)`.
pub fn key_pair(id: &str) -> Option<(String, String)> {
    lookup(&format!("{id}-iam-user-access-key")).map(|json| parse_key_pair(&json))
}

/// `(access key id, secret access key)` of a pair item's JSON.
pub fn parse_key_pair(json: &str) -> (String, String) {
    let pair: Value = serde_json::from_str(json).expect("the pair item is JSON");
    let half = |name: &str| {
        pair[name]
            .as_str()
            .unwrap_or_else(|| panic!("the pair item has no {name}"))
            .to_owned()
    };
    (half("access_key_id"), half("secret_access_key"))
}

/// The keychain tests need the Secret Service that `scripts/test` starts.
pub fn require_secret_service() {
    assert!(
        std::env::var_os("CREDTRAY_TEST_SECRET_SERVICE").is_some(),
        "these tests need a real Secret Service on a private D-Bus session bus: run them with scripts/test"
    );
}

/// The moto endpoint scripts/test started.
pub fn moto() -> String {
    std::env::var("CREDTRAY_TEST_MOTO").expect("CREDTRAY_TEST_MOTO (a moto_server) is set by scripts/test: run the suite with scripts/test")
}

/// IAM fixtures created in moto under a unique prefix.
pub struct Fixtures {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub role_arn: String,
    pub deeper_role_arn: String,
    pub federated_role_arn: String,
    pub idp_arn: String,
}

pub fn fixtures() -> Fixtures {
    let python =
        std::env::var("CREDTRAY_TEST_PYTHON").expect("CREDTRAY_TEST_PYTHON is set by scripts/test");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/moto_fixtures.py"
    );
    let prefix = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let out = Command::new(python)
        .args([script, &moto(), &prefix])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "moto fixtures: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let get = |k: &str| v[k].as_str().unwrap().to_owned();
    Fixtures {
        access_key_id: get("access_key_id"),
        secret_access_key: get("secret_access_key"),
        role_arn: get("role_arn"),
        deeper_role_arn: get("deeper_role_arn"),
        federated_role_arn: get("federated_role_arn"),
        idp_arn: get("idp_arn"),
    }
}

/// A base64 SAML response naming `role_arn,idp_arn`, as moto reads it (unsigned).
pub fn saml_assertion(role_arn: &str, idp_arn: &str) -> String {
    let xml = format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:Assertion><saml:AttributeStatement><saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role"><saml:AttributeValue>{role_arn},{idp_arn}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName"><saml:AttributeValue>jane@example.com</saml:AttributeValue></saml:Attribute><saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/SessionDuration"><saml:AttributeValue>3600</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>"#
    );
    base64(xml.as_bytes())
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A fresh, unique, valid-looking access key id and secret access key.
pub fn fresh_keys() -> (String, String) {
    let u = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    (
        format!("AKIA{}", &u[..16]),
        format!("sk/{}+{}", uuid::Uuid::new_v4().simple(), &u[16..]),
    )
}

/// A test server from tests/support (`script args…`) that prints `PORT <n>` when it listens:
/// the process (kill it when done) and its port.
pub fn support_server(script: &str, args: &[&std::ffi::OsStr]) -> (std::process::Child, u16) {
    use std::io::BufRead;
    let mut child = Command::new("python3")
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/support")
                .join(script),
        )
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 runs {script}: {e}"));
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{script} said {line:?}, not PORT <n>"));
    (child, port)
}
