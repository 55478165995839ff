//! An IAM user's access key pair is one keychain item: sessions stored as the two items of
//! before move to it, a move a crash interrupts is finished by the next start, and no kill of
//! an edit can leave a new key id beside an old secret.

use std::process::Stdio;
use std::time::Instant;

use credtray::secrets::{Item, Key, Keychain, SecretStore};
use credtray::session::SessionId;
use secrecy::SecretString;

use crate::connection::PrivateKeyring;
use crate::engine::{add_moto_user, caller};
use crate::harness::{Env, fixtures, key_pair, keychain, lookup, parse_key_pair};
use crate::repairs::start_killed_at;

/// Puts session `id`'s keys back as credtray kept them before the pair: two items, written
/// through the same Secret Service client, and no pair item.
fn as_two_items(id: &str, access_key_id: &str, secret: &str) {
    let pair = format!("{id}-iam-user-access-key");
    // `clear` fails when nothing matches (a credtray that wrote two items itself).
    let _ = std::process::Command::new("secret-tool")
        .args(["clear", "service", "credtray", "username", &pair])
        .status()
        .expect("secret-tool runs (libsecret-tools)");
    assert_eq!(lookup(&pair), None);
    let session: SessionId = id.parse().unwrap();
    let keychain = Keychain::new();
    for (item, value) in [
        (Item::AccessKeyId, access_key_id),
        (Item::SecretAccessKey, secret),
    ] {
        keychain
            .set(
                Key::new(session, item),
                &SecretString::from(value.to_owned()),
            )
            .unwrap();
    }
}

fn accounts(id: &str) -> Vec<String> {
    keychain(id).into_iter().map(|i| i.account).collect()
}

#[test]
fn a_move_to_one_pair_item_a_crash_interrupted_is_finished_by_the_next_start() {
    // Killed once the pair is written (both old items left), and between the two deletes (the
    // secret's item left).
    for (failpoint, id_left) in [
        ("after-pair-written", true),
        ("after-old-id-deleted", false),
    ] {
        let env = Env::new();
        let f = fixtures();
        let id = add_moto_user(&env, &f, "dev", "dev", &[]);
        as_two_items(&id, &f.access_key_id, &f.secret_access_key);
        let keys = (f.access_key_id.clone(), f.secret_access_key.clone());

        start_killed_at(&env, failpoint, &[]);
        assert_eq!(key_pair(&id), Some(keys.clone()), "{failpoint}");
        assert_eq!(
            lookup(&format!("{id}-iam-user-access-key-id")).is_some(),
            id_left,
            "{failpoint}"
        );
        assert_eq!(
            lookup(&format!("{id}-iam-user-secret-access-key")).as_deref(),
            Some(f.secret_access_key.as_str()),
            "{failpoint}"
        );

        // The next start finishes the move and runs with the very keys.
        env.run_moto(&["session", "start", "dev"], "").ok();
        assert!(caller(&env, "dev").contains(":user/"), "{failpoint}");
        assert_eq!(key_pair(&id), Some(keys), "{failpoint}");
        assert_eq!(
            accounts(&id),
            [
                format!("{id}-iam-user-access-key"),
                format!("{id}-iam-user-session-token")
            ],
            "{failpoint}: the old items are gone"
        );
    }
}

#[test]
fn a_session_kept_as_two_items_is_tested_without_a_move_and_deleted_whole() {
    let env = Env::new();
    let f = fixtures();
    let id = add_moto_user(&env, &f, "dev", "dev", &[]);
    as_two_items(&id, &f.access_key_id, &f.secret_access_key);
    let before = accounts(&id);
    // A dry run reads the old layout and writes nothing.
    env.run_moto(&["session", "test", "dev"], "").ok();
    assert_eq!(accounts(&id), before);
    // A pair with leftovers beside it: the delete removes them all.
    env.run_moto(&["session", "start", "dev"], "").ok();
    let session: SessionId = id.parse().unwrap();
    Keychain::new()
        .set(
            Key::new(session, Item::SecretAccessKey),
            &SecretString::from("stale".to_owned()),
        )
        .unwrap();
    env.run(&["session", "delete", "dev"], "").ok();
    assert_eq!(accounts(&id), Vec::<String>::new());
}

/// The keys of `id` as credtray reads them: the pair item, else the two items of before.
fn keys_on(bus: &PrivateKeyring, id: &str) -> (String, String) {
    if let Some(json) = bus.lookup(&format!("{id}-iam-user-access-key")) {
        return parse_key_pair(&json);
    }
    (
        bus.lookup(&format!("{id}-iam-user-access-key-id"))
            .expect("an access key id"),
        bus.lookup(&format!("{id}-iam-user-secret-access-key"))
            .expect("a secret access key"),
    )
}

#[test]
fn sigkill_at_random_moments_of_a_key_edit_never_leaves_a_new_key_id_with_an_old_secret() {
    // A keychain of its own: a client killed while it opens its Secret Service session can
    // abort gnome-keyring-daemon (see repairs.rs), which here takes down only this one, revived
    // before the keys are looked at.
    let mut bus = PrivateKeyring::start();
    let env = Env::new();
    // Round n's keys: the secret names its key id, so a mixed pair shows.
    let keys = |n: u64| (format!("AKIA{n:016}"), format!("secret/of/{n}"));
    let edit = &[
        "session",
        "edit",
        "dev",
        "--access-key-id",
        "-",
        "--secret-access-key",
        "-",
    ];
    let (access_key_id, secret) = keys(0);
    bus.add_user(&env, "dev", &access_key_id, &secret);
    let id = env.id_of("dev");
    // How long an edit takes here, to spread the kills over all of it.
    let started = Instant::now();
    let (access_key_id, secret) = keys(1);
    bus.credtray(&env, edit, &format!("{access_key_id}\n{secret}\n"))
        .ok();
    let span = started.elapsed();
    let (mut landed, mut revived) = (0, 0);
    for round in 2..82u64 {
        let (access_key_id, secret) = keys(round);
        let mut child = bus
            .command(&env, edit)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if let Some(mut stdin) = child.stdin.take() {
            let _ = std::io::Write::write_all(
                &mut stdin,
                format!("{access_key_id}\n{secret}\n").as_bytes(),
            );
        }
        // 0 to 110 % of an edit's time, in steps of 1/40 in a scattered order.
        let step = u32::try_from((round * 17) % 45).unwrap();
        std::thread::sleep(span * step / 40);
        child.kill().ok(); // SIGKILL
        let status = child.wait().unwrap();
        landed += usize::from(!status.success());
        revived += usize::from(bus.revive());
        let (stored_id, stored_secret) = keys_on(&bus, &id);
        let n: u64 = stored_id.trim_start_matches("AKIA").parse().unwrap();
        assert_eq!(
            (stored_id.as_str(), stored_secret.as_str()),
            (keys(n).0.as_str(), keys(n).1.as_str()),
            "round {round} (killed after {step}/40 of {span:?}): a key id with another's secret"
        );
    }
    assert!(landed >= 20, "only {landed} kills landed mid-run");
    // Not a failure of credtray's: said so the log tells what the rounds went through.
    eprintln!("{landed} kills landed mid-edit; gnome-keyring was revived {revived} times");
}
