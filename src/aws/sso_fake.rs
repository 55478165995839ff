//! A scripted IAM Identity Center for unit tests: accounts and their roles, a device login
//! approved after a number of polls, access tokens that rotate their refresh token, and
//! failures on cue. (The integration tests use a real HTTP stub instead.)

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use super::Credentials;
use super::sso::{Account, Cause, DeviceLogin, Error, Page, Registration, Sso, Token};
use crate::session::{AccountId, Region, RoleName, StartUrl};

#[derive(Default)]
struct State {
    accounts: Vec<(Account, Vec<RoleName>)>,
    /// Polls answered "pending" before the login is approved.
    pending_polls: usize,
    polls: usize,
    /// The valid access and refresh tokens.
    access: HashSet<String>,
    refresh: HashSet<String>,
    issued: usize,
    /// Accounts whose roles can't be listed.
    failing: HashSet<String>,
    /// The next role-credentials call is refused as unauthorized.
    unauthorized_once: bool,
    /// Roles (by name) no longer assigned.
    forbidden: HashSet<String>,
    /// The session has ended: refreshes are refused.
    ended: bool,
    /// The portal can't be reached by Logout.
    unreachable: bool,
    calls: Vec<String>,
}

/// A scripted IAM Identity Center.
#[derive(Default)]
pub struct FakeSso {
    state: Mutex<State>,
}

fn error(call: &'static str, cause: Cause) -> Error {
    Error {
        call,
        cause,
        message: "scripted".to_owned(),
    }
}

impl FakeSso {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The assignments: accounts (id, name) and the roles in each.
    pub fn assign(&self, accounts: &[(&str, &str, &[&str])]) {
        self.lock().accounts = accounts
            .iter()
            .map(|(id, name, roles)| {
                (
                    Account {
                        id: id.parse().unwrap_or_else(|_| panic!("account id {id}")),
                        name: (*name).to_owned(),
                    },
                    roles
                        .iter()
                        .map(|r| r.parse().unwrap_or_else(|_| panic!("role {r}")))
                        .collect(),
                )
            })
            .collect();
    }

    pub fn approve_after(&self, polls: usize) {
        self.lock().pending_polls = polls;
    }

    pub fn fail_roles_of(&self, account: &str) {
        self.lock().failing.insert(account.to_owned());
    }

    pub fn refuse_token_once(&self) {
        self.lock().unauthorized_once = true;
    }

    pub fn unassign(&self, role: &str) {
        self.lock().forbidden.insert(role.to_owned());
    }

    /// Ends the portal session: the refresh token stops working.
    pub fn end_session(&self) {
        let mut state = self.lock();
        state.ended = true;
        state.access.clear();
    }

    /// Expires every access token, as an hour passing does.
    /// Logout finds the portal unreachable (no network).
    pub fn unreachable_logout(&self) {
        self.lock().unreachable = true;
    }

    pub fn expire_access(&self) {
        self.lock().access.clear();
    }

    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    fn issue(state: &mut State) -> Token {
        state.issued += 1;
        let access = format!("access-{}", state.issued);
        let refresh = format!("refresh-{}", state.issued);
        state.access.insert(access.clone());
        state.refresh.insert(refresh.clone());
        Token {
            access_token: SecretString::from(access),
            expires: OffsetDateTime::now_utc() + Duration::from_secs(3600),
            refresh_token: Some(SecretString::from(refresh)),
        }
    }

    fn authorized(state: &State, token: &SecretString, call: &'static str) -> Result<(), Error> {
        if state.access.contains(token.expose_secret()) {
            Ok(())
        } else {
            Err(error(call, Cause::Unauthorized))
        }
    }
}

impl Sso for FakeSso {
    fn register_client(&self, _: &Region, _: &str) -> Result<Registration, Error> {
        self.lock().calls.push("RegisterClient".into());
        Ok(Registration {
            client_id: "client".into(),
            client_secret: "client-secret".into(),
            expires: OffsetDateTime::now_utc() + Duration::from_secs(90 * 24 * 3600),
        })
    }

    fn start_device_login(
        &self,
        _: &Region,
        _: &Registration,
        start_url: &StartUrl,
    ) -> Result<DeviceLogin, Error> {
        self.lock().calls.push("StartDeviceAuthorization".into());
        Ok(DeviceLogin {
            device_code: SecretString::from("device".to_owned()),
            user_code: "ABCD-EFGH".into(),
            verification_uri: format!("{start_url}/device"),
            verification_uri_complete: format!("{start_url}/device?user_code=ABCD-EFGH"),
            expires: OffsetDateTime::now_utc() + Duration::from_secs(600),
            interval: Duration::from_millis(10),
        })
    }

    fn device_token(&self, _: &Region, _: &Registration, _: &SecretString) -> Result<Token, Error> {
        let mut state = self.lock();
        state.calls.push("CreateToken(device)".into());
        state.polls += 1;
        if state.polls <= state.pending_polls {
            return Err(error("CreateToken", Cause::AuthorizationPending));
        }
        Ok(Self::issue(&mut state))
    }

    fn refresh(
        &self,
        _: &Region,
        _: &Registration,
        refresh: &SecretString,
    ) -> Result<Token, Error> {
        let mut state = self.lock();
        state.calls.push("CreateToken(refresh)".into());
        // Rotation: the refresh token works once.
        if state.ended || !state.refresh.remove(refresh.expose_secret()) {
            return Err(error("CreateToken", Cause::InvalidGrant));
        }
        Ok(Self::issue(&mut state))
    }

    fn list_accounts(
        &self,
        _: &Region,
        token: &SecretString,
        next: Option<&str>,
    ) -> Result<Page<Account>, Error> {
        let mut state = self.lock();
        state.calls.push("ListAccounts".into());
        Self::authorized(&state, token, "ListAccounts")?;
        // Pages of two, to walk the pagination.
        let from: usize = next.map_or(0, |n| n.parse().unwrap_or(0));
        let items: Vec<Account> = state
            .accounts
            .iter()
            .skip(from)
            .take(2)
            .map(|(a, _)| a.clone())
            .collect();
        let next = (from + 2 < state.accounts.len()).then(|| (from + 2).to_string());
        Ok(Page { items, next })
    }

    fn list_account_roles(
        &self,
        _: &Region,
        token: &SecretString,
        account: &AccountId,
        _: Option<&str>,
    ) -> Result<Page<RoleName>, Error> {
        let mut state = self.lock();
        state.calls.push(format!("ListAccountRoles({account})"));
        Self::authorized(&state, token, "ListAccountRoles")?;
        if state.failing.contains(account.as_str()) {
            return Err(error(
                "ListAccountRoles",
                Cause::Other("InternalServer".into()),
            ));
        }
        let roles = state
            .accounts
            .iter()
            .find(|(a, _)| a.id == *account)
            .map(|(_, roles)| roles.clone())
            .ok_or_else(|| error("ListAccountRoles", Cause::NotFound))?;
        Ok(Page {
            items: roles,
            next: None,
        })
    }

    fn role_credentials(
        &self,
        _: &Region,
        token: &SecretString,
        account: &AccountId,
        role: &RoleName,
    ) -> Result<Credentials, Error> {
        let mut state = self.lock();
        state
            .calls
            .push(format!("GetRoleCredentials({account},{role})"));
        if std::mem::take(&mut state.unauthorized_once) {
            return Err(error("GetRoleCredentials", Cause::Unauthorized));
        }
        Self::authorized(&state, token, "GetRoleCredentials")?;
        if state.forbidden.contains(role.as_str()) {
            return Err(error("GetRoleCredentials", Cause::Forbidden));
        }
        let n = state.issued;
        Ok(Credentials {
            access_key_id: SecretString::from(format!("ASIASSO{n:013}")),
            secret_access_key: SecretString::from(format!("sso-secret-{n}")),
            session_token: SecretString::from(format!("sso-token-{n}")),
            expiration: OffsetDateTime::now_utc() + Duration::from_secs(3600),
            issued: None,
        })
    }

    fn logout(&self, _: &Region, token: &SecretString) -> Result<(), Error> {
        let mut state = self.lock();
        state.calls.push("Logout".into());
        if state.unreachable {
            return Err(error("Logout", Cause::Unreachable));
        }
        state.access.remove(token.expose_secret());
        state.ended = true;
        Ok(())
    }
}
