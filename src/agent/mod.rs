//! The agent: a long-lived process (the tray, or `credtray agent` on a machine without a
//! desktop) that answers `credential-process` over a unix socket from credentials it keeps in
//! memory, with one keychain connection and one STS client for its lifetime. `socket` owns
//! where it listens and who may talk to it, `protocol` the messages, `server` the answering,
//! `client` the asking side.

pub mod client;
pub mod protocol;
pub mod server;
pub mod socket;

pub use server::Agent;
