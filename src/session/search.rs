//! Finding sessions by what a person remembers of them (the tray's *Find session…*): a query
//! matches a session when it is a substring of its alias, account, role, named profile or
//! region, or the initials of its alias (`pa` finds `prod-admin`), ignoring case. Results
//! come best first: an alias that starts with the query, then initials, then any other match;
//! alphabetical within each. Pure, and fast enough to run on every keystroke over thousands
//! of sessions (`benches/search.rs`).

use super::{Catalog, Session, SessionKind};

/// How well a session matches; lower is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    AliasPrefix,
    Initials,
    Substring,
}

/// The sessions of `catalog` that match `query`, best first; every session (alphabetically)
/// for an empty query.
pub fn search<'a>(catalog: &'a Catalog, query: &str) -> Vec<&'a Session> {
    let query = query.trim().to_lowercase();
    let mut found: Vec<(Rank, String, &Session)> = catalog
        .sessions()
        .iter()
        .filter_map(|s| {
            let alias = s.alias.as_str().to_lowercase();
            let rank = rank(s, &alias, &query)?;
            Some((rank, alias, s))
        })
        .collect();
    found.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    found.into_iter().map(|(_, _, s)| s).collect()
}

fn rank(s: &Session, alias: &str, query: &str) -> Option<Rank> {
    if query.is_empty() || alias.starts_with(query) {
        return Some(Rank::AliasPrefix);
    }
    if initials_match(alias, query) {
        return Some(Rank::Initials);
    }
    let mut fields = vec![alias, s.profile.as_str(), s.region.as_str()];
    if let SessionKind::AwsSsoRole {
        account_id,
        role_name,
        ..
    } = &s.kind
    {
        fields.extend([account_id.as_str(), role_name.as_str()]);
    }
    if let SessionKind::IamRoleChained { role_arn, .. }
    | SessionKind::IamRoleFederated { role_arn, .. } = &s.kind
    {
        fields.push(role_arn.as_str());
    }
    fields
        .iter()
        .any(|f| contains_folded(f, query))
        .then_some(Rank::Substring)
}

/// `haystack` contains `needle` (already lowercase), ignoring ASCII case without allocating.
fn contains_folded(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.len() > h.len() {
        return false;
    }
    if !needle.is_ascii() || !haystack.is_ascii() {
        return haystack.to_lowercase().contains(needle);
    }
    h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// The query's letters are the first letters of the alias's words, in order (words split at
/// `-`, `_`, `.`, `/`, `@`, spaces and case changes are not considered).
fn initials_match(alias: &str, query: &str) -> bool {
    let initials: String = alias
        .split(|c: char| !c.is_alphanumeric())
        .filter_map(|w| w.chars().next())
        .collect();
    initials.starts_with(query) && query.chars().count() > 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::NewSession;

    fn catalog() -> Catalog {
        let mut c = Catalog::default();
        for (alias, profile) in [
            ("prod-admin", "prod"),
            ("dev", "default"),
            ("payments-api", "pay"),
            ("sandbox/ReadOnly", "sandbox-ro"),
        ] {
            c.add(NewSession {
                alias: alias.parse().unwrap(),
                profile: Some(profile.parse().unwrap()),
                region: Some("eu-west-1".into()),
                publish: None,
                kind: SessionKind::IamUser {
                    mfa_device: None,
                    mfa_source: None,
                },
            })
            .unwrap();
        }
        c
    }

    fn aliases(c: &Catalog, q: &str) -> Vec<String> {
        search(c, q).iter().map(|s| s.alias.to_string()).collect()
    }

    #[test]
    fn prefixes_come_first_then_initials_then_any_field() {
        let c = catalog();
        assert_eq!(aliases(&c, "pa"), ["payments-api", "prod-admin"]);
        assert_eq!(aliases(&c, "PROD"), ["prod-admin"]);
        assert_eq!(aliases(&c, "readonly"), ["sandbox/ReadOnly"]);
        assert_eq!(
            aliases(&c, "sandbox-ro"),
            ["sandbox/ReadOnly"],
            "the profile"
        );
        assert_eq!(aliases(&c, "west-1").len(), 4, "the region");
        assert_eq!(
            aliases(&c, "  ").len(),
            4,
            "an empty query lists everything"
        );
        assert!(aliases(&c, "nothing-like-it").is_empty());
        // One letter is a prefix or a substring, never initials.
        assert_eq!(aliases(&c, "d")[0], "dev");
    }
}
