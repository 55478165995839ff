//! How the engine asks the person for what only they have: an MFA code, a SAML assertion. The
//! CLI answers from its options or a terminal prompt; the tray from a dialog that names the
//! session. Returning `None` means "not given" (cancelled, or not possible here).

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

pub trait Prompt {
    fn mfa_code(&mut self, session: &Session, device: &MfaDevice, ask: MfaAsk) -> Option<MfaCode>;
    fn saml_assertion(&mut self, session: &Session) -> Option<SecretString>;
}

/// Asks nothing: for callers that can't ask (credential_process, rotation without a person).
pub struct NoPrompt;

impl Prompt for NoPrompt {
    fn mfa_code(&mut self, _: &Session, _: &MfaDevice, _: MfaAsk) -> Option<MfaCode> {
        None
    }

    fn saml_assertion(&mut self, _: &Session) -> Option<SecretString> {
        None
    }
}
