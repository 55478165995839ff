//! AWS: the partitions and their regions, temporary credentials and the one rule for when they
//! are refreshed, and STS behind a trait (`sts`: the aws-sdk-sts client; in unit tests, `fake`,
//! a scripted STS).

// The scripted STS exists only in unit-test builds, never in a shipped binary.
#[cfg(test)]
mod fake;
pub mod federation;
pub mod https;
pub mod pace;
pub mod process;
mod regions_data;
pub mod saml;
pub mod sso;
#[cfg(test)]
mod sso_fake;
pub mod sts;

#[cfg(test)]
pub use fake::{Call, Fake};
#[cfg(test)]
pub use sso_fake::FakeSso;
pub use sts::Sts;

use secrecy::SecretString;
use time::OffsetDateTime;

use regions_data::REGIONS;

/// Temporary credentials as STS hands them out. No `Debug` that could print them.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: SecretString,
    pub secret_access_key: SecretString,
    pub session_token: SecretString,
    pub expiration: OffsetDateTime,
    /// When credtray received them, if known (the engine stamps it; STS does not say): with
    /// the expiry, their lifetime, which sets their refresh margin.
    pub issued: Option<OffsetDateTime>,
}

impl Credentials {
    /// Whether they are due for a refresh (see [`refresh_due`]).
    pub fn refresh_due(&self, now: OffsetDateTime) -> bool {
        refresh_due(self.issued, self.expiration, now)
    }
}

/// The most a refresh margin can be: botocore refreshes below ~15 minutes, so credentials
/// with less than ~20 left would make SDKs refresh on every call.
pub const REFRESH_MARGIN: time::Duration = time::Duration::minutes(20);

/// How long before expiry credentials of this lifetime are refreshed: min(20 minutes, a third
/// of the lifetime), so a 15-minute SAML session is not "due" from its first minute. An
/// unknown lifetime gets the full 20 minutes.
pub fn refresh_margin(lifetime: Option<time::Duration>) -> time::Duration {
    lifetime.map_or(REFRESH_MARGIN, |l| REFRESH_MARGIN.min(l / 3))
}

/// The one refresh rule (cache reuse, rotation, and later the agent and exec): credentials
/// issued at `issued` and expiring at `expiration` are refreshed, never handed out, once less
/// than their refresh margin remains.
pub fn refresh_due(
    issued: Option<OffsetDateTime>,
    expiration: OffsetDateTime,
    now: OffsetDateTime,
) -> bool {
    expiration - now < refresh_margin(issued.map(|i| expiration - i))
}

/// What AWS said about a failed call, to end an error's sentence with: ` (AWS said: …)`, or
/// nothing when it said nothing (STS and IAM Identity Center errors both).
/// What TLS said, when a call failed because the endpoint's certificate is not trusted (its
/// error's causes are searched: the SDK and hyper wrap rustls's error a few levels down).
pub(crate) fn untrusted(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        let text = e.to_string();
        if text.contains("certificate") {
            return Some(text);
        }
        cause = e.source();
    }
    None
}

/// Why a call failed before any answer, when that is the proxy or TLS trust.
pub(crate) enum Transport {
    /// The proxy refused it: a sentence naming the proxy.
    Proxy(String),
    /// The endpoint's certificate is not trusted: a phrase naming the endpoint and saying
    /// what to do (`TLS certificate at https://… is not trusted (…); …`).
    Untrusted(String),
}

pub(crate) fn transport_cause(
    error: Option<&(dyn std::error::Error + 'static)>,
    endpoint: &str,
) -> Option<Transport> {
    let error = error?;
    if let Some(sentence) = crate::net::proxy_failure(error, endpoint) {
        return Some(Transport::Proxy(sentence));
    }
    untrusted(error).map(|why| Transport::Untrusted(untrusted_phrase(endpoint, &why)))
}

/// `TLS certificate at <endpoint> is not trusted (<why>); …what to do`.
pub(crate) fn untrusted_phrase(endpoint: &str, why: &str) -> String {
    format!(
        "TLS certificate at {endpoint} is not trusted ({why}); if a company CA inspects TLS, set {} or `credtray settings ca-bundle FILE` to its PEM bundle",
        crate::net::CA_BUNDLE_VAR
    )
}

/// The endpoint an SDK client calls: `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, or AWS's.
pub(crate) fn endpoint(service: &str, aws: String) -> String {
    [
        format!("AWS_ENDPOINT_URL_{service}"),
        "AWS_ENDPOINT_URL".to_owned(),
    ]
    .iter()
    .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    .unwrap_or(aws)
}

fn said(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(" (AWS said: {message})")
    }
}

/// An instant as RFC 3339 UTC (`2026-11-28T01:02:03Z`), as credential_process and AWS write
/// expiries.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// One region of the SDK's partition data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownRegion {
    pub code: &'static str,
    pub partition: &'static str,
    pub description: &'static str,
}

/// Every known region, sorted by code.
pub fn regions() -> impl Iterator<Item = KnownRegion> {
    REGIONS
        .iter()
        .map(|&(code, partition, description)| KnownRegion {
            code,
            partition,
            description,
        })
}

/// The known region with this exact code.
pub fn region(code: &str) -> Option<KnownRegion> {
    REGIONS
        .binary_search_by(|(c, _, _)| (*c).cmp(code))
        .ok()
        .and_then(|i| regions().nth(i))
}

/// The known region code closest to `code` by edit distance, for "did you mean" hints.
pub fn nearest_region(code: &str) -> Option<&'static str> {
    let code = code.to_ascii_lowercase();
    REGIONS
        .iter()
        .map(|(c, _, _)| (edit_distance(&code, c), *c))
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance over bytes (region codes are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_sorted_and_unique_so_binary_search_works() {
        assert!(REGIONS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn covers_every_partition_and_more_than_a_hand_typed_list() {
        for p in [
            "aws",
            "aws-cn",
            "aws-us-gov",
            "aws-iso",
            "aws-iso-b",
            "aws-iso-e",
            "aws-iso-f",
            "aws-eusc",
        ] {
            assert!(
                regions().any(|r| r.partition == p),
                "no region for partition {p}"
            );
        }
        // Leapp's hand-typed list had 31; the SDK data has more than 40.
        assert!(regions().count() > 40);
        assert_eq!(region("eu-west-1").map(|r| r.partition), Some("aws"));
        assert!(region("aws-global").is_none());
        assert!(region("eu-west-9").is_none());
    }

    #[test]
    fn credentials_shorter_than_the_margin_are_not_due_from_their_first_minute() {
        let issued = time::macros::datetime!(2026-11-28 10:00 UTC);
        let minutes = time::Duration::minutes;
        // A 900 s SAML session: margin 5 minutes.
        let saml = issued + minutes(15);
        assert!(!refresh_due(Some(issued), saml, issued + minutes(1)));
        assert!(!refresh_due(Some(issued), saml, issued + minutes(9)));
        assert!(refresh_due(Some(issued), saml, issued + minutes(11)));
        // A 12-hour session token: capped at 20 minutes.
        let token = issued + time::Duration::hours(12);
        assert!(!refresh_due(Some(issued), token, token - minutes(21)));
        assert!(refresh_due(Some(issued), token, token - minutes(19)));
        // Unknown lifetime: the full 20 minutes.
        assert!(refresh_due(None, saml, issued + minutes(1)));
        assert_eq!(refresh_margin(Some(time::Duration::hours(1))), minutes(20));
    }

    #[test]
    fn suggests_the_nearest_region() {
        assert_eq!(nearest_region("eu-wset-1"), Some("eu-west-1"));
        assert_eq!(nearest_region("US-EAST-1X"), Some("us-east-1"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
