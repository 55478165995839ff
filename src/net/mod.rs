//! The network policy: the one place every outgoing HTTP(S) call of credtray gets its trust
//! roots and its proxy from. The AWS SDK's clients (STS, IAM Identity Center) take
//! [`sdk_http_client`]; the plain HTTPS calls outside the SDK (the console's federation
//! endpoint, `doctor`'s clock check) take [`Policy::connector`]; the login window reads
//! [`Policy::route`]. A test (`nothing_else_builds_an_http_client`) keeps it so.
//!
//! Trust: the platform's roots plus, when one is configured, a PEM bundle of extra
//! certificates (a company CA that inspects TLS): `AWS_CA_BUNDLE`, else the `ca_bundle` of the
//! profile in `~/.aws/config` (`AWS_PROFILE`'s, or `[default]`), else `[settings] ca_bundle`,
//! the AWS CLI's precedence for the first two. A bundle that can't be read or holds no
//! certificate is an error naming the file, never a silent fallback.
//!
//! Proxy: see [`proxy`]: the environment as curl reads it, or `[settings] proxy`.
//!
//! The process's policy is read once, on the first call that needs it, from the source its
//! `main` installs ([`install`]: the store's settings and the keychain's proxy password), or
//! from the environment alone; [`forget`] makes the next call read it again (the tray, after its
//! Network… dialog).

pub mod child;
pub mod proxy;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_types::sdk_config::SharedHttpClient;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use secrecy::SecretString;

pub use proxy::{NoProxy, Proxy, ProxySetting, ProxyUrl, ProxyUser, Route, Settings};

/// The variable the AWS CLI and SDKs read a CA bundle from.
pub const CA_BUNDLE_VAR: &str = "AWS_CA_BUNDLE";

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("the CA bundle {} (from {from}) can't be used: {why}", .path.display())]
    Bundle {
        path: PathBuf,
        from: String,
        why: String,
    },
    #[error("no TLS root certificates to trust: {0}")]
    NoRoots(String),
    #[error(transparent)]
    Proxy(#[from] proxy::Refused),
    /// The settings or the proxy password could not be read.
    #[error("{0}")]
    Source(String),
}

/// Where the CA bundle in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleFrom {
    /// `AWS_CA_BUNDLE`.
    Environment,
    /// A profile's `ca_bundle` in `~/.aws/config`.
    Profile,
    /// `[settings] ca_bundle`.
    Settings,
}

/// Extra certificates to trust (checked when read).
#[derive(Debug, Clone)]
pub struct Bundle {
    pub path: PathBuf,
    pub from: BundleFrom,
    /// What set it, for messages (`AWS_CA_BUNDLE`, `ca_bundle of [default] in ~/.aws/config`).
    pub named_by: String,
    pem: Vec<u8>,
    certificates: Vec<CertificateDer<'static>>,
}

impl Bundle {
    /// How many certificates it holds.
    pub fn len(&self) -> usize {
        self.certificates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.certificates.is_empty()
    }
}

/// What the policy is made of beyond the environment: the store's settings, the keychain's
/// proxy password and the profile's `ca_bundle` (with what named it).
#[derive(Default)]
pub struct Inputs {
    pub settings: Settings,
    pub password: Option<SecretString>,
    pub profile_bundle: Option<(PathBuf, String)>,
}

/// How this process reaches the network.
#[derive(Clone, Default)]
pub struct Policy {
    bundle: Option<Bundle>,
    route: Route,
    sdk: Arc<OnceLock<Result<SharedHttpClient, Error>>>,
}

type Source = Box<dyn Fn() -> Result<Policy, Error> + Send + Sync>;
/// What the source reads from, as a value that changes when they do (the files' times).
type Stamp = Box<dyn Fn() -> Vec<Option<std::time::SystemTime>> + Send + Sync>;

static SOURCE: OnceLock<(Source, Stamp)> = OnceLock::new();
#[allow(clippy::type_complexity)]
static CURRENT: Mutex<
    Option<(
        Vec<Option<std::time::SystemTime>>,
        Result<Arc<Policy>, Error>,
    )>,
> = Mutex::new(None);

/// Sets where the process's policy is read from (once, by `main`; later calls are ignored),
/// and what says it must be read again: `stamp` changes when the files it reads change (so a
/// long-lived tray follows `credtray settings` run elsewhere).
pub fn install(
    source: impl Fn() -> Result<Policy, Error> + Send + Sync + 'static,
    stamp: impl Fn() -> Vec<Option<std::time::SystemTime>> + Send + Sync + 'static,
) {
    let _ = SOURCE.set((Box::new(source), Box::new(stamp)));
    forget();
}

/// Makes the next call read the policy again (the settings changed).
pub fn forget() {
    *CURRENT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
}

/// The process's policy, read on first use (from the installed source, or the environment)
/// and again when what it was read from has changed, or when the last read failed.
pub fn policy() -> Result<Arc<Policy>, Error> {
    let mut current = CURRENT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let stamp = SOURCE.get().map(|(_, stamp)| stamp()).unwrap_or_default();
    match current.as_ref() {
        Some((read_at, policy)) if *read_at == stamp => policy.clone(),
        _ => {
            let policy = SOURCE
                .get()
                .map_or_else(|| Policy::from_env(env_var), |(source, _)| source())
                .map(Arc::new);
            // A failure is not kept: what failed (a locked keychain, a bundle not there yet)
            // may be fixed without any watched file changing.
            *current = policy.as_ref().ok().map(|_| (stamp, policy.clone()));
            policy
        }
    }
}

/// The process environment, as text (a variable that isn't UTF-8 is as good as unset).
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The AWS SDK's HTTP client: each connection under the process's policy at the time (so a
/// changed setting takes effect without a new SDK configuration).
pub fn sdk_http_client() -> SharedHttpClient {
    SharedHttpClient::new(Current)
}

#[derive(Debug)]
struct Current;

impl HttpClient for Current {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        match policy().and_then(|p| p.sdk_http_client()) {
            Ok(client) => client.http_connector(settings, components),
            Err(e) => SharedHttpConnector::new(Refusing(e)),
        }
    }
}

/// A connector under a policy that can't be used: every call fails with why.
#[derive(Debug)]
struct Refusing(Error);

impl HttpConnector for Refusing {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Err(ConnectorError::other(self.0.clone().into(), None)))
    }
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("bundle", &self.bundle.as_ref().map(|b| &b.path))
            .field("https", &self.route.https)
            .field("http", &self.route.http)
            .field("no_proxy", &self.route.no_proxy)
            .finish()
    }
}

impl Policy {
    /// The policy of the environment alone (`var`).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Self::new(var, Inputs::default())
    }

    /// The policy the environment (`var`) and the `inputs` make.
    pub fn new(var: impl Fn(&str) -> Option<String>, inputs: Inputs) -> Result<Self, Error> {
        let bundle = if let Some(path) = var(CA_BUNDLE_VAR).filter(|v| !v.is_empty()) {
            Some(read_bundle(
                PathBuf::from(path),
                BundleFrom::Environment,
                CA_BUNDLE_VAR.to_owned(),
            )?)
        } else if let Some((path, named_by)) = inputs.profile_bundle {
            Some(read_bundle(path, BundleFrom::Profile, named_by)?)
        } else if let Some(path) = inputs.settings.ca_bundle.clone() {
            Some(read_bundle(
                path,
                BundleFrom::Settings,
                "[settings] ca_bundle".to_owned(),
            )?)
        } else {
            None
        };
        let route = Route::new(&var, &inputs.settings, inputs.password)?;
        Ok(Self {
            bundle,
            route,
            sdk: Arc::default(),
        })
    }

    /// Which proxy each call takes.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// The CA bundle trusted beside the platform's roots, if any.
    pub fn bundle(&self) -> Option<&Bundle> {
        self.bundle.as_ref()
    }

    /// The HTTP client the AWS SDK's clients use under this policy: rustls (aws-lc), the
    /// platform's roots and the bundle, the route's proxy. Built once per policy.
    fn sdk_http_client(&self) -> Result<SharedHttpClient, Error> {
        self.sdk
            .get_or_init(|| self.build_sdk_http_client())
            .clone()
    }

    fn build_sdk_http_client(&self) -> Result<SharedHttpClient, Error> {
        let mut trust = TrustStore::default();
        if let Some(bundle) = &self.bundle {
            // Parsed already (`read_bundle`): the SDK's own parser panics on a bad one.
            trust = trust.with_pem_certificate(bundle.pem.clone());
        }
        let context = TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .map_err(|e| Error::NoRoots(e.to_string()))?;
        let proxy = self.sdk_proxy_config()?;
        Ok(
            Builder::new().build_with_connector_fn(move |settings, components| {
                let mut connector = ConnectorBuilder::default().tls_provider(
                    tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc),
                );
                connector.set_connector_settings(settings.cloned());
                if let Some(components) = components {
                    connector.set_sleep_impl(components.sleep_impl());
                }
                connector.set_proxy_config(Some(proxy.clone()));
                connector.tls_context(context.clone()).build()
            }),
        )
    }

    /// The route as the SDK's client takes it (never `from_env`: the route has read it).
    fn sdk_proxy_config(&self) -> Result<ProxyConfig, Error> {
        let config =
            |proxy: &Proxy,
             make: fn(
                http::Uri,
            )
                -> Result<ProxyConfig, aws_smithy_http_client::proxy::ProxyError>| {
                let config = make(proxy.url.uri()).map_err(|e| {
                    Error::Proxy(proxy::Refused {
                        from: proxy.from.to_owned(),
                        why: e.to_string(),
                    })
                })?;
                let config = match proxy.encoded_auth() {
                    Some((user, password)) => config.with_basic_auth(user, password),
                    None => config,
                };
                Ok::<_, Error>(config.no_proxy(self.route.no_proxy.as_str()))
            };
        let route = &self.route;
        match (&route.https, &route.http) {
            (Some(https), Some(http)) if https.url == http.url && https.user == http.user => {
                config(https, ProxyConfig::all)
            }
            (Some(https), _) => config(https, ProxyConfig::https),
            (None, Some(http)) => config(http, ProxyConfig::http),
            (None, None) => Ok(ProxyConfig::disabled()),
        }
    }

    /// The rustls configuration of the plain HTTPS calls: the platform's roots and the bundle.
    pub fn rustls_config(&self) -> Result<rustls::ClientConfig, Error> {
        let mut roots = rustls::RootCertStore::empty();
        let native = native_roots();
        roots.add_parsable_certificates(native.0.iter().cloned());
        for certificate in self.bundle.iter().flat_map(|b| &b.certificates) {
            roots
                .add(certificate.clone())
                .map_err(|e| Error::NoRoots(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(Error::NoRoots(format!(
                "the platform has none ({})",
                native.1.as_deref().unwrap_or("no error")
            )));
        }
        rustls::ClientConfig::builder_with_provider(
            rustls::crypto::aws_lc_rs::default_provider().into(),
        )
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::NoRoots(e.to_string()))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
    }

    /// The connector of a plain HTTPS (or HTTP, for a local stub) call to `uri`: direct, or
    /// through the route's proxy (`CONNECT`, with its Basic auth).
    pub fn connector(&self, uri: &http::Uri) -> Result<Connector, Error> {
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(self.rustls_config()?)
            .https_or_http()
            .enable_http1();
        Ok(match self.route.proxy_for(uri) {
            None => Connector::Direct(builder.build()),
            Some(proxy) => {
                let mut tunnel = hyper_util::client::legacy::connect::proxy::Tunnel::new(
                    proxy.url.uri(),
                    hyper_util::client::legacy::connect::HttpConnector::new(),
                );
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth);
                }
                Connector::Proxied(builder.wrap_connector(tunnel))
            }
        })
    }
}

/// A plain HTTPS call's connector, direct or through a proxy.
pub enum Connector {
    Direct(hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>),
    Proxied(
        hyper_rustls::HttpsConnector<
            hyper_util::client::legacy::connect::proxy::Tunnel<
                hyper_util::client::legacy::connect::HttpConnector,
            >,
        >,
    ),
}

/// The platform's roots, loaded once per process (with the first error, if any).
fn native_roots() -> &'static (Vec<CertificateDer<'static>>, Option<String>) {
    static ROOTS: OnceLock<(Vec<CertificateDer<'static>>, Option<String>)> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let native = rustls_native_certs::load_native_certs();
        (native.certs, native.errors.first().map(ToString::to_string))
    })
}

/// Asks `proxy` to open a tunnel to `host:port` (a `CONNECT`, with its Basic auth), within
/// `within`: `Ok` with the proxy's status line when it answered 2xx, else why not as a
/// sentence naming the proxy (never its password).
pub fn connect_through(
    proxy: &Proxy,
    host: &str,
    port: u16,
    within: std::time::Duration,
) -> Result<String, String> {
    use std::io::{BufRead, Write};
    use std::net::ToSocketAddrs;
    let shown = proxy.shown();
    let address = (proxy.url.host(), proxy.url.port())
        .to_socket_addrs()
        .map_err(|e| format!("the proxy {shown} can't be found: {e}"))?
        .next()
        .ok_or_else(|| format!("the proxy {shown} has no address"))?;
    let stream = std::net::TcpStream::connect_timeout(&address, within)
        .map_err(|e| format!("the proxy {shown} could not be reached: {e}"))?;
    stream
        .set_read_timeout(Some(within))
        .and_then(|()| stream.set_write_timeout(Some(within)))
        .map_err(|e| e.to_string())?;
    let auth = proxy
        .basic_auth()
        .and_then(|v| {
            v.to_str()
                .ok()
                .map(|v| format!("Proxy-Authorization: {v}\r\n"))
        })
        .unwrap_or_default();
    let request = zeroize::Zeroizing::new(format!(
        "CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n"
    ));
    (&stream)
        .write_all(request.as_bytes())
        .map_err(|e| format!("the proxy {shown} closed the connection: {e}"))?;
    let mut line = String::new();
    std::io::BufReader::new(&stream)
        .read_line(&mut line)
        .map_err(|e| format!("the proxy {shown} did not answer: {e}"))?;
    let line = line.trim().to_owned();
    let _ = stream.shutdown(std::net::Shutdown::Both);
    match line.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') => Ok(line),
        Some("407") => Err(format!(
            "the proxy {shown} refused credtray's credentials ({line})"
        )),
        Some(_) => Err(format!(
            "the proxy {shown} would not open a tunnel to {host}:{port} ({line})"
        )),
        None => Err(format!("the proxy {shown} did not answer as an HTTP proxy")),
    }
}

/// A sentence for a failed call whose error (`e`, with its causes) says the proxy refused it,
/// naming the proxy (never its password): a 407 (the user or password is wrong), a proxy that
/// can't be reached, or a tunnel it would not open. `None` when the proxy is not the cause.
pub fn proxy_failure(e: &(dyn std::error::Error + 'static), target: &str) -> Option<String> {
    let proxy = policy()
        .ok()
        .and_then(|p| {
            let uri: http::Uri = target.parse().ok()?;
            p.route.proxy_for(&uri).cloned()
        })
        .map_or_else(
            || "the proxy".to_owned(),
            |p| format!("the proxy {} (from {})", p.shown(), p.from),
        );
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if let Some(what) = text.strip_prefix("tunnel error: ") {
            return Some(match what {
                "proxy authorization required" => {
                    // The password may have changed in the keychain alone (the store's and the
                    // files' stamps did not move): the next call reads it again.
                    forget();
                    format!(
                        "{proxy} refused credtray's credentials (407 Proxy Authentication Required): check the proxy user and password (credtray settings proxy URL --user USER --password -)"
                    )
                }
                "failed to create underlying connection" => {
                    format!("{proxy} could not be reached")
                }
                _ => format!("{proxy} would not open a tunnel to {target} ({what})"),
            });
        }
        cause = c.source();
    }
    None
}

/// Reads and checks a PEM bundle: at least one certificate, each one that rustls can use.
pub(crate) fn read_bundle(
    path: PathBuf,
    from: BundleFrom,
    named_by: String,
) -> Result<Bundle, Error> {
    let fail = |why: String| Error::Bundle {
        path: path.clone(),
        from: named_by.clone(),
        why,
    };
    let pem = std::fs::read(&path).map_err(|e| fail(e.to_string()))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("it is not PEM ({e})")))?;
    if certificates.is_empty() {
        return Err(fail("it holds no PEM certificate".to_owned()));
    }
    let mut check = rustls::RootCertStore::empty();
    for (n, certificate) in certificates.iter().enumerate() {
        check
            .add(certificate.clone())
            .map_err(|e| fail(format!("its certificate {} is unusable ({e})", n + 1)))?;
    }
    Ok(Bundle {
        path,
        from,
        named_by,
        pem,
        certificates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_bundle(text: &[u8]) -> (tempfile::TempDir, Result<Policy, Error>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bundle.pem");
        std::fs::write(&path, text).unwrap();
        let policy =
            Policy::from_env(|name| (name == CA_BUNDLE_VAR).then(|| path.display().to_string()));
        (dir, policy)
    }

    #[test]
    fn a_bundle_that_is_not_pem_or_holds_nothing_is_an_error_naming_the_file() {
        for (text, says) in [
            (&b"not a certificate\n"[..], "holds no PEM certificate"),
            (
                b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
                "not PEM",
            ),
            (
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "unusable",
            ),
        ] {
            let (_dir, policy) = with_bundle(text);
            let err = policy.unwrap_err().to_string();
            assert!(
                err.contains("bundle.pem") && err.contains("AWS_CA_BUNDLE") && err.contains(says),
                "{err}"
            );
        }
        let missing = Policy::from_env(|name| {
            (name == CA_BUNDLE_VAR).then(|| "/nonexistent/ca.pem".to_owned())
        })
        .unwrap_err()
        .to_string();
        assert!(missing.contains("/nonexistent/ca.pem"), "{missing}");
    }

    #[test]
    fn no_bundle_trusts_the_platform_alone() {
        let policy = Policy::from_env(|_| None).unwrap();
        assert!(policy.bundle.is_none());
        assert!(policy.rustls_config().is_ok());
    }

    /// Every HTTP client is built here: the SDK's configurations take
    /// [`Policy::sdk_http_client`], and nothing else builds a connector.
    #[test]
    fn nothing_else_builds_an_http_client() {
        let mut files = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
        let mut offenders = Vec::new();
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs")
                || path.starts_with(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/net"))
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let builds = [
                "HttpsConnectorBuilder",
                "ClientConfig::builder",
                "ConnectorBuilder",
            ]
            .iter()
            .any(|s| text.contains(s));
            let sdk_default =
                text.contains("aws_config::defaults(") && !text.contains(".http_client(");
            if builds || sdk_default {
                offenders.push(path.display().to_string());
            }
        }
        assert!(offenders.is_empty(), "{offenders:?}");
    }
}
