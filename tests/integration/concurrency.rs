//! Concurrent CLI invocations never lose an update: the store's lock serialises them.

use std::collections::BTreeSet;

use crate::harness::{Env, fresh_keys, key_pair, keychain};

#[test]
fn twenty_parallel_adds_all_land_in_the_store_and_the_keychain() {
    let env = Env::new();
    let children: Vec<_> = (0..20)
        .map(|i| {
            let (access_key_id, secret) = fresh_keys();
            let alias = format!("parallel-{i:02}");
            let mut cmd = env.command(&[
                "session",
                "add",
                "iam-user",
                "--alias",
                &alias,
                "--access-key-id",
                "-",
                "--secret-access-key",
                "-",
            ]);
            let mut child = cmd.spawn().unwrap();
            // Start all twenty before feeding any, so they race for the store.
            (
                child.stdin.take().unwrap(),
                child,
                format!("{access_key_id}\n{secret}\n"),
            )
        })
        .collect();
    let children: Vec<_> = children
        .into_iter()
        .map(|(mut stdin, child, input)| {
            std::io::Write::write_all(&mut stdin, input.as_bytes()).unwrap();
            drop(stdin);
            child
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let list = env.run(&["session", "list", "--json"], "").ok().json();
    let aliases: BTreeSet<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["alias"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = (0..20).map(|i| format!("parallel-{i:02}")).collect();
    assert_eq!(aliases, expected);
    for session in list.as_array().unwrap() {
        let id = session["id"].as_str().unwrap();
        assert_eq!(keychain(id).len(), 1, "one key pair item: {session}");
        assert!(key_pair(id).is_some(), "{session}");
    }
}

#[test]
fn parallel_profile_adds_and_session_adds_interleave_without_loss() {
    let env = Env::new();
    let children: Vec<_> = (0..10)
        .flat_map(|i| {
            let profile = format!("team-{i}");
            let alias = format!("fed-{i}");
            [
                env.command(&["profile", "add", &profile]).spawn().unwrap(),
                env.command(&[
                    "session",
                    "add",
                    "iam-role-federated",
                    "--alias",
                    &alias,
                    "--profile",
                    &format!("p{i}"),
                    "--role-arn",
                    "arn:aws:iam::123456789012:role/r",
                    "--idp-arn",
                    "arn:aws:iam::123456789012:saml-provider/p",
                    "--saml-url",
                    "https://idp.example.com/saml",
                ])
                .spawn()
                .unwrap(),
            ]
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let profiles = env.run(&["profile", "list", "--json"], "").ok().json();
    assert_eq!(
        profiles.as_array().unwrap().len(),
        1 + 10 + 10,
        "{profiles}"
    );
    let sessions = env.run(&["session", "list", "--json"], "").ok().json();
    assert_eq!(sessions.as_array().unwrap().len(), 10);
}
