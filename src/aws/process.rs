//! The `credential_process` line of a profile published as a process: which `credtray` runs,
//! and how its path is quoted so that every AWS tool splits the line into the same argv.
//! botocore (the AWS CLI, boto3) splits it with `shlex.split` (POSIX rules, no shell); the Rust
//! SDK hands it to `sh -c`. Single quotes mean the same to both: everything inside is literal
//! (spaces, `"`, `$`, `\`, backticks), and a single quote is written `'\''` (close, an escaped
//! quote, reopen), which both read as one `'`. On Windows both use the Windows rules (botocore
//! splits like `CommandLineToArgvW`, the SDK runs `cmd.exe /C`), where double quotes do that
//! job and a path can't contain one.

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
    if path.contains('"') {
        return Err(Unquotable {
            path: path.into(),
            reason: "it holds a double quote",
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
