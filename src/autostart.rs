//! Start at login: the XDG autostart entry `$XDG_CONFIG_HOME/autostart/credtray.desktop`
//! (`~/.config/autostart` by default) that desktops run when the person logs in. Its `Exec=`
//! is the absolute path of the `credtray` CLI, which execs the tray; the file is written
//! atomically and removed to turn it off. Whether it is on is whether the file exists. Only
//! the engine writes it (`Engine::set_start_at_login`).
//!
//! On Windows the entry is the value `credtray` of the per-user `Run` key
//! (`HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run`), running
//! `credtray-tray.exe` beside the CLI (a GUI program: no console window at login); its "path"
//! names that value, and whether it is on is whether the value exists.

use std::io;
use std::path::{Path, PathBuf};

/// The entry's file name.
#[cfg(not(windows))]
const FILE: &str = "credtray.desktop";

/// Where the entry is: the `Run` key's value `credtray`.
#[cfg(windows)]
pub fn path() -> Option<PathBuf> {
    Some(PathBuf::from(format!(
        r"HKEY_CURRENT_USER\{}\credtray",
        crate::win32::RUN_KEY
    )))
}

/// The `Run` value a "path" of [`path`] names.
#[cfg(windows)]
fn value_name(path: &Path) -> io::Result<String> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| io::Error::other("no Run value named"))
}

/// Whether the entry at `path` is there (whoever wrote it).
#[cfg(windows)]
pub fn is_on(path: &Path) -> bool {
    value_name(path)
        .and_then(|n| crate::win32::run_value(&n))
        .is_ok_and(|v| v.is_some())
}

/// Writes the entry at `path`, starting the tray beside `cli` at login.
#[cfg(windows)]
pub fn enable(path: &Path, cli: &Path) -> io::Result<()> {
    let tray = cli.with_file_name(crate::aws::process::TRAY);
    crate::win32::set_run_value(&value_name(path)?, &format!("\"{}\"", tray.display()))
}

/// Removes the entry at `path` (nothing to do when there is none).
#[cfg(windows)]
pub fn disable(path: &Path) -> io::Result<()> {
    crate::win32::delete_run_value(&value_name(path)?)
}

/// Whether the entry at `path` is there (whoever wrote it).
#[cfg(not(windows))]
pub fn is_on(path: &Path) -> bool {
    path.is_file()
}

/// Where the entry is: `$XDG_CONFIG_HOME/autostart` (an absolute one), else
/// `~/.config/autostart`.
#[cfg(not(windows))]
pub fn path() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().join(".config")))?;
    Some(config.join("autostart").join(FILE))
}

/// Writes the entry at `path`, starting `cli` at login.
#[cfg(not(windows))]
pub fn enable(path: &Path, cli: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        crate::atomic::create_dir(dir, 0o700)?;
    }
    crate::atomic::write(path, entry(cli).as_bytes(), 0o644).map(drop)
}

/// Removes the entry at `path` (nothing to do when there is none).
#[cfg(not(windows))]
pub fn disable(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The desktop entry that runs `cli`.
#[cfg(not(windows))]
fn entry(cli: &Path) -> String {
    format!(
        "[Desktop Entry]\nType=Application\nName=credtray\nComment=AWS credential sessions in the system tray\nExec={}\nIcon=credtray\nTerminal=false\nX-GNOME-Autostart-enabled=true\n",
        quoted(&cli.to_string_lossy())
    )
}

/// A path as the Desktop Entry spec's `Exec` key reads it: as is when it has nothing to quote,
/// else in double quotes with `"`, `` ` ``, `$` and `\` escaped; then `%` doubled (a field code
/// otherwise) and `\` escaped again (the key's own string escapes).
#[cfg(not(windows))]
fn quoted(path: &str) -> String {
    let plain = path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+,@:".contains(c));
    let argument = if plain {
        path.to_owned()
    } else {
        let mut quoted = String::from("\"");
        for c in path.chars() {
            if matches!(c, '"' | '`' | '$' | '\\') {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        quoted.push('"');
        quoted
    };
    argument.replace('%', "%%").replace('\\', "\\\\")
}

#[cfg(all(test, not(windows)))]
mod tests {
    use super::*;

    #[test]
    fn exec_quotes_what_the_spec_would_split_or_expand() {
        assert_eq!(quoted("/usr/bin/credtray"), "/usr/bin/credtray");
        assert_eq!(
            quoted("/opt/my tools/credtray"),
            "\"/opt/my tools/credtray\""
        );
        assert_eq!(quoted("/opt/a$b/credtray"), "\"/opt/a\\\\$b/credtray\"");
        assert_eq!(quoted("/opt/100%/credtray"), "\"/opt/100%%/credtray\"");
        let entry = entry(Path::new("/usr/bin/credtray"));
        assert!(entry.starts_with("[Desktop Entry]\n"));
        assert!(entry.contains("\nExec=/usr/bin/credtray\n"));
    }
}

#[cfg(all(test, windows))]
mod windows_tests {
    use super::*;

    #[test]
    fn the_run_value_starts_the_tray_beside_the_cli_and_is_the_switch() {
        let path = PathBuf::from(format!(
            r"HKEY_CURRENT_USER\{}\credtray-test-{}",
            crate::win32::RUN_KEY,
            std::process::id()
        ));
        assert!(!is_on(&path));
        enable(&path, Path::new(r"C:\Program Files\credtray\credtray.exe")).unwrap();
        assert!(is_on(&path));
        let name = value_name(&path).unwrap();
        assert_eq!(
            crate::win32::run_value(&name).unwrap().as_deref(),
            Some(r#""C:\Program Files\credtray\credtray-tray.exe""#)
        );
        disable(&path).unwrap();
        assert!(!is_on(&path));
    }
}
