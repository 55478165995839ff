//! Proxies: the validated proxy URL ([`ProxyUrl`]), the user's network settings as the store
//! keeps them ([`Settings`]), and the route a call takes ([`Route`]): from the environment as
//! curl reads it, or from `[settings] proxy` / `no_proxy` / `proxy_user` (whose password is in
//! the keychain), which override it.
//!
//! curl's reading of the environment: `https_proxy` or `HTTPS_PROXY` for https targets,
//! `http_proxy` (lower case only: a CGI program's `HTTP_PROXY` could be set by a request
//! header) for http targets, `all_proxy` or `ALL_PROXY` for both when those are unset,
//! `no_proxy` or `NO_PROXY` for the hosts that go direct (comma-separated, spaces around an
//! entry ignored, a leading dot optional, `*` for all, IP addresses and CIDR ranges). A proxy
//! URL without a scheme is `http://`, without a port `:1080`. An `http://` proxy is reached in
//! the clear and asked to `CONNECT` to each target; `https://` and SOCKS proxies are refused
//! with a sentence saying so, never ignored into a direct connection.

use std::fmt;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};

/// The port curl assumes for a proxy URL without one.
const CURL_PROXY_PORT: u16 = 1080;

/// An `http://host:port` proxy: no user, no password, no path (those are kept elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    host: String,
    port: u16,
}

/// What `[settings] proxy` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProxySetting {
    /// Nothing set: the environment's proxy variables decide.
    #[default]
    Environment,
    /// `none`: every call goes direct, whatever the environment says.
    Direct,
    /// This proxy, whatever the environment says.
    Via(ProxyUrl),
}

/// The network settings of `[settings]`: the proxy, its user (the password is in the keychain,
/// [`crate::secrets::Item::ProxyPassword`]), the hosts that bypass it, and a CA bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub proxy: ProxySetting,
    /// Overrides `NO_PROXY` when set (curl's syntax, checked).
    pub no_proxy: Option<NoProxy>,
    /// The proxy's Basic-auth user, for [`ProxySetting::Via`].
    pub proxy_user: Option<ProxyUser>,
    /// A PEM bundle of extra certificates to trust, after `AWS_CA_BUNDLE` and the profile's.
    pub ca_bundle: Option<std::path::PathBuf>,
}

/// A proxy user name: not empty, no control characters, no `:` (Basic auth's separator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUser(String);

/// A `NO_PROXY` list, as written (curl's reading: see the module's doc), checked for what curl
/// would not take.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy(String);

/// A proxy URL's `user[:password]@` part, decoded.
type Userinfo = (String, Option<String>);

/// One proxy in effect: where it is, who we are to it, and what said so.
#[derive(Clone)]
pub struct Proxy {
    pub url: ProxyUrl,
    pub user: Option<String>,
    password: Option<SecretString>,
    /// The variable or setting it came from, for messages (`HTTPS_PROXY`, `[settings] proxy`).
    pub from: &'static str,
}

/// Which proxy each kind of target takes, and which hosts go direct.
#[derive(Clone, Default)]
pub struct Route {
    pub https: Option<Proxy>,
    pub http: Option<Proxy>,
    pub no_proxy: NoProxy,
    /// Where `no_proxy` came from (`NO_PROXY`, `[settings] no_proxy`), when anything set it.
    pub no_proxy_from: Option<&'static str>,
}

/// A proxy setting or variable that can't be used, as a sentence naming where it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{from} is not a usable proxy ({why})")]
pub struct Refused {
    pub from: String,
    pub why: String,
}

impl ProxyUrl {
    /// Reads a proxy URL as curl does (no scheme: `http://`; no port: 1080), refusing what
    /// credtray can't use; a `user[:password]@` part is returned beside it, decoded.
    fn parse_with_userinfo(text: &str) -> Result<(Self, Option<Userinfo>), String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("it is empty".to_owned());
        }
        let rest = match text.split_once("://") {
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "http" => rest,
                "https" => {
                    return Err("credtray reaches proxies over plain http:// only (an https:// proxy is not supported); give the proxy's http:// address".to_owned());
                }
                s if s.starts_with("socks") => {
                    return Err(format!(
                        "SOCKS proxies ({s}://) are not supported; give an http:// proxy"
                    ));
                }
                s => {
                    return Err(format!(
                        "the scheme {s}:// is not a proxy scheme (use http://)"
                    ));
                }
            },
            None => text,
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        if !path.is_empty() && path != "/" {
            return Err("a proxy URL has no path or query: give http://host:port".to_owned());
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport)?;
        let userinfo = userinfo.map(|info| {
            let (user, password) = match info.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (info, None),
            };
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (decode(user), password.map(decode))
        });
        Ok((Self { host, port }, userinfo))
    }

    /// A proxy URL for `[settings] proxy`: curl's reading, with no user or password in it (the
    /// user is a setting of its own, the password is kept in the keychain).
    pub fn parse_setting(text: &str) -> Result<Self, String> {
        match Self::parse_with_userinfo(text)? {
            (url, None) => Ok(url),
            (_, Some(_)) => Err(
                "give the proxy's user with --user and its password with --password - (read from standard input), not in the URL, which is kept in a plain file".to_owned(),
            ),
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// As an [`http::Uri`] (`http://host:port/`).
    pub fn uri(&self) -> http::Uri {
        // Checked when parsed: a host and a port always make a URI.
        http::Uri::builder()
            .scheme("http")
            .authority(self.authority())
            .path_and_query("/")
            .build()
            .unwrap_or_else(|_| http::Uri::from_static("http://invalid.invalid/"))
    }

    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn split_host_port(hostport: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "an IPv6 address without its closing ]".to_owned())?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("[{host}] is not an IPv6 address"));
        }
        (host, after.strip_prefix(':'))
    } else {
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        };
        if host.contains(':') {
            return Err("an IPv6 address goes in brackets (http://[::1]:3128)".to_owned());
        }
        (host, port)
    };
    if host.is_empty() {
        return Err("it names no host".to_owned());
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c))
    {
        return Err(format!("{host:?} is not a host name or an IP address"));
    }
    let port = match port {
        None => CURL_PROXY_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{p:?} is not a port (1 to 65535)"))?,
    };
    Ok((host.to_ascii_lowercase(), port))
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}", self.authority())
    }
}

impl ProxyUser {
    pub fn new(text: &str) -> Result<Self, String> {
        if text.is_empty() || text.chars().any(|c| c.is_control() || c == ':') {
            return Err(
                "a proxy user name is not empty and has no ':' or control character".to_owned(),
            );
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl NoProxy {
    /// Takes a list as curl does; refuses only what would silently match nothing curl meant
    /// (an entry with a space or a scheme inside it, a CIDR with a bad mask).
    pub fn new(text: &str) -> Result<Self, String> {
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry.contains(char::is_whitespace)
                || entry.contains("://")
                || entry.contains('/') && !cidr(entry)
            {
                return Err(format!(
                    "{entry:?} is not a host, a domain, an IP address or a CIDR range (entries are separated by commas)"
                ));
            }
        }
        Ok(Self(text.trim().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a call to `host` goes direct (curl's rules, as hyper-util implements them).
    pub fn bypasses(&self, uri: &http::Uri) -> bool {
        hyper_util::client::proxy::matcher::Matcher::builder()
            .all("http://proxy.invalid:1")
            .no(self.0.as_str())
            .build()
            .intercept(uri)
            .is_none()
    }
}

fn cidr(entry: &str) -> bool {
    entry.split_once('/').is_some_and(|(ip, mask)| {
        let max = match ip.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(_)) => 32,
            Ok(std::net::IpAddr::V6(_)) => 128,
            Err(_) => return false,
        };
        mask.parse::<u8>().is_ok_and(|m| m <= max)
    })
}

/// Characters percent-encoded in a user or password pasted into a proxy URL.
const USERINFO: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'%')
    .add(b':')
    .add(b'@')
    .add(b'/')
    .add(b'?')
    .add(b'#')
    .add(b'[')
    .add(b']')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

impl Proxy {
    /// The Basic `Proxy-Authorization` header's value, when there is a user.
    pub fn basic_auth(&self) -> Option<http::HeaderValue> {
        use base64::Engine as _;
        let user = self.user.as_deref()?;
        let password = self.password.as_ref().map_or("", |p| p.expose_secret());
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let mut value = http::HeaderValue::from_str(&format!("Basic {token}")).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// User and password percent-encoded, for a library that takes them in a URL.
    pub(super) fn encoded_auth(&self) -> Option<(String, String)> {
        let user = self.user.as_deref()?;
        let password = self.password.as_ref().map_or("", |p| p.expose_secret());
        Some((
            utf8_percent_encode(user, USERINFO).to_string(),
            utf8_percent_encode(password, USERINFO).to_string(),
        ))
    }

    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// The password, for a library that must be given it (the login window's WebKit).
    pub fn password(&self) -> Option<&SecretString> {
        self.password.as_ref()
    }

    /// `http://user:***@host:port` (the password masked), or the URL alone.
    pub fn shown(&self) -> String {
        match &self.user {
            Some(user) => format!(
                "http://{}{}@{}",
                user,
                if self.password.is_some() { ":***" } else { "" },
                self.url.authority()
            ),
            None => self.url.to_string(),
        }
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown())
    }
}

impl Route {
    /// The route the environment (`var`, curl's reading) and the settings make; the password
    /// is the keychain's, for a `[settings] proxy` with a user.
    pub fn new(
        var: &dyn Fn(&str) -> Option<String>,
        settings: &Settings,
        password: Option<SecretString>,
    ) -> Result<Self, Refused> {
        let first = |names: &[&'static str]| {
            names
                .iter()
                .find_map(|n| var(n).filter(|v| !v.trim().is_empty()).map(|v| (*n, v)))
        };
        let (no_proxy, no_proxy_from) = match &settings.no_proxy {
            Some(list) => (list.clone(), Some("[settings] no_proxy")),
            None => match first(&["no_proxy", "NO_PROXY"]) {
                Some((name, list)) => (
                    NoProxy::new(&list).map_err(|why| Refused {
                        from: name.to_owned(),
                        why,
                    })?,
                    Some(name),
                ),
                None => (NoProxy::default(), None),
            },
        };
        let (https, http) = match &settings.proxy {
            ProxySetting::Direct => (None, None),
            ProxySetting::Via(url) => {
                let proxy = Proxy {
                    url: url.clone(),
                    user: settings.proxy_user.as_ref().map(|u| u.as_str().to_owned()),
                    password: settings.proxy_user.as_ref().and(password),
                    from: "[settings] proxy",
                };
                (Some(proxy.clone()), Some(proxy))
            }
            ProxySetting::Environment => {
                let read = |names: &[&'static str]| -> Result<Option<Proxy>, Refused> {
                    let Some((name, text)) = first(names) else {
                        return Ok(None);
                    };
                    let (url, userinfo) =
                        ProxyUrl::parse_with_userinfo(&text).map_err(|why| Refused {
                            from: name.to_owned(),
                            why,
                        })?;
                    let (user, password) = match userinfo {
                        Some((user, password)) => (Some(user), password.map(SecretString::from)),
                        None => (None, None),
                    };
                    Ok(Some(Proxy {
                        url,
                        user,
                        password,
                        from: name,
                    }))
                };
                let all = read(&["all_proxy", "ALL_PROXY"])?;
                let https = read(&["https_proxy", "HTTPS_PROXY"])?.or_else(|| all.clone());
                let http = read(&["http_proxy"])?.or(all);
                (https, http)
            }
        };
        Ok(Self {
            https,
            http,
            no_proxy,
            no_proxy_from,
        })
    }

    /// The proxy a call to `uri` goes through, or `None` for a direct connection.
    pub fn proxy_for(&self, uri: &http::Uri) -> Option<&Proxy> {
        let proxy = match uri.scheme_str() {
            Some("http") => self.http.as_ref(),
            _ => self.https.as_ref(),
        }?;
        (!self.no_proxy.bypasses(uri)).then_some(proxy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn uri(s: &str) -> http::Uri {
        s.parse().unwrap()
    }

    #[test]
    fn proxy_urls_are_read_as_curl_reads_them() {
        for (text, shown) in [
            ("http://proxy.corp:3128", "http://proxy.corp:3128"),
            ("proxy.corp:3128", "http://proxy.corp:3128"),
            ("http://Proxy.Corp", "http://proxy.corp:1080"),
            ("http://10.0.0.1:8080/", "http://10.0.0.1:8080"),
            ("http://[::1]:3128", "http://[::1]:3128"),
            (" http://proxy:3128 ", "http://proxy:3128"),
        ] {
            assert_eq!(
                ProxyUrl::parse_setting(text).unwrap().to_string(),
                shown,
                "{text}"
            );
        }
        for (text, says) in [
            ("", "empty"),
            ("socks5://proxy:1080", "SOCKS"),
            ("https://proxy:443", "https://"),
            ("ftp://proxy:21", "not a proxy scheme"),
            ("http://proxy:99999", "not a port"),
            ("http://proxy:0", "not a port"),
            ("http://proxy:3128/path", "no path"),
            ("http://:3128", "no host"),
            ("http://pro xy:3128", "not a host"),
            ("http://alice:secret@proxy:3128", "--password -"),
            ("http://a:b:3128", "brackets"),
            ("http://[nothost]:3128", "not an IPv6"),
        ] {
            let err = ProxyUrl::parse_setting(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn the_environment_is_read_as_curl_reads_it() {
        let route = Route::new(
            &env(&[
                ("HTTPS_PROXY", "http://alice:p%40ss@proxy:3128"),
                ("HTTP_PROXY", "http://ignored:1"),
                ("NO_PROXY", " localhost , .internal,10.0.0.0/8 "),
            ]),
            &Settings::default(),
            None,
        )
        .unwrap();
        let https = route.proxy_for(&uri("https://sts.amazonaws.com/")).unwrap();
        assert_eq!(https.from, "HTTPS_PROXY");
        assert_eq!(https.user.as_deref(), Some("alice"));
        assert_eq!(https.password.as_ref().unwrap().expose_secret(), "p@ss");
        assert_eq!(https.shown(), "http://alice:***@proxy:3128");
        // Upper-case HTTP_PROXY is not read (curl's rule), so http goes direct.
        assert!(route.proxy_for(&uri("http://stub.test/")).is_none());
        for direct in [
            "https://localhost/",
            "https://a.internal/",
            "https://internal/",
            "https://10.1.2.3/",
        ] {
            assert!(route.proxy_for(&uri(direct)).is_none(), "{direct}");
        }
        assert!(route.proxy_for(&uri("https://notinternal/")).is_some());

        let all = Route::new(
            &env(&[("all_proxy", "proxy:8080")]),
            &Settings::default(),
            None,
        )
        .unwrap();
        assert_eq!(all.proxy_for(&uri("http://x/")).unwrap().from, "all_proxy");
        assert_eq!(all.proxy_for(&uri("https://x/")).unwrap().from, "all_proxy");
        let star = Route::new(
            &env(&[("https_proxy", "proxy:8080"), ("no_proxy", "*")]),
            &Settings::default(),
            None,
        )
        .unwrap();
        assert!(star.proxy_for(&uri("https://anything/")).is_none());
    }

    #[test]
    fn a_bad_variable_is_an_error_naming_it_never_a_direct_connection() {
        for (pairs, named) in [
            (vec![("HTTPS_PROXY", "socks5://p:1080")], "HTTPS_PROXY"),
            (vec![("https_proxy", "http://p:notaport")], "https_proxy"),
            (
                vec![("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "a b,c")],
                "NO_PROXY",
            ),
        ] {
            let err = Route::new(&env(&pairs), &Settings::default(), None)
                .err()
                .unwrap()
                .to_string();
            assert!(err.starts_with(named), "{err}");
        }
    }

    #[test]
    fn settings_override_the_environment() {
        let settings = Settings {
            proxy: ProxySetting::Via(ProxyUrl::parse_setting("http://set:3128").unwrap()),
            proxy_user: Some(ProxyUser::new("bob").unwrap()),
            no_proxy: Some(NoProxy::new("skip.test").unwrap()),
            ca_bundle: None,
        };
        let vars = env(&[("HTTPS_PROXY", "http://env:1"), ("NO_PROXY", "*")]);
        let route = Route::new(&vars, &settings, Some("pw".into())).unwrap();
        let p = route.proxy_for(&uri("https://sts.amazonaws.com/")).unwrap();
        assert_eq!(
            (p.from, p.shown().as_str()),
            ("[settings] proxy", "http://bob:***@set:3128")
        );
        assert!(route.proxy_for(&uri("https://skip.test/")).is_none());
        assert_eq!(
            p.basic_auth().unwrap().to_str().unwrap(),
            format!("Basic {}", base64_of("bob:pw"))
        );
        let direct = Settings {
            proxy: ProxySetting::Direct,
            ..Settings::default()
        };
        let route = Route::new(&vars, &direct, None).unwrap();
        assert!(
            route
                .proxy_for(&uri("https://sts.amazonaws.com/"))
                .is_none()
        );
    }

    fn base64_of(s: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn user_and_password_are_encoded_for_a_url() {
        let proxy = Proxy {
            url: ProxyUrl::parse_setting("p:1").unwrap(),
            user: Some("a@b".into()),
            password: Some("x:y/z%".into()),
            from: "test",
        };
        assert_eq!(
            proxy.encoded_auth().unwrap(),
            ("a%40b".to_owned(), "x%3Ay%2Fz%25".to_owned())
        );
        assert!(!format!("{proxy:?}").contains("x:y"));
    }

    #[test]
    fn no_proxy_lists_take_curls_spacing_and_refuse_what_it_would_not_match() {
        assert!(NoProxy::new("  a.test ,, b.test,  10.0.0.0/8,::1 ").is_ok());
        for bad in ["a test", "http://a.test", "10.0.0.0/99", "a.test/x"] {
            assert!(NoProxy::new(bad).is_err(), "{bad}");
        }
        assert!(ProxyUser::new("a:b").is_err() && ProxyUser::new("").is_err());
    }
}
