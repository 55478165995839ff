//! MFA sources (issue 28) against a stub STS that checks TOTP codes as AWS does (a wrong or
//! reused code is refused), with a fake `ykman` and a fake OTP command on PATH that print the
//! codes of the same seed (tests/support/fake_mfa.py, sts_stub.py, totp.py). Nothing here
//! types a code: where a person is asked, the test says so.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::agent::Agent;
use crate::harness::{Env, Run, finish, support_server};

const SEED: &str = "JBSWY3DPEHPK3PXP";
const DEVICE: &str = "arn:aws:iam::123456789012:mfa/alice";

fn support(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(name)
}

/// A stub STS checking codes of [`SEED`], the fake sources on PATH, and an environment that
/// uses them.
struct Rig {
    env: Env,
    stub: std::process::Child,
    endpoint: String,
    /// `FAKE_MFA_DIR`: the seed, the mode, the calls.
    fake: tempfile::TempDir,
    log: PathBuf,
}

impl Rig {
    /// Credentials of `seconds` from the stub.
    fn new(seconds: u32) -> Self {
        Self::with_path(seconds, true)
    }

    fn with_path(seconds: u32, fakes_on_path: bool) -> Self {
        let fake = tempfile::tempdir().unwrap();
        std::fs::write(fake.path().join("seed"), SEED).unwrap();
        let bin = fake.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        for name in ["ykman", "fake-otp"] {
            std::os::unix::fs::symlink(support("fake_mfa.py"), bin.join(name)).unwrap();
        }
        let log = fake.path().join("sts.log");
        let (stub, port) = support_server(
            "sts_stub.py",
            &[
                seconds.to_string().as_ref(),
                "--totp-seed".as_ref(),
                SEED.as_ref(),
                "--log".as_ref(),
                log.as_os_str(),
            ],
        );
        let path = std::env::var("PATH").unwrap();
        let path = if fakes_on_path {
            format!("{}:{path}", bin.display())
        } else {
            path
        };
        let env = Env::new()
            .with_var("PATH", path)
            .with_var("FAKE_MFA_DIR", fake.path())
            .with_var("CREDTRAY_MFA_SOURCE_TIMEOUT", "3");
        Self {
            env,
            stub,
            endpoint: format!("http://127.0.0.1:{port}"),
            fake,
            log,
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.env.run_against(&self.endpoint, args, "")
    }

    /// An IAM user with the MFA device [`DEVICE`] and `source`.
    fn user(&self, alias: &str, source: &str) {
        let added = self.env.run(
            &[
                "session",
                "add",
                "iam-user",
                "--alias",
                alias,
                "--mfa-device",
                DEVICE,
                "--mfa-source",
                source,
                "--access-key-id",
                "-",
                "--secret-access-key",
                "-",
            ],
            "AKIAIOSFODNN7EXAMPLE\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        );
        added.ok();
    }

    fn agent(&self) -> Agent {
        Agent::start_with(&self.env, &[("AWS_ENDPOINT_URL", self.endpoint.clone())])
    }

    fn mode(&self, mode: &str) {
        std::fs::write(self.fake.path().join("mode"), mode).unwrap();
    }

    /// The stub's log: `<Action> <serial> <code> accepted|refused` per call.
    fn sts_calls(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| l.split(' ').map(str::to_owned).collect())
            .collect()
    }

    /// The codes GetSessionToken was sent, each with whether the stub took it.
    fn sent_codes(&self) -> Vec<(String, String)> {
        self.sts_calls()
            .into_iter()
            .filter(|c| c[0] == "GetSessionToken" && c[1] != "-")
            .map(|c| (c[2].clone(), c[3].clone()))
            .collect()
    }

    /// The fake sources' calls: `<name> <time> <args>`.
    fn source_calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.fake.path().join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = self.stub.kill();
        let _ = self.stub.wait();
    }
}

fn accepted(codes: &[(String, String)]) -> bool {
    codes.iter().all(|(_, how)| how == "accepted")
}

#[test]
fn a_yubikey_starts_a_session_with_no_prompt_and_the_source_is_shown() {
    let rig = Rig::new(3600);
    std::fs::write(rig.fake.path().join("account"), "AWS:alice").unwrap();
    rig.user("dev", "ykman:AWS:alice");
    let started = rig.run(&["session", "start", "dev"]);
    let started = started.ok();
    assert!(
        started
            .stderr
            .contains("touch your YubiKey for session \"dev\""),
        "{started:?}"
    );
    let sent = rig.sent_codes();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(accepted(&sent), "{sent:?}");
    let calls = rig.source_calls();
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0].starts_with("ykman ")
            && calls[0].ends_with(" oath accounts code --single AWS:alice"),
        "{calls:?}"
    );
    assert_eq!(rig.env.session("dev")["mfa_source"], "ykman:AWS:alice");
    let shown = rig.run(&["session", "show", "dev"]).ok();
    assert!(shown.stdout.contains("ykman:AWS:alice"), "{shown:?}");
    // What the source printed never reaches a log or the store.
    let code = &sent[0].0;
    assert!(!started.stderr.contains(code.as_str()), "{started:?}");
    assert!(
        !String::from_utf8(rig.env.store_bytes().unwrap())
            .unwrap()
            .contains(code.as_str())
    );
}

#[test]
fn the_agent_serves_a_chain_and_its_refresh_from_a_command_never_sending_a_code_twice() {
    // Tokens of 30 s: due for a refresh after 20.
    let rig = Rig::new(30);
    rig.user("dev", "process:fake-otp --prefix");
    rig.user("ops", "process:fake-otp --prefix");
    rig.env.add_chained("admin", "dev");
    let shown = rig.run(&["session", "show", "dev"]).ok();
    assert!(
        shown.stdout.contains("process:fake-otp --prefix"),
        "the command that runs is shown: {shown:?}"
    );
    let _agent = rig.agent();
    let served = |session: &str| {
        let run = rig
            .env
            .run(&["credential-process", "--session", session], "");
        let run = run.ok();
        run.json()["AccessKeyId"].as_str().unwrap().to_owned()
    };
    // The chain's assumer needs a token: its code comes from the command, through the agent.
    served("admin");
    // Another user of the same device at once: the code of this window was used, so the agent
    // waits for the next one rather than send it again.
    served("ops");
    // The assumer's token is due: the refresh takes a third code.
    std::thread::sleep(std::time::Duration::from_secs(21));
    served("admin");
    let sent = rig.sent_codes();
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(accepted(&sent), "every code was taken: {sent:?}");
    let mut codes: Vec<&String> = sent.iter().map(|(c, _)| c).collect();
    codes.dedup();
    assert_eq!(codes.len(), 3, "no code was sent twice: {sent:?}");
    assert_eq!(rig.source_calls().len(), 3, "{:?}", rig.source_calls());
}

#[test]
fn a_test_then_a_start_in_two_commands_never_send_one_code_twice() {
    let rig = Rig::new(3600);
    rig.user("dev", "process:fake-otp");
    // `session test` takes a fresh token and keeps nothing: the start needs a code of its own,
    // and the one the test used is still the command's answer in this window.
    rig.run(&["session", "test", "dev"]).ok();
    let started = rig.run(&["session", "start", "dev"]).ok();
    let sent = rig.sent_codes();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(accepted(&sent), "{sent:?} {started:?}");
    assert_ne!(sent[0].0, sent[1].0);
    let calls = rig.source_calls();
    assert_eq!(
        calls.len(),
        2,
        "the command was asked once per window: {calls:?}"
    );
}

#[test]
fn two_chains_on_one_user_at_once_through_the_agent_ask_the_source_once() {
    let rig = Rig::new(3600);
    rig.user("dev", "process:fake-otp");
    rig.env.add_chained("one", "dev");
    rig.env.add_chained("two", "dev");
    let _agent = rig.agent();
    let calls: Vec<_> = ["one", "two"]
        .iter()
        .map(|session| {
            rig.env
                .command(&["credential-process", "--session", session])
                .spawn()
                .unwrap()
        })
        .collect();
    for call in calls {
        let out = call.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let sent = rig.sent_codes();
    assert_eq!(sent.len(), 1, "one token for both chains: {sent:?}");
    assert!(accepted(&sent), "{sent:?}");
    assert_eq!(rig.source_calls().len(), 1, "{:?}", rig.source_calls());
}

#[test]
fn a_headless_agent_answers_with_the_sources_sentence() {
    let rig = Rig::new(3600);
    rig.user("dev", "process:fake-otp");
    rig.mode("fail");
    let _agent = rig.agent();
    // A client that did the work itself would find no fake source there: another sentence.
    let mut cmd = rig.env.command(&["credential-process", "--session", "dev"]);
    cmd.env("FAKE_MFA_DIR", "/nonexistent");
    let run = finish(cmd, "");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("fake-otp failed (exit status 3): fake: something went wrong"),
        "{run:?}"
    );
    assert_eq!(rig.sent_codes(), []);
}

#[test]
fn each_failing_source_says_why_in_one_sentence_and_sends_nothing() {
    let rig = Rig::new(3600);
    rig.user("dev", "process:fake-otp");
    rig.user("yk", "ykman:AWS:alice");
    rig.user("gone", "process:/nonexistent/otp --now");
    for (session, mode, sentence) in [
        (
            "dev",
            "fail",
            "from its MFA source: fake-otp failed (exit status 3): fake: something went wrong",
        ),
        (
            "dev",
            "garbage",
            "from its MFA source: fake-otp printed no MFA code (its last line of output is not six digits)",
        ),
        (
            "dev",
            "hang",
            "from its MFA source: fake-otp gave no MFA code within 3 s and was stopped",
        ),
        (
            "yk",
            "no-yubikey",
            "from its MFA source: no YubiKey is plugged in (ykman: ERROR: No YubiKey detected!)",
        ),
        (
            "gone",
            "ok",
            "from its MFA source: the MFA source's program \"/nonexistent/otp\" was not found",
        ),
    ] {
        rig.mode(mode);
        for args in [
            &["session", "start", session][..],
            &["credential-process", "--session", session][..],
        ] {
            let run = rig.run(args);
            assert_ne!(run.code, 0, "{mode}: {run:?}");
            let said: Vec<&str> = run
                .stderr
                .lines()
                .filter(|l| l.starts_with("credtray:") && !l.contains("touch your YubiKey"))
                .collect();
            assert_eq!(said.len(), 1, "{mode}: {run:?}");
            assert!(said[0].contains(sentence), "{mode}: {said:?}");
        }
    }
    assert_eq!(rig.sent_codes(), [], "nothing was sent to STS");
}

#[test]
fn without_ykman_the_sentence_says_to_install_it() {
    let rig = Rig::with_path(3600, false);
    rig.user("yk", "ykman:AWS:alice");
    let run = rig.run(&["session", "start", "yk"]);
    // Exit 2, as every start that could not get its MFA code.
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("ykman (YubiKey Manager) is not installed or not on PATH"),
        "{run:?}"
    );
}

#[test]
fn at_a_terminal_a_failing_source_hands_over_to_the_prompt_saying_why() {
    let rig = Rig::new(3600);
    rig.user("dev", "process:fake-otp");
    rig.mode("fail");
    let python = std::env::var("CREDTRAY_TEST_PYTHON").expect("set by scripts/test");
    // The code a person reads off their device, typed at the prompt.
    let code = Command::new(&python)
        .arg(support("totp.py"))
        .arg(SEED)
        .output()
        .unwrap();
    let code = String::from_utf8(code.stdout).unwrap().trim().to_owned();
    let mut cmd = rig.env.tool(python);
    cmd.env("AWS_ENDPOINT_URL", &rig.endpoint)
        .arg(support("tty_answer.py"))
        .args(["typed instead: ", &code, "--"])
        .arg(env!("CARGO_BIN_EXE_credtray"))
        .args(["session", "start", "dev"]);
    let run = finish(cmd, "");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(
            "the MFA source of session \"dev\" gave no code: fake-otp failed (exit status 3): fake: something went wrong"
        ),
        "{run:?}"
    );
    assert_eq!(rig.sent_codes(), [(code, "accepted".to_owned())]);
}

#[test]
fn import_takes_aws_vaults_mfa_process_as_the_users_source() {
    let env = Env::new();
    std::fs::create_dir_all(env.aws_dir()).unwrap();
    std::fs::write(
        env.aws_dir().join("credentials"),
        "[dev]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    )
    .unwrap();
    std::fs::write(
        env.aws_dir().join("config"),
        format!("[profile dev]\nmfa_serial = {DEVICE}\nmfa_process = pass otp aws/dev\n"),
    )
    .unwrap();
    env.run(&["import", "aws-config"], "").ok();
    assert_eq!(env.session("dev")["mfa_source"], "process:pass otp aws/dev");
}
