//! One module per credential source: how a session of each kind gets temporary credentials,
//! asking the prompt when it must (an MFA code, a SAML assertion). A new source (SSO's
//! GetRoleCredentials, a browser SAML login) is a new file here and one arm in [`source`].

mod chained;
mod federated;
mod iam_user;

pub(super) use iam_user::UsedCodes;

use std::time::Duration;

use super::prompt::Prompt;
use super::run::Mode;
use super::{Engine, Error};
use crate::aws::Credentials;
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

/// The source of a session of this kind, `None` for a kind credtray can't start yet.
fn source(kind: &SessionKind) -> Option<Box<dyn Source + '_>> {
    match kind {
        SessionKind::IamUser { mfa_device } => Some(Box::new(iam_user::IamUser {
            mfa_device: mfa_device.as_ref(),
        })),
        SessionKind::IamRoleChained {
            role_arn,
            role_session_name,
            assumer,
            external_id,
        } => Some(Box::new(chained::Chained {
            role_arn,
            role_session_name: role_session_name.as_ref(),
            assumer: *assumer,
            external_id: external_id.as_ref(),
        })),
        SessionKind::IamRoleFederated {
            role_arn, idp_arn, ..
        } => Some(Box::new(federated::Federated { role_arn, idp_arn })),
        SessionKind::AwsSsoRole { .. } => None,
    }
}

/// Fresh credentials from STS, stamped with when credtray received them (STS does not say):
/// their lifetime sets their refresh margin.
fn stamp(engine: &Engine, mut credentials: Credentials) -> Credentials {
    credentials.issued = Some(engine.now());
    credentials
}

impl Engine {
    /// The credentials of a session, through its assumers when it has any.
    pub(super) fn credentials(
        &mut self,
        catalog: &Catalog,
        session: &Session,
        prompt: &mut dyn Prompt,
        mode: Mode<'_>,
    ) -> Result<Credentials, Error> {
        let source = source(&session.kind).ok_or_else(|| Error::NotStartable {
            alias: session.alias.to_string(),
        })?;
        source.credentials(self, catalog, session, prompt, mode)
    }
}
