//! The engine: the one owner of session state. CLI and tray send it commands and render the
//! events it emits; it keeps the store, the keychain, STS and the AWS files in step. Every
//! change runs under the store's lock (load, change, save, with interrupted writes settled
//! first) and writes secrets before the store, undoing them if the store can't be saved, so a
//! failed command leaves no trace. No keychain call holds that lock (`gate`). Defining
//! sessions lives here; running them (start, stop, rotate, test) in `run`; owning `~/.aws`
//! sections (publish, unpublish, the kept originals of taken-over sections) in `owning`.

pub mod desktop;
mod gate;
mod importing;
pub mod keychain;
mod keys;
mod kinds;
pub mod network;
mod owning;
mod prompt;
mod remembered;
mod run;
mod sso;
mod sync_turn;

pub use kinds::definition;
pub use prompt::{MfaAsk, MfaNotice, NoAssertion, NoPrompt, Prompt, SamlLogin};
pub use remembered::Remembered;
pub use run::{ProposedKeys, Tested};
pub use sso::{SyncPhase, SyncProgress, SyncReport, logged_out_integration};

use std::sync::Arc;

use time::OffsetDateTime;

use secrecy::{ExposeSecret, SecretString};

use crate::aws::{self, Sts};
use crate::awsfiles::{self, Files};
use crate::secrets::{self, Item, Key, SecretStore};
use crate::session::{
    self, Alias, Catalog, Edit, EditOutcome, ExternalId, Field, IamUserKeys, Integration,
    IntegrationEdit, IntegrationId, NewIntegration, NewSession, ProfileName, Publish, RoleArn,
    RoleSessionName, Session, SessionId, State, ValidationError,
};
use crate::store::{self, Store};

/// A chained session to create from an assumer ([`Engine::chain`]); what is left out gets
/// the assumer's defaults.
#[derive(Debug)]
pub struct Chain {
    pub role_arn: RoleArn,
    pub alias: Option<Alias>,
    pub role_session_name: Option<RoleSessionName>,
    pub external_id: Option<ExternalId>,
    pub profile: Option<ProfileName>,
    pub region: Option<String>,
    /// `None`: the settings' default, like any new session.
    pub publish: Option<Publish>,
}

/// What [`Engine::delete`] did.
#[derive(Debug)]
pub struct Deleted {
    /// The sessions deleted, dependents first.
    pub sessions: Vec<Session>,
    /// What became of the long-term keys `import --move-keys` had taken off the disk for them.
    pub moved_keys: Vec<MovedKeys>,
}

/// What a delete does with the long-term keys `import --move-keys` moved to the keychain when
/// the section they came from is gone: the keychain holds their only copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HomelessKeys {
    /// The delete refuses ([`Error::KeysWouldBeLost`]) and nothing changes.
    Refuse,
    /// They are deleted with the session (`session delete --discard-keys`).
    Discard,
}

/// The moved keys of one deleted session, and where they went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedKeys {
    pub alias: String,
    /// The file and section they were moved from.
    pub path: std::path::PathBuf,
    pub section: String,
    pub fate: KeysFate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysFate {
    /// Back in their section.
    WrittenBack,
    /// Not written: the section holds other keys, or the profile another credential source,
    /// which stay; the moved ones went with the session.
    OtherKeys,
    /// Deleted with the session, whose section is gone ([`HomelessKeys::Discard`]).
    Discarded,
}

impl MovedKeys {
    /// What the person is told.
    pub fn sentence(&self) -> String {
        let (alias, section, path) = (&self.alias, &self.section, self.path.display());
        match self.fate {
            KeysFate::WrittenBack => format!(
                "the long-term keys of session {alias:?} are back in [{section}] of {path}, where `import --move-keys` had taken them from"
            ),
            KeysFate::OtherKeys => format!(
                "the long-term keys of session {alias:?} were not written back: [{section}] of {path} holds other keys now, or its profile another credential source, which stay as they are; the moved keys were deleted with the session"
            ),
            KeysFate::Discarded => format!(
                "the long-term keys of session {alias:?} were deleted with it, as asked: [{section}] of {path}, where they came from, is gone"
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Session(#[from] session::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Secrets(#[from] secrets::Error),
    #[error(transparent)]
    Files(#[from] awsfiles::Error),
    // The cause is in the message, not a source: a chain printed whole would say it twice.
    #[error("session {alias:?}: {cause}")]
    Sts {
        alias: String,
        cause: aws::sts::Error,
    },
    #[error(
        "session {alias:?} needs an MFA code: give it with --mfa-code (or start it from the tray)"
    )]
    NeedsMfaCode { alias: String },
    #[error(
        "the MFA code for session {alias:?} was already used; wait for the next code and try again"
    )]
    MfaCodeReused { alias: String },
    #[error("no MFA code for session {alias:?} from its MFA source: {reason}")]
    MfaSource { alias: String, reason: String },
    #[error(
        "session {alias:?} needs a SAML assertion from its identity provider: log in from a desktop (the login window needs a display), or give it with --saml-assertion -"
    )]
    NeedsSamlAssertion { alias: String },
    #[error("could not log in to the identity provider of session {alias:?}: {reason}")]
    SamlLogin {
        alias: String,
        // In the message, not a source: a chain printed whole would say it twice.
        reason: NoAssertion,
    },
    #[error(
        "the keys of session {alias:?} are missing from the OS keychain; set them with `credtray session edit {alias:?} --access-key-id - --secret-access-key -`"
    )]
    MissingKeys { alias: String },
    #[error(
        "session {alias:?} is being deleted, but its keychain entry {account} could not be removed; it stays in the list as `deleting` until `credtray session delete` is run again"
    )]
    LeftSecrets {
        alias: String,
        account: String,
        #[source]
        source: secrets::Error,
    },
    #[error(
        "this session already keeps the original of [{section}], which it took over, until the session now on that profile stops; stop that one first"
    )]
    KeepsOriginal { section: String },
    #[error("session {alias:?} is being deleted; run `credtray session delete` again to finish")]
    Deleting { alias: String },
    #[error(transparent)]
    Unquotable(#[from] aws::process::Unquotable),
    #[error("cannot find the path of the credtray executable to name it as a credential_process")]
    NoCli,
    #[error(
        "integration {integration:?} is logged out{why}: log in with `credtray integration login {integration:?}` (or Integrations ▸ Log in… in the tray)"
    )]
    LoggedOut { integration: String, why: String },
    // In the message, not a source, as for `Sts`.
    #[error("integration {integration:?}: {cause}")]
    Sso {
        integration: String,
        cause: aws::sso::Error,
    },
    #[error(
        "no access to role {role} in account {account}: IAM Identity Center no longer assigns it to you"
    )]
    NoAccess { role: String, account: String },
    #[error("the login was cancelled")]
    LoginCancelled,
    #[error("the sync of {integration} was cancelled before it changed anything")]
    SyncCancelled { integration: String },
    /// A sync waited for another command's sync of the same integration, which failed.
    #[error("the sync of {integration} that {holder} ran meanwhile failed: {why}")]
    SyncedMeanwhile {
        integration: String,
        holder: String,
        why: String,
    },
    #[error(transparent)]
    Saml(#[from] aws::saml::Error),
    #[error("this credtray has no IAM Identity Center client")]
    NoSsoClient,
    #[error(transparent)]
    KeysStay(awsfiles::Refused),
    #[error(
        "session {alias:?} holds the only copy of the long-term keys `import --move-keys` took from [{section}] of {}, and that section is gone: deleting the session would destroy them. Put the section back (even empty) to have them written into it, or delete with --discard-keys to destroy them",
        .path.display()
    )]
    KeysWouldBeLost {
        alias: String,
        path: std::path::PathBuf,
        section: String,
    },
    #[error(
        "session {alias:?} holds the only copy of the long-term keys `import --move-keys` took from [{section}] of {}, where session {holder:?} runs now: stop {holder:?} first, then delete {alias:?} to have the keys written back",
        .path.display()
    )]
    KeysHomeHeld {
        alias: String,
        holder: String,
        path: std::path::PathBuf,
        section: String,
    },
    #[error(transparent)]
    Network(#[from] crate::net::Error),
    /// The store of secrets can't be chosen or moved as asked (the sentence says why).
    #[error("{0}")]
    Keychain(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<awsfiles::Refused> for Error {
    fn from(e: awsfiles::Refused) -> Self {
        match e {
            awsfiles::Refused::Files(e) => Error::Files(e),
            other => Error::KeysStay(other),
        }
    }
}

impl Error {
    /// Whether the caller's input is at fault (CLI exit code 2) rather than the system (1).
    pub fn is_invalid_input(&self) -> bool {
        match self {
            Error::Session(_) => true,
            Error::Store(e) => e.is_invalid_input(),
            Error::Secrets(_) => false,
            Error::Files(e) => e.is_invalid_input(),
            // A bundle or a proxy the user named that can't be used.
            Error::Network(e) => matches!(
                e,
                crate::net::Error::Bundle { .. } | crate::net::Error::Proxy(_)
            ),
            Error::NeedsMfaCode { .. }
            | Error::MfaCodeReused { .. }
            | Error::MfaSource { .. }
            | Error::NeedsSamlAssertion { .. }
            | Error::SamlLogin { .. }
            | Error::KeepsOriginal { .. }
            | Error::KeysWouldBeLost { .. }
            | Error::KeysHomeHeld { .. }
            | Error::Deleting { .. }
            | Error::Saml(_) => true,
            Error::LoggedOut { .. }
            | Error::Sso { .. }
            | Error::NoAccess { .. }
            | Error::LoginCancelled
            | Error::SyncCancelled { .. }
            | Error::SyncedMeanwhile { .. }
            | Error::NoSsoClient => false,
            Error::Sts { .. }
            | Error::MissingKeys { .. }
            | Error::LeftSecrets { .. }
            | Error::Unquotable(_)
            | Error::NoCli
            | Error::KeysStay(_)
            | Error::Keychain(_)
            | Error::Internal(_) => false,
        }
    }

    fn unknown(id: SessionId) -> Self {
        Error::Session(session::Error::UnknownSession(id.to_string()))
    }

    fn sts(session: &Session, cause: aws::sts::Error) -> Self {
        Error::Sts {
            alias: session.alias.to_string(),
            cause,
        }
    }
}

/// What the engine tells its front ends while a command is still running (its result is
/// returned): the tray shows a session as starting, or stopped by another's start, at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    StateChanged {
        id: SessionId,
        state: session::State,
    },
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        Error::Session(e.into())
    }
}

pub struct Engine {
    store: Store,
    /// The keychain, called with the store's lock let go (see `gate`).
    secrets: gate::Gate,
    files: Files,
    sts: Arc<dyn Sts>,
    /// MFA codes used recently: this engine's own, or its process's (see [`Remembered`]).
    used_codes: Arc<kinds::UsedCodes>,
    /// The `credtray` CLI a profile published as a process names (see
    /// [`aws::process::cli_for`]).
    cli: Option<std::path::PathBuf>,
    clock: fn() -> OffsetDateTime,
    /// Waits in real time (for the next MFA code); tests replace it with the clock's.
    pause: fn(std::time::Duration),
    sink: Box<dyn FnMut(&Event) + Send>,
    /// The process's credentials in memory, when it is long-lived (the agent).
    remembered: Option<Arc<Remembered>>,
    /// IAM Identity Center, for integrations.
    sso: Option<Arc<dyn aws::sso::Sso>>,
    /// Where the autostart entry and the cookies are; `None`: the environment's.
    places: Option<desktop::Places>,
    /// Which store `secrets` is (see `keychain.rs`).
    keychain: crate::secrets::chosen::InUse,
}

impl Engine {
    pub fn new(
        store: Store,
        secrets: Arc<dyn SecretStore>,
        files: Files,
        sts: Arc<dyn Sts>,
    ) -> Self {
        Self {
            secrets: gate::Gate::new(secrets, store.dir()),
            store,
            files,
            sts,
            used_codes: Arc::default(),
            cli: std::env::current_exe()
                .ok()
                .map(|exe| aws::process::cli_for(&exe)),
            clock: OffsetDateTime::now_utc,
            pause: std::thread::sleep,
            sink: Box::new(|event| tracing::debug!(?event, "engine event")),
            remembered: None,
            sso: None,
            places: None,
            keychain: crate::secrets::chosen::InUse::default(),
        }
    }

    /// Gives the engine an IAM Identity Center client, for integrations and their sessions.
    pub fn with_sso(mut self, sso: Arc<dyn aws::sso::Sso>) -> Self {
        self.sso = Some(sso);
        self
    }

    /// Keeps the credentials this engine obtains in `remembered` too, and serves them from
    /// there while they are fresh (a long-lived process: the agent). The process's record of used MFA codes is shared through it too, so a code one engine
    /// used is refused to the next.
    pub fn remember_in(&mut self, remembered: Arc<Remembered>) {
        self.used_codes = remembered.used_codes().clone();
        self.remembered = Some(remembered);
    }

    /// Where events go (the tray renders them; the CLI logs them).
    pub fn on_event(&mut self, sink: impl FnMut(&Event) + Send + 'static) {
        self.sink = Box::new(sink);
    }

    /// Names another `credtray` as the credential_process of profiles published as a process.
    pub fn set_cli(&mut self, cli: impl Into<std::path::PathBuf>) {
        self.cli = Some(cli.into());
    }

    /// Replaces the clock, for tests of expiry and rotation.
    pub fn set_clock(&mut self, clock: fn() -> OffsetDateTime) {
        self.clock = clock;
    }

    /// Replaces the waits, for tests with a clock of their own.
    pub fn set_pause(&mut self, pause: fn(std::time::Duration)) {
        self.pause = pause;
    }

    fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    fn emit(&mut self, event: Event) {
        (self.sink)(&event);
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The catalog as stored now.
    pub fn catalog(&self) -> Result<Catalog, Error> {
        Ok(self.store.load()?)
    }

    /// Adds a session; an IAM user's keys go to the keychain, and only there.
    pub fn add(&self, new: NewSession, keys: Option<IamUserKeys>) -> Result<Session, Error> {
        let kind = new.kind.tag();
        match (&keys, kind.has_keys()) {
            (None, true) => {
                return Err(ValidationError::new(
                    Field::AccessKeyId,
                    "an iam-user session needs its access key id and secret access key",
                )
                .into());
            }
            (Some(_), false) => {
                return Err(session::Error::NotApplicable {
                    field: Field::AccessKeyId,
                    kind,
                }
                .into());
            }
            _ => {}
        }
        // The keys go to the keychain before the store's lock is taken (a keychain may ask to
        // be unlocked; no other command waits on that): the id is new, so nothing else can
        // touch them meanwhile. A definition the store refuses is refused before they are
        // written; one it refuses only under the lock takes them with it.
        self.store.load()?.add(new.clone())?;
        let id = SessionId::new();
        if let Some(keys) = &keys {
            self.write_keys(
                id,
                Some(keys.access_key_id.secret()),
                Some(keys.secret_access_key.secret()),
            )?;
        }
        let added = self.lock().and_then(|mut locked| {
            if let session::SessionKind::IamRoleChained { assumer, .. } = &new.kind
                && let Some(assumer) = locked.catalog.get(*assumer)
            {
                refuse_deleting(assumer)?;
            }
            let session = locked.catalog.add_as(id, new)?;
            locked.save()?;
            Ok(session)
        });
        let session = match added {
            Ok(session) => session,
            Err(e) => {
                if keys.is_some() {
                    self.forget(id);
                }
                return Err(e);
            }
        };
        tracing::info!(id = %session.id, kind = %kind, "added session");
        Ok(session)
    }

    /// Edits a session: the definition in the store, replaced keys in the keychain (dropping
    /// the cached token when the keys or the MFA device change), all or nothing, under one
    /// lock. A session that holds its profile and moves to another one gives the old one up
    /// (also in `error`, whose credentials may still be written); an active session whose
    /// profile, region or credentials changed is then restarted, and the restart's own result
    /// is returned beside the outcome.
    pub fn edit(
        &mut self,
        id: SessionId,
        edit: Edit,
        prompt: &mut dyn Prompt,
    ) -> Result<(EditOutcome, Option<Result<Session, Error>>), Error> {
        let (outcome, retake) = {
            let mut locked = self.lock()?;
            let before = session_in(&locked.catalog, id)?;
            refuse_deleting(&before)?;
            let holds = run::holds_profile(&locked.catalog, &before);
            let planned = locked.catalog.clone().edit(id, &edit)?;
            if planned.changed.is_empty() {
                return Ok((planned, None));
            }
            let moves = planned.session.profile != before.profile;
            // A restart onto a profile credtray may not write would stop the session and then
            // fail: refuse such an edit before anything changes.
            if planned.needs_restart && moves {
                self.files
                    .plan(&planned.session.profile, &locked.owned, false)?;
            }
            // The old profile is given up first: if that fails, the edit is not applied, and
            // the store still says where the session's sections are.
            let mut retake = false;
            if holds && (planned.needs_restart || moves) {
                // Moving away gives up a section taken over for good; a restart in place
                // keeps it.
                let live = run::live_sessions(&locked.catalog, &before.profile);
                let keeps = |t: &crate::awsfiles::TakenOver| {
                    (t.session != id || !moves) && live.contains(&t.session)
                };
                let removed = match self.unpublish(&mut locked, &before.profile, keeps) {
                    Ok(removed) => removed,
                    Err(e) => {
                        locked.save()?;
                        return Err(e);
                    }
                };
                locked.catalog.set_state(id, State::Inactive, None);
                locked.save()?;
                self.forget_originals(&locked, &removed);
                // The same profile, taken over before: take the user's section over again.
                retake = !moves && removed.iter().any(|r| r.taken_over.is_some());
            }
            // A profile the session took over for good and leaves is the user's again.
            if moves {
                let released = self.files.release(id, &mut locked.owned);
                if !released.is_empty() {
                    locked.save()?;
                    self.forget_originals(&locked, &released);
                }
            }
            let mut outcome = self.edit_definition(&mut locked, id, &edit)?;
            outcome.needs_restart = planned.needs_restart;
            (outcome, retake)
        };
        let restart = outcome
            .needs_restart
            .then(|| self.start(id, prompt, retake));
        Ok((outcome, restart))
    }

    fn edit_definition(
        &self,
        locked: &mut store::Locked,
        id: SessionId,
        edit: &Edit,
    ) -> Result<EditOutcome, Error> {
        let outcome = locked.catalog.edit(id, edit)?;
        if outcome.changed.is_empty() {
            return Ok(outcome);
        }
        let previous = if edit.access_key_id.is_some() || edit.secret_access_key.is_some() {
            let previous = self.read_keys(id)?;
            self.write_keys(
                id,
                edit.access_key_id.as_ref().map(|k| k.secret()),
                edit.secret_access_key.as_ref().map(|k| k.secret()),
            )?;
            Some(previous)
        } else {
            None
        };
        let token_stale = outcome.changed.iter().any(|f| {
            matches!(
                f,
                Field::AccessKeyId | Field::SecretAccessKey | Field::MfaDevice
            )
        });
        // Role credentials were obtained for the old definition.
        let kind = outcome.session.kind.tag();
        let role_stale = !kind.has_keys() && outcome.changed.iter().any(|f| kind.has(*f));
        let stale = [
            (token_stale, Item::SessionToken),
            (role_stale, Item::RoleCredentials),
        ];
        let saved = stale
            .into_iter()
            .filter(|(stale, _)| *stale)
            .try_for_each(|(_, item)| self.secrets.delete(Key::new(id, item)).map(drop))
            .map_err(Error::from)
            .and_then(|()| locked.save().map(drop).map_err(Error::from));
        if let Some(remembered) = &self.remembered {
            remembered.forget(id);
        }
        if let Err(e) = saved {
            // Still under the lock: put the old keys back before anyone can read the new ones.
            locked.catalog = locked.saved().clone();
            if let Some(previous) = previous
                && let Err(undo) = self.put_back_keys(id, previous)
            {
                tracing::warn!(%id, error = %undo, "could not put the old keys back after a failed edit");
            }
            return Err(e);
        }
        tracing::info!(%id, changed = ?outcome.changed, "edited session");
        Ok(outcome)
    }

    /// Creates a chained session whose assumer is `assumer`, with these defaults: alias
    /// `<assumer alias> chained`, role session name `credtray-<assumer alias>`, the assumer's
    /// region, profile `default`.
    pub fn chain(&self, assumer: SessionId, chain: Chain) -> Result<Session, Error> {
        let catalog = self.store.load()?;
        let parent = catalog
            .get(assumer)
            .ok_or_else(|| Error::unknown(assumer))?;
        let alias = match chain.alias {
            Some(alias) => alias,
            None => default_chained_alias(&catalog, &parent.alias)?,
        };
        let new = NewSession {
            alias,
            profile: chain.profile,
            region: Some(chain.region.unwrap_or_else(|| parent.region.to_string())),
            publish: chain.publish,
            kind: session::SessionKind::IamRoleChained {
                role_arn: chain.role_arn,
                role_session_name: Some(
                    chain
                        .role_session_name
                        .unwrap_or_else(|| RoleSessionName::derived_from(&parent.alias)),
                ),
                assumer,
                external_id: chain.external_id,
            },
        };
        self.add(new, None)
    }

    /// Deletes a session and its keychain entries; with `cascade`, also every session chained
    /// from it. Returns what was deleted. The sessions first become `deleting` in the store;
    /// each leaves it once its keychain entries are gone, so a keychain that fails part-way
    /// leaves them there, named in the error, and deleting again finishes the job. Long-term
    /// keys `import --move-keys` took off the disk go back to their section unless it holds
    /// other keys or the profile another credential source now; when it is gone, `homeless`
    /// says whether the delete refuses, and while another session runs there it refuses.
    /// A refusal changes nothing.
    pub fn delete(
        &self,
        id: SessionId,
        cascade: bool,
        homeless: HomelessKeys,
    ) -> Result<Deleted, Error> {
        let mut locked = self.lock()?;
        let before = locked.catalog.clone();
        let doomed = before.clone().remove(id, cascade)?;
        // A keychain that can't be reached refuses the delete before anything changes.
        for session in doomed.iter().filter(|s| s.kind.tag().has_keys()) {
            self.secrets.get(Key::new(session.id, Item::AccessKey))?;
        }
        // So do moved keys with nowhere to go (the keychain holds their only copy), decided
        // here, before any file or the store changes. Told to discard them, the section the
        // user removed stays gone: giving the claim up writes no original back. Every read
        // that putting them back needs is made here too (the keys, both files): one that
        // fails refuses the delete before the first write.
        let mut moved_secrets = Vec::new();
        for session in doomed.iter().filter(|s| s.kind.tag().has_keys()) {
            let Some(record) = moved_from(&locked.owned, session.id).cloned() else {
                continue;
            };
            let secrets = self.read_keys(session.id)?;
            let complete = secrets.iter().all(Option::is_some);
            moved_secrets.push((session.id, secrets));
            if !self.files.keys_home_gone(&record)? {
                // Another session runs on the profile, in that section: the keys could go
                // back only once it stops, and its stop gives the section up without them.
                let holder = before.sessions().iter().find(|o| {
                    o.profile == session.profile
                        && !doomed.iter().any(|d| d.id == o.id)
                        && run::holds_profile(&before, o)
                });
                if let Some(holder) = holder {
                    return Err(Error::KeysHomeHeld {
                        alias: session.alias.to_string(),
                        holder: holder.alias.to_string(),
                        path: record.file,
                        section: record.section,
                    });
                }
                continue;
            }
            if homeless == HomelessKeys::Refuse && complete {
                return Err(Error::KeysWouldBeLost {
                    alias: session.alias.to_string(),
                    path: record.file,
                    section: record.section,
                });
            }
            if let Some(o) = locked.owned.iter_mut().find(|o| **o == record) {
                self.files.lose_section(o);
            }
        }
        // A running session's credentials go with it; if that fails, the sessions stay.
        let mut removed_records = Vec::new();
        let mut stopped = Vec::new();
        for session in doomed.iter().filter(|s| run::holds_profile(&before, s)) {
            stopped.push(session.id);
            let live: Vec<SessionId> = run::live_sessions(&before, &session.profile)
                .into_iter()
                .filter(|id| !doomed.iter().any(|d| d.id == *id))
                .collect();
            match self.unpublish(&mut locked, &session.profile, |t| live.contains(&t.session)) {
                Ok(removed) => removed_records.extend(removed),
                Err(e) => {
                    // This session's stop failed; those stopped before it are stopped.
                    stopped.pop();
                    self.abandon_delete(&mut locked, &doomed, &stopped, removed_records)?;
                    return Err(e);
                }
            }
        }
        // Sections taken over for good and not held now hold the user's text: they are theirs
        // again.
        for session in &doomed {
            removed_records.extend(self.files.release(session.id, &mut locked.owned));
        }
        // Keys `import --move-keys` took off the disk go back where they were: the keychain
        // is about to lose its copy, the only one left. Never over keys or another credential
        // source the user set up since, nor into a section they removed. An error stops the
        // delete: the sessions and their keys stay.
        let mut moved_keys = Vec::new();
        for session in doomed.iter().filter(|s| s.kind.tag().has_keys()) {
            let Some(record) = moved_from(&removed_records, session.id) else {
                continue;
            };
            let Some((_, [Some(id), Some(secret)])) =
                moved_secrets.iter().find(|(s, _)| *s == session.id)
            else {
                continue;
            };
            let (path, section) = (record.file.clone(), record.section.clone());
            let fate = match self.files.put_keys_back(record, id, secret) {
                Ok(awsfiles::KeysHome::Free) => KeysFate::WrittenBack,
                Ok(awsfiles::KeysHome::Taken) => KeysFate::OtherKeys,
                Ok(awsfiles::KeysHome::Gone) if homeless == HomelessKeys::Discard => {
                    KeysFate::Discarded
                }
                // Gone since the check above (removed meanwhile, or its original was missing
                // from the keychain), or the file can't be written: the files of running
                // sessions are written already. The claims given up come back as the files
                // show them and those sessions are stopped, so that the store saved matches
                // the files.
                outcome => {
                    let error = match outcome {
                        Err(e) => e.into(),
                        Ok(_) => Error::KeysWouldBeLost {
                            alias: session.alias.to_string(),
                            path,
                            section,
                        },
                    };
                    let given_up = std::mem::take(&mut removed_records);
                    self.abandon_delete(&mut locked, &doomed, &stopped, given_up)?;
                    return Err(error);
                }
            };
            if fate != KeysFate::WrittenBack {
                tracing::warn!(id = %session.id, %section, ?fate, "the moved keys of a deleted session are not written back");
            }
            moved_keys.push(MovedKeys {
                alias: session.alias.to_string(),
                path,
                section,
                fate,
            });
        }
        for session in &doomed {
            locked.catalog.set_state(session.id, State::Deleting, None);
        }
        // The store first, then the keychain: a store that can't be saved leaves the sessions
        // whole, keys included.
        locked.save()?;
        self.forget_originals(&locked, &removed_records);
        let mut left = Vec::new();
        // Only the keys: an original this session took over is either given back already (and
        // gone from the keychain) or still needed by the session now on that profile.
        for session in &doomed {
            let items: &[Item] = if session.kind.tag().has_keys() {
                &Item::IAM_USER
            } else {
                &[Item::RoleCredentials]
            };
            if let Some(remembered) = &self.remembered {
                remembered.forget(session.id);
            }
            for &item in items {
                let key = Key::new(session.id, item);
                match self.secrets.delete(key) {
                    Ok(_) => {}
                    // Cached role credentials expire within the hour by themselves: a keychain
                    // that can't be reached does not keep a session without keys from going.
                    Err(e) if item == Item::RoleCredentials => {
                        tracing::warn!(account = %key, error = %e, "could not remove cached role credentials; they expire by themselves");
                    }
                    Err(source) => left.push((session.alias.to_string(), key, source)),
                }
            }
        }
        let finished: Vec<SessionId> = doomed
            .iter()
            .map(|s| s.id)
            .filter(|id| !left.iter().any(|(_, key, _)| key.is_of(*id)))
            .collect();
        for &gone in &finished {
            locked.catalog.forget(gone)?;
        }
        locked.save()?;
        for session in doomed.iter().filter(|s| finished.contains(&s.id)) {
            tracing::info!(id = %session.id, "deleted session");
        }
        if let Some((alias, key, source)) = left.into_iter().next() {
            return Err(Error::LeftSecrets {
                alias,
                account: key.to_string(),
                source,
            });
        }
        Ok(Deleted {
            sessions: doomed,
            moved_keys,
        })
    }

    /// For a delete that stops after files changed: the claims of the doomed sessions given
    /// up come back as the files show them, the sessions `stopped` are inactive, the store is
    /// saved to match the files, and then the originals of the sections really given back
    /// (to the user, in the files) leave the keychain.
    fn abandon_delete(
        &self,
        locked: &mut crate::store::Locked,
        doomed: &[Session],
        stopped: &[SessionId],
        given_up: Vec<awsfiles::Owned>,
    ) -> Result<(), Error> {
        let doomed_claim = |t: &awsfiles::TakenOver| doomed.iter().any(|d| d.id == t.session);
        let given_back = self
            .files
            .take_back(given_up, &mut locked.owned, doomed_claim);
        for &running in stopped {
            locked.catalog.set_state(running, State::Inactive, None);
        }
        locked.save()?;
        self.forget_originals(locked, &given_back);
        Ok(())
    }

    /// Parses both AWS files and reports their sections, the ones credtray owns, and problems.
    pub fn check_files(&self) -> Result<Vec<awsfiles::Report>, Error> {
        Ok(self.files.check(&self.store.load_all()?.owned))
    }

    /// The credentials file, when others may read it and credtray writes sections into it.
    /// The mode is looked at first (one `stat`), the store only when it is open to others: a
    /// long-lived caller (the tray) asks after every change.
    pub fn credentials_readable_by_others(
        &self,
    ) -> Result<Option<awsfiles::ReadableByOthers>, Error> {
        let Some(readable) = self.files.credentials.readable_by_others() else {
            return Ok(None);
        };
        let owned = self.store.load_all()?.owned;
        Ok(owned
            .iter()
            .any(|o| o.file == self.files.credentials.path())
            .then_some(readable))
    }

    /// Adds an integration (logged out; `login` fetches its tokens).
    pub fn add_integration(&self, new: NewIntegration) -> Result<Integration, Error> {
        let mut locked = self.lock()?;
        let added = locked.catalog.add_integration(new)?;
        locked.save()?;
        tracing::info!(id = %added.id, "added integration");
        Ok(added)
    }

    /// Remembers the user's profile names for some of an integration's roles: the sync that
    /// creates their sessions uses them (`import aws-config`).
    pub fn remember_profiles(
        &self,
        id: IntegrationId,
        profiles: Vec<session::RememberedProfile>,
    ) -> Result<(), Error> {
        let mut locked = self.lock()?;
        locked.catalog.remember_profiles(id, profiles)?;
        locked.save()?;
        Ok(())
    }

    /// Edits an integration. Another start URL or region logs it out: its tokens are dropped.
    pub fn edit_integration(
        &self,
        id: IntegrationId,
        edit: &IntegrationEdit,
    ) -> Result<Integration, Error> {
        let mut locked = self.lock()?;
        let before = locked
            .catalog
            .integration(id)
            .cloned()
            .ok_or_else(|| session::Error::UnknownIntegration(id.to_string()))?;
        let edited = locked.catalog.edit_integration(id, edit)?;
        if before.login != edited.login {
            self.secrets
                .delete(Key::integration(id, Item::AwsSsoToken))?;
        }
        locked.save()?;
        Ok(edited)
    }

    /// Deletes an integration: its derived sessions are stopped and deleted (and, with
    /// `cascade`, the sessions chained from them; without it, those refuse the delete), then its
    /// tokens and the integration itself. Returns the sessions deleted.
    pub fn delete_integration(
        &self,
        id: IntegrationId,
        cascade: bool,
    ) -> Result<Vec<Session>, Error> {
        let derived = self.store.load()?.integration_removal(id, cascade)?;
        let mut deleted = Vec::new();
        for session in derived {
            // A chained session deleted with an earlier one is gone already.
            if self.store.load()?.get(session).is_some() {
                // A session of an integration has no keys to move.
                deleted.extend(
                    self.delete(session, cascade, HomelessKeys::Refuse)?
                        .sessions,
                );
            }
        }
        self.secrets
            .delete(Key::integration(id, Item::AwsSsoToken))?;
        let mut locked = self.lock()?;
        locked.catalog.forget_integration(id)?;
        locked.save()?;
        tracing::info!(%id, sessions = deleted.len(), "deleted integration");
        Ok(deleted)
    }

    pub fn add_profile(&self, profile: ProfileName) -> Result<(), Error> {
        let mut locked = self.lock()?;
        locked.catalog.add_profile(profile)?;
        locked.save()?;
        Ok(())
    }

    /// Pins a session to the top of the tray's menu, or unpins it.
    pub fn pin(&self, id: SessionId, pinned: bool) -> Result<Session, Error> {
        let mut locked = self.lock()?;
        locked.catalog.set_pinned(id, pinned)?;
        locked.save()?;
        session_in(&locked.catalog, id)
    }

    pub fn delete_profile(&self, profile: &ProfileName) -> Result<(), Error> {
        let mut locked = self.lock()?;
        locked.catalog.remove_profile(profile)?;
        locked.save()?;
        Ok(())
    }

    /// Writes a keychain item and reads it back: an error unless the keychain kept exactly
    /// that (some lose writes silently).
    pub(super) fn set_verified(
        &self,
        key: Key,
        value: &SecretString,
    ) -> Result<(), secrets::Error> {
        self.secrets.set(key, value)?;
        match self.secrets.get(key)? {
            Some(back) if back.expose_secret() == value.expose_secret() => Ok(()),
            _ => Err(secrets::Error::Failure {
                account: key.to_string(),
                cause: "the keychain did not keep what was written".to_owned(),
            }),
        }
    }

    /// Best effort: removes every secret of a session that is not going to exist after all.
    fn forget(&self, id: SessionId) {
        for item in Item::IAM_USER {
            if let Err(e) = self.secrets.delete(Key::new(id, item)) {
                tracing::warn!(%id, error = %e, "could not remove a keychain entry while undoing a failed change");
            }
        }
    }
}

/// A session being deleted takes no command but the delete that finishes it.
fn refuse_deleting(session: &Session) -> Result<(), Error> {
    if session.state == State::Deleting {
        return Err(Error::Deleting {
            alias: session.alias.to_string(),
        });
    }
    Ok(())
}

/// The session `id` of `catalog`, or the error that names it unknown.
fn session_in(catalog: &Catalog, id: SessionId) -> Result<Session, Error> {
    catalog.get(id).cloned().ok_or_else(|| Error::unknown(id))
}

/// `<parent> chained`, cut to fit 64 characters, numbered when taken.
fn default_chained_alias(catalog: &Catalog, parent: &Alias) -> Result<Alias, Error> {
    let base: String = parent
        .as_str()
        .chars()
        .take(64 - " chained 99".len())
        .collect();
    for n in 1..100 {
        let candidate = if n == 1 {
            format!("{base} chained")
        } else {
            format!("{base} chained {n}")
        };
        if catalog.resolve(&candidate).is_err() {
            return Ok(candidate.parse()?);
        }
    }
    Err(ValidationError::new(Field::Alias, "no free default alias; give one with --alias").into())
}

#[cfg(test)]
mod tests;

/// The section a session's moved keys go back to when it is deleted: of the sections it took
/// over for good and gave up, the credentials file's, else the config file's.
fn moved_from(records: &[awsfiles::Owned], session: SessionId) -> Option<&awsfiles::Owned> {
    let kept = |o: &&awsfiles::Owned| {
        o.taken_over
            .as_ref()
            .is_some_and(|t| t.kept && t.session == session)
    };
    records
        .iter()
        .filter(kept)
        .find(|o| o.flavor == awsfiles::Flavor::Credentials)
        .or_else(|| records.iter().find(kept))
}
