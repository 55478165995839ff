//! Running sessions: start, stop, rotate, test (a real dry run), and the credentials behind
//! them, resolved recursively through chains of assumers.

use std::collections::HashMap;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::prompt::{MfaAsk, Prompt};
use super::{Engine, Error, Event, refuse_deleting, session_in};
use crate::aws::Credentials;
use crate::aws::sts::Cause;
use crate::secrets::{Item, Key};
use crate::session::{
    AccessKeyId, Catalog, Edit, IamUserKeys, MfaCode, MfaDevice, RoleSessionName, SecretAccessKey,
    Session, SessionId, SessionKind, State,
};

/// GetSessionToken's duration: 12 h, AWS's default for IAM users.
pub const SESSION_TOKEN_DURATION: Duration = Duration::from_secs(12 * 3600);
/// AssumeRole and AssumeRoleWithSAML: 1 h, which AWS also caps role chaining at.
pub const ROLE_DURATION: Duration = Duration::from_secs(3600);
/// TOTP codes change every 30 s; a code is single-use within its window.
const MFA_WINDOW_SECONDS: i64 = 30;

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
enum Mode<'a> {
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
    fn writes(&self) -> bool {
        matches!(self, Mode::Live)
    }

    fn fresh(&self, id: SessionId) -> bool {
        matches!(self, Mode::DryRun { target, .. } if *target == id)
    }
}

/// Whether the profile's sections are this session's to remove: it is not inactive (an `error`
/// or `pending` session may still have credentials written) and no other session is the active
/// one on that profile.
pub(super) fn holds_profile(catalog: &Catalog, session: &Session) -> bool {
    !matches!(session.state, State::Inactive | State::Deleting)
        && !catalog
            .sessions()
            .iter()
            .any(|o| o.id != session.id && o.profile == session.profile && o.state == State::Active)
}

/// MFA codes used recently, per device: (code, 30-second window). A used code is worthless to
/// AWS, but it is still wiped from memory when dropped.
pub(super) type UsedCodes = HashMap<String, (Zeroizing<String>, i64)>;

/// The cached GetSessionToken result, as kept in the keychain.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CachedToken {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    #[serde(with = "time::serde::rfc3339")]
    expiration: OffsetDateTime,
    /// Absent in caches written before the refresh margin depended on the lifetime.
    #[serde(default, with = "time::serde::rfc3339::option")]
    issued: Option<OffsetDateTime>,
}

impl Drop for CachedToken {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.access_key_id.zeroize();
        self.secret_access_key.zeroize();
        self.session_token.zeroize();
    }
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
        let catalog = self.store.load()?;
        let session = session_in(&catalog, id)?;
        refuse_deleting(&session)?;
        // Refuse a foreign profile before asking anyone for anything, and change nothing (the
        // publish checks again under the lock).
        self.files
            .plan(&session.profile, &catalog.owned, take_over)?;
        self.emit(Event::StateChanged {
            id,
            state: State::Pending,
        });
        let result = self
            .credentials(&catalog, &session, prompt, Mode::Live)
            .and_then(|credentials| self.publish(id, &credentials, take_over, refresh));
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
                    self.record_failure(id, e.to_string(), refresh)?;
                }
                Err(e)
            }
        }
    }

    /// Stops a session: removes its profile's sections (if it is the one active there).
    /// A taken-over section gets the user's original back.
    pub fn stop(&mut self, id: SessionId) -> Result<Session, Error> {
        let mut locked = self.lock()?;
        let session = session_in(&locked.catalog, id)?;
        refuse_deleting(&session)?;
        let removed = if holds_profile(&locked.catalog, &session) {
            match self.unpublish(&mut locked, &session.profile) {
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
            .filter(|s| !matches!(s.state, State::Inactive | State::Deleting))
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
    pub fn test_edit(
        &mut self,
        id: SessionId,
        edit: Edit,
        prompt: &mut dyn Prompt,
    ) -> Result<Tested, Error> {
        let mut catalog = self.store.load()?;
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
        let session = session_in(&catalog, id)?;
        self.credentials(&catalog, &session, prompt, Mode::Live)
    }

    /// The credentials of a session, through its assumers when it has any.
    fn credentials(
        &mut self,
        catalog: &Catalog,
        session: &Session,
        prompt: &mut dyn Prompt,
        mode: Mode<'_>,
    ) -> Result<Credentials, Error> {
        let now = self.now();
        let stamp = |mut c: Credentials| {
            c.issued = Some(now);
            c
        };
        match &session.kind {
            SessionKind::IamUser { mfa_device } => self
                .session_token(session, mfa_device.as_ref(), prompt, mode, false)
                .map(|(c, _)| c),
            SessionKind::IamRoleChained {
                role_arn,
                role_session_name,
                assumer,
            } => {
                let parent = catalog
                    .get(*assumer)
                    .ok_or_else(|| Error::unknown(*assumer))?;
                let (parent_credentials, cached) =
                    self.assumer(catalog, parent, prompt, mode, false)?;
                let name = role_session_name
                    .clone()
                    .unwrap_or_else(|| RoleSessionName::derived_from(&session.alias));
                tracing::info!(id = %session.id, assumer = %parent.id, "using AssumeRole with the assumer's credentials");
                let assume = |sts: &dyn crate::aws::Sts, with: &Credentials| {
                    sts.assume_role(&session.region, with, role_arn, &name, ROLE_DURATION)
                };
                match assume(self.sts.as_ref(), &parent_credentials) {
                    // AWS says the cached token itself is dead (expired early, revoked, keys
                    // rotated): never use it again; fetch a new one, once. A plain AccessDenied
                    // (the role's trust policy) says nothing about the token, which is kept.
                    Err(e) if cached && matches!(e.cause, Cause::ExpiredToken | Cause::InvalidKey) => {
                        tracing::info!(id = %parent.id, "AWS rejected the cached session token of the assumer; fetching a new one");
                        if mode.writes() {
                            self.secrets
                                .delete(Key::new(parent.id, Item::SessionToken))?;
                        }
                        let (fresh, _) = self.assumer(catalog, parent, prompt, mode, true)?;
                        assume(self.sts.as_ref(), &fresh)
                    }
                    other => other,
                }
                .map(stamp)
                .map_err(|e| Error::sts(session, e))
            }
            SessionKind::IamRoleFederated {
                role_arn, idp_arn, ..
            } => {
                let assertion =
                    prompt
                        .saml_assertion(session)
                        .ok_or_else(|| Error::NeedsSamlAssertion {
                            alias: session.alias.to_string(),
                        })?;
                tracing::info!(id = %session.id, "using AssumeRoleWithSAML");
                self.sts
                    .assume_role_with_saml(
                        &session.region,
                        role_arn,
                        idp_arn,
                        &assertion,
                        ROLE_DURATION,
                    )
                    .map(stamp)
                    .map_err(|e| Error::sts(session, e))
            }
            SessionKind::AwsSsoRole { .. } => Err(Error::NotStartable {
                alias: session.alias.to_string(),
            }),
        }
    }

    /// The credentials of an assumer, and whether they are a cached session token (`fresh`
    /// refuses the cache).
    fn assumer(
        &mut self,
        catalog: &Catalog,
        parent: &Session,
        prompt: &mut dyn Prompt,
        mode: Mode<'_>,
        fresh: bool,
    ) -> Result<(Credentials, bool), Error> {
        match &parent.kind {
            SessionKind::IamUser { mfa_device } => {
                self.session_token(parent, mfa_device.as_ref(), prompt, mode, fresh)
            }
            _ => Ok((self.credentials(catalog, parent, prompt, mode)?, false)),
        }
    }

    /// An IAM user's session token, and whether it came from the cache: the cached one until
    /// it is due for a refresh (so an MFA code is asked for at most once per token), unless
    /// `fresh`; else a new one.
    fn session_token(
        &mut self,
        session: &Session,
        device: Option<&MfaDevice>,
        prompt: &mut dyn Prompt,
        mode: Mode<'_>,
        fresh: bool,
    ) -> Result<(Credentials, bool), Error> {
        let token_key = Key::new(session.id, Item::SessionToken);
        if !fresh
            && !mode.fresh(session.id)
            && let Some(cached) = self.cached_token(token_key)?
            && !cached.refresh_due(self.now())
        {
            tracing::info!(id = %session.id, "using the cached session token");
            return Ok((cached, true));
        }
        let keys = self.keys(session, mode)?;
        let code = match device {
            Some(device) => Some(self.ask_mfa(session, device, prompt)?),
            None => None,
        };
        tracing::info!(id = %session.id, mfa = code.is_some(), "using GetSessionToken");
        let issued = self.now();
        let mut credentials = self
            .sts
            .get_session_token(
                &session.region,
                &keys,
                SESSION_TOKEN_DURATION,
                device.zip(code.as_ref()),
            )
            .map_err(|e| Error::sts(session, e))?;
        if let (Some(device), Some(code)) = (device, &code) {
            let window = self.now().unix_timestamp() / MFA_WINDOW_SECONDS;
            self.used_codes.insert(
                device.to_string(),
                (Zeroizing::new(code.as_str().to_owned()), window),
            );
        }
        credentials.issued = Some(issued);
        if mode.writes() {
            self.cache_token(token_key, &credentials)?;
        }
        Ok((credentials, false))
    }

    /// The IAM user's long-term keys: the proposed ones of a dry run, else the keychain's.
    fn keys(&self, session: &Session, mode: Mode<'_>) -> Result<IamUserKeys, Error> {
        let proposed = match mode {
            Mode::DryRun { target, keys } if target == session.id => Some(keys),
            _ => None,
        };
        let stored = |item| -> Result<SecretString, Error> {
            self.secrets
                .get(Key::new(session.id, item))?
                .ok_or_else(|| Error::MissingKeys {
                    alias: session.alias.to_string(),
                })
        };
        let access_key_id = match proposed.and_then(|k| k.access_key_id.as_ref()) {
            Some(k) => AccessKeyId::parse(k.secret())?,
            None => AccessKeyId::parse(&stored(Item::AccessKeyId)?)?,
        };
        let secret_access_key = match proposed.and_then(|k| k.secret_access_key.as_ref()) {
            Some(k) => SecretAccessKey::parse(k.secret())?,
            None => SecretAccessKey::parse(&stored(Item::SecretAccessKey)?)?,
        };
        Ok(IamUserKeys {
            access_key_id,
            secret_access_key,
        })
    }

    /// Asks for an MFA code, refusing one already used in this 30-second window (AWS would
    /// reject it; the person is asked to wait for the next one).
    fn ask_mfa(
        &mut self,
        session: &Session,
        device: &MfaDevice,
        prompt: &mut dyn Prompt,
    ) -> Result<MfaCode, Error> {
        let mut ask = MfaAsk::First;
        for _ in 0..3 {
            let Some(code) = prompt.mfa_code(session, device, ask) else {
                break;
            };
            let window = self.now().unix_timestamp() / MFA_WINDOW_SECONDS;
            let reused = self
                .used_codes
                .get(device.as_str())
                .is_some_and(|(used, at)| used.as_str() == code.as_str() && window - at <= 1);
            if !reused {
                return Ok(code);
            }
            ask = MfaAsk::AlreadyUsed;
        }
        Err(match ask {
            MfaAsk::First => Error::NeedsMfaCode {
                alias: session.alias.to_string(),
            },
            MfaAsk::AlreadyUsed => Error::MfaCodeReused {
                alias: session.alias.to_string(),
            },
        })
    }

    fn cached_token(&self, key: Key) -> Result<Option<Credentials>, Error> {
        let Some(json) = self.secrets.get(key)? else {
            return Ok(None);
        };
        // A cache entry that does not parse is only a cache miss; it is replaced on success.
        let Ok(mut cached) = serde_json::from_str::<CachedToken>(json.expose_secret()) else {
            tracing::warn!(account = %key, "ignoring a cached session token that does not parse");
            return Ok(None);
        };
        Ok(Some(Credentials {
            access_key_id: SecretString::from(std::mem::take(&mut cached.access_key_id)),
            secret_access_key: SecretString::from(std::mem::take(&mut cached.secret_access_key)),
            session_token: SecretString::from(std::mem::take(&mut cached.session_token)),
            expiration: cached.expiration,
            issued: cached.issued,
        }))
    }

    fn cache_token(&self, key: Key, c: &Credentials) -> Result<(), Error> {
        let cached = CachedToken {
            access_key_id: c.access_key_id.expose_secret().to_owned(),
            secret_access_key: c.secret_access_key.expose_secret().to_owned(),
            session_token: c.session_token.expose_secret().to_owned(),
            expiration: c.expiration,
            issued: c.issued,
        };
        let json = Zeroizing::new(
            serde_json::to_string(&cached).map_err(|e| Error::Internal(e.to_string()))?,
        );
        self.secrets
            .set(key, &SecretString::from(json.as_str().to_owned()))?;
        Ok(())
    }
}
