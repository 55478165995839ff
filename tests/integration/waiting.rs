//! No command waits on another one's keychain call: the store's lock is let go for every
//! keychain call, and a lock that is not free within 5 s is given up on with a sentence naming
//! its holder and what it waits for. The other command is held inside a keychain call by the
//! debug failpoint `keychain-wait` until the test creates its release file.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::harness::{Env, Run, fresh_keys, key_pair, keychain};

/// `credtray args` paused at debug failpoint `at` (`keychain-wait`: inside its first keychain
/// call): the process, and the file whose creation lets it go on.
fn paused_at(env: &Env, at: &str, args: &[&str], stdin: &str) -> (Child, PathBuf) {
    let release = env.root.join("release");
    let mut cmd = env.command(args);
    cmd.env("CREDTRAY_FAILPOINT", at)
        .env("CREDTRAY_FAILPOINT_RELEASE", &release);
    let mut child = cmd.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
    let waiting = env.root.join("release.waiting");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !waiting.exists() {
        assert!(
            Instant::now() < deadline,
            "the command never reached its keychain call"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, release)
}

fn paused(env: &Env, args: &[&str], stdin: &str) -> (Child, PathBuf) {
    paused_at(env, "keychain-wait", args, stdin)
}

/// Lets a [`paused_at`] command go on and waits for it.
fn resume(child: Child, release: &PathBuf) -> Run {
    std::fs::write(release, b"").unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

#[test]
fn a_stop_finishes_while_another_command_waits_on_the_keychain() {
    let env = Env::new();
    let (id, secret) = fresh_keys();
    env.add_user("ops", &id, &secret);
    env.run_moto(&["session", "start", "ops"], "").ok();

    let (id, secret) = fresh_keys();
    let (adding, release) = paused(
        &env,
        &[
            "session",
            "add",
            "iam-user",
            "--alias",
            "dev",
            "--profile",
            "dev",
            "--access-key-id",
            "-",
            "--secret-access-key",
            "-",
        ],
        &format!("{id}\n{secret}\n"),
    );
    // It should take milliseconds; two seconds leaves room for a loaded machine.
    let started = Instant::now();
    let stop = env.run(&["session", "stop", "ops"], "");
    let took = started.elapsed();
    let added = resume(adding, &release);
    stop.ok();
    assert!(took < Duration::from_secs(2), "the stop took {took:?}");
    assert_eq!(env.session("ops")["state"], "inactive");

    added.ok();
    let dev = env.id_of("dev");
    assert_eq!(keychain(&dev).len(), 1, "the key pair is kept");
    assert_eq!(key_pair(&dev), Some((id, secret)), "the key pair is kept");
    assert_eq!(env.session("ops")["state"], "inactive", "the stop is kept");
}

#[test]
fn a_command_that_cannot_get_a_lock_in_5_s_names_its_holder_and_what_it_waits_for() {
    let env = Env::new();
    let (id, secret) = fresh_keys();
    let dev = env.add_user("dev", &id, &secret);
    let (deleting, release) = paused(&env, &["session", "delete", "dev"], "");
    let holder = deleting.id();

    let started = Instant::now();
    let second = env.run(&["session", "delete", "dev"], "");
    let took = started.elapsed();
    let first = resume(deleting, &release);
    assert_eq!(second.code, 1, "{second:?}");
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(30),
        "gave up after {took:?}"
    );
    assert!(
        second.stderr.contains(&format!(
            "process {holder} (credtray session delete) has held it for more than 5 s, waiting for the OS keychain"
        )),
        "{second:?}"
    );

    first.ok();
    assert!(keychain(&dev).is_empty(), "the first delete finished");
    assert_eq!(
        env.run(&["session", "list", "--json"], "").ok().json(),
        serde_json::json!([])
    );
}

#[test]
fn a_command_that_cannot_get_the_store_in_5_s_names_the_process_that_holds_it() {
    let env = Env::new();
    env.run(&["profile", "add", "one"], "").ok();
    let (holding, release) = paused_at(&env, "store-wait", &["profile", "add", "two"], "");
    let holder = holding.id();

    let started = Instant::now();
    let second = env.run(&["profile", "add", "three"], "");
    let took = started.elapsed();
    let first = resume(holding, &release);
    assert_eq!(second.code, 1, "{second:?}");
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(30),
        "gave up after {took:?}"
    );
    let lock = env.config_dir().join("config.toml.lock");
    assert!(
        second.stderr.contains(&format!(
            "cannot lock {}: process {holder} (credtray profile add) has held it for more than 5 s, changing credtray's store",
            lock.display()
        )),
        "{second:?}"
    );
    first.ok();
    let profiles = env.run(&["profile", "list", "--json"], "").ok().json();
    let names = profiles.to_string();
    assert!(
        names.contains("\"two\"") && !names.contains("\"three\""),
        "{profiles}"
    );
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        "",
        "no holder is named once none holds it"
    );
}
