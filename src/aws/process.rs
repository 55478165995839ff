//! The `credential_process` line of a profile published as a process: which `credtray` runs,
//! and how its path is quoted so that every AWS tool splits the line into the same argv.
//! botocore (the AWS CLI, boto3) splits it with `shlex.split` (POSIX rules, no shell); the Rust
//! SDK hands it to `sh -c`. Single quotes mean the same to both: everything inside is literal
//! (spaces, `"`, `$`, `\`, backticks), and a single quote is written `'\''` (close, an escaped
//! quote, reopen), which both read as one `'`. On Windows both use the Windows rules (botocore
//! splits like `CommandLineToArgvW`, the SDK runs `cmd.exe /C "<line>"`), where double quotes
//! do that job and a path can't contain one, nor a `%` or `!` (cmd.exe expands `%NAME%` even
//! inside quotes, and `!NAME!` where delayed expansion is on). Tested under wine with cmd.exe itself.

use std::path::{Path, PathBuf};

use crate::session::SessionId;

/// The CLI's file name.
const CLI: &str = if cfg!(windows) {
    "credtray.exe"
} else {
    "credtray"
};
/// The tray's file name, installed beside the CLI (which execs it).
pub const TRAY: &str = if cfg!(windows) {
    "credtray-tray.exe"
} else {
    "credtray-tray"
};

/// The federated login window's file name, installed beside the tray (both the tray and the
/// CLI start it for a SAML login).
pub const LOGIN: &str = if cfg!(windows) {
    "credtray-login.exe"
} else {
    "credtray-login"
};

/// A path the config file can't carry as a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the path of credtray, {}, can't be written into ~/.aws/config as a credential_process ({reason}); install credtray in a directory without such characters",
    .path.display()
)]
pub struct Unquotable {
    pub path: PathBuf,
    pub reason: &'static str,
}

/// The `credtray` CLI that `credential_process` runs, given the running executable: the tray
/// runs the CLI installed beside it; the CLI (or anything else) runs itself.
pub fn cli_for(exe: &Path) -> PathBuf {
    match (exe.file_name(), exe.parent()) {
        (Some(name), Some(dir)) if name == TRAY => dir.join(CLI),
        _ => exe.to_owned(),
    }
}

/// `'<cli>' credential-process --session <id>`, quoted for botocore and the Rust SDK alike.
pub fn command(cli: &Path, session: SessionId) -> Result<String, Unquotable> {
    let unquotable = |reason| Unquotable {
        path: cli.to_owned(),
        reason,
    };
    let path = cli.to_str().ok_or_else(|| unquotable("it is not UTF-8"))?;
    if path.contains(['\n', '\r', '\0']) {
        return Err(unquotable("it spans lines"));
    }
    // The Rust SDK's profile parser ends a value at a `#` or `;` that follows whitespace.
    if path.contains(" #") || path.contains(" ;") || path.contains("\t#") || path.contains("\t;") {
        return Err(unquotable(
            "a # or ; after a space starts a comment for the Rust SDK",
        ));
    }
    Ok(format!(
        "{} credential-process --session {session}",
        quote(path)?
    ))
}

#[cfg(not(windows))]
fn quote(path: &str) -> Result<String, Unquotable> {
    Ok(format!("'{}'", path.replace('\'', r"'\''")))
}

#[cfg(windows)]
fn quote(path: &str) -> Result<String, Unquotable> {
    windows_quote(path)
}

/// The Windows rules (compiled everywhere, so that Linux's tests check botocore's Windows
/// splitting of it too).
#[cfg_attr(not(windows), allow(dead_code))]
fn windows_quote(path: &str) -> Result<String, Unquotable> {
    if path.contains('"') {
        return Err(Unquotable {
            path: path.into(),
            reason: "it holds a double quote",
        });
    }
    // cmd.exe (the Rust SDK runs the line with it) expands `%NAME%` even inside quotes, and
    // `!NAME!` too where delayed expansion is on (a setting of the user's).
    if path.contains(['%', '!']) {
        return Err(Unquotable {
            path: path.into(),
            reason: "it holds a % or !, which cmd.exe may read as a variable",
        });
    }
    Ok(format!("\"{path}\""))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// Paths that a careless quoting would split, expand or cut.
    const NASTY: [&str; 6] = [
        "/opt/credtray/bin/credtray",
        "/home/jane doe/Applications/cred tray/credtray",
        "/tmp/it's here/credtray",
        "/tmp/$HOME and `id` and $(id)/credtray",
        r#"/tmp/"quoted" \back\slash/credtray"#,
        "/tmp/ünïcødé & *glob? [x] ~tilde/credtray",
    ];

    #[test]
    fn the_tray_runs_the_cli_beside_it_and_the_cli_itself() {
        assert_eq!(
            cli_for(Path::new("/opt/x y/credtray-tray")),
            Path::new("/opt/x y/credtray")
        );
        assert_eq!(
            cli_for(Path::new("/usr/local/bin/credtray")),
            Path::new("/usr/local/bin/credtray")
        );
    }

    /// What `sh -c` (the Rust SDK) makes of the command: its argv, one per line.
    fn sh_argv(command: &str) -> Vec<String> {
        // `printf '%s\n' <argv>` stands in for credtray: the line ends with its arguments.
        let line = format!("printf '%s\\n' {command}");
        let out = std::process::Command::new("sh")
            .args(["-c", &line])
            .output()
            .expect("sh runs");
        assert!(out.status.success(), "{line}: {out:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// What botocore's `compat_shell_split` (`shlex.split`, POSIX) makes of it.
    fn shlex_argv(command: &str) -> Vec<String> {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import json, shlex, sys; print(json.dumps(shlex.split(sys.argv[1])))",
                command,
            ])
            .output()
            .expect("python3 runs (the test compares with Python's shlex)");
        assert!(out.status.success(), "{command}: {out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// botocore's own splitting of a `credential_process` line on Windows
    /// (`compat_shell_split(s, "win32")`, which follows `CommandLineToArgvW`), run here.
    #[test]
    fn botocore_on_windows_splits_the_windows_line_into_the_path_and_its_arguments() {
        let python = std::env::var("CREDTRAY_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let id = SessionId::new();
        for path in [
            r"C:\Program Files (x86)\credtray\credtray.exe",
            r"C:\Users\jane doe\it's & here\credtray.exe",
            r"D:\tools\ünïcødé ^caret; semi\credtray.exe",
            r"\\server\share\back\slash\credtray.exe",
        ] {
            let line = format!(
                "{} credential-process --session {id}",
                windows_quote(path).unwrap()
            );
            let out = std::process::Command::new(&python)
                .args([
                    "-c",
                    "import json, sys; from botocore.compat import compat_shell_split; print(json.dumps(compat_shell_split(sys.argv[1], 'win32')))",
                    &line,
                ])
                .output()
                .expect("the test venv's Python runs");
            assert!(out.status.success(), "{line}: {out:?}");
            let argv: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(
                argv,
                [path, "credential-process", "--session", &id.to_string()],
                "{line}"
            );
        }
    }

    #[test]
    fn every_tool_splits_the_command_into_the_same_argv() {
        let id = SessionId::new();
        for path in NASTY {
            let command = command(Path::new(path), id).unwrap();
            let expected = vec![
                path.to_owned(),
                "credential-process".to_owned(),
                "--session".to_owned(),
                id.to_string(),
            ];
            assert_eq!(sh_argv(&command), expected, "sh -c {command}");
            assert_eq!(shlex_argv(&command), expected, "shlex.split {command}");
        }
    }

    #[test]
    fn paths_the_config_file_cant_carry_are_refused() {
        let id = SessionId::new();
        for path in [
            "/tmp/a\nb/credtray",
            "/tmp/a #b/credtray",
            "/tmp/a ;b/credtray",
        ] {
            let err = command(Path::new(path), id).unwrap_err();
            assert!(err.to_string().contains("can't be written"), "{err}");
        }
        // A # or ; not after whitespace is an ordinary character to every tool.
        assert!(command(Path::new("/tmp/c#/x;y/credtray"), id).is_ok());
    }
}

#[cfg(all(test, windows))]
mod windows_tests {
    use super::*;

    /// Directory names `cmd.exe` would split, expand or cut if the quoting were wrong.
    const NASTY: [&str; 6] = [
        r"Program Files (x86)",
        r"cred tray & co",
        r"it's here",
        r"ünïcødé ^caret, comma",
        r"semi;colon and =equals",
        r"tilde~ and (parens)",
    ];

    /// What the Rust SDK does with a `credential_process` line on Windows (aws-config's
    /// `credential_process.rs`): `cmd.exe /C "<line>"`, the line appended raw in one pair of
    /// quotes. The program here is a batch file that prints its own path and its arguments.
    fn sdk_runs(line: &str) -> String {
        use std::os::windows::process::CommandExt;
        let out = std::process::Command::new("cmd.exe")
            .arg("/C")
            .raw_arg(format!("\"{line}\""))
            .output()
            .expect("cmd.exe runs");
        assert!(out.status.success(), "{line}: {out:?}");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .replace("\r\n", "\n")
    }

    #[test]
    fn cmd_runs_the_quoted_program_with_its_arguments_wherever_it_is() {
        let base = tempfile::tempdir().unwrap();
        let session: SessionId = "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10".parse().unwrap();
        for name in NASTY {
            let dir = base.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let program = dir.join("credtray.cmd");
            // Its own path quoted: echoed bare, a `&` in it would end the echo.
            std::fs::write(&program, "@echo \"%~f0\"\r\n@echo %*\r\n").unwrap();
            let line = command(&program, session).unwrap();
            assert!(line.starts_with('"'), "{line}");
            assert_eq!(
                sdk_runs(&line),
                // cmd echoes in the console's code page, one byte a letter here: compared
                // with the letters outside ASCII as what a UTF-8 reading makes of those bytes.
                format!(
                    "\"{}\"\ncredential-process --session {session}",
                    program.display()
                )
                .chars()
                .map(|c| if c.is_ascii() {
                    c
                } else {
                    char::REPLACEMENT_CHARACTER
                })
                .collect::<String>(),
                "{line}"
            );
        }
    }

    #[test]
    fn a_path_with_a_double_quote_or_a_percent_sign_is_refused() {
        let session: SessionId = "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10".parse().unwrap();
        let err = command(Path::new(r#"C:\odd"dir\credtray.exe"#), session).unwrap_err();
        assert!(err.to_string().contains("double quote"), "{err}");
        // `%PATH%` in a directory's name: cmd.exe would run a path with PATH's value in it.
        let err = command(Path::new(r"C:\a %PATH% b\credtray.exe"), session).unwrap_err();
        assert!(
            err.to_string().contains("cmd.exe may read as a variable"),
            "{err}"
        );
        let err = command(Path::new(r"C:\bang! here\credtray.exe"), session).unwrap_err();
        assert!(err.to_string().contains("% or !"), "{err}");
    }
}
