//! How the engine asks the person for what only they have: an MFA code, a SAML assertion. The
//! CLI answers from its options or a terminal prompt; the tray from a dialog that names the
//! session; both log in to the identity provider through the login window (`saml_login`).
//! Returning `None` (or [`NoAssertion::NotGiven`]) means "not given" (not possible here).

use secrecy::SecretString;

use crate::session::{MfaCode, MfaDevice, Session};

/// Why an MFA code is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaAsk {
    /// The first time for this token.
    First,
    /// The code given was already used in this 30-second window: wait for the next one.
    AlreadyUsed,
}

/// Why no SAML assertion came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoAssertion {
    /// There is no way to ask here (no display, no `--saml-assertion -`).
    #[error("no way to log in here")]
    NotGiven,
    #[error("the login window was closed before the identity provider answered")]
    Cancelled,
    #[error(
        "the identity provider did not finish the login in time ([settings] saml_login_timeout in config.toml, in seconds)"
    )]
    TimedOut,
    /// A rotation, which never shows a window, found the identity provider asking for the
    /// person (its login expired).
    #[error("the identity provider wants you to log in again")]
    NeedsUser,
    #[error("{0}")]
    Failed(String),
}

pub trait Prompt {
    fn mfa_code(&mut self, session: &Session, device: &MfaDevice, ask: MfaAsk) -> Option<MfaCode>;
    fn saml_assertion(&mut self, session: &Session) -> Result<SecretString, NoAssertion>;
}

/// Asks nothing: for callers that can't ask (credential_process, rotation without a person).
pub struct NoPrompt;

impl Prompt for NoPrompt {
    fn mfa_code(&mut self, _: &Session, _: &MfaDevice, _: MfaAsk) -> Option<MfaCode> {
        None
    }

    fn saml_assertion(&mut self, _: &Session) -> Result<SecretString, NoAssertion> {
        Err(NoAssertion::NotGiven)
    }
}
