//! The small part of HTTP/1.1 that credtray's loopback servers speak (`exec`'s credentials
//! endpoint, the browser's one-time sign-in link): one request per connection, its head read
//! whole before a deadline, its request line and `Authorization` header parsed; the random
//! tokens that guard them; and who is at the other end of a loopback connection
//! ([`same_user`]).

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

/// Whether the process at the other end of an accepted loopback connection runs as this
/// process's (effective) user; asked before reading a byte from it. A loopback port is open to
/// every user of the machine, and a URL on a command line is readable by all of them
/// (`/proc/<pid>/cmdline`), so a server whose URL is a secret must also know who asks.
///
/// Linux: TCP has no `SO_PEERCRED`, but the kernel lists every socket of this network
/// namespace with its owner in `/proc/net/tcp` (and `/proc/net/tcp6`, where a dual-stack
/// client's v4-mapped socket is): the client's socket is the row whose local address is our
/// peer's and whose remote address is ours. That row exists while the client holds its end
/// open, as a client waiting for its answer does; a client that is already gone is refused.
///
/// Elsewhere no such table is open to an unprivileged process, so this answers `true` and a
/// loopback URL there is as secret as the platform keeps command lines (a port would look for
/// the connection among the user's own processes' sockets: `proc_pidfdinfo` on macOS, the
/// owning process of `GetExtendedTcpTable` on Windows).
pub fn same_user(stream: &TcpStream) -> io::Result<bool> {
    platform::same_user(stream)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod platform {
    use std::io;
    use std::net::{SocketAddr, TcpStream};

    pub fn same_user(stream: &TcpStream) -> io::Result<bool> {
        let (client, server) = (stream.peer_addr()?, stream.local_addr()?);
        let me = rustix::process::geteuid().as_raw();
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let rows = match std::fs::read_to_string(table) {
                Ok(rows) => rows,
                // A kernel without IPv6 has no tcp6 table; tcp is always there.
                Err(e) if e.kind() == io::ErrorKind::NotFound && table.ends_with('6') => continue,
                Err(e) => return Err(e),
            };
            if let Some(owner) = owner(&rows, client, server) {
                return Ok(owner == me);
            }
        }
        Ok(false)
    }

    /// The uid of the socket in `rows` (a `/proc/net/tcp{,6}` table) bound to `local` and
    /// connected to `remote`. Rows in `TIME_WAIT` are skipped: they belong to a connection
    /// that has ended and are listed with uid 0.
    pub(super) fn owner(rows: &str, local: SocketAddr, remote: SocketAddr) -> Option<u32> {
        const TIME_WAIT: &str = "06";
        rows.lines().skip(1).find_map(|row| {
            let fields: Vec<&str> = row.split_whitespace().collect();
            let (row_local, row_remote, state, uid) = (
                fields.get(1)?,
                fields.get(2)?,
                fields.get(3)?,
                fields.get(7)?,
            );
            (*state != TIME_WAIT
                && address(row_local) == Some(local)
                && address(row_remote) == Some(remote))
            .then(|| uid.parse().ok())
            .flatten()
        })
    }

    /// `0100007F:1F90` (tcp) or 32 hex digits and a port (tcp6): the address as the kernel
    /// printed it, 32-bit words in this machine's byte order; a v4-mapped IPv6 address is
    /// given as the IPv4 one, as an IPv4 listener sees its peer.
    fn address(text: &str) -> Option<SocketAddr> {
        let (ip, port) = text.split_once(':')?;
        let port = u16::from_str_radix(port, 16).ok()?;
        let mut bytes = Vec::with_capacity(16);
        for word in ip.as_bytes().chunks(8) {
            let word = u32::from_str_radix(std::str::from_utf8(word).ok()?, 16).ok()?;
            bytes.extend_from_slice(&word.to_ne_bytes());
        }
        let ip = match bytes.len() {
            4 => std::net::IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
            16 => {
                let v6 = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?);
                v6.to_ipv4_mapped()
                    .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4)
            }
            _ => return None,
        };
        Some(SocketAddr::new(ip, port))
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod platform {
    use std::io;
    use std::net::TcpStream;

    /// No unprivileged way to tell (see [`super::same_user`]).
    pub fn same_user(_stream: &TcpStream) -> io::Result<bool> {
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{SocketAddr, TcpListener};
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
            took >= Duration::from_secs(1) && took < Duration::from_secs(3),
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
        assert!(same_user(&server).unwrap());
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn the_owner_is_read_from_the_row_of_the_clients_socket() {
        // Rows as a little-endian Linux prints them: our listener on port 8080 (0x1F90), the
        // server's side of the connection, the client's side (uid 1001) from port 40000
        // (0x9C40), and an old TIME_WAIT row of the same pair listed with uid 0.
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0 100 0 0 10 0
   1: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 2 1 0 20 4 30 10 -1
   2: 0100007F:9C40 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0
   3: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1001        0 3 1 0 20 4 30 10 -1
";
        let server: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let client: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(platform::owner(tcp, client, server), Some(1001));
            assert_eq!(platform::owner(tcp, server, client), Some(1000));
            let other: SocketAddr = "127.0.0.1:40001".parse().unwrap();
            assert_eq!(platform::owner(tcp, other, server), None);
            // A dual-stack client's socket, v4-mapped, in tcp6.
            let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:9C40 0000000000000000FFFF00000100007F:1F90 01 00000000:00000000 00:00000000 00000000  1002        0 4 1 0 20 4 30 10 -1
";
            assert_eq!(platform::owner(tcp6, client, server), Some(1002));
        }
    }
}
