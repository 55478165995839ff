//! The `pass` store (issue 27): the keychain's items in the standard Unix password store, one
//! GPG-encrypted entry per item at `credtray/<account>` (the same `<uuid>-<item>` account names
//! as the OS keychain's), for machines without a Secret Service. Everything goes through the
//! `pass` command, the interface its users script, so GPG and gpg-agent do any asking and the
//! store stays theirs to read with `pass show credtray/<account>`.
//!
//! A value goes to `pass insert --multiline --force` on its standard input (never on a command
//! line or in the environment) and comes back from `pass show` byte for byte, no newline added
//! or taken away. Whether an entry exists is read from its `.gpg` file, so a missing item
//! costs no GPG call; the store's directory is the one pass itself uses (`PASSWORD_STORE_DIR`,
//! else `~/.password-store`), and the child is always told it. A missing `pass` and a store
//! that was never `pass init`-ed are [`Error::Store`] with a sentence saying what to do;
//! pass or GPG failing on an entry is [`Error::Store`] naming the entry, with the first meaningful line it
//! wrote, escaped.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::{Error, Key, SERVICE, SecretStore};

/// The program; found on the child's `PATH`.
const PROGRAM: &str = "pass";
/// What pass says of an entry it does not have (`show` and `rm`).
const NOT_IN_STORE: &str = "is not in the password store";
/// The longest cause quoted from pass's error output, in characters.
const CAUSE_MAX: usize = 300;

/// The password store, reached through the `pass` command.
#[derive(Debug, Clone)]
pub struct Pass {
    dir: PathBuf,
    /// The child's environment beyond this process's (tests: `GNUPGHOME`, `PATH`).
    env: Vec<(OsString, OsString)>,
}

impl Pass {
    /// The store pass itself would use: `PASSWORD_STORE_DIR`, else `~/.password-store`.
    pub fn from_env() -> Self {
        Self {
            dir: store_dir(
                std::env::var_os("PASSWORD_STORE_DIR"),
                std::env::var_os("HOME"),
            ),
            env: Vec::new(),
        }
    }

    /// The store at `dir`, its `pass` run with `env` on top of this process's environment
    /// (tests give `GNUPGHOME` and `PATH` this way instead of changing their own).
    pub fn at<K, V>(dir: impl Into<PathBuf>, env: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
        Self {
            dir: dir.into(),
            env: env.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
        }
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A variable as the child sees it.
    fn var(&self, name: &str) -> Option<OsString> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var_os(name))
    }

    /// The `pass` program the child's `PATH` finds, when the store is initialised; otherwise
    /// the sentence saying what is missing.
    fn ready(&self) -> Result<PathBuf, Error> {
        let program = self.program().ok_or_else(not_installed)?;
        if !self.initialised() {
            return Err(Error::Store(format!(
                "the password store at {} is not initialised: run `pass init <your GPG key id>`",
                self.dir.display()
            )));
        }
        Ok(program)
    }

    fn program(&self) -> Option<PathBuf> {
        // execvp's default search path when PATH is unset.
        let path = self
            .var("PATH")
            .unwrap_or_else(|| OsString::from("/bin:/usr/bin"));
        std::env::split_paths(&path)
            .map(|dir| dir.join(PROGRAM))
            .find(|candidate| candidate.is_file())
    }

    /// Whether pass knows whom to encrypt our entries for: a `.gpg-id` in `credtray/` or at
    /// the store's root (pass looks from the entry's folder up), or `PASSWORD_STORE_KEY`.
    fn initialised(&self) -> bool {
        self.var("PASSWORD_STORE_KEY")
            .is_some_and(|keys| !keys.to_string_lossy().trim().is_empty())
            || self.folder().join(".gpg-id").is_file()
            || self.dir.join(".gpg-id").is_file()
    }

    /// Where credtray's entries are.
    fn folder(&self) -> PathBuf {
        self.dir.join(SERVICE)
    }

    /// The file pass keeps `account` in.
    fn file(&self, account: &str) -> PathBuf {
        self.folder().join(format!("{account}.gpg"))
    }

    /// Runs `pass args…` with `input` on its standard input (or this process's, so that GPG
    /// can find the terminal to ask on when `GPG_TTY` is not set).
    fn run(
        &self,
        program: &Path,
        args: &[&str],
        input: Option<&[u8]>,
        account: &str,
    ) -> Result<Ran, Error> {
        let mut command = Command::new(program);
        command
            .args(args)
            .env("PASSWORD_STORE_DIR", &self.dir)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => not_installed(),
            _ => failure(account, format!("cannot run {}: {e}", program.display())),
        })?;
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let read = std::thread::scope(|scope| {
            // Read its error output beside the rest, so that neither pipe can fill and stall it.
            let errors = scope.spawn(move || {
                let mut text = Vec::new();
                if let Some(mut stderr) = stderr {
                    stderr.read_to_end(&mut text)?;
                }
                Ok::<_, std::io::Error>(String::from_utf8_lossy(&text).into_owned())
            });
            if let (Some(mut stdin), Some(input)) = (stdin, input) {
                // A pass that stopped before reading (its error says why) closed the pipe.
                match stdin.write_all(input) {
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e),
                    _ => {}
                }
            }
            let stdout = match stdout {
                Some(stdout) => read_secret(stdout)?,
                None => Zeroizing::new(Vec::new()),
            };
            let stderr = errors
                .join()
                .unwrap_or_else(|_| Ok("reading its error output failed".to_owned()))?;
            Ok((stdout, stderr))
        });
        let status = child.wait();
        let (stdout, stderr) =
            read.map_err(|e| failure(account, format!("cannot talk to {PROGRAM}: {e}")))?;
        let status =
            status.map_err(|e| failure(account, format!("cannot wait for {PROGRAM}: {e}")))?;
        Ok(Ran {
            status,
            stdout,
            stderr,
        })
    }
}

/// What a finished `pass` gave back.
struct Ran {
    status: ExitStatus,
    /// Its standard output: `show`'s is the secret.
    stdout: Zeroizing<Vec<u8>>,
    stderr: String,
}

impl Ran {
    fn missing(&self) -> bool {
        self.stderr.contains(NOT_IN_STORE)
    }

    fn failure(&self, account: &str) -> Error {
        failure(account, cause(&self.stderr, self.status))
    }
}

/// pass's own choice: `PASSWORD_STORE_DIR` unless unset or empty, else `$HOME/.password-store`.
fn store_dir(configured: Option<OsString>, home: Option<OsString>) -> PathBuf {
    match configured {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        // `$HOME/.password-store` as a shell spells it, `/.password-store` for an empty HOME.
        _ => {
            let mut dir = home.unwrap_or_default();
            dir.push("/.password-store");
            PathBuf::from(dir)
        }
    }
}

/// All of `reader`, in buffers that are wiped: the old one when it grows, the last when dropped.
fn read_secret(mut reader: impl Read) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut all = Zeroizing::new(Vec::with_capacity(4096));
    let mut chunk = Zeroizing::new([0_u8; 4096]);
    loop {
        let n = match reader.read(&mut chunk[..]) {
            Ok(0) => return Ok(all),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        super::extend_wiped(&mut all, &chunk[..n]);
    }
}

/// The line of pass's error output that says what went wrong: the first one that is not
/// GPG's account of what it is decrypting (`encrypted with …` and the key's quoted user id)
/// nor a warning, else the first line at all; escaped, as anything a child says.
fn cause(stderr: &str, status: ExitStatus) -> String {
    let lines = || stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    let informative = |line: &&str| {
        !(line.starts_with("gpg: encrypted with")
            || line.starts_with('"')
            || line.starts_with("gpg: WARNING"))
    };
    match lines().find(informative).or_else(|| lines().next()) {
        Some(line) => crate::redact::escaped(line, Some(CAUSE_MAX)),
        None => format!("{PROGRAM} failed ({status}) and said nothing"),
    }
}

fn not_installed() -> Error {
    Error::Store(format!(
        "the `{PROGRAM}` command is not installed: install it (for example `apt install pass`)"
    ))
}

fn failure(account: &str, cause: String) -> Error {
    Error::Store(format!(
        "{PROGRAM} failed on entry {}: {cause}",
        entry(account)
    ))
}

fn entry(account: &str) -> String {
    format!("{SERVICE}/{account}")
}

impl SecretStore for Pass {
    fn get(&self, key: Key) -> Result<Option<SecretString>, Error> {
        let account = key.to_string();
        let program = self.ready()?;
        if !self.file(&account).is_file() {
            return Ok(None);
        }
        let ran = self.run(&program, &["show", &entry(&account)], None, &account)?;
        if !ran.status.success() {
            // Removed since we looked.
            return if ran.missing() {
                Ok(None)
            } else {
                Err(ran.failure(&account))
            };
        }
        let text = std::str::from_utf8(&ran.stdout).map_err(|_| {
            failure(
                &account,
                format!("{} does not hold UTF-8 text", entry(&account)),
            )
        })?;
        // `to_owned` allocates exactly the length, so the secret is not moved again (a
        // `String` with spare room would be reallocated by `into_boxed_str`, its old buffer
        // freed unwiped); `ran.stdout` is wiped when dropped.
        Ok(Some(SecretString::from(text.to_owned())))
    }

    fn set(&self, key: Key, value: &SecretString) -> Result<(), Error> {
        let account = key.to_string();
        let program = self.ready()?;
        let ran = self.run(
            &program,
            &["insert", "--multiline", "--force", &entry(&account)],
            Some(value.expose_secret().as_bytes()),
            &account,
        )?;
        if ran.status.success() {
            Ok(())
        } else {
            Err(ran.failure(&account))
        }
    }

    fn delete(&self, key: Key) -> Result<bool, Error> {
        let account = key.to_string();
        let program = self.ready()?;
        if !self.file(&account).is_file() {
            return Ok(false);
        }
        let ran = self.run(
            &program,
            &["rm", "--force", &entry(&account)],
            None,
            &account,
        )?;
        match (ran.status.success(), ran.missing()) {
            (true, _) => Ok(true),
            (false, true) => Ok(false),
            (false, false) => Err(ran.failure(&account)),
        }
    }

    fn accounts(&self) -> Result<Option<Vec<String>>, Error> {
        self.ready()?;
        let folder = self.folder();
        let listing = match std::fs::read_dir(&folder) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(Vec::new())),
            Err(e) => return Err(cannot_list(&folder, &e)),
        };
        let mut accounts = Vec::new();
        for found in listing {
            let found = found.map_err(|e| cannot_list(&folder, &e))?;
            let name = found.file_name();
            let account = name
                .to_str()
                .and_then(|n| n.strip_suffix(".gpg"))
                .filter(|a| !a.is_empty());
            if let Some(account) = account
                && found.file_type().is_ok_and(|t| t.is_file())
            {
                accounts.push(account.to_owned());
            }
        }
        accounts.sort();
        Ok(Some(accounts))
    }
}

fn cannot_list(folder: &Path, e: &std::io::Error) -> Error {
    failure(
        &format!("{SERVICE}/"),
        format!("cannot list {}: {e}", folder.display()),
    )
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    use std::os::unix::process::ExitStatusExt;

    use super::*;
    use crate::secrets::Item;

    fn key(item: Item) -> Key {
        Key::new(
            "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10".parse().unwrap(),
            item,
        )
    }

    /// A directory with a short path: gpg-agent's sockets may live in GNUPGHOME, and a
    /// socket's path can't be longer than about 107 bytes.
    fn short_tempdir() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("ctp")
            .tempdir_in("/tmp")
            .unwrap()
    }

    /// A throw-away GPG home holding a key without a passphrase, and a password store
    /// `pass init`-ed for it. Dropping it stops the gpg-agent its commands started, even when
    /// the test failed.
    struct Gpg {
        home: PathBuf,
        store: PathBuf,
        dir: tempfile::TempDir,
    }

    impl Gpg {
        fn new() -> Self {
            let dir = short_tempdir();
            let home = dir.path().join("g");
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&home)
                .unwrap();
            let gpg = Self {
                home,
                store: dir.path().join("s"),
                dir,
            };
            // ed25519/cv25519 (`future-default`): made at once, where RSA takes seconds.
            gpg.ok(
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
            let listing = gpg.ok("gpg", &["--with-colons", "--list-secret-keys"]);
            let fingerprint = listing
                .lines()
                .find_map(|l| l.strip_prefix("fpr:"))
                .and_then(|l| l.split(':').nth(8))
                .unwrap_or_else(|| panic!("no fingerprint in {listing}"))
                .to_owned();
            gpg.ok("pass", &["init", &fingerprint]);
            gpg
        }

        /// Runs `program args…` in this home and store; its standard output.
        fn ok(&self, program: &str, args: &[&str]) -> String {
            let out = Command::new(program)
                .args(args)
                .env("GNUPGHOME", &self.home)
                .env("PASSWORD_STORE_DIR", &self.store)
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("{program}: {e} (scripts/test installs pass and gpg)"));
            assert!(
                out.status.success(),
                "{program} {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        }

        fn pass(&self) -> Pass {
            Pass::at(&self.store, [("GNUPGHOME", &self.home)])
        }
    }

    impl Drop for Gpg {
        fn drop(&mut self) {
            let _ = Command::new("gpgconf")
                .arg("--homedir")
                .arg(&self.home)
                .args(["--kill", "all"])
                .status();
        }
    }

    /// Writes an executable `bin/pass` under `dir` with `script`'s text; `bin`'s path.
    fn fake_pass(dir: &Path, script: &str) -> PathBuf {
        let bin = dir.join("bin");
        std::fs::create_dir(&bin).unwrap();
        let program = bin.join("pass");
        std::fs::write(&program, script).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        bin
    }

    fn secret(value: &str) -> SecretString {
        value.to_owned().into()
    }

    fn unavailable(result: Result<impl std::fmt::Debug, Error>) -> String {
        match result {
            Err(Error::Store(sentence)) => sentence,
            other => panic!("not the store's sentence: {other:?}"),
        }
    }

    #[test]
    fn values_come_back_byte_for_byte() {
        let gpg = Gpg::new();
        let store = gpg.pass();
        let long = "0123456789abcdef".repeat(16 * 1024);
        for value in [
            r#"{"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"wJalr/K7MDENG+bPxRfi"}"#,
            "two\nlines",
            "ends with a newline\n",
            "\n\nnewlines around\n\n",
            "  spaces around  ",
            "\ttabs\t",
            "пароль 🔑 ünïcödé",
            "--force",
            "",
            &long,
        ] {
            store.set(key(Item::SessionToken), &secret(value)).unwrap();
            let back = store.get(key(Item::SessionToken)).unwrap().unwrap();
            assert!(back.expose_secret() == value, "{:?}", value.get(..40));
        }
        // The entry is pass's own, read as a user would.
        let json = r#"{"a":"b"}"#;
        store.set(key(Item::AccessKey), &secret(json)).unwrap();
        let account = key(Item::AccessKey).to_string();
        assert!(gpg.store.join(format!("credtray/{account}.gpg")).is_file());
        assert_eq!(
            gpg.ok("pass", &["show", &format!("credtray/{account}")]),
            json
        );
    }

    #[test]
    fn an_entry_is_replaced_then_deleted_once() {
        let gpg = Gpg::new();
        let store = gpg.pass();
        assert!(store.get(key(Item::AccessKey)).unwrap().is_none());
        store.set(key(Item::AccessKey), &secret("first")).unwrap();
        store.set(key(Item::AccessKey), &secret("second")).unwrap();
        let got = store.get(key(Item::AccessKey)).unwrap().unwrap();
        assert_eq!(got.expose_secret(), "second");
        assert!(store.delete(key(Item::AccessKey)).unwrap());
        assert!(!store.delete(key(Item::AccessKey)).unwrap());
        assert!(store.get(key(Item::AccessKey)).unwrap().is_none());
        assert_eq!(store.accounts().unwrap(), Some(vec![]));
    }

    #[test]
    fn accounts_are_the_entries_under_credtray_sorted() {
        let gpg = Gpg::new();
        let store = gpg.pass();
        assert_eq!(store.accounts().unwrap(), Some(vec![]));
        for k in [
            Key::proxy_password(),
            key(Item::SessionToken),
            key(Item::AccessKey),
        ] {
            store.set(k, &secret("v")).unwrap();
        }
        // What is not an entry of ours: another folder's entry, a stray file, a folder.
        gpg.ok("pass", &["generate", "elsewhere/x", "8"]);
        std::fs::write(gpg.store.join("credtray/notes.txt"), "").unwrap();
        std::fs::create_dir(gpg.store.join("credtray/folder.gpg")).unwrap();
        assert_eq!(
            store.accounts().unwrap().unwrap(),
            [
                "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10-iam-user-access-key",
                "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10-iam-user-session-token",
                "settings-proxy-password",
            ]
        );
    }

    #[test]
    fn without_pass_every_call_says_to_install_it() {
        let dir = short_tempdir();
        let empty = dir.path().join("bin");
        std::fs::create_dir(&empty).unwrap();
        std::fs::write(dir.path().join(".gpg-id"), "0123456789ABCDEF\n").unwrap();
        let store = Pass::at(dir.path(), [("PATH", &empty)]);
        let causes = [
            unavailable(store.get(key(Item::AccessKey))),
            unavailable(store.set(key(Item::AccessKey), &secret("never-shown-4471"))),
            unavailable(store.delete(key(Item::AccessKey))),
            unavailable(store.accounts()),
        ];
        for cause in causes {
            assert_eq!(
                cause,
                "the `pass` command is not installed: install it (for example `apt install pass`)"
            );
        }
    }

    #[test]
    fn an_uninitialised_store_says_to_run_pass_init() {
        let dir = short_tempdir();
        for at in [dir.path().to_owned(), dir.path().join("never-made")] {
            let store = Pass::at(&at, [("PASSWORD_STORE_KEY", "")]);
            let expected = format!(
                "the password store at {} is not initialised: run `pass init <your GPG key id>`",
                at.display()
            );
            assert_eq!(unavailable(store.get(key(Item::AccessKey))), expected);
            assert_eq!(
                unavailable(store.set(key(Item::AccessKey), &secret("v"))),
                expected
            );
            assert_eq!(unavailable(store.delete(key(Item::AccessKey))), expected);
            assert_eq!(unavailable(store.accounts()), expected);
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "pass never ran"
        );
    }

    #[test]
    fn no_value_is_ever_on_pass_command_line_or_in_its_environment() {
        let gpg = Gpg::new();
        let real = Pass::from_env().program().expect("pass on PATH");
        let log = gpg.dir.path().join("argv.log");
        let bin = fake_pass(
            gpg.dir.path(),
            &format!(
                "#!/bin/sh\n{{ printf 'argv:'; printf ' %s' \"$@\"; printf '\\n'; env; }} >>'{}'\nexec '{}' \"$@\"\n",
                log.display(),
                real.display()
            ),
        );
        let mut path = OsString::from(&bin);
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        let store = Pass::at(
            &gpg.store,
            [("GNUPGHOME", gpg.home.as_os_str()), ("PATH", &path)],
        );
        let value = "canary-8f3a1c\nsecond line of canary-8f3a1c\n";
        store.set(key(Item::AccessKey), &secret(value)).unwrap();
        let got = store.get(key(Item::AccessKey)).unwrap().unwrap();
        assert_eq!(got.expose_secret(), value);
        assert!(store.delete(key(Item::AccessKey)).unwrap());
        let logged = std::fs::read_to_string(&log).unwrap();
        let account = key(Item::AccessKey).to_string();
        let argvs: Vec<&str> = logged.lines().filter(|l| l.starts_with("argv:")).collect();
        assert_eq!(
            argvs,
            [
                format!("argv: insert --multiline --force credtray/{account}"),
                format!("argv: show credtray/{account}"),
                format!("argv: rm --force credtray/{account}"),
            ]
        );
        assert!(logged.contains("GNUPGHOME="), "the environment was logged");
        assert!(
            !logged.contains("canary"),
            "a value reached pass's argv or env"
        );
    }

    #[test]
    fn a_damaged_entry_is_its_failure_with_gpg_s_words() {
        let gpg = Gpg::new();
        let store = gpg.pass();
        store.set(key(Item::SessionToken), &secret("v")).unwrap();
        let account = key(Item::SessionToken).to_string();
        std::fs::write(
            gpg.store.join(format!("credtray/{account}.gpg")),
            "not gpg\n",
        )
        .unwrap();
        match store.get(key(Item::SessionToken)) {
            Err(Error::Store(sentence)) => assert_eq!(
                sentence,
                format!(
                    "pass failed on entry credtray/{account}: gpg: no valid OpenPGP data found."
                )
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_entry_gone_before_pass_ran_is_missing_and_other_failures_are_quoted() {
        let account = key(Item::SessionToken).to_string();
        let store_with = |script: &str| {
            let dir = short_tempdir();
            std::fs::write(dir.path().join(".gpg-id"), "0123456789ABCDEF\n").unwrap();
            std::fs::create_dir(dir.path().join("credtray")).unwrap();
            std::fs::write(dir.path().join(format!("credtray/{account}.gpg")), "").unwrap();
            let bin = fake_pass(dir.path(), script);
            (Pass::at(dir.path(), [("PATH", bin)]), dir)
        };
        // Removed by someone else between our look at its file and pass's.
        let (gone, _dir) = store_with(
            "#!/bin/sh\necho \"Error: credtray/x is not in the password store.\" >&2\nexit 1\n",
        );
        assert!(gone.get(key(Item::SessionToken)).unwrap().is_none());
        assert!(!gone.delete(key(Item::SessionToken)).unwrap());
        let (failing, _dir) =
            store_with("#!/bin/sh\nprintf 'gpg: \\033]0;owned\\007 card removed\\n' >&2\nexit 2\n");
        for result in [
            failing.get(key(Item::SessionToken)).map(drop),
            failing.set(key(Item::SessionToken), &secret("v")),
            failing.delete(key(Item::SessionToken)).map(drop),
        ] {
            match result {
                Err(Error::Store(sentence)) => assert_eq!(
                    sentence,
                    format!(
                        r"pass failed on entry credtray/{account}: gpg: \u{{1b}}]0;owned\u{{7}} card removed"
                    )
                ),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn the_cause_is_the_first_line_that_says_what_failed_escaped() {
        let failed = ExitStatus::from_raw(2 << 8);
        assert_eq!(
            cause(
                "gpg: encrypted with 255-bit ECDH key, ID 0123456789ABCDEF, created 2026-12-07\n      \"credtray test <t@example.invalid>\"\ngpg: decryption failed: No secret key\n",
                failed
            ),
            "gpg: decryption failed: No secret key"
        );
        assert_eq!(
            cause(
                "gpg: WARNING: unsafe permissions on homedir '/h'\n\n  Error: no \u{1b}[2J way  \n",
                failed
            ),
            r"Error: no \u{1b}[2J way"
        );
        assert_eq!(
            cause("gpg: WARNING: only this\n", failed),
            "gpg: WARNING: only this"
        );
        assert_eq!(
            cause(" \n", failed),
            "pass failed (exit status: 2) and said nothing"
        );
    }

    #[test]
    fn the_store_is_where_pass_puts_it() {
        let dir = |configured: Option<&str>, home: Option<&str>| {
            store_dir(configured.map(Into::into), home.map(Into::into))
        };
        assert_eq!(dir(Some("/s"), Some("/h")), Path::new("/s"));
        assert_eq!(dir(Some(""), Some("/h")), Path::new("/h/.password-store"));
        assert_eq!(dir(None, Some("/h")), Path::new("/h/.password-store"));
        assert_eq!(dir(None, None), Path::new("/.password-store"));
    }
}
