//! The tray is the agent where there is a desktop: it serves `credential-process` over the
//! agent's socket on a thread of its own, and asks for an MFA code in the tray's dialog (waiting
//! at most [`MFA_WAIT`]). A headless `credtray agent` found running is asked to hand over, so
//! the one that can show dialogs serves.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tao::event_loop::EventLoopProxy;

use super::UserEvent;
use super::worker::TrayPrompt;
use credtray::agent::protocol::Ask;
use credtray::agent::{Agent, client, socket};
use credtray::aws::Sts;
use credtray::awsfiles::Files;
use credtray::secrets::SecretStore;
use credtray::store::Store;

/// What the agent shares with the tray's engine.
pub type Parts = (
    Store,
    Arc<dyn SecretStore>,
    Files,
    Arc<dyn Sts>,
    Arc<dyn credtray::aws::sso::Sso>,
    credtray::secrets::chosen::InUse,
);

/// How long a credential_process call may wait for the person to type an MFA code.
pub const MFA_WAIT: Duration = Duration::from_secs(120);

/// How long a headless agent has to let go of the socket after agreeing to hand over.
const HAND_OVER_WITHIN: Duration = Duration::from_secs(5);

/// Takes the agent's socket, asking a headless agent that holds it to hand over.
fn bind(path: &std::path::Path) -> Result<socket::Bound, socket::Error> {
    match socket::bind(path, || client::who_holds(path)) {
        Err(socket::Error::Running { pid, tray: false }) => {
            tracing::info!(pid, "asking the headless agent to hand over to the tray");
            let _ = client::request(path, Ask::HandOver);
            let deadline = Instant::now() + HAND_OVER_WITHIN;
            loop {
                match socket::bind(path, || client::who_holds(path)) {
                    Err(socket::Error::Running { .. } | socket::Error::Stuck { .. })
                        if Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    other => return other,
                }
            }
        }
        other => other,
    }
}

/// Starts serving on a thread of its own. A tray that can't be the agent (another tray is, the
/// directory is unsafe) still runs: credential-process then does the work itself.
pub fn start(
    (store, secrets, files, sts, sso, keychain): Parts,
    proxy: EventLoopProxy<UserEvent>,
    quitting: Arc<AtomicBool>,
) {
    let spawned = std::thread::Builder::new()
        .name("credtray-agent".to_owned())
        .spawn(move || {
            let path = socket::path();
            let bound = match bind(&path) {
                Ok(bound) => bound,
                Err(e) => {
                    tracing::warn!(error = %e, "the tray is not the agent; credential-process works without one");
                    return;
                }
            };
            let offers = Mutex::new(proxy.clone());
            let proxy = Mutex::new(proxy);
            let agent = Agent::new(store, secrets, files, sts)
                .with_sso(sso)
                .with_keychain(keychain.choice.backend, keychain.file)
                .on_error(move |e| {
                    // A credential_process call found its integration logged out: offer a login
                    // (the tray never opens a browser by itself).
                    if let credtray::engine::Error::LoggedOut { integration, .. } = e {
                        let proxy = offers.lock().unwrap_or_else(PoisonError::into_inner);
                        let _ = proxy.send_event(UserEvent::OfferLogin(integration.clone()));
                    }
                })
                .with_prompt(Box::new(move || {
                let proxy = proxy.lock().unwrap_or_else(PoisonError::into_inner).clone();
                Box::new(TrayPrompt::new(proxy, quitting.clone(), MFA_WAIT))
            }));
            Arc::new(agent).serve(bound);
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the agent's thread");
    }
}
