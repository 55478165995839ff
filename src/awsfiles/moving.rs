//! Moving a profile's long-term keys out of the AWS files (`credtray import aws-config
//! --move-keys`): the key lines leave the profile's sections, every other byte stays, the
//! backup file records what went with the values replaced by a note (as are the copies an
//! earlier take-over left there), and the sections are recorded as taken over *for good* by
//! the session that now holds the keys, so starting it needs no `--take-over` and stopping it
//! gives back the user's section, without the keys. Deleting the session puts the keys back
//! ([`Files::put_keys_back`]), never over other keys or another credential source, nor into a
//! section the user removed: such a claim stays, resting on no section, so the delete knows
//! the keys have no home.
//! Like a publish it runs in three steps: [`Files::plan_move`] reads and checks, the caller
//! keeps the originals (the sections minus the keys) in the keychain, [`Files::intend_move`]
//! records the sections (saved before any file changes, so a crash is settled by
//! [`Files::reconcile`]), and [`Files::write_move`] removes the keys.

use std::path::PathBuf;

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::document::profile_of;
use super::file::Backup;
use super::owned::{NO_SECTION, fingerprint, fingerprint_of, on_nothing, rest, resting};
use super::{AwsFile, Document, Error, Files, Flavor, Original, Owned, TakenOver};
use crate::session::{IamUserKeys, ProfileName, SessionId};

/// The two keys that move.
const KEYS: [&str; 2] = ["aws_access_key_id", "aws_secret_access_key"];

/// Why a profile's keys can't move; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("no keys in [{section}] of {}", .path.display())]
    NoKeys { path: PathBuf, section: String },
    #[error("the keys in [{section}] of {} are not the ones the session holds; they stay where they are", .path.display())]
    OtherKeys { path: PathBuf, section: String },
    #[error("[{section}] of {} is credtray's already", .path.display())]
    Owned { path: PathBuf, section: String },
    #[error(transparent)]
    Files(#[from] Error),
}

/// A checked move: the profile's sections as they are and as they will be.
#[derive(Debug)]
pub struct KeyMove {
    targets: Vec<MoveTarget>,
    /// Each section without its keys: what the session keeps in the keychain and gives back
    /// when it stops.
    pub originals: Vec<Original>,
    /// The access key id and secret that move, to take out of older backups too.
    moved: [secrecy::SecretString; 2],
}

#[derive(Debug)]
struct MoveTarget {
    file: AwsFile,
    flavor: Flavor,
    section: String,
    /// Its fingerprint now, to be sure nothing changed it before the write.
    before: String,
    /// Whether it holds keys (a section without any is recorded, not written).
    has_keys: bool,
}

impl KeyMove {
    /// The originals of the sections holding keys (`true`) or not (`false`), copied.
    pub fn originals(&self, with_keys: bool) -> Vec<Original> {
        self.targets
            .iter()
            .zip(&self.originals)
            .filter(|(t, _)| t.has_keys == with_keys)
            .map(|(_, o)| Original {
                flavor: o.flavor,
                text: Zeroizing::new(o.text.as_str().to_owned()),
            })
            .collect()
    }

    /// The files whose keys will go.
    pub fn files(&self) -> impl Iterator<Item = &std::path::Path> {
        self.targets
            .iter()
            .filter(|t| t.has_keys)
            .map(|t| t.file.path())
    }
}

impl Files {
    /// Checks that `profile`'s keys can move: its sections are the user's (not owned), at
    /// least one holds keys, and every key there is `keys`, the session's own as read back
    /// from the keychain.
    pub fn plan_move(
        &self,
        profile: &ProfileName,
        owned: &[Owned],
        keys: &IamUserKeys,
    ) -> Result<KeyMove, Refused> {
        let mut plan = KeyMove {
            targets: Vec::new(),
            originals: Vec::new(),
            moved: [
                keys.access_key_id.secret().clone(),
                keys.secret_access_key.secret().clone(),
            ],
        };
        for (file, flavor) in [
            (&self.credentials, Flavor::Credentials),
            (&self.config, Flavor::Config),
        ] {
            let section = flavor.section(profile);
            let doc = file.read()?;
            super::owned::duplicate(file, &doc, &section)?;
            let Some(text) = doc.section_text(&section) else {
                continue;
            };
            if owned
                .iter()
                .any(|o| o.flavor == flavor && o.section == section)
            {
                return Err(Refused::Owned {
                    path: file.path().to_owned(),
                    section,
                });
            }
            let present: Vec<Option<&str>> = KEYS.iter().map(|k| doc.get(&section, k)).collect();
            let has_keys = present.iter().any(Option::is_some);
            let expected = [
                keys.access_key_id.secret().expose_secret(),
                keys.secret_access_key.secret().expose_secret(),
            ];
            let same = present
                .iter()
                .zip(expected)
                .all(|(found, want)| found.is_none_or(|v| v.trim() == want));
            if !same {
                return Err(Refused::OtherKeys {
                    path: file.path().to_owned(),
                    section,
                });
            }
            let mut without = doc.clone();
            without
                .upsert(&section, &[], &KEYS)
                .map_err(|source| Error::Parse {
                    path: file.path().to_owned(),
                    source,
                })?;
            let remaining = without.section_text(&section).unwrap_or_default();
            plan.originals.push(Original {
                flavor,
                text: Zeroizing::new(remaining.to_owned()),
            });
            plan.targets.push(MoveTarget {
                file: file.clone(),
                flavor,
                section,
                before: fingerprint(text),
                has_keys,
            });
        }
        if !plan.targets.iter().any(|t| t.has_keys) {
            return Err(Refused::NoKeys {
                path: self.credentials.path().to_owned(),
                section: Flavor::Credentials.section(profile),
            });
        }
        Ok(plan)
    }

    /// Records the sections of `plan` whose keys are about to go as taken over for good by
    /// `session`, intended (a crash before their write drops them again). Save this before
    /// [`Self::write_move`], which records the sections without keys once the keys are gone.
    pub fn intend_move(&self, plan: &KeyMove, session: SessionId, owned: &mut Vec<Owned>) {
        for (target, original) in plan.targets.iter().zip(&plan.originals) {
            if target.has_keys {
                owned.push(kept_record(target, original, session, true));
            }
        }
    }

    /// Takes the keys out of the backups first (a section taken over earlier was copied there
    /// verbatim), then backs up each section holding keys (their values replaced by a note)
    /// and removes the keys, then clears the intents. A section changed since the plan read
    /// it is left alone, its record dropped, and the error says so; sections already done stay
    /// done (their keys are in the keychain, and their records say where the rest of the
    /// section is).
    pub fn write_move(
        &self,
        plan: &KeyMove,
        owned: &mut Vec<Owned>,
    ) -> Result<Vec<PathBuf>, Error> {
        let moved = plan.moved.each_ref().map(|v| v.expose_secret());
        // Before any key leaves a file: if a backup can't be rewritten, nothing has moved.
        // Scrubbed under one hold of each file's lock, the keys removed under later ones: no
        // copy can come in between, as only credtray writes backups, and every write of one
        // that copies a section verbatim (a take-over) runs under the store's lock, which the
        // caller holds across this whole move (the backups written below replace the keys by
        // a note).
        let scrubbed = [&self.credentials, &self.config]
            .into_iter()
            .try_for_each(|file| file.forget_in_backup(&moved));
        if let Err(e) = scrubbed {
            owned.retain(|o| {
                !plan
                    .targets
                    .iter()
                    .any(|t| t.flavor == o.flavor && t.section == o.section)
            });
            return Err(e);
        }
        let mut backups = Vec::new();
        for target in plan.targets.iter().filter(|t| t.has_keys) {
            let is_record = |o: &Owned| o.flavor == target.flavor && o.section == target.section;
            let result = target.file.edit(|doc| {
                let current = doc.section_text(&target.section);
                if current.map(fingerprint).as_deref() != Some(target.before.as_str()) {
                    return Err(Error::ChangedMeanwhile {
                        path: target.file.path().to_owned(),
                        section: target.section.clone(),
                    });
                }
                let backup = target
                    .file
                    .back_up(current.unwrap_or_default(), Backup::MovedKeys)?;
                doc.upsert(&target.section, &[], &KEYS)
                    .map_err(|source| Error::Parse {
                        path: target.file.path().to_owned(),
                        source,
                    })?;
                Ok(backup)
            });
            match result {
                Ok(backup) => {
                    if !backups.contains(&backup) {
                        backups.push(backup);
                    }
                    if let Some(o) = owned.iter_mut().find(|o| is_record(o)) {
                        o.intent = None;
                    }
                }
                Err(e) => {
                    // Nothing moved yet: the move did not happen, and none of its records
                    // stand. Otherwise the sections done stay recorded, and only this one goes.
                    let nothing_moved = backups.is_empty();
                    owned.retain(|o| {
                        let ours = plan
                            .targets
                            .iter()
                            .any(|t| t.flavor == o.flavor && t.section == o.section);
                        !(is_record(o) || (nothing_moved && ours))
                    });
                    return Err(e);
                }
            }
        }
        Ok(backups)
    }

    /// Once the keys are gone (and the caller kept these sections' originals): the profile's
    /// sections without keys are the session's too, so that starting it takes no
    /// `--take-over`.
    pub fn claim_the_rest(&self, plan: &KeyMove, session: SessionId, owned: &mut Vec<Owned>) {
        for (target, original) in plan.targets.iter().zip(&plan.originals) {
            if !target.has_keys {
                owned.push(kept_record(target, original, session, false));
            }
        }
    }

    /// Of the records an unpublish just removed, takes back those taken over for good whose
    /// session `keeps` them and whose original is in the file again (the section is the
    /// session's between runs); returns the rest, the records really given up. Part of
    /// [`Files::unpublish`] (and of [`Self::take_back`]), never a step a caller must remember.
    pub(super) fn reclaim(
        &self,
        removed: Vec<Owned>,
        owned: &mut Vec<Owned>,
        keeps: impl Fn(&TakenOver) -> bool,
    ) -> Vec<Owned> {
        let mut given_up = Vec::new();
        for record in removed {
            let Some(taken) = record.taken_over.as_ref().filter(|t| t.kept && keeps(t)) else {
                given_up.push(record);
                continue;
            };
            let restored = AwsFile::new(record.file.clone(), record.flavor)
                .read()
                .is_ok_and(|doc| {
                    fingerprint_of(doc.section_text(&record.section)) == taken.fingerprint
                });
            if !restored {
                given_up.push(record);
                continue;
            }
            let mut record = Owned {
                separator: String::new(),
                ..record
            };
            rest(&mut record);
            owned.push(record);
        }
        given_up
    }

    /// Gives up the sections `session` took over for good and does not hold now (its
    /// original is in the file): their records go, and are returned so the caller can forget
    /// the originals. For deleting the session.
    pub fn release(&self, session: SessionId, owned: &mut Vec<Owned>) -> Vec<Owned> {
        let (released, kept): (Vec<Owned>, Vec<Owned>) = std::mem::take(owned)
            .into_iter()
            .partition(|o| resting(o).is_some_and(|t| t.session == session));
        *owned = kept;
        released
    }

    /// The owned sections that are not what credtray last wrote (changed by hand since): each
    /// file and section. Withheld and unreadable ones are left to [`Files::check`].
    pub fn changed_by_hand(&self, owned: &[Owned]) -> Vec<(PathBuf, String)> {
        owned
            .iter()
            .filter(|o| o.intent.is_none() && o.withheld.is_none() && resting(o).is_none())
            .filter_map(|o| {
                let doc = AwsFile::new(o.file.clone(), o.flavor).read().ok()?;
                let now = doc.section_text(&o.section).map(fingerprint)?;
                (o.fingerprint.as_ref() != Some(&now)).then(|| (o.file.clone(), o.section.clone()))
            })
            .collect()
    }

    /// Whether the section of `record` (taken over for good) is gone: the claim rests on
    /// nothing, or the user removed the section since, theirs between runs or credtray's
    /// while the session runs. One held out of the file on purpose (published as a process)
    /// is not: giving it up puts its original back.
    ///
    /// It reads every file [`Self::put_keys_back`] reads, so that one that can't be read or
    /// parsed refuses the delete before running sessions stop and files change.
    pub fn keys_home_gone(&self, record: &Owned) -> Result<bool, Error> {
        if let Some((other, _)) = self.other_section(record) {
            other.read()?;
        }
        let doc = AwsFile::new(record.file.clone(), record.flavor).read()?;
        if on_nothing(record) {
            return Ok(true);
        }
        if record.withheld.is_some() {
            return Ok(false);
        }
        Ok(doc.section_text(&record.section).is_none())
    }

    /// The user removed the section of `record` (taken over for good, see
    /// [`Self::keys_home_gone`]): its claim rests on nothing from now on, so giving it up
    /// writes no original back either.
    pub fn lose_section(&self, record: &mut Owned) {
        let was_resting = resting(record).is_some();
        if let Some(taken) = record.taken_over.as_mut().filter(|t| t.kept) {
            taken.fingerprint = NO_SECTION.to_owned();
            if was_resting {
                record.fingerprint = Some(NO_SECTION.to_owned());
            }
        }
    }

    /// For a delete that stops after giving up claims: takes back those `keeps` says, as the
    /// files show them now (resting where their original is, on no section where the section
    /// is gone), so the store matches the files and moved keys still know where they came
    /// from. Returns the records really given up, whose originals the caller forgets once the
    /// store is saved.
    pub fn take_back(
        &self,
        given_up: Vec<Owned>,
        owned: &mut Vec<Owned>,
        keeps: impl Fn(&TakenOver) -> bool,
    ) -> Vec<Owned> {
        let mut there = Vec::new();
        for mut record in given_up {
            let kept = record
                .taken_over
                .as_ref()
                .is_some_and(|t| t.kept && keeps(t));
            let gone = kept
                && AwsFile::new(record.file.clone(), record.flavor)
                    .read()
                    .is_ok_and(|doc| doc.section_text(&record.section).is_none());
            if gone {
                self.lose_section(&mut record);
                rest(&mut record);
                record.separator = String::new();
                owned.push(record);
            } else {
                there.push(record);
            }
        }
        self.reclaim(there, owned, keeps)
    }

    /// Writes long-term keys back into the section of `record` (a section taken over for good,
    /// given up): what `--move-keys` took out, when the session that holds them goes. Only
    /// where no key of the user's is overwritten, no credential source they set up since is
    /// overridden and no section they removed comes back: what the section held, checked
    /// under the file's lock, is returned.
    pub fn put_keys_back(
        &self,
        record: &Owned,
        access_key_id: &secrecy::SecretString,
        secret_access_key: &secrecy::SecretString,
    ) -> Result<KeysHome, Error> {
        let file = AwsFile::new(record.file.clone(), record.flavor);
        let ours = [
            access_key_id.expose_secret(),
            secret_access_key.expose_secret(),
        ];
        // The profile's section in the other file, read first (it is not written here).
        let elsewhere = match self.other_section(record) {
            Some((other, section)) => holds_another_source(&other.read()?, &section, ours),
            None => false,
        };
        file.edit(|doc| {
            if doc.section_text(&record.section).is_none() {
                return Ok(KeysHome::Gone);
            }
            if elsewhere || holds_another_source(doc, &record.section, ours) {
                return Ok(KeysHome::Taken);
            }
            doc.upsert(
                &record.section,
                &[(KEYS[0], ours[0]), (KEYS[1], ours[1])],
                &[],
            )
            .map_err(|source| Error::Parse {
                path: file.path().to_owned(),
                source,
            })?;
            Ok(KeysHome::Free)
        })
    }

    /// The file and section of `record`'s profile other than `record`'s own.
    fn other_section(&self, record: &Owned) -> Option<(&AwsFile, String)> {
        let profile: ProfileName = profile_of(record.flavor, &record.section)?.parse().ok()?;
        Some(match record.flavor {
            Flavor::Credentials => (&self.config, Flavor::Config.section(&profile)),
            Flavor::Config => (&self.credentials, Flavor::Credentials.section(&profile)),
        })
    }

    /// The sections of `profile` taken over for good and resting that the user changed since
    /// (see [`KeptEdit`]): theirs to change, so a start adopts them rather than backing them up
    /// as changed by hand and restoring an older text on stop.
    pub fn kept_edits(&self, profile: &ProfileName, owned: &[Owned]) -> Vec<KeptEdit> {
        owned
            .iter()
            .filter(|o| o.section == o.flavor.section(profile))
            .filter_map(|o| {
                let taken = resting(o)?;
                let doc = AwsFile::new(o.file.clone(), o.flavor).read().ok()?;
                let text = doc.section_text(&o.section);
                if fingerprint_of(text) == taken.fingerprint {
                    return None;
                }
                Some(KeptEdit {
                    flavor: o.flavor,
                    section: o.section.clone(),
                    session: taken.session,
                    text: text.map(|t| Original {
                        flavor: o.flavor,
                        text: Zeroizing::new(t.to_owned()),
                    }),
                })
            })
            .collect()
    }

    /// Applies [`Self::kept_edits`] to the records (after the caller kept the new originals):
    /// a changed section's record now holds its new text, a removed one's rests on nothing
    /// (the caller then forgets its original).
    pub fn adopt_kept_edits(&self, edits: &[KeptEdit], owned: &mut [Owned]) {
        for edit in edits {
            let Some(o) = owned
                .iter_mut()
                .find(|o| o.flavor == edit.flavor && o.section == edit.section)
            else {
                continue;
            };
            let now = edit
                .text
                .as_ref()
                .map_or_else(|| NO_SECTION.to_owned(), Original::fingerprint);
            o.fingerprint = Some(now.clone());
            if let Some(t) = o.taken_over.as_mut() {
                t.fingerprint = now;
            }
        }
    }
}

/// The record of a section taken over for good, holding `original` (intended: about to be
/// written).
fn kept_record(
    target: &MoveTarget,
    original: &Original,
    session: SessionId,
    intended: bool,
) -> Owned {
    let after = original.fingerprint();
    Owned {
        file: target.file.path().to_owned(),
        flavor: target.flavor,
        section: target.section.clone(),
        separator: String::new(),
        fingerprint: Some(after.clone()),
        intent: intended.then_some(session),
        taken_over: Some(TakenOver {
            session,
            fingerprint: after,
            kept: true,
        }),
        withheld: None,
    }
}

/// What the section long-term keys were moved from holds when they are to go back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysHome {
    /// None of the keys, or the very same, and no other credential source: they are written
    /// back.
    Free,
    /// Other keys (the user rotated them and wrote the new ones since), or the profile names
    /// another credential source in either file (`credential_process`, `sso_session`,
    /// `role_arn`…, which keys in the credentials file would override): those stay, and the
    /// moved ones are not written.
    Taken,
    /// Nothing: the user removed the section, and it is not written again.
    Gone,
}

/// Keys that make a profile a credential source other than long-term keys: where one is
/// set, keys written back beside it would override it (or, beside a session token, pair with
/// a token not theirs). Narrower than [`super::CREDENTIAL_SOURCE_KEYS`] on purpose: settings that
/// only shape a source (`role_session_name`, `duration_seconds`, `external_id`,
/// `mfa_serial`, `sso_region`, `sso_account_id`, `sso_role_name`, `credential_source` or
/// `source_profile` without `role_arn`) sit beside long-term keys too, often since before the
/// keys moved, and must not cost the user the only copy of those keys.
const SOURCE_DEFINING_KEYS: &[&str] = &[
    "aws_session_token",
    "aws_security_token",
    "credential_process",
    "role_arn",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
    "login_session",
];

/// Whether `section` holds long-term keys other than `ours` or a credential source of its
/// own (see [`SOURCE_DEFINING_KEYS`]): what keys written back there would overwrite or
/// override.
fn holds_another_source(doc: &Document, section: &str, ours: [&str; 2]) -> bool {
    let other_keys = KEYS
        .iter()
        .zip(ours)
        .any(|(k, want)| doc.get(section, k).is_some_and(|v| v.trim() != want));
    other_keys
        || SOURCE_DEFINING_KEYS
            .iter()
            .any(|k| doc.get(section, k).is_some())
}

/// A section taken over for good that is not published now (it holds the user's text) and
/// was changed since: its new text becomes the original, or it was removed.
#[derive(Debug)]
pub struct KeptEdit {
    pub flavor: Flavor,
    pub section: String,
    /// The session that holds the claim (whose keychain entry keeps the original).
    pub session: SessionId,
    /// The section's text now; `None`: the user removed it, and the claim rests on nothing
    /// (`NO_SECTION`): the session's starts write a section of credtray's own there and its
    /// stops remove it, until the user writes one again.
    pub text: Option<Original>,
}
