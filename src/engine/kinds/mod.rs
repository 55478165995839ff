//! One module per credential source: how a session of each kind gets temporary credentials,
//! asking the prompt when it must (an MFA code, a SAML assertion). A new source (SSO's
//! GetRoleCredentials, a browser SAML login) is a new file here and one arm in [`source`].

mod aws_sso;
mod chained;
mod federated;
mod iam_user;

#[cfg(test)]
pub(crate) use iam_user::CONSOLE_POLICY;

pub(super) use iam_user::UsedCodes;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::prompt::Prompt;
use super::run::Mode;
use super::{Engine, Error};
use crate::aws::Credentials;
use crate::secrets::{Item, Key};
use crate::session::{Catalog, Session, SessionKind};

/// AssumeRole and AssumeRoleWithSAML: 1 h, which AWS also caps role chaining at.
const ROLE_DURATION: Duration = Duration::from_secs(3600);

/// A way to get credentials for one session.
trait Source {
    /// Credentials for `session` (whose assumers, if any, are in `catalog`), asking `prompt`
    /// if needed; `mode` says whether caches may be used and written.
    fn credentials(
        &self,
        engine: &mut Engine,
        catalog: &Catalog,
        session: &Session,
        prompt: &mut dyn Prompt,
        mode: Mode<'_>,
    ) -> Result<Credentials, Error>;
}

/// The source of a session of this kind.
fn source(kind: &SessionKind) -> Box<dyn Source + '_> {
    match kind {
        SessionKind::IamUser { .. } => Box::new(iam_user::IamUser),
        SessionKind::IamRoleChained {
            role_arn,
            role_session_name,
            assumer,
            external_id,
        } => Box::new(chained::Chained {
            role_arn,
            role_session_name: role_session_name.as_ref(),
            assumer: *assumer,
            external_id: external_id.as_ref(),
        }),
        SessionKind::IamRoleFederated {
            role_arn, idp_arn, ..
        } => Box::new(federated::Federated { role_arn, idp_arn }),
        SessionKind::AwsSsoRole {
            account_id,
            role_name,
            integration,
        } => Box::new(aws_sso::AwsSso {
            account_id,
            role_name,
            integration: *integration,
        }),
    }
}

/// Fresh credentials from STS, stamped with when credtray received them (STS does not say):
/// their lifetime sets their refresh margin.
fn stamp(engine: &Engine, mut credentials: Credentials) -> Credentials {
    credentials.issued = Some(engine.now());
    credentials
}

/// Credentials as kept in the keychain: an IAM user's session token, a role session's last
/// credentials (with the definition they were obtained for).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Cached {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    #[serde(with = "time::serde::rfc3339")]
    expiration: OffsetDateTime,
    /// Absent in caches written before the refresh margin depended on the lifetime.
    #[serde(default, with = "time::serde::rfc3339::option")]
    issued: Option<OffsetDateTime>,
    /// For role credentials: the session's definition ([`definition`]) they are valid for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    definition: Option<String>,
}

impl Drop for Cached {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.access_key_id.zeroize();
        self.secret_access_key.zeroize();
        self.session_token.zeroize();
    }
}

/// What a session's credentials depend on: its kind's fields (not its alias, profile or
/// region: STS credentials are global). Cached credentials of another definition are stale.
pub fn definition(session: &Session) -> String {
    let mut text = session.kind.tag().to_string();
    for value in session.kind.values() {
        text.push('\n');
        text.push_str(&value.text().unwrap_or_default());
    }
    text
}

/// Whether the kind's credentials are a role's, cached under [`Item::RoleCredentials`] (an IAM
/// user's session token has its own cache, [`Item::SessionToken`]).
fn caches_role(session: &Session) -> bool {
    !session.kind.tag().has_keys()
}

impl Engine {
    /// The credentials of a session, through its assumers when it has any (none for a session
    /// of a logged-out integration). Live, they come from memory (a long-lived process's, see
    /// [`super::Remembered`]), then the keychain's role-credentials cache, while they have more
    /// than the refresh margin left; fresh ones are kept in both.
    pub(super) fn credentials(
        &mut self,
        catalog: &Catalog,
        session: &Session,
        prompt: &mut dyn Prompt,
        mode: Mode<'_>,
    ) -> Result<Credentials, Error> {
        // Logged out means logged out: no memory or cache serves the integration's sessions.
        self.refuse_logged_out(catalog, session)?;
        let source = source(&session.kind);
        if !mode.writes() {
            return source.credentials(self, catalog, session, prompt, mode);
        }
        let definition = definition(session);
        let now = self.now();
        if let Some(remembered) = &self.remembered
            && let Some(credentials) = remembered.recall(session.id, &definition, now)
        {
            return Ok(credentials);
        }
        let role_key = Key::new(session.id, Item::RoleCredentials);
        if caches_role(session)
            && let Some(cached) = self.cached(role_key, Some(&definition))?
            && !cached.refresh_due(now)
        {
            tracing::info!(id = %session.id, "using the cached role credentials");
            self.remember(session, &definition, &cached);
            return Ok(cached);
        }
        let credentials = source.credentials(self, catalog, session, prompt, mode)?;
        if caches_role(session)
            && let Err(e) = self.cache(role_key, &credentials, Some(&definition))
        {
            // Only a cache: the next call asks STS again.
            tracing::warn!(id = %session.id, error = %e, "could not cache the role credentials");
        }
        self.remember(session, &definition, &credentials);
        Ok(credentials)
    }

    pub(super) fn remember(&self, session: &Session, definition: &str, credentials: &Credentials) {
        if let Some(remembered) = &self.remembered {
            remembered.keep(session.id, definition, credentials);
        }
    }

    /// Cached credentials under `key`; none when the entry is missing, does not parse, or was
    /// obtained for another `definition`.
    pub(super) fn cached(
        &self,
        key: Key,
        definition: Option<&str>,
    ) -> Result<Option<Credentials>, Error> {
        let Some(json) = self.secrets.get(key)? else {
            return Ok(None);
        };
        // A cache entry that does not parse is only a cache miss; it is replaced on success.
        let Ok(mut cached) = serde_json::from_str::<Cached>(json.expose_secret()) else {
            tracing::warn!(account = %key, "ignoring cached credentials that do not parse");
            return Ok(None);
        };
        if cached.definition.as_deref() != definition {
            return Ok(None);
        }
        Ok(Some(Credentials {
            access_key_id: SecretString::from(std::mem::take(&mut cached.access_key_id)),
            secret_access_key: SecretString::from(std::mem::take(&mut cached.secret_access_key)),
            session_token: SecretString::from(std::mem::take(&mut cached.session_token)),
            expiration: cached.expiration,
            issued: cached.issued,
        }))
    }

    /// Keeps credentials in the keychain under `key`.
    pub(super) fn cache(
        &self,
        key: Key,
        c: &Credentials,
        definition: Option<&str>,
    ) -> Result<(), Error> {
        let cached = Cached {
            access_key_id: c.access_key_id.expose_secret().to_owned(),
            secret_access_key: c.secret_access_key.expose_secret().to_owned(),
            session_token: c.session_token.expose_secret().to_owned(),
            expiration: c.expiration,
            issued: c.issued,
            definition: definition.map(str::to_owned),
        };
        let json = Zeroizing::new(
            serde_json::to_string(&cached).map_err(|e| Error::Internal(e.to_string()))?,
        );
        self.secrets
            .set(key, &SecretString::from(json.as_str().to_owned()))?;
        Ok(())
    }
}
