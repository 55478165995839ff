//! The login window's network: WebKitGTK follows the process's network policy
//! ([`credtray::net::policy`]) as every other call of credtray does. Its proxy settings are the
//! policy's route ([`proxying`]: the http and https proxies, `NO_PROXY` as GLib's
//! ignore-hosts), set before the first page loads; a proxy's Basic authentication is answered
//! with the policy's user and password, kept for no longer than the request
//! ([`answer_the_proxy`]); and since WebKit trusts the system's certificate store alone, a
//! certificate it refuses while a CA bundle is configured ends the login saying so
//! ([`untrusted`]), instead of a bare TLS error.

use credtray::net::{NoProxy, Proxy, Route};

/// WebKit's proxy settings for a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proxying {
    /// Every load goes direct: no proxy, `[settings] proxy none`, or `NO_PROXY=*`. Said to
    /// WebKit, so it does not take the desktop's own proxy settings instead.
    Direct,
    /// Through these proxies (`http://host:port`, never a user or password), per scheme;
    /// a scheme without one goes direct, and so do the ignored hosts.
    Custom {
        http: Option<String>,
        https: Option<String>,
        ignore_hosts: Vec<String>,
    },
}

/// The proxy settings that send WebKit's loads where the route sends credtray's other calls.
pub fn proxying(route: &Route) -> Proxying {
    let url = |p: &Option<Proxy>| p.as_ref().map(|p| p.url.to_string());
    let (http, https) = (url(&route.http), url(&route.https));
    if http.is_none() && https.is_none() {
        return Proxying::Direct;
    }
    match ignore_hosts(&route.no_proxy) {
        None => Proxying::Direct,
        Some(ignore_hosts) => Proxying::Custom {
            http,
            https,
            ignore_hosts,
        },
    }
}

/// A `NO_PROXY` list as GLib's ignore-hosts, matching what credtray's other calls bypass (curl's
/// reading, as hyper-util implements it): `None` when every host goes direct (`*`). A domain
/// (`corp`, `.corp`) is itself and its subdomains (`corp`, `*.corp`); an IP address or a CIDR
/// range is one (a range by its network address, which GLib requires); an entry that matches
/// no host for the other calls (a port, brackets, a glob) is left out here too, so WebKit
/// never goes direct where they go through the proxy.
pub fn ignore_hosts(no_proxy: &NoProxy) -> Option<Vec<String>> {
    let mut hosts = Vec::new();
    for entry in no_proxy
        .as_str()
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        if entry == "*" {
            return None;
        }
        if let Some(range) = cidr(entry) {
            hosts.push(range);
        } else if let Ok(ip) = entry.parse::<std::net::IpAddr>() {
            hosts.push(ip.to_string());
        } else {
            let domain = entry
                .strip_prefix('.')
                .unwrap_or(entry)
                .to_ascii_lowercase();
            let plain = !domain.is_empty()
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
            if plain {
                hosts.push(format!("*.{domain}"));
                hosts.push(domain);
            } else {
                tracing::warn!(
                    entry,
                    "a NO_PROXY entry that matches no host (not a domain, an IP address or a CIDR range): ignored by the login window as by every other call"
                );
            }
        }
    }
    Some(hosts)
}

/// `address/length` as its network address and length (`10.1.2.3/8` is `10.0.0.0/8`).
fn cidr(entry: &str) -> Option<String> {
    let (ip, length) = entry.split_once('/')?;
    let length: u8 = length.parse().ok()?;
    let network = match ip.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(ip) if length <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(length)).unwrap_or(0);
            std::net::IpAddr::V4((u32::from(ip) & mask).into())
        }
        std::net::IpAddr::V6(ip) if length <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(length)).unwrap_or(0);
            std::net::IpAddr::V6((u128::from(ip) & mask).into())
        }
        _ => return None,
    };
    Some(format!("{network}/{length}"))
}

/// The route's proxy at `host:port` (the one WebKit says asks for credentials).
fn at<'a>(route: &'a Route, host: &str, port: u32) -> Option<&'a Proxy> {
    [route.https.as_ref(), route.http.as_ref()]
        .into_iter()
        .flatten()
        .find(|p| p.url.host().eq_ignore_ascii_case(host) && u32::from(p.url.port()) == port)
}

/// How a proxy is named in a sentence: with its password masked and what set it.
fn named(proxy: Option<&Proxy>, host: &str, port: u32) -> String {
    proxy.map_or_else(
        || format!("the proxy {host}:{port}"),
        |p| format!("the proxy {} (from {})", p.shown(), p.from),
    )
}

/// Why the login ends when a proxy asks for credentials: it refused the ones given
/// (`retry`), or none are set.
pub fn proxy_refused(proxy: Option<&Proxy>, host: &str, port: u32, retry: bool) -> String {
    let proxy_named = named(proxy, host, port);
    if retry || proxy.is_some_and(|p| p.user.is_some()) {
        format!(
            "{proxy_named} refused credtray's credentials (407 Proxy Authentication Required): check the proxy user and password (credtray settings proxy URL --user USER --password -)"
        )
    } else {
        format!(
            "{proxy_named} asks for a user and password (407 Proxy Authentication Required) and none is set: give them with credtray settings proxy URL --user USER --password -"
        )
    }
}

/// Why the login ends when WebKit refuses a page's certificate while a CA bundle is configured.
pub fn untrusted(url: &str, errors: &str, bundle: &std::path::Path, named_by: &str) -> String {
    format!(
        "the identity provider's page {} has a certificate the login window does not trust ({errors}): the login window trusts only the system's certificate store and can't use the CA bundle {} (from {named_by}); install that CA into the system's store (on Debian and Ubuntu: copy it as a .crt file into /usr/local/share/ca-certificates/ and run sudo update-ca-certificates)",
        credtray::saml_login::loggable(url),
        bundle.display(),
    )
}

/// Sets `view`'s proxies (before its first load: WebKit's network process takes them for
/// every load after).
#[cfg(target_os = "linux")]
pub fn apply(view: &webkit2gtk::WebView, proxying: &Proxying) -> Result<(), String> {
    use webkit2gtk::{NetworkProxyMode, NetworkProxySettings, WebViewExt, WebsiteDataManagerExt};
    let manager = view
        .website_data_manager()
        .ok_or("the login window's web view has no data manager to take the proxy")?;
    match proxying {
        Proxying::Direct => manager.set_network_proxy_settings(NetworkProxyMode::NoProxy, None),
        Proxying::Custom {
            http,
            https,
            ignore_hosts,
        } => {
            let ignore: Vec<&str> = ignore_hosts.iter().map(String::as_str).collect();
            // No default proxy: a scheme without its own (ws, ftp) goes direct, as it does
            // for curl.
            let mut settings = NetworkProxySettings::new(None, &ignore);
            for (scheme, proxy) in [("http", http), ("https", https)] {
                if let Some(proxy) = proxy {
                    settings.add_proxy_for_scheme(scheme, proxy);
                }
            }
            manager.set_network_proxy_settings(NetworkProxyMode::Custom, Some(&mut settings));
        }
    }
    Ok(())
}

/// Answers a proxy's request for credentials with the route's user and password (never kept
/// by WebKit), once: asked again, or with none to give, the login ends with `refused`'s
/// sentence. A page's own request for credentials (HTTP authentication) gets WebKit's dialog
/// as before. A proxy that answers 407 without asking (no `Proxy-Authenticate`) ends it too.
#[cfg(target_os = "linux")]
pub fn answer_the_proxy(
    view: &webkit2gtk::WebView,
    route: Route,
    refused: impl Fn(String) + Clone + 'static,
) {
    use secrecy::ExposeSecret;
    use webkit2gtk::{
        AuthenticationRequestExt, Credential, CredentialPersistence, LoadEvent, URIResponseExt,
        WebResourceExt, WebViewExt,
    };
    let page = route.clone();
    let end = refused.clone();
    view.connect_authenticate(move |_, request| {
        if !request.is_for_proxy() {
            return false;
        }
        let host = request.host().map(|h| h.to_string()).unwrap_or_default();
        let port = request.port();
        let proxy = at(&route, &host, port);
        let retry = request.is_retry();
        match proxy.and_then(|p| Some((p.user.as_deref()?, p.password()))) {
            Some((user, password)) if !retry => {
                tracing::info!(proxy = %named(proxy, &host, port), "answering the proxy's request for credentials");
                let password = password.map_or("", |p| p.expose_secret());
                let credential = Credential::new(user, password, CredentialPersistence::None);
                glue::authenticate(request, &credential);
            }
            _ => {
                refused(proxy_refused(proxy, &host, port, retry));
                request.cancel();
            }
        }
        true
    });
    view.connect_load_changed(move |view, event| {
        if event != LoadEvent::Committed {
            return;
        }
        let status = view
            .main_resource()
            .and_then(|r| r.response())
            .map(|r| r.status_code());
        if status == Some(407) {
            let url = view.uri().map(|u| u.to_string()).unwrap_or_default();
            let proxy = url
                .parse::<http::Uri>()
                .ok()
                .and_then(|uri| page.proxy_for(&uri));
            let (host, port) = proxy.map_or((String::new(), 0), |p| {
                (p.url.host().to_owned(), u32::from(p.url.port()))
            });
            // Not a retry: whether credentials were given is the proxy's own (a user set).
            end(proxy_refused(proxy, &host, port, false));
        }
    });
}

/// Ends the login with [`untrusted`]'s sentence when WebKit refuses a page's certificate while a
/// CA bundle is configured; without one, WebKit's own error says it (`load-failed`).
#[cfg(target_os = "linux")]
pub fn refuse_untrusted(
    view: &webkit2gtk::WebView,
    bundle: Option<credtray::net::Bundle>,
    refused: impl Fn(String) + 'static,
) {
    use webkit2gtk::WebViewExt;
    view.connect_load_failed_with_tls_errors(move |_, url, _, errors| {
        let Some(bundle) = &bundle else {
            return false;
        };
        refused(untrusted(
            url,
            &format!("{errors:?}"),
            &bundle.path,
            &bundle.named_by,
        ));
        true
    });
}

/// What webkit2gtk's safe API leaves out.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod glue {
    use webkit2gtk::glib::translate::ToGlibPtr;
    use webkit2gtk::{AuthenticationRequest, Credential};

    /// `webkit_authentication_request_authenticate`, which the crate does not bind.
    pub fn authenticate(request: &AuthenticationRequest, credential: &Credential) {
        let request: *mut webkit2gtk_sys::WebKitAuthenticationRequest = request.to_glib_none().0;
        let credential: *const webkit2gtk_sys::WebKitCredential = credential.to_glib_none().0;
        // SAFETY: both pointers come from values borrowed for the whole call (a GObject and a
        // boxed credential); WebKit reads the credential (copying it) and neither keeps nor
        // frees it, so the `*mut` it asks for is never written through.
        unsafe {
            webkit2gtk_sys::webkit_authentication_request_authenticate(
                request,
                credential.cast_mut(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credtray::net::Settings;

    fn no_proxy(list: &str) -> NoProxy {
        NoProxy::new(list).unwrap()
    }

    #[test]
    fn no_proxy_becomes_glibs_ignore_hosts() {
        assert_eq!(
            ignore_hosts(&no_proxy(
                " .Corp , internal.example,, 10.1.2.3/8,192.168.0.7, ::1, fd00::1/8 "
            ))
            .unwrap(),
            [
                "*.corp",
                "corp",
                "*.internal.example",
                "internal.example",
                "10.0.0.0/8",
                "192.168.0.7",
                "::1",
                "fd00::/8",
            ]
        );
        assert_eq!(ignore_hosts(&no_proxy("")).unwrap(), Vec::<String>::new());
        assert_eq!(ignore_hosts(&no_proxy("a.test,*")), None);
        // What the other calls never match (hyper-util's reading) is no exception here either.
        assert_eq!(
            ignore_hosts(&no_proxy("host:8080,[::1],*.glob,ok")).unwrap(),
            ["*.ok", "ok"]
        );
        assert_eq!(ignore_hosts(&no_proxy("0.0.0.0/0")).unwrap(), ["0.0.0.0/0"]);
    }

    /// GLib's and hyper-util's readings agree: what the ignore-hosts name is what the route
    /// bypasses.
    #[test]
    fn the_ignore_hosts_bypass_what_the_route_bypasses() {
        let list = no_proxy(".corp,10.0.0.0/8,host:1,*.glob");
        let route = |host: &str| format!("https://{host}/").parse::<http::Uri>().unwrap();
        let bypassed = |host: &str| list.bypasses(&route(host));
        for host in ["corp", "a.corp", "b.a.corp", "10.2.3.4"] {
            assert!(bypassed(host), "{host}");
        }
        for host in ["notcorp", "host", "x.glob", "11.0.0.1"] {
            assert!(!bypassed(host), "{host}");
        }
    }

    fn route(vars: &[(&str, &str)], settings: &Settings) -> Route {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let var = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        Route::new(&var, settings, Some("s3cret".into())).unwrap()
    }

    #[test]
    fn each_scheme_takes_its_own_proxy_without_credentials() {
        let both = route(
            &[
                ("http_proxy", "http://plain:3128"),
                ("HTTPS_PROXY", "http://alice:s3cret@secure:8080"),
                ("NO_PROXY", "skip.test"),
            ],
            &Settings::default(),
        );
        assert_eq!(
            proxying(&both),
            Proxying::Custom {
                http: Some("http://plain:3128".to_owned()),
                https: Some("http://secure:8080".to_owned()),
                ignore_hosts: vec!["*.skip.test".to_owned(), "skip.test".to_owned()],
            }
        );
        assert!(!format!("{:?}", proxying(&both)).contains("s3cret"));
        let https_only = route(&[("https_proxy", "secure:8080")], &Settings::default());
        assert_eq!(
            proxying(&https_only),
            Proxying::Custom {
                http: None,
                https: Some("http://secure:8080".to_owned()),
                ignore_hosts: Vec::new(),
            }
        );
        assert_eq!(
            proxying(&route(&[], &Settings::default())),
            Proxying::Direct
        );
        let everything_direct = route(
            &[("https_proxy", "secure:8080"), ("no_proxy", "*")],
            &Settings::default(),
        );
        assert_eq!(proxying(&everything_direct), Proxying::Direct);
        let none = Settings {
            proxy: credtray::net::ProxySetting::Direct,
            ..Settings::default()
        };
        assert_eq!(
            proxying(&route(&[("HTTPS_PROXY", "http://env:1")], &none)),
            Proxying::Direct
        );
    }

    #[test]
    fn the_proxy_that_asks_is_named_with_its_password_masked() {
        let settings = Settings {
            proxy: credtray::net::ProxySetting::Via(
                credtray::net::ProxyUrl::parse_setting("http://proxy.corp:3128").unwrap(),
            ),
            proxy_user: Some(credtray::net::ProxyUser::new("bob").unwrap()),
            ..Settings::default()
        };
        let route = route(&[], &settings);
        let proxy = at(&route, "PROXY.corp", 3128);
        assert!(proxy.is_some());
        let said = proxy_refused(proxy, "proxy.corp", 3128, true);
        assert!(
            said.starts_with(
                "the proxy http://bob:***@proxy.corp:3128 (from [settings] proxy) refused"
            ),
            "{said}"
        );
        assert!(!said.contains("s3cret"), "{said}");
        assert!(at(&route, "proxy.corp", 3129).is_none());
        let unknown = proxy_refused(None, "other", 8080, false);
        assert!(
            unknown.contains("the proxy other:8080 asks for a user and password"),
            "{unknown}"
        );
    }

    #[test]
    fn an_untrusted_page_with_a_bundle_names_the_bundle_and_the_way_out() {
        let said = untrusted(
            "https://idp.corp/x\nforged",
            "UNKNOWN_CA",
            std::path::Path::new("/etc/corp/ca.pem"),
            "AWS_CA_BUNDLE",
        );
        for part in [
            "can't use the CA bundle /etc/corp/ca.pem (from AWS_CA_BUNDLE)",
            "UNKNOWN_CA",
            "system's store",
            "update-ca-certificates",
        ] {
            assert!(said.contains(part), "{part}: {said}");
        }
        assert!(!said.contains('\n'), "{said}");
    }
}
