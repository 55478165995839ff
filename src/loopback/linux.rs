//! Who is at the other end of a loopback connection, on Linux: the owner of the client's
//! socket in the kernel's table of this network namespace's TCP sockets, `/proc/net/tcp` (and
//! `/proc/net/tcp6`, where a dual-stack client's v4-mapped socket is). TCP has no
//! `SO_PEERCRED`, but every process may read these tables.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use super::Peer;

/// The kernel's tables, IPv4 first; the second may be missing (a kernel without IPv6).
const TABLES: [&str; 2] = ["/proc/net/tcp", "/proc/net/tcp6"];

pub fn peer(stream: &TcpStream) -> io::Result<Peer> {
    let me = rustix::process::geteuid().as_raw();
    Ok(match peer_uid(&TABLES.map(Path::new), stream)? {
        Some(uid) if uid == me => Peer::Us,
        Some(uid) => Peer::Other { uid },
        None => Peer::Gone,
    })
}

/// The uid of the socket at the other end of `stream` as `tables` list it: the row whose
/// local address is our peer's and whose remote address is ours. That row exists while the
/// client holds its end open, as a client waiting for its answer does; `None` once it has gone.
/// An error, naming the table, when one can't be read (a `/proc` mounted without `net`, a
/// sandbox that hides it): then no connection can be told apart.
fn peer_uid(tables: &[&Path], stream: &TcpStream) -> io::Result<Option<u32>> {
    // A client that reset the connection before it was looked at has no address any more
    // (ENOTCONN): it is gone, which says nothing about the tables, and must not end a server
    // that any user can reach.
    let (Ok(client), Ok(server)) = (stream.peer_addr(), stream.local_addr()) else {
        return Ok(None);
    };
    for (i, table) in tables.iter().enumerate() {
        let rows = match std::fs::read_to_string(table) {
            Ok(rows) => rows,
            // A kernel without IPv6 has no tcp6 table; tcp is always there.
            Err(e) if e.kind() == io::ErrorKind::NotFound && i > 0 => continue,
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot read {}: {e}", table.display()),
                ));
            }
        };
        if let Some(owner) = owner(&rows, client, server) {
            return Ok(Some(owner));
        }
    }
    Ok(None)
}

/// The uid of the socket in `rows` (a `/proc/net/tcp{,6}` table) bound to `local` and
/// connected to `remote`. Rows in `TIME_WAIT` are skipped: they belong to a connection
/// that has ended and are listed with uid 0.
fn owner(rows: &str, local: SocketAddr, remote: SocketAddr) -> Option<u32> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_table_that_cannot_be_read_is_an_error_naming_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        // A directory where the table should be: read fails (as it does when /proc hides it).
        let dir = tempfile::tempdir().unwrap();
        let e = peer_uid(&[dir.path()], &server).unwrap_err();
        assert!(
            e.to_string().contains(&dir.path().display().to_string()),
            "{e}"
        );
        // The real tables know our own connection's client.
        assert_eq!(
            peer_uid(&TABLES.map(Path::new), &server).unwrap(),
            Some(rustix::process::geteuid().as_raw())
        );
    }

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
            assert_eq!(owner(tcp, client, server), Some(1001));
            assert_eq!(owner(tcp, server, client), Some(1000));
            let other: SocketAddr = "127.0.0.1:40001".parse().unwrap();
            assert_eq!(owner(tcp, other, server), None);
            // A dual-stack client's socket, v4-mapped, in tcp6.
            let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:9C40 0000000000000000FFFF00000100007F:1F90 01 00000000:00000000 00:00000000 00000000  1002        0 4 1 0 20 4 30 10 -1
";
            assert_eq!(owner(tcp6, client, server), Some(1002));
        }
    }
}
