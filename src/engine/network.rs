//! The network settings (`credtray settings proxy`, `settings ca-bundle`, the tray's Network…
//! dialog) kept in `[settings]` with the proxy's password in the keychain
//! (`settings-proxy-password`), and the process's network policy read from them
//! ([`source`], which each `main` installs with [`crate::net::install`]).

use std::path::PathBuf;
use std::sync::Arc;

use secrecy::SecretString;

use super::{Engine, Error};
use crate::awsfiles::{Files, Flavor};
use crate::net::{self, Inputs, Policy};
use crate::secrets::{Key, SecretStore};
use crate::session::ProfileName;
use crate::store::Store;

/// What becomes of the proxy's password in the keychain.
pub enum Password {
    /// Left as it is.
    Keep,
    /// Set to this.
    Set(SecretString),
    /// Removed (no user, or a proxy that needs none).
    Remove,
}

impl Engine {
    /// The network settings as stored.
    pub fn network(&self) -> Result<net::Settings, Error> {
        Ok(self.catalog()?.settings.network)
    }

    /// Whether the keychain holds the proxy's password.
    pub fn has_proxy_password(&self) -> Result<bool, Error> {
        Ok(self.secrets.get(Key::proxy_password())?.is_some())
    }

    /// Replaces the network settings (and the proxy's password as `password` says), after
    /// checking that a CA bundle it names can be used; the next network call of this process
    /// follows them.
    pub fn set_network(&self, settings: net::Settings, password: Password) -> Result<(), Error> {
        if let Some(path) = &settings.ca_bundle {
            // Only the bundle is checked here (the whole policy is read again by the next
            // call, and the environment may be another process's).
            net::read_bundle(
                path.clone(),
                net::BundleFrom::Settings,
                "[settings] ca_bundle".to_owned(),
            )?;
        }
        let key = Key::proxy_password();
        // The keychain first, undone if the store can't be saved.
        let before = match &password {
            Password::Keep => None,
            Password::Set(_) | Password::Remove => Some(self.secrets.get(key)?),
        };
        match &password {
            Password::Keep => {}
            Password::Set(value) => self.set_verified(key, value)?,
            Password::Remove => {
                self.secrets.delete(key)?;
            }
        }
        let saved = self.lock().and_then(|mut locked| {
            locked.catalog.settings.network = settings;
            locked.save()?;
            Ok(())
        });
        if let (Err(_), Some(before)) = (&saved, before) {
            let undone = match before {
                Some(old) => self.secrets.set(key, &old),
                None => self.secrets.delete(key).map(|_| ()),
            };
            if let Err(e) = undone {
                tracing::warn!(error = %e, "could not put the proxy password back after a failed save");
            }
        }
        saved?;
        net::forget();
        Ok(())
    }
}

/// What [`source`] reads, as the times its files were last changed: a change made by another
/// process (`credtray settings` while the tray runs) is seen on the next call.
pub fn stamp(
    store: Store,
    files: Files,
) -> impl Fn() -> Vec<Option<std::time::SystemTime>> + Send + Sync + 'static {
    move || {
        [store.path(), files.config.path().to_owned()]
            .iter()
            .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .collect()
    }
}

/// Where a process's network policy comes from: the environment, the store's `[settings]`,
/// the keychain's proxy password (read only when a proxy user is set) and the `ca_bundle` of
/// the profile in `~/.aws/config` (`AWS_PROFILE`'s, or `[default]`).
pub fn source(
    store: Store,
    secrets: Arc<dyn SecretStore>,
    files: Files,
) -> impl Fn() -> Result<Policy, net::Error> + Send + Sync + 'static {
    move || {
        // A store that can't be read (a bad setting among others) is an error: ignoring it
        // could make calls go direct that the settings send through a proxy. (No store yet
        // loads as the defaults.)
        let settings = store
            .load()
            .map_err(|e| {
                net::Error::Source(format!(
                    "cannot read the network settings: {}",
                    crate::error_sentence(&e)
                ))
            })?
            .settings
            .network;
        let password = match (&settings.proxy, &settings.proxy_user) {
            (net::ProxySetting::Via(_), Some(_)) => {
                secrets.get(Key::proxy_password()).map_err(|e| {
                    net::Error::Source(format!("cannot read the proxy's password: {e}"))
                })?
            }
            _ => None,
        };
        Policy::new(
            net::env_var,
            Inputs {
                settings,
                password,
                profile_bundle: profile_bundle(&files),
            },
        )
    }
}

/// The `ca_bundle` of the profile the AWS CLI would use (`AWS_PROFILE`, else `default`), with
/// what named it; `~/` expanded.
fn profile_bundle(files: &Files) -> Option<(PathBuf, String)> {
    let profile = std::env::var("AWS_PROFILE")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "default".to_owned());
    let section = match profile.parse::<ProfileName>() {
        Ok(name) => Flavor::Config.section(&name),
        Err(_) => format!("profile {profile}"),
    };
    let document = files.config.read().ok()?;
    let value = document.get(&section, "ca_bundle")?.trim();
    if value.is_empty() {
        return None;
    }
    let path = match (value.strip_prefix("~/"), directories::BaseDirs::new()) {
        (Some(rest), Some(dirs)) => dirs.home_dir().join(rest),
        _ => PathBuf::from(value),
    };
    Some((
        path,
        format!(
            "ca_bundle of [{section}] in {}",
            files.config.path().display()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::net::{ProxySetting, ProxyUrl, ProxyUser};
    use crate::secrets::Memory;

    fn engine() -> (tempfile::TempDir, Arc<Memory>, Engine) {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Arc::new(Memory::new());
        let engine = Engine::new(
            Store::at(dir.path().join("cfg")),
            secrets.clone(),
            Files::at(dir.path().join("credentials"), dir.path().join("config")),
            Arc::new(crate::aws::Fake::new()),
        );
        (dir, secrets, engine)
    }

    fn via(user: Option<&str>) -> net::Settings {
        net::Settings {
            proxy: ProxySetting::Via(ProxyUrl::parse_setting("http://proxy:3128").unwrap()),
            proxy_user: user.map(|u| ProxyUser::new(u).unwrap()),
            ..net::Settings::default()
        }
    }

    #[test]
    fn the_password_goes_to_the_keychain_and_the_policy_source_reads_it() {
        let (dir, secrets, engine) = engine();
        engine
            .set_network(via(Some("alice")), Password::Set("pw1".into()))
            .unwrap();
        assert_eq!(secrets.accounts(), ["settings-proxy-password"]);
        let stored = std::fs::read_to_string(dir.path().join("cfg/config.toml")).unwrap();
        assert!(stored.contains("proxy_user = \"alice\"") && !stored.contains("pw1"));
        let source = source(
            Store::at(dir.path().join("cfg")),
            secrets.clone(),
            Files::at(dir.path().join("credentials"), dir.path().join("config")),
        );
        let policy = source().unwrap();
        let proxy = policy.route().https.as_ref().unwrap();
        assert_eq!(proxy.password().unwrap().expose_secret(), "pw1");
        assert_eq!(proxy.from, "[settings] proxy");
        // The same user again keeps it; no user removes it.
        engine
            .set_network(via(Some("alice")), Password::Keep)
            .unwrap();
        assert!(engine.has_proxy_password().unwrap());
        engine.set_network(via(None), Password::Remove).unwrap();
        assert!(secrets.accounts().is_empty());
    }

    #[test]
    fn a_bad_bundle_changes_nothing_and_a_change_moves_the_stamp() {
        let (dir, secrets, engine) = engine();
        let stamp = stamp(
            Store::at(dir.path().join("cfg")),
            Files::at(dir.path().join("credentials"), dir.path().join("config")),
        );
        engine.set_network(via(None), Password::Keep).unwrap();
        let before = stamp();
        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, "no certificate\n").unwrap();
        let refused = engine
            .set_network(
                net::Settings {
                    ca_bundle: Some(bad),
                    ..via(Some("bob"))
                },
                Password::Set("pw".into()),
            )
            .unwrap_err();
        assert!(refused.to_string().contains("bad.pem"), "{refused}");
        assert!(refused.is_invalid_input());
        assert_eq!(engine.network().unwrap(), via(None));
        assert!(secrets.accounts().is_empty());
        assert_eq!(stamp(), before);
        std::thread::sleep(std::time::Duration::from_millis(20));
        engine
            .set_network(net::Settings::default(), Password::Keep)
            .unwrap();
        assert_ne!(stamp(), before);
    }
}
