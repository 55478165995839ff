//! The CLI's answers to the engine's questions: the MFA code from `--mfa-code` (or a no-echo
//! prompt on a terminal); the SAML assertion from standard input with `--saml-assertion -`,
//! else from the login window (`credtray-login --saml-login`) when there is a display.

use std::io::{IsTerminal, Read};

use secrecy::SecretString;
use zeroize::Zeroizing;

use super::UsageError;
use super::args::Answers;
use crate::engine::{MfaAsk, MfaNotice, NoAssertion, Prompt, SamlLogin};
use crate::saml_login;
use crate::session::{MfaCode, MfaDevice, Session};

pub struct CliPrompt {
    mfa_code: Option<MfaCode>,
    saml_from_stdin: bool,
    /// Why the MFA source gave no code, said when the person is asked instead.
    source_failure: Option<String>,
}

impl CliPrompt {
    /// The answers given; a SAML assertion on the command line itself is refused, like a key.
    pub fn new(answers: Answers) -> Result<Self, UsageError> {
        if answers
            .saml_assertion
            .as_ref()
            .is_some_and(|a| !a.is_stdin())
        {
            return Err(UsageError(
                "SAML assertions are never taken from the command line: pass --saml-assertion - and give it on standard input"
                    .to_owned(),
            ));
        }
        Ok(Self {
            mfa_code: answers.mfa_code,
            saml_from_stdin: answers.saml_assertion.is_some(),
            source_failure: None,
        })
    }
}

impl Prompt for CliPrompt {
    // `--mfa-code` is not looked at here: the engine takes it first (`offered_code`).
    fn mfa_code(&mut self, session: &Session, device: &MfaDevice, ask: MfaAsk) -> Option<MfaCode> {
        if !std::io::stdin().is_terminal() {
            return None;
        }
        let question = match ask {
            MfaAsk::First => format!(
                "MFA code for session {:?} ({device}): ",
                session.alias.as_str()
            ),
            MfaAsk::AlreadyUsed => {
                "That code was already used; wait for the next one and enter it: ".to_owned()
            }
            MfaAsk::SourceFailed => {
                let why = self.source_failure.take().unwrap_or_default();
                eprintln!(
                    "credtray: the MFA source of session {:?} gave no code: {why}",
                    session.alias.as_str()
                );
                format!(
                    "MFA code for session {:?} ({device}), typed instead: ",
                    session.alias.as_str()
                )
            }
        };
        let answer = Zeroizing::new(rpassword::prompt_password(question).ok()?);
        match answer.parse() {
            Ok(code) => Some(code),
            Err(e) => {
                eprintln!("credtray: {e}");
                None
            }
        }
    }

    fn offered_code(&mut self) -> Option<MfaCode> {
        self.mfa_code.take()
    }

    fn mfa_notice(&mut self, session: &Session, notice: MfaNotice<'_>) {
        let alias = session.alias.as_str();
        match notice {
            MfaNotice::Touch => eprintln!("credtray: touch your YubiKey for session {alias:?}"),
            MfaNotice::NextCode { seconds } => eprintln!(
                "credtray: the MFA code of this 30-second window was used already; asking again in {seconds} s"
            ),
            // Said where the person is asked instead: a headless call fails with it.
            MfaNotice::SourceFailed(why) => self.source_failure = Some(why.to_owned()),
        }
    }

    fn saml_assertion(&mut self, login: &SamlLogin<'_>) -> Result<SecretString, NoAssertion> {
        if std::mem::take(&mut self.saml_from_stdin) {
            let mut text = Zeroizing::new(String::new());
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| NoAssertion::Failed(format!("cannot read standard input: {e}")))?;
            let assertion = text.trim();
            if assertion.is_empty() {
                return Err(NoAssertion::NotGiven);
            }
            return Ok(SecretString::from(assertion.to_owned()));
        }
        let window = saml_login::login_beside_me().filter(|t| t.is_file());
        let (true, Some(window)) = (saml_login::has_display(), window) else {
            return Err(NoAssertion::NotGiven);
        };
        eprintln!(
            "credtray: logging in to the identity provider of session {:?} (the window shows itself if the identity provider needs you)",
            login.session.alias.as_str()
        );
        saml_login::Login {
            window: &window,
            login,
            hidden_only: false,
        }
        .run(&|| false)
    }
}
