//! The network part of a `credtray exec` child's environment: it reaches AWS the way credtray
//! does. The environment's proxy variables pass unchanged; a `[settings] proxy` becomes
//! `HTTPS_PROXY`/`HTTP_PROXY` (both cases, never with its password: a warning says the child
//! must authenticate itself) and `[settings] proxy none` removes them; a CA bundle credtray
//! took from its settings or a profile becomes `AWS_CA_BUNDLE`. And `127.0.0.1`, where the child's
//! credentials endpoint listens, is added to `NO_PROXY`/`no_proxy`, so its requests for
//! credentials never go through a proxy.

use super::{BundleFrom, CA_BUNDLE_VAR, Policy, ProxySetting, Settings};

/// Every variable a proxy is read from.
const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Where the credentials endpoint listens (`exec::endpoint`).
const ENDPOINT_HOST: &str = "127.0.0.1";

/// What to set and remove in the child's environment, and what to tell the person.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ChildEnv {
    pub set: Vec<(String, String)>,
    pub remove: Vec<String>,
    pub warning: Option<String>,
}

/// The child's network variables under `policy`, made from `settings` and the environment
/// (`var`).
pub fn child_env(
    policy: &Policy,
    settings: &Settings,
    var: impl Fn(&str) -> Option<String>,
) -> ChildEnv {
    let mut env = ChildEnv::default();
    // The list the child's tools read: no_proxy first, as curl and Python do.
    let mut no_proxy = ["no_proxy", "NO_PROXY"]
        .iter()
        .find_map(|n| var(n).filter(|v| !v.trim().is_empty()));
    let proxied = match &settings.proxy {
        ProxySetting::Environment => PROXY_VARS
            .iter()
            .any(|n| var(n).is_some_and(|v| !v.trim().is_empty())),
        ProxySetting::Direct => {
            env.remove
                .extend(PROXY_VARS.iter().map(|n| (*n).to_owned()));
            false
        }
        ProxySetting::Via(url) => {
            env.remove
                .extend(["ALL_PROXY".to_owned(), "all_proxy".to_owned()]);
            for name in &PROXY_VARS[..4] {
                env.set.push(((*name).to_owned(), url.to_string()));
            }
            if let Some(list) = &settings.no_proxy {
                no_proxy = Some(list.as_str().to_owned());
            }
            if let Some(user) = &settings.proxy_user {
                env.warning = Some(format!(
                    "the proxy {url} takes a password (user {}), which credtray does not give the command: it must authenticate to the proxy itself",
                    user.as_str()
                ));
            }
            true
        }
    };
    if proxied {
        let list = match no_proxy.as_deref().map(str::trim) {
            Some(list) if list.split(',').any(|e| e.trim() == ENDPOINT_HOST) => list.to_owned(),
            Some(list) if !list.is_empty() => format!("{list},{ENDPOINT_HOST}"),
            _ => ENDPOINT_HOST.to_owned(),
        };
        env.set.push(("NO_PROXY".to_owned(), list.clone()));
        env.set.push(("no_proxy".to_owned(), list));
    }
    // `AWS_CA_BUNDLE` passes unchanged; a profile's bundle is given too, since the child
    // loses `AWS_PROFILE` (it would read `[default]`).
    if let Some(bundle) = policy.bundle()
        && bundle.from != BundleFrom::Environment
    {
        env.set
            .push((CA_BUNDLE_VAR.to_owned(), bundle.path.display().to_string()));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{NoProxy, ProxyUrl, ProxyUser};

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |n| {
            pairs
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn get<'a>(env: &'a ChildEnv, name: &str) -> Option<&'a str> {
        env.set
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_environments_proxy_passes_and_the_endpoint_goes_direct() {
        let pairs = &[("HTTPS_PROXY", "http://p:3128"), ("NO_PROXY", "corp.com")];
        let policy = Policy::from_env(vars(pairs)).unwrap();
        let env = child_env(&policy, &Settings::default(), vars(pairs));
        assert_eq!(get(&env, "HTTPS_PROXY"), None, "passed unchanged, not set");
        assert_eq!(get(&env, "NO_PROXY"), Some("corp.com,127.0.0.1"));
        assert_eq!(get(&env, "no_proxy"), Some("corp.com,127.0.0.1"));
        assert!(env.remove.is_empty() && env.warning.is_none());
        // No proxy at all: nothing to add.
        let none = child_env(&Policy::default(), &Settings::default(), |_| None);
        assert_eq!(none, ChildEnv::default());
    }

    #[test]
    fn a_settings_proxy_is_given_without_its_password_and_none_removes_the_variables() {
        let settings = Settings {
            proxy: ProxySetting::Via(ProxyUrl::parse_setting("http://set:3128").unwrap()),
            no_proxy: Some(NoProxy::new("skip.test").unwrap()),
            proxy_user: Some(ProxyUser::new("bob").unwrap()),
            ca_bundle: None,
        };
        let pairs = &[("ALL_PROXY", "http://env:1"), ("no_proxy", "env.test")];
        let policy = Policy::new(
            vars(pairs),
            crate::net::Inputs {
                settings: settings.clone(),
                password: Some("hunter2".into()),
                profile_bundle: None,
            },
        )
        .unwrap();
        let env = child_env(&policy, &settings, vars(pairs));
        for name in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"] {
            assert_eq!(get(&env, name), Some("http://set:3128"), "{name}");
        }
        assert_eq!(get(&env, "no_proxy"), Some("skip.test,127.0.0.1"));
        assert!(env.remove.contains(&"ALL_PROXY".to_owned()));
        assert!(
            env.warning
                .as_deref()
                .unwrap()
                .contains("must authenticate")
        );
        assert!(!format!("{env:?}").contains("hunter2"));

        let direct = Settings {
            proxy: ProxySetting::Direct,
            ..Settings::default()
        };
        let env = child_env(&Policy::default(), &direct, vars(pairs));
        assert_eq!(env.remove.len(), PROXY_VARS.len());
        assert!(env.set.is_empty());
    }
}
