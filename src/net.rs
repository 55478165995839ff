//! The network policy: the one place every outgoing HTTP(S) call of credtray gets its trust
//! roots and its proxy from. The AWS SDK's clients (STS, IAM Identity Center) take
//! [`Policy::sdk_http_client`]; the plain HTTPS calls outside the SDK (the console's
//! federation endpoint, `doctor`'s clock check) take [`Policy::https_connector`]. A test
//! (`nothing_else_builds_an_http_client`) keeps it so.
//!
//! Trust: the platform's roots plus, when `AWS_CA_BUNDLE` names one (as the AWS CLI reads it),
//! a PEM bundle of extra certificates: a company CA that inspects TLS. A bundle that can't be
//! read or holds no certificate is an error naming the file, never a silent fallback.
//!
//! Proxy: from the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, lower case
//! too) for the SDK's calls, as its default client does.

use std::path::PathBuf;
use std::sync::OnceLock;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_types::sdk_config::SharedHttpClient;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The variable the AWS CLI and SDKs read a CA bundle from.
pub const CA_BUNDLE_VAR: &str = "AWS_CA_BUNDLE";

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("the CA bundle {} (from {from}) can't be used: {why}", .path.display())]
    Bundle {
        path: PathBuf,
        from: &'static str,
        why: String,
    },
    #[error("no TLS root certificates to trust: {0}")]
    NoRoots(String),
}

/// Extra certificates to trust (checked: where they came from is only said when they can't
/// be used).
#[derive(Debug, Clone)]
struct Bundle {
    pem: Vec<u8>,
    certificates: Vec<CertificateDer<'static>>,
}

/// How this process reaches the network.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    bundle: Option<Bundle>,
}

/// The process's policy, read from the environment once.
pub fn policy() -> Result<&'static Policy, Error> {
    static POLICY: OnceLock<Result<Policy, Error>> = OnceLock::new();
    POLICY
        .get_or_init(|| Policy::from_env(|name| std::env::var_os(name)))
        .as_ref()
        .map_err(Clone::clone)
}

/// The AWS SDK's HTTP client under the process's policy; `None` when the policy can't be
/// used (its callers then fail each call with [`policy`]'s error before making it).
pub fn sdk_http_client() -> Option<SharedHttpClient> {
    policy().ok()?.sdk_http_client().ok()
}

impl Policy {
    /// The policy the environment (`var`) sets.
    pub fn from_env(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<Self, Error> {
        let bundle = match var(CA_BUNDLE_VAR).filter(|v| !v.is_empty()) {
            Some(path) => Some(read_bundle(PathBuf::from(path), CA_BUNDLE_VAR)?),
            None => None,
        };
        Ok(Self { bundle })
    }

    /// The HTTP client the AWS SDK's clients use: rustls (aws-lc), the platform's roots and
    /// the bundle, the proxy of the environment.
    pub fn sdk_http_client(&self) -> Result<SharedHttpClient, Error> {
        let mut trust = TrustStore::default();
        if let Some(bundle) = &self.bundle {
            // Parsed already (`read_bundle`): the SDK's own parser panics on a bad one.
            trust = trust.with_pem_certificate(bundle.pem.clone());
        }
        let context = TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .map_err(|e| Error::NoRoots(e.to_string()))?;
        Ok(
            Builder::new().build_with_connector_fn(move |settings, components| {
                let mut connector = ConnectorBuilder::default().tls_provider(
                    tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc),
                );
                connector.set_connector_settings(settings.cloned());
                if let Some(components) = components {
                    connector.set_sleep_impl(components.sleep_impl());
                }
                // As the SDK's default client does (behavior version 2025-08-07 and later).
                connector.set_proxy_config(Some(ProxyConfig::from_env()));
                connector.tls_context(context.clone()).build()
            }),
        )
    }

    /// The rustls configuration of the plain HTTPS calls: the platform's roots and the bundle.
    pub fn rustls_config(&self) -> Result<rustls::ClientConfig, Error> {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(native.certs);
        for certificate in self.bundle.iter().flat_map(|b| &b.certificates) {
            roots
                .add(certificate.clone())
                .map_err(|e| Error::NoRoots(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(Error::NoRoots(format!(
                "the platform has none ({added} loaded; {})",
                native
                    .errors
                    .first()
                    .map_or_else(|| "no error".to_owned(), ToString::to_string)
            )));
        }
        rustls::ClientConfig::builder_with_provider(
            rustls::crypto::aws_lc_rs::default_provider().into(),
        )
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::NoRoots(e.to_string()))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
    }

    /// The connector of the plain HTTPS calls (HTTP too, for local stubs).
    pub fn https_connector(
        &self,
    ) -> Result<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        Error,
    > {
        Ok(hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(self.rustls_config()?)
            .https_or_http()
            .enable_http1()
            .build())
    }
}

/// Reads and checks a PEM bundle: at least one certificate, each one that rustls can use.
fn read_bundle(path: PathBuf, from: &'static str) -> Result<Bundle, Error> {
    let fail = |why: String| Error::Bundle {
        path: path.clone(),
        from,
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
    Ok(Bundle { pem, certificates })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_bundle(text: &[u8]) -> (tempfile::TempDir, Result<Policy, Error>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bundle.pem");
        std::fs::write(&path, text).unwrap();
        let policy = Policy::from_env(|name| (name == CA_BUNDLE_VAR).then(|| path.clone().into()));
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
        let missing =
            Policy::from_env(|name| (name == CA_BUNDLE_VAR).then(|| "/nonexistent/ca.pem".into()))
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
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("src/net.rs") {
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
