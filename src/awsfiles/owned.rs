//! The sections of the AWS files credtray owns, and the only code that writes them. A profile
//! is published in three steps: [`Files::plan`] checks both files and reads the text of any
//! section being taken over, [`Files::intend`] records the sections about to be written (the
//! caller saves that record before any file changes, so a crash in between is settled by
//! [`Files::reconcile`] instead of leaving a section nobody owns), and [`Files::write`] writes
//! them. [`Files::unpublish`] removes them again and puts a taken-over original back byte for
//! byte. What goes in is [`Contents`]: temporary credentials (`file` mode), or only a
//! `credential_process` line in the config file (`process` mode), which keeps the profile's
//! section of the credentials file *withheld*: botocore reads that file first, so a section
//! there would win over `credential_process`. A withheld section is still owned (a taken-over
//! one's original is still kept), only absent; its record says where it was, so an original
//! goes back in its place. Records carry the path each section was written to, so every process — a tray started
//! at login without the shell's `AWS_*_FILE` variables, a CLI run from that shell — refreshes
//! and removes exactly what was written, where it was written.

use std::path::PathBuf;

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::file::Backup;
use super::{AwsFile, Document, Error, Files, Flavor};
use crate::aws::Credentials;
use crate::session::{ProfileName, Region, SessionId};

/// A section credtray owns: it created it, or the user let it take it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    /// The file as configured when the section was first written (absolute; symlinks are
    /// followed when it is written, so the link survives).
    pub file: PathBuf,
    /// Which of the two files it is, and so how profiles are named in it.
    pub flavor: Flavor,
    /// The section header without brackets, e.g. `dev` or `profile dev`.
    pub section: String,
    /// What credtray put before the section when it created it (see
    /// [`super::Upserted::separator`]).
    pub separator: String,
    /// A fingerprint of the section as credtray last wrote it: a section changed by hand since
    /// is backed up before credtray replaces or removes it.
    pub fingerprint: Option<String>,
    /// Recorded before the first write, by this session: the write may not have happened yet
    /// (or was cut short by a crash) until [`Files::write`] clears it.
    pub intent: Option<SessionId>,
    /// The section was the user's: its original text is kept in the keychain, to be put back
    /// when credtray gives the profile up.
    pub taken_over: Option<TakenOver>,
    /// `Some(offset)`: credtray holds the section by keeping it out of the file (a profile
    /// published as a process), and it was at this byte offset, where a taken-over original
    /// goes back. Its fingerprint is then `None`: credtray's text there is no text at all.
    pub withheld: Option<usize>,
}

/// Where the original text of a taken-over section is, and what it was.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakenOver {
    /// The session whose keychain entry (`<id>-taken-over-credentials` or `-config`) holds
    /// the text.
    pub session: SessionId,
    /// The fingerprint of that text, to tell it from anything else.
    pub fingerprint: String,
    /// Taken over for good (`import --move-keys`): a stop puts the original back and the
    /// section stays the session's, so the next start needs no `--take-over`; deleting the
    /// session gives it up.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kept: bool,
}

/// The user's own text of a section credtray takes over, kept until it is put back. It may
/// hold the user's long-term keys: it lives in memory only until it reaches the keychain.
pub struct Original {
    pub flavor: Flavor,
    pub text: Zeroizing<String>,
}

impl std::fmt::Debug for Original {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Original")
            .field("flavor", &self.flavor)
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl Original {
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.text)
    }
}

/// FNV-1a (64 bit) of a section's text, in hex: stable across builds and platforms.
pub(super) fn fingerprint(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// What a claim taken over for good rests on once the user removed its section: no text at
/// all (no hex fingerprint is this). The claim stays rather than going with the section: the
/// keys `import --move-keys` took from there may be the session's only copy, and deleting the
/// session must still know they have no section to go back to.
pub(super) const NO_SECTION: &str = "no section";

/// The fingerprint of a section's text, or [`NO_SECTION`] when there is none.
pub(super) fn fingerprint_of(text: Option<&str>) -> String {
    text.map_or_else(|| NO_SECTION.to_owned(), fingerprint)
}

/// A claim taken over for good whose section the user removed (see [`NO_SECTION`]).
pub(super) fn on_nothing(o: &Owned) -> bool {
    o.taken_over
        .as_ref()
        .is_some_and(|t| t.kept && t.fingerprint == NO_SECTION)
}

/// A publish checked against the files as they are: where each section goes, and the
/// sections that will be taken over.
#[derive(Debug)]
pub struct Plan {
    targets: Vec<Target>,
    /// The text of each section to be taken over: the caller keeps it (in the keychain) before
    /// anything is written.
    pub originals: Vec<Original>,
}

#[derive(Debug)]
struct Target {
    file: AwsFile,
    flavor: Flavor,
    section: String,
    /// What will set a new section apart, as the file is now: recorded with the intent, so a
    /// crash after the write still lets stop remove the section without a trace.
    separator: String,
    /// The file as the plan read it, to foresee the section credtray will write.
    doc: Document,
}

/// What [`Files::write`] changed, for [`Files::undo`].
pub struct Written(Vec<Done>);

/// What [`Files::write`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Published {
    /// Backups of sections taken over or changed by hand, if any.
    pub backups: Vec<PathBuf>,
}

/// What [`Files::reconcile`] made of a record of an interrupted write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The write never happened: the record is gone (and any original it kept is not needed).
    Dropped(Owned),
    /// The write happened: the section is credtray's now, and the session that wrote it holds
    /// it.
    Kept(Owned),
}

/// Keys that point the AWS tools at another credential source, removed from a section credtray
/// takes over (the backup and the kept original have them).
const CONFLICTING_KEYS: [&str; 12] = [
    "role_arn",
    "source_profile",
    "credential_source",
    "credential_process",
    "web_identity_token_file",
    "role_session_name",
    "mfa_serial",
    "sso_session",
    "sso_start_url",
    "sso_region",
    "sso_account_id",
    "sso_role_name",
];

/// What a published profile's sections hold.
#[derive(Clone, Copy)]
pub enum Contents<'a> {
    /// `file` mode: temporary credentials in the credentials file, the region in the config.
    Credentials {
        region: &'a Region,
        credentials: &'a Credentials,
    },
    /// `process` mode: no section in the credentials file (one there is withheld); the region
    /// and `credential_process = <command>` in the config file.
    Process {
        region: &'a Region,
        command: &'a str,
    },
}

/// What a publish does to one section.
enum Change<'a> {
    /// Sets these keys and deletes those.
    Set {
        pairs: Vec<(&'static str, &'a str)>,
        remove: Vec<&'static str>,
    },
    /// Keeps the section out of the file.
    Withhold,
}

/// The key `process` mode writes; a `file`-mode publish of the same section deletes it.
const CREDENTIAL_PROCESS: &str = "credential_process";

impl<'a> Contents<'a> {
    /// What this publish does to the profile's section of a file of `flavor`; a section being
    /// taken over also loses the keys that would make the AWS tools look elsewhere.
    fn change(self, flavor: Flavor, taking_over: bool) -> Change<'a> {
        let set = |pairs: Vec<(&'static str, &'a str)>, also: &[&'static str]| {
            let mut remove: Vec<&'static str> = if taking_over {
                CONFLICTING_KEYS.to_vec()
            } else {
                Vec::new()
            };
            remove.extend(
                also.iter()
                    .filter(|k| !remove.contains(k))
                    .collect::<Vec<_>>(),
            );
            // A key both set and deleted would be two edits of one line.
            remove.retain(|k| !pairs.iter().any(|(p, _)| p.eq_ignore_ascii_case(k)));
            Change::Set { pairs, remove }
        };
        match (self, flavor) {
            (Contents::Credentials { credentials, .. }, Flavor::Credentials) => set(
                vec![
                    (
                        "aws_access_key_id",
                        credentials.access_key_id.expose_secret(),
                    ),
                    (
                        "aws_secret_access_key",
                        credentials.secret_access_key.expose_secret(),
                    ),
                    (
                        "aws_session_token",
                        credentials.session_token.expose_secret(),
                    ),
                ],
                &[],
            ),
            (Contents::Credentials { region, .. }, Flavor::Config) => {
                set(vec![("region", region.as_str())], &[CREDENTIAL_PROCESS])
            }
            (Contents::Process { .. }, Flavor::Credentials) => Change::Withhold,
            (Contents::Process { region, command }, Flavor::Config) => set(
                vec![("region", region.as_str()), (CREDENTIAL_PROCESS, command)],
                &[],
            ),
        }
    }
}

fn find<'a>(owned: &'a [Owned], flavor: Flavor, section: &str) -> Option<&'a Owned> {
    owned
        .iter()
        .find(|o| o.flavor == flavor && o.section == section)
}

fn position(owned: &[Owned], flavor: Flavor, section: &str) -> Option<usize> {
    owned
        .iter()
        .position(|o| o.flavor == flavor && o.section == section)
}

pub(super) fn duplicate(file: &AwsFile, doc: &Document, section: &str) -> Result<(), Error> {
    match doc.count(section) {
        0 | 1 => Ok(()),
        count => Err(Error::Duplicate {
            path: file.path().to_owned(),
            section: section.to_owned(),
            count,
        }),
    }
}

/// What a first write will leave of `target`'s section: its fingerprint and, withheld, where it
/// was; `None` when there is nothing to own (no section, and none to write). After a crash,
/// only that text is taken for credtray's (anything else there is the user's).
fn foresee(
    target: &Target,
    contents: Contents<'_>,
    taking_over: bool,
) -> Option<(Option<String>, Option<usize>)> {
    match contents.change(target.flavor, taking_over) {
        Change::Withhold if !taking_over => None,
        Change::Withhold => Some((
            None,
            target.doc.section_range(&target.section).map(|r| r.start),
        )),
        Change::Set { pairs, remove } => {
            let mut foreseen = target.doc.clone();
            let expected = foreseen
                .upsert(&target.section, &pairs, &remove)
                .ok()
                .and_then(|_| foreseen.section_text(&target.section).map(fingerprint));
            Some((expected, None))
        }
    }
}

/// A record taken over for good and resting: its section holds the original (the user's text),
/// nothing is published there or about to be.
pub(super) fn resting(o: &Owned) -> Option<&TakenOver> {
    o.taken_over.as_ref().filter(|t| {
        t.kept
            && o.intent.is_none()
            && o.withheld.is_none()
            && o.fingerprint.as_ref() == Some(&t.fingerprint)
    })
}

/// A record taken over for good back at rest: no intent, holding its original. Others are left
/// as they are.
pub(super) fn rest(o: &mut Owned) {
    if let Some(t) = o.taken_over.as_ref().filter(|t| t.kept) {
        o.fingerprint = Some(t.fingerprint.clone());
        o.intent = None;
        o.withheld = None;
    }
}

/// One file a write changed, to put back if the other file fails.
struct Done {
    index: usize,
    /// The record before this write (its intent is `Some` when this was the first write).
    before: Owned,
    wrote: WroteOne,
}

/// What one section's write did.
struct WroteOne {
    /// A section was appended, with this separator before it.
    created: bool,
    separator: String,
    /// The values of the keys it set or deleted, as they were.
    previous: Vec<(String, Option<Zeroizing<String>>)>,
    /// The section's fingerprint now (`None`: withheld).
    fingerprint: Option<String>,
    /// Where it was, if it is withheld now.
    withheld: Option<usize>,
    /// The text this write took out of the file, and where it was.
    removed: Option<(Zeroizing<String>, usize)>,
    /// This write put back a section that was withheld.
    unwithheld: bool,
}

/// Takes the section out of `doc` (with `separator` before it, when that is there) and returns
/// its text and the offset it was at: where [`Document::restore_at`] puts it back.
fn take_out(
    doc: &mut Document,
    section: &str,
    separator: &str,
) -> Option<(Zeroizing<String>, usize)> {
    let start = doc.section_range(section)?.start;
    let text = Zeroizing::new(doc.section_text(section)?.to_owned());
    let before = doc.as_str().len();
    doc.remove(section, separator);
    let separated = (before - doc.as_str().len()).saturating_sub(text.len());
    Some((text, start - separated))
}

impl Files {
    /// The file the profile's section of `flavor` lives in: where credtray wrote it, else
    /// where the AWS tools of this process look.
    fn file_for(&self, flavor: Flavor, section: &str, owned: &[Owned]) -> AwsFile {
        match find(owned, flavor, section) {
            Some(record) => AwsFile::new(record.file.clone(), record.flavor),
            None => match flavor {
                Flavor::Credentials => self.credentials.clone(),
                Flavor::Config => self.config.clone(),
            },
        }
    }

    /// Checks that the profile may be written, without writing anything: a section that
    /// exists but is not owned is refused unless `take_over`, and then its text is read into
    /// the plan's originals.
    pub fn plan(
        &self,
        profile: &ProfileName,
        owned: &[Owned],
        take_over: bool,
    ) -> Result<Plan, Error> {
        let mut plan = Plan {
            targets: Vec::new(),
            originals: Vec::new(),
        };
        for flavor in [Flavor::Credentials, Flavor::Config] {
            let section = flavor.section(profile);
            let file = self.file_for(flavor, &section, owned);
            let doc = file.read()?;
            duplicate(&file, &doc, &section)?;
            if find(owned, flavor, &section).is_none()
                && let Some(text) = doc.section_text(&section)
            {
                if !take_over {
                    return Err(Error::NotOwned {
                        path: file.path().to_owned(),
                        section,
                    });
                }
                plan.originals.push(Original {
                    flavor,
                    text: Zeroizing::new(text.to_owned()),
                });
            }
            plan.targets.push(Target {
                file,
                flavor,
                section,
                separator: doc.separator_for_new_section(),
                doc,
            });
        }
        Ok(plan)
    }

    /// Records, for every section of `plan` credtray does not own yet, that `session` is about
    /// to write it (which original it takes over, and the fingerprint of the section it will
    /// write, or where a section it withholds is). Save this before [`Self::write`].
    pub fn intend(
        &self,
        plan: &Plan,
        session: SessionId,
        contents: Contents<'_>,
        owned: &mut Vec<Owned>,
    ) {
        for target in &plan.targets {
            if let Some(i) = position(owned, target.flavor, &target.section) {
                // A section taken over for good and resting (the user's text): its first write
                // is intended like a take-over's, so a crash is settled (see `reconcile`).
                if resting(&owned[i]).is_some()
                    && let Some((fingerprint, withheld)) = foresee(target, contents, true)
                {
                    let o = &mut owned[i];
                    o.intent = Some(session);
                    o.fingerprint = fingerprint;
                    o.withheld = withheld;
                }
                continue;
            }
            let taken_over = plan
                .originals
                .iter()
                .find(|o| o.flavor == target.flavor)
                .map(|o| TakenOver {
                    session,
                    fingerprint: o.fingerprint(),
                    kept: false,
                });
            let Some((fingerprint, withheld)) = foresee(target, contents, taken_over.is_some())
            else {
                continue;
            };
            owned.push(Owned {
                file: target.file.path().to_owned(),
                flavor: target.flavor,
                section: target.section.clone(),
                separator: if taken_over.is_some() {
                    String::new()
                } else {
                    target.separator.clone()
                },
                fingerprint,
                intent: Some(session),
                taken_over,
                withheld,
            });
        }
    }

    /// Writes `contents` to the profile's sections: temporary credentials into the
    /// credentials file and the region into the config file, or (`process` mode) the region
    /// and `credential_process` into the config file and nothing into the credentials file,
    /// whose section is withheld. Every section written or withheld must be recorded (owned,
    /// or intended through [`Self::intend`]). A section being taken over must still be the text
    /// the plan read, and is backed up first; one changed by hand since credtray wrote it is
    /// backed up with its credentials redacted. If the second file fails, the first is put
    /// back and the intents of this publish are dropped.
    pub fn write(
        &self,
        plan: &Plan,
        contents: Contents<'_>,
        owned: &mut Vec<Owned>,
    ) -> Result<(Published, Written), Error> {
        let mut published = Published::default();
        let mut done: Vec<Done> = Vec::new();
        for target in &plan.targets {
            let not_owned = || Error::NotOwned {
                path: target.file.path().to_owned(),
                section: target.section.clone(),
            };
            let result = match position(owned, target.flavor, &target.section) {
                Some(index) => {
                    let record = owned[index].clone();
                    let first = record.intent.is_some();
                    let change =
                        contents.change(target.flavor, first && record.taken_over.is_some());
                    self.write_one(target, &record, &change, &mut published)
                        .map(|wrote| {
                            let o = &mut owned[index];
                            o.fingerprint.clone_from(&wrote.fingerprint);
                            o.withheld = wrote.withheld;
                            if first || wrote.created {
                                o.separator.clone_from(&wrote.separator);
                            }
                            o.intent = None;
                            Some(Done {
                                index,
                                before: record,
                                wrote,
                            })
                        })
                }
                // Nothing to withhold, as long as nothing appeared since the plan looked.
                None if matches!(contents.change(target.flavor, false), Change::Withhold) => {
                    match target.file.read() {
                        Ok(doc) if doc.section_text(&target.section).is_some() => Err(not_owned()),
                        Ok(_) => Ok(None),
                        Err(e) => Err(e),
                    }
                }
                None => Err(not_owned()),
            };
            match result {
                Ok(one) => done.extend(one),
                Err(e) => {
                    self.undo(plan, Written(done), owned);
                    return Err(e);
                }
            }
        }
        Ok((published, Written(done)))
    }

    /// Puts back what a write changed (the values a refresh replaced, a taken-over original,
    /// or no section at all) and drops the intents of `plan`; best effort, logged. A record
    /// whose file could not be put back stays, so nothing it needs is thrown away.
    pub fn undo(&self, plan: &Plan, written: Written, owned: &mut Vec<Owned>) {
        self.undo_files(plan, written.0, owned);
        let intended = |o: &Owned| {
            o.intent.is_some()
                && plan
                    .targets
                    .iter()
                    .any(|t| t.flavor == o.flavor && t.section == o.section)
        };
        for o in owned.iter_mut().filter(|o| intended(o)) {
            rest(o);
        }
        owned.retain(|o| !intended(o));
    }

    /// One section of [`Self::write`].
    fn write_one(
        &self,
        target: &Target,
        record: &Owned,
        change: &Change<'_>,
        published: &mut Published,
    ) -> Result<WroteOne, Error> {
        let file = &target.file;
        let section = target.section.as_str();
        let parse = |source| Error::Parse {
            path: file.path().to_owned(),
            source,
        };
        file.edit(|doc| {
            duplicate(file, doc, section)?;
            let first = record.intent.is_some();
            let current = doc.section_text(section);
            let changed_meanwhile = || Error::ChangedMeanwhile {
                path: file.path().to_owned(),
                section: section.to_owned(),
            };
            match (&record.taken_over, first, current) {
                // Taken over for good: the original is in the keychain already, and it may
                // hold keys the user put back, which no backup file may.
                (Some(taken), true, Some(text))
                    if fingerprint(text) == taken.fingerprint && taken.kept => {}
                (Some(taken), true, Some(text)) if fingerprint(text) == taken.fingerprint => {
                    published
                        .backups
                        .push(file.back_up(text, Backup::TakenOver)?);
                }
                // Taken over for good, and removed by the user since: nothing to keep.
                (Some(taken), true, None) if taken.kept && taken.fingerprint == NO_SECTION => {}
                (Some(_), true, _) => return Err(changed_meanwhile()),
                // A section that appeared after the plan found none is someone else's.
                (None, true, Some(_)) => {
                    return Err(Error::NotOwned {
                        path: file.path().to_owned(),
                        section: section.to_owned(),
                    });
                }
                // Withheld, yet there: credtray wrote none of it, so it is kept verbatim.
                (_, false, Some(text)) if record.withheld.is_some() => {
                    tracing::warn!(%section, path = %file.path().display(), "a section credtray keeps out of the file is there again; it is backed up and replaced");
                    published
                        .backups
                        .push(file.back_up(text, Backup::TakenOver)?);
                }
                (_, false, Some(text))
                    if record
                        .fingerprint
                        .as_deref()
                        .is_some_and(|f| f != fingerprint(text)) =>
                {
                    published
                        .backups
                        .push(file.back_up(text, Backup::ChangedByHand)?);
                }
                _ => {}
            }
            let (pairs, remove) = match change {
                Change::Withhold => {
                    // One credtray created goes with its separator, as on stop; any other
                    // leaves its surroundings, to come back in its place.
                    let separator = match (&record.taken_over, record.withheld) {
                        (None, None) => record.separator.as_str(),
                        _ => "",
                    };
                    let removed = take_out(doc, section, separator);
                    return Ok(WroteOne {
                        created: false,
                        separator: String::new(),
                        previous: Vec::new(),
                        fingerprint: None,
                        withheld: removed.as_ref().map(|(_, at)| *at).or(record.withheld),
                        removed,
                        unwithheld: false,
                    });
                }
                Change::Set { pairs, remove } => (pairs, remove),
            };
            // Back from being withheld: a taken-over section goes where the original was.
            let unwithheld = record.withheld.is_some() && doc.section_text(section).is_none();
            if unwithheld && record.taken_over.is_some() {
                let header = format!("[{section}]{}", doc.line_ending());
                doc.restore_at(section, &header, record.withheld)
                    .map_err(parse)?;
            }
            let previous = pairs
                .iter()
                .map(|(k, _)| *k)
                .chain(remove.iter().copied())
                .map(|k| {
                    (
                        k.to_owned(),
                        doc.get(section, k).map(|v| Zeroizing::new(v.to_owned())),
                    )
                })
                .collect();
            let upserted = doc.upsert(section, pairs, remove).map_err(parse)?;
            let written = doc
                .section_text(section)
                .map(fingerprint)
                .unwrap_or_default();
            Ok(WroteOne {
                created: upserted.created,
                separator: upserted.separator,
                previous,
                fingerprint: Some(written),
                withheld: None,
                removed: None,
                unwithheld,
            })
        })
    }

    /// Puts back what a failed write changed in the files it reached; best effort, logged.
    fn undo_files(&self, plan: &Plan, done: Vec<Done>, owned: &mut [Owned]) {
        for one in done {
            let record = owned[one.index].clone();
            let first = one.before.intent.is_some();
            let wrote = &one.wrote;
            let file = AwsFile::new(record.file.clone(), record.flavor);
            let original = plan.originals.iter().find(|o| o.flavor == record.flavor);
            let parse = |source| Error::Parse {
                path: file.path().to_owned(),
                source,
            };
            let undone = file.edit(|doc| {
                match (&wrote.removed, first, &record.taken_over, original) {
                    (Some((text, at)), _, _, _) => {
                        if doc.section_text(&record.section).is_none() {
                            doc.restore_at(&record.section, text, Some(*at))
                                .map_err(parse)?;
                        }
                    }
                    (None, true, Some(_), Some(original)) => {
                        doc.restore(&record.section, &original.text)
                            .map_err(parse)?;
                    }
                    (None, true, _, _) if wrote.created => {
                        doc.remove(&record.section, &wrote.separator);
                    }
                    (None, false, _, _) if wrote.unwithheld => {
                        let separator = if wrote.created {
                            wrote.separator.as_str()
                        } else {
                            ""
                        };
                        doc.remove(&record.section, separator);
                    }
                    _ => {
                        let restore: Vec<(&str, &str)> = wrote
                            .previous
                            .iter()
                            .filter_map(|(k, v)| v.as_deref().map(|v| (k.as_str(), v.as_str())))
                            .collect();
                        let absent: Vec<&str> = wrote
                            .previous
                            .iter()
                            .filter(|(_, v)| v.is_none())
                            .map(|(k, _)| k.as_str())
                            .collect();
                        doc.upsert(&record.section, &restore, &absent)
                            .map_err(parse)?;
                    }
                }
                Ok(doc.section_text(&record.section).map(fingerprint))
            });
            match undone {
                // Undone: the record is an intent again, which the caller drops.
                Ok(_) if first => owned[one.index].intent = one.before.intent,
                Ok(restored) => {
                    let o = &mut owned[one.index];
                    *o = one.before.clone();
                    if o.withheld.is_none() {
                        o.fingerprint = restored;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, section = %record.section, "could not undo a publish that failed half-way");
                }
            }
        }
    }

    /// Removes the profile's owned sections from the files they were written to and forgets
    /// their records; a taken-over section gets its original text back (from `originals`,
    /// which the caller read from the keychain). A section taken over for good whose session
    /// `keeps` it is claimed again once its original is back (`Files::reclaim`). Returns the
    /// records really given up. Sections credtray does not own are left alone.
    pub fn unpublish(
        &self,
        profile: &ProfileName,
        owned: &mut Vec<Owned>,
        originals: &[Original],
        keeps: impl Fn(&TakenOver) -> bool,
    ) -> Result<Vec<Owned>, Error> {
        let mut removed = Vec::new();
        for flavor in [Flavor::Credentials, Flavor::Config] {
            let section = flavor.section(profile);
            let Some(record) = find(owned, flavor, &section).cloned() else {
                continue;
            };
            let file = AwsFile::new(record.file.clone(), record.flavor);
            file.edit(|doc| {
                duplicate(&file, doc, &section)?;
                if let Some(at) = record.withheld {
                    return self.give_back_withheld(&file, doc, &record, at, originals);
                }
                // Changed by hand since credtray wrote it: keep a copy of what is about to go.
                if let (Some(written), Some(text)) =
                    (record.fingerprint.as_deref(), doc.section_text(&section))
                    && fingerprint(text) != written
                {
                    file.back_up(text, Backup::ChangedByHand)?;
                }
                let original = record.taken_over.as_ref().and_then(|taken| {
                    originals
                        .iter()
                        .find(|o| o.flavor == flavor && o.fingerprint() == taken.fingerprint)
                });
                match (&record.taken_over, original) {
                    (Some(_), Some(original)) => {
                        doc.restore(&section, &original.text)
                            .map_err(|source| Error::Parse {
                                path: file.path().to_owned(),
                                source,
                            })?;
                    }
                    // The user had removed the section: it goes again.
                    (Some(_), None) if on_nothing(&record) => {
                        doc.remove(&section, &record.separator);
                    }
                    (Some(_), None) => {
                        tracing::warn!(section = %section, path = %file.path().display(), "the original of a taken-over section is missing from the keychain; the copy in the .credtray-backup file is all that is left");
                        doc.remove(&section, &record.separator);
                    }
                    (None, _) => {
                        doc.remove(&section, &record.separator);
                    }
                }
                Ok(())
            })?;
            owned.retain(|o| *o != record);
            removed.push(record);
        }
        Ok(self.reclaim(removed, owned, keeps))
    }

    /// Unpublishes a withheld section: credtray wrote nothing there, so there is nothing of its
    /// own to remove; a taken-over original goes back where it was (a section someone put there
    /// since is backed up verbatim and replaced by it).
    fn give_back_withheld(
        &self,
        file: &AwsFile,
        doc: &mut Document,
        record: &Owned,
        at: usize,
        originals: &[Original],
    ) -> Result<(), Error> {
        let Some(taken) = &record.taken_over else {
            return Ok(());
        };
        if on_nothing(record) {
            return Ok(());
        }
        let Some(original) = originals
            .iter()
            .find(|o| o.flavor == record.flavor && o.fingerprint() == taken.fingerprint)
        else {
            tracing::warn!(section = %record.section, path = %file.path().display(), "the original of a taken-over section is missing from the keychain; the copy in the .credtray-backup file is all that is left");
            return Ok(());
        };
        if let Some(text) = doc.section_text(&record.section) {
            file.back_up(text, Backup::TakenOver)?;
        }
        doc.restore_at(&record.section, &original.text, Some(at))
            .map_err(|source| Error::Parse {
                path: file.path().to_owned(),
                source,
            })
    }

    /// Settles the records of writes a crash interrupted (those still marked as intended): a
    /// section holding exactly the text credtray meant to write is credtray's, and kept; any
    /// other (absent, still the original being taken over, or written by the user since) was
    /// not credtray's write, and its record is dropped. Records whose file can't be read are
    /// left for later.
    pub fn reconcile(&self, owned: &mut Vec<Owned>) -> Vec<Settled> {
        let mut settled = Vec::new();
        for index in (0..owned.len()).rev() {
            if owned[index].intent.is_none() {
                continue;
            }
            let record = owned[index].clone();
            // A file that can't be read now is settled later; it must not stop every command.
            let doc = match AwsFile::new(record.file.clone(), record.flavor).read() {
                Ok(doc) => doc,
                Err(e) => {
                    tracing::warn!(error = %e, section = %record.section, "cannot settle an interrupted write yet");
                    continue;
                }
            };
            // Only the very text credtray meant to write is credtray's: an original still there
            // means the write never happened, and anything else is the user's doing since.
            // A withheld section's text is no text: it was written once the section is gone.
            let written = match record.withheld {
                Some(_) => doc.section_text(&record.section).is_none().then_some(None),
                None => doc
                    .section_text(&record.section)
                    .map(fingerprint)
                    .filter(|f| record.fingerprint.as_ref() == Some(f))
                    .map(Some),
            };
            // A section taken over for good whose first write never happened holds its
            // original still: it rests again, still the session's.
            let original_there = record.taken_over.as_ref().is_some_and(|t| {
                t.kept && fingerprint_of(doc.section_text(&record.section)) == t.fingerprint
            });
            match written {
                None if original_there => {
                    rest(&mut owned[index]);
                }
                None => {
                    owned.remove(index);
                    settled.push(Settled::Dropped(record));
                }
                Some(written) => {
                    let o = &mut owned[index];
                    o.intent = None;
                    o.fingerprint = written;
                    settled.push(Settled::Kept(record));
                }
            }
        }
        settled
    }

    /// Writes the profile in one go (plan, intend, write) on behalf of `session`: for tests and
    /// callers with nowhere to crash between the steps. Originals taken over are returned in
    /// the plan for the caller to keep.
    pub fn publish(
        &self,
        profile: &ProfileName,
        contents: Contents<'_>,
        owned: &mut Vec<Owned>,
        take_over: bool,
        session: SessionId,
    ) -> Result<(Plan, Published), Error> {
        let plan = self.plan(profile, owned, take_over)?;
        self.intend(&plan, session, contents, owned);
        let (published, _) = self.write(&plan, contents, owned)?;
        Ok((plan, published))
    }
}
