//! Start at login: the XDG autostart entry `$XDG_CONFIG_HOME/autostart/credtray.desktop`
//! (`~/.config/autostart` by default) that desktops run when the person logs in. Its `Exec=`
//! is the absolute path of the `credtray` CLI, which execs the tray; the file is written
//! atomically and removed to turn it off. Whether it is on is whether the file exists. Only
//! the engine writes it (`Engine::set_start_at_login`).

use std::io;
use std::path::{Path, PathBuf};

/// The entry's file name.
const FILE: &str = "credtray.desktop";

/// Where the entry is: `$XDG_CONFIG_HOME/autostart` (an absolute one), else
/// `~/.config/autostart`.
pub fn path() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().join(".config")))?;
    Some(config.join("autostart").join(FILE))
}

/// Writes the entry at `path`, starting `cli` at login.
pub fn enable(path: &Path, cli: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        crate::atomic::create_dir(dir, 0o700)?;
    }
    crate::atomic::write(path, entry(cli).as_bytes(), 0o644).map(drop)
}

/// Removes the entry at `path` (nothing to do when there is none).
pub fn disable(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The desktop entry that runs `cli`.
fn entry(cli: &Path) -> String {
    format!(
        "[Desktop Entry]\nType=Application\nName=credtray\nComment=AWS credential sessions in the system tray\nExec={}\nIcon=credtray\nTerminal=false\nX-GNOME-Autostart-enabled=true\n",
        quoted(&cli.to_string_lossy())
    )
}

/// A path as the Desktop Entry spec's `Exec` key reads it: as is when it has nothing to quote,
/// else in double quotes with `"`, `` ` ``, `$` and `\` escaped; then `%` doubled (a field code
/// otherwise) and `\` escaped again (the key's own string escapes).
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

#[cfg(test)]
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
