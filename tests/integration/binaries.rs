//! The two executables: `credtray` (the CLI) links no GUI library, and with no arguments it
//! execs `credtray-tray` from beside itself, in the same process.

use std::path::Path;
use std::process::Command;

use crate::harness::Env;

/// The shared libraries `ldd` says an executable needs, lower-cased.
fn libraries(executable: &str) -> String {
    let out = Command::new("ldd")
        .arg(executable)
        .output()
        .expect("ldd runs");
    assert!(out.status.success(), "ldd {executable}: {out:?}");
    String::from_utf8_lossy(&out.stdout).to_lowercase()
}

const GUI: [&str; 9] = [
    "gtk",
    "gdk",
    "cairo",
    "pango",
    "libx11",
    "xcb",
    "xdo",
    "webkit",
    "appindicator",
];

#[test]
fn the_cli_links_no_gui_library() {
    let cli = libraries(env!("CARGO_BIN_EXE_credtray"));
    for gui in GUI {
        assert!(!cli.contains(gui), "credtray links {gui}:\n{cli}");
    }
    // The same check finds them in the tray, so it can fail.
    let tray = libraries(env!("CARGO_BIN_EXE_credtray-tray"));
    assert!(tray.contains("gtk") && tray.contains("gdk"), "{tray}");
}

#[test]
fn webkit_loads_only_into_the_login_window() {
    let tray = libraries(env!("CARGO_BIN_EXE_credtray-tray"));
    assert!(!tray.contains("webkit"), "the tray links WebKit:\n{tray}");
    let login = libraries(env!("CARGO_BIN_EXE_credtray-login"));
    assert!(login.contains("webkit2gtk-4.1"), "{login}");
}

/// A copy of the CLI alone in a directory, with `tray` (a shell script) as its credtray-tray.
fn cli_in(dir: &Path, tray: Option<&str>) -> std::path::PathBuf {
    let cli = dir.join("credtray");
    std::fs::copy(env!("CARGO_BIN_EXE_credtray"), &cli).unwrap();
    if let Some(script) = tray {
        let path = dir.join("credtray-tray");
        std::fs::write(&path, script).unwrap();
        let mut permissions = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&path, permissions).unwrap();
    }
    cli
}

#[test]
fn credtray_without_arguments_execs_the_tray_beside_it_in_the_same_process() {
    let dir = tempfile::tempdir().unwrap();
    let cli = cli_in(
        dir.path(),
        Some("#!/bin/sh\necho \"tray pid $$ args $#\"\n"),
    );
    let child = Command::new(&cli)
        .env("DISPLAY", ":0")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("tray pid {pid} args 0")
    );
}

#[test]
fn credtray_without_arguments_says_so_when_the_tray_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let cli = cli_in(dir.path(), None);
    let out = Command::new(&cli).env("DISPLAY", ":0").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the tray is not installed") && stderr.contains("credtray-tray"),
        "{stderr}"
    );
    // The subcommands still work.
    let out = Command::new(&cli).arg("--version").output().unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn without_a_display_credtray_and_the_tray_say_what_to_use_instead_and_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    // The tray beside this CLI would say it ran: it must not.
    let cli = cli_in(dir.path(), Some("#!/bin/sh\necho tray ran\n"));
    let real_tray = env!("CARGO_BIN_EXE_credtray-tray");
    for program in [cli.as_os_str(), real_tray.as_ref()] {
        let out = Command::new(program)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(1), "{program:?}: {stderr}");
        assert!(!stdout.contains("tray ran"), "{stdout}");
        assert!(
            stderr.contains("no graphical session") && stderr.contains("credtray agent"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");
    }
}

#[test]
fn a_panic_is_one_line_naming_the_log_with_no_backtrace() {
    for program in [
        env!("CARGO_BIN_EXE_credtray"),
        env!("CARGO_BIN_EXE_credtray-tray"),
        env!("CARGO_BIN_EXE_credtray-login"),
    ] {
        let out = Command::new(program)
            .arg("--version")
            .env("CREDTRAY_FAILPOINT", "panic")
            .env("RUST_BACKTRACE", "full")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{program}: {out:?}");
        assert_eq!(stderr.trim().lines().count(), 1, "{program}: {stderr}");
        assert!(
            stderr.contains("internal error: the failpoint `panic`")
                && stderr.contains("CREDTRAY_LOG=debug"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("stack backtrace") && !stderr.contains("panicked at"),
            "{stderr}"
        );
    }
}

#[test]
fn completions_complete_subcommands_and_flags_in_bash_and_fish() {
    let env = Env::new();
    let bash = env.run(&["completions", "bash"], "").ok().stdout;
    let script = format!(
        "{bash}\nCOMP_WORDS=(credtray session forg); COMP_CWORD=2; _credtray credtray forg session; echo \"${{COMPREPLY[@]}}\""
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "forget-login",
        "{out:?}"
    );

    let fish = env.run(&["completions", "fish"], "").ok().stdout;
    let out = Command::new("fish")
        .arg("-c")
        .arg(format!(
            "{fish}\ncomplete -C 'credtray session edit dev --mf'"
        ))
        .output()
        .expect("fish is installed by scripts/test");
    let offered = String::from_utf8_lossy(&out.stdout);
    assert!(offered.contains("--mfa-device"), "{offered}");

    let run = env.run(&["completions", "tcsh"], "");
    assert_eq!(run.code, 2, "{run:?}");
}
