//! Opening a URL in the person's default browser (`xdg-open`, `open` on macOS, the shell's
//! URL handler on Windows), for logins the
//! person asked for; credtray never opens one unasked. A URL that is itself a credential (the
//! web console's sign-in link) goes through a one-time loopback redirect, served to our own
//! user only, instead of the opener's command line ([`open_secret`]).

/// Opens `url` in the default browser, without waiting for it: the shell's handler for its
/// scheme on Windows.
#[cfg(windows)]
pub fn open(url: &str) -> std::io::Result<()> {
    crate::win32::shell_open(url)
}

/// Opens `url` in the default browser, without waiting for it.
#[cfg(not(windows))]
pub fn open(url: &str) -> std::io::Result<()> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
}

/// How long the one-time link of [`open_secret`] waits for the browser.
const SECRET_LINK_WAIT: std::time::Duration = std::time::Duration::from_secs(120);
/// How long one connection to it may take to send its request head, all of it.
const HEAD_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// How many refused connections to the link are logged one by one; the rest are counted and
/// the count logged when the link is done. Another user can connect as often as they like,
/// and the log is the person's terminal.
const REFUSALS_LOGGED: usize = 3;

/// Opens a URL that is itself a credential (the AWS console's sign-in link) without putting
/// it on a command line: the browser is given a one-time loopback link
/// (`http://127.0.0.1:<port>/<32 random bytes>`) that redirects to it once, and this waits
/// (at most two minutes) until the browser has followed it.
///
/// That link is on the opener's and the browser's command lines, which every local user can
/// read, and a loopback port takes anyone's connection: so a connection is served only when
/// its client runs as our user ([`crate::loopback::peer`]), asked before a byte is read,
/// and any other is closed at once (another user can't even keep the link busy). When whose a
/// connection is can't be told (the kernel's socket table unreadable), none ever could be, so
/// this ends at once with that cause rather than waiting out the link. A loopback link rather
/// than a private `file:` page, because the browser extension a later console browser hands
/// the link to can't open `file:` URLs; one route serves both. Each connection of ours gets
/// `HEAD_WITHIN` for its whole request head, so a client sending a byte now and then can't
/// hold the link until it expires.
pub fn open_secret(url: &secrecy::SecretString) -> std::io::Result<()> {
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
    let path = format!("/{}", crate::loopback::random_token()?.as_str());
    let link = format!("http://{}{path}", listener.local_addr()?);
    listener.set_nonblocking(true)?;
    open(&link)?;
    redirect_once(
        &listener,
        &path,
        url,
        std::time::Instant::now() + SECRET_LINK_WAIT,
        crate::loopback::peer,
    )
}

/// Answers connections to `listener` until one of ours (as `peer` tells) asks for `path`,
/// which is redirected to `url`; others of ours get a 404, other users' nothing.
fn redirect_once(
    listener: &std::net::TcpListener,
    path: &str,
    url: &secrecy::SecretString,
    deadline: std::time::Instant,
    peer: impl Fn(&std::net::TcpStream) -> std::io::Result<crate::loopback::Peer>,
) -> std::io::Result<()> {
    let mut refused = Refused::default();
    let served = serve_link(listener, path, url, deadline, peer, &mut refused);
    refused.summarise();
    served
}

/// [`redirect_once`]'s loop, counting other users' connections in `refused`.
fn serve_link(
    listener: &std::net::TcpListener,
    path: &str,
    url: &secrecy::SecretString,
    deadline: std::time::Instant,
    peer: impl Fn(&std::net::TcpStream) -> std::io::Result<crate::loopback::Peer>,
    refused: &mut Refused,
) -> std::io::Result<()> {
    use crate::loopback::Peer;
    use secrecy::ExposeSecret;
    use std::io::{ErrorKind, Write};
    while std::time::Instant::now() < deadline {
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
            // A connection that went before it was taken is no reason to give up the link
            // (Windows reports one reset before its accept as not connected).
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionAborted
                        | ErrorKind::ConnectionReset
                        | ErrorKind::NotConnected
                        | ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        match peer(&stream) {
            Ok(Peer::Us) => {}
            Ok(Peer::Other { uid }) => {
                refused.another(uid);
                continue;
            }
            Ok(Peer::Gone) => continue,
            // The same table answers every later connection, the browser's too.
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!(
                        "cannot tell which user a connection to the sign-in link comes from, so it was not served ({e})"
                    ),
                ));
            }
        }
        stream.set_nonblocking(false)?;
        stream.set_write_timeout(Some(HEAD_WITHIN))?;
        let head_deadline = deadline.min(std::time::Instant::now() + HEAD_WITHIN);
        let head = crate::loopback::read_head(&mut stream, head_deadline).unwrap_or_default();
        let asked = crate::loopback::Request::parse(&head).is_some_and(|r| r.path == path);
        if asked {
            let response = zeroize::Zeroizing::new(format!(
                "HTTP/1.1 302 Found\r\nLocation: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                url.expose_secret()
            ));
            stream.write_all(response.as_bytes())?;
            return Ok(());
        }
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    Err(std::io::Error::new(
        ErrorKind::TimedOut,
        "the browser did not open the sign-in link within two minutes",
    ))
}

/// The connections of other users refused so far: the first [`REFUSALS_LOGGED`] are logged as
/// they come, the total once the link is done.
#[derive(Default)]
struct Refused(usize);

impl Refused {
    fn another(&mut self, uid: u32) {
        self.0 += 1;
        if self.0 <= REFUSALS_LOGGED {
            tracing::warn!(
                uid,
                "refused a connection to the sign-in link from another user"
            );
        }
    }

    fn summarise(&self) {
        if self.0 > REFUSALS_LOGGED {
            tracing::warn!(
                "refused {} connections to the sign-in link from other users in all",
                self.0
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    fn link() -> (std::net::TcpListener, std::net::SocketAddr) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        (listener, addr)
    }

    #[test]
    fn when_no_connection_can_be_told_apart_the_link_ends_at_once_saying_why() {
        let (listener, addr) = link();
        let browser = std::thread::spawn(move || {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            let mut answer = Vec::new();
            let _ = c.read_to_end(&mut answer);
            answer
        });
        let started = Instant::now();
        let e = redirect_once(
            &listener,
            "/x",
            &secrecy::SecretString::from("https://signin.example/?SigninToken=t"),
            started + Duration::from_secs(60),
            |_| {
                Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "cannot read /proc/net/tcp: Permission denied",
                ))
            },
        )
        .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}");
        let said = e.to_string();
        assert!(
            said.contains("cannot tell which user") && said.contains("/proc/net/tcp"),
            "{said}"
        );
        // At once, not when the link expires (a generous bound for a loaded machine).
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
        drop(listener);
        assert!(browser.join().unwrap().is_empty(), "nothing was served");
    }

    /// Anyone can connect and reset before the link looks at the connection (the peer then
    /// has no address): that is a client gone, not a reason to give the link up.
    #[test]
    fn a_connection_reset_before_it_is_looked_at_does_not_end_the_link() {
        let (listener, addr) = link();
        let reset = std::net::TcpStream::connect(addr).unwrap();
        rustix::net::sockopt::set_socket_linger(&reset, Some(Duration::ZERO)).unwrap();
        drop(reset);
        // The reset lands before the link's first accept.
        std::thread::sleep(Duration::from_millis(200));
        let browser = std::thread::spawn(move || {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            let _ = c.read_to_string(&mut answer);
            answer
        });
        redirect_once(
            &listener,
            "/x",
            &secrecy::SecretString::from("https://signin.example/?SigninToken=t"),
            Instant::now() + Duration::from_secs(60),
            crate::loopback::peer,
        )
        .unwrap();
        let answer = browser.join().unwrap();
        assert!(answer.starts_with("HTTP/1.1 302"), "{answer}");
    }
}
