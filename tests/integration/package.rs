//! The Debian packages `scripts/package` builds (scripts/test runs it after the build and
//! points `CREDTRAY_TEST_DEBS` at them), unpacked and run: what each installs, what it
//! depends on (the CLI's: no GUI library), that lintian finds no error; and the macOS plists.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::Env;

/// Libraries (and their packages) a server must not be made to install.
const GUI: [&str; 8] = [
    "gtk",
    "gdk",
    "webkit",
    "javascriptcore",
    "appindicator",
    "cairo",
    "pango",
    "x11",
];

/// The directory scripts/package wrote the packages to.
fn debs() -> PathBuf {
    PathBuf::from(std::env::var_os("CREDTRAY_TEST_DEBS").expect(
        "CREDTRAY_TEST_DEBS (target/debian, after scripts/package) is set by scripts/test: run the suite with scripts/test",
    ))
}

/// The one `.deb` of package `name`.
fn deb(name: &str) -> PathBuf {
    let dir = debs();
    let prefix = format!("{name}_");
    let found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| {
            let file = p.file_name().unwrap().to_string_lossy();
            file.starts_with(&prefix) && file.ends_with(".deb")
        })
        .collect();
    assert_eq!(found.len(), 1, "one {name}_*.deb in {}", dir.display());
    found.into_iter().next().unwrap()
}

#[track_caller]
fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8(run(cmd).stdout).unwrap()
}

/// A control field of a package (`Depends`, `Version`…).
fn field(deb: &Path, name: &str) -> String {
    stdout(Command::new("dpkg-deb").arg("-f").arg(deb).arg(name))
        .trim()
        .to_owned()
}

/// The package unpacked into a temporary root, as dpkg would install it.
fn unpack(deb: &Path) -> tempfile::TempDir {
    let root = tempfile::Builder::new()
        .prefix("credtray-deb-")
        .tempdir()
        .unwrap();
    run(Command::new("dpkg").arg("-x").arg(deb).arg(root.path()));
    root
}

/// The shared libraries an executable names (`NEEDED`), lower-cased.
fn needed(executable: &Path) -> Vec<String> {
    let dynamic = stdout(Command::new("readelf").arg("-d").arg(executable));
    let libraries: Vec<String> = dynamic
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next())
        .map(str::to_lowercase)
        .collect();
    assert!(!libraries.is_empty(), "no NEEDED in {dynamic}");
    libraries
}

/// Every file under `dir`, as paths relative to it.
fn files_under(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// The man page each command of the grammar gets: `credtray.1.gz`, `credtray-session.1.gz`…
fn pages_of(cmd: &clap::Command, prefix: &str, out: &mut BTreeSet<String>) {
    let name = if prefix.is_empty() {
        cmd.get_name().to_owned()
    } else {
        format!("{prefix}-{}", cmd.get_name())
    };
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages_of(sub, &name, out);
    }
    out.insert(format!("{name}.1.gz"));
}

#[track_caller]
fn is_executable(path: &Path) {
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o755, "{}", path.display());
}

#[test]
fn the_cli_package_runs_and_links_and_depends_on_no_gui_library() {
    let deb = deb("credtray");
    let root = unpack(&deb);
    let cli = root.path().join("usr/bin/credtray");
    is_executable(&cli);
    assert!(
        !root.path().join("usr/bin/credtray-tray").exists(),
        "the tray is a package of its own"
    );

    let env = Env::new();
    let version = env.command_of(&cli, &["--version"]).output().unwrap();
    assert!(version.status.success(), "{version:?}");
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("credtray {}", env!("CARGO_PKG_VERSION"))
    );
    let list = env
        .command_of(&cli, &["session", "list", "--json"])
        .output()
        .unwrap();
    assert!(list.status.success(), "{list:?}");
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "[]");

    // Stripped: the debug build's symbols (hundreds of MB) stay out of the package.
    let sections = stdout(Command::new("readelf").arg("-S").arg(&cli));
    assert!(
        !sections.contains(".debug_info") && !sections.contains(".symtab"),
        "{sections}"
    );

    let libraries = needed(&cli);
    assert!(
        libraries.iter().any(|l| l.starts_with("libc.so")),
        "{libraries:?}"
    );
    let depends = field(&deb, "Depends");
    assert!(depends.contains("libc6"), "{depends}");
    for gui in GUI {
        assert!(
            !libraries.iter().any(|l| l.contains(gui)),
            "credtray needs {gui}: {libraries:?}"
        );
        assert!(
            !depends.contains(gui),
            "credtray depends on {gui}: {depends}"
        );
    }
    assert!(
        field(&deb, "Recommends").contains("gnome-keyring"),
        "a Secret Service is recommended"
    );
    assert!(
        field(&deb, "Suggests").contains("credtray-tray"),
        "{}",
        field(&deb, "Suggests")
    );
    assert!(
        field(&deb, "Version").starts_with(env!("CARGO_PKG_VERSION")),
        "{}",
        field(&deb, "Version")
    );
}

#[test]
fn the_cli_package_installs_completions_man_pages_and_the_agent_unit() {
    let root = unpack(&deb("credtray"));
    let usr = root.path().join("usr");

    let bash = usr.join("share/bash-completion/completions/credtray");
    let script = std::fs::read_to_string(&bash).unwrap();
    assert!(script.contains("complete -F") && script.contains("credtray"));
    run(Command::new("bash").arg("-n").arg(&bash));
    let zsh = std::fs::read_to_string(usr.join("share/zsh/vendor-completions/_credtray")).unwrap();
    assert!(
        zsh.starts_with("#compdef credtray"),
        "{:?}",
        zsh.lines().next()
    );
    let fish = usr.join("share/fish/vendor_completions.d/credtray.fish");
    assert!(
        std::fs::read_to_string(&fish)
            .unwrap()
            .contains("complete -c credtray"),
    );
    if Path::new("/usr/bin/fish").exists() {
        run(Command::new("fish").arg("--no-execute").arg(&fish));
    }

    // One page per command of the grammar, each one man renders without a warning.
    let man = usr.join("share/man/man1");
    let mut expected = BTreeSet::new();
    pages_of(&credtray::cli::grammar(), "", &mut expected);
    for page in [
        "credtray.1.gz",
        "credtray-session-start.1.gz",
        "credtray-agent.1.gz",
    ] {
        assert!(expected.contains(page), "{expected:?}");
    }
    assert_eq!(files_under(&man), expected);
    for page in &expected {
        let path = man.join(page);
        let roff = stdout(Command::new("gzip").arg("-dc").arg(&path));
        let title = page.trim_end_matches(".1.gz");
        assert!(
            roff.lines()
                .any(|l| l.starts_with(&format!(".TH {title} 1 "))),
            "{page} has no title line:\n{roff}"
        );
        let out = run(Command::new("man")
            .args(["--warnings", "-E", "UTF-8", "-l"])
            .arg(&path)
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .env("LC_ALL", "C.UTF-8"));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{text}");
        assert!(
            out.stderr.is_empty(),
            "{page}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let unit =
        std::fs::read_to_string(usr.join("lib/systemd/user/credtray-agent.service")).unwrap();
    assert!(
        unit.lines()
            .any(|l| l == "ExecStart=/usr/bin/credtray agent"),
        "{unit}"
    );
    assert!(!unit.contains("ExecStart=%h"), "{unit}");
    assert!(usr.join("share/doc/credtray/copyright").is_file());
}

#[test]
fn the_tray_package_depends_on_the_cli_and_the_libraries_it_loads() {
    let cli = deb("credtray");
    let deb = deb("credtray-tray");
    let root = unpack(&deb);
    let tray = root.path().join("usr/bin/credtray-tray");
    is_executable(&tray);
    // Answered before any GUI starts, so it runs without a display.
    let version = Command::new(&tray)
        .arg("--version")
        .env_remove("DISPLAY")
        .output()
        .unwrap();
    assert!(version.status.success(), "{version:?}");
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("credtray-tray {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(
        !root.path().join("usr/bin/credtray").exists(),
        "the CLI comes from its own package"
    );

    let depends = field(&deb, "Depends");
    let items: Vec<&str> = depends.split(',').map(str::trim).collect();
    let version = field(&cli, "Version");
    assert_eq!(field(&deb, "Version"), version, "one build, one version");
    assert!(
        items.contains(&format!("credtray (= {version})").as_str()),
        "{depends}"
    );
    // Loaded with dlopen by tray-icon, so no NEEDED entry names it: only Depends does.
    assert!(items.contains(&"libayatana-appindicator3-1"), "{depends}");
    // The login window comes in the same package; it alone links WebKit.
    let login = root.path().join("usr/bin/credtray-login");
    is_executable(&login);
    for (executable, library, package) in [
        (&tray, "libgtk-3.so", "libgtk-3-0"),
        (&login, "libwebkit2gtk-4.1.so", "libwebkit2gtk-4.1-0"),
    ] {
        let libraries = needed(executable);
        assert!(
            libraries.iter().any(|l| l.starts_with(library)),
            "{libraries:?}"
        );
        assert!(
            items.iter().any(|i| i.starts_with(package)),
            "{package} is not in {depends}"
        );
    }
}

#[test]
fn the_tray_package_installs_its_desktop_entry_and_icons() {
    let root = unpack(&deb("credtray-tray"));
    let share = root.path().join("usr/share");

    let desktop = share.join("applications/credtray.desktop");
    let entry = std::fs::read_to_string(&desktop).unwrap();
    let lines: Vec<&str> = entry.lines().collect();
    assert!(lines.contains(&"Exec=credtray-tray"), "{entry}");
    assert!(lines.contains(&"Icon=credtray"), "{entry}");
    assert!(root.path().join("usr/bin/credtray-tray").is_file());
    let validate = Command::new("desktop-file-validate")
        .arg(&desktop)
        .output()
        .expect("desktop-file-validate runs (desktop-file-utils)");
    let report = String::from_utf8_lossy(&validate.stdout);
    assert!(
        validate.status.success() && !report.contains("error:") && !report.contains("warning:"),
        "{report}"
    );

    let hicolor = share.join("icons/hicolor");
    for size in [16u32, 22, 24, 32, 48, 64, 128, 256] {
        let path = hicolor.join(format!("{size}x{size}/apps/credtray.png"));
        let png = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
        assert_eq!(&png[12..16], b"IHDR");
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((width, height), (size, size), "{}", path.display());
    }
    // The same drawing as the tray's: at 32 px, the tray's own active icon, byte for byte.
    assert_eq!(
        std::fs::read(hicolor.join("32x32/apps/credtray.png")).unwrap(),
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/icons/credtray-active.png"
        ))
        .unwrap(),
    );
    let svg = hicolor.join("scalable/apps/credtray.svg");
    let out = stdout(
        Command::new(python())
            .arg("-c")
            .arg(
                "import sys, xml.etree.ElementTree as ET\n\
         root = ET.parse(sys.argv[1]).getroot()\n\
         print(root.tag, root.get('viewBox'))",
            )
            .arg(&svg),
    );
    assert_eq!(out.trim(), "{http://www.w3.org/2000/svg}svg 0 0 32 32");
}

#[test]
fn lintian_finds_no_error_in_either_package() {
    let out = Command::new("lintian")
        .args(["--fail-on", "error", "--display-info"])
        .arg(deb("credtray"))
        .arg(deb("credtray-tray"))
        .output()
        .expect("lintian runs");
    let report = String::from_utf8_lossy(&out.stdout);
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E:")).collect();
    assert!(errors.is_empty(), "lintian:\n{report}");
    // It fails on errors, and on not being able to read a package.
    assert!(
        out.status.success(),
        "lintian: {}\n{report}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn python() -> String {
    std::env::var("CREDTRAY_TEST_PYTHON").expect("CREDTRAY_TEST_PYTHON is set by scripts/test")
}

#[test]
fn the_macos_plists_make_the_tray_a_menu_bar_app_started_at_login() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/macos");
    let out = stdout(
        Command::new(python())
            .arg("-c")
            .arg(
                "import json, plistlib, sys\n\
         print(json.dumps([plistlib.load(open(p, 'rb')) for p in sys.argv[1:]]))",
            )
            .arg(format!("{dir}/Info.plist"))
            .arg(format!("{dir}/dev.credtray.tray.plist")),
    );
    let plists: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (info, agent) = (&plists[0], &plists[1]);

    assert_eq!(info["LSUIElement"], true, "menu bar only, no Dock icon");
    assert_eq!(info["CFBundleExecutable"], "credtray-tray");
    assert_eq!(info["CFBundleIdentifier"], "dev.credtray.tray");
    assert_eq!(info["CFBundlePackageType"], "APPL");
    assert_eq!(info["NSHighResolutionCapable"], true);
    assert_eq!(
        info["CFBundleShortVersionString"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(info["CFBundleVersion"], env!("CARGO_PKG_VERSION"));
    assert!(info["LSMinimumSystemVersion"].is_string());

    assert_eq!(agent["Label"], "dev.credtray.tray");
    assert_eq!(agent["RunAtLoad"], true);
    let program = agent["ProgramArguments"][0].as_str().unwrap();
    assert!(
        program.ends_with(&format!(
            "/credtray.app/Contents/MacOS/{}",
            info["CFBundleExecutable"].as_str().unwrap()
        )),
        "{program}"
    );
}
