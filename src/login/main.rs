//! `credtray-login`, the federated login window (`credtray-login --saml-login <session id>`),
//! which the tray and the CLI start as a child for each SAML login (the contract is
//! `credtray::saml_login`). It is an executable of its own so that WebKitGTK, which only it
//! links, never loads into the long-lived tray (about 25 MiB of libraries that the tray would
//! carry for its whole life) nor into the CLI.

// Denied, not forbidden: `network::glue` makes the one WebKit call its crate does not bind.
#![deny(unsafe_code)]

// Its pure parts are built everywhere (and tested on Linux); WebKitGTK uses them on Linux only.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
mod network;
mod window;

use std::process::ExitCode;

fn main() -> ExitCode {
    credtray::cli::init_logging();
    credtray::cli::install_panic_hook("credtray-login");
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some(flag) if flag == credtray::saml_login::FLAG => window::run(&args[1..]),
        Some("--version" | "-V") => {
            println!("credtray-login {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "credtray-login: the login window of credtray's federated sessions, started by credtray itself (usage: credtray-login --saml-login <session id> [--url <SAML 2.0 URL>] [--hidden-only] [--timeout <seconds>])"
            );
            ExitCode::from(2)
        }
    }
}
