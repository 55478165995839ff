//! One integration-test binary (as ripgrep does it): every test drives the real `credtray`
//! binary in its own temp dir, against the real components `scripts/test` starts: a Secret
//! Service (gnome-keyring) on a private D-Bus session bus, checked from outside with
//! libsecret's `secret-tool`.

mod harness;

mod agent;
mod awsfiles;
mod binaries;
mod concurrency;
mod connection;
mod console;
mod doctor;
mod duplicate;
mod engine;
mod exec;
mod files;
mod import;
mod integrations;
mod keychain;
mod keypair;
mod leaks;
mod mfa;
mod net;
mod net_support;
mod package;
mod pass_support;
mod proxy;
mod publish;
mod repairs;
mod saml;
mod sso;
mod sso_stub;
mod sso_sync;
mod stores;
mod validation;
mod waiting;
