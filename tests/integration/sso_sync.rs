//! Syncing an IAM Identity Center organisation as its users meet it: a hundred accounts at the
//! portal's quota, two syncs at once (one listing, two reports), and Ctrl-C while listing or
//! while applying (nothing half-applied). Against the local stub's token bucket, through the
//! real binary, with the real Secret Service.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Env, Run, moto};
use crate::sso::{derived, log_in, run};
use crate::sso_stub::SsoStub;

/// A logged-in integration `corp` of `accounts` generated accounts with `roles` roles each,
/// listed on one page.
fn organisation(accounts: usize, roles: usize) -> (Env, SsoStub) {
    let env = Env::new();
    let stub = SsoStub::start();
    stub.config(json!({
        "generate": {"accounts": accounts, "roles_per_account": roles},
        "page_size": 100,
    }));
    log_in(&env, &stub).ok();
    (env, stub)
}

/// `credtray integration sync corp`, started and left running.
fn spawn_sync(env: &Env, stub: &SsoStub, failpoint: Option<&str>) -> Child {
    let mut cmd = env.command(&["integration", "sync", "corp"]);
    cmd.envs(stub.env())
        .env("AWS_ENDPOINT_URL", moto())
        .stdin(Stdio::null());
    if let Some(at) = failpoint {
        cmd.env("CREDTRAY_FAILPOINT", at)
            .env("CREDTRAY_FAILPOINT_RELEASE", env.root.join("release"));
    }
    cmd.spawn().unwrap()
}

fn wait(child: Child) -> Run {
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or_else(|| {
            128 + std::os::unix::process::ExitStatusExt::signal(&out.status).unwrap()
        }),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Waits (a minute at most) until `ready` holds.
fn until(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn session_list(env: &Env) -> Value {
    env.run(&["session", "list", "--json"], "").ok().json()
}

/// The portal calls of an operation that were answered (not throttled).
fn answered(stub: &SsoStub, operation: &str) -> usize {
    stub.log_of(operation)
        .iter()
        .filter(|e| e["status"] == 200)
        .count()
}

#[test]
fn a_hundred_accounts_at_the_portals_quota_sync_whole_and_the_learned_pace_is_kept() {
    let env = Env::new();
    let stub = SsoStub::start();
    stub.config(json!({
        "generate": {"accounts": 100, "roles_per_account": 3},
        "page_size": 100,
        "throttle": {"rate": 20, "burst": 20},
    }));
    let login = log_in(&env, &stub);
    assert_eq!(login.code, 0, "{login:?}");
    assert!(
        login
            .stdout
            .contains("100 accounts, 300 sessions (300 added"),
        "{login:?}"
    );
    assert!(!login.stdout.contains("could not be listed"), "{login:?}");
    // Not on a terminal: a plain line per phase, and every tenth of the accounts.
    for line in [
        "corp: listing accounts\n",
        "corp: listing the roles of 100 accounts\n",
        "corp: 50 / 100 accounts, ",
        "requests throttled); applying\n",
    ] {
        assert!(login.stderr.contains(line), "{line:?}: {login:?}");
    }
    assert!(!login.stderr.contains('\r'), "{login:?}");
    assert_eq!(derived(&env).len(), 300);
    assert_eq!(answered(&stub, "ListAccountRoles"), 100);
    // What the pace learned is kept with the integration, for the next process's sync.
    let store = String::from_utf8(env.store_bytes().unwrap()).unwrap();
    let rate: f64 = store
        .lines()
        .find_map(|l| l.strip_prefix("pace_rate = "))
        .unwrap_or_else(|| panic!("no pace_rate in {store}"))
        .parse()
        .unwrap();
    assert!(rate > 0.5 && rate < 100.0, "{rate}");
    assert!(store.starts_with("# credtray") && store.contains("version = 7"));
}

#[test]
fn two_syncs_at_once_list_the_portal_once_and_both_report_it() {
    let (env, stub) = organisation(30, 2);
    stub.assign("100000000003", "Auditor");
    // Slow enough (about 3 s) for the second to start while the first lists.
    stub.config(json!({"throttle": {"rate": 10, "burst": 1}}));
    stub.control("clear_log", &json!({}));
    let first = spawn_sync(&env, &stub, None);
    until("the first sync lists accounts", || {
        !stub.log_of("ListAccounts").is_empty()
    });
    let second = spawn_sync(&env, &stub, None);
    let (first, second) = (wait(first), wait(second));
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(second.code, 0, "{second:?}");
    // One listing of everything, not two.
    assert_eq!(answered(&stub, "ListAccounts"), 1, "{:?}", stub.log());
    assert_eq!(answered(&stub, "ListAccountRoles"), 30);
    for sync in [&first, &second] {
        assert!(
            sync.stdout
                .contains("30 accounts, 61 sessions (1 added, 60 kept, 0 removed)"),
            "{sync:?}"
        );
    }
    assert!(
        second
            .stdout
            .contains("another sync of \"corp\" was running (process "),
        "{second:?}"
    );
    assert!(!first.stdout.contains("another sync"), "{first:?}");
    assert_eq!(derived(&env).len(), 61);
}

#[test]
fn ctrl_c_while_listing_changes_nothing_and_says_so() {
    let (env, stub) = organisation(40, 2);
    // A sync now would remove an account's sessions and add a role: it is slow (4 s).
    stub.unassign("100000000000", None);
    stub.assign("100000000005", "Auditor");
    stub.config(json!({"throttle": {"rate": 10, "burst": 1}}));
    let before = session_list(&env);
    let store_before = env.store_bytes();
    stub.control("clear_log", &json!({}));
    let sync = spawn_sync(&env, &stub, None);
    until("the sync lists roles", || {
        answered(&stub, "ListAccountRoles") >= 5
    });
    interrupt(&sync);
    let sync = wait(sync);
    assert_eq!(sync.code, 130, "{sync:?}");
    assert!(
        sync.stderr
            .contains("the sync of corp was cancelled before it changed anything"),
        "{sync:?}"
    );
    assert_eq!(session_list(&env), before);
    assert_eq!(env.store_bytes(), store_before);
    // It stopped listing: the rest of the accounts were never asked for.
    assert!(answered(&stub, "ListAccountRoles") < 39, "{:?}", stub.log());
    // And the next sync does it all.
    let again = run(&env, &stub, &["integration", "sync", "corp"]);
    assert!(
        again.stdout.contains("(1 added, 78 kept, 2 removed)"),
        "{again:?}"
    );
}

#[test]
fn ctrl_c_while_applying_lets_the_sync_finish_rather_than_half_apply_it() {
    let (env, stub) = organisation(3, 2);
    stub.unassign("100000000000", None);
    stub.assign("100000000002", "Auditor");
    // Stopped halfway through applying: the vanished account's sessions removed, the new
    // role's not yet added.
    let sync = spawn_sync(&env, &stub, Some("sync-halfway"));
    until("the sync applies", || {
        env.root.join("release.waiting").exists()
    });
    interrupt(&sync);
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(env.root.join("release"), b"").unwrap();
    let sync = wait(sync);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert!(
        sync.stdout.contains("(1 added, 4 kept, 2 removed)"),
        "{sync:?}"
    );
    let aliases: Vec<String> = derived(&env)
        .iter()
        .map(|s| s["alias"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(aliases.len(), 5, "{aliases:?}");
    assert!(
        aliases.contains(&"account-0003/Auditor".to_owned()),
        "{aliases:?}"
    );
    assert!(
        !aliases.iter().any(|a| a.starts_with("account-0001/")),
        "{aliases:?}"
    );
}

#[test]
fn on_a_terminal_a_sync_shows_a_live_line() {
    let (env, stub) = organisation(30, 2);
    stub.config(json!({"throttle": {"rate": 10, "burst": 1}}));
    // `script` gives the command a terminal (a pty) and copies what it draws.
    let mut cmd = env.command_of(
        "script",
        &[
            "--quiet",
            "--return",
            "--command",
            &format!("{} integration sync corp", env!("CARGO_BIN_EXE_credtray")),
            "/dev/null",
        ],
    );
    cmd.envs(stub.env())
        .env("AWS_ENDPOINT_URL", moto())
        .env("TERM", "xterm-256color");
    let sync = crate::harness::finish(cmd, "");
    assert_eq!(sync.code, 0, "{sync:?}");
    // indicatif's line, redrawn in place: accounts of all, roles, throttles, time.
    assert!(sync.stdout.contains("/30 accounts · "), "{sync:?}");
    assert!(sync.stdout.contains(" roles · "), "{sync:?}");
    assert!(sync.stdout.contains("\u{1b}["), "{sync:?}");
    // Not the plain lines of a pipe.
    assert!(
        !sync.stdout.contains("corp: listing accounts\r\n"),
        "{sync:?}"
    );
    assert!(
        sync.stdout.contains("synced \"corp\": 30 accounts"),
        "{sync:?}"
    );
}

#[test]
fn a_network_lost_mid_sync_names_the_accounts_it_could_not_list_and_keeps_their_sessions() {
    let (env, stub) = organisation(30, 2);
    // Account 0001 is no longer assigned: the account list (read whole) says so.
    stub.unassign("100000000000", None);
    stub.config(json!({"throttle": {"rate": 10, "burst": 1}}));
    stub.control("clear_log", &json!({}));
    let sync = spawn_sync(&env, &stub, None);
    until("the sync lists roles", || {
        answered(&stub, "ListAccountRoles") >= 5
    });
    // The portal vanishes mid-sync.
    let killed = Command::new("kill")
        .args(["-KILL", &stub.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let sync = wait(sync);
    assert_eq!(sync.code, 1, "{sync:?}");
    let failed: usize = sync
        .stdout
        .lines()
        .find_map(|l| {
            l.strip_suffix(" account(s) could not be listed; their sessions are kept as they were:")
        })
        .unwrap_or_else(|| panic!("no failed accounts named: {sync:?}"))
        .parse()
        .unwrap();
    assert!((1..29).contains(&failed), "{sync:?}");
    assert!(
        sync.stdout.contains("account-0030 (100000000029)"),
        "{sync:?}"
    );
    // Only the unassigned account's sessions went: every account whose roles could not be
    // read keeps its sessions.
    let aliases: Vec<String> = derived(&env)
        .iter()
        .map(|s| s["alias"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(aliases.len(), 58, "{aliases:?}");
    assert!(!aliases.iter().any(|a| a.starts_with("account-0001/")));
}
