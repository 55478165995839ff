//! Federated roles: a SAML assertion from the identity provider (asked of the prompt), checked
//! to grant the session's role through its identity provider, then AssumeRoleWithSAML for the
//! `SessionDuration` it allows.

use super::{ROLE_DURATION, Source, stamp};
use crate::aws::Credentials;
use crate::engine::prompt::{NoAssertion, Prompt, SamlLogin};
use crate::engine::run::Mode;
use crate::engine::{Engine, Error};
use crate::session::{Catalog, IdpArn, RoleArn, Session};

/// A federated session's source.
pub(super) struct Federated<'a> {
    pub role_arn: &'a RoleArn,
    pub idp_arn: &'a IdpArn,
}

impl Source for Federated<'_> {
    fn credentials(
        &self,
        engine: &mut Engine,
        catalog: &Catalog,
        session: &Session,
        prompt: &mut dyn Prompt,
        _: Mode<'_>,
    ) -> Result<Credentials, Error> {
        let alias = session.alias.to_string();
        let login = SamlLogin {
            session,
            timeout: catalog.settings.saml_login_timeout,
            cookies: engine.login_cookies(session),
        };
        let assertion = prompt
            .saml_assertion(&login)
            .map_err(|reason| match reason {
                NoAssertion::NotGiven => Error::NeedsSamlAssertion { alias },
                reason => Error::SamlLogin { alias, reason },
            })?;
        let grants = crate::aws::saml::read(&assertion)?;
        grants.check(self.role_arn, self.idp_arn)?;
        tracing::info!(id = %session.id, "using AssumeRoleWithSAML");
        engine
            .sts
            .assume_role_with_saml(
                &session.region,
                self.role_arn,
                self.idp_arn,
                &assertion,
                grants.duration(ROLE_DURATION),
            )
            .map(|c| stamp(engine, c))
            .map_err(|e| Error::sts(session, e))
    }
}
