//! One GET over HTTPS (or HTTP, for a local stub) outside the AWS SDK, through the same hyper
//! and rustls (aws-lc-rs) it builds with and the network policy's trust roots
//! ([`crate::net`]: direct, or through its proxy): the console's federation endpoint, and `credtray doctor`'s look at STS's
//! clock.

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use zeroize::Zeroizing;

use crate::net::Connector;

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
    let uri: http::Uri = uri.parse().map_err(|_| "not a URL".to_owned())?;
    // Read before the runtime starts (it may ask the keychain for the proxy's password).
    let policy = crate::net::policy().map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let endpoint = format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map_or("", |a| a.as_str())
    );
    let call = async {
        match policy.connector(&uri).map_err(|e| e.to_string())? {
            Connector::Direct(c) => fetch(c, uri, &endpoint).await,
            Connector::Proxied(c) => fetch(c, uri, &endpoint).await,
        }
    };
    runtime.block_on(async {
        tokio::time::timeout(within, call)
            .await
            .map_err(|_| format!("no answer within {} seconds", within.as_secs()))?
    })
}

/// The GET through `connector`; `endpoint` (scheme and host, never the path or query, which
/// may carry a secret) names it in a failure.
async fn fetch<C>(connector: C, uri: http::Uri, endpoint: &str) -> Result<Response, String>
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Empty<bytes::Bytes>>(connector);
    let response =
        client
            .get(uri)
            .await
            .map_err(|e| match super::transport_cause(Some(&e), endpoint) {
                Some(super::Transport::Proxy(sentence)) => sentence,
                Some(super::Transport::Untrusted(why)) => format!("its {why}"),
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
    Ok(Response {
        status,
        date,
        body: Zeroizing::new(body.to_vec()),
    })
}
