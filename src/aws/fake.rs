//! A scripted STS for unit tests: answers every call with fresh, recognisable credentials,
//! remembers who each set belongs to (for GetCallerIdentity), records the calls, and fails the
//! calls it is told to.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use super::Credentials;
use super::sts::{Cause, Error, Sts};
use crate::session::{
    ExternalId, IamUserKeys, IdpArn, MfaCode, MfaDevice, Region, RoleArn, RoleSessionName,
};

/// A call the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    GetSessionToken {
        region: String,
        access_key_id: String,
        mfa_code: Option<String>,
        seconds: u64,
    },
    AssumeRole {
        region: String,
        caller: String,
        role_arn: String,
        session_name: String,
        external_id: Option<String>,
        seconds: u64,
    },
    AssumeRoleWithSaml {
        region: String,
        role_arn: String,
        seconds: u64,
    },
    GetCallerIdentity {
        region: String,
        caller: String,
    },
    GetFederationToken {
        region: String,
        access_key_id: String,
        name: String,
        policy: String,
        seconds: u64,
    },
}

#[derive(Default)]
struct State {
    issued: u32,
    /// Access key id → the ARN of whoever holds it.
    owners: HashMap<String, String>,
    calls: Vec<Call>,
    /// Causes for the next calls, in order.
    failures: Vec<Cause>,
    /// The longest credentials it hands out, as AWS caps what is asked for (a SAML
    /// `SessionDuration`, the 1 h of role chaining).
    cap: Option<Duration>,
    /// How long each call takes, as a real round trip does.
    latency: Duration,
}

#[derive(Default)]
pub struct Fake {
    state: Mutex<State>,
}

impl Fake {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next call fails with `cause`.
    pub fn fail_next(&self, cause: Cause) {
        self.lock().failures.push(cause);
    }

    /// From now on, credentials last at most `cap`.
    pub fn cap_duration(&self, cap: Duration) {
        self.lock().cap = Some(cap);
    }

    /// Makes every call take `latency`, so concurrent callers overlap.
    pub fn slow(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn answer(
        &self,
        name: &'static str,
        call: Call,
        owner: String,
        duration: Duration,
    ) -> Result<Credentials, Error> {
        let latency = self.lock().latency;
        std::thread::sleep(latency);
        let mut state = self.lock();
        state.calls.push(call);
        if !state.failures.is_empty() {
            let cause = state.failures.remove(0);
            return Err(Error {
                call: name,
                cause,
                message: "scripted failure".to_owned(),
            });
        }
        state.issued += 1;
        let n = state.issued;
        let duration = state.cap.map_or(duration, |cap| cap.min(duration));
        let access_key_id = format!("ASIAFAKE{n:012}");
        state.owners.insert(access_key_id.clone(), owner);
        Ok(Credentials {
            access_key_id: SecretString::from(access_key_id),
            secret_access_key: SecretString::from(format!("fake-secret-{n}")),
            session_token: SecretString::from(format!("fake-token-{n}")),
            expiration: OffsetDateTime::now_utc() + duration,
            issued: None,
        })
    }

    fn owner(&self, access_key_id: &str) -> String {
        self.lock()
            .owners
            .get(access_key_id)
            .cloned()
            .unwrap_or_else(|| "arn:aws:iam::123456789012:user/fake".to_owned())
    }
}

impl Sts for Fake {
    fn get_session_token(
        &self,
        region: &Region,
        keys: &IamUserKeys,
        duration: Duration,
        mfa: Option<(&MfaDevice, &MfaCode)>,
    ) -> Result<Credentials, Error> {
        let access_key_id = keys.access_key_id.secret().expose_secret().to_owned();
        let call = Call::GetSessionToken {
            region: region.to_string(),
            access_key_id,
            mfa_code: mfa.map(|(_, c)| c.as_str().to_owned()),
            seconds: duration.as_secs(),
        };
        self.answer(
            "GetSessionToken",
            call,
            "arn:aws:iam::123456789012:user/fake".to_owned(),
            duration,
        )
    }

    fn assume_role(
        &self,
        region: &Region,
        with: &Credentials,
        role_arn: &RoleArn,
        session_name: &RoleSessionName,
        external_id: Option<&ExternalId>,
        duration: Duration,
    ) -> Result<Credentials, Error> {
        let caller = self.owner(with.access_key_id.expose_secret());
        let role = role_arn.as_str().rsplit('/').next().unwrap_or_default();
        let owner = format!("arn:aws:sts::123456789012:assumed-role/{role}/{session_name}");
        let call = Call::AssumeRole {
            region: region.to_string(),
            caller,
            role_arn: role_arn.to_string(),
            session_name: session_name.to_string(),
            external_id: external_id.map(ToString::to_string),
            seconds: duration.as_secs(),
        };
        self.answer("AssumeRole", call, owner, duration)
    }

    fn assume_role_with_saml(
        &self,
        region: &Region,
        role_arn: &RoleArn,
        _idp_arn: &IdpArn,
        _assertion: &SecretString,
        duration: Duration,
    ) -> Result<Credentials, Error> {
        let role = role_arn.as_str().rsplit('/').next().unwrap_or_default();
        let owner = format!("arn:aws:sts::123456789012:assumed-role/{role}/saml-user");
        let call = Call::AssumeRoleWithSaml {
            region: region.to_string(),
            role_arn: role_arn.to_string(),
            seconds: duration.as_secs(),
        };
        self.answer("AssumeRoleWithSAML", call, owner, duration)
    }

    fn get_federation_token(
        &self,
        region: &Region,
        keys: &IamUserKeys,
        name: &str,
        policy: &str,
        duration: Duration,
    ) -> Result<Credentials, Error> {
        let call = Call::GetFederationToken {
            region: region.to_string(),
            access_key_id: keys.access_key_id.secret().expose_secret().to_owned(),
            name: name.to_owned(),
            policy: policy.to_owned(),
            seconds: duration.as_secs(),
        };
        self.answer(
            "GetFederationToken",
            call,
            format!("arn:aws:sts::123456789012:federated-user/{name}"),
            duration,
        )
    }

    fn get_caller_identity(&self, region: &Region, with: &Credentials) -> Result<String, Error> {
        let caller = self.owner(with.access_key_id.expose_secret());
        let mut state = self.lock();
        state.calls.push(Call::GetCallerIdentity {
            region: region.to_string(),
            caller: caller.clone(),
        });
        if !state.failures.is_empty() {
            let cause = state.failures.remove(0);
            return Err(Error {
                call: "GetCallerIdentity",
                cause,
                message: "scripted failure".to_owned(),
            });
        }
        Ok(caller)
    }
}
