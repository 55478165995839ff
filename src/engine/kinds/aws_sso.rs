//! AWS SSO roles (derived from an IAM Identity Center integration): GetRoleCredentials with the
//! integration's access token, refreshed when the portal refuses it; a logged-out integration
//! is an error that says to log in (no browser opens by itself).

use super::{Source, stamp};
use crate::aws::Credentials;
use crate::engine::prompt::Prompt;
use crate::engine::run::Mode;
use crate::engine::{Engine, Error};
use crate::session::{AccountId, Catalog, IntegrationId, RoleName, Session};

/// A derived session's source.
pub(super) struct AwsSso<'a> {
    pub account_id: &'a AccountId,
    pub role_name: &'a RoleName,
    pub integration: IntegrationId,
}

impl Source for AwsSso<'_> {
    fn credentials(
        &self,
        engine: &mut Engine,
        _: &Catalog,
        session: &Session,
        _: &mut dyn Prompt,
        _: Mode<'_>,
    ) -> Result<Credentials, Error> {
        tracing::info!(id = %session.id, "using GetRoleCredentials");
        engine
            .role_credentials(self.integration, self.account_id, self.role_name)
            .map(|c| stamp(engine, c))
    }
}
