//! AWS knowledge that is not a call: the partitions and their regions, and the shape of
//! temporary credentials. (The STS client joins this module with the session engine.)

mod fake;
mod regions_data;
pub mod sts;

pub use fake::{Call, Fake};
pub use sts::Sts;

use secrecy::SecretString;
use time::OffsetDateTime;

use regions_data::REGIONS;

/// Temporary credentials as STS hands them out. No `Debug` that could print them.
pub struct Credentials {
    pub access_key_id: SecretString,
    pub secret_access_key: SecretString,
    pub session_token: SecretString,
    pub expiration: OffsetDateTime,
}

impl Credentials {
    /// Whether they are still good for at least `margin`.
    pub fn valid_for(&self, margin: time::Duration, now: OffsetDateTime) -> bool {
        self.expiration - now >= margin
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
    fn suggests_the_nearest_region() {
        assert_eq!(nearest_region("eu-wset-1"), Some("eu-west-1"));
        assert_eq!(nearest_region("US-EAST-1X"), Some("us-east-1"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
