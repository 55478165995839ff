//! IAM users: GetSessionToken with the long-term keys from the keychain (and an MFA code when a
//! device is set), cached in the keychain and reused until it is due for a refresh, so an MFA
//! code is asked for at most once per token. The code comes from the session's MFA source
//! (`ykman`, a command: [`crate::mfa`]) when it has one, else from the person; a source that
//! fails hands over to the person where one is present (the prompt says why), and is the
//! error's reason where none is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use zeroize::Zeroizing;

use super::Source;
use crate::aws::Credentials;
use crate::engine::prompt::{MfaAsk, MfaNotice, Prompt};
use crate::engine::run::Mode;
use crate::engine::{Engine, Error};
use crate::secrets::{Item, Key};
use crate::session::{
    AccessKeyId, Catalog, IamUserKeys, MfaCode, MfaDevice, MfaSource, SecretAccessKey, Session,
    SessionId, SessionKind,
};

/// GetSessionToken's duration: 12 h, AWS's default for IAM users.
const SESSION_TOKEN_DURATION: Duration = Duration::from_secs(12 * 3600);
/// The inline policy of a console sign-in's federated user: everything, intersected by AWS
/// with the IAM user's own permissions.
pub const CONSOLE_POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// A federated user's name (2 to 32 of `\w+=,.@-`): `credtray-` and the alias, what else is
/// replaced by `-`.
fn federated_name(alias: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    let name: String = format!("credtray-{alias}")
        .chars()
        .map(|c| if allowed(c) { c } else { '-' })
        .take(32)
        .collect();
    name
}

/// TOTP codes change every 30 s; a code is single-use within its window.
const MFA_WINDOW_SECONDS: i64 = 30;

/// MFA codes used recently, per device: (code, 30-second window). Shared by the engines of one
/// process (the agent builds one per request), so a code one request used is refused to the
/// next before AWS would reject it less clearly. A used code is worthless to AWS, but it is
/// still wiped from memory when dropped.
///
/// It also keeps one lock per device: a session token is obtained by one engine at a time
/// (from the cache check to the code's use), so two requests at once on chains from one IAM
/// user ask once, and never use one code twice.
#[derive(Default)]
pub(in crate::engine) struct UsedCodes {
    codes: Mutex<HashMap<String, (Zeroizing<String>, i64)>>,
    devices: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl UsedCodes {
    /// The lock of `device`'s session tokens in this process.
    fn device(&self, device: &MfaDevice) -> Arc<Mutex<()>> {
        let mut devices = self.devices.lock().unwrap_or_else(PoisonError::into_inner);
        devices.entry(device.to_string()).or_default().clone()
    }

    fn codes(&self) -> MutexGuard<'_, HashMap<String, (Zeroizing<String>, i64)>> {
        // A panic elsewhere can't leave a half-written entry: every change is one insert.
        self.codes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `code` was used with `device` in `window` or the one before (a code read at the
    /// end of its window is still being typed in the next).
    fn used(&self, device: &MfaDevice, code: &MfaCode, window: i64) -> bool {
        self.codes()
            .get(device.as_str())
            .is_some_and(|(used, at)| used.as_str() == code.as_str() && window - at <= 1)
    }

    /// The window in which a code of `device` was last used.
    fn last_window(&self, device: &MfaDevice) -> Option<i64> {
        self.codes().get(device.as_str()).map(|(_, at)| *at)
    }

    /// Keeps the code last used with `device` refused until the window after `window`.
    fn note_window(&self, device: &MfaDevice, window: i64) {
        if let Some((_, at)) = self.codes().get_mut(device.as_str()) {
            *at = (*at).max(window);
        }
    }

    fn note(&self, device: &MfaDevice, code: &MfaCode, window: i64) {
        self.codes().insert(
            device.to_string(),
            (Zeroizing::new(code.as_str().to_owned()), window),
        );
    }
}

/// An IAM-user session's source.
pub(super) struct IamUser;

impl Source for IamUser {
    fn credentials(
        &self,
        engine: &mut Engine,
        _: &Catalog,
        session: &Session,
        prompt: &mut dyn Prompt,
        mode: Mode<'_>,
    ) -> Result<Credentials, Error> {
        engine
            .session_token(session, prompt, mode, false)
            .map(|(c, _)| c)
    }
}

impl Engine {
    /// An IAM user's session token, and whether it came from the cache: the cached one until
    /// it is due for a refresh (so an MFA code is asked for at most once per token), unless
    /// `fresh`; else a new one.
    pub(super) fn session_token(
        &mut self,
        session: &Session,
        prompt: &mut dyn Prompt,
        mode: Mode<'_>,
        fresh: bool,
    ) -> Result<(Credentials, bool), Error> {
        let token_key = Key::new(session.id, Item::SessionToken);
        let definition = super::definition(session);
        // One token of an MFA device at a time in this process (see `UsedCodes`): a request
        // that waited here finds the token the other one got.
        let device_lock = match &session.kind {
            SessionKind::IamUser {
                mfa_device: Some(device),
                ..
            } => Some(self.used_codes.device(device)),
            _ => None,
        };
        let _one_at_a_time = device_lock
            .as_ref()
            .map(|lock| lock.lock().unwrap_or_else(PoisonError::into_inner));
        if !fresh
            && mode.writes()
            && let Some(remembered) = &self.remembered
            && let Some(token) = remembered.recall(session.id, &definition, self.now())
        {
            return Ok((token, true));
        }
        if !fresh
            && !mode.fresh(session.id)
            && let Some(cached) = self.cached(token_key, None)?
            && !cached.refresh_due(self.now())
        {
            tracing::info!(id = %session.id, "using the cached session token");
            self.remember(session, &definition, &cached);
            return Ok((cached, true));
        }
        let keys = self.keys(session, mode)?;
        let (device, source) = match &session.kind {
            SessionKind::IamUser {
                mfa_device,
                mfa_source,
            } => (mfa_device.as_ref(), mfa_source.as_ref()),
            _ => (None, None),
        };
        let code = match device {
            Some(device) => Some(self.mfa_code(session, device, source, prompt)?),
            None => None,
        };
        tracing::info!(id = %session.id, mfa = code.is_some(), "using GetSessionToken");
        // The window the code belongs to: a source is not asked again before the next one.
        let window = self.mfa_window();
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
            self.used_codes.note(device, code, window);
            self.note_used_window(device, window);
        }
        credentials.issued = Some(issued);
        if mode.writes() {
            self.cache(token_key, &credentials, None)?;
            self.remember(session, &definition, &credentials);
        }
        Ok((credentials, false))
    }

    /// Credentials the AWS web console takes for a session. An IAM user's come from
    /// GetFederationToken with its long-term keys (the console refuses session-token
    /// credentials) and `CONSOLE_POLICY`: a federated user without an inline policy has no
    /// permissions at all; with allow-all, it has exactly the IAM user's own. Every other kind's
    /// are its temporary credentials.
    pub fn console_credentials(
        &mut self,
        id: SessionId,
        prompt: &mut dyn Prompt,
    ) -> Result<Credentials, Error> {
        let catalog = self.store.load()?;
        let session = crate::engine::session_in(&catalog, id)?;
        if !matches!(session.kind, crate::session::SessionKind::IamUser { .. }) {
            return self.credentials_in(&catalog, id, prompt);
        }
        let keys = self.keys(&session, Mode::Live)?;
        let name = federated_name(session.alias.as_str());
        tracing::info!(%id, "using GetFederationToken for the web console");
        self.sts
            .get_federation_token(
                &session.region,
                &keys,
                &name,
                CONSOLE_POLICY,
                SESSION_TOKEN_DURATION,
            )
            .map_err(|e| Error::sts(&session, e))
    }

    /// The IAM user's long-term keys: the proposed ones of a dry run, else the keychain's (a
    /// command that writes finishes moving an old layout to the pair first; a dry run doesn't).
    fn keys(&self, session: &Session, mode: Mode<'_>) -> Result<IamUserKeys, Error> {
        let proposed = match mode {
            Mode::DryRun { target, keys } if target == session.id => Some(keys),
            _ => None,
        };
        let proposed_id = proposed.and_then(|k| k.access_key_id.as_ref());
        let proposed_secret = proposed.and_then(|k| k.secret_access_key.as_ref());
        let [stored_id, stored_secret] = if proposed_id.is_some() && proposed_secret.is_some() {
            [None, None]
        } else {
            self.stored_keys(session.id, mode.writes())?
        };
        let missing = || Error::MissingKeys {
            alias: session.alias.to_string(),
        };
        let access_key_id = match proposed_id {
            Some(k) => AccessKeyId::parse(k.secret())?,
            None => AccessKeyId::parse(&stored_id.ok_or_else(missing)?)?,
        };
        let secret_access_key = match proposed_secret {
            Some(k) => SecretAccessKey::parse(k.secret())?,
            None => SecretAccessKey::parse(&stored_secret.ok_or_else(missing)?)?,
        };
        Ok(IamUserKeys {
            access_key_id,
            secret_access_key,
        })
    }

    /// The 30-second window of TOTP codes now.
    fn mfa_window(&self) -> i64 {
        self.now().unix_timestamp() / MFA_WINDOW_SECONDS
    }

    /// Where the window of the code last used with `device` is kept for the other credtray
    /// processes (a `session test` then a `session start`): `mfa-used/<hash>` beside the
    /// store. The window only, never the code.
    fn used_window_file(&self, device: &MfaDevice) -> std::path::PathBuf {
        let name = crate::sha256_hex(device.as_str().as_bytes(), 8);
        self.store.dir().join("mfa-used").join(name)
    }

    /// The window in which a code of `device` was last used, by this process or another.
    fn last_used_window(&self, device: &MfaDevice) -> Option<i64> {
        let elsewhere = std::fs::read_to_string(self.used_window_file(device))
            .ok()
            .and_then(|text| text.trim().parse().ok());
        self.used_codes.last_window(device).max(elsewhere)
    }

    /// Tells the other credtray processes (best effort: a guard, not a record).
    fn note_used_window(&self, device: &MfaDevice, window: i64) {
        let path = self.used_window_file(device);
        let written = path
            .parent()
            .map_or(Ok(()), |dir| crate::atomic::create_dir(dir, 0o700))
            .and_then(|()| crate::atomic::write(&path, window.to_string().as_bytes(), 0o600));
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), error = %e, "cannot note the MFA window used");
        }
    }

    /// An MFA code for `device`: the one the person offered, else the source's, else the
    /// person's. A source is asked only in a window whose code was not used yet (it would give
    /// that code again, which AWS refuses): the engine waits for the next window first.
    fn mfa_code(
        &mut self,
        session: &Session,
        device: &MfaDevice,
        source: Option<&MfaSource>,
        prompt: &mut dyn Prompt,
    ) -> Result<MfaCode, Error> {
        if let Some(code) = prompt.offered_code() {
            if !self.used_codes.used(device, &code, self.mfa_window()) {
                return Ok(code);
            }
            return self.ask_mfa(session, device, prompt, MfaAsk::AlreadyUsed);
        }
        let Some(source) = source else {
            return self.ask_mfa(session, device, prompt, MfaAsk::First);
        };
        let reason = match self.source_code(session, device, source, prompt) {
            Ok(Some(code)) => return Ok(code),
            Ok(None) => {
                return Err(Error::MfaCodeReused {
                    alias: session.alias.to_string(),
                });
            }
            Err(failed) => failed.to_string(),
        };
        tracing::warn!(id = %session.id, %reason, "the MFA source failed");
        prompt.mfa_notice(session, MfaNotice::SourceFailed(&reason));
        match self.ask_mfa(session, device, prompt, MfaAsk::SourceFailed) {
            Err(Error::NeedsMfaCode { alias }) => Err(Error::MfaSource { alias, reason }),
            answered => answered,
        }
    }

    /// The source's code, asked in a window whose code was not used (waiting for the next
    /// one, up to three times); each run of the source within its time
    /// ([`crate::mfa::timeout`]), and all of it within that and one window's wait (the
    /// agent's client waits for this, then a dialog: `agent::client::REPLY_WAIT`); `None`
    /// when it kept giving a used code.
    fn source_code(
        &mut self,
        session: &Session,
        device: &MfaDevice,
        source: &MfaSource,
        prompt: &mut dyn Prompt,
    ) -> Result<Option<MfaCode>, crate::mfa::Failed> {
        let limit = crate::mfa::timeout();
        let budget = limit + Duration::from_secs(MFA_WINDOW_SECONDS as u64 + 1);
        let started = std::time::Instant::now();
        for _ in 0..3 {
            if self.last_used_window(device) >= Some(self.mfa_window()) {
                let next = (self.mfa_window() + 1) * MFA_WINDOW_SECONDS;
                let seconds = (next - self.now().unix_timestamp()).clamp(0, MFA_WINDOW_SECONDS);
                // A second into the window: the source's clock may lag this one a little.
                let seconds = seconds as u64 + 1;
                prompt.mfa_notice(session, MfaNotice::NextCode { seconds });
                // A second at a time, so that a tray that quits is not kept waiting.
                for _ in 0..seconds {
                    if prompt.cancelled() {
                        break;
                    }
                    (self.pause)(Duration::from_secs(1));
                }
            }
            let left = budget.saturating_sub(started.elapsed()).min(limit);
            if left.is_zero() || prompt.cancelled() {
                return Err(crate::mfa::Failed::new(format!(
                    "{} gave no MFA code within {} s",
                    source.program(),
                    limit.as_secs()
                )));
            }
            if matches!(source, MfaSource::Ykman { .. }) {
                prompt.mfa_notice(session, MfaNotice::Touch);
            }
            tracing::info!(id = %session.id, source = source.program(), "asking the MFA source");
            let code = crate::mfa::code(source, left, &|| prompt.cancelled())?;
            if !self.used_codes.used(device, &code, self.mfa_window()) {
                return Ok(Some(code));
            }
            // The code of the window before, still given: the next one is near.
            self.used_codes.note_window(device, self.mfa_window());
        }
        Ok(None)
    }

    /// Asks the person for an MFA code, refusing one already used in this 30-second window
    /// (AWS would reject it; the person is asked to wait for the next one).
    fn ask_mfa(
        &mut self,
        session: &Session,
        device: &MfaDevice,
        prompt: &mut dyn Prompt,
        first: MfaAsk,
    ) -> Result<MfaCode, Error> {
        let mut ask = first;
        for _ in 0..3 {
            let Some(code) = prompt.mfa_code(session, device, ask) else {
                break;
            };
            let window = self.now().unix_timestamp() / MFA_WINDOW_SECONDS;
            if !self.used_codes.used(device, &code, window) {
                return Ok(code);
            }
            ask = MfaAsk::AlreadyUsed;
        }
        Err(match ask {
            MfaAsk::First | MfaAsk::SourceFailed => Error::NeedsMfaCode {
                alias: session.alias.to_string(),
            },
            MfaAsk::AlreadyUsed => Error::MfaCodeReused {
                alias: session.alias.to_string(),
            },
        })
    }
}
