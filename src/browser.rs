//! Opening a URL in the person's default browser (`xdg-open`, `open` on macOS), for logins the
//! person asked for; credtray never opens one unasked. A URL that is itself a credential (the
//! web console's sign-in link) goes through a one-time loopback redirect, served to our own
//! user only, instead of the opener's command line ([`open_secret`]).

/// Opens `url` in the default browser, without waiting for it.
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

/// Opens a URL that is itself a credential (the AWS console's sign-in link) without putting
/// it on a command line: the browser is given a one-time loopback link
/// (`http://127.0.0.1:<port>/<32 random bytes>`) that redirects to it once, and this waits
/// (at most two minutes) until the browser has followed it.
///
/// That link is on the opener's and the browser's command lines, which every local user can
/// read, and a loopback port takes anyone's connection: so a connection is served only when
/// its client runs as our user ([`crate::loopback::same_user`]), asked before a byte is read,
/// and any other is closed at once (another user can't even keep the link busy). A loopback
/// link rather than a private `file:` page, because the browser extension a later console
/// browser hands the link to can't open `file:` URLs; one route serves both. Each connection
/// of ours gets [`HEAD_WITHIN`] for its whole request head, so a client sending a byte now and
/// then can't hold the link until it expires.
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
    )
}

/// Answers connections to `listener` until one of ours asks for `path`, which is redirected
/// to `url`; others of ours get a 404, other users' nothing.
fn redirect_once(
    listener: &std::net::TcpListener,
    path: &str,
    url: &secrecy::SecretString,
    deadline: std::time::Instant,
) -> std::io::Result<()> {
    use secrecy::ExposeSecret;
    use std::io::{ErrorKind, Write};
    while std::time::Instant::now() < deadline {
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
            // A connection that went before it was taken is no reason to give up the link.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionAborted | ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        match crate::loopback::same_user(&stream) {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("refused a connection to the sign-in link from another user");
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "refused a connection to the sign-in link: cannot tell whose it is");
                continue;
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
