//! IAM Identity Center integrations at work: the device login, the tokens (kept only in the
//! keychain, `<integration id>-aws-sso-token`) and their refresh, logout (which stops the
//! integration's sessions and refuses them until the next login), the access token a
//! derived session's start needs, and the sync that turns the user's assignments into derived
//! `aws-sso-role` sessions (paced, so hundreds of accounts sync without being throttled;
//! one at a time per integration, machine-wide, see [`super::sync_turn`]; cancellable until it
//! applies what it listed, all of it, so a store is never half-synced).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::sync_turn::{self, Turn};
use super::{Engine, Error, HomelessKeys, run};
use crate::aws::pace::{Attempt, Limits, Pace};
use crate::aws::sso::{self, Account, Cause, DeviceLogin, Registration, Sso};
use crate::secrets::{Item, Key};
use crate::session::{
    AccountId, Alias, Catalog, Integration, IntegrationId, Login, NewSession, ProfileName,
    RoleName, Session, SessionId, SessionKind, State,
};

/// An access token is refreshed when it has less than this left.
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);
/// A registration is renewed when it has less than this left.
const REGISTER_BEFORE: Duration = Duration::from_secs(15 * 60);
/// The name credtray registers under.
const CLIENT_NAME: &str = "credtray";

/// What the keychain holds for an integration.
#[derive(serde::Serialize, serde::Deserialize)]
struct Tokens {
    registration: Registration,
    access_token: String,
    #[serde(with = "time::serde::rfc3339")]
    expires: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

impl Drop for Tokens {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.access_token.zeroize();
        self.refresh_token.zeroize();
        self.registration.client_secret.zeroize();
    }
}

/// What a sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncReport {
    /// The accounts listed.
    pub accounts: usize,
    /// Sessions added, by alias.
    pub added: Vec<String>,
    /// Sessions that were there before and still are.
    pub kept: usize,
    /// Sessions removed (their role vanished), by alias.
    pub removed: Vec<String>,
    /// Sessions whose role vanished but which other sessions assume from: kept, in `error`.
    pub orphaned: Vec<String>,
    /// Accounts whose roles could not be listed, with why; their sessions are kept as they were.
    pub failed: Vec<(String, String)>,
    /// Derived sessions in all, after the sync.
    pub sessions: usize,
    /// How long it took, from asking to apply to the end (waiting for another sync included).
    pub took: Duration,
    /// Who ran the sync this report is of, when it was another command's, which this one
    /// waited for rather than list everything again: "process 4242 (credtray integration sync)".
    pub ran_by: Option<String>,
}

/// How a sync is getting on, for a progress line or the tray's menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncProgress {
    pub phase: SyncPhase,
    /// Accounts listed so far; then, once roles are listed, accounts whose roles are.
    pub accounts: usize,
    /// All the accounts, once the account list is read.
    pub total: Option<usize>,
    /// Roles found so far.
    pub roles: usize,
    /// Requests the portal throttled so far.
    pub throttled: u64,
    pub elapsed: Duration,
}

/// Where a sync is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncPhase {
    /// Waiting for another command's sync of the integration (named) to finish.
    Waiting(String),
    /// Reading the account list.
    Accounts,
    /// Reading each account's roles.
    Roles,
    /// Changing the sessions to match: no longer cancellable.
    Applying,
}

impl Engine {
    fn sso_client(&self) -> Result<Arc<dyn Sso>, Error> {
        self.sso.clone().ok_or(Error::NoSsoClient)
    }

    fn integration(&self, id: IntegrationId) -> Result<Integration, Error> {
        self.store
            .load()?
            .integration(id)
            .cloned()
            .ok_or_else(|| crate::session::Error::UnknownIntegration(id.to_string()).into())
    }

    fn tokens(&self, id: IntegrationId) -> Result<Option<Tokens>, Error> {
        let key = Key::integration(id, Item::AwsSsoToken);
        let Some(json) = self.secrets.get(key)? else {
            return Ok(None);
        };
        Ok(serde_json::from_str(json.expose_secret()).ok())
    }

    fn keep_tokens(&self, id: IntegrationId, tokens: &Tokens) -> Result<(), Error> {
        let json = Zeroizing::new(
            serde_json::to_string(tokens).map_err(|e| Error::Internal(e.to_string()))?,
        );
        self.secrets.set(
            Key::integration(id, Item::AwsSsoToken),
            &SecretString::from(json.as_str().to_owned()),
        )?;
        Ok(())
    }

    fn set_login(&self, id: IntegrationId, login: Login) -> Result<(), Error> {
        let mut locked = self.lock()?;
        locked.catalog.set_login(id, login);
        locked.save()?;
        Ok(())
    }

    /// Marks the integration logged out (its tokens gone) and says so.
    fn logged_out(&self, integration: &Integration, why: &str) -> Error {
        tracing::info!(id = %integration.id, why, "integration logged out");
        if let Err(e) = self
            .secrets
            .delete(Key::integration(integration.id, Item::AwsSsoToken))
        {
            tracing::warn!(error = %e, "could not delete the integration's tokens");
        }
        if let Err(e) = self.set_login(integration.id, Login::LoggedOut) {
            tracing::warn!(error = %e, "could not record that the integration is logged out");
        }
        Error::LoggedOut {
            integration: integration.alias.to_string(),
            why: if why.is_empty() {
                String::new()
            } else {
                format!(" ({why})")
            },
        }
    }

    fn sso_error(&self, integration: &Integration, e: sso::Error) -> Error {
        match e.cause {
            Cause::Unauthorized | Cause::InvalidGrant | Cause::InvalidClient => {
                self.logged_out(integration, &e.to_string())
            }
            _ => Error::Sso {
                integration: integration.alias.to_string(),
                cause: e,
            },
        }
    }

    /// Logs in with a device authorization: `show` is given the code and URL to show (and
    /// open), then the login is polled until approved, refused, expired or `cancelled`. Ends
    /// with a sync, whose report it returns.
    pub fn login(
        &mut self,
        id: IntegrationId,
        show: &mut dyn FnMut(&DeviceLogin),
        cancelled: &dyn Fn() -> bool,
        progress: &(dyn Fn(&SyncProgress) + Sync),
    ) -> Result<SyncReport, Error> {
        let integration = self.integration(id)?;
        let sso = self.sso_client()?;
        let region = &integration.region;
        let wrap = |e: sso::Error| Error::Sso {
            integration: integration.alias.to_string(),
            cause: e,
        };
        let now = self.now();
        let registration = match self.tokens(id)? {
            Some(t) if t.registration.expires - now > REGISTER_BEFORE => t.registration.clone(),
            _ => paced(&integration, "RegisterClient", || {
                sso.register_client(region, CLIENT_NAME)
            })
            .map_err(wrap)?,
        };
        let device = paced(&integration, "StartDeviceAuthorization", || {
            sso.start_device_login(region, &registration, &integration.start_url)
        })
        .map_err(wrap)?;
        show(&device);
        let mut interval = device.interval;
        let token = loop {
            if cancelled() {
                return Err(Error::LoginCancelled);
            }
            match paced(&integration, "CreateToken", || {
                sso.device_token(region, &registration, &device.device_code)
            }) {
                Ok(token) => break token,
                Err(e) => match e.cause {
                    Cause::AuthorizationPending => {}
                    Cause::SlowDown => interval += Duration::from_secs(5),
                    _ => return Err(wrap(e)),
                },
            }
            // Sleep in small steps, so a cancel is seen at once.
            let until = std::time::Instant::now() + interval;
            while std::time::Instant::now() < until {
                if cancelled() {
                    return Err(Error::LoginCancelled);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        };
        self.keep_tokens(
            id,
            &Tokens {
                registration,
                access_token: token.access_token.expose_secret().to_owned(),
                expires: token.expires,
                refresh_token: token
                    .refresh_token
                    .as_ref()
                    .map(|t| t.expose_secret().to_owned()),
            },
        )?;
        self.set_login(id, Login::LoggedIn { until: None })?;
        tracing::info!(%id, "logged in");
        self.sync(id, progress, cancelled)
    }

    /// The integration's access token, refreshed first when it has less than five minutes
    /// left (or when `force`d, after the portal refused it). A refresh that fails for good logs
    /// the integration out.
    pub(super) fn access_token(
        &self,
        integration: &Integration,
        force: bool,
    ) -> Result<SecretString, Error> {
        if integration.login == Login::LoggedOut {
            return Err(self.logged_out(integration, ""));
        }
        let Some(tokens) = self.tokens(integration.id)? else {
            return Err(self.logged_out(integration, "its tokens are gone from the keychain"));
        };
        let now = self.now();
        if !force && tokens.expires - now > REFRESH_BEFORE {
            return Ok(SecretString::from(tokens.access_token.clone()));
        }
        let Some(refresh_token) = tokens.refresh_token.as_ref() else {
            return Err(self.logged_out(integration, "its access token expired"));
        };
        if tokens.registration.expires <= now {
            return Err(self.logged_out(integration, "credtray's registration expired"));
        }
        let sso = self.sso_client()?;
        let refresh_token = SecretString::from(refresh_token.clone());
        match paced(integration, "CreateToken", || {
            sso.refresh(&integration.region, &tokens.registration, &refresh_token)
        }) {
            Ok(token) => {
                let renewed = Tokens {
                    registration: tokens.registration.clone(),
                    access_token: token.access_token.expose_secret().to_owned(),
                    expires: token.expires,
                    // A rotated refresh token replaces the old one, which no longer works.
                    refresh_token: token
                        .refresh_token
                        .as_ref()
                        .map(|t| t.expose_secret().to_owned())
                        .or_else(|| tokens.refresh_token.clone()),
                };
                self.keep_tokens(integration.id, &renewed)?;
                tracing::info!(id = %integration.id, "refreshed the access token");
                Ok(token.access_token)
            }
            Err(e) => Err(self.sso_error(integration, e)),
        }
    }

    /// Logs out: the portal session ends (as far as the portal can be reached), the tokens
    /// leave the keychain, and so do the cached role credentials of the integration's sessions
    /// (and this process's memory of them); then its sessions that are not inactive stop,
    /// giving their profiles back as a stop does. Returns the sessions stopped. From then on,
    /// those sessions' credentials are refused at once (see `Engine::refuse_logged_out`).
    /// A stop that fails ends the logout with its error; logging out again stops the rest.
    pub fn logout(&mut self, id: IntegrationId) -> Result<Vec<Session>, Error> {
        let integration = self.integration(id)?;
        if let (Some(tokens), Ok(sso)) = (self.tokens(id)?, self.sso_client())
            && let Err(e) = paced(&integration, "Logout", || {
                sso.logout(
                    &integration.region,
                    &SecretString::from(tokens.access_token.clone()),
                )
            })
        {
            tracing::info!(error = %e, "the portal's logout failed; the tokens are deleted anyway");
        }
        self.secrets
            .delete(Key::integration(id, Item::AwsSsoToken))?;
        // Recorded before anything else: from here on no cache serves these sessions.
        self.set_login(id, Login::LoggedOut)?;
        let derived: Vec<Session> = self.store.load()?.derived_from(id).cloned().collect();
        for session in &derived {
            if let Some(remembered) = &self.remembered {
                remembered.forget(session.id);
            }
            let key = Key::new(session.id, Item::RoleCredentials);
            // Never served again (the integration is logged out), and they expire within the
            // hour: a keychain that fails here does not keep the sessions running.
            if let Err(e) = self.secrets.delete(key) {
                tracing::warn!(account = %key, error = %e, "could not remove cached role credentials; they expire by themselves");
            }
        }
        let mut stopped = Vec::new();
        for session in derived.iter().filter(|s| s.state.is_running()) {
            stopped.push(self.stop(session.id)?);
        }
        tracing::info!(%id, stopped = stopped.len(), "logged out");
        Ok(stopped)
    }

    /// Refuses a session of a logged-out integration before any cache is consulted: after a
    /// logout, credentials still remembered or cached are not served, and nothing asks the
    /// portal (only a login brings the session back). This process forgets what it remembers
    /// of the session.
    pub(super) fn refuse_logged_out(
        &self,
        catalog: &Catalog,
        session: &Session,
    ) -> Result<(), Error> {
        let Some(integration) = logged_out_integration(catalog, session) else {
            return Ok(());
        };
        if let Some(remembered) = &self.remembered {
            remembered.forget(session.id);
        }
        Err(Error::LoggedOut {
            integration: integration.alias.to_string(),
            why: String::new(),
        })
    }

    /// Role credentials of a derived session: GetRoleCredentials with the access token, once
    /// more after a refresh if the portal refuses the token.
    pub(super) fn role_credentials(
        &self,
        integration: IntegrationId,
        account: &AccountId,
        role: &RoleName,
    ) -> Result<crate::aws::Credentials, Error> {
        let integration = self.integration(integration)?;
        let sso = self.sso_client()?;
        let token = self.access_token(&integration, false)?;
        let refused = |e: sso::Error| match e.cause {
            Cause::Forbidden => Error::NoAccess {
                role: role.to_string(),
                account: account.to_string(),
            },
            // Unauthorized once more logs the integration out.
            _ => self.sso_error(&integration, e),
        };
        let get = |token: &SecretString| {
            paced(&integration, "GetRoleCredentials", || {
                sso.role_credentials(&integration.region, token, account, role)
            })
        };
        match get(&token) {
            // The portal refused the token: a refreshed one, once.
            Err(e) if e.cause == Cause::Unauthorized => {
                let token = self.access_token(&integration, true)?;
                get(&token).map_err(refused)
            }
            other => other.map_err(refused),
        }
    }

    /// Lists the user's accounts and roles and makes the derived sessions match: new roles
    /// add sessions, vanished ones stop and remove theirs (or, if another session assumes from
    /// one, keep it in `error`), the others keep their id, profile, region and state. An
    /// account whose roles can't be listed keeps its sessions and is named in the report.
    ///
    /// One sync of an integration runs at a time on the machine: while another command's
    /// runs, this one waits and returns that one's report ([`SyncReport::ran_by`]). `progress`
    /// hears how it gets on. Until it has listed everything, `cancelled` ends it with
    /// [`Error::SyncCancelled`] and nothing changed; then it applies all it found. What the
    /// pace learned of the portal is kept with the integration, for the next sync.
    pub fn sync(
        &mut self,
        id: IntegrationId,
        progress: &(dyn Fn(&SyncProgress) + Sync),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<SyncReport, Error> {
        let started = Instant::now();
        let integration = self.integration(id)?;
        let cancel = || cancelled_sync(&integration);
        let waiting = |holder: &str| {
            progress(&SyncProgress {
                phase: SyncPhase::Waiting(holder.to_owned()),
                accounts: 0,
                total: None,
                roles: 0,
                throttled: 0,
                elapsed: started.elapsed(),
            });
        };
        let turn =
            sync_turn::take(self.store.dir(), id, &waiting, cancelled).map_err(|source| {
                Error::Store(crate::store::Error::Lock {
                    path: self.store.dir().join("sync"),
                    source,
                })
            })?;
        let mine = match turn {
            Turn::Mine(mine) => mine,
            Turn::Cancelled => return Err(cancel()),
            Turn::Theirs { holder, result } => {
                return match result {
                    Ok(report) => Ok(SyncReport {
                        took: started.elapsed(),
                        ran_by: Some(holder),
                        ..report
                    }),
                    Err(why) => Err(Error::SyncedMeanwhile {
                        integration: integration.alias.to_string(),
                        holder,
                        why,
                    }),
                };
            }
        };
        // The integration as it is now that it is this sync's turn (another may have synced).
        let integration = self.integration(id)?;
        let result = self.sync_now(&integration, started, progress, cancelled);
        match &result {
            Err(Error::SyncCancelled { .. }) => drop(mine),
            Ok(report) => mine.finish(Ok(report)),
            Err(e) => mine.finish(Err(crate::error_sentence(e))),
        }
        result
    }

    fn sync_now(
        &mut self,
        integration: &Integration,
        started: Instant,
        progress: &(dyn Fn(&SyncProgress) + Sync),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<SyncReport, Error> {
        let cancel = || cancelled_sync(integration);
        let sso = self.sso_client()?;
        let token = self.access_token(integration, false)?;
        let region = &integration.region;
        let pace = pace_of(integration);
        let throttled_before = pace.throttled();
        let roles_found = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        let tell = |phase: SyncPhase, accounts: usize, total: Option<usize>| {
            progress(&SyncProgress {
                phase,
                accounts,
                total,
                roles: roles_found.load(Ordering::SeqCst),
                throttled: pace.throttled() - throttled_before,
                elapsed: started.elapsed(),
            });
        };
        let mut accounts: Vec<Account> = Vec::new();
        let mut next: Option<String> = None;
        tell(SyncPhase::Accounts, 0, None);
        loop {
            if cancelled() {
                return Err(cancel());
            }
            let page = paced(integration, "ListAccounts", || {
                sso.list_accounts(region, &token, next.as_deref())
            })
            .map_err(|e| self.sso_error(integration, e))?;
            accounts.extend(page.items);
            tell(SyncPhase::Accounts, accounts.len(), None);
            next = page.next;
            if next.is_none() {
                break;
            }
        }
        let total = accounts.len();
        tell(SyncPhase::Roles, 0, Some(total));
        let claimed = AtomicUsize::new(0);
        let results: Mutex<Vec<(usize, Listed)>> = Mutex::new(Vec::new());
        // Set by this thread when `cancelled` says so: the workers stop taking accounts.
        let stop = AtomicBool::new(false);
        let stopped = || stop.load(Ordering::SeqCst);
        let workers = Limits::SSO.in_flight.min(total);
        let finished = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            // As many workers as the pace lets calls be in flight, or accounts if fewer.
            for _ in 0..workers {
                scope.spawn(|| {
                    // Counted as finished however it ends (a panic too).
                    let _finished = Finished(&finished);
                    while !stopped() {
                        let at = claimed.fetch_add(1, Ordering::SeqCst);
                        let Some(account) = accounts.get(at) else {
                            break;
                        };
                        let listed = list_roles(integration, &*sso, &token, account, &stopped);
                        if let Ok(roles) = &listed {
                            roles_found.fetch_add(roles.len(), Ordering::SeqCst);
                        }
                        results
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push((at, listed));
                        tell(
                            SyncPhase::Roles,
                            done.fetch_add(1, Ordering::SeqCst) + 1,
                            Some(total),
                        );
                    }
                });
            }
            while finished.load(Ordering::SeqCst) < workers {
                if !stopped() && cancelled() {
                    stop.store(true, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        // Cancelled while listing, or just as it ended: nothing is applied.
        if stopped() || cancelled() {
            return Err(cancel());
        }
        let mut results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
        results.sort_by_key(|(at, _)| *at);
        // A token the portal refuses mid-sync means the whole login is gone.
        if let Some((_, Err(e))) = results
            .iter()
            .find(|(_, r)| matches!(r, Err(e) if e.cause == Cause::Unauthorized))
        {
            return Err(self.sso_error(integration, e.clone()));
        }
        let mut listed = Vec::new();
        let mut report = SyncReport {
            accounts: total,
            ..SyncReport::default()
        };
        let mut failed_accounts = HashSet::new();
        for (at, result) in results {
            let account = &accounts[at];
            match result {
                Ok(roles) => listed.extend(roles.into_iter().map(|r| (account.clone(), r))),
                Err(e) => {
                    failed_accounts.insert(account.id.clone());
                    report
                        .failed
                        .push((format!("{} ({})", account.name, account.id), e.to_string()));
                }
            }
        }
        tell(SyncPhase::Applying, total, Some(total));
        let mut report = self.apply_sync(integration, &listed, &failed_accounts, report)?;
        report.took = started.elapsed();
        Ok(report)
    }

    fn apply_sync(
        &mut self,
        integration: &Integration,
        listed: &[(Account, RoleName)],
        failed: &HashSet<AccountId>,
        mut report: SyncReport,
    ) -> Result<SyncReport, Error> {
        let catalog = self.store.load()?;
        let plan = plan(&catalog, integration, listed, failed);
        for id in &plan.orphaned {
            if let Some(s) = catalog.get(*id) {
                report.orphaned.push(s.alias.to_string());
            }
        }
        for id in plan.vanished {
            let catalog = self.store.load()?;
            let Some(session) = catalog.get(id).cloned() else {
                continue;
            };
            if run::holds_profile(&catalog, &session) {
                self.stop(id)?;
            }
            self.delete(id, false, HomelessKeys::Refuse)?;
            report.removed.push(session.alias.to_string());
        }
        // Halfway (vanished roles removed, new ones not yet added): where a test interrupts.
        super::owning::failpoint_wait("sync-halfway");
        let mut locked = self.lock()?;
        locked
            .catalog
            .set_pace(integration.id, pace_of(integration).snapshot().learned());
        for id in &plan.orphaned {
            locked.catalog.set_state(
                *id,
                State::Error("no longer assigned in IAM Identity Center".to_owned()),
                None,
            );
        }
        for new in plan.new {
            report.added.push(new.alias.to_string());
            locked.catalog.add(new)?;
        }
        locked.save()?;
        report.sessions = locked.catalog.derived_from(integration.id).count();
        report.kept = report.sessions - report.added.len();
        tracing::info!(
            id = %integration.id,
            added = report.added.len(),
            removed = report.removed.len(),
            failed = report.failed.len(),
            "synced"
        );
        Ok(report)
    }
}

fn cancelled_sync(integration: &Integration) -> Error {
    Error::SyncCancelled {
        integration: integration.alias.to_string(),
    }
}

/// Counts a sync's worker finished when dropped.
struct Finished<'a>(&'a AtomicUsize);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// One account's roles, or why they could not be listed.
type Listed = Result<Vec<RoleName>, sso::Error>;

/// Every page of an account's roles (a sync that is cancelled meanwhile stops asking; what
/// it read is not used).
fn list_roles(
    integration: &Integration,
    sso: &dyn Sso,
    token: &SecretString,
    account: &Account,
    cancelled: &dyn Fn() -> bool,
) -> Listed {
    let mut roles = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = paced(integration, "ListAccountRoles", || {
            sso.list_account_roles(&integration.region, token, &account.id, next.as_deref())
        })?;
        roles.extend(page.items);
        next = page.next;
        if next.is_none() || cancelled() {
            return Ok(roles);
        }
    }
}

/// The pace of an integration's calls, one per integration in the process: every portal
/// and OIDC call of the integration goes through it (a sync's workers, a session's
/// GetRoleCredentials, a token refresh, a login's polls), so together they keep to the rate
/// the portal bears, and what one learned the next call knows. The process's first call
/// starts from what the last sync learned (kept with the integration).
fn pace_of(integration: &Integration) -> Arc<Pace> {
    static PACES: OnceLock<Mutex<HashMap<IntegrationId, Arc<Pace>>>> = OnceLock::new();
    PACES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(integration.id)
        .or_insert_with(|| {
            Arc::new(match integration.pace {
                Some(learned) => Pace::resume(Limits::SSO, learned),
                None => Pace::new(Limits::SSO),
            })
        })
        .clone()
}

/// Runs one IAM Identity Center call (`name`) of `integration` at the integration's pace:
/// again when throttled (the pace slows down) or when it fails for a passing reason (after a
/// backoff), each attempt admitted by the pace, until its attempts are spent.
fn paced<T>(
    integration: &Integration,
    name: &'static str,
    mut call: impl FnMut() -> Result<T, sso::Error>,
) -> Result<T, sso::Error> {
    pace_of(integration).run(
        || match call() {
            Err(error) => match error.cause {
                Cause::Throttled { retry_after } => Attempt::Throttled { error, retry_after },
                _ if error.is_passing() => Attempt::Failed(error),
                _ => Attempt::Done(Err(error)),
            },
            ok => Attempt::Done(ok),
        },
        || sso::Error {
            call: name,
            cause: Cause::Throttled { retry_after: None },
            message: "it has refused every call for a minute; not tried".to_owned(),
        },
    )
}

/// What a sync changes.
#[derive(Debug, Default)]
struct Plan {
    new: Vec<NewSession>,
    /// Derived sessions whose role is no longer assigned: stopped and deleted.
    vanished: Vec<SessionId>,
    /// Vanished, but other sessions assume from them: kept, in `error`.
    orphaned: Vec<SessionId>,
}

fn plan(
    catalog: &Catalog,
    integration: &Integration,
    listed: &[(Account, RoleName)],
    failed: &HashSet<AccountId>,
) -> Plan {
    let existing: HashMap<(AccountId, RoleName), SessionId> = catalog
        .derived_from(integration.id)
        .filter_map(|s| match &s.kind {
            SessionKind::AwsSsoRole {
                account_id,
                role_name,
                ..
            } => Some(((account_id.clone(), role_name.clone()), s.id)),
            _ => None,
        })
        .collect();
    let mut plan = Plan::default();
    let wanted: HashSet<(AccountId, RoleName)> = listed
        .iter()
        .map(|(a, r)| (a.id.clone(), r.clone()))
        .collect();
    for ((account, role), id) in &existing {
        if wanted.contains(&(account.clone(), role.clone())) || failed.contains(account) {
            continue;
        }
        if catalog
            .sessions()
            .iter()
            .any(|s| s.kind.assumer() == Some(*id))
        {
            plan.orphaned.push(*id);
        } else {
            plan.vanished.push(*id);
        }
    }
    let mut aliases: HashSet<String> = catalog
        .sessions()
        .iter()
        .filter(|s| !plan.vanished.contains(&s.id))
        .map(|s| s.alias.folded())
        .collect();
    let mut profiles: HashSet<String> = catalog
        .sessions()
        .iter()
        .filter(|s| !plan.vanished.contains(&s.id))
        .map(|s| s.profile.to_string())
        .collect();
    for (account, role) in listed {
        if existing.contains_key(&(account.id.clone(), role.clone())) {
            continue;
        }
        // The user's own profile name for this role (imported), when it is still free: the
        // session is called like it, as the import promised.
        let remembered = integration
            .profiles
            .iter()
            .find(|r| r.account_id == account.id && &r.role_name == role)
            .map(|r| r.profile.clone())
            .filter(|p| !profiles.contains(p.as_str()));
        let alias = remembered
            .as_ref()
            .and_then(|p| p.as_str().parse::<Alias>().ok())
            .filter(|a| !aliases.contains(&a.folded()))
            .or_else(|| alias_for(account, role, integration, &aliases));
        let Some(alias) = alias else {
            tracing::warn!(account = %account.id, role = %role, "no alias fits this role; left out");
            continue;
        };
        aliases.insert(alias.folded());
        let profile = remembered.unwrap_or_else(|| profile_for(account, role, &profiles));
        profiles.insert(profile.to_string());
        plan.new.push(NewSession {
            alias,
            profile: Some(profile),
            region: None,
            publish: None,
            kind: SessionKind::AwsSsoRole {
                account_id: account.id.clone(),
                role_name: role.clone(),
                integration: integration.id,
            },
        });
    }
    plan
}

/// The integration `session` derives from, when that one is logged out: such a session gets
/// no credentials, from any cache, until the next login.
pub fn logged_out_integration<'a>(
    catalog: &'a Catalog,
    session: &Session,
) -> Option<&'a Integration> {
    let SessionKind::AwsSsoRole { integration, .. } = &session.kind else {
        return None;
    };
    catalog
        .integration(*integration)
        .filter(|i| i.login == Login::LoggedOut)
}

/// Cuts `text` so that `text + suffix` fits AWS's and credtray's 64 characters.
fn fit(text: &str, suffix: &str) -> String {
    let room = 64usize.saturating_sub(suffix.chars().count());
    let mut cut: String = text.chars().take(room).collect();
    cut = cut.trim_end().to_owned();
    cut.push_str(suffix);
    cut
}

/// `<account name>/<role name>`, unique: a clash gets ` (<integration alias>)`, then
/// ` (<account id>)`; an account name the alias rules refuse gives way to the account id.
fn alias_for(
    account: &Account,
    role: &RoleName,
    integration: &Integration,
    taken: &HashSet<String>,
) -> Option<Alias> {
    let name: String = account
        .name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let base = format!("{}/{role}", name.trim());
    let by_id = format!("{}/{role}", account.id);
    [
        fit(&base, ""),
        fit(&base, &format!(" ({})", integration.alias)),
        fit(&base, &format!(" ({})", account.id)),
        fit(&by_id, ""),
        fit(&by_id, &format!(" ({})", integration.alias)),
        fit(&by_id, &format!(" ({})", integration.id)),
    ]
    .iter()
    .filter_map(|c| c.parse::<Alias>().ok())
    .find(|a| !taken.contains(&a.folded()))
}

/// `<account name>-<role name>` made a valid named profile, unique among the sessions'.
fn profile_for(account: &Account, role: &RoleName, taken: &HashSet<String>) -> ProfileName {
    let valid = |c: char| c.is_ascii_alphanumeric() || "_.+@-".contains(c);
    // Other characters become `-`, one for a run of them.
    let mut base = String::new();
    for c in format!("{}-{role}", account.name).chars() {
        let c = if valid(c) { c } else { '-' };
        if !(c == '-' && base.ends_with('-')) {
            base.push(c);
        }
    }
    let base = base.trim_matches('-').to_owned();
    let base = if base.is_empty() || base == "DEFAULT" || base.starts_with("profile ") {
        format!("{}-{role}", account.id)
    } else {
        base
    };
    (1..)
        .map(|n| {
            if n == 1 {
                fit(&base, "")
            } else {
                fit(&base, &format!("-{n}"))
            }
        })
        .filter_map(|p| p.parse::<ProfileName>().ok())
        .find(|p| !taken.contains(p.as_str()))
        .unwrap_or_else(ProfileName::default_profile)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{Fake, FakeSso};
    use crate::awsfiles::Files;
    use crate::engine::NoPrompt;
    use crate::secrets::{Memory, SecretStore};
    use crate::session::{NewIntegration, Session};
    use crate::store::Store;

    struct Rig {
        _dir: tempfile::TempDir,
        mem: Arc<Memory>,
        sso: Arc<FakeSso>,
        engine: Engine,
        corp: IntegrationId,
    }

    fn rig() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let mem = Arc::new(Memory::new());
        let sso = Arc::new(FakeSso::new());
        let engine = Engine::new(
            Store::at(dir.path().join("cfg")),
            mem.clone(),
            Files::at(dir.path().join("credentials"), dir.path().join("config")),
            Arc::new(Fake::new()),
        )
        .with_sso(sso.clone());
        let corp = engine
            .add_integration(NewIntegration {
                alias: "corp".parse().unwrap(),
                start_url: "https://d-1234567890.awsapps.com/start".parse().unwrap(),
                region: "eu-west-1".into(),
            })
            .unwrap()
            .id;
        sso.assign(&[
            ("111111111111", "Production", &["Admin", "ReadOnly"]),
            ("222222222222", "Staging", &["Admin"]),
            ("333333333333", "Sandbox", &["Developer"]),
        ]);
        Rig {
            _dir: dir,
            mem,
            sso,
            engine,
            corp,
        }
    }

    impl Rig {
        fn login(&mut self) -> SyncReport {
            let mut shown = Vec::new();
            let report = self
                .engine
                .login(
                    self.corp,
                    &mut |d: &DeviceLogin| shown.push(d.user_code.clone()),
                    &|| false,
                    &|_| {},
                )
                .unwrap();
            assert_eq!(shown, ["ABCD-EFGH"]);
            report
        }

        fn derived(&self) -> Vec<Session> {
            let catalog = self.engine.catalog().unwrap();
            let mut all: Vec<Session> = catalog.derived_from(self.corp).cloned().collect();
            all.sort_by(|a, b| a.alias.as_str().cmp(b.alias.as_str()));
            all
        }

        fn tokens(&self) -> Option<String> {
            self.mem
                .get(Key::integration(self.corp, Item::AwsSsoToken))
                .unwrap()
                .map(|s| s.expose_secret().to_owned())
        }
    }

    #[test]
    fn a_login_polls_until_approved_keeps_the_tokens_in_the_keychain_and_syncs() {
        let mut r = rig();
        r.sso.approve_after(2);
        let report = r.login();
        let polls = r
            .sso
            .calls()
            .iter()
            .filter(|c| *c == "CreateToken(device)")
            .count();
        assert_eq!(polls, 3, "two pending, then the token");
        assert!(r.tokens().unwrap().contains("refresh-1"));
        assert!(matches!(
            r.engine
                .catalog()
                .unwrap()
                .integration(r.corp)
                .unwrap()
                .login,
            Login::LoggedIn { .. }
        ));
        assert_eq!(report.accounts, 3);
        assert_eq!(report.sessions, 4);
        let derived: Vec<(String, String)> = r
            .derived()
            .iter()
            .map(|s| (s.alias.to_string(), s.profile.to_string()))
            .collect();
        assert_eq!(
            derived,
            [
                ("Production/Admin".into(), "Production-Admin".into()),
                ("Production/ReadOnly".into(), "Production-ReadOnly".into()),
                ("Sandbox/Developer".into(), "Sandbox-Developer".into()),
                ("Staging/Admin".into(), "Staging-Admin".into()),
            ]
        );
    }

    #[test]
    fn a_cancelled_login_saves_nothing() {
        let r = rig();
        r.sso.approve_after(1000);
        let mut engine = r.engine;
        let err = engine
            .login(r.corp, &mut |_| {}, &|| true, &|_| {})
            .unwrap_err();
        assert!(matches!(err, Error::LoginCancelled));
        assert_eq!(
            r.mem
                .get(Key::integration(r.corp, Item::AwsSsoToken))
                .unwrap()
                .map(|_| ()),
            None
        );
    }

    #[test]
    fn a_resync_keeps_what_the_user_chose_adds_new_roles_and_removes_vanished_ones() {
        let mut r = rig();
        r.login();
        let staging = r.derived()[3].clone();
        // The user's choices on a derived session survive a sync.
        r.engine
            .edit(
                staging.id,
                crate::session::Edit {
                    region: Some("ap-southeast-2".into()),
                    ..Default::default()
                },
                &mut NoPrompt,
            )
            .unwrap();
        r.sso.assign(&[
            ("111111111111", "Production", &["Admin"]),
            ("222222222222", "Staging", &["Admin", "Billing"]),
            ("333333333333", "Sandbox", &["Developer"]),
        ]);
        // Sandbox's listing fails: its session stays as it was, and the report says so.
        r.sso.fail_roles_of("333333333333");
        let report = r.engine.sync(r.corp, &|_| {}, &|| false).unwrap();
        assert_eq!(report.added, ["Staging/Billing"]);
        assert_eq!(report.removed, ["Production/ReadOnly"]);
        assert_eq!(report.failed.len(), 1);
        assert!(
            report.failed[0].0.contains("Sandbox"),
            "{:?}",
            report.failed
        );
        let aliases: Vec<String> = r.derived().iter().map(|s| s.alias.to_string()).collect();
        assert_eq!(
            aliases,
            [
                "Production/Admin",
                "Sandbox/Developer",
                "Staging/Admin",
                "Staging/Billing"
            ]
        );
        let kept = r
            .derived()
            .into_iter()
            .find(|s| s.id == staging.id)
            .unwrap();
        assert_eq!(kept.region.as_str(), "ap-southeast-2");
    }

    #[test]
    fn a_sync_reports_its_progress_and_keeps_what_its_pace_learned() {
        let mut r = rig();
        r.login();
        assert!(r.engine.catalog().unwrap().integrations()[0].pace.is_some());
        r.sso.assign(&[
            ("111111111111", "Production", &["Admin", "ReadOnly"]),
            ("222222222222", "Staging", &["Admin", "Billing"]),
            ("333333333333", "Sandbox", &["Developer"]),
        ]);
        let seen = Mutex::new(Vec::new());
        let report = r
            .engine
            .sync(r.corp, &|p| seen.lock().unwrap().push(p.clone()), &|| false)
            .unwrap();
        assert_eq!(
            (report.added.len(), report.kept, report.removed.len()),
            (1, 4, 0)
        );
        assert_eq!(report.ran_by, None);
        let seen = seen.into_inner().unwrap();
        let phases: Vec<&SyncPhase> = seen.iter().map(|p| &p.phase).collect();
        assert_eq!(phases.first(), Some(&&SyncPhase::Accounts));
        assert_eq!(phases.last(), Some(&&SyncPhase::Applying));
        // The total is known once the accounts are listed; each account's roles count once.
        let roles: Vec<&SyncProgress> = seen
            .iter()
            .filter(|p| p.phase == SyncPhase::Roles)
            .collect();
        assert!(roles.iter().all(|p| p.total == Some(3)));
        assert_eq!(roles.last().map(|p| (p.accounts, p.roles)), Some((3, 5)));
        let last = seen.last().unwrap();
        assert!(last.elapsed <= report.took, "{last:?} {report:?}");
    }

    #[test]
    fn a_cancelled_sync_changes_nothing() {
        let mut r = rig();
        r.login();
        let before = r.engine.catalog().unwrap();
        r.sso
            .assign(&[("222222222222", "Staging", &["Admin", "Billing"])]);
        for cancelled_after in [0, 2] {
            let asked = std::sync::atomic::AtomicUsize::new(0);
            let err = r
                .engine
                .sync(r.corp, &|_| {}, &|| {
                    asked.fetch_add(1, Ordering::SeqCst) >= cancelled_after
                })
                .unwrap_err();
            assert!(matches!(err, Error::SyncCancelled { .. }), "{err}");
            assert_eq!(r.engine.catalog().unwrap(), before);
        }
    }

    #[test]
    fn a_vanished_role_another_session_assumes_from_is_kept_in_error() {
        let mut r = rig();
        r.login();
        let admin = r.derived()[0].clone();
        r.engine
            .chain(
                admin.id,
                crate::engine::Chain {
                    role_arn: "arn:aws:iam::111111111111:role/deploy".parse().unwrap(),
                    alias: Some("deploy".parse().unwrap()),
                    role_session_name: None,
                    external_id: None,
                    profile: None,
                    region: None,
                    publish: None,
                },
            )
            .unwrap();
        r.sso.assign(&[("222222222222", "Staging", &["Admin"])]);
        let report = r.engine.sync(r.corp, &|_| {}, &|| false).unwrap();
        assert_eq!(report.orphaned, ["Production/Admin"]);
        let kept = r.engine.catalog().unwrap().get(admin.id).cloned().unwrap();
        assert_eq!(
            kept.state.error(),
            Some("no longer assigned in IAM Identity Center")
        );
    }

    #[test]
    fn aliases_and_profiles_of_new_sessions_are_valid_and_unique() {
        let r = rig();
        let mut catalog = r.engine.catalog().unwrap();
        let integration = catalog.integration(r.corp).unwrap().clone();
        catalog
            .add(NewSession {
                alias: "Production/Admin".parse().unwrap(),
                profile: Some("Production-Admin".parse().unwrap()),
                region: None,
                publish: None,
                kind: SessionKind::IamUser {
                    mfa_device: None,
                    mfa_source: None,
                },
            })
            .unwrap();
        let account = |id: &str, name: &str| Account {
            id: id.parse().unwrap(),
            name: name.to_owned(),
        };
        let admin: RoleName = "Admin".parse().unwrap();
        let long = "A".repeat(80);
        let listed = vec![
            (account("111111111111", "Production"), admin.clone()),
            (account("444444444444", "Production"), admin.clone()),
            (account("555555555555", &long), admin.clone()),
            (
                account("666666666666", "Dev Team (EU) \u{7}"),
                admin.clone(),
            ),
        ];
        let plan = plan(&catalog, &integration, &listed, &HashSet::new());
        let got: Vec<(String, String)> = plan
            .new
            .iter()
            .map(|n| (n.alias.to_string(), n.profile.clone().unwrap().to_string()))
            .collect();
        assert_eq!(
            got[0],
            (
                "Production/Admin (corp)".into(),
                "Production-Admin-2".into()
            )
        );
        assert_eq!(
            got[1],
            (
                "Production/Admin (444444444444)".into(),
                "Production-Admin-3".into()
            )
        );
        assert_eq!(got[2].0.chars().count(), 64);
        assert!(got[2].0.ends_with("AAAA"), "{}", got[2].0);
        assert_eq!(got[2].1.len(), 64);
        assert_eq!(
            got[3],
            ("Dev Team (EU)/Admin".into(), "Dev-Team-EU-Admin".into())
        );
    }

    #[test]
    fn a_derived_session_gets_role_credentials_and_a_refused_token_is_refreshed_once() {
        let mut r = rig();
        r.login();
        let admin = r.derived()[0].clone();
        let c = r.engine.credentials_for(admin.id, &mut NoPrompt).unwrap();
        assert!(c.access_key_id.expose_secret().starts_with("ASIASSO"));
        // The portal refuses the token once: refreshed (the refresh token rotates), served.
        r.sso.refuse_token_once();
        r.mem
            .delete(Key::new(admin.id, Item::RoleCredentials))
            .unwrap();
        r.engine.credentials_for(admin.id, &mut NoPrompt).unwrap();
        assert!(r.tokens().unwrap().contains("refresh-2"), "rotated");
        // Unassigned: a clear error naming the role and account.
        r.sso.unassign("Admin");
        r.mem
            .delete(Key::new(admin.id, Item::RoleCredentials))
            .unwrap();
        let Err(err) = r.engine.credentials_for(admin.id, &mut NoPrompt) else {
            panic!("served")
        };
        assert!(
            err.to_string()
                .contains("no access to role Admin in account 111111111111"),
            "{err}"
        );
    }

    #[test]
    fn an_ended_portal_session_logs_the_integration_out_and_says_to_log_in() {
        let mut r = rig();
        r.login();
        let admin = r.derived()[0].clone();
        r.sso.end_session();
        r.mem
            .delete(Key::new(admin.id, Item::RoleCredentials))
            .unwrap();
        let Err(err) = r.engine.credentials_for(admin.id, &mut NoPrompt) else {
            panic!("served")
        };
        assert!(matches!(err, Error::LoggedOut { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("credtray integration login \"corp\""),
            "{err}"
        );
        assert_eq!(r.tokens(), None, "the dead tokens are gone");
        assert_eq!(
            r.engine
                .catalog()
                .unwrap()
                .integration(r.corp)
                .unwrap()
                .login,
            Login::LoggedOut
        );
        // Logged out, it fails at once: no call to the portal.
        let before = r.sso.calls().len();
        assert!(r.engine.credentials_for(admin.id, &mut NoPrompt).is_err());
        assert_eq!(r.sso.calls().len(), before);
    }

    #[test]
    fn logout_ends_the_portal_session_and_deletes_the_tokens() {
        let mut r = rig();
        r.login();
        assert_eq!(r.engine.logout(r.corp).unwrap(), []);
        assert!(r.sso.calls().contains(&"Logout".to_owned()));
        assert_eq!(r.tokens(), None);
        assert_eq!(
            r.engine
                .catalog()
                .unwrap()
                .integration(r.corp)
                .unwrap()
                .login,
            Login::LoggedOut
        );
    }

    impl Rig {
        fn role_credentials(&self, id: SessionId) -> Option<String> {
            self.mem
                .get(Key::new(id, Item::RoleCredentials))
                .unwrap()
                .map(|s| s.expose_secret().to_owned())
        }

        fn credentials_file(&self) -> String {
            std::fs::read_to_string(self._dir.path().join("credentials")).unwrap_or_default()
        }

        fn role_calls(&self) -> usize {
            self.sso
                .calls()
                .iter()
                .filter(|c| c.starts_with("GetRoleCredentials"))
                .count()
        }
    }

    #[test]
    fn logout_stops_the_sessions_drops_their_cached_credentials_and_refuses_them_without_a_portal_call()
     {
        let mut r = rig();
        r.login();
        let (admin, reader) = (r.derived()[0].clone(), r.derived()[1].clone());
        r.engine.start(admin.id, &mut NoPrompt, false).unwrap();
        r.engine.credentials_for(reader.id, &mut NoPrompt).unwrap();
        assert!(r.credentials_file().contains("[Production-Admin]"));
        assert!(r.role_credentials(admin.id).is_some() && r.role_credentials(reader.id).is_some());

        let stopped = r.engine.logout(r.corp).unwrap();
        let names: Vec<&str> = stopped.iter().map(|s| s.alias.as_str()).collect();
        assert_eq!(names, ["Production/Admin"], "only the running one");
        assert!(r.derived().iter().all(|s| s.state == State::Inactive));
        assert!(
            !r.credentials_file().contains("Production-Admin"),
            "{}",
            r.credentials_file()
        );
        assert_eq!(r.role_credentials(admin.id), None);
        assert_eq!(r.role_credentials(reader.id), None);

        // Both refused at once with the log-in sentence, and the portal is not asked.
        let calls = r.sso.calls().len();
        let Err(start) = r.engine.start(admin.id, &mut NoPrompt, false) else {
            panic!("started after the logout")
        };
        let Err(served) = r.engine.credentials_for(reader.id, &mut NoPrompt) else {
            panic!("served after the logout")
        };
        for err in [start, served] {
            assert!(matches!(err, Error::LoggedOut { .. }), "{err}");
            assert!(
                err.to_string()
                    .contains("log in with `credtray integration login \"corp\"`"),
                "{err}"
            );
        }
        assert_eq!(r.sso.calls().len(), calls);
        assert!(!r.credentials_file().contains("Production-Admin"));
        // A login brings them back.
        r.login();
        r.engine.start(admin.id, &mut NoPrompt, false).unwrap();
    }

    #[test]
    fn a_session_cached_before_the_logout_is_refused_even_if_its_cache_could_not_be_dropped() {
        let mut r = rig();
        r.login();
        let admin = r.derived()[0].clone();
        let served = r.engine.credentials_for(admin.id, &mut NoPrompt).unwrap();
        let cached = r
            .mem
            .get(Key::new(admin.id, Item::RoleCredentials))
            .unwrap()
            .unwrap();
        r.engine.logout(r.corp).unwrap();
        // As if the keychain had failed to delete it: the cache is back, still fresh.
        r.mem
            .set(Key::new(admin.id, Item::RoleCredentials), &cached)
            .unwrap();
        let roles = r.role_calls();
        let Err(err) = r.engine.credentials_for(admin.id, &mut NoPrompt) else {
            panic!("served {:?} from the cache", served.access_key_id)
        };
        assert!(matches!(err, Error::LoggedOut { .. }), "{err}");
        assert_eq!(r.role_calls(), roles);
    }

    #[test]
    fn logout_without_a_network_still_logs_out_here() {
        let mut r = rig();
        r.login();
        let admin = r.derived()[0].clone();
        r.engine.start(admin.id, &mut NoPrompt, false).unwrap();
        r.sso.unreachable_logout();
        let stopped = r.engine.logout(r.corp).unwrap();
        assert_eq!(stopped.len(), 1);
        assert!(r.sso.calls().contains(&"Logout".to_owned()));
        assert_eq!(r.tokens(), None);
        assert_eq!(r.role_credentials(admin.id), None);
        assert!(r.engine.start(admin.id, &mut NoPrompt, false).is_err());
    }

    #[test]
    fn a_long_lived_process_forgets_what_it_remembers_once_another_logs_out() {
        let mut r = rig();
        r.login();
        let admin = r.derived()[0].clone();
        // The agent: another engine on the same store and keychain, remembering in memory.
        let remembered = Arc::new(crate::engine::Remembered::new());
        let mut agent = Engine::new(
            Store::at(r._dir.path().join("cfg")),
            r.mem.clone(),
            Files::at(
                r._dir.path().join("credentials"),
                r._dir.path().join("config"),
            ),
            Arc::new(Fake::new()),
        )
        .with_sso(r.sso.clone());
        agent.remember_in(remembered.clone());
        agent.credentials_for(admin.id, &mut NoPrompt).unwrap();
        assert_eq!(remembered.len(), 1);
        r.engine.logout(r.corp).unwrap();
        let roles = r.role_calls();
        let Err(err) = agent.credentials_for(admin.id, &mut NoPrompt) else {
            panic!("served from memory after the logout")
        };
        assert!(matches!(err, Error::LoggedOut { .. }), "{err}");
        assert_eq!(r.role_calls(), roles, "no portal call");
        assert!(remembered.is_empty(), "forgotten");
    }
}
