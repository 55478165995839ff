//! No secret appears anywhere but the keychain: not in stdout, `--json`, log lines (at trace
//! level), error messages, or any file the commands leave behind.

use crate::harness::{Env, Run, fresh_keys, keychain};

#[test]
fn secrets_used_through_a_whole_lifecycle_never_leave_the_keychain() {
    let env = Env::new();
    let (access_key_id, secret) = fresh_keys();
    let (access_key_id_2, secret_2) = fresh_keys();
    let mut runs: Vec<Run> = Vec::new();
    let mut run = |args: &[&str], stdin: &str| runs.push(env.run_moto(args, stdin));

    run(
        &[
            "session",
            "add",
            "iam-user",
            "--alias",
            "leaky",
            "--mfa-device",
            "arn:aws:iam::123456789012:mfa/me",
            "--access-key-id",
            "-",
            "--secret-access-key",
            "-",
        ],
        &format!("{access_key_id}\n{secret}\n"),
    );
    run(&["session", "list"], "");
    run(&["session", "list", "--json"], "");
    run(&["session", "show", "leaky"], "");
    run(&["session", "show", "leaky", "--json"], "");
    run(
        &[
            "session",
            "add",
            "iam-role-chained",
            "--alias",
            "child",
            "--role-arn",
            "arn:aws:iam::123456789012:role/r",
            "--assumer",
            "leaky",
        ],
        "",
    );
    run(
        &[
            "session",
            "edit",
            "leaky",
            "--access-key-id",
            "-",
            "--secret-access-key",
            "-",
        ],
        &format!("{access_key_id_2}\n{secret_2}\n"),
    );
    // Refused inputs that carry secrets: the messages must not echo them.
    run(
        &["session", "edit", "leaky", "--secret-access-key", "-"],
        &format!("{secret} {secret_2}\n"),
    );
    run(
        &["session", "edit", "leaky", "--access-key-id", "-"],
        &format!("{}x\n", access_key_id.to_lowercase()),
    );
    run(
        &[
            "session",
            "edit",
            "leaky",
            "--access-key-id",
            &access_key_id,
        ],
        "",
    );
    run(
        &[
            "session",
            "add",
            "iam-user",
            "--alias",
            "leaky",
            "--access-key-id",
            "-",
            "--secret-access-key",
            "-",
        ],
        &format!("{access_key_id}\n{secret}\n"),
    );
    run(&["session", "list", "--json"], "");
    run(&["profile", "list", "--json"], "");
    // Running it: STS calls at trace level, a dry run, a chained start, a stop.
    run(&["session", "start", "leaky", "--mfa-code", "123456"], "");
    run(&["session", "test", "leaky", "--json"], "");
    run(
        &[
            "session",
            "edit",
            "leaky",
            "--access-key-id",
            "-",
            "--dry-run",
        ],
        &format!("{access_key_id}\n"),
    );
    run(&["session", "start", "child"], "");
    run(&["session", "stop", "--all"], "");

    assert!(
        runs.iter()
            .any(|r| r.stderr.contains("TRACE") || r.stderr.contains("INFO")),
        "logging was on: {runs:#?}"
    );
    let id = env.id_of("leaky");
    let items = keychain(&id);
    assert_eq!(
        items.len(),
        3,
        "the keys and the cached session token are in the keychain"
    );
    // The cached temporary credentials were in ~/.aws/credentials while the session ran; after
    // `stop --all` they must be nowhere but the keychain either.
    let token: serde_json::Value = serde_json::from_str(&items[2].secret).unwrap();
    let temp_secret = token["SecretAccessKey"].as_str().unwrap().to_owned();
    let temp_token = token["SessionToken"].as_str().unwrap().to_owned();
    let needles = [
        &access_key_id,
        &secret,
        &access_key_id_2,
        &secret_2,
        &temp_secret,
        &temp_token,
    ];
    for r in &runs {
        for needle in needles {
            assert!(
                !r.stdout.contains(needle.as_str()),
                "a secret on stdout: {r:#?}"
            );
            assert!(
                !r.stderr.contains(needle.as_str()),
                "a secret on stderr: {r:#?}"
            );
            assert!(
                !r.stderr.contains(&needle.to_lowercase()),
                "a secret on stderr: {r:#?}"
            );
        }
    }
    let files = env.files();
    assert!(
        files.iter().any(|(p, _)| p.ends_with("config.toml")),
        "the store was written"
    );
    for (path, bytes) in files {
        let text = String::from_utf8_lossy(&bytes);
        for needle in needles {
            assert!(
                !text.contains(needle.as_str()),
                "a secret in {}",
                path.display()
            );
        }
    }
}
