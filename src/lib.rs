//! credtray: AWS credential sessions from the system tray and the command line. This library
//! is the GUI-free core the executables stand on: `credtray` (the CLI, `src/main.rs`), and
//! the only code that links a GUI toolkit, `credtray-tray` (the tray, `src/tray/main.rs`) and
//! `credtray-login` (its federated login window, `src/login/main.rs`).
//!
//! The map of the crate:
//! - [`session`]: the domain — session kinds, validated fields, the catalog and its rules.
//! - [`store`]: `config.toml`, its versioned schema, atomic locked saves.
//! - [`secrets`]: the OS keychain behind a trait, plus an in-memory fake.
//! - [`aws`]: AWS knowledge: partitions and regions, temporary credentials, the refresh rule,
//!   STS behind a trait.
//! - [`awsfiles`]: lossless, atomic, owned editing of `~/.aws/credentials` and `~/.aws/config`.
//! - [`engine`]: the one owner of session state; CLI and tray only send it commands.
//! - [`exec`]: using a session outside the named profiles: `exec`'s loopback ECS credentials
//!   endpoint, kept fresh in memory, the child's environment and files, `env`'s variables.
//! - [`import`]: what the profiles of `~/.aws` become (`credtray import aws-config`), planned
//!   as data.
//! - [`cli`]: the `credtray` command line: parse, call the engine, render.
//! - [`doctor`]: `credtray doctor`, whether the setup lets credtray work, check by check.
//! - [`agent`]: the long-lived process answering `credential-process` from memory over a
//!   unix socket or, on Windows, a named pipe (the tray, or `credtray agent`), and its client.
//! - `win32` (Windows only): the Win32 calls std lacks outside the agent's pipe.
//! - [`atomic`]: crash-safe file replacement and cross-process locks.
//! - [`autostart`]: Start at login, the XDG autostart entry (the Run key on Windows).
//! - [`browser`]: opening a login URL in the default browser, when asked.
//! - [`saml_login`]: the federated login window's contract: the `credtray-login --saml-login`
//!   child, its pipe and exit codes, the per-URL IdP cookie directories, AWS's ACS URLs.
//! - [`loopback`]: the HTTP/1.1 subset of credtray's loopback servers, and their tokens.
//! - [`harden`]: keeping the processes that hold credentials (agent, tray, `exec`) out of the
//!   same user's debuggers (non-dumpable).
//! - [`redact`]: secret-shaped text (key ids, keys, tokens, assertions) scrubbed from AWS's
//!   messages before they are stored, shown or logged.
//!
//! Flow: `main` parses arguments into a [`cli`] command, which builds an [`engine::Engine`]
//! over the [`store::Store`] and the [`secrets::Keychain`], calls it, and renders the result.
//! Errors carry their context up to `main`, which maps them to exit codes 0/1/2.

// No unsafe code, but for the system calls std and rustix don't wrap: `getpeereid` on macOS
// and the BSDs (`agent::socket::unix`), WebKitGTK's proxy credentials (`login::network`), and
// on Windows the agent's named pipe (`agent::socket::windows`) and `win32` (the Run key, the
// shell's URL handler, the console's Ctrl-C). Each such module allows it for itself.
#![deny(unsafe_code)]

/// An error and its causes as one sentence ("cannot write …: Permission denied"), a cause left
/// out when the text before already says it: how every front end says an error (the CLI's
/// `main`, `--json`, toasts, a session's `error` state, the agent's replies), so each cause is
/// said once. (Error types help: a message that embeds its cause does not also chain it.)
pub fn error_sentence(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// The first `bytes` bytes of the SHA-256 of `data`, in lower-case hex: the names credtray
/// derives from a value it must not write out as is, or that can't be a file name (a SAML URL's
/// cookie directory, an MFA device's used-window file, the Windows agent's pipe).
pub(crate) fn sha256_hex(data: &[u8], bytes: usize) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .take(bytes)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An absolute path in a test, from a Unix one: as it is on Unix, on drive `C:` on Windows
/// (where `/home/u` is not absolute).
#[cfg(test)]
pub(crate) fn test_abs(unix: &str) -> String {
    if cfg!(windows) {
        format!("C:{unix}")
    } else {
        unix.to_owned()
    }
}

pub mod agent;
pub mod atomic;
pub mod autostart;
pub mod aws;
pub mod awsfiles;
pub mod browser;
pub mod cli;
pub mod doctor;
pub mod engine;
pub mod exec;
pub mod harden;
pub mod import;
pub mod loopback;
pub mod mfa;
pub mod net;
pub mod redact;
#[cfg(test)]
mod said_once;
pub mod saml_login;
pub mod secrets;
pub mod session;
pub mod store;
#[cfg(windows)]
pub mod win32;
