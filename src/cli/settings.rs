//! `credtray settings`: show the settings, set the proxy (its password read from standard
//! input into the keychain) and the CA bundle.

use anyhow::Context;
use secrecy::SecretString;

use super::args::{ProxyArgs, SettingsCommand};
use super::{UsageError, print, print_json};
use crate::engine::Engine;
use crate::engine::network::Password;
use crate::net::{NoProxy, ProxySetting, ProxyUrl, ProxyUser, Settings};

pub(super) fn run(engine: &Engine, command: SettingsCommand) -> anyhow::Result<()> {
    match command {
        SettingsCommand::Show { json } => show(engine, json),
        SettingsCommand::Proxy(args) => proxy(engine, args),
        SettingsCommand::Keychain { store } => super::keychain::choose(engine, store),
        SettingsCommand::CaBundle { file, none: _ } => {
            let mut settings = engine.network()?;
            let file = file
                .map(|f| std::path::absolute(&f).with_context(|| format!("{}", f.display())))
                .transpose()?;
            settings.ca_bundle = file.clone();
            engine.set_network(settings, Password::Keep)?;
            print(&match file {
                Some(f) => format!(
                    "credtray trusts the CA certificates of {} beside the platform's (unless AWS_CA_BUNDLE or the profile's ca_bundle names another)\n",
                    f.display()
                ),
                None => "credtray trusts the platform's CA certificates (and AWS_CA_BUNDLE's or a profile's ca_bundle, when set)\n".to_owned(),
            })
        }
    }
}

fn usage(why: String) -> anyhow::Error {
    UsageError(why).into()
}

fn proxy(engine: &Engine, args: ProxyArgs) -> anyhow::Result<()> {
    let mut settings = engine.network()?;
    let before = settings.clone();
    let (said, password) = if args.none {
        settings.proxy = ProxySetting::Direct;
        settings.proxy_user = None;
        settings.no_proxy = None;
        (
            "credtray connects directly, whatever the environment's proxy variables say".to_owned(),
            Password::Remove,
        )
    } else if args.env {
        settings.proxy = ProxySetting::Environment;
        settings.proxy_user = None;
        settings.no_proxy = None;
        (
            "credtray follows the environment's proxy variables (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY)".to_owned(),
            Password::Remove,
        )
    } else {
        let text = args.url.unwrap_or_default();
        if matches!(text.trim(), "none" | "direct" | "env") {
            return Err(usage(format!(
                "{text:?} is not a proxy: give --none for direct connections, --env for the environment's variables"
            )));
        }
        // Never quoted back when it may hold a password (`user:password@`).
        let named = if text.contains('@') {
            "the proxy URL".to_owned()
        } else {
            format!("{text:?}")
        };
        let url = ProxyUrl::parse_setting(&text)
            .map_err(|why| usage(format!("{named} is not a usable proxy: {why}")))?;
        let user = args
            .user
            .as_deref()
            .map(ProxyUser::new)
            .transpose()
            .map_err(usage)?;
        settings.no_proxy = args
            .no_proxy
            .as_deref()
            .map(NoProxy::new)
            .transpose()
            .map_err(|why| usage(format!("--no-proxy: {why}")))?;
        let password = match (&user, args.password) {
            (Some(_), Some(_)) => {
                let mut read = super::input::read_secrets(&["proxy password"])?;
                Password::Set(
                    read.pop()
                        .unwrap_or_else(|| SecretString::from(String::new())),
                )
            }
            // The same user: the password kept for it stays.
            (Some(u), None) if before.proxy_user.as_ref() == Some(u) => Password::Keep,
            _ => Password::Remove,
        };
        let shown = match &user {
            Some(u) => format!(
                "http://{}@{}",
                u.as_str(),
                url.to_string().trim_start_matches("http://")
            ),
            None => url.to_string(),
        };
        let direct = settings
            .no_proxy
            .as_ref()
            .map(|n| format!("; {} go direct", n.as_str()))
            .unwrap_or_default();
        settings.proxy = ProxySetting::Via(url);
        settings.proxy_user = user;
        (
            format!("credtray goes through the proxy {shown}{direct}"),
            password,
        )
    };
    // No user before: there is no password to remove (and no keychain to ask).
    let password = match password {
        Password::Remove if before.proxy_user.is_none() => Password::Keep,
        other => other,
    };
    let no_password = settings.proxy_user.is_some() && matches!(password, Password::Remove);
    engine.set_network(settings, password)?;
    if no_password {
        eprintln!(
            "credtray: no password is kept for this proxy user; if the proxy asks for one, give it with --password - (read from standard input)"
        );
    }
    print(&format!("{said}\n"))
}

/// The settings as `settings show` prints them.
#[derive(serde::Serialize)]
struct Shown {
    /// `http://host:port`, `none`, or null (the environment decides).
    proxy: Option<String>,
    no_proxy: Option<String>,
    proxy_user: Option<String>,
    /// Whether the keychain holds a password for the proxy user.
    proxy_password: bool,
    ca_bundle: Option<String>,
    /// The store of secrets in use (`os`, `file`, `pass`) and who chose it.
    keychain: &'static str,
    keychain_chosen_by: &'static str,
}

fn show(engine: &Engine, json: bool) -> anyhow::Result<()> {
    let Settings {
        proxy,
        no_proxy,
        proxy_user,
        ca_bundle,
    } = engine.network()?;
    let proxy_password = proxy_user.is_some() && engine.has_proxy_password()?;
    let shown = Shown {
        proxy: match proxy {
            ProxySetting::Environment => None,
            ProxySetting::Direct => Some("none".to_owned()),
            ProxySetting::Via(url) => Some(url.to_string()),
        },
        no_proxy: no_proxy.map(|n| n.as_str().to_owned()),
        proxy_user: proxy_user.map(|u| u.as_str().to_owned()),
        proxy_password,
        ca_bundle: ca_bundle.map(|p| p.display().to_string()),
        keychain: engine.keychain().choice.backend.as_str(),
        keychain_chosen_by: engine.keychain().choice.by.as_str(),
    };
    if json {
        return print_json(&shown);
    }
    let or = |v: &Option<String>, none: &str| v.clone().unwrap_or_else(|| none.to_owned());
    print(&format!(
        "proxy       {}\nno_proxy    {}\nproxy_user  {}{}\nca_bundle   {}\nkeychain    {} ({})\n",
        or(
            &shown.proxy,
            "(not set: the environment's proxy variables decide)"
        ),
        or(&shown.no_proxy, "(not set)"),
        or(&shown.proxy_user, "(not set)"),
        if shown.proxy_user.is_some() {
            if proxy_password {
                " (password in the keychain)"
            } else {
                " (no password in the keychain)"
            }
        } else {
            ""
        },
        or(&shown.ca_bundle, "(not set)"),
        shown.keychain,
        engine.keychain().choice.by.clause(),
    ))
}
