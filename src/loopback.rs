//! The small part of HTTP/1.1 that credtray's loopback servers speak (`exec`'s credentials
//! endpoint, the browser's one-time sign-in link): one request per connection, its head read
//! whole, its request line and `Authorization` header parsed; and the random tokens that guard
//! them.

use std::io::{self, Read};
use std::net::TcpStream;

use base64::Engine as _;
use zeroize::Zeroizing;

/// The most a request's head may take.
const MAX_HEAD: usize = 8 * 1024;

/// 32 random bytes from the OS, base64url without padding, wiped when dropped.
pub fn random_token() -> io::Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(Zeroizing::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(*bytes),
    ))
}

/// The request's head (up to the blank line); `None` when it is too long or the client goes.
pub fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut buffer = [0u8; 1024];
    loop {
        let n = stream.read(&mut buffer).ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buffer[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            return Some(head);
        }
        if head.len() > MAX_HEAD {
            return None;
        }
    }
}

/// What of a request these servers look at: the method, the path (without the query), the
/// `Authorization` header.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub authorization: Option<&'a [u8]>,
}

impl<'a> Request<'a> {
    pub fn parse(head: &'a [u8]) -> Option<Self> {
        let mut lines = head
            .split(|b| *b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let first = std::str::from_utf8(lines.next()?).ok()?;
        let mut parts = first.split(' ');
        let (method, target) = (parts.next()?, parts.next()?);
        // The query string is not part of the path.
        let path = target.split('?').next()?;
        let authorization = lines.take_while(|l| !l.is_empty()).find_map(|line| {
            let colon = line.iter().position(|b| *b == b':')?;
            let (name, value) = line.split_at(colon);
            name.eq_ignore_ascii_case(b"authorization")
                .then(|| value[1..].trim_ascii())
        });
        Some(Self {
            method,
            path,
            authorization,
        })
    }
}
