//! One GET over HTTPS (or HTTP, for a local stub) outside the AWS SDK, through the same hyper
//! and rustls (aws-lc-rs) it builds with and the network policy's trust roots
//! ([`crate::net`]): the console's federation endpoint, and `credtray doctor`'s look at STS's
//! clock.

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use zeroize::Zeroizing;

/// What came back.
pub struct Response {
    pub status: u16,
    /// The `Date` header, as sent.
    pub date: Option<String>,
    /// Wiped when dropped (it may be a token).
    pub body: Zeroizing<Vec<u8>>,
}

/// GETs `uri`, giving up after `within`; the reason as a sentence when there is no answer.
pub fn get(uri: &str, within: Duration) -> Result<Response, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let https = crate::net::policy()
            .and_then(crate::net::Policy::https_connector)
            .map_err(|e| e.to_string())?;
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build::<_, Empty<bytes::Bytes>>(https);
        let uri: http::Uri = uri.parse().map_err(|_| "not a URL".to_owned())?;
        let call = async {
            let response = client.get(uri).await.map_err(|e| match super::untrusted(&e) {
                // The error's causes (never the URI, which may carry a secret): rustls's
                // reason for refusing a certificate is a few levels down.
                Some(why) => format!(
                    "its TLS certificate is not trusted ({why}); if a company CA inspects TLS, set {} to its PEM bundle",
                    crate::net::CA_BUNDLE_VAR
                ),
                None => crate::error_sentence(&e),
            })?;
            let status = response.status().as_u16();
            let date = response
                .headers()
                .get(http::header::DATE)
                .and_then(|d| d.to_str().ok())
                .map(str::to_owned);
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<_, String>(Response {
                status,
                date,
                body: Zeroizing::new(body.to_vec()),
            })
        };
        tokio::time::timeout(within, call)
            .await
            .map_err(|_| format!("no answer within {} seconds", within.as_secs()))?
    })
}
