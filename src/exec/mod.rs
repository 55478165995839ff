//! Using a session directly, outside the named profiles: `credtray exec` (a command run with a
//! loopback ECS credentials endpoint for the session, or with static variables), `credtray
//! env` (the variables for a shell). This module owns what they share: the [`Supplier`] that
//! keeps one session's credentials fresh in memory, refreshing them in the background so that
//! a request never waits on AWS (or on a person); the endpoint (`endpoint`); the child's
//! environment and the shared files it reads (`environment`); running the child and
//! forwarding signals (`child`).

pub mod child;
pub mod endpoint;
pub mod environment;

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use time::OffsetDateTime;

use crate::aws::Credentials;

/// Why there are no credentials to hand out now, as an HTTP status and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    /// 503: a person must act (an MFA code, a login); 502: AWS failed; 500: anything else.
    pub status: u16,
    pub message: String,
}

impl Unavailable {
    pub fn needs_person(message: impl Into<String>) -> Self {
        Self {
            status: 503,
            message: message.into(),
        }
    }

    pub fn aws(message: impl Into<String>) -> Self {
        Self {
            status: 502,
            message: message.into(),
        }
    }

    pub fn other(message: impl Into<String>) -> Self {
        Self {
            status: 500,
            message: message.into(),
        }
    }
}

/// Where a session's fresh credentials come from (the agent, or an engine without a prompt).
pub trait Source: Send + 'static {
    fn fetch(&mut self) -> Result<Credentials, Unavailable>;
}

/// How long a request may wait for a refresh already under way (botocore gives the whole
/// request 2 seconds).
const REFRESH_WAIT: Duration = Duration::from_millis(1500);
/// How soon a failed refresh is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(10);

struct State {
    current: Credentials,
    /// The last refresh failed with this (cleared by the next success)…
    failed: Option<Unavailable>,
    /// …and is tried again then.
    retry_at: Option<std::time::Instant>,
    stopping: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One session's credentials, kept in memory and refreshed by a thread of their own before
/// their refresh margin (the one rule, [`crate::aws::refresh_due`]); handed out only while they
/// have more than it left. Stops its thread when dropped.
pub struct Supplier {
    shared: Arc<Shared>,
}

impl Supplier {
    /// Starts with `first` (fetched by the caller, who may ask the person) and refreshes from
    /// `source`.
    pub fn start(first: Credentials, source: impl Source) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                current: first,
                failed: None,
                retry_at: None,
                stopping: false,
            }),
            changed: Condvar::new(),
        });
        let refresher = shared.clone();
        std::thread::Builder::new()
            .name("credtray-refresh".to_owned())
            .spawn(move || refresh(&refresher, source))
            .map(drop)
            .unwrap_or_else(|e| tracing::warn!(error = %e, "cannot start the refresh thread"));
        Self { shared }
    }

    /// Credentials with more than their refresh margin left; a refresh under way is waited
    /// for (briefly).
    pub fn current(&self) -> Result<Credentials, Unavailable> {
        let mut state = self.shared.lock();
        let started = std::time::Instant::now();
        loop {
            if !state.current.refresh_due(OffsetDateTime::now_utc()) {
                return Ok(state.current.clone());
            }
            if let Some(failed) = &state.failed {
                return Err(failed.clone());
            }
            let left = REFRESH_WAIT.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(Unavailable::other(
                    "the credentials are being refreshed; try again in a moment",
                ));
            }
            self.shared.changed.notify_all();
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for Supplier {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.changed.notify_all();
    }
}

/// The refresh thread: sleeps until the credentials are due, fetches new ones; a failure is
/// kept (requests are told why) and tried again [`RETRY_AFTER`] later. Every wake-up (a
/// request waiting, a stop, a timeout) looks at the state afresh.
fn refresh(shared: &Shared, mut source: impl Source) {
    let mut state = shared.lock();
    loop {
        if state.stopping {
            return;
        }
        let wait = match state.retry_at {
            Some(at) => at.saturating_duration_since(std::time::Instant::now()),
            None if state.current.refresh_due(OffsetDateTime::now_utc()) => Duration::ZERO,
            None => due_in(&state.current, OffsetDateTime::now_utc()),
        };
        if !wait.is_zero() {
            state = shared
                .changed
                .wait_timeout(state, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            continue;
        }
        drop(state);
        let fetched = source.fetch();
        state = shared.lock();
        match fetched {
            Ok(fresh) => {
                tracing::info!(expiration = %crate::aws::rfc3339(fresh.expiration), "refreshed the credentials");
                state.current = fresh;
                state.failed = None;
                state.retry_at = None;
            }
            Err(e) => {
                tracing::warn!(status = e.status, message = %e.message, "could not refresh the credentials");
                state.failed = Some(e);
                state.retry_at = Some(std::time::Instant::now() + RETRY_AFTER);
            }
        }
        shared.changed.notify_all();
    }
}

/// How long until `credentials` are due for a refresh (at least a second, at most a minute:
/// a clock that jumps, a laptop waking up, are noticed within a minute).
fn due_in(credentials: &Credentials, now: OffsetDateTime) -> Duration {
    let margin = crate::aws::refresh_margin(credentials.issued.map(|i| credentials.expiration - i));
    let until = credentials.expiration - margin - now;
    Duration::try_from(until)
        .unwrap_or_default()
        .clamp(Duration::from_secs(1), Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::{ExposeSecret, SecretString};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn credentials(key: &str, lifetime_s: i64) -> Credentials {
        let now = OffsetDateTime::now_utc();
        Credentials {
            access_key_id: SecretString::from(key),
            secret_access_key: SecretString::from("secret"),
            session_token: SecretString::from("token"),
            expiration: now + time::Duration::seconds(lifetime_s),
            issued: Some(now),
        }
    }

    /// Hands out ASIA1, ASIA2… lasting `lifetime_s`, or fails with `fail`.
    struct Counting {
        calls: Arc<AtomicUsize>,
        lifetime_s: i64,
        fail: Option<Unavailable>,
    }

    impl Source for Counting {
        fn fetch(&mut self) -> Result<Credentials, Unavailable> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            match &self.fail {
                Some(e) => Err(e.clone()),
                None => Ok(credentials(&format!("ASIA{n}"), self.lifetime_s)),
            }
        }
    }

    #[test]
    fn fresh_credentials_are_served_from_memory_without_fetching() {
        let calls = Arc::new(AtomicUsize::new(0));
        let supplier = Supplier::start(
            credentials("ASIA0", 3600),
            Counting {
                calls: calls.clone(),
                lifetime_s: 3600,
                fail: None,
            },
        );
        for _ in 0..100 {
            let c = supplier.current().unwrap();
            assert_eq!(c.access_key_id.expose_secret(), "ASIA0");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn credentials_are_refreshed_before_their_margin_in_the_background() {
        let calls = Arc::new(AtomicUsize::new(0));
        // 3 s credentials: due after 2 s (a third of the lifetime is the margin).
        let supplier = Supplier::start(
            credentials("ASIA0", 3),
            Counting {
                calls: calls.clone(),
                lifetime_s: 3600,
                fail: None,
            },
        );
        assert_eq!(
            supplier.current().unwrap().access_key_id.expose_secret(),
            "ASIA0"
        );
        std::thread::sleep(Duration::from_millis(3200));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "refreshed once, unasked");
        assert_eq!(
            supplier.current().unwrap().access_key_id.expose_secret(),
            "ASIA1"
        );
    }

    #[test]
    fn a_refresh_that_needs_a_person_is_told_to_the_caller() {
        let supplier = Supplier::start(
            credentials("ASIA0", 0),
            Counting {
                calls: Arc::new(AtomicUsize::new(0)),
                lifetime_s: 3600,
                fail: Some(Unavailable::needs_person(
                    "session \"dev\" needs an MFA code",
                )),
            },
        );
        let started = std::time::Instant::now();
        let Err(err) = supplier.current() else {
            panic!("expired credentials were handed out")
        };
        assert_eq!(err.status, 503);
        assert!(err.message.contains("MFA"), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
