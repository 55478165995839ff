//! Running sessions: start, stop, rotate, test (a real dry run). The credentials behind them
//! come from one source per kind (`kinds`).

use time::OffsetDateTime;

use super::prompt::Prompt;
use super::{Engine, Error, Event, refuse_deleting, session_in};
use crate::aws::Credentials;
use crate::session::{
    AccessKeyId, Catalog, Edit, ProfileName, SecretAccessKey, Session, SessionId, State,
};

/// One session rotation touched, and how it went.
pub type Rotated = (SessionId, Result<(), Error>);

/// What a dry run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tested {
    pub caller_arn: String,
    pub expiration: OffsetDateTime,
}

/// How credentials are resolved.
#[derive(Clone, Copy)]
pub(super) enum Mode<'a> {
    /// Use and refresh the cached session token.
    Live,
    /// A dry run of `target`: fresh credentials for it (from `keys` where given), nothing
    /// written anywhere; its assumers may use their cached tokens.
    DryRun {
        target: SessionId,
        keys: &'a ProposedKeys,
    },
}

/// Keys a dry run should use instead of the stored ones.
#[derive(Default)]
pub struct ProposedKeys {
    pub access_key_id: Option<AccessKeyId>,
    pub secret_access_key: Option<SecretAccessKey>,
}

impl Mode<'_> {
    pub(super) fn writes(&self) -> bool {
        matches!(self, Mode::Live)
    }

    pub(super) fn fresh(&self, id: SessionId) -> bool {
        matches!(self, Mode::DryRun { target, .. } if *target == id)
    }
}

/// Whether the profile's sections are this session's to remove: it is not inactive (an `error`
/// or `pending` session may still have credentials written) and no other session is the active
/// one on that profile.
pub(super) fn holds_profile(catalog: &Catalog, session: &Session) -> bool {
    session.state.is_running()
        && !catalog
            .sessions()
            .iter()
            .any(|o| o.id != session.id && o.profile == session.profile && o.state == State::Active)
}

impl Engine {
    /// Starts a session: obtains its credentials and writes them to its named profile, stopping
    /// any other session active on that profile.
    pub fn start(
        &mut self,
        id: SessionId,
        prompt: &mut dyn Prompt,
        take_over: bool,
    ) -> Result<Session, Error> {
        self.start_or_refresh(id, prompt, take_over, false)
    }

    /// A start, or (`refresh`) a rotation's refresh: that one publishes only if the session is
    /// still active when its credentials arrive (it may have been stopped meanwhile), and any
    /// failure marks the session `error`, so it is not retried (and asked about) every minute.
    fn start_or_refresh(
        &mut self,
        id: SessionId,
        prompt: &mut dyn Prompt,
        take_over: bool,
        refresh: bool,
    ) -> Result<Session, Error> {
        let stored = self.store.load_all()?;
        let catalog = stored.catalog;
        let session = session_in(&catalog, id)?;
        refuse_deleting(&session)?;
        // Refuse a foreign profile before asking anyone for anything, and change nothing (the
        // publish checks again under the lock).
        self.files
            .plan(&session.profile, &stored.owned, take_over)?;
        self.emit(Event::StateChanged {
            id,
            state: State::Pending,
        });
        let result = self
            .credentials(&catalog, &session, prompt, Mode::Live)
            .and_then(|credentials| {
                retrying(|| self.publish(id, &credentials, take_over, refresh))
            });
        match result {
            Ok(session) => {
                tracing::info!(%id, kind = %session.kind.tag(), "started session");
                self.emit(Event::StateChanged {
                    id,
                    state: State::Active,
                });
                Ok(session)
            }
            Err(e) => {
                if refresh || !e.is_invalid_input() {
                    self.record_failure(id, crate::error_sentence(&e), refresh)?;
                }
                Err(e)
            }
        }
    }

    /// Stops a session: removes its profile's sections (if it is the one active there).
    /// A taken-over section gets the user's original back.
    pub fn stop(&mut self, id: SessionId) -> Result<Session, Error> {
        retrying(|| self.stop_once(id))
    }

    fn stop_once(&mut self, id: SessionId) -> Result<Session, Error> {
        let mut locked = self.lock()?;
        let session = session_in(&locked.catalog, id)?;
        refuse_deleting(&session)?;
        let removed = if holds_profile(&locked.catalog, &session) {
            let live = live_sessions(&locked.catalog, &session.profile);
            match self.unpublish(&mut locked, &session.profile, |t| live.contains(&t.session)) {
                Ok(removed) => removed,
                Err(e) => {
                    locked.save()?;
                    return Err(e);
                }
            }
        } else {
            Vec::new()
        };
        locked.catalog.set_state(id, State::Inactive, None);
        locked.save()?;
        self.forget_originals(&locked, &removed);
        let stopped = session_in(&locked.catalog, id)?;
        drop(locked);
        self.emit(Event::StateChanged {
            id,
            state: State::Inactive,
        });
        tracing::info!(%id, "stopped session");
        Ok(stopped)
    }

    /// Stops every session that is not inactive.
    pub fn stop_all(&mut self) -> Result<Vec<Session>, Error> {
        let ids: Vec<SessionId> = self
            .store
            .load()?
            .sessions()
            .iter()
            .filter(|s| s.state.is_running())
            .map(|s| s.id)
            .collect();
        ids.into_iter().map(|id| self.stop(id)).collect()
    }

    /// Refreshes every active session whose credentials have less than the refresh margin
    /// left. Returns what happened to each one it touched.
    pub fn rotate(&mut self, prompt: &mut dyn Prompt) -> Result<Vec<Rotated>, Error> {
        let now = self.now();
        let due: Vec<SessionId> = self
            .store
            .load()?
            .sessions()
            .iter()
            .filter(|s| {
                s.state == State::Active
                    && s.expiration
                        .is_none_or(|e| crate::aws::refresh_due(s.issued, e, now))
            })
            .map(|s| s.id)
            .collect();
        Ok(due
            .into_iter()
            .map(|id| {
                let result = self.start_or_refresh(id, prompt, false, true).map(drop);
                (id, result)
            })
            .collect())
    }

    /// Test credential generation: fresh credentials for `session` as given (saved or not,
    /// with `keys` replacing the stored ones), then GetCallerIdentity. Writes nothing.
    pub fn test(
        &mut self,
        session: &Session,
        keys: &ProposedKeys,
        prompt: &mut dyn Prompt,
    ) -> Result<Tested, Error> {
        let catalog = self.store.load()?;
        let mode = Mode::DryRun {
            target: session.id,
            keys,
        };
        let credentials = self.credentials(&catalog, session, prompt, mode)?;
        let caller_arn = self
            .sts
            .get_caller_identity(&session.region, &credentials)
            .map_err(|e| Error::sts(session, e))?;
        tracing::info!(id = %session.id, "test credential generation succeeded");
        Ok(Tested {
            caller_arn,
            expiration: credentials.expiration,
        })
    }

    /// A dry run of an edit: the session as it would be after `edit`, tested; nothing saved.
    /// An edit that changes nothing tests the session as saved.
    pub fn test_edit(
        &mut self,
        id: SessionId,
        edit: Edit,
        prompt: &mut dyn Prompt,
    ) -> Result<Tested, Error> {
        let mut catalog = self.store.load()?;
        if edit.is_empty() {
            let session = session_in(&catalog, id)?;
            return self.test(&session, &ProposedKeys::default(), prompt);
        }
        let outcome = catalog.edit(id, &edit)?;
        let keys = ProposedKeys {
            access_key_id: edit.access_key_id,
            secret_access_key: edit.secret_access_key,
        };
        self.test(&outcome.session, &keys, prompt)
    }

    /// Credentials for `credential_process`: cached or fresh, never published.
    pub fn credentials_for(
        &mut self,
        id: SessionId,
        prompt: &mut dyn Prompt,
    ) -> Result<Credentials, Error> {
        let catalog = self.store.load()?;
        self.credentials_in(&catalog, id, prompt)
    }

    /// [`Self::credentials_for`] with the catalog the caller already loaded (the agent reads
    /// the store once per request).
    pub fn credentials_in(
        &mut self,
        catalog: &Catalog,
        id: SessionId,
        prompt: &mut dyn Prompt,
    ) -> Result<Credentials, Error> {
        let session = session_in(catalog, id)?;
        self.credentials(catalog, &session, prompt, Mode::Live)
    }
}

/// How many times a step is tried when the store keeps changing under it.
const TRIES: u32 = 3;

/// Runs `step` again (at most [`TRIES`] times in all) while it fails only because another
/// command changed the store while this one was at the keychain with the store's lock let go:
/// such a step undid its own keychain writes and changed no file (see `gate`), so trying again
/// decides afresh on the store as it is now.
pub(super) fn retrying<T>(mut step: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
    let mut tries = 1;
    loop {
        match step() {
            Err(e) if moved(&e) && tries < TRIES => {
                tracing::info!(error = %e, "the store changed meanwhile; trying again");
                tries += 1;
            }
            result => return result,
        }
    }
}

/// Whether `e` says the store changed while the command was at the keychain.
pub(super) fn moved(e: &Error) -> bool {
    matches!(
        e,
        Error::Store(crate::store::Error::Moved { .. })
            | Error::Secrets(crate::secrets::Error::Moved { .. })
    )
}

/// The sessions that may keep a section of `profile` taken over for good: those on it, none
/// being deleted.
pub(super) fn live_sessions(catalog: &Catalog, profile: &ProfileName) -> Vec<SessionId> {
    catalog
        .sessions()
        .iter()
        .filter(|s| s.state != State::Deleting && s.profile == *profile)
        .map(|s| s.id)
        .collect()
}
