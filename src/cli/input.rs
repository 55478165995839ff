//! Secret input: one line per secret from standard input, in the order the options were
//! given, or a no-echo prompt when standard input is a terminal. Values go straight into
//! zeroizing buffers and never touch the command line.

use std::io::{self, BufRead, IsTerminal};

use secrecy::SecretString;
use zeroize::Zeroizing;

use super::UsageError;

/// Reads one secret per label, from a no-echo prompt on a terminal or from stdin lines.
pub fn read_secrets(labels: &[&str]) -> anyhow::Result<Vec<SecretString>> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        return labels
            .iter()
            .map(|label| {
                let value = Zeroizing::new(rpassword::prompt_password(format!("{label}: "))?);
                Ok(SecretString::from(value.as_str().to_owned()))
            })
            .collect();
    }
    read_lines(&mut stdin.lock(), labels)
}

/// Asks for the file keychain's passphrase on the terminal (`/dev/tty`, no echo), twice for a
/// new one; nobody to ask when there is no terminal.
pub struct Terminal;

impl crate::secrets::chosen::Asker for Terminal {
    fn passphrase(
        &self,
        path: &std::path::Path,
        new: bool,
        retry: bool,
    ) -> Result<Option<SecretString>, String> {
        let ask = |prompt: String| match rpassword::prompt_password(prompt) {
            Ok(text) => Some(Zeroizing::new(text)),
            Err(e) => {
                tracing::debug!(error = %e, "no terminal to ask for the passphrase on");
                None
            }
        };
        let path = path.display();
        let prompt = match (new, retry) {
            (true, _) => format!("New passphrase for credtray's file keychain {path}: "),
            (false, true) => format!("Wrong passphrase; passphrase for {path}: "),
            (false, false) => format!("Passphrase for credtray's file keychain {path}: "),
        };
        let Some(first) = ask(prompt) else {
            return Ok(None);
        };
        if first.is_empty() {
            return Err("an empty passphrase is not a passphrase; nothing was changed".to_owned());
        }
        if new {
            let Some(again) = ask("The same passphrase again: ".to_owned()) else {
                return Ok(None);
            };
            if *again != *first {
                return Err("the two passphrases differ; nothing was changed".to_owned());
            }
        }
        Ok(Some(SecretString::from(first.as_str().to_owned())))
    }
}

fn read_lines(input: &mut impl BufRead, labels: &[&str]) -> anyhow::Result<Vec<SecretString>> {
    let mut secrets = Vec::with_capacity(labels.len());
    for (i, label) in labels.iter().enumerate() {
        let mut line = Zeroizing::new(String::new());
        if input.read_line(&mut line)? == 0 {
            return Err(UsageError(format!(
                "expected {} line(s) on standard input ({}), but input ended before the {label}",
                labels.len(),
                labels.join(", "),
            ))
            .into());
        }
        let value = line.trim_end_matches(['\n', '\r']);
        if value.trim().is_empty() {
            return Err(UsageError(format!(
                "line {} of standard input (the {label}) is empty",
                i + 1
            ))
            .into());
        }
        secrets.push(SecretString::from(value.to_owned()));
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn reads_one_line_per_secret_in_order() {
        let mut input = io::Cursor::new("AKIAEXAMPLE12345\r\nsecret/with+chars\nextra\n");
        let got = read_lines(&mut input, &["access key id", "secret access key"]).unwrap();
        assert_eq!(got[0].expose_secret(), "AKIAEXAMPLE12345");
        assert_eq!(got[1].expose_secret(), "secret/with+chars");
    }

    #[test]
    fn missing_or_empty_lines_are_usage_errors_that_name_the_secret() {
        let err = read_lines(
            &mut io::Cursor::new("only-one\n"),
            &["access key id", "secret access key"],
        )
        .unwrap_err();
        assert!(err.downcast_ref::<UsageError>().is_some());
        assert!(
            err.to_string().contains("before the secret access key"),
            "{err}"
        );
        let err = read_lines(&mut io::Cursor::new("\n"), &["access key id"]).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
    }
}
