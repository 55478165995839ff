//! How the engine asks the person for what only they have: an MFA code, a SAML assertion. The
//! CLI answers from its options or a terminal prompt; the tray from a dialog that names the
//! session; both log in to the identity provider through the login window (`saml_login`).
//! Returning `None` (or [`NoAssertion::NotGiven`]) means "not given" (not possible here).

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::session::{MfaCode, MfaDevice, Session};

/// Why an MFA code is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaAsk {
    /// The first time for this token.
    First,
    /// The code given was already used in this 30-second window: wait for the next one.
    AlreadyUsed,
    /// The session's MFA source gave no code (the [`MfaNotice::SourceFailed`] before says
    /// why): the person types it instead.
    SourceFailed,
}

/// What the engine tells the person while an MFA source works, where someone may see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaNotice<'a> {
    /// `ykman` is asked for the code: a YubiKey that wants a touch waits for one.
    Touch,
    /// The code of this 30-second window was used already: the source is asked again after
    /// this many seconds, when the next one begins.
    NextCode { seconds: u64 },
    /// The source gave no code, and why (one sentence).
    SourceFailed(&'a str),
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

/// A login to a session's identity provider, as the engine asks for it: everything the login
/// window needs, so it reads nothing itself (the one door, see ARCHITECTURE.md).
pub struct SamlLogin<'a> {
    /// The session as the engine has it (a dry run of an edit may differ from the stored one).
    pub session: &'a Session,
    /// How long the login may take (`[settings] saml_login_timeout`).
    pub timeout: Duration,
    /// The directory of the identity provider's cookies (shared by the sessions with the same
    /// SAML 2.0 URL, removed by Forget IdP login); `None` when there is no data directory.
    pub cookies: Option<PathBuf>,
}

pub trait Prompt {
    fn mfa_code(&mut self, session: &Session, device: &MfaDevice, ask: MfaAsk) -> Option<MfaCode>;
    /// A code the person gave before being asked (`--mfa-code`): it goes before the
    /// session's MFA source.
    fn offered_code(&mut self) -> Option<MfaCode> {
        None
    }
    /// Says what an MFA source is doing; nothing where nobody would see it.
    fn mfa_notice(&mut self, _session: &Session, _notice: MfaNotice<'_>) {}
    /// Whether whoever asked has gone (the tray quitting): an MFA source's waits stop.
    fn cancelled(&self) -> bool {
        false
    }
    fn saml_assertion(&mut self, login: &SamlLogin<'_>) -> Result<SecretString, NoAssertion>;
}

/// Asks nothing: for callers that can't ask (credential_process, rotation without a person).
pub struct NoPrompt;

impl Prompt for NoPrompt {
    fn mfa_code(&mut self, _: &Session, _: &MfaDevice, _: MfaAsk) -> Option<MfaCode> {
        None
    }

    fn saml_assertion(&mut self, _: &SamlLogin<'_>) -> Result<SecretString, NoAssertion> {
        Err(NoAssertion::NotGiven)
    }
}
