//! Publish modes against the real components: sessions published as a `credential_process`
//! (`--publish process`) used by the real AWS CLI and boto3 against moto, with the real Secret
//! Service holding every credential, and no credential in any file under HOME.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::engine::{add_moto_user, caller};
use crate::harness::{Env, Run, finish, fixtures, keychain};

/// boto3 with `profile`: the caller ARN; then its credentials are made to look 5 minutes from
/// expiry, which makes botocore run the credential_process again (it must below 10 minutes),
/// and it calls STS again. Returns what it saw, the credentials it held included (to look for
/// them in files).
fn boto3(env: &Env, profile: &str) -> Value {
    const SCRIPT: &str = r#"
import datetime, json, sys
import boto3
session = boto3.Session(profile_name=sys.argv[1])
sts = session.client("sts")
arn = sts.get_caller_identity()["Arn"]
credentials = session.get_credentials()
first = credentials.get_frozen_credentials()
credentials._expiry_time = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
second = credentials.get_frozen_credentials()
left = (credentials._expiry_time - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
print(json.dumps({
    "method": credentials.method,
    "arn": arn,
    "arn_after_refresh": sts.get_caller_identity()["Arn"],
    "seconds_left_after_refresh": left,
    "secrets": [first.access_key, first.secret_key, first.token,
                second.access_key, second.secret_key, second.token],
}))
"#;
    let python =
        std::env::var("CREDTRAY_TEST_PYTHON").expect("CREDTRAY_TEST_PYTHON is set by scripts/test");
    // In the test's environment, agent socket included: without it, the credtray boto3 runs
    // would look for an agent in the machine's own runtime directory.
    let mut cmd = env.tool(python);
    cmd.args(["-c", SCRIPT, profile]);
    let run = finish(cmd, "").ok();
    run.json()
}

/// The `credential_process` value of `[profile P]` in the config file.
fn credential_process(config: &str, profile: &str) -> String {
    let header = format!("[profile {profile}]");
    config
        .lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .find_map(|l| l.strip_prefix("credential_process = "))
        .unwrap_or_else(|| panic!("no credential_process in {header}: {config}"))
        .to_owned()
}

/// The secrets of one `credential-process` answer, checked to be a Version-1 document whose
/// credentials have more than the 15 minutes botocore wants left.
fn served(run: &Run) -> Vec<String> {
    let json = run.json();
    assert_eq!(json["Version"], 1, "{run:?}");
    let expiration = time::OffsetDateTime::parse(
        json["Expiration"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(
        expiration - time::OffsetDateTime::now_utc() > time::Duration::minutes(15),
        "botocore would run it again on every call: {run:?}"
    );
    ["AccessKeyId", "SecretAccessKey", "SessionToken"]
        .iter()
        .map(|k| json[k].as_str().unwrap().to_owned())
        .collect()
}

/// Every file under the test's root (HOME, the store) that holds one of `secrets`.
fn files_holding(env: &Env, secrets: &[String]) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for (path, bytes) in env.files() {
        let text = String::from_utf8_lossy(&bytes);
        for secret in secrets {
            if text.contains(secret.as_str()) {
                found.push((path.clone(), format!("{}…", &secret[..8])));
            }
        }
    }
    found
}

#[test]
fn process_mode_serves_the_aws_cli_and_boto3_with_no_credential_in_any_file() {
    let env = Env::new();
    let f = fixtures();
    let user = add_moto_user(&env, &f, "dev", "dev", &["--publish", "process"]);
    env.run(
        &[
            "session",
            "chain",
            "dev",
            "--role-arn",
            &f.role_arn,
            "--alias",
            "ops",
            "--profile",
            "ops",
            "--publish",
            "process",
        ],
        "",
    )
    .ok();
    let ops = env.id_of("ops");
    let run = env.run_moto(&["session", "start", "dev"], "").ok();
    assert!(run.stdout.contains("started session \"dev\""), "{run:?}");
    env.run_moto(&["session", "start", "ops"], "").ok();
    assert_eq!(env.session("dev")["state"], "active");
    assert_eq!(env.session("ops")["state"], "active");

    let (credentials, config) = env.aws_files();
    assert_eq!(credentials, "", "nothing in ~/.aws/credentials");
    assert!(!env.aws_dir().join("credentials").exists());
    let cli = std::fs::canonicalize(env!("CARGO_BIN_EXE_credtray")).unwrap();
    assert_eq!(
        credential_process(&config, "dev"),
        format!("'{}' credential-process --session {user}", cli.display())
    );
    assert!(
        config.contains("[profile dev]\nregion = eu-west-1\n"),
        "{config}"
    );
    assert!(credential_process(&config, "ops").ends_with(&ops));

    // The AWS CLI, several times (each one runs credtray once).
    for _ in 0..3 {
        assert!(caller(&env, "dev").contains(":user/"));
        assert!(caller(&env, "ops").contains(":assumed-role/"));
    }
    // boto3, refreshing when its credentials near expiry.
    let mut secrets = vec![f.secret_access_key.clone()];
    for (profile, role) in [("dev", false), ("ops", true)] {
        let seen = boto3(&env, profile);
        assert_eq!(seen["method"], "custom-process", "{seen}");
        assert_eq!(seen["arn"], seen["arn_after_refresh"], "{seen}");
        assert_eq!(
            seen["arn"].as_str().unwrap().contains(":assumed-role/"),
            role
        );
        assert!(
            seen["seconds_left_after_refresh"].as_f64().unwrap() > 15.0 * 60.0,
            "the refreshed credentials must not look due again: {seen}"
        );
        let held: Vec<String> = seen["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        // The refresh ran credential_process again: had it not, boto3 would still hold the
        // credentials it was made to see 5 minutes from expiry (checked above). A role's
        // may be the same ones, served from the role-credentials cache while fresh.
        secrets.extend(held);
    }
    for alias in ["dev", "ops"] {
        let run = env
            .run_moto(&["credential-process", "--session", alias], "")
            .ok();
        secrets.extend(served(&run));
    }
    // The IAM user's token is cached in the keychain, and that is where it is.
    let token = keychain(&user)
        .into_iter()
        .find(|i| i.account.ends_with("-iam-user-session-token"))
        .expect("the session token is cached in the keychain");
    assert!(secrets.iter().any(|s| token.secret.contains(s.as_str())));

    assert_eq!(files_holding(&env, &secrets), vec![], "secrets at rest");
    assert!(
        env.files()
            .iter()
            .all(|(_, b)| !String::from_utf8_lossy(b).contains("aws_session_token")),
        "no credentials section anywhere"
    );

    env.run_moto(&["session", "stop", "--all"], "").ok();
    assert_eq!(env.aws_files(), (String::new(), String::new()));
}

#[test]
fn switching_to_process_removes_an_owned_section_and_a_users_section_is_borrowed_only_with_take_over()
 {
    let env = Env::new();
    let f = fixtures();
    add_moto_user(&env, &f, "dev", "dev", &[]);
    env.run_moto(&["session", "start", "dev"], "").ok();
    let (credentials, _) = env.aws_files();
    assert!(credentials.contains("[dev]\naws_access_key_id = "));

    let run = env
        .run_moto(&["session", "edit", "dev", "--publish", "process"], "")
        .ok();
    assert!(
        run.stdout.contains("edited session \"dev\": publish mode")
            && run.stdout.contains("restarted"),
        "{run:?}"
    );
    let (credentials, config) = env.aws_files();
    assert_eq!(credentials, "", "the owned [dev] is removed");
    assert!(config.contains("credential_process = "), "{config}");
    assert!(caller(&env, "dev").contains(":user/"));
    env.run_moto(&["session", "stop", "dev"], "").ok();
    assert_eq!(env.aws_files(), (String::new(), String::new()));

    // A [dev] the user wrote would win over credential_process: refused, then borrowed.
    let mine = "# mine\n[dev]\naws_access_key_id = AKIAHANDWRITTEN002\naws_secret_access_key = mine\n\n[other]\nregion = x\n";
    std::fs::write(env.aws_dir().join("credentials"), mine).unwrap();
    let run = env.run_moto(&["session", "start", "dev"], "");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("[dev]") && run.stderr.contains("not written by credtray"),
        "{run:?}"
    );
    assert_eq!(env.aws_files().0, mine, "nothing changed");
    env.run_moto(&["session", "start", "dev", "--take-over"], "")
        .ok();
    let (credentials, _) = env.aws_files();
    assert_eq!(credentials, "# mine\n\n[other]\nregion = x\n");
    assert!(
        caller(&env, "dev").contains(":user/"),
        "the session's, not mine"
    );
    let check = env.run(&["files", "check", "--json"], "").ok().json();
    assert_eq!(check[0]["owned"], serde_json::json!(["dev"]), "{check}");
    env.run_moto(&["session", "stop", "dev"], "").ok();
    assert_eq!(
        env.aws_files(),
        (mine.to_owned(), String::new()),
        "byte for byte"
    );
}

/// A copy of the `credtray` binary (a hard link when it can be) in a directory whose name has
/// a space, a single quote and a `$`: what a careless quoting would break.
fn credtray_in_a_nasty_directory(env: &Env) -> PathBuf {
    let dir = env.root.join("Program Files/it's $HOME `id`");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("credtray");
    let original = Path::new(env!("CARGO_BIN_EXE_credtray"));
    if std::fs::hard_link(original, &path).is_err() {
        std::fs::copy(original, &path).unwrap();
    }
    path
}

#[test]
fn a_credtray_in_a_path_with_spaces_quotes_and_dollars_is_run_by_every_tool() {
    let env = Env::new();
    let f = fixtures();
    add_moto_user(&env, &f, "dev", "dev", &["--publish", "process"]);
    let credtray = credtray_in_a_nasty_directory(&env);
    // Started through that binary, which names itself in the config file.
    let mut cmd = env.tool(&credtray);
    cmd.args(["session", "start", "dev"]);
    finish(cmd, "").ok();
    let (_, config) = env.aws_files();
    let command = credential_process(&config, "dev");
    assert!(
        command.starts_with(&format!(
            "'{}/Program Files/it'\\''s $HOME `id`/credtray' credential-process",
            env.root.display()
        )),
        "{command}"
    );

    // botocore's shlex split: the AWS CLI and boto3.
    assert!(caller(&env, "dev").contains(":user/"));
    assert_eq!(boto3(&env, "dev")["method"], "custom-process");
    // The Rust SDK's way: `sh -c "<value>"`.
    let mut sh = env.tool("sh");
    sh.args(["-c", &command]);
    served(&finish(sh, "").ok());
}

#[test]
fn publish_is_in_json_and_show_and_new_sessions_take_the_settings_default() {
    let env = Env::new();
    env.add_user("plain", "AKIAAAAAAAAAAAAAAAAA", "s3cret");
    assert_eq!(env.session("plain")["publish"], "file");
    let list = env.run(&["session", "list", "--json"], "").ok().json();
    assert_eq!(list[0]["publish"], "file");
    // The default, from config.toml's [settings] (written out, so it can be found).
    let store = std::fs::read_to_string(env.store_path()).unwrap();
    let settings = store.find("[settings]\n").expect("a [settings] table");
    let default = settings + store[settings..].find("publish = \"file\"\n").unwrap();
    assert!(!store[settings + 1..default].contains('['), "{store}");
    let mut changed = store.clone();
    changed.replace_range(
        default..default + "publish = \"file\"".len(),
        "publish = \"process\"",
    );
    std::fs::write(env.store_path(), changed).unwrap();
    env.run(
        &[
            "session",
            "chain",
            "plain",
            "--role-arn",
            "arn:aws:iam::123456789012:role/r",
        ],
        "",
    )
    .ok();
    assert_eq!(env.session("plain chained")["publish"], "process");
    assert_eq!(env.session("plain")["publish"], "file", "stored modes stay");
    let run = env.run(&["session", "show", "plain chained"], "").ok();
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("publish") && l.ends_with("  process")),
        "{run:?}"
    );
    env.run(
        &["session", "edit", "plain chained", "--publish", "file"],
        "",
    )
    .ok();
    assert_eq!(env.session("plain chained")["publish"], "file");
    // A value that is neither is refused by the flag, naming the field.
    let run = env.run(&["session", "edit", "plain", "--publish", "clipboard"], "");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("publish mode"), "{run:?}");
}
