//! Each error said once: every kind of error credtray reports, with every cause AWS can give,
//! rendered as the CLI, toasts and `--json` render it ([`crate::error_sentence`]) and as a
//! whole chain ([`anyhow`]'s `{:#}`), repeats no clause: no run of five or more words appears
//! twice. A message that says its cause keeps it out of `source()`, so neither rendering can
//! say it twice.

use std::collections::HashSet;
use std::error::Error as StdError;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::agent::{client, socket};
use crate::aws::{federation, process, saml, sso, sts};
use crate::awsfiles::{self, ParseError, Refused};
use crate::engine::{self, NoAssertion, desktop};
use crate::session::{Field, ValidationError};
use crate::{import, saml_login, secrets, session, store};

/// The first run of five words that appears twice in `text`, if any; words compare without
/// case or the punctuation around them ("rejected:" is "rejected").
fn repeated_run(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    let mut seen = HashSet::new();
    words
        .windows(5)
        .find(|run| !seen.insert(*run))
        .map(|run| run.join(" "))
}

/// What AWS said, as it says it: a sentence of its own, long enough to repeat.
const AWS_SAID: &str = "The security token included in the request is invalid";

fn sts_causes() -> Vec<sts::Cause> {
    // A new cause fails to compile here until it is listed below.
    let listed = |c: &sts::Cause| match c {
        sts::Cause::InvalidKey
        | sts::Cause::ExpiredToken
        | sts::Cause::MfaRejected
        | sts::Cause::AccessDenied
        | sts::Cause::Throttled
        | sts::Cause::Unreachable
        | sts::Cause::Untrusted(_)
        | sts::Cause::Network(_)
        | sts::Cause::Other(_) => true,
    };
    let causes = vec![
        sts::Cause::InvalidKey,
        sts::Cause::ExpiredToken,
        sts::Cause::MfaRejected,
        sts::Cause::AccessDenied,
        sts::Cause::Throttled,
        sts::Cause::Unreachable,
        sts::Cause::Untrusted(crate::aws::untrusted_phrase(
            "https://sts.us-east-1.amazonaws.com",
            "invalid peer certificate: UnknownIssuer",
        )),
        sts::Cause::Network(
            "the CA bundle /etc/company-ca.pem (from AWS_CA_BUNDLE) can't be used: it holds no PEM certificate"
                .to_owned(),
        ),
        sts::Cause::Other("ValidationError".to_owned()),
    ];
    assert!(causes.iter().all(listed));
    causes
}

fn sso_causes() -> Vec<sso::Cause> {
    let listed = |c: &sso::Cause| match c {
        sso::Cause::AuthorizationPending
        | sso::Cause::SlowDown
        | sso::Cause::ExpiredToken
        | sso::Cause::AccessDenied
        | sso::Cause::InvalidGrant
        | sso::Cause::InvalidClient
        | sso::Cause::Unauthorized
        | sso::Cause::Forbidden
        | sso::Cause::NotFound
        | sso::Cause::Throttled { .. }
        | sso::Cause::Unreachable
        | sso::Cause::Untrusted(_)
        | sso::Cause::Proxy(_)
        | sso::Cause::Other(_) => true,
    };
    let causes = vec![
        sso::Cause::AuthorizationPending,
        sso::Cause::SlowDown,
        sso::Cause::ExpiredToken,
        sso::Cause::AccessDenied,
        sso::Cause::InvalidGrant,
        sso::Cause::InvalidClient,
        sso::Cause::Unauthorized,
        sso::Cause::Forbidden,
        sso::Cause::NotFound,
        sso::Cause::Throttled {
            retry_after: Some(Duration::from_secs(3)),
        },
        sso::Cause::Untrusted(crate::aws::untrusted_phrase(
            "https://oidc.us-east-1.amazonaws.com",
            "invalid peer certificate: UnknownIssuer",
        )),
        sso::Cause::Proxy(
            "the proxy http://alice:***@proxy.corp:3128 (from [settings] proxy) refused credtray's credentials (407 Proxy Authentication Required): check the proxy user and password (credtray settings proxy URL --user USER --password -)".to_owned(),
        ),
        sso::Cause::Unreachable,
        sso::Cause::Other("HTTP 500".to_owned()),
    ];
    assert!(causes.iter().all(listed));
    causes
}

fn io_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        "Permission denied (os error 13)",
    )
}

fn path() -> PathBuf {
    PathBuf::from("/home/me/.aws/credentials")
}

fn validation() -> ValidationError {
    ValidationError::new(Field::Region, "not a known region: did you mean eu-west-1?")
}

fn session_errors() -> Vec<session::Error> {
    use session::Error as E;
    let names = || vec!["Dev/Admin".to_owned(), "Prod/Read".to_owned()];
    let errors = vec![
        E::Invalid(validation()),
        E::UnknownSession("bob".to_owned()),
        E::UnknownIntegration("corp".to_owned()),
        E::IntegrationHasDependents {
            alias: "corp".to_owned(),
            dependents: names(),
        },
        E::NotEditable {
            alias: "Dev/Admin".to_owned(),
            integration: "corp".to_owned(),
        },
        E::NotDuplicable {
            alias: "Dev/Admin".to_owned(),
            integration: "corp".to_owned(),
        },
        E::NotApplicable {
            field: Field::MfaDevice,
            kind: session::Kind::AwsSsoRole,
        },
        E::NothingToEdit,
        E::HasDependents {
            alias: "bob".to_owned(),
            dependents: names(),
        },
        E::ProfileInUse {
            profile: "dev".to_owned(),
            sessions: names(),
        },
        E::ProfileExists("dev".to_owned()),
        E::UnknownProfile("dev".to_owned()),
        E::DefaultProfile,
        E::Setting {
            name: "proxy",
            why: "SOCKS proxies (socks5://) are not supported; give an http:// proxy".to_owned(),
        },
    ];
    // A new variant fails to compile here until it is listed above.
    for e in &errors {
        match e {
            E::Invalid(_)
            | E::UnknownSession(_)
            | E::UnknownIntegration(_)
            | E::IntegrationHasDependents { .. }
            | E::NotEditable { .. }
            | E::NotDuplicable { .. }
            | E::NotApplicable { .. }
            | E::NothingToEdit
            | E::HasDependents { .. }
            | E::ProfileInUse { .. }
            | E::ProfileExists(_)
            | E::UnknownProfile(_)
            | E::Setting { .. }
            | E::DefaultProfile => {}
        }
    }
    errors
}

fn store_errors() -> Vec<store::Error> {
    use store::Error as E;
    let config = || PathBuf::from("/home/me/.config/credtray/config.toml");
    let errors = vec![
        E::NoConfigDir,
        E::Read {
            path: config(),
            source: io_error(),
        },
        E::Write {
            path: config(),
            source: io_error(),
        },
        E::Lock {
            path: config(),
            source: io::Error::new(
                io::ErrorKind::TimedOut,
                "process 4242 (credtray session add) has held it for more than 5 s, waiting for the OS keychain",
            ),
        },
        E::Parse {
            path: config(),
            line: 3,
            message: "expected `=`".to_owned(),
        },
        E::Invalid {
            path: config(),
            line: 3,
            source: session::Error::Invalid(validation()),
        },
        E::Version {
            path: config(),
            line: 1,
            found: 99,
        },
        E::Moved { path: config() },
    ];
    // A new variant fails to compile here until it is listed above.
    for e in &errors {
        match e {
            E::NoConfigDir
            | E::Read { .. }
            | E::Write { .. }
            | E::Lock { .. }
            | E::Moved { .. }
            | E::Parse { .. }
            | E::Invalid { .. }
            | E::Version { .. } => {}
        }
    }
    errors
}

fn secrets_errors() -> Vec<secrets::Error> {
    use secrets::Error as E;
    let account = || "1b4e28ba-2fa1-11d2-883f-0016d3cca427-access-key-id".to_owned();
    let errors = vec![
        E::Unavailable {
            cause: "org.freedesktop.DBus.Error.ServiceUnknown".to_owned(),
        },
        E::Failure {
            account: account(),
            cause: "the collection is locked".to_owned(),
        },
        E::Busy {
            account: account(),
            cause: "process 4242 (credtray session delete) has held it for more than 5 s, waiting for the OS keychain".to_owned(),
        },
        E::Moved { account: account() },
        E::Store(
            "wrong passphrase for /home/user/.local/share/credtray/keychain.age".to_owned(),
        ),
    ];
    // A new variant fails to compile here until it is listed above.
    for e in &errors {
        match e {
            E::Unavailable { .. }
            | E::Failure { .. }
            | E::Busy { .. }
            | E::Moved { .. }
            | E::Store(_) => {}
        }
    }
    errors
}

fn files_errors() -> Vec<awsfiles::Error> {
    use awsfiles::Error as E;
    vec![
        E::Io {
            path: path(),
            action: "write",
            source: io_error(),
        },
        E::Parse {
            path: path(),
            source: ParseError {
                line: 4,
                message: "a key outside any section".to_owned(),
            },
        },
        E::NotOwned {
            path: path(),
            section: "dev".to_owned(),
        },
        E::ChangedMeanwhile {
            path: path(),
            section: "dev".to_owned(),
        },
        E::Duplicate {
            path: path(),
            section: "dev".to_owned(),
            count: 2,
        },
        E::NoHome,
    ]
}

fn refusals() -> Vec<Refused> {
    let section = || "dev".to_owned();
    let mut refused = vec![
        Refused::NoKeys {
            path: path(),
            section: section(),
        },
        Refused::OtherKeys {
            path: path(),
            section: section(),
        },
        Refused::Owned {
            path: path(),
            section: section(),
        },
    ];
    refused.extend(files_errors().into_iter().map(Refused::Files));
    refused
}

fn saml_errors() -> Vec<saml::Error> {
    vec![
        saml::Error::NotBase64,
        saml::Error::NotXml("unexpected end of input".to_owned()),
        saml::Error::NoRoles,
        saml::Error::NotGranted {
            role: "arn:aws:iam::123456789012:role/Admin".to_owned(),
            idp: "arn:aws:iam::123456789012:saml-provider/Okta".to_owned(),
            granted: vec![(
                "arn:aws:iam::123456789012:role/Read".to_owned(),
                "arn:aws:iam::123456789012:saml-provider/Okta".to_owned(),
            )],
        },
    ]
}

/// Every engine error, each variant with every cause it can carry.
fn engine_errors() -> Vec<engine::Error> {
    use engine::Error as E;
    let alias = || "bob".to_owned();
    let mut errors: Vec<E> = Vec::new();
    errors.extend(session_errors().into_iter().map(E::Session));
    errors.extend(store_errors().into_iter().map(E::Store));
    errors.extend(secrets_errors().into_iter().map(E::Secrets));
    errors.extend(files_errors().into_iter().map(E::Files));
    for call in ["GetSessionToken", "AssumeRole"] {
        for message in ["", AWS_SAID] {
            errors.extend(sts_causes().into_iter().map(|cause| E::Sts {
                alias: alias(),
                cause: sts::Error {
                    call,
                    cause,
                    message: message.to_owned(),
                },
            }));
        }
    }
    errors.extend([
        E::NeedsMfaCode { alias: alias() },
        E::MfaCodeReused { alias: alias() },
        E::MfaSource {
            alias: alias(),
            reason: "ykman failed (exit status 1): oops".to_owned(),
        },
        E::NeedsSamlAssertion { alias: alias() },
    ]);
    errors.extend(
        [
            NoAssertion::NotGiven,
            NoAssertion::Cancelled,
            NoAssertion::TimedOut,
            NoAssertion::NeedsUser,
            NoAssertion::Failed("the identity provider answered HTTP 500".to_owned()),
        ]
        .into_iter()
        .map(|reason| E::SamlLogin {
            alias: alias(),
            reason,
        }),
    );
    errors.push(E::MissingKeys { alias: alias() });
    errors.extend(secrets_errors().into_iter().map(|source| E::LeftSecrets {
        alias: alias(),
        account: "1b4e28ba-2fa1-11d2-883f-0016d3cca427-session-token".to_owned(),
        source,
    }));
    errors.extend([
        E::KeepsOriginal {
            section: "dev".to_owned(),
        },
        E::Deleting { alias: alias() },
        E::Unquotable(process::Unquotable {
            path: PathBuf::from("/opt/my tools/credtray"),
            reason: "it holds a space",
        }),
        E::NoCli,
    ]);
    for why in ["", "its access token expired"] {
        errors.push(E::LoggedOut {
            integration: "corp".to_owned(),
            why: if why.is_empty() {
                String::new()
            } else {
                format!(" ({why})")
            },
        });
    }
    for call in ["ListAccounts", "GetRoleCredentials", "CreateToken"] {
        for message in ["", AWS_SAID] {
            errors.extend(sso_causes().into_iter().map(|cause| E::Sso {
                integration: "corp".to_owned(),
                cause: sso::Error {
                    call,
                    cause,
                    message: message.to_owned(),
                },
            }));
        }
    }
    errors.extend([
        E::NoAccess {
            role: "Admin".to_owned(),
            account: "123456789012".to_owned(),
        },
        E::LoginCancelled,
        E::NoSsoClient,
        E::Network(crate::net::Error::Bundle {
            path: PathBuf::from("/etc/company-ca.pem"),
            from: "[settings] ca_bundle".to_owned(),
            why: "it is not PEM (bad base64)".to_owned(),
        }),
        E::Network(crate::net::Error::Proxy(crate::net::proxy::Refused {
            from: "HTTPS_PROXY".to_owned(),
            why: "a proxy URL has no path or query: give http://host:port".to_owned(),
        })),
        E::Network(crate::net::Error::NoRoots(
            "the platform has none".to_owned(),
        )),
        E::Network(crate::net::Error::Source(
            "cannot read the proxy's password: the OS keychain is locked".to_owned(),
        )),
    ]);
    errors.extend(saml_errors().into_iter().map(E::Saml));
    errors.extend(refusals().into_iter().map(E::KeysStay));
    errors.extend([
        E::KeysWouldBeLost {
            alias: alias(),
            path: path(),
            section: "dev".to_owned(),
        },
        E::KeysHomeHeld {
            alias: alias(),
            holder: "alice".to_owned(),
            path: path(),
            section: "dev".to_owned(),
        },
        E::Internal("a session without an id".to_owned()),
        E::SyncCancelled {
            integration: "corp".to_owned(),
        },
        E::SyncedMeanwhile {
            integration: "corp".to_owned(),
            holder: "process 4242 (credtray integration sync)".to_owned(),
            why: "the portal refused every call for a minute".to_owned(),
        },
        E::Keychain(
            "3 items of credtray live in the OS keychain (the Secret Service): move them with `credtray keychain migrate --to file`, which also chooses file".to_owned(),
        ),
    ]);
    // A new variant fails to compile here until it is listed above.
    for e in &errors {
        match e {
            E::Session(_)
            | E::Store(_)
            | E::Secrets(_)
            | E::Files(_)
            | E::Sts { .. }
            | E::NeedsMfaCode { .. }
            | E::MfaCodeReused { .. }
            | E::MfaSource { .. }
            | E::NeedsSamlAssertion { .. }
            | E::SamlLogin { .. }
            | E::MissingKeys { .. }
            | E::LeftSecrets { .. }
            | E::KeepsOriginal { .. }
            | E::Deleting { .. }
            | E::Unquotable(_)
            | E::NoCli
            | E::LoggedOut { .. }
            | E::Sso { .. }
            | E::NoAccess { .. }
            | E::LoginCancelled
            | E::SyncCancelled { .. }
            | E::Keychain(_)
            | E::SyncedMeanwhile { .. }
            | E::Saml(_)
            | E::NoSsoClient
            | E::KeysStay(_)
            | E::KeysWouldBeLost { .. }
            | E::KeysHomeHeld { .. }
            | E::Network(_)
            | E::Internal(_) => {}
        }
    }
    errors
}

/// The errors of the edges: the agent's client and socket, the console's sign-in, the login
/// cookies, import.
fn edge_errors() -> Vec<anyhow::Error> {
    let socket = || "/run/user/1000/credtray/agent.sock".to_owned();
    let mut errors: Vec<anyhow::Error> = vec![
        client::Error::Io {
            path: socket(),
            cause: io::Error::new(io::ErrorKind::ConnectionReset, "Connection reset by peer"),
        }
        .into(),
        client::Error::Garbled("expected value at line 1 column 1".to_owned()).into(),
        client::Error::Version(7).into(),
        client::Error::Untrusted {
            path: PathBuf::from(socket()),
            why: "it belongs to user 1001".to_owned(),
        }
        .into(),
        socket::Error::UnsafeDir {
            dir: PathBuf::from("/run/user/1000/credtray"),
            why: "has mode 0755".to_owned(),
        }
        .into(),
        socket::Error::Running {
            pid: 4242,
            tray: true,
        }
        .into(),
        socket::Error::Stuck {
            lock: PathBuf::from("/run/user/1000/credtray/agent.lock"),
        }
        .into(),
        socket::Error::Io {
            path: PathBuf::from(socket()),
            cause: io_error(),
        }
        .into(),
        socket::Error::Taken {
            path: PathBuf::from(r"\\.\pipe\credtray-agent"),
        }
        .into(),
        federation::Error::Unreachable {
            endpoint: "https://signin.aws.amazon.com/federation".to_owned(),
            reason: "Connection refused (os error 111)".to_owned(),
        }
        .into(),
        federation::Error::Refused {
            endpoint: "https://signin.aws.amazon.com/federation".to_owned(),
            status: 400,
            message: AWS_SAID.to_owned(),
        }
        .into(),
        federation::Error::NoToken {
            endpoint: "https://signin.aws.amazon.com/federation".to_owned(),
        }
        .into(),
        saml_login::ForgetError::NotFederated {
            alias: "bob".to_owned(),
        }
        .into(),
        saml_login::ForgetError::Io {
            dir: PathBuf::from("/home/me/.local/share/credtray/login/x"),
            source: io_error(),
        }
        .into(),
    ];
    errors.extend(
        files_errors()
            .into_iter()
            .map(|e| import::Error::Files(e).into()),
    );
    errors.extend(
        engine_errors()
            .into_iter()
            .map(|e| import::Error::Engine(e).into()),
    );
    errors.push(
        import::Error::Marker {
            path: PathBuf::from("/home/me/.config/credtray/import-offered"),
            source: io_error(),
        }
        .into(),
    );
    errors.extend(desktop_errors().into_iter().map(Into::into));
    errors
}

/// What the engine's desktop side says: Start at login, Forget IdP login, the console, the
/// tray's lock.
fn desktop_errors() -> Vec<desktop::Error> {
    use desktop::Error as E;
    let mut errors: Vec<E> = engine_errors().into_iter().map(E::Engine).collect();
    errors.extend([
        E::NoAutostartDir,
        E::Autostart {
            path: PathBuf::from("/home/me/.config/autostart/credtray.desktop"),
            source: io_error(),
        },
        E::NoDataDir,
        E::Forget(saml_login::ForgetError::NotFederated {
            alias: "bob".to_owned(),
        }),
        E::SignIn(federation::Error::NoToken {
            endpoint: "https://signin.aws.amazon.com/federation".to_owned(),
        }),
        E::TrayRunning {
            path: PathBuf::from("/home/me/.config/credtray/tray.lock"),
        },
        E::TrayLock {
            path: PathBuf::from("/home/me/.config/credtray/tray.lock"),
            source: io_error(),
        },
    ]);
    // A new variant fails to compile here until it is listed above.
    for e in &errors {
        match e {
            E::Engine(_)
            | E::NoAutostartDir
            | E::Autostart { .. }
            | E::NoDataDir
            | E::Forget(_)
            | E::SignIn(_)
            | E::TrayRunning { .. }
            | E::TrayLock { .. } => {}
        }
    }
    errors
}

#[test]
fn no_error_says_a_clause_twice() {
    let mut errors: Vec<anyhow::Error> = engine_errors().into_iter().map(Into::into).collect();
    errors.extend(edge_errors());
    // A command's own context on top, as the CLI adds it.
    errors.extend(
        engine_errors()
            .into_iter()
            .map(|e| anyhow::Error::from(e).context("cannot start session \"bob\"")),
    );
    assert!(errors.len() > 250, "only {} errors", errors.len());
    let mut failures = Vec::new();
    for e in &errors {
        let said: &(dyn StdError + 'static) = e.as_ref();
        for text in [crate::error_sentence(said), format!("{e:#}")] {
            if let Some(run) = repeated_run(&text) {
                failures.push(format!("{run:?} twice in: {text}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_repeated_run_of_five_words_is_found_and_four_are_not() {
    assert_eq!(
        repeated_run("session \"bob\": the MFA code was rejected (AWS said: no): the MFA code was rejected (AWS said: no)").as_deref(),
        Some("the mfa code was rejected")
    );
    assert_eq!(repeated_run("one two three four; one two three four"), None);
}

/// Compiles only while every variant of these errors is matched, so a new one fails to compile
/// here until it is added to the lists above too.
#[allow(dead_code)]
#[allow(clippy::too_many_arguments)]
fn every_variant_is_listed(
    files: &awsfiles::Error,
    refused: &Refused,
    saml: &saml::Error,
    no_assertion: &NoAssertion,
    client: &client::Error,
    socket: &socket::Error,
    federation: &federation::Error,
    forget: &saml_login::ForgetError,
    import: &import::Error,
) {
    use awsfiles::Error as F;
    match files {
        F::Io { .. }
        | F::Parse { .. }
        | F::NotOwned { .. }
        | F::ChangedMeanwhile { .. }
        | F::Duplicate { .. }
        | F::NoHome => {}
    }
    match refused {
        Refused::NoKeys { .. }
        | Refused::OtherKeys { .. }
        | Refused::Owned { .. }
        | Refused::Files(_) => {}
    }
    match saml {
        saml::Error::NotBase64
        | saml::Error::NotXml(_)
        | saml::Error::NoRoles
        | saml::Error::NotGranted { .. } => {}
    }
    match no_assertion {
        NoAssertion::NotGiven
        | NoAssertion::Cancelled
        | NoAssertion::TimedOut
        | NoAssertion::NeedsUser
        | NoAssertion::Failed(_) => {}
    }
    match client {
        client::Error::Io { .. }
        | client::Error::Garbled(_)
        | client::Error::Version(_)
        | client::Error::Untrusted { .. } => {}
    }
    match socket {
        socket::Error::UnsafeDir { .. }
        | socket::Error::Running { .. }
        | socket::Error::Stuck { .. }
        | socket::Error::Io { .. }
        | socket::Error::Taken { .. } => {}
    }
    match federation {
        federation::Error::Unreachable { .. }
        | federation::Error::Refused { .. }
        | federation::Error::NoToken { .. } => {}
    }
    match forget {
        saml_login::ForgetError::NotFederated { .. } | saml_login::ForgetError::Io { .. } => {}
    }
    match import {
        import::Error::Files(_) | import::Error::Engine(_) | import::Error::Marker { .. } => {}
    }
}
