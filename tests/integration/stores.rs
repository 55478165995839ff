//! The stores of secrets beside the OS keychain (issue 27): the encrypted `file` store and
//! `pass`, through the real binary with **no D-Bus session bus at all**
//! (`DBUS_SESSION_BUS_ADDRESS` unset, no display to autolaunch one), against moto, the IAM
//! Identity Center stub, the real AWS CLI and (for `pass`) the real `pass` and GPG with a
//! throw-away key. The file store is read from outside with credtray's own reader
//! (`FileStore`, the age crate), the password store with `pass show`.

use std::path::PathBuf;

use serde_json::Value;

use crate::agent::Agent;
use crate::harness::{Env, Run, finish, fixtures, fresh_keys, keychain, moto, parse_key_pair};
use crate::sso_stub::SsoStub;

/// `session add` of an IAM user "dev" whose keys are read from standard input.
const ADD_DEV: &[&str] = &[
    "session",
    "add",
    "iam-user",
    "--alias",
    "dev",
    "--access-key-id",
    "-",
    "--secret-access-key",
    "-",
];

/// `session edit` of "dev"'s keys, read from standard input.
const EDIT_DEV_KEYS: &[&str] = &[
    "session",
    "edit",
    "dev",
    "--access-key-id",
    "-",
    "--secret-access-key",
    "-",
];

/// The passphrase the tests' file stores are written with.
const PASSPHRASE: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Pass,
}

/// A test environment whose secrets go to `kind`, with no D-Bus.
struct Rig {
    env: Env,
    kind: Kind,
    pass: Option<crate::pass_support::PassHome>,
}

impl Rig {
    fn new(kind: Kind) -> Self {
        let env = Env::new();
        let passphrase = env.root.join("passphrase");
        std::fs::write(&passphrase, format!("{PASSPHRASE}\n")).unwrap();
        let mut env = env
            .without_var("DBUS_SESSION_BUS_ADDRESS")
            .with_var(
                "CREDTRAY_PASSPHRASE_COMMAND",
                format!("cat '{}'", passphrase.display()),
            )
            // Fast scrypt for tests (age's default takes about a second per write).
            .with_var("CREDTRAY_KEYCHAIN_WORK_FACTOR", "12");
        let mut pass = None;
        if kind == Kind::Pass {
            let home = crate::pass_support::PassHome::new(&env.root.join("g"));
            for (name, value) in home.vars() {
                env = env.with_var(&name, value);
            }
            // Chosen for every command by the variable (the file store by the setting).
            env = env.with_var("CREDTRAY_KEYCHAIN", "pass");
            pass = Some(home);
        }
        let rig = Self { env, kind, pass };
        if kind == Kind::File {
            let chose = rig.run(&["settings", "keychain", "file"], "").ok();
            assert!(chose.stdout.contains("keychain.age"), "{chose:?}");
        }
        rig
    }

    fn run(&self, args: &[&str], stdin: &str) -> Run {
        self.env.run_moto(args, stdin)
    }

    fn file_path(&self) -> PathBuf {
        self.env.data_dir().join("credtray/keychain.age")
    }

    /// The accounts `keychain status` lists.
    fn accounts(&self) -> Vec<String> {
        let status = self.run(&["keychain", "status", "--json"], "").ok().json();
        assert_eq!(
            status["store"],
            match self.kind {
                Kind::File => "file",
                Kind::Pass => "pass",
            },
            "{status}"
        );
        status["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    }

    /// An item's value, read from outside credtray's commands.
    fn value(&self, account: &str) -> Option<String> {
        match self.kind {
            Kind::File => read_file_store(&self.file_path(), account),
            Kind::Pass => self.pass.as_ref().unwrap().show(account),
        }
    }
}

/// One item of the file store at `path`, decrypted here with the passphrase.
fn read_file_store(path: &std::path::Path, account: &str) -> Option<String> {
    use credtray::secrets::SecretStore;
    use secrecy::ExposeSecret;
    let store = credtray::secrets::file::FileStore::open(path, PASSPHRASE.into()).unwrap();
    let key = credtray::secrets::Key::parse(account).unwrap();
    store
        .get(key)
        .unwrap()
        .map(|v| v.expose_secret().to_owned())
}

/// Nothing of this test reached the real Secret Service that `scripts/test` runs.
fn nothing_in_the_secret_service(ids: &[&str]) {
    for id in ids {
        assert!(keychain(id).is_empty(), "{id} reached the Secret Service");
    }
}

/// The credential_process document of `session` (JSON Version 1).
fn credential_process(rig: &Rig, session: &str) -> Value {
    rig.run(&["credential-process", "--session", session], "")
        .ok()
        .json()
}

/// Add, start, chain, edit keys, credential-process with and without the agent, delete.
fn session_flows(kind: Kind) {
    let rig = Rig::new(kind);
    let f = fixtures();
    let dev = rig
        .env
        .add_user("dev", &f.access_key_id, &f.secret_access_key);
    let pair = format!("{dev}-iam-user-access-key");
    assert_eq!(rig.accounts(), std::slice::from_ref(&pair));
    assert_eq!(
        parse_key_pair(&rig.value(&pair).unwrap()),
        (f.access_key_id.clone(), f.secret_access_key.clone())
    );

    // Start: GetSessionToken at moto, its token cached in the store; the AWS CLI uses it.
    rig.run(&["session", "start", "dev"], "").ok();
    assert!(
        rig.accounts()
            .contains(&format!("{dev}-iam-user-session-token")),
        "{:?}",
        rig.accounts()
    );
    let caller = rig
        .env
        .aws(&["sts", "get-caller-identity", "--output", "json"])
        .ok()
        .json();
    assert!(
        caller["Arn"].as_str().unwrap().contains(":user/"),
        "{caller}"
    );

    // A chained role, started from the user's cached token.
    let ops = rig
        .run(
            &[
                "session",
                "add",
                "iam-role-chained",
                "--alias",
                "ops",
                "--role-arn",
                &f.role_arn,
                "--assumer",
                "dev",
                "--profile",
                "ops",
            ],
            "",
        )
        .ok();
    assert!(ops.stdout.contains("ops"), "{ops:?}");
    let ops = rig.env.id_of("ops");
    rig.run(&["session", "start", "ops"], "").ok();
    let role = rig
        .env
        .aws(&[
            "sts",
            "get-caller-identity",
            "--profile",
            "ops",
            "--output",
            "json",
        ])
        .ok()
        .json();
    assert!(
        role["Arn"].as_str().unwrap().contains(":assumed-role/"),
        "{role}"
    );

    // Without the agent: credential-process does the work itself, from the store.
    let document = credential_process(&rig, "ops");
    assert_eq!(document["Version"], 1, "{document}");
    assert!(
        document["SessionToken"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );

    // With the agent holding the store open: a command without any way to get the
    // passphrase still reads and writes secrets, through the agent.
    {
        let _agent = Agent::start(&rig.env);
        let document = credential_process(&rig, "ops");
        assert_eq!(document["Version"], 1, "{document}");
        if kind == Kind::File {
            let mut cmd = rig.env.command(&["credential-process", "--session", "dev"]);
            cmd.env_remove("CREDTRAY_PASSPHRASE_COMMAND")
                .env("AWS_ENDPOINT_URL", moto());
            let through_agent = finish(cmd, "").ok().json();
            assert_eq!(through_agent["Version"], 1, "{through_agent}");
            // Edit keys through the agent's open store.
            let (new_id, new_secret) = fresh_keys();
            let mut cmd = rig.env.command(EDIT_DEV_KEYS);
            cmd.env_remove("CREDTRAY_PASSPHRASE_COMMAND")
                .env("AWS_ENDPOINT_URL", moto());
            finish(cmd, &format!("{new_id}\n{new_secret}\n")).ok();
            assert_eq!(
                parse_key_pair(&rig.value(&pair).unwrap()),
                (new_id, new_secret)
            );
        }
    }

    // Edit keys (here, with the store opened by this command).
    let (edited_id, edited_secret) = fresh_keys();
    rig.run(EDIT_DEV_KEYS, &format!("{edited_id}\n{edited_secret}\n"))
        .ok();
    assert_eq!(
        parse_key_pair(&rig.value(&pair).unwrap()),
        (edited_id, edited_secret)
    );

    // Delete: every item of both sessions goes.
    rig.run(&["session", "stop", "ops"], "").ok();
    rig.run(&["session", "delete", "ops"], "").ok();
    rig.run(&["session", "stop", "dev"], "").ok();
    rig.run(&["session", "delete", "dev"], "").ok();
    assert!(rig.accounts().is_empty(), "{:?}", rig.accounts());
    nothing_in_the_secret_service(&[&dev, &ops]);
}

#[test]
fn sessions_live_in_the_file_store_without_any_dbus() {
    session_flows(Kind::File);
}

#[test]
fn sessions_live_in_pass_without_any_dbus() {
    session_flows(Kind::Pass);
}

/// SSO login and sync, and `import --move-keys`.
fn login_sync_and_import(kind: Kind) {
    let rig = Rig::new(kind);
    let stub = SsoStub::start();
    crate::sso::log_in(&rig.env, &stub).ok();
    let corp = rig
        .run(&["integration", "show", "corp", "--json"], "")
        .ok()
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = format!("{corp}-aws-sso-token");
    assert!(rig.accounts().contains(&token), "{:?}", rig.accounts());
    let tokens: Value = serde_json::from_str(&rig.value(&token).unwrap()).unwrap();
    assert!(tokens.is_object(), "the token item is JSON");
    crate::sso::run(&rig.env, &stub, &["integration", "sync", "corp"]).ok();
    let derived = crate::sso::derived(&rig.env);
    assert!(!derived.is_empty(), "the sync made sessions");

    // import --move-keys: the keys leave ~/.aws for the store.
    let f = fixtures();
    std::fs::create_dir_all(rig.env.aws_dir()).unwrap();
    std::fs::write(
        rig.env.aws_dir().join("credentials"),
        format!(
            "[moved]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            f.access_key_id, f.secret_access_key
        ),
    )
    .ok();
    rig.run(&["import", "aws-config", "--move-keys"], "").ok();
    let moved = rig.env.id_of("moved");
    assert_eq!(
        parse_key_pair(
            &rig.value(&format!("{moved}-iam-user-access-key"))
                .expect("the moved keys are in the store")
        ),
        (f.access_key_id.clone(), f.secret_access_key.clone())
    );
    let (credentials, _) = rig.env.aws_files();
    assert!(!credentials.contains(&f.secret_access_key), "{credentials}");
    nothing_in_the_secret_service(&[&corp, &moved]);

    // Leak scan: no secret readable in any file but the encrypted ones.
    let secrets = [
        f.secret_access_key.clone(),
        tokens["access_token"]
            .as_str()
            .unwrap_or("no-token")
            .to_owned(),
    ];
    for (path, bytes) in rig.env.files() {
        let text = String::from_utf8_lossy(&bytes);
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret in clear in {}",
                path.display()
            );
        }
    }
}

#[test]
fn sso_login_sync_and_moved_keys_use_the_file_store() {
    login_sync_and_import(Kind::File);
}

#[test]
fn sso_login_sync_and_moved_keys_use_pass() {
    login_sync_and_import(Kind::Pass);
}

/// The sentences a command said on stderr (its log lines left out).
fn said(run: &Run) -> Vec<String> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("credtray:"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn with_no_keychain_answering_and_none_chosen_a_command_names_the_alternatives_and_keeps_nothing() {
    let env = Env::new().without_var("DBUS_SESSION_BUS_ADDRESS");
    let (id, secret) = fresh_keys();
    let run = env.run(ADD_DEV, &format!("{id}\n{secret}\n"));
    assert_eq!(run.code, 1, "{run:?}");
    let said = said(&run);
    assert_eq!(said.len(), 1, "one sentence: {run:?}");
    for alternative in [
        "`credtray settings keychain file`",
        "`credtray settings keychain pass`",
        "never falls back",
    ] {
        assert!(said[0].contains(alternative), "{said:?}");
    }
    let sessions = env.run(&["session", "list", "--json"], "").ok().json();
    assert_eq!(sessions, serde_json::json!([]), "nothing was added");
    assert!(!env.data_dir().join("credtray/keychain.age").exists());
}

#[test]
fn a_wrong_passphrase_or_a_damaged_file_fails_naming_it_and_changes_nothing() {
    let rig = Rig::new(Kind::File);
    let f = fixtures();
    rig.env
        .add_user("dev", &f.access_key_id, &f.secret_access_key);
    let path = rig.file_path();
    let written = std::fs::read(&path).unwrap();
    let store = rig.env.store_bytes();

    std::fs::write(rig.env.root.join("passphrase"), "not it\n").unwrap();
    let wrong = rig.run(&["credential-process", "--session", "dev"], "");
    assert_eq!(wrong.code, 1, "{wrong:?}");
    assert!(
        said(&wrong).concat().contains("wrong passphrase for"),
        "{wrong:?}"
    );
    let (id, secret) = fresh_keys();
    let refused = rig.run(
        &[
            "session",
            "add",
            "iam-user",
            "--alias",
            "other",
            "--access-key-id",
            "-",
            "--secret-access-key",
            "-",
        ],
        &format!("{id}\n{secret}\n"),
    );
    assert_eq!(refused.code, 1, "{refused:?}");
    assert_eq!(std::fs::read(&path).unwrap(), written, "the file as it was");
    assert_eq!(rig.env.store_bytes(), store, "the store as it was");

    std::fs::write(rig.env.root.join("passphrase"), format!("{PASSPHRASE}\n")).unwrap();
    let truncated = &written[..written.len() - 7];
    std::fs::write(&path, truncated).unwrap();
    let damaged = rig.run(&["credential-process", "--session", "dev"], "");
    assert_eq!(damaged.code, 1, "{damaged:?}");
    let sentence = said(&damaged).concat();
    assert!(
        sentence.contains(&path.display().to_string()) && sentence.contains("damaged"),
        "{damaged:?}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), truncated, "left as it is");
}

#[test]
fn choosing_another_store_is_refused_while_items_live_in_this_one() {
    let rig = Rig::new(Kind::File);
    let (id, secret) = fresh_keys();
    rig.env.add_user("dev", &id, &secret);
    let refused = rig.run(&["settings", "keychain", "os"], "");
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        said(&refused)
            .concat()
            .contains("1 item of credtray live in the encrypted file"),
        "{refused:?}"
    );
    assert!(
        said(&refused)
            .concat()
            .contains("`credtray keychain migrate --to os`"),
        "{refused:?}"
    );
    let status = rig.run(&["keychain", "status", "--json"], "").ok().json();
    assert_eq!(status["store"], "file");
    assert_eq!(status["chosen_by"], "settings");
    // CREDTRAY_KEYCHAIN naming another store than the setting: no choice nor move from it.
    for args in [
        &["settings", "keychain", "os"][..],
        &["keychain", "migrate", "--to", "os"][..],
    ] {
        let mut cmd = rig.env.command(args);
        cmd.env("CREDTRAY_KEYCHAIN", "pass");
        let refused = finish(cmd, "");
        assert_eq!(refused.code, 1, "{refused:?}");
        assert!(
            said(&refused).concat().contains(
                "CREDTRAY_KEYCHAIN=pass names another store than [settings] keychain (file)"
            ),
            "{refused:?}"
        );
    }
}

#[test]
fn a_sigkill_during_writes_never_leaves_the_file_store_unreadable_nor_torn() {
    let rig = Rig::new(Kind::File);
    let (id, secret) = fresh_keys();
    let dev = rig.env.add_user("dev", &id, &secret);
    let pair = format!("{dev}-iam-user-access-key");
    let mut kept = (id, secret);
    let mut killed = 0;
    // Delays spread over a command's life: before, during and after its write.
    for round in 0..30u64 {
        let next = fresh_keys();
        let mut cmd = rig.env.command(EDIT_DEV_KEYS);
        let mut child = cmd.spawn().unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            let _ = stdin.write_all(format!("{}\n{}\n", next.0, next.1).as_bytes());
        }
        std::thread::sleep(std::time::Duration::from_millis((round * 37) % 160));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.code().is_none() {
            killed += 1;
        }
        let now = parse_key_pair(
            &read_file_store(&rig.file_path(), &pair).expect("the pair is always there"),
        );
        assert!(
            now == kept || now == next,
            "round {round}: a pair that is neither the old nor the new one"
        );
        kept = now;
    }
    assert!(killed > 5, "only {killed} of 30 commands were killed");
}

/// An environment on the real Secret Service (the default store) that can also reach a file
/// store and a password store.
fn os_rig() -> (Env, crate::pass_support::PassHome) {
    crate::harness::require_secret_service();
    let env = Env::new();
    let passphrase = env.root.join("passphrase");
    std::fs::write(&passphrase, format!("{PASSPHRASE}\n")).unwrap();
    let home = crate::pass_support::PassHome::new(&env.root.join("g"));
    let mut env = env
        .with_var(
            "CREDTRAY_PASSPHRASE_COMMAND",
            format!("cat '{}'", passphrase.display()),
        )
        .with_var("CREDTRAY_KEYCHAIN_WORK_FACTOR", "12");
    for (name, value) in home.vars() {
        env = env.with_var(&name, value);
    }
    (env, home)
}

/// The accounts and values of this catalog's items, as `keychain status` lists them and
/// `value` reads them.
fn snapshot(env: &Env, value: impl Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    let status = env.run(&["keychain", "status", "--json"], "").ok().json();
    status["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let account = a.as_str().unwrap().to_owned();
            let value = value(&account).unwrap_or_else(|| panic!("{account} unreadable"));
            (account, value)
        })
        .collect()
}

#[test]
fn moving_os_to_file_to_pass_and_back_to_os_loses_nothing() {
    let (env, pass) = os_rig();
    let f = fixtures();
    let stub = SsoStub::start();
    // Items of every kind: a key pair, a cached token, a chained role's cached credentials, an
    // SSO token, the proxy's password, moved keys.
    let dev = env.add_user("dev", &f.access_key_id, &f.secret_access_key);
    env.run_moto(&["session", "start", "dev"], "").ok();
    env.add_chained("ops", "dev");
    env.run(&["session", "edit", "ops", "--role-arn", &f.role_arn], "")
        .ok();
    env.run(&["session", "edit", "ops", "--profile", "ops"], "")
        .ok();
    env.run_moto(&["session", "start", "ops"], "").ok();
    let ops = env.id_of("ops");
    crate::sso::log_in(&env, &stub).ok();
    let before = snapshot(&env, crate::harness::lookup);
    let accounts: Vec<&str> = before.iter().map(|(a, _)| a.as_str()).collect();
    for expected in [
        format!("{dev}-iam-user-access-key"),
        format!("{dev}-iam-user-session-token"),
    ] {
        assert!(accounts.contains(&expected.as_str()), "{accounts:?}");
    }
    assert!(
        accounts.iter().any(|a| a.ends_with("-aws-sso-token")),
        "{accounts:?}"
    );
    assert!(before.len() >= 4, "{accounts:?}");

    let to_file = env.run(&["keychain", "migrate", "--to", "file"], "").ok();
    assert!(
        to_file.stdout.contains(&format!(
            "{} items copied and read back, {} old copies removed",
            before.len(),
            before.len()
        )),
        "{to_file:?}"
    );
    let file = env.data_dir().join("credtray/keychain.age");
    assert_eq!(
        snapshot(&env, |a| read_file_store(&file, a)),
        before,
        "the file store holds every item"
    );
    for (account, _) in &before {
        assert_eq!(
            crate::harness::lookup(account),
            None,
            "{account} left in the OS keychain"
        );
    }

    // The proxy's password too, set while the file store is in use: its account is one per
    // user, so it never goes into the OS keychain that other tests share (the proxy is
    // never reached: no command below makes a call).
    env.run(
        &[
            "settings",
            "proxy",
            "http://proxy.invalid:3128",
            "--user",
            "me",
            "--password",
            "-",
        ],
        "proxy-pass-4410\n",
    )
    .ok();
    let in_file = snapshot(&env, |a| read_file_store(&file, a));
    assert_eq!(in_file.len(), before.len() + 1, "{in_file:?}");
    assert!(
        in_file.contains(&(
            "settings-proxy-password".to_owned(),
            "proxy-pass-4410".to_owned()
        )),
        "{in_file:?}"
    );

    env.run(&["keychain", "migrate", "--to", "pass"], "").ok();
    assert_eq!(
        snapshot(&env, |a| pass.show(a)),
        in_file,
        "pass holds every item"
    );
    env.run(&["settings", "proxy", "--env"], "").ok();
    let left_in_file = credtray::secrets::file::FileStore::open(&file, PASSPHRASE.into())
        .unwrap()
        .accounts()
        .unwrap();
    assert!(left_in_file.is_empty(), "{left_in_file:?}");

    env.run(&["keychain", "migrate", "--to", "os"], "").ok();
    assert_eq!(snapshot(&env, crate::harness::lookup), before);
    assert!(pass.entries().is_empty(), "{:?}", pass.entries());
    let status = env.run(&["keychain", "status", "--json"], "").ok().json();
    assert_eq!(status["store"], "os", "{status}");
    // And the sessions still work from the OS keychain.
    let document = env
        .run_moto(&["credential-process", "--session", "ops"], "")
        .ok()
        .json();
    assert_eq!(document["Version"], 1);
    let _ = ops;
}

#[test]
fn an_interrupted_move_is_finished_by_running_it_again() {
    let (env, _pass) = os_rig();
    let (id, secret) = fresh_keys();
    let dev = env.add_user("dev", &id, &secret);
    let pair = format!("{dev}-iam-user-access-key");
    let original = crate::harness::lookup(&pair).unwrap();
    // Killed after the new store is recorded, before the old copies go.
    let mut cmd = env.command(&["keychain", "migrate", "--to", "file"]);
    cmd.env("CREDTRAY_FAILPOINT", "keychain-migrate-removing");
    let killed = finish(cmd, "");
    assert_ne!(killed.code, 0, "{killed:?}");
    let file = env.data_dir().join("credtray/keychain.age");
    assert_eq!(
        read_file_store(&file, &pair).as_deref(),
        Some(original.as_str())
    );
    assert_eq!(
        crate::harness::lookup(&pair).as_deref(),
        Some(original.as_str())
    );
    let status = env.run(&["keychain", "status", "--json"], "").ok().json();
    assert_eq!(status["store"], "file", "{status}");
    assert_eq!(status["unfinished_move_from"], "os", "{status}");
    // Nothing else may switch meanwhile.
    let refused = env.run(&["settings", "keychain", "pass"], "");
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        said(&refused).concat().contains("unfinished"),
        "{refused:?}"
    );

    let finished = env.run(&["keychain", "migrate", "--to", "file"], "").ok();
    assert!(
        finished.stdout.contains("1 old copy removed"),
        "{finished:?}"
    );
    assert_eq!(crate::harness::lookup(&pair), None);
    assert_eq!(
        read_file_store(&file, &pair).as_deref(),
        Some(original.as_str())
    );
    let status = env.run(&["keychain", "status", "--json"], "").ok().json();
    assert_eq!(
        status["unfinished_move_from"],
        serde_json::Value::Null,
        "{status}"
    );
    assert_eq!(status["items"], 1, "{status}");
}

/// Runs `credtray args` on a pseudo-terminal, typing each answer once its prompt shows
/// (tests/support/tty_answer.py): what the terminal showed, and the exit code.
fn at_a_terminal(env: &Env, answers: &[(&str, &str)], args: &[&str]) -> Run {
    let python = std::env::var("CREDTRAY_TEST_PYTHON").expect("set by scripts/test");
    let mut cmd = env.tool(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/tty_answer.py"
    ));
    for (prompt, answer) in answers {
        cmd.args([prompt, answer]);
    }
    cmd.arg("--").arg(env!("CARGO_BIN_EXE_credtray")).args(args);
    finish(cmd, "")
}

#[test]
fn the_terminal_asks_for_the_passphrase_unechoed_twice_for_a_new_file_and_again_when_wrong() {
    let env = Env::new()
        .without_var("DBUS_SESSION_BUS_ADDRESS")
        .with_var("CREDTRAY_KEYCHAIN", "file")
        .with_var("CREDTRAY_KEYCHAIN_WORK_FACTOR", "12");
    let (id, secret) = fresh_keys();
    let typed = "typed at the terminal 7731";
    let added = at_a_terminal(
        &env,
        &[
            ("access key id:", &id),
            ("secret access key:", &secret),
            ("New passphrase for credtray's file keychain", typed),
            ("The same passphrase again:", typed),
        ],
        ADD_DEV,
    );
    assert_eq!(added.code, 0, "{added:?}");
    assert!(added.stdout.contains("added iam-user session"), "{added:?}");
    assert!(
        !added.stdout.contains(typed) && !added.stdout.contains(&secret),
        "echoed: {added:?}"
    );
    // The next command asks once; a wrong answer is asked again, the right one opens it.
    let status = at_a_terminal(
        &env,
        &[
            ("Passphrase for credtray's file keychain", "not the one"),
            ("Wrong passphrase; passphrase for", typed),
        ],
        &["keychain", "status"],
    );
    assert_eq!(status.code, 0, "{status:?}");
    assert!(status.stdout.contains("items     1"), "{status:?}");
    assert!(
        !status.stdout.contains(typed) && !status.stdout.contains("not the one"),
        "echoed: {status:?}"
    );
    // Two different new passphrases: refused, nothing written.
    let other = Env::new()
        .without_var("DBUS_SESSION_BUS_ADDRESS")
        .with_var("CREDTRAY_KEYCHAIN", "file")
        .with_var("CREDTRAY_KEYCHAIN_WORK_FACTOR", "12");
    let differ = at_a_terminal(
        &other,
        &[
            ("access key id:", &id),
            ("secret access key:", &secret),
            ("New passphrase for credtray's file keychain", "one"),
            ("The same passphrase again:", "two"),
        ],
        ADD_DEV,
    );
    assert_eq!(differ.code, 1, "{differ:?}");
    assert!(
        differ.stdout.contains("the two passphrases differ"),
        "{differ:?}"
    );
    assert!(!other.data_dir().join("credtray/keychain.age").exists());
}

/// `doctor --json`'s keychain row, run by `cmd`'s environment.
fn doctor_keychain(mut cmd: std::process::Command) -> Value {
    cmd.env("AWS_ENDPOINT_URL", moto());
    let run = finish(cmd, "");
    run.json()
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["check"] == "keychain")
        .cloned()
        .unwrap_or_else(|| panic!("no keychain row: {run:?}"))
}

#[test]
fn doctor_names_the_store_whether_it_answers_and_whether_the_agent_holds_it_open() {
    let rig = Rig::new(Kind::File);
    let (id, secret) = fresh_keys();
    rig.env.add_user("dev", &id, &secret);
    let written = std::fs::read(rig.file_path()).unwrap();
    // Locked, nobody to ask: the file is checked, not opened, and nothing is written.
    let mut locked = rig.env.command(&["doctor", "--json"]);
    locked.env_remove("CREDTRAY_PASSPHRASE_COMMAND");
    let row = doctor_keychain(locked);
    assert_eq!(row["status"], "ok", "{row}");
    let detail = row["detail"].as_str().unwrap();
    for part in [
        "the encrypted file",
        "chosen in [settings] keychain",
        "locked",
        "the agent does not hold it open",
    ] {
        assert!(detail.contains(part), "{detail}");
    }
    assert_eq!(std::fs::read(rig.file_path()).unwrap(), written);
    // Held open by the agent: an item written, read back and deleted through it.
    let _agent = Agent::start(&rig.env);
    let mut held = rig.env.command(&["doctor", "--json"]);
    held.env_remove("CREDTRAY_PASSPHRASE_COMMAND");
    let row = doctor_keychain(held);
    assert_eq!(row["status"], "ok", "{row}");
    let detail = row["detail"].as_str().unwrap();
    assert!(
        detail.contains("written, read back and deleted")
            && detail.contains("the agent holds it open"),
        "{detail}"
    );
    // A damaged file fails, naming it.
    drop(_agent);
    std::fs::write(rig.file_path(), b"not an age file").unwrap();
    let mut damaged = rig.env.command(&["doctor", "--json"]);
    damaged.env_remove("CREDTRAY_PASSPHRASE_COMMAND");
    let row = doctor_keychain(damaged);
    assert_eq!(row["status"], "failed", "{row}");
    assert!(
        row["detail"]
            .as_str()
            .unwrap()
            .contains(&rig.file_path().display().to_string()),
        "{row}"
    );
}

#[test]
fn agent_lock_closes_the_file_keychain_and_agent_unlock_opens_it_again() {
    let rig = Rig::new(Kind::File);
    let (id, secret) = fresh_keys();
    rig.env.add_user("dev", &id, &secret);
    let _agent = Agent::start(&rig.env);
    let without_passphrase = |args: &[&str]| {
        let mut cmd = rig.env.command(args);
        cmd.env_remove("CREDTRAY_PASSPHRASE_COMMAND");
        finish(cmd, "")
    };
    let open = without_passphrase(&["keychain", "status", "--json"])
        .ok()
        .json();
    assert_eq!(open["agent_holds_open"], true, "{open}");
    assert_eq!(open["items"], 1, "{open}");

    let locked = without_passphrase(&["agent", "lock"]).ok();
    assert!(locked.stdout.contains("is locked"), "{locked:?}");
    let refused = without_passphrase(&["keychain", "status", "--json"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    let status = refused.json();
    assert_eq!(status["agent_holds_open"], false, "{status}");
    assert!(
        status["error"].as_str().unwrap().contains("is locked"),
        "{status}"
    );

    // credential-process does the work itself when the agent's keychain is locked (here with
    // the passphrase command; at a terminal it would ask there).
    let document = credential_process(&rig, "dev");
    assert_eq!(document["Version"], 1, "{document}");

    // A wrong passphrase leaves it locked; the right one opens it for every command.
    std::fs::write(rig.env.root.join("passphrase"), "not it\n").unwrap();
    let wrong = rig.run(&["agent", "unlock"], "");
    assert_eq!(wrong.code, 1, "{wrong:?}");
    assert!(
        said(&wrong).concat().contains("wrong passphrase"),
        "{wrong:?}"
    );
    assert_eq!(
        without_passphrase(&["keychain", "status", "--json"]).json()["agent_holds_open"],
        false
    );
    std::fs::write(rig.env.root.join("passphrase"), format!("{PASSPHRASE}\n")).unwrap();
    rig.run(&["agent", "unlock"], "").ok();
    let reopened = without_passphrase(&["keychain", "status", "--json"])
        .ok()
        .json();
    assert_eq!(reopened["agent_holds_open"], true, "{reopened}");
}
