//! Which store keeps the secrets, and opening it: `[settings] keychain = os | file | pass`
//! (`credtray settings keychain`), or `CREDTRAY_KEYCHAIN` for one command; `os` (the platform's
//! keychain) when neither says. The `file` store is opened on first use, not before (a command
//! that needs no secret asks for no passphrase): from the agent when it holds the store open
//! (so a headless user types the passphrase once per agent), else here, with the passphrase
//! from `CREDTRAY_PASSPHRASE_COMMAND`'s output or from the process's [`Asker`] (the terminal,
//! the tray's dialog). Nothing falls back to another store by itself.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use secrecy::SecretString;
use zeroize::Zeroizing;

use super::file::{FileStore, OpenError};
use super::{Error, Key, SecretStore};

/// The variable that chooses the store for one command.
pub const ENV: &str = "CREDTRAY_KEYCHAIN";
/// The variable naming a command that prints the file store's passphrase.
pub const PASSPHRASE_COMMAND: &str = "CREDTRAY_PASSPHRASE_COMMAND";
/// scrypt's work factor for writing the file store (tests: fast); age's default otherwise.
const WORK_FACTOR_ENV: &str = "CREDTRAY_KEYCHAIN_WORK_FACTOR";
/// How many times a person may mistype the passphrase in one command.
const ATTEMPTS: u32 = 3;

/// A store of secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The platform's keychain: the Secret Service, the macOS Keychain, Credential Manager.
    Os,
    /// One file encrypted with a passphrase ([`FileStore`]).
    File,
    /// The standard Unix password store (`pass`, GPG).
    Pass,
}

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::Os, Backend::File, Backend::Pass];

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Os => "os",
            Backend::File => "file",
            Backend::Pass => "pass",
        }
    }

    /// What it is, for sentences.
    pub fn describe(self) -> String {
        match self {
            Backend::Os => format!("the OS keychain ({})", os_name()),
            Backend::File => format!("the encrypted file {}", file_path().display()),
            Backend::Pass => "the password store (pass)".to_owned(),
        }
    }
}

fn os_name() -> &'static str {
    if cfg!(target_os = "macos") {
        "the macOS Keychain"
    } else if cfg!(windows) {
        "Windows Credential Manager"
    } else {
        "the Secret Service"
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Backend::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a keychain: give os, file or pass"))
    }
}

/// Who chose the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChosenBy {
    /// `CREDTRAY_KEYCHAIN`.
    Environment,
    /// `[settings] keychain`.
    Settings,
    /// Nobody: the OS keychain.
    Default,
}

impl ChosenBy {
    /// Who chose, as a clause for sentences (`doctor`, `keychain status`, `settings show`).
    pub fn clause(self) -> &'static str {
        match self {
            ChosenBy::Environment => "chosen by CREDTRAY_KEYCHAIN",
            ChosenBy::Settings => "chosen in [settings] keychain",
            ChosenBy::Default => "the default",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChosenBy::Environment => "environment",
            ChosenBy::Settings => "settings",
            ChosenBy::Default => "default",
        }
    }
}

/// The store in use and who chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub backend: Backend,
    pub by: ChosenBy,
}

impl Choice {
    /// `CREDTRAY_KEYCHAIN`, else the store's setting, else the OS keychain. A variable that
    /// names no store is an error (a typo must not send secrets elsewhere).
    pub fn resolve(setting: Option<Backend>) -> Result<Self, String> {
        Self::resolve_from(std::env::var(ENV).ok(), setting)
    }

    /// [`Choice::resolve`] with `CREDTRAY_KEYCHAIN`'s value given.
    fn resolve_from(variable: Option<String>, setting: Option<Backend>) -> Result<Self, String> {
        match variable {
            Some(value) if !value.trim().is_empty() => Ok(Self {
                backend: value
                    .trim()
                    .parse()
                    .map_err(|why: String| format!("{ENV}: {why}"))?,
                by: ChosenBy::Environment,
            }),
            _ => Ok(match setting {
                Some(backend) => Self {
                    backend,
                    by: ChosenBy::Settings,
                },
                None => Self {
                    backend: Backend::Os,
                    by: ChosenBy::Default,
                },
            }),
        }
    }
}

/// The store a process uses, as its `main` opened it.
#[derive(Clone)]
pub struct InUse {
    pub choice: Choice,
    /// The file store, when it is the one.
    pub file: Option<Arc<FileKeychain>>,
}

impl Default for InUse {
    fn default() -> Self {
        Self {
            choice: Choice {
                backend: Backend::Os,
                by: ChosenBy::Default,
            },
            file: None,
        }
    }
}

/// Where the file store is: `$XDG_DATA_HOME/credtray/keychain.age` (the platform's data
/// directory elsewhere).
pub fn file_path() -> PathBuf {
    directories::BaseDirs::new()
        .map(|b| b.data_dir().to_owned())
        .unwrap_or_else(|| PathBuf::from("."))
        .join("credtray")
        .join("keychain.age")
}

/// Where `pass` keeps its store (as pass itself decides).
pub fn pass_dir() -> PathBuf {
    super::pass::Pass::from_env().dir().to_owned()
}

/// How this process asks a person for the file store's passphrase.
pub trait Asker: Send + Sync {
    /// The passphrase of the file at `path` (`new`: it does not exist yet, so the person
    /// chooses one; `retry`: the last one was wrong); `Ok(None)` when nobody can be asked here.
    fn passphrase(
        &self,
        path: &Path,
        new: bool,
        retry: bool,
    ) -> Result<Option<SecretString>, String>;
}

/// Nobody to ask (a headless agent after `agent lock`).
pub struct NoAsker;

impl Asker for NoAsker {
    fn passphrase(&self, _: &Path, _: bool, _: bool) -> Result<Option<SecretString>, String> {
        Ok(None)
    }
}

/// Another process that may hold the file store open: the agent.
pub trait Holder: Send + Sync {
    /// Its open store, when it holds one now.
    fn open_store(&self) -> Option<Arc<dyn SecretStore>>;
}

/// The chosen store, ready to use.
pub fn open(
    backend: Backend,
    asker: Arc<dyn Asker>,
    holder: Option<Box<dyn Holder>>,
) -> Arc<dyn SecretStore> {
    match backend {
        Backend::Os => Arc::new(super::Keychain::new()),
        Backend::File => Arc::new(FileKeychain::new(file_path(), asker, holder)),
        Backend::Pass => Arc::new(super::pass::Pass::from_env()),
    }
}

/// The file store, opened on first use (see the module's doc).
pub struct FileKeychain {
    path: PathBuf,
    /// scrypt's work factor for writing; `None`: `CREDTRAY_KEYCHAIN_WORK_FACTOR`, else age's.
    work_factor: Option<u8>,
    asker: Arc<dyn Asker>,
    holder: Option<Box<dyn Holder>>,
    /// Held only for a moment: whoever asks whether the store is open never waits.
    state: Mutex<State>,
    /// Held while the store is being opened (a person may be asked): one opening at a time.
    opening: Mutex<()>,
}

enum State {
    Closed,
    /// Closed on request (`agent lock`): opened again only by [`FileKeychain::unlock`] (or
    /// `open_with`), never by a passphrase command on the next use.
    Locked,
    Open(Arc<dyn SecretStore>),
}

impl FileKeychain {
    pub fn new(path: PathBuf, asker: Arc<dyn Asker>, holder: Option<Box<dyn Holder>>) -> Self {
        Self {
            path,
            work_factor: None,
            asker,
            holder,
            state: Mutex::new(State::Closed),
            opening: Mutex::new(()),
        }
    }

    /// Writes with scrypt's work factor `log_n` (tests: fast).
    pub fn with_work_factor(mut self, log_n: u8) -> Self {
        self.work_factor = Some(log_n);
        self
    }

    fn work_factor(&self) -> Option<u8> {
        self.work_factor.or_else(work_factor)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this process holds the store open (its own or the agent's); not while it is
    /// being opened (a passphrase being asked for must not hold up whoever asks this).
    pub fn is_open(&self) -> bool {
        self.if_open().is_some()
    }

    /// Forgets the open store (its items wiped) until [`FileKeychain::unlock`] (`agent lock`):
    /// uses meanwhile fail with a sentence saying so.
    pub fn close(&self) -> bool {
        let mut state = self.lock();
        let was_open = matches!(*state, State::Open(_));
        *state = State::Locked;
        was_open
    }

    /// Opens the store here with `passphrase` (`agent unlock`), checking it; nothing changes
    /// when it is wrong.
    pub fn unlock(&self, passphrase: SecretString) -> Result<(), Error> {
        let store = self.with_passphrase(passphrase)?;
        *self.lock() = State::Open(Arc::new(store));
        Ok(())
    }

    /// The store if it is open now, without asking anyone (nor waiting for an opening).
    pub fn if_open(&self) -> Option<Arc<dyn SecretStore>> {
        match &*self.lock() {
            State::Open(store) => Some(store.clone()),
            State::Closed | State::Locked => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn with_passphrase(&self, passphrase: SecretString) -> Result<FileStore, Error> {
        self.open_file(passphrase)
            .map_err(|e| Error::Store(e.to_string()))
    }

    /// The file opened with `passphrase`, written with this keychain's work factor.
    fn open_file(&self, passphrase: SecretString) -> Result<FileStore, OpenError> {
        let store = FileStore::open(&self.path, passphrase)?;
        Ok(match self.work_factor() {
            Some(log_n) => store.with_work_factor(log_n),
            None => store,
        })
    }

    /// The open store: the agent's, or this process's, opened now if need be.
    fn store(&self) -> Result<Arc<dyn SecretStore>, Error> {
        if let Some(store) = self.if_open() {
            return Ok(store);
        }
        let _one_opening = self.opening.lock().unwrap_or_else(PoisonError::into_inner);
        // Opened (or locked) by whoever held the opening before.
        let locked = match &*self.lock() {
            State::Open(store) => return Ok(store.clone()),
            State::Locked => true,
            State::Closed => false,
        };
        if locked {
            // Only a person opens it again (the tray's dialog), never a command's output.
            return match self.ask_person(&*self.asker)? {
                Some(store) => {
                    let store: Arc<dyn SecretStore> = Arc::new(store);
                    *self.lock() = State::Open(store.clone());
                    Ok(store)
                }
                None => Err(Error::Store(format!(
                    "the agent's file keychain {} is locked: `credtray agent unlock` opens it",
                    self.path.display()
                ))),
            };
        }
        let store = match self.holder.as_ref().and_then(|h| h.open_store()) {
            Some(store) => store,
            None => match self.open_here(&*self.asker)? {
                Some(store) => Arc::new(store),
                None => {
                    return Err(Error::Store(format!(
                        "credtray's file keychain {} is locked and nobody can be asked for its passphrase here: run the command in a terminal, set {PASSPHRASE_COMMAND} to a command that prints the passphrase, or run `credtray agent` (it asks once and keeps the keychain open)",
                        self.path.display()
                    )));
                }
            },
        };
        *self.lock() = State::Open(store.clone());
        Ok(store)
    }

    /// Opens the store now, here, asking `asker` (the agent at its start); `Ok(false)` when
    /// nobody can be asked.
    pub fn open_with(&self, asker: &dyn Asker) -> Result<bool, Error> {
        let Some(store) = self.open_here(asker)? else {
            return Ok(false);
        };
        *self.lock() = State::Open(Arc::new(store));
        Ok(true)
    }

    /// The passphrase from `CREDTRAY_PASSPHRASE_COMMAND`, else from `asker` (three tries),
    /// and the store opened with it; `None` when nobody can be asked.
    fn open_here(&self, asker: &dyn Asker) -> Result<Option<FileStore>, Error> {
        if let Some(passphrase) = passphrase_from_command()? {
            return self.with_passphrase(passphrase).map(Some);
        }
        self.ask_person(asker)
    }

    /// The store opened with a passphrase `asker` gets from a person (three tries); `None`
    /// when nobody can be asked.
    fn ask_person(&self, asker: &dyn Asker) -> Result<Option<FileStore>, Error> {
        let new = !self.path.exists();
        let mut retry = false;
        for _ in 0..ATTEMPTS {
            let Some(passphrase) = asker
                .passphrase(&self.path, new, retry)
                .map_err(Error::Store)?
            else {
                return Ok(None);
            };
            match self.open_file(passphrase) {
                Err(OpenError::WrongPassphrase(_)) => retry = true,
                Err(e) => return Err(Error::Store(e.to_string())),
                Ok(store) => return Ok(Some(store)),
            }
        }
        Err(Error::Store(
            OpenError::WrongPassphrase(self.path.clone()).to_string(),
        ))
    }
}

/// The passphrase `CREDTRAY_PASSPHRASE_COMMAND` prints, when it is set.
pub fn passphrase_from_command() -> Result<Option<SecretString>, Error> {
    match std::env::var_os(PASSPHRASE_COMMAND).filter(|c| !c.is_empty()) {
        Some(command) => from_command(&command).map(Some),
        None => Ok(None),
    }
}

impl SecretStore for FileKeychain {
    fn get(&self, key: Key) -> Result<Option<SecretString>, Error> {
        self.store()?.get(key)
    }

    fn set(&self, key: Key, value: &SecretString) -> Result<(), Error> {
        self.store()?.set(key, value)
    }

    fn delete(&self, key: Key) -> Result<bool, Error> {
        self.store()?.delete(key)
    }

    fn accounts(&self) -> Result<Option<Vec<String>>, Error> {
        self.store()?.accounts()
    }
}

fn work_factor() -> Option<u8> {
    std::env::var(WORK_FACTOR_ENV).ok()?.trim().parse().ok()
}

/// The passphrase `command` prints (run by the shell; its last line break dropped). Never
/// logged; its failure is told by its exit status.
fn from_command(command: &std::ffi::OsStr) -> Result<SecretString, Error> {
    let fail = |why: String| Error::Store(format!("{PASSPHRASE_COMMAND} {why}"));
    let mut shell = if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.arg("/C");
        c
    } else {
        let mut c = std::process::Command::new("sh");
        c.arg("-c");
        c
    };
    let output = shell
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| fail(format!("could not be run: {e}")))?;
    let stdout = Zeroizing::new(output.stdout);
    if !output.status.success() {
        return Err(fail(format!(
            "failed ({}), so there is no passphrase for credtray's file keychain",
            output.status
        )));
    }
    let text = std::str::from_utf8(&stdout)
        .map_err(|_| fail("printed something that is not UTF-8 text".to_owned()))?;
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(text);
    if text.is_empty() {
        return Err(fail("printed an empty passphrase".to_owned()));
    }
    Ok(SecretString::from(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use secrecy::ExposeSecret;

    use super::*;
    use crate::secrets::Item;

    #[test]
    fn the_variable_wins_over_the_setting_which_wins_over_the_default_and_a_typo_is_an_error() {
        let chosen = |v: Option<&str>, s| Choice::resolve_from(v.map(str::to_owned), s);
        assert_eq!(
            chosen(None, None).unwrap(),
            Choice {
                backend: Backend::Os,
                by: ChosenBy::Default
            }
        );
        assert_eq!(
            chosen(Some(""), Some(Backend::Pass)).unwrap(),
            Choice {
                backend: Backend::Pass,
                by: ChosenBy::Settings
            }
        );
        assert_eq!(
            chosen(Some(" file "), Some(Backend::Pass)).unwrap(),
            Choice {
                backend: Backend::File,
                by: ChosenBy::Environment
            }
        );
        let typo = chosen(Some("fiel"), None).unwrap_err();
        assert_eq!(
            typo,
            "CREDTRAY_KEYCHAIN: \"fiel\" is not a keychain: give os, file or pass"
        );
    }

    #[test]
    #[cfg(windows)]
    fn the_passphrase_command_gives_its_output_without_its_line_break_or_a_sentence() {
        let pass = |c: &str| from_command(std::ffi::OsStr::new(c));
        assert_eq!(pass("echo two words").unwrap().expose_secret(), "two words");
        let failed = pass("echo nope& exit 3").unwrap_err().to_string();
        assert!(
            failed.starts_with("CREDTRAY_PASSPHRASE_COMMAND failed (exit code: 3)"),
            "{failed}"
        );
        assert!(
            !failed.contains("nope"),
            "its output is never shown: {failed}"
        );
        let empty = pass("exit 0").unwrap_err().to_string();
        assert!(empty.contains("an empty passphrase"), "{empty}");
    }

    #[test]
    #[cfg(unix)]
    fn the_passphrase_command_gives_its_output_without_its_line_break_or_a_sentence() {
        let pass = |c: &str| from_command(std::ffi::OsStr::new(c));
        assert_eq!(
            pass("printf 'two words\\n'").unwrap().expose_secret(),
            "two words"
        );
        assert_eq!(pass("printf ' x\\r\\n'").unwrap().expose_secret(), " x");
        let failed = pass("echo nope; exit 3").unwrap_err().to_string();
        assert!(
            failed.starts_with("CREDTRAY_PASSPHRASE_COMMAND failed (exit status: 3)"),
            "{failed}"
        );
        assert!(
            !failed.contains("nope"),
            "its output is never shown: {failed}"
        );
        let empty = pass("true").unwrap_err().to_string();
        assert!(empty.contains("an empty passphrase"), "{empty}");
    }

    /// Answers with the passphrases given, in turn, and counts the questions.
    struct Answers(Vec<&'static str>, AtomicU32, Mutex<Vec<(bool, bool)>>);

    impl Asker for Answers {
        fn passphrase(
            &self,
            _: &Path,
            new: bool,
            retry: bool,
        ) -> Result<Option<SecretString>, String> {
            let n = self.1.fetch_add(1, Ordering::SeqCst) as usize;
            self.2.lock().unwrap().push((new, retry));
            Ok(self.0.get(n).map(|p| SecretString::from(*p)))
        }
    }

    fn key() -> Key {
        Key::new(
            "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10".parse().unwrap(),
            Item::SessionToken,
        )
    }

    #[test]
    fn the_file_keychain_is_opened_once_on_first_use_with_three_tries_at_its_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keychain.age");
        let first = Arc::new(Answers(vec!["right"], AtomicU32::new(0), Mutex::default()));
        let keychain = FileKeychain::new(path.clone(), first.clone(), None).with_work_factor(10);
        assert!(
            !keychain.is_open(),
            "nothing asked before a secret is needed"
        );
        keychain.set(key(), &"v".into()).unwrap();
        assert!(keychain.get(key()).unwrap().is_some());
        assert_eq!(
            *first.2.lock().unwrap(),
            [(true, false)],
            "asked once, as new"
        );

        // Two wrong ones, then the right one: three questions, the last two as retries.
        let again = Arc::new(Answers(
            vec!["wrong", "also wrong", "right"],
            AtomicU32::new(0),
            Mutex::default(),
        ));
        let keychain = FileKeychain::new(path.clone(), again.clone(), None);
        assert_eq!(keychain.get(key()).unwrap().unwrap().expose_secret(), "v");
        assert_eq!(
            *again.2.lock().unwrap(),
            [(false, false), (false, true), (false, true)]
        );
        // Closed, it asks again; three wrong ones are the error "wrong passphrase".
        assert!(keychain.close());
        let wrong = Arc::new(Answers(
            vec!["a", "b", "c", "right"],
            AtomicU32::new(0),
            Mutex::default(),
        ));
        let keychain = FileKeychain::new(path.clone(), wrong, None);
        let err = keychain.get(key()).unwrap_err().to_string();
        assert!(err.starts_with("wrong passphrase for "), "{err}");
        // Nobody to ask: one sentence saying the three ways.
        let keychain = FileKeychain::new(path, Arc::new(NoAsker), None);
        let err = keychain.get(key()).unwrap_err().to_string();
        for way in ["in a terminal", PASSPHRASE_COMMAND, "`credtray agent`"] {
            assert!(err.contains(way), "{err}");
        }
    }

    #[test]
    fn the_agents_open_store_is_used_without_asking() {
        struct Agent(Arc<crate::secrets::Memory>);
        impl Holder for Agent {
            fn open_store(&self) -> Option<Arc<dyn SecretStore>> {
                Some(self.0.clone())
            }
        }
        let held = Arc::new(crate::secrets::Memory::new());
        held.set(key(), &"from the agent".into()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let keychain = FileKeychain::new(
            dir.path().join("keychain.age"),
            Arc::new(NoAsker),
            Some(Box::new(Agent(held))),
        );
        assert_eq!(
            keychain.get(key()).unwrap().unwrap().expose_secret(),
            "from the agent"
        );
        assert!(!dir.path().join("keychain.age").exists());
    }

    #[test]
    fn a_locked_keychain_is_opened_again_only_by_a_person_or_unlock() {
        let dir = tempfile::tempdir().unwrap();
        let keychain = FileKeychain::new(dir.path().join("keychain.age"), Arc::new(NoAsker), None)
            .with_work_factor(10);
        keychain.unlock(SecretString::from("pw")).unwrap();
        keychain.set(key(), &"v".into()).unwrap();
        assert!(keychain.close());
        assert!(!keychain.is_open());
        let err = keychain.get(key()).unwrap_err().to_string();
        assert!(err.contains("`credtray agent unlock`"), "{err}");
        let wrong = keychain.unlock(SecretString::from("not it")).unwrap_err();
        assert!(
            wrong.to_string().starts_with("wrong passphrase for "),
            "{wrong}"
        );
        assert!(!keychain.is_open());
        keychain.unlock(SecretString::from("pw")).unwrap();
        assert_eq!(keychain.get(key()).unwrap().unwrap().expose_secret(), "v");
    }
}
