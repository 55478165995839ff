//! `import aws-config` and the tray's first-run offer as engine calls: the two AWS files are
//! the engine's own (the ones it publishes to), read here and parsed once per call, never by
//! the CLI or the tray; the marker that says the offer was made lives beside the store.

use super::Engine;
use crate::import::{self, Profiles, Report};

/// The file (beside the store) that says the first-run import was offered.
const IMPORT_OFFERED: &str = "import-offered";

impl Engine {
    /// Imports the profiles of the AWS files (`dry_run`: plans only, changes nothing); with
    /// `move_keys`, the keys of the IAM-user profiles then leave the files.
    pub fn import(&mut self, dry_run: bool, move_keys: bool) -> Result<Report, import::Error> {
        let files = self.files.clone();
        import::apply(self, &files, dry_run, move_keys)
    }

    /// What an import would make now, one line per session or integration, then the profiles
    /// it would leave out; `None` when it would make nothing. Unless `asked` (the first-run
    /// menu's Import item), only on a first run (no session, no integration) and only once:
    /// `None` after [`Self::mark_import_offered`].
    pub fn import_offer(&self, asked: bool) -> Result<Option<String>, import::Error> {
        if !asked && self.store.dir().join(IMPORT_OFFERED).exists() {
            return Ok(None);
        }
        let catalog = self.catalog()?;
        let aws = Profiles::new(&self.files.credentials.read()?, &self.files.config.read()?);
        Ok(if asked {
            import::offer(&aws, &catalog)
        } else {
            import::first_run_offer(&aws, &catalog)
        })
    }

    /// Remembers that the first-run import was offered, whatever the answer.
    pub fn mark_import_offered(&self) -> Result<(), import::Error> {
        let path = self.store.dir().join(IMPORT_OFFERED);
        crate::atomic::create_dir(self.store.dir(), 0o700)
            .and_then(|()| crate::atomic::write(&path, b"", 0o600))
            .map(drop)
            .map_err(|source| import::Error::Marker { path, source })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::awsfiles::Files;
    use crate::engine::Engine;
    use crate::secrets::Memory;
    use crate::store::Store;

    #[test]
    fn the_first_run_offer_reads_the_engines_files_and_is_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::at(dir.path().join("credentials"), dir.path().join("config"));
        std::fs::write(
            files.credentials.path(),
            "[dev]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        )
        .unwrap();
        let mut engine = Engine::new(
            Store::at(dir.path().join("cfg")),
            Arc::new(Memory::new()),
            files,
            Arc::new(crate::aws::Fake::new()),
        );
        let offer = engine.import_offer(false).unwrap().unwrap();
        assert_eq!(offer, "• dev: IAM user, its keys into the keychain");
        engine.mark_import_offered().unwrap();
        assert!(dir.path().join("cfg/import-offered").is_file());
        assert_eq!(engine.import_offer(false).unwrap(), None, "offered once");
        assert_eq!(
            engine.import_offer(true).unwrap().as_deref(),
            Some(offer.as_str()),
            "asked for, it is offered again"
        );
        let report = engine.import(false, false).unwrap();
        let rows: Vec<(&str, &str)> = report
            .rows
            .iter()
            .map(|r| (r.profile.as_str(), r.status.as_str()))
            .collect();
        assert_eq!(rows, [("dev", "created")]);
        assert_eq!(engine.import_offer(true).unwrap(), None, "nothing left");
    }
}
