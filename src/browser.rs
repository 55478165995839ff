//! Opening a URL in the person's default browser (`xdg-open`, `open` on macOS), for logins the
//! person asked for; credtray never opens one unasked. A URL that is itself a credential (the
//! web console's sign-in link) goes through a one-time loopback redirect instead of the
//! opener's command line ([`open_secret`]).

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

/// Opens a URL that is itself a credential (the AWS console's sign-in link) without putting
/// it on a command line: the browser is given a one-time loopback link
/// (`http://127.0.0.1:<port>/<32 random bytes>`) that redirects to it once, and this waits
/// (at most two minutes) until the browser has followed it.
pub fn open_secret(url: &secrecy::SecretString) -> std::io::Result<()> {
    use secrecy::ExposeSecret;
    use std::io::Write;
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
    let path = format!("/{}", crate::loopback::random_token()?.as_str());
    let link = format!("http://{}{path}", listener.local_addr()?);
    listener.set_nonblocking(true)?;
    open(&link)?;
    let deadline = std::time::Instant::now() + SECRET_LINK_WAIT;
    while std::time::Instant::now() < deadline {
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
            Err(e) => return Err(e),
        };
        stream.set_nonblocking(false)?;
        let head = crate::loopback::read_head(
            &mut stream,
            std::time::Instant::now() + std::time::Duration::from_secs(5),
        )
        .unwrap_or_default();
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
        std::io::ErrorKind::TimedOut,
        "the browser did not open the sign-in link within two minutes",
    ))
}
