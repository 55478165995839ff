//! The `pass` store's test infrastructure: a throw-away GPG home with a key that has no
//! passphrase and a password store `pass init`-ed for it, for running `credtray` with
//! `keychain = pass` and looking into its entries from outside with the real `pass`, as a user
//! would:
//! ```ignore
//! let pass = PassHome::new(&scratch);
//! let mut cmd = env.command(&["session", "add", "iam-user", …]);
//! pass.apply(&mut cmd);
//! assert_eq!(pass.entries(), [format!("{id}-iam-user-access-key")]);
//! assert!(pass.show(&format!("{id}-iam-user-access-key")).is_some());
//! ```
//! Dropping it stops the gpg-agent its commands started. Where no `/run/user/<uid>` exists (as
//! here, root in a container) gpg-agent's sockets live in the GPG home itself: give `new` a
//! short directory (a socket's path is at most about 107 bytes), and keep it out of the trees a
//! test reads file by file (a socket can't be read).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The throw-away GPG home and password store.
pub struct PassHome {
    /// `GNUPGHOME`.
    gnupg: PathBuf,
    /// `PASSWORD_STORE_DIR`.
    store: PathBuf,
}

impl PassHome {
    /// Makes `dir/gnupg` (a key without passphrase) and `dir/password-store` (`pass init`-ed
    /// for it).
    pub fn new(dir: &Path) -> Self {
        let gnupg = dir.join("gnupg");
        std::fs::create_dir_all(&gnupg).unwrap();
        std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        let home = Self {
            gnupg,
            store: dir.join("password-store"),
        };
        // ed25519/cv25519 (`future-default`): made at once, where RSA takes seconds.
        home.ok(
            "gpg",
            &[
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
                "--quick-gen-key",
                "credtray test <t@example.invalid>",
                "future-default",
                "default",
                "never",
            ],
        );
        let listing = String::from_utf8(
            home.ok("gpg", &["--with-colons", "--list-secret-keys"])
                .stdout,
        )
        .unwrap();
        let fingerprint = listing
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|l| l.split(':').nth(8))
            .unwrap_or_else(|| panic!("no fingerprint in {listing}"))
            .to_owned();
        home.ok("pass", &["init", &fingerprint]);
        home
    }

    /// The variables that point a command at this GPG home and password store.
    pub fn vars(&self) -> [(String, PathBuf); 2] {
        [
            ("GNUPGHOME".to_owned(), self.gnupg.clone()),
            ("PASSWORD_STORE_DIR".to_owned(), self.store.clone()),
        ]
    }

    /// Points `cmd` (a `credtray`, a `pass`) at this GPG home and password store.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.env("GNUPGHOME", &self.gnupg)
            .env("PASSWORD_STORE_DIR", &self.store);
    }

    /// The accounts of credtray's entries (`credtray/<account>`), sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut accounts: Vec<String> = match std::fs::read_dir(self.store.join("credtray")) {
            Ok(listing) => listing
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter_map(|name| name.strip_suffix(".gpg").map(str::to_owned))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("cannot list the password store: {e}"),
        };
        accounts.sort();
        accounts
    }

    /// `pass show credtray/<account>`: the entry's exact text, `None` when there is none.
    pub fn show(&self, account: &str) -> Option<String> {
        let out = self.pass(&["show", &format!("credtray/{account}")], None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() && stderr.contains("is not in the password store") {
            return None;
        }
        assert!(out.status.success(), "pass show {account}: {stderr}");
        Some(String::from_utf8(out.stdout).unwrap())
    }

    /// `pass insert --multiline --force credtray/<account>` with `value` (an entry made as a
    /// user would, before credtray runs).
    pub fn insert(&self, account: &str, value: &str) {
        let out = self.pass(
            &[
                "insert",
                "--multiline",
                "--force",
                &format!("credtray/{account}"),
            ],
            Some(value),
        );
        assert!(
            out.status.success(),
            "pass insert {account}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pass(&self, args: &[&str], input: Option<&str>) -> Output {
        let mut cmd = Command::new("pass");
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.apply(&mut cmd);
        let mut child = cmd
            .spawn()
            .expect("pass runs (scripts/test installs pass and gpg)");
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(input.unwrap_or_default().as_bytes())
            .unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    }

    /// Runs `program args…` in this home and store, which must succeed.
    fn ok(&self, program: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::null());
        self.apply(&mut cmd);
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e} (scripts/test installs pass and gpg)"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// gpg-agent's socket for this home.
    fn agent_socket(&self) -> PathBuf {
        let out = Command::new("gpgconf")
            .arg("--homedir")
            .arg(&self.gnupg)
            .args(["--list-dirs", "agent-socket"])
            .output()
            .unwrap();
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    }
}

impl Drop for PassHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(&self.gnupg)
            .args(["--kill", "all"])
            .status();
    }
}

#[test]
fn pass_home_entries_are_read_back_as_a_user_would_and_its_agent_stops() {
    let dir = tempfile::Builder::new()
        .prefix("ctp-")
        .tempdir_in("/tmp")
        .unwrap();
    let home = PassHome::new(dir.path());
    assert_eq!(home.entries(), Vec::<String>::new());
    let value = "{\"a\": \"b\"}\n with a trailing newline and  spaces  \n";
    home.insert("settings-proxy-password", value);
    home.insert(
        "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10-iam-user-access-key",
        "k",
    );
    assert_eq!(home.show("settings-proxy-password").as_deref(), Some(value));
    assert_eq!(
        home.entries(),
        [
            "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10-iam-user-access-key",
            "settings-proxy-password",
        ]
    );
    // apply points any command at this store: here pass itself, removing an entry.
    let mut rm = Command::new("pass");
    rm.args(["rm", "--force", "credtray/settings-proxy-password"])
        .stdout(Stdio::null());
    home.apply(&mut rm);
    assert!(rm.status().unwrap().success());
    assert_eq!(home.show("settings-proxy-password"), None);
    assert_eq!(home.entries().len(), 1);

    let socket = home.agent_socket();
    assert!(socket.exists(), "decrypting started {}", socket.display());
    drop(home);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while socket.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        !socket.exists(),
        "gpg-agent still listens at {}",
        socket.display()
    );
}
