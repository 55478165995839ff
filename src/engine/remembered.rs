//! Credentials a long-lived process (the agent) keeps in memory, per session, with the
//! definition they were obtained for: served while they have more than the refresh margin
//! left, so a warm `credential-process` needs neither the keychain nor STS. Secrets are wiped
//! when an entry is replaced or dropped (`SecretString` zeroizes). It also holds the MFA codes
//! the process used recently, so one request's code is refused to the next.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use super::kinds::UsedCodes;
use crate::aws::Credentials;
use crate::session::SessionId;

struct Entry {
    definition: String,
    credentials: Credentials,
}

/// Credentials in memory, shared by the engines of one process.
#[derive(Default)]
pub struct Remembered {
    entries: Mutex<HashMap<SessionId, Entry>>,
    used_codes: Arc<UsedCodes>,
}

impl Remembered {
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Entry>> {
        // A panic elsewhere can't leave a half-written entry: every change is one insert.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The session's credentials if they were obtained for `definition` and are not due for a
    /// refresh at `now`.
    pub fn recall(
        &self,
        id: SessionId,
        definition: &str,
        now: OffsetDateTime,
    ) -> Option<Credentials> {
        let entries = self.entries();
        let entry = entries.get(&id)?;
        (entry.definition == definition && !entry.credentials.refresh_due(now))
            .then(|| entry.credentials.clone())
    }

    /// The MFA codes the process used recently, which its engines share.
    pub(super) fn used_codes(&self) -> &Arc<UsedCodes> {
        &self.used_codes
    }

    pub fn keep(&self, id: SessionId, definition: &str, credentials: &Credentials) {
        self.entries().insert(
            id,
            Entry {
                definition: definition.to_owned(),
                credentials: credentials.clone(),
            },
        );
    }

    /// Keeps only the entries `keep(id, definition)` accepts: the agent drops, when the store
    /// changes, what an edit or a delete in another process made stale.
    pub fn retain(&self, mut keep: impl FnMut(SessionId, &str) -> bool) {
        self.entries().retain(|id, e| keep(*id, &e.definition));
    }

    pub fn forget(&self, id: SessionId) {
        self.entries().remove(&id);
    }

    /// The sessions whose credentials will be due for a refresh by `then`.
    pub fn due_by(&self, then: OffsetDateTime) -> Vec<SessionId> {
        self.entries()
            .iter()
            .filter(|(_, e)| e.credentials.refresh_due(then))
            .map(|(id, _)| *id)
            .collect()
    }

    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
