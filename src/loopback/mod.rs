//! The small part of HTTP/1.1 that credtray's loopback servers speak (`exec`'s credentials
//! endpoint, the browser's one-time sign-in link): one request per connection, its head read
//! whole before a deadline, its request line and `Authorization` header parsed; the random
//! tokens that guard them; and who is at the other end of a loopback connection ([`peer`],
//! one module per platform: `linux.rs` reads the kernel's socket table, `other.rs` can't tell).

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::Instant;

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

/// The request's head (up to the blank line); `None` when it is too long, the client goes, or
/// the whole head has not arrived by `deadline`. The deadline is for the whole head, not for
/// each read: a client sending one byte now and then would otherwise hold the connection (and
/// whatever waits on it) for as long as it likes.
pub fn read_head(stream: &mut TcpStream, deadline: Instant) -> Option<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut buffer = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // A zero timeout means "block forever" to the OS, so the end is checked here.
        if left.is_zero() {
            return None;
        }
        stream.set_read_timeout(Some(left)).ok()?;
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

/// Who holds the other end of an accepted loopback connection ([`peer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A process of this process's (effective) user.
    Us,
    /// A process of another user, whose uid this is.
    Other { uid: u32 },
    /// Nobody any more: the client closed its end before it was asked.
    Gone,
}

/// Who is at the other end of an accepted loopback connection; asked before a byte is read
/// from it. A loopback port is open to every user of the machine, and a URL on a command line
/// is readable by all of them (`/proc/<pid>/cmdline`), so a server whose URL is a secret must
/// also know who asks, and a server anyone may ask must keep room for its own user.
///
/// Linux (`linux.rs`): the owner of the client's socket in `/proc/net/tcp{,6}`; an error when
/// the table can't be read (the caller can then tell no one apart, and should say so).
/// Elsewhere (`other.rs`) no such table is open to an unprivileged process, so every caller is
/// answered [`Peer::Us`]: a loopback URL there is as secret as the platform keeps command
/// lines, and the endpoint's room is shared by all.
pub fn peer(stream: &TcpStream) -> io::Result<Peer> {
    platform::peer(stream)
}

// One module per platform behind [`peer`]; the `cfg` is here and nowhere else.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux;
#[cfg(any(target_os = "linux", target_os = "android"))]
use linux as platform;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod other;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
use other as platform;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;
    use std::time::Duration;

    #[test]
    fn a_head_sent_a_byte_at_a_time_must_still_arrive_by_its_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let dripping = std::thread::spawn(move || {
            for byte in b"GET / HTTP/1.1\r\nX: y\r\n" {
                if client.write_all(&[*byte]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let started = Instant::now();
        let head = read_head(&mut server, started + Duration::from_secs(1));
        assert!(head.is_none());
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(1) && took < Duration::from_secs(5),
            "{took:?}"
        );
        drop(server);
        dripping.join().unwrap();
    }

    #[test]
    fn a_whole_head_is_read_and_parsed() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client
            .write_all(b"GET /a?b=c HTTP/1.1\r\nAuthorization:  Bearer x \r\n\r\n")
            .unwrap();
        let head = read_head(&mut server, Instant::now() + Duration::from_secs(5)).unwrap();
        let request = Request::parse(&head).unwrap();
        assert_eq!((request.method, request.path), ("GET", "/a"));
        assert_eq!(request.authorization, Some(&b"Bearer x"[..]));
    }

    #[test]
    fn our_own_connection_is_ours() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        assert_eq!(peer(&server).unwrap(), Peer::Us);
    }

    #[test]
    fn a_client_that_reset_before_it_was_looked_at_is_gone() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        rustix::net::sockopt::set_socket_linger(&client, Some(Duration::ZERO)).unwrap();
        drop(client);
        std::thread::sleep(Duration::from_millis(200));
        let server = match listener.accept() {
            Ok((server, _)) => server,
            // Windows (wine) fails the accept itself: the servers take that as gone too.
            Err(e) if cfg!(windows) && e.kind() == std::io::ErrorKind::NotConnected => return,
            Err(e) => panic!("{e}"),
        };
        assert!(server.peer_addr().is_err(), "the kernel kept its address");
        assert_eq!(peer(&server).unwrap(), Peer::Gone);
    }
}
