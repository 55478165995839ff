//! SAML assertions as AWS reads them: the base64 SAMLResponse decoded, the role/provider pairs
//! its `https://aws.amazon.com/SAML/Attributes/Role` attribute grants and its `SessionDuration`,
//! so a federated session's assertion is checked before AssumeRoleWithSAML (naming what it
//! grants when the session's role is not among them) and its duration honoured. An assertion is
//! a secret: nothing here logs it or keeps a copy beyond the wiped buffers it decodes into.

use std::time::Duration;

use base64::Engine as _;
use quick_xml::events::Event;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::session::{IdpArn, RoleArn};

const ROLE: &str = "https://aws.amazon.com/SAML/Attributes/Role";
const SESSION_DURATION: &str = "https://aws.amazon.com/SAML/Attributes/SessionDuration";

/// What an assertion grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    /// (role ARN, identity provider ARN) pairs.
    pub pairs: Vec<(String, String)>,
    /// How long the IdP lets the role session last.
    pub session_duration: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(
        "the SAML assertion is not base64 (paste the SAMLResponse your identity provider posts)"
    )]
    NotBase64,
    #[error("the SAML assertion is not a SAML response ({0})")]
    NotXml(String),
    #[error("the SAML assertion grants no AWS role (it has no {ROLE} attribute)")]
    NoRoles,
    #[error(
        "the SAML assertion does not grant role {role} through identity provider {idp}; it grants {}: fix the session's role ARN or identity provider ARN",
        list(.granted)
    )]
    NotGranted {
        role: String,
        idp: String,
        granted: Vec<(String, String)>,
    },
}

fn list(pairs: &[(String, String)]) -> String {
    let shown: Vec<String> = pairs
        .iter()
        .map(|(role, idp)| format!("{role} through {idp}"))
        .collect();
    shown.join("; ")
}

/// Reads what a base64 SAMLResponse grants.
pub fn read(assertion: &SecretString) -> Result<Grants, Error> {
    let compact: Zeroizing<String> = Zeroizing::new(
        assertion
            .expose_secret()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect(),
    );
    let xml = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| Error::NotBase64)?,
    );
    let mut reader = quick_xml::Reader::from_reader(xml.as_slice());
    let mut buffer = Zeroizing::new(Vec::new());
    // The attribute being read, and whether the reader is inside one of its values.
    let mut attribute: Option<String> = None;
    let mut in_value = false;
    let mut roles = Vec::new();
    let mut duration = None;
    let mut saw_element = false;
    loop {
        let event = reader
            .read_event_into(&mut buffer)
            .map_err(|e| Error::NotXml(e.to_string()))?;
        match event {
            Event::Start(e) => {
                saw_element = true;
                match e.local_name().as_ref() {
                    b"Attribute" => {
                        attribute = e
                            .try_get_attribute("Name")
                            .ok()
                            .flatten()
                            .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()));
                    }
                    b"AttributeValue" => in_value = true,
                    _ => {}
                }
            }
            Event::Empty(_) => saw_element = true,
            Event::Text(text) if in_value => {
                let value = text
                    .decode()
                    .map_err(|e| Error::NotXml(e.to_string()))?
                    .trim()
                    .to_owned();
                match attribute.as_deref() {
                    Some(ROLE) => roles.push(value),
                    Some(SESSION_DURATION) => {
                        duration = value.parse::<u64>().ok().map(Duration::from_secs);
                    }
                    _ => {}
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"AttributeValue" => in_value = false,
                b"Attribute" => attribute = None,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    if !saw_element {
        return Err(Error::NotXml("no XML element".to_owned()));
    }
    // Each value is "role,provider", in either order.
    let pairs: Vec<(String, String)> = roles
        .iter()
        .filter_map(|value| {
            let (a, b) = value.split_once(',')?;
            let (a, b) = (a.trim(), b.trim());
            if a.contains(":saml-provider/") {
                Some((b.to_owned(), a.to_owned()))
            } else {
                Some((a.to_owned(), b.to_owned()))
            }
        })
        .collect();
    if pairs.is_empty() {
        return Err(Error::NoRoles);
    }
    Ok(Grants {
        pairs,
        session_duration: duration,
    })
}

impl Grants {
    /// Refuses an assertion that does not grant this role through this identity provider.
    pub fn check(&self, role: &RoleArn, idp: &IdpArn) -> Result<(), Error> {
        if self
            .pairs
            .iter()
            .any(|(r, i)| r == role.as_str() && i == idp.as_str())
        {
            Ok(())
        } else {
            Err(Error::NotGranted {
                role: role.to_string(),
                idp: idp.to_string(),
                granted: self.pairs.clone(),
            })
        }
    }

    /// The role session's duration: the IdP's `SessionDuration`, within what AWS accepts
    /// (15 minutes to 12 hours), else `default`.
    pub fn duration(&self, default: Duration) -> Duration {
        self.session_duration.map_or(default, |d| {
            d.clamp(Duration::from_secs(900), Duration::from_secs(12 * 3600))
        })
    }
}

/// A base64 SAMLResponse granting `pairs` (role, provider) and lasting `seconds`, as identity
/// providers shape them (for tests).
#[cfg(test)]
pub fn response(pairs: &[(&str, &str)], seconds: Option<u64>) -> SecretString {
    let values: String = pairs
        .iter()
        .map(|(role, idp)| format!("<saml2:AttributeValue>{role},{idp}</saml2:AttributeValue>"))
        .collect();
    let duration = seconds.map_or_else(String::new, |s| {
        format!(
            "<saml2:Attribute Name=\"{SESSION_DURATION}\"><saml2:AttributeValue>{s}</saml2:AttributeValue></saml2:Attribute>"
        )
    });
    let xml = format!(
        "<?xml version=\"1.0\"?><saml2p:Response xmlns:saml2p=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\"><saml2:Assertion><saml2:AttributeStatement><saml2:Attribute Name=\"{ROLE}\">{values}</saml2:Attribute>{duration}</saml2:AttributeStatement></saml2:Assertion></saml2p:Response>"
    );
    SecretString::from(base64::engine::general_purpose::STANDARD.encode(xml))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/Admin";
    const IDP_ARN: &str = "arn:aws:iam::123456789012:saml-provider/Okta";

    #[test]
    fn the_granted_pairs_and_duration_are_read_in_either_order() {
        let grants = read(&response(
            &[
                (ROLE_ARN, IDP_ARN),
                (IDP_ARN, "arn:aws:iam::123456789012:role/ReadOnly"),
            ],
            Some(7200),
        ))
        .unwrap();
        assert_eq!(
            grants.pairs,
            [
                (ROLE_ARN.to_owned(), IDP_ARN.to_owned()),
                (
                    "arn:aws:iam::123456789012:role/ReadOnly".to_owned(),
                    IDP_ARN.to_owned()
                )
            ]
        );
        assert_eq!(
            grants.duration(Duration::from_secs(3600)),
            Duration::from_secs(7200)
        );
        grants
            .check(&ROLE_ARN.parse().unwrap(), &IDP_ARN.parse().unwrap())
            .unwrap();
        // Outside what AWS accepts: clamped.
        let long = read(&response(&[(ROLE_ARN, IDP_ARN)], Some(86_400))).unwrap();
        assert_eq!(long.duration(Duration::ZERO), Duration::from_secs(43_200));
        let none = read(&response(&[(ROLE_ARN, IDP_ARN)], None)).unwrap();
        assert_eq!(
            none.duration(Duration::from_secs(3600)),
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn an_assertion_without_the_sessions_role_names_what_it_grants() {
        let grants = read(&response(
            &[("arn:aws:iam::123456789012:role/ReadOnly", IDP_ARN)],
            None,
        ))
        .unwrap();
        let err = grants
            .check(&ROLE_ARN.parse().unwrap(), &IDP_ARN.parse().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("does not grant role arn:aws:iam::123456789012:role/Admin")
                && err.contains("role/ReadOnly through"),
            "{err}"
        );
    }

    #[test]
    fn what_is_not_an_assertion_is_refused_without_quoting_it() {
        for (text, says) in [
            ("not base64!", "not base64"),
            ("aGVsbG8gd29ybGQ=", "not a SAML response"),
            ("PHNhbWw+PC9zYW1sPg==", "grants no AWS role"),
        ] {
            let err = read(&SecretString::from(text.to_owned()))
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{text}: {err}");
            assert!(!err.contains(text), "the input is never echoed: {err}");
        }
    }
}
