//! `credtray import aws-config` on a realistic ~/.aws (static keys with an MFA device, a role
//! chain of depth 2, credential_source, an sso-session, temporary keys, comments, CRLF): what is
//! created, the keys in the real Secret Service, idempotency, a dry run that changes nothing,
//! and the AWS CLI still working on the user's own profiles.

use crate::harness::{Env, fixtures, fresh_keys, keychain};

fn write_aws(env: &Env, f: &crate::harness::Fixtures) {
    std::fs::create_dir_all(env.aws_dir()).unwrap();
    let credentials = format!(
        "# my keys\r\n[dev]\r\naws_access_key_id = {}\r\naws_secret_access_key = {}\r\n\r\n[stale]\r\naws_access_key_id = ASIAIOSFODNN7EXAMPLE\r\naws_secret_access_key = x\r\naws_session_token = y\r\n",
        f.access_key_id, f.secret_access_key
    );
    let config = format!(
        "[profile dev]\n# mine\nregion = eu-west-1\n\n[profile ops]\nrole_arn = {}\nsource_profile = dev\nexternal_id = partner-1\nregion = eu-west-1\n\n[profile deep]\nrole_arn = {}\nsource_profile = ops\nregion = eu-west-1\n\n[profile box]\nrole_arn = arn:aws:iam::123456789012:role/Box\ncredential_source = Ec2InstanceMetadata\n\n[sso-session corp]\nsso_start_url = https://d-1234567890.awsapps.com/start\nsso_region = eu-west-1\n\n[profile corp-admin]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n",
        f.role_arn, f.deeper_role_arn
    );
    std::fs::write(env.aws_dir().join("credentials"), credentials).unwrap();
    std::fs::write(env.aws_dir().join("config"), config).unwrap();
}

/// Writes `~/.aws/credentials` with `[dev]` holding the fixtures' keys, then `rest`; returns
/// the text.
fn write_dev_keys(env: &Env, f: &crate::harness::Fixtures, rest: &str) -> String {
    std::fs::create_dir_all(env.aws_dir()).unwrap();
    let credentials = format!(
        "[dev]\naws_access_key_id = {}\naws_secret_access_key = {}\n{rest}",
        f.access_key_id, f.secret_access_key
    );
    std::fs::write(env.aws_dir().join("credentials"), &credentials).unwrap();
    credentials
}

/// An import's `--json` rows, none of which says "created".
pub fn nothing_created(rows: &serde_json::Value) {
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] != "created"),
        "{rows}"
    );
}

fn statuses(env: &Env, args: &[&str]) -> Vec<(String, String)> {
    let mut full = vec!["import", "aws-config", "--json"];
    full.extend_from_slice(args);
    env.run(&full, "")
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["profile"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn profiles_with_credentials_become_sessions_once_and_the_files_stay_as_they_were() {
    let env = Env::new();
    let f = fixtures();
    write_aws(&env, &f);
    let files = env.aws_files();

    // A dry run changes nothing: no store, no keychain entry, the same files.
    let planned = statuses(&env, &["--dry-run"]);
    assert!(
        planned.contains(&("dev".into(), "would be created".into())),
        "{planned:?}"
    );
    assert!(
        env.store_bytes()
            .is_none_or(|b| !String::from_utf8_lossy(&b).contains("[[session]]"))
    );
    assert_eq!(env.aws_files(), files);
    assert!(
        keychain("")
            .iter()
            .all(|i| !i.secret.contains(&f.secret_access_key)),
        "a dry run puts no key in the keychain"
    );

    let done = statuses(&env, &[]);
    let status = |p: &str| done.iter().find(|(q, _)| q == p).map(|(_, s)| s.as_str());
    assert_eq!(status("dev"), Some("created"), "{done:?}");
    assert_eq!(status("ops"), Some("created"));
    assert_eq!(status("deep"), Some("created"));
    assert_eq!(
        status("corp"),
        Some("created"),
        "one integration per start URL"
    );
    assert_eq!(status("corp-admin"), Some("remembered"));
    for skipped in ["stale", "box"] {
        assert_eq!(status(skipped), Some("skipped"), "{skipped}: {done:?}");
    }
    let (dev, ops, deep) = (env.session("dev"), env.session("ops"), env.session("deep"));
    assert_eq!(
        (dev["kind"].as_str(), dev["region"].as_str()),
        (Some("iam-user"), Some("eu-west-1"))
    );
    assert_eq!(ops["assumer"], dev["id"]);
    assert_eq!(ops["external_id"], "partner-1");
    assert_eq!(deep["assumer"], ops["id"]);
    assert_eq!(deep["role_arn"], f.deeper_role_arn.as_str());
    assert_eq!(
        crate::harness::key_pair(dev["id"].as_str().unwrap()),
        Some((f.access_key_id.clone(), f.secret_access_key.clone()))
    );
    assert_eq!(
        env.aws_files(),
        files,
        "import reads ~/.aws, never writes it"
    );

    // Idempotent: a second import creates nothing and leaves the store as it was.
    let store = env.store_bytes();
    let again = statuses(&env, &[]);
    assert!(again.iter().all(|(_, s)| s != "created"), "{again:?}");
    assert_eq!(env.store_bytes(), store);

    // The AWS CLI still works on the user's own profile; an imported chain starts (taking its
    // profile over) and gives the profile back when it stops.
    let arn = crate::engine::caller(&env, "dev");
    assert!(arn.contains(":user/"), "{arn}");
    env.run_moto(&["session", "start", "deep", "--take-over"], "")
        .ok();
    let arn = crate::engine::caller(&env, "deep");
    assert!(
        arn.contains(f.deeper_role_arn.rsplit('/').next().unwrap()),
        "{arn}"
    );
    env.run(&["session", "stop", "deep"], "").ok();
    assert_eq!(env.aws_files(), files);
}

#[test]
fn move_keys_takes_the_long_term_keys_off_the_disk_and_the_session_gives_the_rest_back() {
    let env = Env::new();
    let f = fixtures();
    std::fs::create_dir_all(env.aws_dir()).unwrap();
    let head = "# my keys\r\n[dev]\r\n";
    let note = "# rotated in March\r\n";
    let tail = "\r\n[stale]\r\naws_access_key_id = ASIAIOSFODNN7EXAMPLE\r\naws_secret_access_key = x\r\naws_session_token = y\r\n";
    let credentials = format!(
        "{head}aws_access_key_id = {}\r\n{}aws_secret_access_key = {}\r\n{tail}",
        f.access_key_id, note, f.secret_access_key
    );
    let config =
        "[profile dev]\nregion = eu-west-1\n# mine\n\n[profile stale]\nregion = eu-west-1\n";
    std::fs::write(env.aws_dir().join("credentials"), &credentials).unwrap();
    std::fs::write(env.aws_dir().join("config"), config).unwrap();
    let backup = env.aws_dir().join("credentials.credtray-backup");

    // A dry run moves nothing and says what would move.
    let dry = env
        .run(
            &["import", "aws-config", "--dry-run", "--move-keys", "--json"],
            "",
        )
        .ok()
        .json();
    let row = |rows: &serde_json::Value, p: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["profile"] == p)
            .cloned()
            .unwrap()
    };
    assert_eq!(row(&dry, "dev")["keys"], "would move", "{dry}");
    assert_eq!(env.aws_files(), (credentials.clone(), config.to_owned()));
    assert!(!backup.exists());
    assert!(
        env.store_bytes()
            .is_none_or(|b| !String::from_utf8_lossy(&b).contains("[[session]]"))
    );
    assert!(
        keychain("")
            .iter()
            .all(|i| !i.secret.contains(&f.secret_access_key))
    );

    let done = env
        .run(&["import", "aws-config", "--move-keys", "--json"], "")
        .ok()
        .json();
    assert_eq!(row(&done, "dev")["keys"], "moved", "{done}");
    assert!(row(&done, "stale").get("keys").is_none(), "{done}");
    // The two key lines are gone, every other byte is where it was; the keys are in the real
    // Secret Service; the backup says what went, never the values.
    let moved = format!("{head}{}{tail}", note);
    assert_eq!(env.aws_files(), (moved.clone(), config.to_owned()));
    let dev = env.id_of("dev");
    assert_eq!(
        crate::harness::key_pair(&dev),
        Some((f.access_key_id.clone(), f.secret_access_key.clone()))
    );
    let kept = std::fs::read_to_string(&backup).unwrap();
    assert!(
        kept.contains("aws_secret_access_key = <moved to the keychain by credtray>")
            && kept.contains("aws_access_key_id = <moved to the keychain by credtray>")
            && kept.contains("# rotated in March"),
        "{kept}"
    );
    assert!(
        !kept.contains(&f.secret_access_key) && !kept.contains(&f.access_key_id),
        "{kept}"
    );
    let table = env.run(&["import", "aws-config", "--move-keys"], "").ok();
    assert!(table.stdout.contains("already present"), "{}", table.stdout);

    // A second import (moving again) changes nothing.
    let store = env.store_bytes();
    nothing_created(
        &env.run(&["import", "aws-config", "--move-keys", "--json"], "")
            .ok()
            .json(),
    );
    assert_eq!(env.store_bytes(), store);
    assert_eq!(env.aws_files(), (moved.clone(), config.to_owned()));

    // The AWS CLI still reads the profile that was not moved.
    crate::engine::caller(&env, "stale");
    // The moved profile starts without --take-over, the AWS CLI uses it, and stopping gives
    // the section back without the keys, twice over: it stays the session's between runs.
    for _ in 0..2 {
        env.run_moto(&["session", "start", "dev"], "").ok();
        let arn = crate::engine::caller(&env, "dev");
        assert!(arn.contains(":user/"), "{arn}");
        env.run(&["session", "stop", "dev"], "").ok();
        assert_eq!(env.aws_files(), (moved.clone(), config.to_owned()));
    }
    // Deleting the session gives the sections up with the keys back in them: the keychain's
    // copy, the only one, goes with the session.
    env.run(&["session", "delete", "dev"], "").ok();
    let (back, config_back) = env.aws_files();
    assert!(
        back.contains(&format!("aws_access_key_id = {}", f.access_key_id))
            && back.contains(&format!("aws_secret_access_key = {}", f.secret_access_key))
            && back.contains(note)
            && back.ends_with(tail),
        "{back}"
    );
    assert_eq!(config_back, config);
    crate::engine::caller(&env, "dev");
    let store = String::from_utf8(env.store_bytes().unwrap()).unwrap();
    assert!(!store.contains("taken_over"), "{store}");
}

#[test]
fn a_move_killed_between_its_record_and_the_write_leaves_the_keys_in_place_and_can_be_redone() {
    let env = Env::new();
    let f = fixtures();
    let credentials = write_dev_keys(&env, &f, "");
    // A config section too, with no keys: it is claimed only once the keys have moved.
    let config = "[profile dev]\nregion = eu-west-1\n";
    std::fs::write(env.aws_dir().join("config"), config).unwrap();
    let mut cmd = env.command(&["import", "aws-config", "--move-keys"]);
    cmd.env("CREDTRAY_FAILPOINT", "after-move-intent");
    let killed = crate::harness::finish(cmd, "");
    assert_ne!(killed.code, 0, "{killed:?}");
    assert!(
        killed.stderr.contains("failpoint after-move-intent"),
        "{killed:?}"
    );
    let store = String::from_utf8(env.store_bytes().unwrap()).unwrap();
    assert!(
        store.contains("intent = "),
        "the record was saved first: {store}"
    );
    // The next command that takes the store's lock settles it: the write never happened, so
    // the record goes and the keys are still where the user had them.
    env.run(&["session", "stop", "dev"], "").ok();
    let store = String::from_utf8(env.store_bytes().unwrap()).unwrap();
    assert!(!store.contains("taken_over"), "{store}");
    assert_eq!(env.aws_files().0, credentials);
    let dev = env.id_of("dev");
    assert!(
        keychain(&dev)
            .iter()
            .all(|i| !i.account.contains("taken-over")),
        "the kept original is dropped with its record"
    );
    // And the move can be made again, which claims both sections.
    env.run(&["import", "aws-config", "--move-keys"], "").ok();
    assert_eq!(env.aws_files(), ("[dev]\n".to_owned(), config.to_owned()));
    let store = String::from_utf8(env.store_bytes().unwrap()).unwrap();
    assert_eq!(store.matches("kept = true").count(), 2, "{store}");
}

#[test]
fn deleting_a_session_whose_keys_moved_never_overwrites_nor_recreates_the_users_keys() {
    let env = Env::new();
    let (dev_key, dev_secret) = fresh_keys();
    let (ops_key, ops_secret) = fresh_keys();
    std::fs::create_dir_all(env.aws_dir()).unwrap();
    let credentials = format!(
        "[dev]\naws_access_key_id = {dev_key}\naws_secret_access_key = {dev_secret}\n\n[ops]\naws_access_key_id = {ops_key}\naws_secret_access_key = {ops_secret}\n"
    );
    std::fs::write(env.aws_dir().join("credentials"), credentials).unwrap();
    env.run(&["import", "aws-config", "--move-keys"], "").ok();
    assert_eq!(env.aws_files().0, "[dev]\n\n[ops]\n");
    let (dev, ops) = (env.id_of("dev"), env.id_of("ops"));

    // The user rotated ops's key and ran `aws configure`: AWS showed that secret once, and
    // the section is its only copy. It stays; the old keys are not written over it.
    let (new_key, new_secret) = fresh_keys();
    let rotated = format!(
        "[dev]\n\n[ops]\naws_access_key_id = {new_key}\naws_secret_access_key = {new_secret}\n"
    );
    std::fs::write(env.aws_dir().join("credentials"), &rotated).unwrap();
    let deleted = env.run(&["session", "delete", "ops"], "").ok();
    assert!(
        deleted.stdout.contains("were not written back")
            && deleted.stdout.contains("holds other keys now"),
        "{deleted:?}"
    );
    assert_eq!(env.aws_files().0, rotated);
    assert!(keychain(&ops).is_empty(), "{:?}", keychain(&ops));

    // The user removed [dev]: its keys have nowhere to go. The delete refuses (exit 2) and
    // says why, rather than destroy their only copy or write them back in plain text.
    let without =
        format!("[ops]\naws_access_key_id = {new_key}\naws_secret_access_key = {new_secret}\n");
    std::fs::write(env.aws_dir().join("credentials"), &without).unwrap();
    let refused = env.run(&["session", "delete", "dev"], "");
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("[dev]")
            && refused.stderr.contains("is gone")
            && refused.stderr.contains("--discard-keys"),
        "{refused:?}"
    );
    assert_eq!(env.aws_files().0, without);
    assert!(crate::harness::key_pair(&dev).is_some_and(|(_, secret)| secret == dev_secret));
    assert_eq!(env.session("dev")["state"], "inactive");
    // Told to, it deletes them with the session, and still writes nothing.
    let discarded = env
        .run(&["session", "delete", "dev", "--discard-keys"], "")
        .ok();
    assert!(
        discarded.stdout.contains("were deleted with it"),
        "{discarded:?}"
    );
    assert_eq!(env.aws_files().0, without);
    assert!(keychain(&dev).is_empty(), "{:?}", keychain(&dev));
}

#[test]
fn deleting_a_session_whose_keys_moved_leaves_a_credential_source_set_up_since_alone() {
    let env = Env::new();
    let (key, secret) = fresh_keys();
    std::fs::create_dir_all(env.aws_dir()).unwrap();
    std::fs::write(
        env.aws_dir().join("credentials"),
        format!("[dev]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"),
    )
    .unwrap();
    env.run(&["import", "aws-config", "--move-keys"], "").ok();
    // The user moved dev to SSO: long-term keys back in the credentials file would win over
    // it, in plain text.
    let config = "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n\n[sso-session corp]\nsso_start_url = https://d-1234567890.awsapps.com/start\nsso_region = eu-west-1\n";
    std::fs::write(env.aws_dir().join("config"), config).unwrap();
    let before = env.aws_files();
    let deleted = env.run(&["session", "delete", "dev"], "").ok();
    assert!(
        deleted.stdout.contains("were not written back")
            && deleted.stdout.contains("another credential source"),
        "{deleted:?}"
    );
    assert_eq!(env.aws_files(), before);
    assert!(
        env.files()
            .iter()
            .all(|(_, bytes)| !String::from_utf8_lossy(bytes).contains(&secret))
    );
}

#[test]
fn deleting_a_session_whose_keys_moved_from_beside_role_settings_writes_them_back() {
    let env = Env::new();
    let f = fixtures();
    write_dev_keys(&env, &f, "");
    // Settings for the roles assumed from dev, there before the keys moved: none of them is
    // a credential source, and nothing changed since.
    let config =
        "[profile dev]\nregion = eu-west-1\nrole_session_name = me\nduration_seconds = 3600\n";
    std::fs::write(env.aws_dir().join("config"), config).unwrap();
    env.run(&["import", "aws-config", "--move-keys"], "").ok();
    assert!(!env.aws_files().0.contains(&f.secret_access_key));
    let dev = env.id_of("dev");
    let deleted = env.run(&["session", "delete", "dev"], "").ok();
    assert!(!deleted.stdout.contains("not written back"), "{deleted:?}");
    assert!(
        env.aws_files()
            .0
            .contains(&format!("aws_secret_access_key = {}", f.secret_access_key)),
        "{:?}",
        env.aws_files()
    );
    assert_eq!(env.aws_files().1, config);
    assert!(keychain(&dev).is_empty(), "{:?}", keychain(&dev));
    // The user's profile works as before the move.
    let arn = crate::engine::caller(&env, "dev");
    assert!(arn.contains(":user/"), "{arn}");
}

#[test]
fn a_refused_delete_of_a_running_session_changes_no_file_nor_the_store() {
    let env = Env::new();
    let f = fixtures();
    write_dev_keys(&env, &f, "\n[mine]\nx = 1\n");
    env.run(&["import", "aws-config", "--move-keys"], "").ok();
    let dev = env.id_of("dev");
    env.run_moto(&["session", "start", "dev"], "").ok();
    // While it runs the user removes [dev] (credtray's temporary credentials there).
    std::fs::write(env.aws_dir().join("credentials"), "[mine]\nx = 1\n").unwrap();
    let aws_before: Vec<_> = env
        .files()
        .into_iter()
        .filter(|(p, _)| p.starts_with(env.aws_dir()))
        .collect();
    let store_before = env.store_bytes();
    let refused = env.run_moto(&["session", "delete", "dev"], "");
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("is gone") && refused.stderr.contains("--discard-keys"),
        "{refused:?}"
    );
    let aws_after: Vec<_> = env
        .files()
        .into_iter()
        .filter(|(p, _)| p.starts_with(env.aws_dir()))
        .collect();
    assert!(aws_after == aws_before, "a file in ~/.aws changed");
    assert!(env.store_bytes() == store_before, "the store changed");
    assert_eq!(env.session("dev")["state"], "active");
    assert!(
        crate::harness::key_pair(&dev).is_some_and(|(_, secret)| secret == f.secret_access_key)
    );
    // Told to, it destroys the keys with the session, and brings neither them nor the section
    // back.
    env.run_moto(&["session", "delete", "dev", "--discard-keys"], "")
        .ok();
    assert_eq!(env.aws_files().0, "[mine]\nx = 1\n");
    assert!(keychain(&dev).is_empty(), "{:?}", keychain(&dev));
    for (path, bytes) in env.files() {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&f.secret_access_key),
            "the moved secret in {}",
            path.display()
        );
    }
}

#[test]
fn moved_keys_are_in_no_file_credtray_wrote_even_after_an_earlier_take_over() {
    let env = Env::new();
    let f = fixtures();
    let credentials = write_dev_keys(&env, &f, "");
    std::fs::write(
        env.aws_dir().join("config"),
        "[profile dev]\nregion = eu-west-1\n",
    )
    .unwrap();
    crate::engine::add_moto_user(&env, &f, "dev", "dev", &[]);
    // Taken over first: the backup holds the user's section verbatim, keys included.
    env.run_moto(&["session", "start", "dev", "--take-over"], "")
        .ok();
    env.run(&["session", "stop", "dev"], "").ok();
    assert_eq!(env.aws_files().0, credentials);
    let backup = env.aws_dir().join("credentials.credtray-backup");
    assert!(
        std::fs::read_to_string(&backup)
            .unwrap()
            .contains(&f.secret_access_key)
    );

    let rows = env
        .run(&["import", "aws-config", "--move-keys", "--json"], "")
        .ok()
        .json();
    let dev = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["profile"] == "dev")
        .unwrap();
    assert_eq!(dev["keys"], "moved", "{rows}");
    // Every file below the test's root: ~/.aws with its backups and locks, credtray's config
    // and data directories, the runtime directory.
    let files = env.files();
    assert!(files.iter().any(|(p, _)| p == &backup));
    for (path, bytes) in files {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&f.secret_access_key),
            "the moved secret in {}:\n{text}",
            path.display()
        );
    }
    let kept = std::fs::read_to_string(&backup).unwrap();
    assert!(
        kept.contains("credtray took over this section")
            && kept.contains("aws_secret_access_key = <moved to the keychain by credtray>"),
        "{kept}"
    );
}
