//! Issue 8's repairs, against the real components: the real binary, gnome-keyring (read from
//! outside with `secret-tool`), moto, and the real AWS CLI reading the files credtray leaves.
//! Each test is named after the defect it pins.

use crate::harness::{Env, Run, finish, fixtures, keychain};

/// A hand-written `[default]`: keys in the credentials file; region, output and a nested `s3`
/// block in the config file.
const USER_CREDENTIALS: &str = "# my own keys\n[default]\naws_access_key_id = AKIAUSERSOWNKEY00000\naws_secret_access_key = mine/Secret+Key\n\n[other]\naws_access_key_id = AKIAOTHER00000000000\naws_secret_access_key = other\n";
const USER_CONFIG: &str = "[default]\nregion = us-west-2\noutput = json\ns3 =\n  max_concurrent_requests = 20\n\n[profile other]\nregion = eu-north-1\n";

fn write_user_files(env: &Env) {
    std::fs::create_dir_all(env.aws_dir()).unwrap();
    std::fs::write(env.aws_dir().join("credentials"), USER_CREDENTIALS).unwrap();
    std::fs::write(env.aws_dir().join("config"), USER_CONFIG).unwrap();
}

/// An IAM user on profile `profile` with moto's keys.
fn add_user(env: &Env, alias: &str, profile: &str, extra: &[&str]) -> String {
    crate::engine::add_moto_user(env, &fixtures(), alias, profile, extra)
}

fn accounts(id: &str) -> Vec<String> {
    keychain(id).into_iter().map(|i| i.account).collect()
}

#[test]
fn take_over_then_stop_deletes_the_users_section() {
    let env = Env::new();
    write_user_files(&env);
    let id = add_user(&env, "dev", "default", &[]);
    env.run_moto(&["session", "start", "dev", "--take-over"], "")
        .ok();
    let (credentials, config) = env.aws_files();
    assert!(
        !credentials.contains("AKIAUSERSOWNKEY00000"),
        "{credentials}"
    );
    assert!(config.contains("output = json") && config.contains("region = eu-west-1"));
    // The AWS CLI uses credtray's credentials on [default] meanwhile.
    let run = env
        .aws(&["sts", "get-caller-identity", "--output", "json"])
        .ok();
    assert!(
        run.json()["Arn"].as_str().unwrap().contains(":user/"),
        "{run:?}"
    );
    // The originals are in the real keychain, and only there.
    let kept = crate::harness::lookup(&format!("{id}-taken-over-credentials")).unwrap();
    assert!(kept.contains("mine/Secret+Key"), "{kept}");
    assert!(
        crate::harness::lookup(&format!("{id}-taken-over-config"))
            .unwrap()
            .contains("max_concurrent_requests")
    );
    let store = std::fs::read_to_string(env.store_path()).unwrap();
    assert!(!store.contains("mine/Secret+Key") && !store.contains("AKIAUSERSOWNKEY"));

    env.run_moto(&["session", "stop", "dev"], "").ok();
    assert_eq!(
        env.aws_files(),
        (USER_CREDENTIALS.to_owned(), USER_CONFIG.to_owned()),
        "both sections are back, byte for byte"
    );
    assert!(
        accounts(&id).iter().all(|a| !a.contains("taken-over")),
        "{:?}",
        accounts(&id)
    );
    // And the AWS CLI reads the user's own [default] again.
    let run = env.aws(&["configure", "get", "region"]).ok();
    assert_eq!(run.stdout.trim(), "us-west-2");
    let run = env.aws(&["configure", "get", "aws_access_key_id"]).ok();
    assert_eq!(run.stdout.trim(), "AKIAUSERSOWNKEY00000");
}

#[test]
fn ownership_follows_each_processs_environment() {
    let env = Env::new();
    add_user(&env, "dev", "dev", &[]);
    let alt = env.root.join("alt");
    std::fs::create_dir_all(&alt).unwrap();
    // A shell with AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE starts the session…
    let mut cmd = env.command(&["session", "start", "dev"]);
    cmd.env("AWS_ENDPOINT_URL", crate::harness::moto())
        .env("AWS_SHARED_CREDENTIALS_FILE", alt.join("credentials"))
        .env("AWS_CONFIG_FILE", alt.join("config"));
    finish(cmd, "").ok();
    let written = std::fs::read_to_string(alt.join("credentials")).unwrap();
    assert!(written.contains("[dev]\naws_access_key_id = "), "{written}");
    // …and a process without them (a tray started at login) stops it where it was written.
    env.run_moto(&["session", "stop", "dev"], "").ok();
    assert_eq!(
        std::fs::read_to_string(alt.join("credentials")).unwrap(),
        ""
    );
    assert_eq!(std::fs::read_to_string(alt.join("config")).unwrap(), "");
    assert!(!env.aws_dir().exists(), "nothing written to ~/.aws");
}

/// `credtray session start` with a debug-build failpoint that aborts the process there.
pub fn start_killed_at(env: &Env, failpoint: &str, extra: &[&str]) -> Run {
    let mut args = vec!["session", "start", "dev"];
    args.extend_from_slice(extra);
    let mut cmd = env.command(&args);
    cmd.env("AWS_ENDPOINT_URL", crate::harness::moto())
        .env("CREDTRAY_FAILPOINT", failpoint);
    let run = finish(cmd, "");
    assert_ne!(run.code, 0, "the failpoint {failpoint} aborts: {run:?}");
    assert!(
        run.stderr.contains(&format!("failpoint {failpoint}")),
        "{run:?}"
    );
    run
}

#[test]
fn a_start_killed_between_intent_and_write_leaves_an_unowned_section() {
    let env = Env::new();
    write_user_files(&env);
    let id = add_user(&env, "dev", "dev", &[]);
    // Killed after the intent was saved, before any file was written.
    start_killed_at(&env, "after-intent", &[]);
    let store = std::fs::read_to_string(env.store_path()).unwrap();
    assert_eq!(store.matches("intent = ").count(), 2, "{store}");
    assert_eq!(
        env.aws_files(),
        (USER_CREDENTIALS.to_owned(), USER_CONFIG.to_owned())
    );
    // Killed after the files were written, before the store recorded it.
    start_killed_at(&env, "after-write", &[]);
    assert!(env.aws_files().0.contains("[dev]"));
    // The next command settles it: the section is credtray's, the start is not refused, and
    // stop removes everything it wrote.
    let session = env.session("dev");
    assert_eq!(session["state"], "inactive", "list only reads");
    let run = env.run_moto(&["session", "start", "dev"], "").ok();
    assert!(run.stdout.contains("started session"), "{run:?}");
    env.run_moto(&["session", "stop", "dev"], "").ok();
    assert_eq!(
        env.aws_files(),
        (USER_CREDENTIALS.to_owned(), USER_CONFIG.to_owned())
    );
    let store = std::fs::read_to_string(env.store_path()).unwrap();
    assert!(!store.contains("intent"), "{store}");

    // A take-over killed after its intent: nothing was taken, and the kept original goes.
    let other = add_user(&env, "other", "other", &[]);
    let mut cmd = env.command(&["session", "start", "other", "--take-over"]);
    cmd.env("AWS_ENDPOINT_URL", crate::harness::moto())
        .env("CREDTRAY_FAILPOINT", "after-intent");
    assert_ne!(finish(cmd, "").code, 0);
    assert!(accounts(&other).iter().any(|a| a.contains("taken-over")));
    assert_eq!(
        env.aws_files(),
        (USER_CREDENTIALS.to_owned(), USER_CONFIG.to_owned())
    );
    let run = env.run_moto(&["session", "start", "other"], "");
    assert_eq!(run.code, 2, "still the user's, so still refused: {run:?}");
    assert!(
        accounts(&other).iter().all(|a| !a.contains("taken-over")),
        "{:?}",
        accounts(&other)
    );
    let _ = id;
}

#[test]
fn sigkill_at_random_moments_of_a_start_never_leaves_a_section_nobody_owns() {
    // A federated session: its start touches no keychain. gnome-keyring-daemon itself aborts
    // when a client is killed in the middle of opening its session (a GLib assertion in
    // aes_negotiate), which would take every other test's keychain down with it.
    let env = Env::new();
    write_user_files(&env);
    let f = fixtures();
    env.run(
        &[
            "session",
            "add",
            "iam-role-federated",
            "--alias",
            "dev",
            "--profile",
            "dev",
            "--role-arn",
            &f.federated_role_arn,
            "--idp-arn",
            &f.idp_arn,
            "--saml-url",
            "https://idp.example.com/saml",
        ],
        "",
    )
    .ok();
    let assertion = format!(
        "{}\n",
        crate::harness::saml_assertion(&f.federated_role_arn, &f.idp_arn)
    );
    let start = &["session", "start", "dev", "--saml-assertion", "-"];
    let mut landed = 0;
    for round in 0..24u64 {
        let mut cmd = env.command(start);
        cmd.env("AWS_ENDPOINT_URL", crate::harness::moto());
        let mut child = cmd.spawn().unwrap();
        if let Some(mut stdin) = child.stdin.take() {
            let _ = std::io::Write::write_all(&mut stdin, assertion.as_bytes());
        }
        std::thread::sleep(std::time::Duration::from_millis(round % 12 * 3));
        child.kill().ok(); // SIGKILL
        let status = child.wait().unwrap();
        landed += usize::from(!status.success());
        // Whatever the kill interrupted, the next start works and the next stop gives the
        // files back exactly.
        env.run_moto(start, &assertion).ok();
        env.run_moto(&["session", "stop", "dev"], "").ok();
        assert_eq!(
            env.aws_files(),
            (USER_CREDENTIALS.to_owned(), USER_CONFIG.to_owned()),
            "round {round}"
        );
    }
    assert!(landed >= 6, "only {landed} kills landed mid-run");
}

#[test]
fn an_edit_saved_whose_restart_failed_exits_2() {
    let env = Env::new();
    add_user(
        &env,
        "dev",
        "dev",
        &["--mfa-device", "arn:aws:iam::123456789012:mfa/dev"],
    );
    env.run_moto(&["session", "start", "dev", "--mfa-code", "123456"], "")
        .ok();
    // A new device drops the cached token: the restart needs a code nobody gave.
    let run = env.run_moto(
        &[
            "session",
            "edit",
            "dev",
            "--mfa-device",
            "arn:aws:iam::123456789012:mfa/other",
        ],
        "",
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("is saved"), "{run:?}");
    assert!(run.stderr.contains("needs an MFA code"), "{run:?}");
    assert_eq!(
        env.session("dev")["mfa_device"],
        "arn:aws:iam::123456789012:mfa/other"
    );
}

#[test]
fn a_version_1_store_migrates_a_config_record_at_a_custom_path_as_credentials() {
    // A version-1 store (no flavor in [[owned]]) written by a shell whose AWS_CONFIG_FILE and
    // AWS_SHARED_CREDENTIALS_FILE name files called neither "config" nor "credentials".
    let env = Env::new();
    let dir = env.root.join("aws");
    std::fs::create_dir_all(&dir).unwrap();
    let (creds, cfg) = (dir.join("keys.ini"), dir.join("settings.ini"));
    std::fs::write(
        &creds,
        "[default]\naws_access_key_id = ASIAOLD00000000000000\naws_secret_access_key = s\naws_session_token = t\n",
    )
    .unwrap();
    std::fs::write(&cfg, "[default]\nregion = eu-west-1\n").unwrap();
    std::fs::create_dir_all(env.config_dir()).unwrap();
    std::fs::write(
        env.store_path(),
        format!(
            "version = 1\nprofiles = [\"default\"]\n\n[[session]]\nid = \"0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10\"\nalias = \"dev\"\nkind = \"iam-role-federated\"\nprofile = \"default\"\nregion = \"eu-west-1\"\nstate = \"active\"\nrole_arn = \"arn:aws:iam::123456789012:role/r\"\nsaml_url = \"https://idp.example.com/saml\"\nidp_arn = \"arn:aws:iam::123456789012:saml-provider/p\"\n\n[[owned]]\nfile = {:?}\nsection = \"default\"\n\n[[owned]]\nfile = {:?}\nsection = \"default\"\n",
            creds, cfg
        ),
    )
    .unwrap();
    let mut cmd = env.command(&["session", "stop", "dev"]);
    cmd.env("AWS_SHARED_CREDENTIALS_FILE", &creds)
        .env("AWS_CONFIG_FILE", &cfg);
    finish(cmd, "").ok();
    assert_eq!(std::fs::read_to_string(&creds).unwrap(), "");
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "",
        "the config record was read as the config file's"
    );
    let store = std::fs::read_to_string(env.store_path()).unwrap();
    assert!(
        store.contains("version = 7") && !store.contains("[[owned]]"),
        "{store}"
    );
}
