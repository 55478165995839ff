//! Chained roles: the assumer's credentials first (recursively, without writing the assumer's
//! profile), then AssumeRole with them. An assumer's cached session token that AWS says is dead
//! is dropped and fetched again, once.

use super::{ROLE_DURATION, Source, stamp};
use crate::aws::Credentials;
use crate::aws::sts::Cause;
use crate::engine::prompt::Prompt;
use crate::engine::run::Mode;
use crate::engine::{Engine, Error};
use crate::secrets::{Item, Key};
use crate::session::{
    Catalog, ExternalId, RoleArn, RoleSessionName, Session, SessionId, SessionKind,
};

/// A chained session's source.
pub(super) struct Chained<'a> {
    pub role_arn: &'a RoleArn,
    pub role_session_name: Option<&'a RoleSessionName>,
    pub assumer: SessionId,
    /// Sent with AssumeRole when the role's trust policy asks for one.
    pub external_id: Option<&'a ExternalId>,
}

impl Source for Chained<'_> {
    fn credentials(
        &self,
        engine: &mut Engine,
        catalog: &Catalog,
        session: &Session,
        prompt: &mut dyn Prompt,
        mode: Mode<'_>,
    ) -> Result<Credentials, Error> {
        let parent = catalog
            .get(self.assumer)
            .ok_or_else(|| Error::unknown(self.assumer))?;
        let (parent_credentials, cached) = assumer(engine, catalog, parent, prompt, mode, false)?;
        let name = self
            .role_session_name
            .cloned()
            .unwrap_or_else(|| RoleSessionName::derived_from(&session.alias));
        tracing::info!(id = %session.id, assumer = %parent.id, "using AssumeRole with the assumer's credentials");
        let assume = |sts: &dyn crate::aws::Sts, with: &Credentials| {
            sts.assume_role(
                &session.region,
                with,
                self.role_arn,
                &name,
                self.external_id,
                ROLE_DURATION,
            )
        };
        match assume(engine.sts.as_ref(), &parent_credentials) {
            // AWS says the cached token itself is dead (expired early, revoked, keys rotated):
            // never use it again; fetch a new one, once. A plain AccessDenied (the role's trust
            // policy) says nothing about the token, which is kept.
            Err(e) if cached && matches!(e.cause, Cause::ExpiredToken | Cause::InvalidKey) => {
                tracing::info!(id = %parent.id, "AWS rejected the cached session token of the assumer; fetching a new one");
                if mode.writes() {
                    engine
                        .secrets
                        .delete(Key::new(parent.id, Item::SessionToken))?;
                    if let Some(remembered) = &engine.remembered {
                        remembered.forget(parent.id);
                    }
                }
                let (fresh, _) = assumer(engine, catalog, parent, prompt, mode, true)?;
                assume(engine.sts.as_ref(), &fresh)
            }
            other => other,
        }
        .map(|c| stamp(engine, c))
        .map_err(|e| Error::sts(session, e))
    }
}

/// The credentials of an assumer, and whether they are a cached session token (`fresh`
/// refuses the cache).
fn assumer(
    engine: &mut Engine,
    catalog: &Catalog,
    parent: &Session,
    prompt: &mut dyn Prompt,
    mode: Mode<'_>,
    fresh: bool,
) -> Result<(Credentials, bool), Error> {
    match &parent.kind {
        SessionKind::IamUser { .. } => engine.session_token(parent, prompt, mode, fresh),
        _ => Ok((engine.credentials(catalog, parent, prompt, mode)?, false)),
    }
}
