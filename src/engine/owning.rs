//! The engine's side of owning `~/.aws` sections: taking the store's lock with interrupted
//! writes settled, publishing a profile (originals of taken-over sections into the keychain,
//! the intent saved, then the files written), and unpublishing it (originals put back, and
//! dropped from the keychain only once the store no longer points at them). Every step runs
//! under the one store lock its caller holds, so no check and its write are ever apart: a
//! keychain call lets it go meanwhile, and the step goes on only if the store did not move
//! (`gate`).

use zeroize::Zeroizing;

use secrecy::{ExposeSecret, SecretString};

use super::{Engine, Error, Event, refuse_deleting, session_in};
use crate::aws::Credentials;
use crate::awsfiles::{Contents, Original, Owned, Settled, TakenOver};
use crate::secrets::{Item, Key};
use crate::session::{ProfileName, Publish, Session, SessionId, State};
use crate::store::Locked;

/// What a session whose write was interrupted is told.
const INTERRUPTED: &str = "credtray was interrupted while writing this session's credentials; \
    stop it to remove them, or start it again";

/// Debug builds only: `CREDTRAY_FAILPOINT=<name>` aborts the process at the named point, so the
/// crash tests can kill it exactly there (and at random times too).
pub(super) fn failpoint(name: &str) {
    #[cfg(debug_assertions)]
    if std::env::var_os("CREDTRAY_FAILPOINT").is_some_and(|v| v == name) {
        eprintln!("credtray: failpoint {name}: aborting");
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}

/// Debug builds only: `CREDTRAY_FAILPOINT=<name>` with `CREDTRAY_FAILPOINT_RELEASE=<file>`
/// pauses the process the first time it passes the named point (`keychain-wait`: inside its
/// first keychain call, see `gate`; `store-wait`: holding the store's lock it just took), until
/// `<file>` exists (at most a minute), so a test can run another command meanwhile.
/// `<file>.waiting` is created once it waits.
pub(super) fn failpoint_wait(name: &str) {
    #[cfg(debug_assertions)]
    {
        static PASSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if std::env::var_os("CREDTRAY_FAILPOINT").is_none_or(|v| v != name)
            || PASSED.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        let Some(release) = std::env::var_os("CREDTRAY_FAILPOINT_RELEASE") else {
            return;
        };
        let release = std::path::PathBuf::from(release);
        let mut waiting = release.clone().into_os_string();
        waiting.push(".waiting");
        eprintln!(
            "credtray: failpoint {name}: waiting for {}",
            release.display()
        );
        let _ = std::fs::write(&waiting, b"");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !release.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}

impl Engine {
    /// The store's lock, with the records of writes a crash interrupted settled first (see
    /// [`crate::awsfiles::Files::reconcile`]).
    pub(super) fn lock(&self) -> Result<Locked, Error> {
        let mut locked = self.store.lock()?;
        self.secrets.hold(&locked);
        failpoint_wait("store-wait");
        if locked.owned.iter().any(|o| o.intent.is_some()) {
            let mut owned = std::mem::take(&mut locked.owned);
            let settled = self.files.reconcile(&mut owned);
            locked.owned = owned;
            for settled in settled {
                match settled {
                    Settled::Dropped(record) => {
                        tracing::info!(section = %record.section, "an interrupted write never happened; its record is dropped");
                        self.forget_original(&locked.owned, &record);
                    }
                    Settled::Kept(record) => {
                        tracing::info!(section = %record.section, "an interrupted write happened; credtray owns the section");
                        // A move of keys that happened leaves nothing to clean up.
                        let moved = record.taken_over.as_ref().is_some_and(|t| {
                            t.kept && record.fingerprint.as_ref() == Some(&t.fingerprint)
                        });
                        if let Some(id) = record.intent
                            && !moved
                            && locked.catalog.get(id).is_some_and(|s| {
                                matches!(s.state, State::Inactive | State::Pending)
                            })
                        {
                            locked.catalog.set_state(
                                id,
                                State::Error(INTERRUPTED.to_owned()),
                                None,
                            );
                        }
                    }
                }
            }
            locked.save()?;
        }
        Ok(locked)
    }

    /// Publishes the session's profile and records it active, all under one lock: `file`
    /// mode writes the credentials; `process` mode writes only the `credential_process` line
    /// (the credentials were obtained to check they can be, and to ask for an MFA code now,
    /// with an IAM user's token cached in the keychain for `credential-process`), and keeps
    /// the credentials file's section out. A section taken over has its original kept in the
    /// keychain and the intent saved before any file changes.
    pub(super) fn publish(
        &mut self,
        id: SessionId,
        credentials: &Credentials,
        take_over: bool,
        refresh: bool,
    ) -> Result<Session, Error> {
        let mut locked = self.lock()?;
        let session = session_in(&locked.catalog, id)?;
        if refresh && session.state != State::Active {
            tracing::info!(%id, "the session was stopped during its refresh; the new credentials are dropped");
            return Ok(session);
        }
        let command = match session.publish {
            Publish::File => None,
            Publish::Process => {
                let cli = self.cli.as_deref().ok_or(Error::NoCli)?;
                Some(crate::aws::process::command(cli, id)?)
            }
        };
        let contents = match &command {
            None => Contents::Credentials {
                region: &session.region,
                credentials,
            },
            Some(command) => Contents::Process {
                region: &session.region,
                command,
            },
        };
        self.adopt_kept_edits(&mut locked, &session.profile)?;
        let plan = self
            .files
            .plan(&session.profile, &locked.owned, take_over)?;
        self.keep_originals(id, &plan.originals, &locked.owned)?;
        self.files.intend(&plan, id, contents, &mut locked.owned);
        if let Err(e) = locked.save() {
            // No saved record points at the originals just kept.
            self.drop_originals(id, &plan.originals, &[]);
            return Err(e.into());
        }
        failpoint("after-intent");
        let mut owned = std::mem::take(&mut locked.owned);
        let result = self.files.write(&plan, contents, &mut owned);
        locked.owned = owned;
        let written = match result {
            Ok((_, written)) => written,
            Err(e) => {
                // The write put back what it changed and dropped its intents.
                self.drop_originals(id, &plan.originals, &locked.owned);
                locked.save()?;
                return Err(e.into());
            }
        };
        failpoint("after-write");
        let others: Vec<SessionId> = locked
            .catalog
            .sessions()
            .iter()
            .filter(|s| s.id != id && s.profile == session.profile && s.state == State::Active)
            .map(|s| s.id)
            .collect();
        for other in &others {
            locked.catalog.set_state(*other, State::Inactive, None);
        }
        locked
            .catalog
            .set_state(id, State::Active, Some(credentials.expiration));
        locked.catalog.set_issued(id, credentials.issued);
        if !refresh {
            locked
                .catalog
                .set_last_used(id, time::OffsetDateTime::now_utc());
        }
        if let Err(e) = locked.save() {
            // The store can't record what was written: undo the write (still under the lock):
            // a refresh's old values, a taken-over original, or no section at all, as the
            // saved store says.
            let mut owned = locked.owned.clone();
            self.files.undo(&plan, written, &mut owned);
            self.drop_originals(id, &plan.originals, &owned);
            return Err(e.into());
        }
        for other in others {
            self.emit(Event::StateChanged {
                id: other,
                state: State::Inactive,
            });
        }
        session_in(&locked.catalog, id)
    }

    /// Moves the long-term keys of an IAM-user session's profile out of the AWS files
    /// (`import --move-keys`): only once the keychain gives back the very keys that are in the
    /// files, and each section minus its keys (the original the session gives back when it
    /// stops) is kept there too. The sections become the session's for good. Returns the
    /// backup files, which record what was removed with the values replaced by a note.
    pub fn move_keys(&self, id: SessionId) -> Result<Vec<std::path::PathBuf>, Error> {
        let mut locked = self.lock()?;
        let session = session_in(&locked.catalog, id)?;
        refuse_deleting(&session)?;
        let keys = match self.read_keys(id)? {
            [Some(access_key_id), Some(secret_access_key)] => crate::session::IamUserKeys {
                access_key_id: crate::session::AccessKeyId::parse(&access_key_id)?,
                secret_access_key: crate::session::SecretAccessKey::parse(&secret_access_key)?,
            },
            _ => {
                return Err(Error::MissingKeys {
                    alias: session.alias.to_string(),
                });
            }
        };
        let plan = self
            .files
            .plan_move(&session.profile, &locked.owned, &keys)?;
        let keyed = plan.originals(true);
        self.keep_originals(id, &keyed, &locked.owned)?;
        self.files.intend_move(&plan, id, &mut locked.owned);
        if let Err(e) = locked.save() {
            self.drop_originals(id, &keyed, &[]);
            return Err(e.into());
        }
        failpoint("after-move-intent");
        let mut owned = std::mem::take(&mut locked.owned);
        let result = self.files.write_move(&plan, &mut owned);
        locked.owned = owned;
        if result.is_err() {
            self.drop_originals(id, &keyed, &locked.owned);
        } else {
            // The rest of the profile's sections, claimed only now that the keys are gone; if
            // their originals can't be kept, they stay the user's (a start then asks to take
            // them over).
            let rest = plan.originals(false);
            match self.keep_originals(id, &rest, &locked.owned) {
                Ok(()) => self.files.claim_the_rest(&plan, id, &mut locked.owned),
                Err(e) => {
                    tracing::warn!(error = %e, "the sections without keys stay the user's");
                }
            }
        }
        locked.save()?;
        Ok(result?)
    }

    /// Removes a profile's owned sections, putting taken-over originals back, and updates the
    /// catalog's records (the caller saves, then calls [`Self::forget_originals`] with what
    /// this returns: an original leaves the keychain only once no saved record points at it).
    /// A section taken over for good stays claimed by its session when `keeps` says so (see
    /// [`crate::awsfiles::TakenOver::kept`]).
    pub(super) fn unpublish(
        &self,
        locked: &mut Locked,
        profile: &ProfileName,
        keeps: impl Fn(&TakenOver) -> bool,
    ) -> Result<Vec<Owned>, Error> {
        let originals = self.originals(&locked.owned, profile)?;
        let mut owned = std::mem::take(&mut locked.owned);
        let result = self.files.unpublish(profile, &mut owned, &originals, keeps);
        locked.owned = owned;
        Ok(result?)
    }

    /// Drops from the keychain the originals of records that are gone from the saved store.
    pub(super) fn forget_originals(&self, locked: &Locked, removed: &[Owned]) {
        for record in removed {
            self.forget_original(&locked.owned, record);
        }
    }

    fn forget_original(&self, owned: &[Owned], record: &Owned) {
        let Some(taken) = &record.taken_over else {
            return;
        };
        let still_needed = owned.iter().any(|o| {
            o.flavor == record.flavor
                && o.taken_over
                    .as_ref()
                    .is_some_and(|t| t.session == taken.session)
        });
        if still_needed {
            return;
        }
        let key = Key::new(taken.session, Item::taken_over(record.flavor));
        if let Err(e) = self.secrets.delete(key) {
            tracing::warn!(account = %key, error = %e, "could not remove the kept original of a section given back");
        }
    }

    /// The originals the records of `profile` kept, read from the keychain. A missing entry is
    /// left out (unpublish then says so); an unreachable keychain stops everything.
    fn originals(&self, owned: &[Owned], profile: &ProfileName) -> Result<Vec<Original>, Error> {
        let mut originals = Vec::new();
        for record in owned {
            let Some(taken) = &record.taken_over else {
                continue;
            };
            if record.section != record.flavor.section(profile) {
                continue;
            }
            let key = Key::new(taken.session, Item::taken_over(record.flavor));
            if let Some(text) = self.secrets.get(key)? {
                originals.push(Original {
                    flavor: record.flavor,
                    text: Zeroizing::new(text.expose_secret().to_owned()),
                });
            }
        }
        Ok(originals)
    }

    /// Keeps the originals a plan takes over in the keychain, read back to be sure, before
    /// anything else changes; all or none.
    pub(super) fn keep_originals(
        &self,
        id: SessionId,
        originals: &[Original],
        owned: &[Owned],
    ) -> Result<(), Error> {
        for original in originals {
            // One entry per session and file: one still kept for another profile can't be
            // replaced without losing it.
            if let Some(record) = owned.iter().find(|o| {
                o.flavor == original.flavor
                    && o.taken_over.as_ref().is_some_and(|t| t.session == id)
            }) {
                return Err(Error::KeepsOriginal {
                    section: record.section.clone(),
                });
            }
        }
        let mut kept = Vec::new();
        for original in originals {
            let key = Key::new(id, Item::taken_over(original.flavor));
            let value = SecretString::from(original.text.as_str().to_owned());
            if let Err(e) = self.set_verified(key, &value) {
                for flavor in kept {
                    let _ = self.secrets.delete(Key::new(id, Item::taken_over(flavor)));
                }
                let _ = self.secrets.delete(key);
                return Err(e.into());
            }
            kept.push(original.flavor);
        }
        Ok(())
    }

    /// Best effort: removes the originals of a publish that did not happen, except those a
    /// record in `owned` still needs (its file could not be put back).
    fn drop_originals(&self, id: SessionId, originals: &[Original], owned: &[Owned]) {
        for original in originals {
            let needed = owned.iter().any(|o| {
                o.flavor == original.flavor
                    && o.taken_over.as_ref().is_some_and(|t| t.session == id)
            });
            if needed {
                continue;
            }
            let key = Key::new(id, Item::taken_over(original.flavor));
            if let Err(e) = self.secrets.delete(key) {
                tracing::warn!(account = %key, error = %e, "could not remove the kept original of a take-over that did not happen");
            }
        }
    }

    /// A section taken over for good that the user changed while it was theirs (not
    /// published): the new text becomes its original (kept in the keychain, read back, before
    /// the store says so); for one they removed the claim rests on nothing, its original
    /// forgotten, so that a delete still knows the keys moved from there have no home. Saved
    /// before any publish.
    fn adopt_kept_edits(&self, locked: &mut Locked, profile: &ProfileName) -> Result<(), Error> {
        let edits = self.files.kept_edits(profile, &locked.owned);
        if edits.is_empty() {
            return Ok(());
        }
        for edit in &edits {
            let Some(original) = &edit.text else {
                continue;
            };
            let key = Key::new(edit.session, Item::taken_over(edit.flavor));
            let value = SecretString::from(original.text.as_str().to_owned());
            self.set_verified(key, &value)?;
            tracing::info!(section = %edit.section, "a section taken over for good was changed by its owner; that text is its original now");
        }
        self.files.adopt_kept_edits(&edits, &mut locked.owned);
        locked.save()?;
        for edit in edits.iter().filter(|e| e.text.is_none()) {
            tracing::info!(section = %edit.section, "a section taken over for good was removed by its owner; the claim stays, on no section");
            let key = Key::new(edit.session, Item::taken_over(edit.flavor));
            if let Err(e) = self.secrets.delete(key) {
                tracing::warn!(account = %key, error = %e, "could not remove the kept original of a section its owner removed");
            }
        }
        Ok(())
    }

    /// Records a failed start or refresh as the session's error, unless (a refresh) the
    /// session was stopped meanwhile: checked and written under one lock.
    pub(super) fn record_failure(
        &self,
        id: SessionId,
        message: String,
        refresh: bool,
    ) -> Result<(), Error> {
        let mut locked = self.lock()?;
        let Some(session) = locked.catalog.get(id) else {
            return Ok(());
        };
        if refresh && session.state != State::Active {
            return Ok(());
        }
        locked.catalog.set_state(id, State::Error(message), None);
        locked.save()?;
        Ok(())
    }
}
