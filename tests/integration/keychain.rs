//! Secrets go to the real Secret Service, exactly under the documented accounts, and nowhere
//! else; they are replaced in place, deleted with their session, and a keychain that can't be
//! reached fails the command without a trace.

use crate::harness::{Env, fresh_keys, key_pair, keychain, require_secret_service};

#[test]
fn adding_an_iam_user_stores_its_key_pair_as_exactly_one_keychain_entry() {
    let env = Env::new();
    let (access_key_id, secret) = fresh_keys();
    let id = env.add_user("Alice", &access_key_id, &secret);
    let items = keychain(&id);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].account, format!("{id}-iam-user-access-key"));
    assert_eq!(
        crate::harness::parse_key_pair(&items[0].secret),
        (access_key_id.clone(), secret.clone())
    );
    for (path, bytes) in env.files() {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&access_key_id) && !text.contains(&secret),
            "a secret is in {}",
            path.display()
        );
    }
    let session = env.session("alice");
    assert_eq!(session["kind"], "iam-user");
    assert_eq!(session["region"], "us-east-1");
    assert_eq!(session["profile"], "default");
}

#[test]
fn surrounding_whitespace_of_secrets_is_trimmed() {
    let env = Env::new();
    let (access_key_id, secret) = fresh_keys();
    let id = env.add_user(
        "Trim",
        &format!("  {access_key_id}\t"),
        &format!(" {secret} "),
    );
    assert_eq!(key_pair(&id), Some((access_key_id, secret)));
}

#[test]
fn secrets_are_read_in_the_order_their_options_are_given() {
    let env = Env::new();
    let (access_key_id, secret) = fresh_keys();
    env.run(
        &[
            "session",
            "add",
            "iam-user",
            "--secret-access-key",
            "-",
            "--alias",
            "Rev",
            "--access-key-id",
            "-",
        ],
        &format!("{secret}\n{access_key_id}\n"),
    )
    .ok();
    let id = env.id_of("Rev");
    assert_eq!(key_pair(&id), Some((access_key_id, secret)));
}

#[test]
fn edit_replaces_a_secret_in_place_and_keeps_the_other() {
    let env = Env::new();
    let (access_key_id, secret) = fresh_keys();
    let id = env.add_user("Bob", &access_key_id, &secret);
    let (new_access_key_id, new_secret) = fresh_keys();
    let run = env
        .run(
            &["session", "edit", "Bob", "--access-key-id", "-"],
            &format!("{new_access_key_id}\n"),
        )
        .ok();
    assert!(run.stdout.contains("access key id"), "{run:?}");
    assert_eq!(keychain(&id).len(), 1);
    assert_eq!(key_pair(&id), Some((new_access_key_id, secret)));

    env.run(
        &[
            "session",
            "edit",
            &id,
            "--secret-access-key",
            "-",
            "--access-key-id",
            "-",
        ],
        &format!("{new_secret}\n{access_key_id}\n"),
    )
    .ok();
    assert_eq!(key_pair(&id), Some((access_key_id, new_secret)));
}

#[test]
fn an_invalid_replacement_secret_changes_nothing() {
    let env = Env::new();
    let (access_key_id, secret) = fresh_keys();
    let id = env.add_user("Carol", &access_key_id, &secret);
    let before = env.store_bytes();
    let run = env.run(
        &["session", "edit", "Carol", "--access-key-id", "-"],
        "lowercase-is-not-a-key-id\n",
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("access key id"), "{run:?}");
    assert_eq!(env.store_bytes(), before);
    assert_eq!(key_pair(&id), Some((access_key_id, secret)));
}

#[test]
fn delete_removes_the_keychain_entries() {
    let env = Env::new();
    let (access_key_id, secret) = fresh_keys();
    let id = env.add_user("Dave", &access_key_id, &secret);
    assert_eq!(keychain(&id).len(), 1);
    env.run(&["session", "delete", "dave"], "").ok();
    assert_eq!(keychain(&id), vec![]);
    assert_eq!(env.run(&["session", "show", &id], "").code, 2);
}

#[test]
fn deleting_an_assumer_is_refused_naming_its_dependents_unless_cascading() {
    let env = Env::new();
    let (access_key_id, secret) = fresh_keys();
    let id = env.add_user("Root", &access_key_id, &secret);
    env.add_chained("Child", "Root");
    env.add_chained("Grandchild", "Child");
    let before = env.store_bytes();
    let run = env.run(&["session", "delete", "Root"], "");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("\"Child\"") && run.stderr.contains("--cascade"),
        "{run:?}"
    );
    assert_eq!(env.store_bytes(), before);
    assert_eq!(keychain(&id).len(), 1);

    let run = env
        .run(&["session", "delete", "Root", "--cascade"], "")
        .ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{run:?}");
    assert!(
        lines[0].contains("Grandchild") && lines[2].contains("Root"),
        "dependents go first: {run:?}"
    );
    assert_eq!(
        env.run(&["session", "list", "--json"], "").ok().json(),
        serde_json::json!([])
    );
    assert_eq!(keychain(&id), vec![]);
}

#[test]
fn an_unreachable_keychain_fails_the_add_with_exit_1_and_leaves_no_trace() {
    require_secret_service();
    let env = Env::new();
    let (access_key_id, secret) = fresh_keys();
    let mut cmd = env.command(&[
        "session",
        "add",
        "iam-user",
        "--alias",
        "Nowhere",
        "--access-key-id",
        "-",
        "--secret-access-key",
        "-",
    ]);
    cmd.env(
        "DBUS_SESSION_BUS_ADDRESS",
        format!("unix:path={}", env.root.join("no-bus").display()),
    );
    let run = crate::harness::finish(cmd, &format!("{access_key_id}\n{secret}\n"));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("OS keychain is not reachable"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("Secret Service"),
        "the message says what to do: {run:?}"
    );
    assert!(
        run.stderr
            .contains("never falls back to another store by itself")
            && run.stderr.contains("`credtray settings keychain file`"),
        "{run:?}"
    );
    assert_eq!(
        run.stderr
            .lines()
            .filter(|l| l.starts_with("credtray:"))
            .count(),
        1,
        "one clear sentence: {run:?}"
    );
    // No trace: no session in the store, no entry in the (real, reachable) keychain.
    assert_eq!(
        env.run(&["session", "list", "--json"], "").ok().json(),
        serde_json::json!([])
    );
    let anywhere = crate::harness::keychain("");
    assert!(
        anywhere
            .iter()
            .all(|i| !i.secret.contains(&access_key_id) && !i.secret.contains(&secret))
    );
}

#[test]
fn sessions_without_keys_never_touch_the_keychain() {
    require_secret_service();
    let env = Env::new();
    let no_bus = format!("unix:path={}", env.root.join("no-bus").display());
    let mut cmd = env.command(&[
        "session",
        "add",
        "iam-role-federated",
        "--alias",
        "Fed",
        "--role-arn",
        "arn:aws:iam::123456789012:role/r",
        "--idp-arn",
        "arn:aws:iam::123456789012:saml-provider/p",
        "--saml-url",
        "https://idp.example.com/saml",
    ]);
    cmd.env("DBUS_SESSION_BUS_ADDRESS", &no_bus);
    crate::harness::finish(cmd, "").ok();
    let mut cmd = env.command(&["session", "delete", "Fed"]);
    cmd.env("DBUS_SESSION_BUS_ADDRESS", &no_bus);
    crate::harness::finish(cmd, "").ok();
}
