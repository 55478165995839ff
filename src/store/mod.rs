//! The store: `config.toml` in the platform config dir (or `$CREDTRAY_CONFIG_DIR`), holding
//! the catalog of sessions and named profiles and, beside it, the record of the `~/.aws`
//! sections credtray owns ([`Stored`]); never a secret. Loading checks every rule; a
//! file that does not parse is reported with its line and never overwritten. Changes happen
//! under an advisory lock (load, change, atomic save), so concurrent processes never lose an
//! update. A change that must call the keychain lets the lock go for the call
//! ([`Hold::released`]) and takes it back; if the store changed meanwhile, the change is not
//! saved ([`Error::Moved`]): it was decided on what is no longer there.

mod schema;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::atomic;
use crate::awsfiles::Owned;
use crate::session::{self, Catalog};

const FILE_NAME: &str = "config.toml";
const HEADER: &str = "# credtray's store: sessions and named profiles. It never holds a secret:\n\
# keys and tokens live in the OS keychain. Edit with care; credtray checks every field.\n\n";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot find a config directory: set CREDTRAY_CONFIG_DIR or HOME")]
    NoConfigDir,
    #[error("cannot read {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot lock {}", .path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "another credtray command changed {} while this one was at the OS keychain, so nothing more was saved: try again",
        .path.display()
    )]
    Moved { path: PathBuf },
    #[error("{} line {line} does not parse (credtray will not modify the file until it is fixed): {message}", .path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{} line {line} is invalid (credtray will not modify the file until it is fixed)", .path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        #[source]
        source: session::Error,
    },
    #[error("{} line {line} has schema version {found}, but this credtray understands versions {} to {} only: it was written by a newer credtray (credtray will not modify the file)", .path.display(), schema::OLDEST, schema::VERSION)]
    Version {
        path: PathBuf,
        line: usize,
        found: i64,
    },
}

impl Error {
    /// Whether the user's file is at fault (as opposed to the system).
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Error::Parse { .. } | Error::Invalid { .. } | Error::Version { .. }
        )
    }
}

/// The store in one directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    /// Unit tests of callers' rollbacks: every save fails as a full disk would.
    #[cfg(test)]
    fail_saves: bool,
}

impl Store {
    /// `$CREDTRAY_CONFIG_DIR`, else the platform config dir's `credtray` folder.
    pub fn from_env() -> Result<Self, Error> {
        if let Some(dir) = std::env::var_os("CREDTRAY_CONFIG_DIR").filter(|d| !d.is_empty()) {
            return Ok(Self::at(dir));
        }
        let base = directories::BaseDirs::new().ok_or(Error::NoConfigDir)?;
        Ok(Self::at(base.config_dir().join("credtray")))
    }

    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            #[cfg(test)]
            fail_saves: false,
        }
    }

    /// A copy of this store whose saves fail (for tests of what callers undo).
    #[cfg(test)]
    pub(crate) fn failing_saves(&self) -> Self {
        Self {
            dir: self.dir.clone(),
            fail_saves: true,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// The catalog as stored now; a missing file is an empty catalog.
    pub fn load(&self) -> Result<Catalog, Error> {
        Ok(self.load_all()?.catalog)
    }

    /// The catalog and the record of the `~/.aws` sections credtray owns.
    pub fn load_all(&self) -> Result<Stored, Error> {
        match self.read()? {
            Some(text) => parse(&self.path(), &text),
            None => Ok(Stored::default()),
        }
    }

    /// The file's text; `None` when there is no file.
    fn read(&self) -> Result<Option<String>, Error> {
        let path = self.path();
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Read { path, source }),
        }
    }

    /// Takes the store's lock and loads the catalog, for a change that [`Locked::save`]s.
    pub fn lock(&self) -> Result<Locked, Error> {
        atomic::create_dir(&self.dir, 0o700).map_err(|source| Error::Write {
            path: self.dir.clone(),
            source,
        })?;
        let lock_path = self.dir.join(format!("{FILE_NAME}.lock"));
        let lock =
            atomic::Lock::exclusive(&lock_path, 0o600, CHANGING).map_err(|source| Error::Lock {
                path: lock_path.clone(),
                source,
            })?;
        atomic::remove_stale_temps(&self.path());
        let text = self.read()?;
        let loaded = match &text {
            Some(text) => parse(&self.path(), text)?,
            None => Stored::default(),
        };
        Ok(Locked {
            path: self.path(),
            hold: Arc::new(Hold {
                lock,
                lock_path,
                store: self.clone(),
                state: Mutex::new(HoldState {
                    text,
                    moved: false,
                    kept: Vec::new(),
                }),
            }),
            catalog: loaded.catalog.clone(),
            owned: loaded.owned.clone(),
            loaded,
            #[cfg(test)]
            fail_saves: self.fail_saves,
        })
    }
}

/// What the holder of the store's lock says it is doing.
const CHANGING: &str = "changing credtray's store";

/// The store's lock as a [`Locked`] holds it. A caller about to wait on something slow (the
/// keychain) lets it go for that time ([`Self::released`]); taking it back, the hold checks that
/// the store is as this process last saw it, and if not remembers that it moved: the
/// [`Locked`] then saves nothing.
#[derive(Debug)]
pub struct Hold {
    lock: atomic::Lock,
    lock_path: PathBuf,
    store: Store,
    state: Mutex<HoldState>,
}

#[derive(Debug)]
struct HoldState {
    /// The file's text as this process loaded or last saved it (`None`: no file).
    text: Option<String>,
    /// The store changed (or the lock could not be taken back) while it was let go.
    moved: bool,
    /// Other locks held as long as this one (see [`Hold::keep`]).
    kept: Vec<(String, atomic::Lock)>,
}

impl Hold {
    /// Runs `work` with the lock let go, then takes it back. Besides `work`'s result, says
    /// whether the store is still as this process left it: only then may what was decided
    /// before go on. If not ([`Error::Moved`], also when the lock could not be taken back), the
    /// lock is let go for good and `work`s after this one run without it.
    pub fn released<T>(&self, work: impl FnOnce() -> T) -> (T, Result<(), Error>) {
        if self.moved() {
            return (work(), Err(self.moved_error()));
        }
        if let Err(source) = self.lock.release() {
            // Still held: nothing to check afterwards.
            tracing::warn!(error = %source, "could not let the store's lock go for a keychain call");
            return (work(), Ok(()));
        }
        let result = work();
        if let Err(source) = self.lock.retake(CHANGING) {
            self.state().moved = true;
            return (
                result,
                Err(Error::Lock {
                    path: self.lock_path.clone(),
                    source,
                }),
            );
        }
        let unchanged = match self.store.read() {
            Ok(now) => now == self.state().text,
            Err(_) => false,
        };
        if !unchanged {
            self.state().moved = true;
            // Nothing this process decided may be saved now; others need not wait for it.
            let _ = self.lock.release();
            return (result, Err(self.moved_error()));
        }
        (result, Ok(()))
    }

    /// Keeps `lock` (named `name`) until the store's lock is dropped.
    pub fn keep(&self, name: String, lock: atomic::Lock) {
        self.state().kept.push((name, lock));
    }

    /// Whether a lock named `name` is [`Self::keep`]ing.
    pub fn keeps(&self, name: &str) -> bool {
        self.state().kept.iter().any(|(n, _)| n == name)
    }

    /// Whether the store changed while the lock was let go: nothing decided before may be saved.
    pub fn moved(&self) -> bool {
        self.state().moved
    }

    fn moved_error(&self) -> Error {
        Error::Moved {
            path: self.store.path(),
        }
    }

    fn state(&self) -> MutexGuard<'_, HoldState> {
        // A panic while holding this guard leaves plain data behind, still meaningful.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What `config.toml` holds: the catalog of sessions, and apart from it (the domain knows
/// nothing of files) the record of the `~/.aws` sections credtray owns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    pub catalog: Catalog,
    pub owned: Vec<Owned>,
}

/// The store loaded under its lock; changes to `catalog` and `owned` are kept by `save`.
#[derive(Debug)]
pub struct Locked {
    path: PathBuf,
    hold: Arc<Hold>,
    loaded: Stored,
    pub catalog: Catalog,
    pub owned: Vec<Owned>,
    #[cfg(test)]
    fail_saves: bool,
}

impl Locked {
    /// Writes the catalog atomically if it changed. The lock stays held until `self` is
    /// dropped, so a caller can still undo what a failed save was meant to record, and check
    /// and write again, without another process in between.
    pub fn save(&mut self) -> Result<&Catalog, Error> {
        // Decided on a store that changed meanwhile: saving it would undo the other change.
        if self.hold.moved() {
            return Err(self.hold.moved_error());
        }
        #[cfg(test)]
        if self.fail_saves && self.changed() {
            return Err(Error::Write {
                path: self.path.clone(),
                source: io::Error::other("the test store refuses to save"),
            });
        }
        if self.changed() {
            let text = serialize(&self.catalog, &self.owned).map_err(|e| Error::Write {
                path: self.path.clone(),
                source: io::Error::other(e),
            })?;
            // Replaced but not synced is saved: every reader sees it (a warning is logged).
            atomic::write(&self.path, text.as_bytes(), 0o600)
                .map_err(|source| Error::Write {
                    path: self.path.clone(),
                    source,
                })?
                .warn_if_unsynced(&self.path);
            self.hold.state().text = Some(text);
            self.loaded = Stored {
                catalog: self.catalog.clone(),
                owned: self.owned.clone(),
            };
        }
        Ok(&self.catalog)
    }

    fn changed(&self) -> bool {
        self.catalog != self.loaded.catalog || self.owned != self.loaded.owned
    }

    /// The lock this holds, for letting it go during a keychain call ([`Hold::released`]).
    pub fn hold(&self) -> &Arc<Hold> {
        &self.hold
    }

    /// The catalog as last saved (or loaded), for a caller that gives up on its changes.
    pub fn saved(&self) -> &Catalog {
        &self.loaded.catalog
    }
}

fn parse(path: &Path, text: &str) -> Result<Stored, Error> {
    let parse_error = |e: toml::de::Error| Error::Parse {
        path: path.to_owned(),
        line: line_of(text, e.span().map_or(0, |s| s.start)),
        message: e.message().trim().to_owned(),
    };
    let probe: schema::Probe = toml::from_str(text).map_err(parse_error)?;
    match probe.version {
        Some(v)
            if (i64::from(schema::OLDEST)..=i64::from(schema::VERSION)).contains(v.get_ref()) => {}
        Some(v) => {
            return Err(Error::Version {
                path: path.to_owned(),
                line: line_of(text, v.span().start),
                found: *v.get_ref(),
            });
        }
        None => {
            return Err(Error::Parse {
                path: path.to_owned(),
                line: 1,
                message: "the file has no `version`".to_owned(),
            });
        }
    }
    let file: schema::File = toml::from_str(text).map_err(parse_error)?;
    file.into_stored().map_err(|invalid| Error::Invalid {
        path: path.to_owned(),
        line: line_of(text, invalid.offset),
        source: invalid.error,
    })
}

fn serialize(catalog: &Catalog, owned: &[Owned]) -> Result<String, toml::ser::Error> {
    let body = toml::to_string(&schema::File::from_catalog(catalog, owned))?;
    Ok(format!("{HEADER}{body}"))
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Alias, NewSession, ProfileName, SessionKind};

    fn add_user(catalog: &mut Catalog, alias: &str) {
        catalog
            .add(NewSession {
                publish: None,
                alias: alias.parse().unwrap(),
                profile: Some("dev".parse().unwrap()),
                region: Some("eu-west-1".to_owned()),
                kind: SessionKind::IamUser {
                    mfa_device: None,
                    mfa_source: None,
                },
            })
            .unwrap();
    }

    #[test]
    fn a_change_let_go_for_a_while_saves_only_if_the_store_did_not_move() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("cfg"));
        store.lock().unwrap().save().unwrap();
        // Let go for a while with nothing changing: the change goes on.
        let mut locked = store.lock().unwrap();
        add_user(&mut locked.catalog, "one");
        let ((), still) = locked.hold().clone().released(|| {});
        still.unwrap();
        locked.save().unwrap();
        // Another change meanwhile: this one is decided on what is gone, and saves nothing.
        let hold = locked.hold().clone();
        add_user(&mut locked.catalog, "two");
        let ((), moved) = hold.released(|| {
            let mut other = store.lock().expect("the lock is free meanwhile");
            add_user(&mut other.catalog, "three");
            other.save().unwrap();
        });
        assert!(matches!(moved, Err(Error::Moved { .. })), "{moved:?}");
        let err = locked.save().unwrap_err();
        assert!(err.to_string().contains("try again"), "{err}");
        // And it let the lock go for good: others need not wait for it to end.
        drop(store.lock().unwrap());
        drop(locked);
        let aliases: Vec<String> = store
            .load()
            .unwrap()
            .sessions()
            .iter()
            .map(|s| s.alias.to_string())
            .collect();
        assert_eq!(aliases, ["one", "three"]);
    }

    #[test]
    fn round_trips_every_kind() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("cfg"));
        let mut locked = store.lock().unwrap();
        add_user(&mut locked.catalog, "user");
        let user = locked.catalog.sessions()[0].id;
        locked
            .catalog
            .add(NewSession {
                publish: None,
                alias: "chained".parse().unwrap(),
                profile: None,
                region: None,
                kind: SessionKind::IamRoleChained {
                    role_arn: "arn:aws:iam::123456789012:role/admin".parse().unwrap(),
                    role_session_name: Some("me".parse().unwrap()),
                    assumer: user,
                    external_id: Some("partner-42".parse().unwrap()),
                },
            })
            .unwrap();
        locked
            .catalog
            .add(NewSession {
                publish: None,
                alias: "fed".parse().unwrap(),
                profile: None,
                region: Some("us-gov-west-1".to_owned()),
                kind: SessionKind::IamRoleFederated {
                    role_arn: "arn:aws-us-gov:iam::123456789012:role/x".parse().unwrap(),
                    saml_url: "https://idp.example.com/saml".parse().unwrap(),
                    idp_arn: "arn:aws-us-gov:iam::123456789012:saml-provider/okta"
                        .parse()
                        .unwrap(),
                },
            })
            .unwrap();
        locked.owned.push(crate::awsfiles::Owned {
            file: crate::test_abs("/home/u/.aws/credentials").into(),
            flavor: crate::awsfiles::Flavor::Credentials,
            section: "dev".to_owned(),
            separator: "\r\n\r\n".to_owned(),
            fingerprint: Some("0123456789abcdef".to_owned()),
            intent: Some(user),
            taken_over: Some(crate::awsfiles::TakenOver {
                session: user,
                fingerprint: "fedcba9876543210".to_owned(),
                kept: true,
            }),
            withheld: Some(42),
        });
        locked
            .catalog
            .set_state(user, crate::session::State::Deleting, None);
        let saved = locked.save().unwrap().clone();
        assert_eq!(store.load().unwrap(), saved);
        assert_eq!(store.load_all().unwrap().owned, locked.owned);
        assert_eq!(saved.profiles().len(), 2);
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(text.starts_with("# credtray's store"));
        assert!(text.contains("version = 7"));
    }

    #[test]
    fn publish_modes_round_trip_and_a_session_without_one_is_a_file_session() {
        use crate::session::Publish;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        // A version-3 file from before publish modes, with the default set by hand since.
        let text = "version = 3\nprofiles = [\"default\"]\n\n[settings]\npublish = \"process\"\n\n[[session]]\nid = \"0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10\"\nalias = \"old\"\nkind = \"iam-user\"\nprofile = \"default\"\nregion = \"eu-west-1\"\n";
        std::fs::write(store.path(), text).unwrap();
        let mut locked = store.lock().unwrap();
        assert_eq!(locked.catalog.settings.publish, Publish::Process);
        assert_eq!(locked.catalog.sessions()[0].publish, Publish::File);
        add_user(&mut locked.catalog, "new");
        assert_eq!(locked.catalog.sessions()[1].publish, Publish::Process);
        let saved = locked.save().unwrap().clone();
        drop(locked);
        assert_eq!(store.load().unwrap(), saved);
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert_eq!(text.matches("publish = \"file\"").count(), 1, "{text}");
        assert_eq!(text.matches("publish = \"process\"").count(), 2, "{text}");

        std::fs::write(
            store.path(),
            text.replace("publish = \"file\"", "publish = \"clipboard\""),
        )
        .unwrap();
        let err = store.load().unwrap_err();
        assert!(
            err.is_invalid_input() && err.to_string().contains("line"),
            "{err}"
        );
    }

    #[test]
    fn pins_and_last_starts_round_trip_and_older_files_have_neither() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let mut locked = store.lock().unwrap();
        add_user(&mut locked.catalog, "a");
        add_user(&mut locked.catalog, "b");
        let (a, b) = (
            locked.catalog.sessions()[0].id,
            locked.catalog.sessions()[1].id,
        );
        assert!(!locked.catalog.sessions()[0].pinned);
        let at = time::macros::datetime!(2026-11-28 12:00 UTC);
        locked.catalog.set_pinned(a, true).unwrap();
        locked.catalog.set_last_used(b, at);
        let saved = locked.save().unwrap().clone();
        drop(locked);
        let loaded = store.load().unwrap();
        assert_eq!(loaded, saved);
        assert!(loaded.get(a).unwrap().pinned && loaded.get(a).unwrap().last_used.is_none());
        assert_eq!(loaded.get(b).unwrap().last_used, Some(at));
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert_eq!(text.matches("pinned = true").count(), 1, "{text}");
        assert!(!text.contains("pinned = false"), "{text}");
    }

    #[test]
    fn an_integrations_learned_pace_round_trips_and_a_version_3_record_has_none() {
        use crate::aws::pace::Learned;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        // A version-3 file with an integration, from before paces were kept.
        let v3 = "version = 3\nprofiles = [\"default\"]\n\n[[integration]]\nid = \"6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f\"\nalias = \"corp\"\nkind = \"aws-sso\"\nstart_url = \"https://corp.awsapps.com/start\"\nregion = \"eu-west-1\"\n";
        std::fs::write(store.path(), v3).unwrap();
        let mut locked = store.lock().unwrap();
        let id = locked.catalog.integrations()[0].id;
        assert_eq!(locked.catalog.integrations()[0].pace, None);
        let learned = Learned::new(19.876, Some(21.5)).unwrap();
        locked.catalog.set_pace(id, learned);
        locked.save().unwrap();
        drop(locked);
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(text.contains("version = 7"), "{text}");
        assert!(
            text.contains("pace_rate = 19.88\npace_ceiling = 21.5\n"),
            "{text}"
        );
        assert_eq!(
            store.load().unwrap().integrations()[0].pace,
            Learned::new(19.88, Some(21.5))
        );
        // A rate that is no rate is refused, at the line of its record.
        for bad in ["pace_rate = -3.0", "pace_rate = nan", "pace_rate = 1e9"] {
            std::fs::write(store.path(), text.replace("pace_rate = 19.88", bad)).unwrap();
            let err = store.load().unwrap_err();
            let Error::Invalid { line, source, .. } = &err else {
                panic!("{bad}: {err}")
            };
            let record = text.lines().position(|l| l == "[[integration]]").unwrap() + 1;
            assert_eq!(
                *line, record,
                "{bad}: the line of its [[integration]] header"
            );
            assert!(source.to_string().contains("pace_rate"), "{bad}: {source}");
        }
    }

    #[test]
    fn a_missing_file_is_an_empty_catalog_with_the_default_profile() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Store::at(dir.path()).load().unwrap();
        assert!(catalog.sessions().is_empty());
        assert_eq!(catalog.profiles(), &[ProfileName::default_profile()]);
    }

    #[test]
    fn parse_errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        std::fs::write(store.path(), "version = 1\n\n[[session]]\nalias = \n").unwrap();
        let err = store.load().unwrap_err();
        assert!(matches!(err, Error::Parse { line: 4, .. }), "{err}");
        assert!(err.to_string().contains("config.toml line 4"), "{err}");
    }

    #[test]
    fn invalid_values_name_the_line_of_their_session_and_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let text = "version = 1\nprofiles = [\"default\"]\n\n[[session]]\nid = \"0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10\"\nalias = \"x\"\nkind = \"iam-user\"\nprofile = \"default\"\nregion = \"eu-wset-1\"\n";
        std::fs::write(store.path(), text).unwrap();
        let err = store.load().unwrap_err();
        let Error::Invalid { line, source, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(*line, 4, "the line of the session's [[session]] header");
        assert!(
            source.to_string().contains("did you mean eu-west-1"),
            "{source}"
        );
    }

    #[test]
    fn a_newer_schema_is_refused_by_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        std::fs::write(store.path(), "version = 8\nnew_thing = true\n").unwrap();
        assert!(matches!(
            store.load().unwrap_err(),
            Error::Version { found: 8, .. }
        ));
    }

    #[test]
    fn an_mfa_source_round_trips_and_a_version_6_user_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let v6 = "version = 6\nprofiles = [\"default\", \"dev\"]\n\n[[session]]\nid = \"6f1c2b9e-4a3d-4e5f-9a8b-7c6d5e4f3a2b\"\nalias = \"dev\"\nkind = \"iam-user\"\nprofile = \"dev\"\nregion = \"eu-west-1\"\nmfa_device = \"arn:aws:iam::123456789012:mfa/me\"\n";
        std::fs::write(store.path(), v6).unwrap();
        let mut locked = store.lock().unwrap();
        let id = locked.catalog.sessions()[0].id;
        let SessionKind::IamUser { mfa_source, .. } = &locked.catalog.sessions()[0].kind else {
            panic!()
        };
        assert_eq!(*mfa_source, None);
        let source = crate::session::Value::parse(
            crate::session::Field::MfaSource,
            "process:op item get 'aws dev' --otp",
        )
        .unwrap();
        let edit = crate::session::Edit {
            values: vec![source],
            ..Default::default()
        };
        locked.catalog.edit(id, &edit).unwrap();
        locked.save().unwrap();
        drop(locked);
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(text.contains("version = 7"), "{text}");
        assert!(
            text.contains("mfa_source = \"process:op item get 'aws dev' --otp\"\n"),
            "{text}"
        );
        let loaded = store.load().unwrap();
        let SessionKind::IamUser { mfa_source, .. } = &loaded.sessions()[0].kind else {
            panic!()
        };
        assert_eq!(
            mfa_source.as_ref().unwrap().to_string(),
            "process:op item get 'aws dev' --otp"
        );
        let bad = text.replace("process:op", "proc:op");
        std::fs::write(store.path(), bad).unwrap();
        let err = crate::error_sentence(&store.load().unwrap_err());
        assert!(err.contains("MFA source") && err.contains("line"), "{err}");
        // A source without a device is refused by name.
        let orphan = text.replace("mfa_device = \"arn:aws:iam::123456789012:mfa/me\"\n", "");
        std::fs::write(store.path(), orphan).unwrap();
        let err = crate::error_sentence(&store.load().unwrap_err());
        assert!(err.contains("has an MFA source but no MFA device"), "{err}");
    }

    #[test]
    fn the_keychain_choice_round_trips_and_a_version_5_file_has_none() {
        use crate::secrets::Backend;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let v5 = "version = 5\nprofiles = [\"default\"]\n\n[settings]\nproxy = \"none\"\n";
        std::fs::write(store.path(), v5).unwrap();
        let mut locked = store.lock().unwrap();
        assert_eq!(locked.catalog.settings.keychain, None);
        assert_eq!(locked.catalog.settings.keychain_from, None);
        locked.catalog.settings.keychain = Some(Backend::File);
        locked.catalog.settings.keychain_from = Some(Backend::Os);
        locked.save().unwrap();
        drop(locked);
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(text.contains("version = 7"), "{text}");
        assert!(
            text.contains("keychain = \"file\"\nkeychain_from = \"os\"\n"),
            "{text}"
        );
        let settings = store.load().unwrap().settings;
        assert_eq!(
            (settings.keychain, settings.keychain_from),
            (Some(Backend::File), Some(Backend::Os))
        );
        std::fs::write(
            store.path(),
            "version = 6\n[settings]\nkeychain = \"vault\"\n",
        )
        .unwrap();
        let err = crate::error_sentence(&store.load().unwrap_err());
        assert!(
            err.contains("line 3") && err.contains("`os`, `file`, `pass`"),
            "{err}"
        );
    }

    #[test]
    fn network_settings_round_trip_and_a_version_4_file_has_none() {
        use crate::net::{NoProxy, ProxySetting, ProxyUrl, ProxyUser};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let v4 = "version = 4\nprofiles = [\"default\"]\n\n[settings]\npublish = \"file\"\n";
        std::fs::write(store.path(), v4).unwrap();
        let mut locked = store.lock().unwrap();
        assert_eq!(
            locked.catalog.settings.network,
            crate::net::Settings::default()
        );
        let network = crate::net::Settings {
            proxy: ProxySetting::Via(ProxyUrl::parse_setting("http://proxy.corp:3128").unwrap()),
            no_proxy: Some(NoProxy::new("localhost, .internal").unwrap()),
            proxy_user: Some(ProxyUser::new("alice").unwrap()),
            ca_bundle: Some(PathBuf::from(crate::test_abs("/etc/ssl/corp.pem"))),
        };
        locked.catalog.settings.network = network.clone();
        locked.save().unwrap();
        drop(locked);
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(text.contains("version = 7"), "{text}");
        assert!(
            text.contains(&format!("proxy = \"http://proxy.corp:3128\"\nno_proxy = \"localhost, .internal\"\nproxy_user = \"alice\"\nca_bundle = \"{}\"\n", crate::test_abs("/etc/ssl/corp.pem"))),
            "{text}"
        );
        assert_eq!(store.load().unwrap().settings.network, network);
        // `none` is a direct connection; a bad value is refused, naming the setting.
        std::fs::write(store.path(), "version = 5\n[settings]\nproxy = \"none\"\n").unwrap();
        assert_eq!(
            store.load().unwrap().settings.network.proxy,
            ProxySetting::Direct
        );
        for (bad, says) in [
            ("proxy = \"socks5://p:1080\"", "[settings] proxy: SOCKS"),
            ("no_proxy = \"a b\"", "[settings] no_proxy"),
            ("proxy_user = \"a:b\"", "[settings] proxy_user"),
            ("ca_bundle = \"relative.pem\"", "[settings] ca_bundle"),
        ] {
            std::fs::write(store.path(), format!("version = 5\n[settings]\n{bad}\n")).unwrap();
            let err = crate::error_sentence(&store.load().unwrap_err());
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn a_version_1_store_is_migrated_with_the_flavor_of_each_owned_section_inferred() {
        use crate::awsfiles::Flavor;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let text = "version = 1\nprofiles = [\"default\"]\n\n\
            [[owned]]\nfile = \"/h/.aws/credentials\"\nsection = \"default\"\n\n\
            [[owned]]\nfile = \"/h/.aws/config\"\nsection = \"default\"\n\n\
            [[owned]]\nfile = \"/h/.aws/config\"\nsection = \"profile dev\"\n\n\
            [[owned]]\nfile = \"/h/.aws/credentials\"\nsection = \"dev\"\n\n\
            [[owned]]\nfile = \"/h/creds-config-test\"\nsection = \"default\"\n"
            .replace("\"/h/", &format!("\"{}", crate::test_abs("/h/")));
        std::fs::write(store.path(), text).unwrap();
        let stored = store.load_all().unwrap();
        let flavors: Vec<Flavor> = stored.owned.iter().map(|o| o.flavor).collect();
        assert_eq!(
            flavors,
            [
                Flavor::Credentials,
                Flavor::Config,
                Flavor::Config,
                Flavor::Credentials,
                Flavor::Config
            ]
        );
        // Saved as the current version, with the flavors written down.
        let mut locked = store.lock().unwrap();
        locked.catalog.settings.extra_regions.clear();
        locked.owned[0].fingerprint = Some("x".to_owned());
        locked.save().unwrap();
        let saved = std::fs::read_to_string(store.path()).unwrap();
        assert!(saved.contains("version = 7"), "{saved}");
        assert_eq!(saved.matches("flavor = ").count(), 5, "{saved}");
        assert_eq!(store.load_all().unwrap().owned.len(), 5);
    }

    #[test]
    fn a_version_2_record_without_its_flavor_is_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let text = "version = 2\nprofiles = [\"default\"]\n\n[[owned]]\nfile = \"/h/.aws/config\"\nsection = \"default\"\n";
        std::fs::write(store.path(), text).unwrap();
        assert!(matches!(
            store.load().unwrap_err(),
            Error::Invalid { line: 4, .. }
        ));
    }

    #[test]
    fn an_unchanged_catalog_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        store.lock().unwrap().save().unwrap();
        assert!(!store.path().exists());
        let alias: Alias = "a".parse().unwrap();
        let mut locked = store.lock().unwrap();
        add_user(&mut locked.catalog, alias.as_str());
        locked.save().unwrap();
        assert!(store.path().exists());
    }
}
