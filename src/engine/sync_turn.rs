//! One sync of an integration at a time, machine-wide: a sync takes the integration's lock,
//! `sync/<integration id>.lock` beside the store, for as long as it lists and applies, and
//! leaves what came of it in `sync/<integration id>.json` before it lets go. A second sync
//! (the tray and a terminal, two terminals, a login's automatic sync) that finds the lock
//! taken waits for it, then reports that result instead of listing everything again. The lock
//! is an advisory file lock, so a holder that crashed releases it with its last breath; its
//! waiter then finds no new result and syncs itself.
//!
//! The result holds what `integration sync` prints (aliases, account names, counts), never a
//! token or a credential, and is written atomically, 0600 like the store.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::SyncReport;
use crate::atomic;
use crate::session::IntegrationId;

/// How often a waiting sync looks at the lock (and whether it was cancelled).
const LOOK_EVERY: Duration = Duration::from_millis(100);
/// What the holder's lock record says it is doing.
const SYNCING: &str = "syncing with IAM Identity Center";

/// What came of a sync, as the next waiter reads it.
#[derive(Debug, Serialize, Deserialize)]
struct Outcome {
    /// When it finished (nanoseconds since the Unix epoch): a waiter reports only an outcome
    /// newer than the one it saw before waiting.
    finished: u128,
    result: Result<SyncReport, String>,
}

/// Whose turn it is.
pub(super) enum Turn {
    /// This command syncs; others wait until [`Mine::finish`] (or the drop of it).
    Mine(Mine),
    /// Another command synced while this one waited: its report, or its error's sentence,
    /// and who it was.
    Theirs {
        holder: String,
        result: Result<SyncReport, String>,
    },
    /// Cancelled while waiting.
    Cancelled,
}

/// The integration's lock, held.
pub(super) struct Mine {
    _lock: atomic::Lock,
    outcome: PathBuf,
}

impl Mine {
    /// Leaves the result for whoever waits, then lets the lock go. Best effort: a waiter that
    /// finds no result syncs itself.
    pub(super) fn finish(self, result: Result<&SyncReport, String>) {
        let outcome = Outcome {
            finished: now(),
            result: result.cloned(),
        };
        let written = serde_json::to_vec_pretty(&outcome)
            .map_err(std::io::Error::other)
            .and_then(|json| atomic::write(&self.outcome, &json, 0o600));
        if let Err(e) = written {
            tracing::warn!(path = %self.outcome.display(), error = %e, "could not leave the sync's result for others");
        }
    }
}

/// Takes the integration's sync lock in `store_dir`, waiting while another command holds it
/// (`waiting` hears who, once). See the module docs.
pub(super) fn take(
    store_dir: &Path,
    id: IntegrationId,
    waiting: &dyn Fn(&str),
    cancelled: &dyn Fn() -> bool,
) -> std::io::Result<Turn> {
    let dir = store_dir.join("sync");
    atomic::create_dir(&dir, 0o700)?;
    let lock = dir.join(format!("{id}.lock"));
    let outcome = dir.join(format!("{id}.json"));
    // Read before trying the lock: an outcome written after this is one this sync waited for.
    let before = read(&outcome).map(|o| o.finished);
    if let Some(held) = atomic::Lock::try_exclusive(&lock, 0o600, SYNCING)? {
        return Ok(Turn::Mine(Mine {
            _lock: held,
            outcome,
        }));
    }
    let holder = atomic::holder(&lock)
        .map(|(who, _)| who)
        .unwrap_or_else(|| "another credtray".to_owned());
    tracing::info!(%id, %holder, "another sync of this integration runs; waiting for it");
    waiting(&holder);
    let Some(held) = atomic::Lock::patiently(&lock, 0o600, SYNCING, LOOK_EVERY, cancelled)? else {
        return Ok(Turn::Cancelled);
    };
    match read(&outcome) {
        Some(o) if Some(o.finished) != before => Ok(Turn::Theirs {
            holder,
            result: o.result,
        }),
        // It ended without a result (it crashed, or could not write one): this one syncs.
        _ => Ok(Turn::Mine(Mine {
            _lock: held,
            outcome,
        })),
    }
}

fn read(path: &Path) -> Option<Outcome> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn now() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn report(accounts: usize) -> SyncReport {
        SyncReport {
            accounts,
            ..SyncReport::default()
        }
    }

    #[test]
    fn a_second_sync_waits_for_the_first_and_gets_its_report() {
        let dir = tempfile::tempdir().unwrap();
        let id = IntegrationId::new();
        let Turn::Mine(first) =
            take(dir.path(), id, &|_| panic!("no one to wait for"), &|| false).unwrap()
        else {
            panic!("the first sync's turn")
        };
        let waited = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let second = scope.spawn(|| {
                take(
                    dir.path(),
                    id,
                    &|_| waited.store(true, Ordering::SeqCst),
                    &|| false,
                )
            });
            while !waited.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            first.finish(Ok(&report(500)));
            match second.join().unwrap().unwrap() {
                Turn::Theirs { result, .. } => assert_eq!(result, Ok(report(500))),
                _ => panic!("the second sync reports the first's result"),
            }
        });
        // Afterwards a sync has its own turn again, with the result of before left behind.
        assert!(matches!(
            take(dir.path(), id, &|_| panic!(), &|| false).unwrap(),
            Turn::Mine(_)
        ));
    }

    #[test]
    fn a_holder_that_ends_without_a_result_leaves_the_turn_to_the_waiter() {
        let dir = tempfile::tempdir().unwrap();
        let id = IntegrationId::new();
        let Turn::Mine(first) = take(dir.path(), id, &|_| {}, &|| false).unwrap() else {
            panic!()
        };
        std::thread::scope(|scope| {
            let second = scope.spawn(|| take(dir.path(), id, &|_| {}, &|| false));
            std::thread::sleep(Duration::from_millis(150));
            // Dropped unfinished, as a crash drops a process's locks.
            drop(first);
            assert!(matches!(second.join().unwrap().unwrap(), Turn::Mine(_)));
        });
    }

    #[test]
    fn a_waiting_sync_can_be_cancelled_and_other_integrations_do_not_wait() {
        let dir = tempfile::tempdir().unwrap();
        let id = IntegrationId::new();
        let Turn::Mine(_held) = take(dir.path(), id, &|_| {}, &|| false).unwrap() else {
            panic!()
        };
        assert!(matches!(
            take(dir.path(), id, &|_| {}, &|| true).unwrap(),
            Turn::Cancelled
        ));
        assert!(matches!(
            take(dir.path(), IntegrationId::new(), &|_| panic!(), &|| false).unwrap(),
            Turn::Mine(_)
        ));
    }
}
