//! One AWS shared file on disk: where it is (through symlinks), reading it, and changing it
//! safely: under an advisory lock on a sidecar file, written to a temp file in the target's
//! directory, fsynced and renamed over the target, keeping the target's mode. A file that can't
//! be read or parsed is never written.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::document::{Document, ParseError};
use super::{Error, Flavor};
use crate::atomic;

/// Mode of files credtray creates, and of a `~/.aws` it creates.
const NEW_FILE_MODE: u32 = 0o600;
const NEW_DIR_MODE: u32 = 0o700;

/// An AWS shared file at a configured path (which may be a symlink), and which of the two it
/// is (that decides how its sections are named).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsFile {
    path: PathBuf,
    flavor: Flavor,
}

impl AwsFile {
    pub fn new(path: impl Into<PathBuf>, flavor: Flavor) -> Self {
        Self {
            path: path.into(),
            flavor,
        }
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// The path as configured (what the user sees).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file that is really read and written: symlinks followed (a dangling link names the
    /// file to create), so writing replaces the target and the link survives.
    pub fn target(&self) -> Result<PathBuf, Error> {
        let mut path = self.path.clone();
        for _ in 0..40 {
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    let link = fs::read_link(&path).map_err(|e| self.io("read the symlink", e))?;
                    path = match path.parent() {
                        Some(dir) => dir.join(link),
                        None => link,
                    };
                }
                Ok(_) => return Ok(path),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(path),
                Err(e) => return Err(self.io("inspect", e)),
            }
        }
        Err(self.io(
            "resolve",
            io::Error::other("too many levels of symbolic links"),
        ))
    }

    /// The document as it is now; a missing file is an empty document.
    pub fn read(&self) -> Result<Document, Error> {
        let target = self.target()?;
        let text = self.read_text(&target)?;
        self.parse(&text)
    }

    /// Runs `change` on the document under the file's lock and writes the result if it
    /// differs. Nothing is written when reading, parsing or `change` fails.
    pub fn edit<T>(
        &self,
        change: impl FnOnce(&mut Document) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let target = self.target()?;
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        atomic::create_dir(&dir, NEW_DIR_MODE)
            .map_err(|e| self.io("create the directory of", e))?;
        let _lock = atomic::Lock::exclusive(
            &sidecar(&target, "credtray-lock"),
            NEW_FILE_MODE,
            "writing the file",
        )
        .map_err(|e| self.io("lock", e))?;
        // Temp files of writers that were killed mid-write; under the lock none is in use.
        atomic::remove_stale_temps(&target);
        let text = self.read_text(&target)?;
        let mut doc = self.parse(&text)?;
        let result = change(&mut doc)?;
        if doc.as_str() != text {
            let mode = mode_of(&target).unwrap_or(NEW_FILE_MODE);
            atomic::write(&target, doc.as_str().as_bytes(), mode)
                .map_err(|e| self.io("write", e))?
                .warn_if_unsynced(&target);
        }
        Ok(result)
    }

    /// Appends `section` to `<file>.credtray-backup` (never truncating it), fsynced, before
    /// credtray replaces or removes it. A user's section taken over is copied verbatim (it is
    /// theirs); a section credtray wrote itself has its credential values redacted, since they
    /// are live temporary credentials that no file but `~/.aws/credentials` should hold.
    pub fn back_up(&self, section: &str, why: Backup) -> Result<PathBuf, Error> {
        let target = self.target()?;
        let backup = sidecar(&target, "credtray-backup");
        let now = crate::aws::rfc3339(time::OffsetDateTime::now_utc());
        let path = self.path.display();
        let mut text = match why {
            Backup::TakenOver => {
                format!("# {now}: credtray took over this section of {path}\n{section}")
            }
            Backup::ChangedByHand => format!(
                "# {now}: credtray replaced or removed this section of {path}, changed by hand since credtray wrote it (credential values redacted)\n{}",
                redact(section, REDACTED)
            ),
            Backup::MovedKeys => format!(
                "# {now}: credtray moved the long-term keys of this section of {path} to the keychain (their values are not kept here)\n{}",
                redact(section, MOVED)
            ),
        };
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push('\n');
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, NEW_FILE_MODE);
        let write = || -> io::Result<()> {
            let mut file = options.open(&backup)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()
        };
        write().map_err(|source| Error::Io {
            path: backup.clone(),
            action: "append to",
            source,
        })?;
        Ok(backup)
    }

    /// Replaces every copy of `values` (long-term keys moved to the keychain) in
    /// `<file>.credtray-backup` by a note, rewriting it atomically under the file's lock: a
    /// section taken over before its keys moved was copied there verbatim, keys included, and
    /// once they are moved no file credtray wrote may hold them.
    pub fn forget_in_backup(&self, values: &[&str]) -> Result<(), Error> {
        let target = self.target()?;
        let backup = sidecar(&target, "credtray-backup");
        let failed = |action: &'static str| {
            let path = backup.clone();
            move |source| Error::Io {
                path,
                action,
                source,
            }
        };
        // No backup, no copy; and a directory that is not there has no lock file to take.
        if !backup.try_exists().map_err(failed("inspect"))? {
            return Ok(());
        }
        let _lock = atomic::Lock::exclusive(
            &sidecar(&target, "credtray-lock"),
            NEW_FILE_MODE,
            "writing the file",
        )
        .map_err(|e| self.io("lock", e))?;
        let text = match fs::read(&backup) {
            Ok(bytes) => Zeroizing::new(bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(failed("read")(e)),
        };
        // Bytes, not text: a backup is the user's sections verbatim, whatever their encoding.
        let mut scrubbed = text.clone();
        for value in values.iter().filter(|v| !v.is_empty()) {
            scrubbed = Zeroizing::new(replace_bytes(&scrubbed, value.as_bytes(), MOVED.as_bytes()));
        }
        if scrubbed != text {
            let mode = mode_of(&backup).unwrap_or(NEW_FILE_MODE);
            atomic::write(&backup, &scrubbed, mode)
                .map_err(failed("rewrite"))?
                .warn_if_unsynced(&backup);
        }
        Ok(())
    }

    /// `Some` when users other than the file's owner may read it (a group or other read bit
    /// is set on the file a symlink leads to); `None` when it is private or missing. credtray
    /// keeps the mode a file has (SPEC §3), so this is only ever said, never changed.
    pub fn readable_by_others(&self) -> Option<ReadableByOthers> {
        let mode = mode_of(&self.path)?;
        let home = directories::BaseDirs::new().map(|b| b.home_dir().to_owned());
        (mode & 0o044 != 0).then(|| ReadableByOthers::new(&self.path, mode, home.as_deref()))
    }

    fn read_text(&self, target: &Path) -> Result<String, Error> {
        match fs::read(target) {
            Ok(bytes) => String::from_utf8(bytes).map_err(|e| Error::Parse {
                path: self.path.clone(),
                source: ParseError {
                    line: line_of(e.as_bytes(), e.utf8_error().valid_up_to()),
                    message: "the file is not UTF-8 text".to_owned(),
                },
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(self.io("read", e)),
        }
    }

    fn parse(&self, text: &str) -> Result<Document, Error> {
        Document::parse(text, self.flavor).map_err(|source| Error::Parse {
            path: self.path.clone(),
            source,
        })
    }

    fn io(&self, action: &'static str, source: io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            action,
            source,
        }
    }
}

/// A file that users other than its owner may read, as `files check`, `doctor` and the tray
/// warn about it: its mode and the `chmod` that makes it private.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadableByOthers {
    pub path: PathBuf,
    pub mode: u32,
    /// The path as the person would type it: `~/…` under their home, quoted for a shell.
    typed: String,
}

impl ReadableByOthers {
    fn new(path: &Path, mode: u32, home: Option<&Path>) -> Self {
        let typed = match home.and_then(|h| path.strip_prefix(h).ok()) {
            Some(rest) if !rest.as_os_str().is_empty() => {
                format!("~/{}", shell_word(&rest.to_string_lossy()))
            }
            _ => shell_word(&path.to_string_lossy()),
        };
        Self {
            path: path.to_owned(),
            mode,
            typed,
        }
    }

    /// The command to run: `chmod 600 ~/.aws/credentials`.
    pub fn fix(&self) -> String {
        format!("chmod 600 {}", self.typed)
    }
}

/// `~/.aws/credentials is readable by others (mode 0644): run chmod 600 ~/.aws/credentials`.
impl std::fmt::Display for ReadableByOthers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is readable by others (mode {:04o}): run {}",
            self.typed,
            self.mode,
            self.fix()
        )
    }
}

/// `{"mode": "0644", "warning": "<the sentence>"}` (`files check --json`).
impl serde::Serialize for ReadableByOthers {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("ReadableByOthers", 2)?;
        out.serialize_field("mode", &format!("{:04o}", self.mode))?;
        out.serialize_field("warning", &self.to_string())?;
        out.end()
    }
}

/// `text` as one word for a POSIX shell: as it is when it holds nothing a shell reads
/// specially, else in single quotes (a quote inside written `'\''`).
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Why a section is copied to the backup file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backup {
    /// The user's own section, about to be taken over: copied verbatim.
    TakenOver,
    /// A section credtray wrote, changed by hand since: copied with credentials redacted.
    ChangedByHand,
    /// The user's section whose long-term keys `import --move-keys` moved to the keychain:
    /// copied with the moved values replaced by a note, never the keys themselves.
    MovedKeys,
}

/// What stands for a credential value in a backup.
const REDACTED: &str = "<redacted by credtray>";
const MOVED: &str = "<moved to the keychain by credtray>";

/// Keys whose values are credentials.
const CREDENTIAL_KEYS: [&str; 4] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
];

/// The section with the value of every credential key replaced by `mark`, lines continuing
/// such a value (indented) included.
fn redact(section: &str, mark: &str) -> String {
    let mut in_credential = false;
    section
        .split_inclusive('\n')
        .map(|line| {
            let eol = &line[line.trim_end_matches(['\r', '\n']).len()..];
            let content = &line[..line.len() - eol.len()];
            if content.starts_with([' ', '\t']) && !content.trim().is_empty() {
                if in_credential {
                    let indent = &content[..content.len() - content.trim_start().len()];
                    return format!("{indent}{mark}{eol}");
                }
                return line.to_owned();
            }
            in_credential = false;
            let Some(delimiter) = content.find(['=', ':']) else {
                return line.to_owned();
            };
            let key = content[..delimiter].trim();
            if !CREDENTIAL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                return line.to_owned();
            }
            in_credential = true;
            format!("{} {mark}{eol}", &content[..=delimiter])
        })
        .collect()
}

/// `haystack` with every occurrence of `needle` (not empty) replaced by `by`.
fn replace_bytes(haystack: &[u8], needle: &[u8], by: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(by);
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// `<file>.<suffix>` beside the file.
fn sidecar(target: &Path, suffix: &str) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_owned();
    name.push(format!(".{suffix}"));
    target.with_file_name(name)
}

#[cfg(unix)]
fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn mode_of(_path: &Path) -> Option<u32> {
    None
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::ReadableByOthers;

    #[test]
    fn a_file_others_can_read_is_named_with_its_mode_and_the_chmod_to_run() {
        let home = Path::new("/home/ann");
        let warn = |path: &str, mode| ReadableByOthers::new(Path::new(path), mode, Some(home));
        assert_eq!(
            warn("/home/ann/.aws/credentials", 0o644).to_string(),
            "~/.aws/credentials is readable by others (mode 0644): run chmod 600 ~/.aws/credentials"
        );
        assert_eq!(
            warn("/srv/it's mine/creds", 0o640).to_string(),
            r"'/srv/it'\''s mine/creds' is readable by others (mode 0640): run chmod 600 '/srv/it'\''s mine/creds'"
        );
        assert_eq!(
            warn("/home/ann/my aws/credentials", 0o604).fix(),
            "chmod 600 ~/'my aws/credentials'"
        );
        assert_eq!(
            serde_json::to_value(warn("/home/ann/.aws/credentials", 0o644)).unwrap()["mode"],
            "0644"
        );
    }

    #[cfg(unix)]
    #[test]
    fn only_group_or_other_read_bits_make_a_file_readable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        let file = super::AwsFile::new(&path, super::Flavor::Credentials);
        assert_eq!(file.readable_by_others(), None, "a missing file");
        std::fs::write(&path, "").unwrap();
        for (mode, readable) in [
            (0o600, false),
            (0o620, false),
            (0o400, false),
            (0o640, true),
            (0o604, true),
            (0o644, true),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(
                file.readable_by_others().map(|r| r.mode),
                readable.then_some(mode),
                "{mode:o}"
            );
        }
        // Through a symlink, the file it leads to.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let linked = super::AwsFile::new(&link, super::Flavor::Credentials);
        assert_eq!(linked.readable_by_others().map(|r| r.mode), Some(0o644));
    }

    #[test]
    fn backups_of_credtrays_own_sections_carry_no_credential_value() {
        let section = "[dev]\r\naws_access_key_id = ASIAXXXXXXXXXXXXXXXX\r\nAWS_Secret_Access_Key=abc/def\nregion = eu-west-1\naws_session_token : tok\n";
        assert_eq!(
            super::redact(section, super::REDACTED),
            "[dev]\r\naws_access_key_id = <redacted by credtray>\r\nAWS_Secret_Access_Key= <redacted by credtray>\nregion = eu-west-1\naws_session_token : <redacted by credtray>\n"
        );
        // A value continued on indented lines is redacted there too.
        assert_eq!(
            super::redact(
                "[dev]\naws_session_token =\n  FwoGZXIvYXdz\n  more\nregion = x\n",
                super::REDACTED
            ),
            "[dev]\naws_session_token = <redacted by credtray>\n  <redacted by credtray>\n  <redacted by credtray>\nregion = x\n"
        );
    }
}
