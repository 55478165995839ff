//! No secret appears anywhere but the keychain: not in stdout, `--json`, log lines, error
//! messages, or any file the commands leave behind (the store, the AWS files, their locks and
//! `*.credtray-backup` copies).
//!
//! The logging level: the harness sets `CREDTRAY_LOG=trace`, which `cli::init_logging` turns
//! into `warn,credtray=trace`: credtray's own lines at every level (its most detailed are the
//! DEBUG "engine event" lines; it has no TRACE lines), while the libraries — the AWS SDK,
//! hyper, rustls — stay at WARN whatever `CREDTRAY_LOG` says, because their debug output holds
//! request and response bodies. So this checks credtray's own logs at their most verbose, not
//! the SDK's wire logs, which credtray never enables.

use crate::engine::stub_sts;
use crate::harness::{Env, Run, fixtures, fresh_keys, keychain, saml_assertion};

/// The values of the `aws_*` keys of `[section]` in an AWS file's text.
fn credentials_of(text: &str, section: &str) -> Vec<String> {
    let header = format!("[{section}]");
    text.lines()
        .skip_while(|line| line.trim() != header)
        .skip(1)
        .take_while(|line| !line.trim_start().starts_with('['))
        .filter_map(|line| line.split_once('='))
        .filter(|(key, _)| key.trim().starts_with("aws_"))
        .map(|(_, value)| value.trim().to_owned())
        .collect()
}

#[test]
fn secrets_used_through_a_whole_lifecycle_never_leave_the_keychain() {
    let env = Env::new();
    let f = fixtures();
    let (access_key_id, secret) = fresh_keys();
    let (access_key_id_2, secret_2) = fresh_keys();
    let assertion = saml_assertion(&f.federated_role_arn, &f.idp_arn);
    let mut runs: Vec<Run> = Vec::new();
    // Every run must end as expected: a run that fails early would leak nothing and prove
    // nothing.
    let mut run = |args: &[&str], stdin: &str, code: i32| {
        let r = env.run_moto(args, stdin);
        assert_eq!(r.code, code, "{args:?}: {r:#?}");
        runs.push(r);
    };

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
        0,
    );
    run(&["session", "list"], "", 0);
    run(&["session", "list", "--json"], "", 0);
    run(&["session", "show", "leaky"], "", 0);
    run(&["session", "show", "leaky", "--json"], "", 0);
    run(
        &[
            "session",
            "add",
            "iam-role-chained",
            "--alias",
            "child",
            "--role-arn",
            &f.role_arn,
            "--assumer",
            "leaky",
        ],
        "",
        0,
    );
    run(
        &[
            "session",
            "add",
            "iam-role-federated",
            "--alias",
            "fed",
            "--profile",
            "fed",
            "--role-arn",
            &f.federated_role_arn,
            "--idp-arn",
            &f.idp_arn,
            "--saml-url",
            "https://idp.example.com/saml",
        ],
        "",
        0,
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
        0,
    );
    // Refused inputs that carry secrets: the messages must not echo them.
    run(
        &["session", "edit", "leaky", "--secret-access-key", "-"],
        &format!("{secret} {secret_2}\n"),
        2,
    );
    run(
        &["session", "edit", "leaky", "--access-key-id", "-"],
        &format!("{}x\n", access_key_id.to_lowercase()),
        2,
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
        2,
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
        2,
    );
    run(&["session", "list", "--json"], "", 0);
    run(&["profile", "list", "--json"], "", 0);
    // Running it: STS calls, a dry run, a chained start, a federated start.
    run(
        &["session", "start", "leaky", "--mfa-code", "123456"],
        "",
        0,
    );
    run(
        &["session", "test", "leaky", "--json", "--mfa-code", "234567"],
        "",
        0,
    );
    run(
        &[
            "session",
            "edit",
            "leaky",
            "--access-key-id",
            "-",
            "--dry-run",
            "--mfa-code",
            "345678",
        ],
        &format!("{access_key_id_2}\n"),
        0,
    );
    run(&["session", "start", "child"], "", 0);
    let (credentials, _) = env.aws_files();
    let child = credentials_of(&credentials, "default");
    assert_eq!(child.len(), 3, "the child's credentials: {credentials}");
    // A hand edit of a section credtray wrote: stopping it keeps a copy in the backup file,
    // which must not carry the credentials.
    let path = env.aws_dir().join("credentials");
    std::fs::write(&path, format!("{credentials}output = json\n")).unwrap();
    run(
        &["session", "start", "fed", "--saml-assertion", "-"],
        &assertion,
        0,
    );
    let (credentials, _) = env.aws_files();
    let fed = credentials_of(&credentials, "fed");
    assert_eq!(fed.len(), 3, "the federated credentials: {credentials}");
    run(&["session", "stop", "--all"], "", 0);

    assert!(
        runs.iter()
            .any(|r| r.stderr.contains("DEBUG") && r.stderr.contains("engine event")),
        "credtray's logging was at its most verbose: {runs:#?}"
    );
    let id = env.id_of("leaky");
    let items = keychain(&id);
    assert_eq!(
        items.len(),
        2,
        "the keys and the cached session token are in the keychain"
    );
    // The cached temporary credentials were in ~/.aws/credentials while the session ran; after
    // `stop --all` they must be nowhere but the keychain either.
    let token = items
        .iter()
        .find(|i| i.account.ends_with("-iam-user-session-token"))
        .expect("the session token is cached");
    let token: serde_json::Value = serde_json::from_str(&token.secret).unwrap();
    let cached = ["AccessKeyId", "SecretAccessKey", "SessionToken"]
        .map(|k| token[k].as_str().unwrap().to_owned());
    let mut needles = vec![
        access_key_id.clone(),
        secret.clone(),
        access_key_id_2,
        secret_2,
        assertion,
    ];
    needles.extend(cached);
    needles.extend(child);
    needles.extend(fed);
    for r in &runs {
        for needle in &needles {
            assert!(!r.stdout.contains(needle), "a secret on stdout: {r:#?}");
            assert!(!r.stderr.contains(needle), "a secret on stderr: {r:#?}");
            assert!(
                !r.stderr.contains(&needle.to_lowercase()),
                "a secret on stderr: {r:#?}"
            );
        }
    }
    let files = env.files();
    for name in ["config.toml", "credentials", "credentials.credtray-backup"] {
        assert!(
            files.iter().any(|(p, _)| p.ends_with(name)),
            "{name} was written and is scanned"
        );
    }
    for (path, bytes) in files {
        let text = String::from_utf8_lossy(&bytes);
        for needle in &needles {
            assert!(
                !text.contains(needle.as_str()),
                "a secret in {}:\n{text}",
                path.display()
            );
        }
    }
}

#[test]
fn raw_aws_error_messages_are_scrubbed_before_they_are_stored_shown_or_logged() {
    let env = Env::new();
    let (access_key_id, secret) = fresh_keys();
    env.add_user("dev", &access_key_id, &secret);
    // What AWS may quote back: a temporary key id, a session token, a signed scope.
    let quoted_key_id = "ASIAQWERTYUIOP123456";
    let quoted_token =
        "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDx7Kq2+9zWb3f1".repeat(4);
    let stub = stub_sts(
        403,
        "InvalidClientTokenId",
        &format!(
            "The security token {quoted_token} of Credential={quoted_key_id}/20261128/us-east-1/sts/aws4_request is invalid for arn:aws:iam::123456789012:user/dev"
        ),
    );
    let mut runs = vec![
        env.run_against(&stub, &["session", "start", "dev"], ""),
        env.run_against(&stub, &["session", "test", "dev", "--json"], ""),
    ];
    for r in &runs {
        assert_eq!(r.code, 1, "{r:#?}");
    }
    runs.push(env.run(&["session", "list", "--json"], "").ok());
    runs.push(env.run(&["session", "show", "dev", "--json"], "").ok());
    let store = String::from_utf8(env.store_bytes().unwrap()).unwrap();

    let stored = env.session("dev");
    let error = stored["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("STS rejected the access key")
            && error.contains("<redacted>")
            && error.contains("arn:aws:iam::123456789012:user/dev"),
        "the error is kept, readable, without the secrets: {stored}"
    );
    let test = runs[1].json();
    assert!(
        test["error"].as_str().unwrap().contains("<redacted>"),
        "{test}"
    );
    assert!(store.contains("<redacted>"), "{store}");
    for needle in [quoted_key_id, &quoted_token, &access_key_id, &secret] {
        assert!(!store.contains(needle), "in config.toml: {store}");
        for r in &runs {
            assert!(
                !r.stdout.contains(needle) && !r.stderr.contains(needle),
                "in the output or logs: {r:#?}"
            );
        }
    }
}
