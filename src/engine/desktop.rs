//! What the engine owns beyond sessions, so that the CLI and the tray change nothing behind it
//! (the one door, see ARCHITECTURE.md): the autostart entry (Start at login), the identity
//! providers' cookie directories (Forget IdP login), the AWS console's sign-in link, the
//! tray's one-per-user lock, the store's stamp the tray watches, and `doctor`'s checks over
//! the engine's own store, keychain and files.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use secrecy::SecretString;

use super::{Engine, session_in};
use crate::aws::{Credentials, federation};
use crate::saml_login::{self, ForgetError, Forgotten};
use crate::session::{Region, SessionId};

/// Where the engine finds what lies outside the store and the AWS files.
#[derive(Debug, Clone, Default)]
pub struct Places {
    /// The autostart entry's file (see [`crate::autostart::path`]).
    pub autostart: Option<PathBuf>,
    /// Where every identity provider's cookies live (see [`saml_login::idp_dir`]).
    pub idp: Option<PathBuf>,
}

impl Places {
    /// The places of this user's session: the XDG directories (the platform's elsewhere).
    pub fn from_env() -> Self {
        Self {
            autostart: crate::autostart::path(),
            idp: saml_login::idp_dir(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Engine(#[from] super::Error),
    #[error("cannot find the home directory, where the autostart entry goes")]
    NoAutostartDir,
    #[error("cannot change the autostart entry {}", .path.display())]
    Autostart {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot find the data directory, where the identity providers' cookies are")]
    NoDataDir,
    #[error(transparent)]
    Forget(#[from] ForgetError),
    #[error(transparent)]
    SignIn(#[from] federation::Error),
    #[error("credtray is already running (the tray holds {})", .path.display())]
    TrayRunning { path: PathBuf },
    #[error("cannot take the tray's lock {}", .path.display())]
    TrayLock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether the caller's input is at fault (CLI exit code 2) rather than the system (1).
    pub fn is_invalid_input(&self) -> bool {
        match self {
            Error::Engine(e) => e.is_invalid_input(),
            Error::Forget(e) => e.is_invalid_input(),
            _ => false,
        }
    }
}

/// A sign-in link to the AWS web console: a credential, opened in a browser or printed.
pub struct Console {
    pub url: SecretString,
    /// The console page it lands on (no secret in it), to say where the browser goes.
    pub destination: String,
}

/// The tray's lock, held for as long as the tray runs: one tray per user.
#[derive(Debug)]
pub struct TrayLock {
    _file: std::fs::File,
}

impl Engine {
    /// Looks for what lies outside the store and the AWS files in `places` instead of the
    /// environment's (tests).
    pub fn set_places(&mut self, places: Places) {
        self.places = Some(places);
    }

    fn places(&self) -> Places {
        self.places.clone().unwrap_or_else(Places::from_env)
    }

    /// The cookie directory of a federated session's identity provider, for its login window;
    /// `None` for another kind, or when there is no data directory.
    pub(crate) fn login_cookies(&self, session: &crate::session::Session) -> Option<PathBuf> {
        let crate::session::SessionKind::IamRoleFederated { saml_url, .. } = &session.kind else {
            return None;
        };
        Some(saml_login::cookie_dir(&self.places().idp?, saml_url))
    }

    /// Whether credtray starts at login: its autostart entry is there (whoever wrote it).
    pub fn starts_at_login(&self) -> bool {
        self.places()
            .autostart
            .is_some_and(|p| crate::autostart::is_on(&p))
    }

    /// Writes the autostart entry (it runs the `credtray` CLI this engine names in
    /// `credential_process` lines, which execs the tray) or removes it; returns whether
    /// credtray starts at login now.
    pub fn set_start_at_login(&self, on: bool) -> Result<bool, Error> {
        let path = self.places().autostart.ok_or(Error::NoAutostartDir)?;
        let changed = if on {
            let cli = self.cli.as_deref().ok_or(super::Error::NoCli)?;
            crate::autostart::enable(&path, cli)
        } else {
            crate::autostart::disable(&path)
        };
        changed.map_err(|source| Error::Autostart {
            path: path.clone(),
            source,
        })?;
        Ok(crate::autostart::is_on(&path))
    }

    /// Forgets the identity provider login of federated session `id`, and so of every session
    /// with its SAML 2.0 URL: its cookie directory goes.
    pub fn forget_login(&self, id: SessionId) -> Result<Forgotten, Error> {
        let catalog = self.store.load().map_err(super::Error::from)?;
        let session = session_in(&catalog, id)?;
        let idp = self.places().idp.ok_or(Error::NoDataDir)?;
        Ok(saml_login::forget_login(&catalog, &session, &idp)?)
    }

    /// The console sign-in link for `credentials` (a session's, from
    /// [`Engine::console_credentials`] or the agent) in `region`, landing on `service`'s
    /// console (the console's home without one).
    pub fn console_link(
        &self,
        credentials: &Credentials,
        region: &Region,
        service: Option<&str>,
    ) -> Result<Console, Error> {
        let url = federation::sign_in(credentials, region, service)?;
        Ok(Console {
            url,
            destination: federation::console_url(region, service),
        })
    }

    /// The console sign-in link of session `id` in its own region: its console credentials
    /// (asking `prompt` if need be), exchanged for the link.
    pub fn console(
        &mut self,
        id: SessionId,
        prompt: &mut dyn super::Prompt,
    ) -> Result<Console, Error> {
        let region = session_in(&self.catalog()?, id)?.region;
        let credentials = self.console_credentials(id, prompt)?;
        self.console_link(&credentials, &region, None)
    }

    /// Takes the tray's lock (`tray.lock` beside the store, whose directory is made first):
    /// a second tray finds it held and says so.
    pub fn lock_tray(&self) -> Result<TrayLock, Error> {
        let path = self.store.dir().join("tray.lock");
        let failed = |source| Error::TrayLock {
            path: path.clone(),
            source,
        };
        crate::atomic::create_dir(self.store.dir(), 0o700).map_err(failed)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(failed)?;
        if file.try_lock().is_err() {
            return Err(Error::TrayRunning { path });
        }
        Ok(TrayLock { _file: file })
    }

    /// When the store was last written, and its size: the tray reloads the catalog when this
    /// changes (another process changed the store). `None` when there is no store yet.
    pub fn store_stamp(&self) -> Option<(SystemTime, u64)> {
        let meta = std::fs::metadata(self.store.path()).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }

    /// The AWS config file this engine publishes to (`exec` hands its command a copy).
    pub fn aws_config_path(&self) -> &Path {
        self.files.config.path()
    }

    /// `credtray doctor`'s checks over this engine's store, keychain and files, with the
    /// agent looked for at `agent_socket` and the clock compared with `sts_endpoint`'s.
    pub fn doctor(&self, agent_socket: PathBuf, sts_endpoint: String) -> Vec<crate::doctor::Check> {
        crate::doctor::run(&crate::doctor::Setup {
            store: &self.store,
            secrets: self.secrets.unlocked(),
            files: &self.files,
            agent_socket,
            agent_expected: crate::doctor::agent_expected(self.starts_at_login()),
            sts_endpoint,
            keychain: &self.keychain,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::awsfiles::Files;
    use crate::secrets::Memory;
    use crate::session::{NewSession, SessionKind};
    use crate::store::Store;

    /// An engine over a temporary directory, its autostart entry and cookies in there too.
    fn engine() -> (tempfile::TempDir, Engine) {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = Engine::new(
            Store::at(dir.path().join("cfg")),
            Arc::new(Memory::new()),
            Files::at(dir.path().join("credentials"), dir.path().join("config")),
            Arc::new(crate::aws::Fake::new()),
        );
        engine.set_places(Places {
            autostart: Some(dir.path().join("autostart").join("credtray.desktop")),
            idp: Some(dir.path().join("idp")),
        });
        (dir, engine)
    }

    fn federated(alias: &str, url: &str) -> NewSession {
        NewSession {
            alias: alias.parse().unwrap(),
            profile: None,
            region: None,
            publish: None,
            kind: SessionKind::IamRoleFederated {
                role_arn: "arn:aws:iam::123456789012:role/r".parse().unwrap(),
                saml_url: url.parse().unwrap(),
                idp_arn: "arn:aws:iam::123456789012:saml-provider/p".parse().unwrap(),
            },
        }
    }

    /// The XDG entry; Windows' `Run` value has its own test (`autostart::windows_tests`).
    #[test]
    #[cfg(not(windows))]
    fn start_at_login_is_the_engines_to_write_and_remove() {
        let (dir, mut engine) = engine();
        engine.set_cli("/opt/my tools/credtray");
        assert!(!engine.starts_at_login());
        assert!(engine.set_start_at_login(true).unwrap());
        let entry = dir.path().join("autostart/credtray.desktop");
        let text = std::fs::read_to_string(&entry).unwrap();
        assert!(
            text.contains("\nExec=\"/opt/my tools/credtray\"\n"),
            "{text}"
        );
        assert!(engine.starts_at_login());
        assert!(!engine.set_start_at_login(false).unwrap());
        assert!(!entry.exists());
        assert!(!engine.starts_at_login());
        // Off when off already: nothing to do, no error.
        assert!(!engine.set_start_at_login(false).unwrap());
    }

    /// Records the login the engine asks for, and gives no assertion.
    #[derive(Default)]
    struct Recorded(Vec<(String, std::time::Duration, Option<PathBuf>)>);

    impl crate::engine::Prompt for Recorded {
        fn mfa_code(
            &mut self,
            _: &crate::session::Session,
            _: &crate::session::MfaDevice,
            _: crate::engine::MfaAsk,
        ) -> Option<crate::session::MfaCode> {
            None
        }
        fn saml_assertion(
            &mut self,
            login: &crate::engine::SamlLogin<'_>,
        ) -> Result<SecretString, crate::engine::NoAssertion> {
            self.0.push((
                login.session.alias.to_string(),
                login.timeout,
                login.cookies.clone(),
            ));
            Err(crate::engine::NoAssertion::Cancelled)
        }
    }

    #[test]
    fn the_engine_gives_the_login_window_everything_it_needs() {
        let (dir, mut engine) = engine();
        let url = "https://idp.example.com/saml";
        let a = engine.add(federated("a", url), None).unwrap();
        let mut locked = engine.store.lock().unwrap();
        locked.catalog.settings.saml_login_timeout = std::time::Duration::from_secs(42);
        locked.save().unwrap();
        drop(locked);
        let mut prompt = Recorded::default();
        assert!(engine.start(a.id, &mut prompt, false).is_err());
        let cookies = saml_login::cookie_dir(&dir.path().join("idp"), &url.parse().unwrap());
        assert_eq!(
            prompt.0,
            [(
                "a".to_owned(),
                std::time::Duration::from_secs(42),
                Some(cookies)
            )]
        );
        // No data directory: the login is still asked for (an assertion may come from
        // standard input); the window's side says why it can't open.
        engine.set_places(Places::default());
        let mut prompt = Recorded::default();
        assert!(engine.start(a.id, &mut prompt, false).is_err());
        assert_eq!(prompt.0[0].2, None);
    }

    #[test]
    fn forgetting_an_idp_login_removes_its_cookies_and_names_every_session_sharing_them() {
        let (dir, engine) = engine();
        let url = "https://idp.example.com/saml";
        let a = engine.add(federated("a", url), None).unwrap();
        engine.add(federated("b", url), None).unwrap();
        engine
            .add(federated("c", "https://other.example.com/saml"), None)
            .unwrap();
        let idp = dir.path().join("idp");
        let ours = saml_login::cookie_dir(&idp, &url.parse().unwrap());
        let theirs =
            saml_login::cookie_dir(&idp, &"https://other.example.com/saml".parse().unwrap());
        std::fs::create_dir_all(ours.join("storage")).unwrap();
        std::fs::create_dir_all(&theirs).unwrap();

        let forgotten = engine.forget_login(a.id).unwrap();
        assert!(forgotten.existed);
        assert_eq!(forgotten.sessions, ["a", "b"]);
        assert!(!ours.exists());
        assert!(theirs.exists(), "another URL's login stays");
        assert!(!engine.forget_login(a.id).unwrap().existed);

        let user = engine
            .add(
                NewSession {
                    alias: "u".parse().unwrap(),
                    profile: None,
                    region: None,
                    publish: None,
                    kind: SessionKind::IamUser {
                        mfa_device: None,
                        mfa_source: None,
                    },
                },
                Some(crate::session::IamUserKeys {
                    access_key_id: crate::session::AccessKeyId::parse(&SecretString::from(
                        "AKIAAAAAAAAAAAAAAAAA",
                    ))
                    .unwrap(),
                    secret_access_key: crate::session::SecretAccessKey::parse(&SecretString::from(
                        "s3cret",
                    ))
                    .unwrap(),
                }),
            )
            .unwrap();
        let err = engine.forget_login(user.id).unwrap_err();
        assert!(
            matches!(err, Error::Forget(ForgetError::NotFederated { .. })),
            "{err}"
        );
        assert!(err.is_invalid_input(), "the CLI exits 2");
    }

    #[test]
    fn a_second_tray_finds_the_lock_held() {
        let (dir, engine) = engine();
        let held = engine.lock_tray().unwrap();
        let err = engine.lock_tray().unwrap_err();
        assert!(matches!(err, Error::TrayRunning { .. }), "{err}");
        assert!(err.to_string().contains("already running"), "{err}");
        drop(held);
        engine.lock_tray().unwrap();
        assert!(
            dir.path().join("cfg").is_dir(),
            "the config directory is made"
        );
    }

    #[test]
    fn the_store_stamp_changes_when_the_store_is_written() {
        let (_dir, engine) = engine();
        assert_eq!(engine.store_stamp(), None, "no store yet");
        engine
            .add(federated("a", "https://idp.example.com"), None)
            .unwrap();
        let first = engine.store_stamp().unwrap();
        engine
            .add(federated("bb", "https://idp.example.com"), None)
            .unwrap();
        assert_ne!(engine.store_stamp().unwrap(), first);
    }

    /// The one door: the CLI and the tray read and change no state themselves (files, the
    /// autostart entry, cookies, markers, the AWS files, the console's sign-in); they ask the
    /// engine. A new direct access fails here; one that truly belongs at the edge goes into
    /// `ALLOWED` with its reason.
    #[test]
    fn the_cli_and_the_tray_go_through_the_engine() {
        const DOORS: &[&str] = &[
            "std::fs::",
            "crate::atomic::",
            "credtray::atomic::",
            "autostart::",
            "awsfiles::Document",
            ".credentials.read(",
            ".config.read(",
            ".config.path(",
            "import::apply",
            "import::offer",
            "import::first_run_offer",
            "import::plan",
            "federation::",
            "saml_login::forget",
            "saml_login::idp_dir",
            "saml_login::cookie_dir",
            "doctor::run",
            "remove_dir",
            "remove_file",
            "Store::from_env",
            "Store::at(",
            "Keychain::new(",
        ];
        /// A use that is no state: the file, what it says, and why.
        const ALLOWED: &[(&str, &str)] = &[
            // Writes secrets to standard output's own descriptor (no buffer left unwiped): no
            // path, no state.
            ("cli/mod.rs", "std::fs::File::from(fd)"),
            // `cli::parts` builds the engine's parts for every `main`, which only the engine
            // (and the network policy it reads them for) then uses.
            ("cli/mod.rs", "let store = Store::from_env()?;"),
            (
                "cli/mod.rs",
                "Arc::new(FileKeychain::new(chosen::file_path(), asker, holder));",
            ),
            // The login window keeps its standard output's descriptor for the assertion.
            ("login/window.rs", "std::fs::File"),
            // WebKit's data directory, which the engine names: made private before WebKit
            // writes a cookie into it.
            (
                "login/window.rs",
                "credtray::atomic::create_dir(&target.cookies",
            ),
            ("login/window.rs", "std::fs::set_permissions("),
        ];
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        for edge in ["cli", "tray", "login"] {
            for file in rust_files(&src.join(edge)) {
                let name = file
                    .strip_prefix(&src)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                if name.ends_with("tests.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&file).unwrap();
                // A file's own tests may make fixtures.
                let code = text
                    .split("#[cfg(test)]\nmod tests")
                    .next()
                    .unwrap_or_default();
                for (n, line) in code.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or_default();
                    for door in DOORS {
                        let allowed = ALLOWED
                            .iter()
                            .any(|(f, what)| name == *f && code.contains(what));
                        if code.contains(door) && !allowed {
                            found.push(format!("{name}:{}: {}", n + 1, line.trim()));
                        }
                    }
                }
            }
        }
        assert!(
            found.is_empty(),
            "the CLI and the tray go through the engine for these:\n{}",
            found.join("\n")
        );
    }

    fn rust_files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
        out
    }
}
