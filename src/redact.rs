//! Scrubbing of text that comes from outside, chiefly AWS's error messages, before it is
//! stored (`config.toml`'s `error = …`), shown (toasts, `--json`) or logged: whatever is shaped
//! like an access key id, a secret access key, a session token or a SAML assertion becomes
//! [`REDACTED`]. Written by hand (no regex crate in the tree): the shapes are few, and the
//! tests pin both what goes and what must survive (ARNs, account ids, regions, role names,
//! request ids, hex digests).
//!
//! Also [`escaped`]: outside text made safe to print, its characters that act on the display
//! (controls, Unicode's line breaks and bidirectional controls) written out as escapes. The one
//! escaper for every place that shows what an agent, a page or a child process said.

/// What a scrubbed secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Prefixes of AWS unique ids: access keys (`AKIA`), temporary keys (`ASIA`), users, roles,
/// groups, policies, instance profiles, certificates, public keys, bearer tokens.
const KEY_ID_PREFIXES: [&str; 12] = [
    "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "AKIA", "ANPA", "ANVA", "APKA", "AROA", "ASCA", "ASIA",
];
/// An access key id is 16 to 128 characters of `[A-Z0-9]`.
const KEY_ID_MIN: usize = 16;
/// AWS secret access keys are 40 characters of base64.
const SECRET_LEN: usize = 40;
/// Session tokens and SAML assertions run to hundreds of base64 characters; nothing a person
/// should read is 100 characters without a space.
const LONG_TOKEN: usize = 100;
/// Base64 wrapped into lines (PEM, MIME: 64 or 76 columns) stays one token across its breaks.
const WRAPPED_LINE: usize = 60;

/// `text` with every secret-shaped token replaced by [`REDACTED`]. ARNs are kept whole.
pub fn scrub(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if text[i..].starts_with("arn:") {
            // `i` is never inside a token here, so this is an ARN's start; ARNs name accounts,
            // roles and users, never secrets, and their resource part (`role/…`) must not be
            // mistaken for a key.
            let end = text[i..]
                .find(|c: char| c.is_whitespace() || "\"'`<>()[]{}".contains(c))
                .map_or(text.len(), |n| i + n);
            out.push_str(&text[i..end]);
            i = end;
        } else if is_token_byte(bytes[i]) {
            let end = token_end(bytes, i);
            scrub_token(&text[i..end], &mut out);
            i = end;
        } else {
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Characters of base64, base64url and percent-encoding: what a token is made of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+/=_-%".contains(&b)
}

fn is_base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

fn is_key_id_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

/// Where the token starting at `start` ends. A line break between two lines of at least
/// [`WRAPPED_LINE`] token characters continues it (wrapped base64); a short line after a token
/// (`host;…` after a session token) does not.
fn token_end(bytes: &[u8], start: usize) -> usize {
    let line_end = |from: usize| {
        bytes[from..]
            .iter()
            .position(|&b| !is_token_byte(b))
            .map_or(bytes.len(), |n| from + n)
    };
    let mut line_start = start;
    loop {
        let end = line_end(line_start);
        let line_break = if bytes[end..].starts_with(b"\r\n") {
            2
        } else {
            usize::from(bytes[end..].starts_with(b"\n"))
        };
        let next = end + line_break;
        if line_break == 0
            || end - line_start < WRAPPED_LINE
            || line_end(next) - next < WRAPPED_LINE
        {
            return end;
        }
        line_start = next;
    }
}

/// Random base64 has all three kinds of character; words, paths and hex digests don't.
fn is_mixed(token: &str) -> bool {
    let has = |f: fn(&u8) -> bool| token.as_bytes().iter().any(f);
    has(u8::is_ascii_uppercase) && has(u8::is_ascii_lowercase) && has(u8::is_ascii_digit)
}

fn scrub_token(token: &str, out: &mut String) {
    let length = token.bytes().filter(|&b| is_token_byte(b)).count();
    if length >= LONG_TOKEN && is_mixed(token) {
        out.push_str(REDACTED);
        return;
    }
    for (base64, piece) in pieces(token, is_base64_byte) {
        let secret_shaped = piece.len() == SECRET_LEN
            && piece.bytes().any(|b| b.is_ascii_uppercase())
            && piece.bytes().any(|b| b.is_ascii_lowercase())
            && piece
                .bytes()
                .any(|b| b.is_ascii_digit() || b == b'/' || b == b'+');
        if base64 && secret_shaped {
            out.push_str(REDACTED);
        } else {
            scrub_key_ids(piece, out);
        }
    }
}

fn scrub_key_ids(text: &str, out: &mut String) {
    for (id_chars, piece) in pieces(text, is_key_id_byte) {
        if id_chars
            && piece.len() >= KEY_ID_MIN
            && KEY_ID_PREFIXES.iter().any(|p| piece.starts_with(p))
        {
            out.push_str(REDACTED);
        } else {
            out.push_str(piece);
        }
    }
}

/// `text` cut into maximal pieces whose bytes all are, or all are not, in `class` (an ASCII
/// class, so every cut falls on a character boundary).
fn pieces(text: &str, class: fn(u8) -> bool) -> impl Iterator<Item = (bool, &str)> {
    let bytes = text.as_bytes();
    let mut start = 0;
    std::iter::from_fn(move || {
        let kind = class(*bytes.get(start)?);
        let len = bytes[start..]
            .iter()
            .position(|&b| class(b) != kind)
            .unwrap_or(bytes.len() - start);
        let piece = &text[start..start + len];
        start += len;
        Some((kind, piece))
    })
}

/// `text` safe to print on one line: control characters (escape sequences, carriage returns,
/// line breaks), Unicode's line and paragraph separators and its bidirectional controls are
/// written out as Rust escapes (`\u{1b}`, `\n`, `\u{2028}`, `\u{202e}`), so once printed
/// it can't drive or retitle a terminal, begin a line that reads as credtray's own (a forged
/// `credtray: …`), or reorder the text around it in a terminal or a toast. With `max`, only the
/// first `max` characters are kept, then `…` (a page or a peer may send megabytes).
pub fn escaped(text: &str, max: Option<usize>) -> String {
    let mut shown = String::with_capacity(text.len().min(max.unwrap_or(usize::MAX)));
    for (i, c) in text.chars().enumerate() {
        if max == Some(i) {
            shown.push('…');
            break;
        }
        if acts_on_display(c) {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}

/// Characters that change how text is shown instead of being shown: the C0 and C1 controls
/// (NEL, U+0085, among them), the line and paragraph separators, and Unicode's whole
/// Bidi_Control set (the Arabic letter mark, the left-to-right and right-to-left marks, the
/// embeddings, overrides and isolates).
fn acts_on_display(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn token() -> String {
        // The shape of an STS session token: a few hundred characters of base64.
        "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDx7Kq2+9zWb3f1".repeat(6)
    }

    #[test]
    fn key_ids_secrets_and_tokens_are_redacted() {
        let cases = [
            (
                "The key AKIAIOSFODNN7EXAMPLE is unknown.",
                "The key <redacted> is unknown.",
            ),
            (
                "Credential=ASIAQWERTYUIOP123456/20261128/us-east-1/sts/aws4_request",
                "Credential=<redacted>/20261128/us-east-1/sts/aws4_request",
            ),
            (
                "caller AROA1234567890ABCDEFG:jane and AIDAJQABLZS4A3QDU576Q",
                "caller <redacted>:jane and <redacted>",
            ),
            (&format!("secret {SECRET}."), "secret <redacted>."),
            (
                &format!("aws_secret_access_key={SECRET}"),
                "aws_secret_access_key=<redacted>",
            ),
        ];
        for (raw, scrubbed) in cases {
            assert_eq!(scrub(raw), scrubbed, "{raw}");
        }
        let token = token();
        assert_eq!(
            scrub(&format!("x-amz-security-token:{token}\nhost;x-amz-date")),
            "x-amz-security-token:<redacted>\nhost;x-amz-date"
        );
        assert_eq!(
            scrub(&format!("token \"{token}==\" rejected")),
            "token \"<redacted>\" rejected"
        );
    }

    #[test]
    fn a_saml_assertion_is_redacted_even_wrapped_into_lines() {
        let assertion =
            "PHNhbWxwOlJlc3BvbnNlIHhtbG5zOnNhbWxwPSJ1cm46b2FzaXM6bmFtZXM6dGM6U0FN".repeat(5);
        assert_eq!(
            scrub(&format!("Invalid SAMLResponse {assertion}")),
            "Invalid SAMLResponse <redacted>"
        );
        let wrapped: Vec<&str> = [&assertion[..76], &assertion[76..152], &assertion[152..]].into();
        assert_eq!(
            scrub(&format!("assertion:\r\n{}\r\nend", wrapped.join("\r\n"))),
            "assertion:\r\n<redacted>\r\nend"
        );
    }

    #[test]
    fn arns_account_ids_regions_and_names_survive() {
        for text in [
            "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/ThisRoleNameIsFortyCharactersLong1234567",
            "arn:aws-us-gov:sts::123456789012:assumed-role/AROAISTHENAMEOFTHEROLE/jane@example.com",
            "account 123456789012 in us-east-1, eu-central-1, ap-southeast-2 and us-gov-west-1",
            "role AdministratorAccess and OrganizationAccountAccessRole, session credtray-Prod-Admin",
            "RequestId: 4c6d1b2a-9f3e-4d2c-8b1a-0e5f6a7b8c9d",
            "sha256 9e107d9d372bb6826bd81d3542a419d6e3b0c44298fc1c149afbf4c8996fb924",
            "commit da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "The security token included in the request is invalid.",
            "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
            "20261128T010203Z AWS4-HMAC-SHA256 x-amz-content-sha256",
            "a path /division/department/team/project/service/component/subsystem/module/function/leaf-node-name",
            "ünïcödé — 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓ stays",
            "AKIA is a prefix; AKIA123 is too short to be a key id",
            "",
        ] {
            assert_eq!(scrub(text), text);
        }
    }

    #[test]
    fn scrubbing_twice_changes_nothing_more() {
        let once = scrub(&format!("AKIAIOSFODNN7EXAMPLE {SECRET} {}", token()));
        assert_eq!(once, "<redacted> <redacted> <redacted>");
        assert_eq!(scrub(&once), once);
    }

    /// The agent client's old `printable` wrote out only control characters: a line separator
    /// began a line of the peer's own in a toast, a bidi override reordered what followed.
    #[test]
    fn escaped_writes_out_controls_line_separators_and_bidi_controls() {
        assert_eq!(
            escaped("denied\u{1b}]0;owned\u{7}\u{1b}[2J\r\n\tx\u{85}", None),
            r"denied\u{1b}]0;owned\u{7}\u{1b}[2J\r\n\tx\u{85}"
        );
        assert_eq!(
            escaped("ok\u{2028}credtray: forged\u{2029}", None),
            r"ok\u{2028}credtray: forged\u{2029}"
        );
        assert_eq!(
            escaped(
                "\u{202e}fdp.exe\u{202c} \u{202a}\u{202b}\u{202d} \u{2066}\u{2067}\u{2068}a\u{2069} \u{200e}\u{200f}\u{61c}",
                None
            ),
            r"\u{202e}fdp.exe\u{202c} \u{202a}\u{202b}\u{202d} \u{2066}\u{2067}\u{2068}a\u{2069} \u{200e}\u{200f}\u{61c}"
        );
        for kept in [
            "plain text, ünïcödé — 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓ 日本語 العربية",
            "https://idp.example.com/saml?x=1&y=%20",
            "",
        ] {
            assert_eq!(escaped(kept, None), kept);
        }
    }

    #[test]
    fn escaped_keeps_at_most_max_characters_then_an_ellipsis() {
        assert_eq!(escaped("abcdef", Some(3)), "abc…");
        assert_eq!(escaped("abc", Some(3)), "abc");
        assert_eq!(escaped("ä\nä", Some(2)), r"ä\n…");
        assert_eq!(escaped(&"ä".repeat(10_000), Some(300)).chars().count(), 301);
        assert_eq!(escaped(&"a".repeat(10_000), None).len(), 10_000);
    }
}
