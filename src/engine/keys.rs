//! An IAM user's long-term access key pair in the keychain: one item, account
//! `<uuid>-iam-user-access-key`, JSON with the access key id and the secret access key, so no
//! crash can leave a new key id beside an old secret.
//!
//! Sessions stored before kept two items (`<uuid>-iam-user-access-key-id` and
//! `<uuid>-iam-user-secret-access-key`). That layout stays readable for one release and moves
//! to the pair lazily, per session, the first time a command that writes touches its keys (a
//! start, `credential_process`, an edit, a delete, `import --move-keys`): the pair is written
//! and read back, then the id's item is deleted, then the secret's. A kill can stop that after
//! any step, and every state it leaves is settled by one rule: **a pair item wins**; old items
//! beside it are leftovers, deleted by the next such command. Without a pair item, the old
//! items are the keys. A dry run (`session test`) reads and moves nothing. A pair item that
//! does not parse (nothing credtray writes) fails a start with the edit that fixes it, and is
//! as none to that edit and to a delete.
//!
//! Moving writes, so it runs under the store's lock like every other writer of keys: a start
//! outside the lock takes it just for that (once per session), else it could put back keys an
//! edit had just replaced.

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::owning::failpoint;
use super::{Engine, Error};
use crate::secrets::{self, Item, Key};
use crate::session::{Field, SessionId, ValidationError};

/// The pair as it is stored. Its text is wiped when dropped; it has no `Debug`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Pair {
    access_key_id: String,
    secret_access_key: String,
}

impl Drop for Pair {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.access_key_id.zeroize();
        self.secret_access_key.zeroize();
    }
}

/// What the keychain holds of one session's keys: `[access key id, secret access key]`.
type Halves = [Option<SecretString>; 2];

/// Everything the keychain holds of one session's keys, in both layouts.
struct Found {
    /// From the pair item, when there is one.
    pair: Option<[SecretString; 2]>,
    /// The old layout's two items.
    old: Halves,
}

impl Found {
    /// The keys by the rule: the pair's, else the old items'.
    fn keys(&self) -> Halves {
        match &self.pair {
            Some([id, secret]) => [Some(id.clone()), Some(secret.clone())],
            None => self.old.clone(),
        }
    }

    /// Whether a writing command has something to finish: a complete old layout to move, or
    /// leftovers beside the pair. One half alone, without a pair, can't become one: it stays
    /// until an edit gives the other half or the session is deleted.
    fn unsettled(&self) -> bool {
        match self.pair {
            Some(_) => self.old.iter().any(Option::is_some),
            None => self.old.iter().all(Option::is_some),
        }
    }
}

impl Engine {
    /// The session's keys for a command that runs outside the store's lock; with `settle`
    /// (a command that may write), an old layout is moved to the pair first, under the lock.
    pub(super) fn stored_keys(&self, id: SessionId, settle: bool) -> Result<Halves, Error> {
        let found = self.found_keys(id, false)?;
        if !settle || !found.unsettled() {
            return Ok(found.keys());
        }
        let _locked = self.lock()?;
        self.read_keys(id)
    }

    /// The session's keys, for a caller holding the store's lock (an edit, a delete, a move
    /// of keys out of the files): what an interrupted or pending move to the pair left is
    /// finished first. A move that fails is only logged: nothing is lost, the keys read are
    /// returned, and the next command tries again. A pair item that does not parse counts as
    /// none here, so that an edit can replace it and a delete remove it.
    pub(super) fn read_keys(&self, id: SessionId) -> Result<Halves, Error> {
        let found = self.found_keys(id, true)?;
        if found.unsettled()
            && let Err(e) = self.settle_keys(id, &found)
        {
            tracing::warn!(%id, error = %e, "could not finish moving the access key pair into one keychain item; the next command tries again");
        }
        Ok(found.keys())
    }

    /// Writes the session's keys as one pair, under the store's lock: a half not given keeps
    /// its stored value (an edit of the secret alone). Old items left beside it are deleted.
    /// If the pair can't be written (or does not read back), what was there is put back.
    /// Given both halves, it also replaces a pair item that does not parse.
    pub(super) fn write_keys(
        &self,
        id: SessionId,
        access_key_id: Option<&SecretString>,
        secret_access_key: Option<&SecretString>,
    ) -> Result<(), Error> {
        let both = access_key_id.is_some() && secret_access_key.is_some();
        let found = self.found_keys(id, both)?;
        let [id_now, secret_now] = found.keys();
        let (Some(access_key_id), Some(secret_access_key)) = (
            access_key_id.or(id_now.as_ref()),
            secret_access_key.or(secret_now.as_ref()),
        ) else {
            let field = if access_key_id.is_some() {
                Field::SecretAccessKey
            } else {
                Field::AccessKeyId
            };
            return Err(ValidationError::new(
                field,
                "the OS keychain holds only one half of this session's access key pair: give both --access-key-id and --secret-access-key",
            )
            .into());
        };
        if let Err(e) = self.set_pair(id, access_key_id, secret_access_key) {
            self.undo_pair(id, found.pair.as_ref());
            return Err(e);
        }
        if let Err(e) = self.delete_old_keys(id, &found.old) {
            // The pair wins over them: the next command that writes tries again.
            tracing::warn!(%id, error = %e, "could not delete the old layout's key items beside the new pair");
        }
        Ok(())
    }

    /// Puts back keys [`Self::read_keys`] returned before a [`Self::write_keys`], for a change
    /// undone: a complete pair as the pair, one half (an old layout that never was a pair) as
    /// its old item.
    pub(super) fn put_back_keys(&self, id: SessionId, previous: Halves) -> Result<(), Error> {
        match previous {
            [Some(access_key_id), Some(secret_access_key)] => {
                self.set_pair(id, &access_key_id, &secret_access_key)
            }
            halves => {
                self.secrets.delete(Key::new(id, Item::AccessKey))?;
                for (item, value) in [Item::AccessKeyId, Item::SecretAccessKey]
                    .into_iter()
                    .zip(halves)
                {
                    if let Some(value) = value {
                        self.secrets.set(Key::new(id, item), &value)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Reads both layouts. A pair item that does not parse is an error, or with `replacing`
    /// (a write of both halves, the way out that error names) as good as none.
    fn found_keys(&self, id: SessionId, replacing: bool) -> Result<Found, Error> {
        let key = Key::new(id, Item::AccessKey);
        let pair = match self
            .secrets
            .get(key)?
            .map(|json| parse_pair(key, id, &json))
        {
            Some(Ok(pair)) => Some(pair),
            Some(Err(e)) if replacing => {
                tracing::warn!(%id, error = %e, "ignoring an access key pair item that does not parse");
                None
            }
            Some(Err(e)) => return Err(e.into()),
            None => None,
        };
        let old = [
            self.secrets.get(Key::new(id, Item::AccessKeyId))?,
            self.secrets.get(Key::new(id, Item::SecretAccessKey))?,
        ];
        Ok(Found { pair, old })
    }

    /// Finishes the move to the pair: the old pair written as one item and read back, then
    /// the old items deleted. The failpoints stop it between steps for the crash tests.
    fn settle_keys(&self, id: SessionId, found: &Found) -> Result<(), Error> {
        if found.pair.is_none()
            && let [Some(access_key_id), Some(secret_access_key)] = &found.old
        {
            if let Err(e) = self.set_pair(id, access_key_id, secret_access_key) {
                self.undo_pair(id, None);
                return Err(e);
            }
            failpoint("after-pair-written");
            tracing::info!(%id, "moved the access key pair into one keychain item");
        }
        self.delete_old_keys(id, &found.old)
    }

    /// Deletes the old layout's items that were found, the id's first.
    fn delete_old_keys(&self, id: SessionId, old: &Halves) -> Result<(), Error> {
        for (item, found) in [Item::AccessKeyId, Item::SecretAccessKey]
            .into_iter()
            .zip(old)
        {
            if found.is_some() {
                self.secrets.delete(Key::new(id, item))?;
                if item == Item::AccessKeyId {
                    failpoint("after-old-id-deleted");
                }
            }
        }
        Ok(())
    }

    /// Writes the pair item and reads it back.
    fn set_pair(
        &self,
        id: SessionId,
        access_key_id: &SecretString,
        secret_access_key: &SecretString,
    ) -> Result<(), Error> {
        let pair = Pair {
            access_key_id: access_key_id.expose_secret().to_owned(),
            secret_access_key: secret_access_key.expose_secret().to_owned(),
        };
        let json = Zeroizing::new(
            serde_json::to_string(&pair).map_err(|e| Error::Internal(e.to_string()))?,
        );
        self.set_verified(
            Key::new(id, Item::AccessKey),
            &SecretString::from(json.as_str().to_owned()),
        )?;
        Ok(())
    }

    /// After a pair write failed, whatever it left is replaced by `previous` (or removed when
    /// there was none), so a half-kept write can't win over the old layout. Failures are logged.
    fn undo_pair(&self, id: SessionId, previous: Option<&[SecretString; 2]>) {
        let key = Key::new(id, Item::AccessKey);
        let undone = match previous {
            Some([access_key_id, secret_access_key]) => {
                self.set_pair(id, access_key_id, secret_access_key)
            }
            None => self.secrets.delete(key).map(drop).map_err(Error::from),
        };
        if let Err(e) = undone {
            tracing::warn!(account = %key, error = %e, "could not put the access key pair back after a failed write");
        }
    }
}

/// The pair item's JSON. A value that does not parse is an error naming the entry and the way
/// out, never quoting it (serde's message could hold part of the secret).
fn parse_pair(
    key: Key,
    id: SessionId,
    json: &SecretString,
) -> Result<[SecretString; 2], secrets::Error> {
    let mut pair = serde_json::from_str::<Pair>(json.expose_secret()).map_err(|_| {
        secrets::Error::Failure {
            account: key.to_string(),
            cause: format!(
                "the stored value is not an access key pair; set the keys again with `credtray session edit {id} --access-key-id - --secret-access-key -`"
            ),
        }
    })?;
    Ok([
        SecretString::from(std::mem::take(&mut pair.access_key_id)),
        SecretString::from(std::mem::take(&mut pair.secret_access_key)),
    ])
}
