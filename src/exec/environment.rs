//! The environment of a `credtray exec` child. SDKs look for credentials in the environment,
//! then the shared files, and only then at the container endpoint; so the child gets none of
//! the caller's credential variables (`AWS_PROFILE`, keys, web identity, `AWS_CONTAINER_*`),
//! an empty shared credentials file, and a copy of the config file whose default profile has
//! no credential source of its own (keys, `credential_process`, `role_arn`, `sso_*`…) but keeps
//! everything else (`output`, `s3`, other profiles…). The copies live in a private temporary
//! directory, removed when the child is done. Everything else is kept, `AWS_ENDPOINT_URL*`
//! included.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use crate::awsfiles::CREDENTIAL_SOURCE_KEYS as CREDENTIAL_KEYS;

/// Variables the child must not inherit: they would name another identity.
pub const REMOVED: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
];
/// Every variable with this prefix is removed too (the caller may itself run under an
/// endpoint).
const REMOVED_PREFIX: &str = "AWS_CONTAINER_";

/// The variables to remove from what the child inherits.
pub fn removed() -> Vec<OsString> {
    std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| {
            k.to_str()
                .is_some_and(|k| REMOVED.contains(&k) || k.starts_with(REMOVED_PREFIX))
        })
        .collect()
}

/// Whether an SDK may read the header line `line` of a config file as the default profile.
///
/// botocore's naming is the one credtray's own sections follow
/// ([`crate::awsfiles::heads_profile`]: `[default]`, `[profile default]`, `[profile
/// "default"]`, `[profile 'default']`, even `[profilex default]`). The child may be another
/// SDK, though, and the Rust, Go and Java SDKs trim the spaces inside the brackets, where
/// configparser keeps them (`[ default ]` and `[ profile default ]` are their default, not
/// botocore's): a section any of them reads as the default loses its credential source.
fn heads_default(line: &str) -> bool {
    if crate::awsfiles::heads_profile(crate::awsfiles::Flavor::Config, line, "default") {
        return true;
    }
    let Some(inner) = crate::awsfiles::header_text(line.trim()) else {
        return false;
    };
    let words: Vec<&str> = inner.split_whitespace().collect();
    matches!(words.as_slice(), ["default"] | ["profile", "default"])
}

/// `config` with every section an SDK may read as the default profile (`heads_default`)
/// stripped of every credential key (and the indented lines under one); every other byte kept.
pub fn without_default_credentials(config: &str) -> String {
    let mut out = String::with_capacity(config.len());
    let mut in_default = false;
    // After a key line, indented lines continue its value (an indented `[x]` included), as
    // configparser reads them.
    let mut in_value = false;
    let mut dropping = false;
    for line in config.split_inclusive('\n') {
        let text = line.trim();
        if in_value && line.starts_with([' ', '\t']) && !text.is_empty() {
            if in_default && dropping {
                continue;
            }
        } else if text.starts_with('[') {
            in_default = heads_default(text);
            in_value = false;
            dropping = false;
        } else if !text.is_empty() && !text.starts_with(['#', ';']) {
            in_value = true;
            let key = text.split(['=', ':']).next().unwrap_or_default();
            dropping =
                in_default && CREDENTIAL_KEYS.contains(&key.trim().to_ascii_lowercase().as_str());
            if dropping {
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

/// The child's shared files: an empty credentials file and the caller's config without a
/// default credential source, in a private directory removed on drop.
pub struct SharedFiles {
    dir: PathBuf,
}

impl SharedFiles {
    /// Copies `config` (which may not exist) into a new private directory.
    pub fn create(config: &Path) -> io::Result<Self> {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|d| !d.is_empty())
            .map_or_else(std::env::temp_dir, PathBuf::from);
        let dir = base.join(format!(
            "credtray-exec-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        #[cfg_attr(not(unix), allow(unused_mut))]
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir)?;
        let files = Self { dir };
        let text = match std::fs::read_to_string(config) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        std::fs::write(files.credentials(), "")?;
        std::fs::write(files.config(), without_default_credentials(&text))?;
        Ok(files)
    }

    pub fn credentials(&self) -> PathBuf {
        self.dir.join("credentials")
    }

    pub fn config(&self) -> PathBuf {
        self.dir.join("config")
    }

    /// `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE` for the child.
    pub fn vars(&self) -> [(&'static str, OsString); 2] {
        [
            ("AWS_SHARED_CREDENTIALS_FILE", self.credentials().into()),
            ("AWS_CONFIG_FILE", self.config().into()),
        ]
    }
}

impl Drop for SharedFiles {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "could not remove the exec's shared files");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_profile_loses_its_credential_source_and_keeps_the_rest() {
        let config = "# mine\n[default]\nregion = eu-west-1\ncredential_process = /bin/evil\nsso_session = corp\noutput = json\ns3 =\n  max_concurrent_requests = 20\nrole_arn = arn:aws:iam::1:role/x\n  ; a comment under it\n\n[profile other]\nrole_arn = arn:aws:iam::1:role/y\nsource_profile = default\n\n[ profile   default ]\naws_access_key_id = AKIA\ncli_pager =\n";
        let out = without_default_credentials(config);
        assert_eq!(
            out,
            "# mine\n[default]\nregion = eu-west-1\noutput = json\ns3 =\n  max_concurrent_requests = 20\n\n[profile other]\nrole_arn = arn:aws:iam::1:role/y\nsource_profile = default\n\n[ profile   default ]\ncli_pager =\n"
        );
    }

    /// Every spelling of the default profile that botocore (or an SDK that trims the brackets'
    /// spaces) reads as the default loses its credential source; the others keep theirs.
    #[test]
    fn every_spelling_of_the_default_profile_loses_its_credential_source() {
        let defaults = [
            "[default]",
            "[profile default]",
            "[profile   default]",
            "[profile\tdefault]",
            "[profile \"default\"]",
            "[profile 'default']",
            "[profilex default]",
            "[ default ]",
            "[ profile default ]",
            "  [profile \"default\"]  ",
        ];
        for header in defaults {
            let config = format!(
                "{header}\nregion = eu-west-1\naws_access_key_id = AKIAFOREIGN\ncredential_process = /bin/evil\n"
            );
            assert_eq!(
                without_default_credentials(&config),
                format!("{header}\nregion = eu-west-1\n"),
                "{header} is the default profile"
            );
        }
        for header in [
            "[profile defaults]",
            "[profile \"default x\"]",
            "[profile dev]",
            "[defaultx]",
            "[sso-session default]",
        ] {
            let config = format!("{header}\naws_access_key_id = AKIAOTHER\n");
            assert_eq!(without_default_credentials(&config), config, "{header}");
        }
    }

    #[test]
    fn an_indented_header_inside_a_value_does_not_end_the_default_profile() {
        let config = "[default]\ns3 =\n  [profile dev]\naws_access_key_id = AKIAFOREIGN\n";
        assert_eq!(
            without_default_credentials(config),
            "[default]\ns3 =\n  [profile dev]\n"
        );
    }

    #[test]
    fn nested_values_of_a_dropped_key_go_with_it() {
        let config = "[default]\nsso_session =\n  x = y\nregion = us-east-1\n";
        assert_eq!(
            without_default_credentials(config),
            "[default]\nregion = us-east-1\n"
        );
    }

    #[test]
    fn the_shared_files_are_private_and_removed_on_drop() {
        let source = tempfile::tempdir().unwrap();
        let config = source.path().join("config");
        std::fs::write(
            &config,
            "[default]\naws_access_key_id = AKIA\nregion = eu-west-1\n",
        )
        .unwrap();
        let files = SharedFiles::create(&config).unwrap();
        let dir = files.config().parent().unwrap().to_owned();
        assert_eq!(std::fs::read_to_string(files.credentials()).unwrap(), "");
        assert_eq!(
            std::fs::read_to_string(files.config()).unwrap(),
            "[default]\nregion = eu-west-1\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
        drop(files);
        assert!(!dir.exists());
        // No config at all: an empty one.
        let files = SharedFiles::create(&source.path().join("missing")).unwrap();
        assert_eq!(std::fs::read_to_string(files.config()).unwrap(), "");
    }
}
