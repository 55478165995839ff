//! The agent's wire protocol: one request and one reply per connection, each one JSON object
//! with the protocol version and a tag naming what it is (rbw's shape). The client writes its
//! request and closes its writing half; the agent answers and closes the connection.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The protocol version both sides put in every message; a mismatch is answered with an error
/// of kind `protocol`, and the client then does the work itself.
pub const PROTOCOL: u32 = 1;

/// The most a message may take: a reply with credentials is under 4 KiB.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// The most a list of accounts may take (thousands of sessions, a few items each).
pub const MAX_LIST: usize = 8 * 1024 * 1024;

/// A request, with its version.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub version: u32,
    #[serde(flatten)]
    pub body: Ask,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "request", rename_all = "kebab-case")]
pub enum Ask {
    /// Who is serving: the agent's process id and whether it is the tray.
    Hello,
    /// The credentials of a session (its id or alias), for `credential-process`.
    Credentials {
        session: String,
    },
    /// A tray asks a headless agent to stop serving so that it can serve instead.
    HandOver,
    /// Which store the agent uses and whether it holds the file store open.
    KeychainStatus,
    /// `credtray agent lock`: close the file store (its items wiped from memory).
    KeychainLock,
    /// `credtray agent unlock`: open the file store with this passphrase.
    KeychainUnlock {
        passphrase: Sealed,
    },
    /// An item of the file store the agent holds open (by account name), so that a command
    /// needs no passphrase while the agent runs.
    SecretGet {
        account: String,
    },
    SecretSet {
        account: String,
        value: Sealed,
    },
    SecretDelete {
        account: String,
    },
    /// The accounts of the open file store (names only).
    SecretList,
}

impl Ask {
    /// The longest reply this request may get: a list of accounts may be long.
    pub fn reply_limit(&self) -> usize {
        match self {
            Ask::SecretList => MAX_LIST,
            _ => MAX_MESSAGE,
        }
    }
}

/// A secret's text on the wire: wiped from memory when dropped, never shown by `Debug`.
#[derive(Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Sealed(pub Zeroizing<String>);

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealed(***)")
    }
}

impl Sealed {
    pub fn new(text: &str) -> Self {
        Self(Zeroizing::new(text.to_owned()))
    }
}

/// A reply, with its version.
#[derive(Serialize, Deserialize)]
pub struct Reply {
    pub version: u32,
    #[serde(flatten)]
    pub body: Answer,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "kebab-case")]
pub enum Answer {
    Hello {
        pid: u32,
        tray: bool,
    },
    Credentials(Secrets),
    /// The agent has stopped listening and is exiting.
    HandingOver,
    /// The agent's store (`os`, `file`, `pass`) and whether it holds the file store open.
    Keychain {
        store: String,
        open: bool,
        /// The file store's path, so a command with another one never uses this one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
    },
    /// An item's value; `None`: no such item.
    Secret {
        value: Option<Sealed>,
    },
    /// Whether the deleted item existed.
    Deleted {
        existed: bool,
    },
    Accounts {
        accounts: Vec<String>,
    },
    /// Done (a lock, an unlock, a set).
    Done,
    Error {
        kind: ErrorKind,
        message: String,
    },
}

/// Credentials as the agent hands them out (the `credential_process` document's fields),
/// wiped from memory when dropped.
#[derive(Serialize, Deserialize)]
pub struct Secrets {
    pub access_key_id: Zeroizing<String>,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: Zeroizing<String>,
    /// RFC 3339, UTC.
    pub expiration: String,
    /// When they were obtained (RFC 3339), which sets their refresh margin; absent from an
    /// agent that predates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued: Option<String>,
}

impl Secrets {
    /// As the engine holds them; `None` when the expiry does not parse.
    pub fn credentials(&self) -> Option<crate::aws::Credentials> {
        use secrecy::SecretString;
        let parse = |t: &str| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        };
        Some(crate::aws::Credentials {
            access_key_id: SecretString::from(self.access_key_id.as_str()),
            secret_access_key: SecretString::from(self.secret_access_key.as_str()),
            session_token: SecretString::from(self.session_token.as_str()),
            expiration: parse(&self.expiration)?,
            issued: self.issued.as_deref().and_then(parse),
        })
    }
}

/// What kind of failure an error reply reports, so the client can word it and pick its exit
/// code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The session needs an MFA code nobody could give (a headless agent, a dismissed dialog).
    NeedsMfa,
    /// The session needs a login (a SAML assertion, an SSO login).
    NeedsLogin,
    /// AWS refused or could not be reached.
    Aws,
    /// The request names no session, or is malformed.
    Invalid,
    /// The keychain, the store or the files failed.
    Unavailable,
    /// The versions differ.
    Protocol,
    /// The agent does not hold the file store open (locked, or it uses another store).
    Locked,
}

impl Request {
    pub fn new(body: Ask) -> Self {
        Self {
            version: PROTOCOL,
            body,
        }
    }
}

impl Reply {
    pub fn new(body: Answer) -> Self {
        Self {
            version: PROTOCOL,
            body,
        }
    }

    pub fn error(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::new(Answer::Error {
            kind,
            message: message.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_tagged_json_with_a_version() {
        let request = Request::new(Ask::Credentials {
            session: "dev".into(),
        });
        let text = serde_json::to_string(&request).unwrap();
        assert_eq!(
            text,
            r#"{"version":1,"request":"credentials","session":"dev"}"#
        );
        let back: Request = serde_json::from_str(&text).unwrap();
        assert_eq!(back.body, request.body);

        let reply = Reply::error(ErrorKind::NeedsMfa, "session \"dev\" needs an MFA code");
        let text = serde_json::to_string(&reply).unwrap();
        assert_eq!(
            text,
            r#"{"version":1,"reply":"error","kind":"needs-mfa","message":"session \"dev\" needs an MFA code"}"#
        );
        let hello: Reply =
            serde_json::from_str(r#"{"version":1,"reply":"hello","pid":42,"tray":false}"#).unwrap();
        assert!(matches!(
            hello.body,
            Answer::Hello {
                pid: 42,
                tray: false
            }
        ));
        // Another version still parses far enough to be refused by its number.
        let future: Request = serde_json::from_str(r#"{"version":2,"request":"hello"}"#).unwrap();
        assert_eq!(future.version, 2);
    }
}
