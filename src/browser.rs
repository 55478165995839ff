//! Opening a URL in the person's default browser (`xdg-open`, `open` on macOS), for logins the
//! person asked for; credtray never opens one unasked.

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
