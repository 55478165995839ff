//! The store of secrets as the engine sees it: which one is in use, which items of this
//! catalog's it holds (`keychain status`), choosing another store (`settings keychain`, refused
//! while items live in the current one) and moving every item into another
//! (`keychain migrate`: copied and read back, the new store recorded, then the old copies
//! removed; `[settings] keychain_from` remembers the old store until they are, so a move that
//! was interrupted is finished by running it again).

use std::collections::HashSet;

use secrecy::ExposeSecret;

use super::{Engine, Error};
use crate::secrets::chosen::InUse;
use crate::secrets::{Backend, Item, Key, SecretStore};
use crate::session::Catalog;

/// What a move did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Moved {
    /// Items copied into the new store (each read back and compared).
    pub copied: usize,
    /// Old copies removed from the store they came from.
    pub removed: usize,
    /// Whether the new store was already the chosen one (a move being finished).
    pub finished_earlier_move: bool,
}

/// A step of a move, for progress.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Copied { done: usize, of: usize },
    Removed { done: usize, of: usize },
}

impl Engine {
    /// Uses `in_use` as the description of its store of secrets (what `main` opened).
    pub fn with_keychain(mut self, in_use: InUse) -> Self {
        self.keychain = in_use;
        self
    }

    /// The store of secrets in use.
    pub fn keychain(&self) -> &InUse {
        &self.keychain
    }

    /// The accounts of this catalog's items in the store in use (names only).
    pub fn keychain_accounts(&self) -> Result<Vec<String>, Error> {
        let stored = self.store.load_all()?;
        Ok(self
            .held_in_use(&stored.catalog, &stored.owned)?
            .iter()
            .map(Key::to_string)
            .collect())
    }

    /// This catalog's items in the store in use; a file store that does not exist holds none
    /// (and is not opened, which would ask for a new passphrase).
    fn held_in_use(
        &self,
        catalog: &Catalog,
        owned: &[crate::awsfiles::Owned],
    ) -> Result<Vec<Key>, crate::secrets::Error> {
        if let Some(file) = &self.keychain.file
            && !file.path().exists()
        {
            return Ok(Vec::new());
        }
        held(self.secrets.unlocked(), catalog, owned)
    }

    /// Reads one of this catalog's items from the store in use, and writes, reads back and
    /// deletes a throw-away item in each store a move writes or empties, so that whatever
    /// unlocks them (a passphrase, the Secret Service's prompt, gpg-agent's pinentry) asks now,
    /// not while the move holds the store's lock.
    fn unlock_for_move(&self, stores: &[&dyn SecretStore]) -> Result<(), Error> {
        let stored = self.store.load_all()?;
        if let Some(first) = self.held_in_use(&stored.catalog, &stored.owned)?.first() {
            self.secrets.unlocked().get(*first)?;
        }
        let probe = secrecy::SecretString::from("credtray keychain migrate: a throw-away item");
        for store in stores {
            let key = Key::new(crate::session::SessionId::new(), Item::SessionToken);
            store.set(key, &probe)?;
            let back = store.get(key);
            store.delete(key)?;
            if back?.as_ref().map(ExposeSecret::expose_secret) != Some(probe.expose_secret()) {
                return Err(Error::Keychain(
                    "a store of the move did not give back an item just written; nothing was moved"
                        .to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// Records `backend` as the store of secrets. Refused while this catalog's items live in
    /// the store in use (they would be left behind: `keychain migrate` moves them) and while
    /// a move is unfinished.
    pub fn choose_keychain(&self, backend: Backend) -> Result<(), Error> {
        self.not_overridden()?;
        let stored = self.store.load_all()?;
        let catalog = &stored.catalog;
        if let Some(from) = catalog.settings.keychain_from {
            return Err(Error::Keychain(format!(
                "a move of the keychain's items from {from} is unfinished: run `credtray keychain migrate --to {}` to finish it",
                catalog.settings.keychain.unwrap_or(Backend::Os)
            )));
        }
        let current = self.keychain.choice.backend;
        if backend != current {
            let items = self.items_in_use(catalog, &stored.owned)?;
            if items > 0 {
                return Err(Error::Keychain(format!(
                    "{items} item{} of credtray live in {}: move {} with `credtray keychain migrate --to {backend}`, which also chooses {backend}",
                    if items == 1 { "" } else { "s" },
                    current.describe(),
                    if items == 1 { "it" } else { "them" },
                )));
            }
        }
        let mut locked = self.lock()?;
        locked.catalog.settings.keychain = Some(backend);
        locked.save()?;
        Ok(())
    }

    /// Refuses to choose or move stores while `CREDTRAY_KEYCHAIN` names another store than
    /// the setting: the move would start from the variable's store and record its result in the
    /// setting, stranding what the setting's store holds.
    pub fn not_overridden(&self) -> Result<(), Error> {
        let choice = self.keychain.choice;
        if choice.by != crate::secrets::ChosenBy::Environment {
            return Ok(());
        }
        let setting = self.catalog()?.settings.keychain.unwrap_or(Backend::Os);
        if setting == choice.backend {
            return Ok(());
        }
        Err(Error::Keychain(format!(
            "CREDTRAY_KEYCHAIN={} names another store than [settings] keychain ({setting}): unset it to choose or move stores",
            choice.backend
        )))
    }

    /// How many of this catalog's items the store in use holds.
    fn items_in_use(
        &self,
        catalog: &Catalog,
        owned: &[crate::awsfiles::Owned],
    ) -> Result<usize, Error> {
        match self.held_in_use(catalog, owned) {
            Ok(keys) => Ok(keys.len()),
            // An OS keychain that does not answer holds nothing this machine can reach (the
            // very case for choosing another store).
            Err(crate::secrets::Error::Unavailable { cause })
                if self.keychain.choice.backend == Backend::Os =>
            {
                tracing::info!(%cause, "the OS keychain does not answer; nothing to move from it");
                Ok(0)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Moves every item of this catalog's from the store in use into `target` (the store
    /// `to`): each copied and read back; then `to` recorded as the store (with the old one as
    /// `keychain_from`), then the old copies removed and `keychain_from` cleared. When `to` is
    /// already the store in use and an earlier move left `keychain_from`, `leftovers` (that
    /// store) is emptied of what `target` holds, so the move finishes. The store's lock is held
    /// throughout (every store is unlocked first, so nobody is asked while it is held): no
    /// other command changes an item meanwhile.
    pub fn migrate_keychain(
        &self,
        to: Backend,
        target: &dyn SecretStore,
        leftovers: Option<&dyn SecretStore>,
        progress: &mut dyn FnMut(Step),
    ) -> Result<Moved, Error> {
        self.not_overridden()?;
        let mut stores = vec![target];
        stores.extend(leftovers);
        self.unlock_for_move(&stores)?;
        let mut locked = self.lock()?;
        let catalog = locked.catalog.clone();
        let owned = locked.owned.clone();
        let current = self.keychain.choice.backend;
        if let Some(from) = catalog.settings.keychain_from
            && to != current
        {
            return Err(Error::Keychain(format!(
                "a move of the keychain's items from {from} to {current} is unfinished: run `credtray keychain migrate --to {current}` to finish it first"
            )));
        }
        let mut moved = Moved::default();
        let source: &dyn SecretStore = if to == current {
            let Some(old) = leftovers else {
                return Ok(Moved {
                    finished_earlier_move: true,
                    ..Moved::default()
                });
            };
            moved.finished_earlier_move = true;
            old
        } else {
            self.secrets.unlocked()
        };
        let keys = if moved.finished_earlier_move {
            held(source, &catalog, &owned)?
        } else {
            self.held_in_use(&catalog, &owned)?
        };
        for (done, key) in keys.iter().enumerate() {
            let Some(value) = source.get(*key)? else {
                continue;
            };
            // A move being finished keeps what the new store holds: it may be newer.
            let kept = target.get(*key)?;
            if !(moved.finished_earlier_move && kept.is_some()) {
                target.set(*key, &value)?;
                let back = target.get(*key)?;
                if back.as_ref().map(ExposeSecret::expose_secret) != Some(value.expose_secret()) {
                    return Err(Error::Keychain(format!(
                        "entry {key} did not read back from {} as it was written; nothing was removed from {}",
                        to.describe(),
                        from_name(current, &catalog, moved.finished_earlier_move)
                    )));
                }
                moved.copied += 1;
            }
            progress(Step::Copied {
                done: done + 1,
                of: keys.len(),
            });
        }
        if !moved.finished_earlier_move {
            locked.catalog.settings.keychain = Some(to);
            locked.catalog.settings.keychain_from = Some(current);
            locked.save()?;
        }
        super::owning::failpoint("keychain-migrate-removing");
        for (done, key) in keys.iter().enumerate() {
            if source.delete(*key)? {
                moved.removed += 1;
            }
            progress(Step::Removed {
                done: done + 1,
                of: keys.len(),
            });
        }
        locked.catalog.settings.keychain_from = None;
        locked.save()?;
        Ok(moved)
    }
}

fn from_name(current: Backend, catalog: &Catalog, finishing: bool) -> String {
    match (finishing, catalog.settings.keychain_from) {
        (true, Some(from)) => from.describe(),
        _ => current.describe(),
    }
}

/// Every item this catalog's sessions, integrations and settings may have, and the kept
/// originals its owned sections still point at (a deleted session's may still be needed by the
/// session now on that profile).
fn known_keys(catalog: &Catalog, owned: &[crate::awsfiles::Owned]) -> Vec<Key> {
    let mut keys = Vec::new();
    let session_items = Item::ALL.into_iter().filter(|i| *i != Item::ProxyPassword);
    for session in catalog.sessions() {
        keys.extend(session_items.clone().map(|item| Key::new(session.id, item)));
    }
    for integration in catalog.integrations() {
        keys.extend(
            session_items
                .clone()
                .map(|item| Key::integration(integration.id, item)),
        );
    }
    // The proxy's password is the settings' own, under one account whatever the catalog: this
    // catalog's only while its settings name a proxy user.
    if catalog.settings.network.proxy_user.is_some() {
        keys.push(Key::proxy_password());
    }
    for record in owned {
        if let Some(taken) = &record.taken_over {
            let key = Key::new(taken.session, Item::taken_over(record.flavor));
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys
}

/// The items of this catalog's that `store` holds: listed where it can list them (its other
/// entries, another configuration's, are not this catalog's), asked for one by one elsewhere.
pub(super) fn held(
    store: &dyn SecretStore,
    catalog: &Catalog,
    owned: &[crate::awsfiles::Owned],
) -> Result<Vec<Key>, crate::secrets::Error> {
    let known = known_keys(catalog, owned);
    match store.accounts()? {
        Some(accounts) => {
            let known: HashSet<Key> = known.into_iter().collect();
            Ok(accounts
                .iter()
                .filter_map(|a| Key::parse(a))
                .filter(|k| known.contains(k))
                .collect())
        }
        None => {
            let mut held = Vec::new();
            for key in known {
                if store.get(key)?.is_some() {
                    held.push(key);
                }
            }
            Ok(held)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use secrecy::SecretString;

    use super::*;
    use crate::engine::tests::{engine, keys, user};
    use crate::secrets::Memory;

    fn add_user(engine: &Engine, alias: &str) -> crate::session::SessionId {
        let keys = keys("AKIAIOSFODNN7EXAMPLE", &format!("secret-of-{alias}"));
        engine.add(user(alias), Some(keys)).unwrap().id
    }

    /// A store that lists its accounts, as the file store and pass do.
    struct Listing(Memory);

    impl SecretStore for Listing {
        fn get(&self, key: Key) -> Result<Option<SecretString>, crate::secrets::Error> {
            self.0.get(key)
        }
        fn set(&self, key: Key, value: &SecretString) -> Result<(), crate::secrets::Error> {
            self.0.set(key, value)
        }
        fn delete(&self, key: Key) -> Result<bool, crate::secrets::Error> {
            self.0.delete(key)
        }
        fn accounts(&self) -> Result<Option<Vec<String>>, crate::secrets::Error> {
            Ok(Some(self.0.accounts()))
        }
    }

    #[test]
    fn a_move_copies_every_item_reads_it_back_then_chooses_the_new_store_and_empties_the_old() {
        let old = Arc::new(Memory::new());
        let (_dir, engine) = engine(old.clone());
        let dev = add_user(&engine, "dev");
        let ops = add_user(&engine, "ops");
        {
            let mut locked = engine.store.lock().unwrap();
            locked.catalog.settings.network.proxy_user =
                Some(crate::net::ProxyUser::new("me").unwrap());
            locked.save().unwrap();
        }
        old.set(Key::proxy_password(), &"pw".into()).unwrap();
        // Another configuration's item in the same store is not this catalog's to move.
        let foreign = Key::new(crate::session::SessionId::new(), Item::AccessKey);
        old.set(foreign, &"not ours".into()).unwrap();
        let before: Vec<(String, String)> = old
            .accounts()
            .into_iter()
            .filter(|a| *a != foreign.to_string())
            .map(|a| {
                let v = old.get(Key::parse(&a).unwrap()).unwrap().unwrap();
                (a, v.expose_secret().to_owned())
            })
            .collect();
        assert_eq!(before.len(), 3);

        let new = Memory::new();
        let mut steps = Vec::new();
        let moved = engine
            .migrate_keychain(Backend::File, &new, None, &mut |s| steps.push(s))
            .unwrap();
        assert_eq!((moved.copied, moved.removed), (3, 3));
        assert!(!moved.finished_earlier_move);
        assert_eq!(steps.len(), 6);
        for (account, value) in &before {
            let key = Key::parse(account).unwrap();
            assert_eq!(new.get(key).unwrap().unwrap().expose_secret(), value);
            assert!(old.get(key).unwrap().is_none(), "{account} left behind");
        }
        assert_eq!(
            old.accounts(),
            [foreign.to_string()],
            "the foreign item stays"
        );
        let settings = engine.catalog().unwrap().settings;
        assert_eq!(settings.keychain, Some(Backend::File));
        assert_eq!(settings.keychain_from, None);
        let _ = (dev, ops);
    }

    #[test]
    fn an_item_that_does_not_read_back_stops_the_move_before_anything_is_removed_or_chosen() {
        let old = Arc::new(Memory::new());
        let (_dir, engine) = engine(old.clone());
        add_user(&engine, "dev");
        let new = Memory::new();
        new.forget_writes(Item::AccessKey);
        let err = engine
            .migrate_keychain(Backend::Pass, &new, None, &mut |_| {})
            .unwrap_err();
        assert!(err.to_string().contains("did not read back"), "{err}");
        assert_eq!(old.accounts().len(), 1, "nothing removed");
        let settings = engine.catalog().unwrap().settings;
        assert_eq!((settings.keychain, settings.keychain_from), (None, None));
    }

    #[test]
    fn choosing_a_store_is_refused_while_this_catalogs_items_live_in_the_current_one() {
        let old = Arc::new(Listing(Memory::new()));
        let (_dir, engine) = engine(old.clone());
        // Only another catalog's item: nothing of ours lives here.
        old.set(
            Key::new(crate::session::SessionId::new(), Item::AccessKey),
            &"x".into(),
        )
        .unwrap();
        engine.choose_keychain(Backend::Pass).unwrap();
        assert_eq!(
            engine.catalog().unwrap().settings.keychain,
            Some(Backend::Pass)
        );
        add_user(&engine, "dev");
        let err = engine.choose_keychain(Backend::File).unwrap_err();
        assert!(
            err.to_string()
                .contains("1 item of credtray live in the OS keychain"),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("`credtray keychain migrate --to file`"),
            "{err}"
        );
        assert_eq!(
            engine.catalog().unwrap().settings.keychain,
            Some(Backend::Pass)
        );
        assert_eq!(engine.keychain_accounts().unwrap().len(), 1);
    }

    #[test]
    fn a_deleted_sessions_kept_original_that_an_owned_section_still_needs_moves_too() {
        let old = Arc::new(Memory::new());
        let (_dir, engine) = engine(old.clone());
        add_user(&engine, "dev");
        // The original of a section taken over by a session deleted since, still the record's.
        let gone = crate::session::SessionId::new();
        let original = Key::new(gone, Item::TakenOverCredentials);
        old.set(original, &"[default]\naws_access_key_id = mine\n".into())
            .unwrap();
        {
            let mut locked = engine.store.lock().unwrap();
            locked.owned.push(crate::awsfiles::Owned {
                file: crate::test_abs("/home/me/.aws/credentials").into(),
                flavor: crate::awsfiles::Flavor::Credentials,
                section: "default".to_owned(),
                separator: String::new(),
                fingerprint: Some("f".to_owned()),
                intent: None,
                taken_over: Some(crate::awsfiles::TakenOver {
                    session: gone,
                    fingerprint: "o".to_owned(),
                    kept: false,
                }),
                withheld: None,
            });
            locked.save().unwrap();
        }
        assert!(
            engine
                .keychain_accounts()
                .unwrap()
                .contains(&original.to_string())
        );
        let new = Memory::new();
        let moved = engine
            .migrate_keychain(Backend::File, &new, None, &mut |_| {})
            .unwrap();
        assert_eq!(moved.copied, 2);
        assert!(new.get(original).unwrap().is_some(), "the original moved");
        assert!(old.get(original).unwrap().is_none());
    }
}
