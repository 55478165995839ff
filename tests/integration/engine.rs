//! The session engine against moto (STS and IAM), the real AWS CLI reading the profiles
//! credtray writes, the real Secret Service, and a stub STS for AWS's error answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use crate::harness::{Env, Fixtures, fixtures, keychain, saml_assertion};

/// An IAM-user session with moto's keys, on `profile` in eu-west-1.
pub fn add_moto_user(
    env: &Env,
    f: &Fixtures,
    alias: &str,
    profile: &str,
    extra: &[&str],
) -> String {
    let mut args = vec![
        "session",
        "add",
        "iam-user",
        "--alias",
        alias,
        "--profile",
        profile,
        "--region",
        "eu-west-1",
        "--access-key-id",
        "-",
        "--secret-access-key",
        "-",
    ];
    args.extend_from_slice(extra);
    env.run(
        &args,
        &format!("{}\n{}\n", f.access_key_id, f.secret_access_key),
    )
    .ok();
    env.id_of(alias)
}

/// A session `ops` (profile `ops`) chained from `dev` to the fixtures' role.
pub fn add_moto_chain(env: &Env, f: &Fixtures) {
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
        ],
        "",
    )
    .ok();
}

/// `aws sts get-caller-identity --profile P`: the caller ARN the real AWS CLI sees.
pub fn caller(env: &Env, profile: &str) -> String {
    let run = env
        .aws(&[
            "sts",
            "get-caller-identity",
            "--profile",
            profile,
            "--output",
            "json",
        ])
        .ok();
    run.json()["Arn"].as_str().unwrap().to_owned()
}

#[test]
fn an_iam_user_session_starts_and_the_aws_cli_uses_its_profile_and_credential_process() {
    let env = Env::new();
    let f = fixtures();
    let id = add_moto_user(
        &env,
        &f,
        "dev",
        "dev",
        &["--mfa-device", "arn:aws:iam::123456789012:mfa/dev"],
    );
    // Without a code (and no terminal) the start explains what is missing.
    let run = env.run_moto(&["session", "start", "dev"], "");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("needs an MFA code"), "{run:?}");

    let run = env
        .run_moto(&["session", "start", "dev", "--mfa-code", "123456"], "")
        .ok();
    assert!(
        run.stdout
            .contains("started session \"dev\" on profile dev in eu-west-1"),
        "{run:?}"
    );
    let (credentials, config) = env.aws_files();
    assert!(
        credentials.contains("[dev]\naws_access_key_id = "),
        "{credentials}"
    );
    assert_eq!(config, "[profile dev]\nregion = eu-west-1\n");
    assert!(
        caller(&env, "dev").contains(":user/"),
        "moto's GetSessionToken caller"
    );
    let session = env.session("dev");
    assert_eq!(session["state"], "active");
    // The token is cached in the keychain, so a second start needs no MFA code.
    assert_eq!(keychain(&id).len(), 2, "the key pair and the token");
    env.run_moto(&["session", "start", "dev"], "").ok();

    // A profile whose config runs credtray as its credential_process.
    std::fs::write(
        env.aws_dir().join("config"),
        format!("{config}\n[profile cp]\ncredential_process = {} credential-process --session dev\nregion = us-east-1\n", env!("CARGO_BIN_EXE_credtray")),
    )
    .unwrap();
    assert!(
        caller(&env, "cp").contains(":user/"),
        "credential_process works"
    );
    let run = env
        .run_moto(&["credential-process", "--session", "dev"], "")
        .ok();
    let json = run.json();
    assert_eq!(json["Version"], 1);
    assert!(json["Expiration"].as_str().unwrap().ends_with('Z'));

    let run = env.run_moto(&["credential-process", "--session", "nobody"], "");
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("nobody") && run.stdout.is_empty(),
        "{run:?}"
    );

    env.run_moto(&["session", "stop", "dev"], "").ok();
    let (credentials, _) = env.aws_files();
    assert!(!credentials.contains("[dev]"), "{credentials}");
    assert_eq!(env.session("dev")["state"], "inactive");
}

#[test]
fn chained_sessions_of_depth_one_and_two_and_a_federated_session_start() {
    let env = Env::new();
    let f = fixtures();
    add_moto_user(&env, &f, "root", "root", &[]);
    env.run(
        &[
            "session",
            "chain",
            "root",
            "--role-arn",
            &f.role_arn,
            "--profile",
            "admin",
        ],
        "",
    )
    .ok();
    let child = env.session("root chained");
    assert_eq!(child["role_session_name"], "credtray-root");
    assert_eq!(child["region"], "eu-west-1");
    env.run(
        &[
            "session",
            "add",
            "iam-role-chained",
            "--alias",
            "deeper",
            "--role-arn",
            &f.deeper_role_arn,
            "--assumer",
            "root chained",
            "--profile",
            "deeper",
            "--role-session-name",
            "deep-session",
        ],
        "",
    )
    .ok();

    env.run_moto(&["session", "start", "deeper"], "").ok();
    let arn = caller(&env, "deeper");
    assert!(
        arn.contains(":assumed-role/")
            && arn.contains(&f.deeper_role_arn.rsplit('/').next().unwrap().to_owned())
            && arn.ends_with("/deep-session"),
        "{arn}"
    );
    let (credentials, _) = env.aws_files();
    assert!(
        !credentials.contains("[root]") && !credentials.contains("[admin]"),
        "assumers are not published: {credentials}"
    );

    env.run_moto(&["session", "start", "root chained"], "").ok();
    let arn = caller(&env, "admin");
    assert!(
        arn.contains(":assumed-role/") && arn.ends_with("/credtray-root"),
        "{arn}"
    );

    env.run(
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
    )
    .ok();
    let run = env.run_moto(&["session", "start", "fed"], "");
    assert_eq!(run.code, 2, "no assertion: {run:?}");
    // An assertion for another role: refused before STS, naming what it grants, nothing written.
    let before = env.aws_files();
    let run = env.run_moto(
        &["session", "start", "fed", "--saml-assertion", "-"],
        &saml_assertion(&f.role_arn, &f.idp_arn),
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("does not grant role") && run.stderr.contains(&f.role_arn),
        "{run:?}"
    );
    assert_eq!(env.aws_files(), before);
    env.run_moto(
        &["session", "start", "fed", "--saml-assertion", "-"],
        &saml_assertion(&f.federated_role_arn, &f.idp_arn),
    )
    .ok();
    let arn = caller(&env, "fed");
    assert!(
        arn.contains(":assumed-role/") && arn.contains("federated"),
        "{arn}"
    );
}

const FOREIGN_CREDENTIALS: &str =
    "# mine\n[personal]\naws_access_key_id = AKIAPERSONAL000001\naws_secret_access_key = p\n";
const FOREIGN_CONFIG: &str =
    "[profile personal]\nregion = sa-east-1 # not a comment\n\n[default]\noutput = json\n";

#[test]
fn editing_region_or_profile_of_an_active_session_restarts_it_and_keeps_foreign_bytes() {
    let env = Env::new();
    let f = fixtures();
    std::fs::create_dir_all(env.aws_dir()).unwrap();
    std::fs::write(env.aws_dir().join("credentials"), FOREIGN_CREDENTIALS).unwrap();
    std::fs::write(env.aws_dir().join("config"), FOREIGN_CONFIG).unwrap();
    add_moto_user(&env, &f, "dev", "dev", &[]);
    add_moto_chain(&env, &f);
    env.run_moto(&["session", "start", "ops"], "").ok();

    let run = env
        .run_moto(
            &["session", "edit", "ops", "--region", "ap-southeast-2"],
            "",
        )
        .ok();
    assert!(
        run.stdout
            .contains("restarted session \"ops\" on profile ops in ap-southeast-2"),
        "{run:?}"
    );
    let (_, config) = env.aws_files();
    assert!(
        config.contains("[profile ops]\nregion = ap-southeast-2\n"),
        "{config}"
    );

    let run = env
        .run_moto(&["session", "edit", "ops", "--profile", "ops2"], "")
        .ok();
    assert!(run.stdout.contains("restarted"), "{run:?}");
    let (credentials, config) = env.aws_files();
    assert!(
        !credentials.contains("[ops]") && credentials.contains("[ops2]"),
        "{credentials}"
    );
    assert!(
        !config.contains("[profile ops]")
            && config.contains("[profile ops2]\nregion = ap-southeast-2\n"),
        "{config}"
    );
    assert!(caller(&env, "ops2").contains(":assumed-role/"));
    let region = env
        .aws(&["configure", "get", "region", "--profile", "ops2"])
        .ok();
    assert_eq!(region.stdout.trim(), "ap-southeast-2");
    assert!(
        credentials.starts_with(FOREIGN_CREDENTIALS),
        "{credentials}"
    );
    assert!(config.starts_with(FOREIGN_CONFIG), "{config}");

    env.run_moto(&["session", "stop", "--all"], "").ok();
    assert_eq!(
        env.aws_files(),
        (FOREIGN_CREDENTIALS.to_owned(), FOREIGN_CONFIG.to_owned()),
        "stopping restores the files byte for byte"
    );
}

/// Everything a dry run must not touch.
fn snapshot(env: &Env, id: &str) -> (Option<Vec<u8>>, Vec<crate::harness::Item>, (String, String)) {
    (env.store_bytes(), keychain(id), env.aws_files())
}

#[test]
fn test_and_edit_dry_run_report_the_caller_or_the_reason_and_change_nothing() {
    let env = Env::new();
    let f = fixtures();
    let id = add_moto_user(&env, &f, "dev", "dev", &[]);
    add_moto_chain(&env, &f);
    env.run_moto(&["session", "start", "dev"], "").ok();
    let before = snapshot(&env, &id);
    assert_eq!(before.1.len(), 2, "the key pair and the cached token");

    let run = env.run_moto(&["session", "test", "dev", "--json"], "").ok();
    let json = run.json();
    assert_eq!(json["ok"], true, "{json}");
    assert!(json["caller_arn"].as_str().unwrap().contains(":user/"));
    assert!(json["expiration"].as_str().unwrap().ends_with('Z'));
    assert!(json["error"].is_null());
    let run = env.run_moto(&["session", "test", "ops"], "").ok();
    assert!(
        run.stdout
            .contains("credentials work: caller arn:aws:sts::")
            && run.stdout.contains("assumed-role"),
        "{run:?}"
    );

    // A dry run of an edit: proposed region and keys, nothing saved.
    let run = env
        .run_moto(
            &[
                "session",
                "edit",
                "dev",
                "--region",
                "us-west-2",
                "--access-key-id",
                "-",
                "--dry-run",
            ],
            &format!("{}\n", f.access_key_id),
        )
        .ok();
    assert!(run.stdout.contains("nothing was saved"), "{run:?}");
    // Keys AWS does not know (moto checks no signatures, so a stub STS answers as AWS would).
    let stub = stub_sts(
        403,
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
    );
    let run = env.run_against(
        &stub,
        &[
            "session",
            "edit",
            "dev",
            "--access-key-id",
            "-",
            "--secret-access-key",
            "-",
            "--dry-run",
        ],
        "AKIAUNKNOWNKEY000001\nwrong\n",
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("test credential generation failed")
            && run.stderr.contains("STS rejected the access key"),
        "{run:?}"
    );
    let run = env.run_against(
        &stub_sts(
            403,
            "AccessDenied",
            "not authorized to perform sts:AssumeRole",
        ),
        &["session", "test", "ops", "--json"],
        "",
    );
    assert_eq!(run.code, 1);
    assert!(
        run.json()["error"]
            .as_str()
            .unwrap()
            .contains("access denied by AWS on AssumeRole"),
        "{run:?}"
    );
    // Invalid parameters are refused before any call.
    let run = env.run_moto(
        &[
            "session",
            "edit",
            "ops",
            "--role-arn",
            "arn:aws:iam::1:role/x",
            "--dry-run",
        ],
        "",
    );
    assert_eq!(run.code, 2, "{run:?}");

    assert_eq!(
        snapshot(&env, &id),
        before,
        "store, keychain and AWS files are untouched"
    );
}

/// A stub STS on 127.0.0.1 answering every request with `status` and an AWS error document.
pub fn stub_sts(status: u16, code: &str, message: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>4c6d1b2a-stub</RequestId></ErrorResponse>"
    );
    std::thread::spawn(move || {
        // Bounded: the SDK retries a few times per call; the tests make few calls.
        for stream in listener.incoming().take(32) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut request = vec![0; length];
            let _ = reader.read_exact(&mut request);
            let reason = if status == 403 {
                "Forbidden"
            } else {
                "Bad Request"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} {reason}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn aws_errors_become_clear_sentences() {
    let env = Env::new();
    let (access_key_id, secret) = crate::harness::fresh_keys();
    env.add_user("dev", &access_key_id, &secret);
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let cases = [
        (
            stub_sts(
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            ),
            "STS rejected the access key",
        ),
        (
            stub_sts(
                400,
                "ExpiredToken",
                "The security token included in the request is expired",
            ),
            "have expired",
        ),
        (
            stub_sts(
                403,
                "AccessDenied",
                "User is not authorized to perform: sts:GetSessionToken",
            ),
            "access denied by AWS on GetSessionToken",
        ),
        (stub_sts(400, "Throttling", "Rate exceeded"), "throttling"),
        (closed, "could not be reached"),
    ];
    for (endpoint, expected) in cases {
        let run = env.run_against(&endpoint, &["session", "test", "dev", "--json"], "");
        assert_eq!(run.code, 1, "{endpoint}: {run:?}");
        let json = run.json();
        assert_eq!(json["ok"], false);
        let error = json["error"].as_str().unwrap();
        assert!(
            error.contains("session \"dev\"") && error.contains(expected),
            "{expected}: {error}"
        );
        said_once(error);
        assert!(
            !error.contains("ServiceError")
                && !error.contains("DispatchFailure")
                && !error.contains('{'),
            "no SDK dump: {error}"
        );
        let run = env.run_against(&endpoint, &["session", "start", "dev"], "");
        assert_eq!(run.code, 1);
        let sentence = run
            .stderr
            .lines()
            .find(|l| l.starts_with("credtray:"))
            .unwrap();
        assert!(sentence.contains(expected), "{sentence}");
        said_once(sentence);
        assert!(!run.stderr.contains(&secret) && !run.stderr.contains(&access_key_id));
        assert_eq!(env.session("dev")["state"], "error");
    }

    // A rejected MFA code is told apart from other access denials.
    env.run(
        &[
            "session",
            "edit",
            "dev",
            "--mfa-device",
            "arn:aws:iam::123456789012:mfa/dev",
        ],
        "",
    )
    .ok();
    let run = env.run_against(
        &stub_sts(
            403,
            "AccessDenied",
            "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
        ),
        &["session", "start", "dev", "--mfa-code", "654321"],
        "",
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("the MFA code was rejected"), "{run:?}");
    said_once(&run.stderr);
}

/// Each cause said once (issue 24): no run of five words appears twice in `text`; words
/// compare without case or the punctuation around them.
fn said_once(text: &str) {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    let mut seen = std::collections::HashSet::new();
    if let Some(run) = words.windows(5).find(|run| !seen.insert(*run)) {
        panic!("{:?} is said twice in: {text}", run.join(" "));
    }
}

#[test]
fn starting_on_a_profile_credtray_does_not_own_is_refused_without_take_over() {
    let env = Env::new();
    let f = fixtures();
    std::fs::create_dir_all(env.aws_dir()).unwrap();
    let mine = "[dev]\naws_access_key_id = AKIAHANDWRITTEN001\naws_secret_access_key = mine\n";
    std::fs::write(env.aws_dir().join("credentials"), mine).unwrap();
    let id = add_moto_user(&env, &f, "dev", "dev", &[]);
    let before = snapshot(&env, &id);
    let run = env.run_moto(&["session", "start", "dev"], "");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("[dev]") && run.stderr.contains("not written by credtray"),
        "{run:?}"
    );
    assert_eq!(snapshot(&env, &id), before, "nothing changed");
    assert!(!env.aws_dir().join("credentials.credtray-backup").exists());

    env.run_moto(&["session", "start", "dev", "--take-over"], "")
        .ok();
    let backup =
        std::fs::read_to_string(env.aws_dir().join("credentials.credtray-backup")).unwrap();
    assert!(backup.contains("AKIAHANDWRITTEN001"));
    assert!(caller(&env, "dev").contains(":user/"));
}

/// What went over the wire to moto while its recorder ran: each request's form body.
pub fn moto_requests(command: &str) -> Vec<String> {
    let python =
        std::env::var("CREDTRAY_TEST_PYTHON").expect("CREDTRAY_TEST_PYTHON is set by scripts/test");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/moto_requests.py"
    );
    let out = std::process::Command::new(python)
        .args([script, &crate::harness::moto(), command])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "moto recorder: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The AssumeRole calls moto recorded for the role session name `name` (unique per test: the
/// recorder sees every test's requests), as their form bodies.
pub fn assume_roles_named(name: &str) -> Vec<String> {
    moto_requests("show")
        .into_iter()
        .filter(|body| {
            body.contains("Action=AssumeRole&") && body.contains(&format!("RoleSessionName={name}"))
        })
        .collect()
}

#[test]
fn a_chained_sessions_external_id_goes_to_sts_and_is_changed_and_cleared_from_the_cli() {
    let env = Env::new();
    let f = fixtures();
    add_moto_user(&env, &f, "root", "root", &[]);
    // A role session name no other test uses picks this test's AssumeRole calls out of what
    // moto records (the recorder sees every test's requests).
    let name = format!("ext-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let calls = || assume_roles_named(&name);
    moto_requests("start");
    env.run(
        &[
            "session",
            "chain",
            "root",
            "--role-arn",
            &f.role_arn,
            "--alias",
            "partner",
            "--profile",
            "partner",
            "--role-session-name",
            &name,
            "--external-id",
            "partner-7Hq:2026/ops",
        ],
        "",
    )
    .ok();
    assert_eq!(
        env.session("partner")["external_id"],
        "partner-7Hq:2026/ops"
    );
    env.run_moto(&["session", "start", "partner"], "").ok();
    assert!(caller(&env, "partner").contains(":assumed-role/"));
    let sent = calls();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].contains("&ExternalId=partner-7Hq%3A2026%2Fops"),
        "{}",
        sent[0]
    );

    // An edit restarts the active session with the new id; "" clears it.
    let run = env
        .run_moto(
            &["session", "edit", "partner", "--external-id", "other-42"],
            "",
        )
        .ok();
    assert!(run.stdout.contains("external id"), "{run:?}");
    assert!(calls().last().unwrap().contains("&ExternalId=other-42"));
    env.run_moto(&["session", "edit", "partner", "--external-id", ""], "")
        .ok();
    assert!(!calls().last().unwrap().contains("ExternalId"));
    assert_eq!(calls().len(), 3);
    assert_eq!(
        env.session("partner")["external_id"],
        serde_json::Value::Null
    );

    // A bad one is refused by its rule, changing nothing; other kinds have none.
    let run = env.run(&["session", "edit", "partner", "--external-id", "a b"], "");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("invalid external id"), "{run:?}");
    let run = env.run(
        &["session", "edit", "root", "--external-id", "partner-1"],
        "",
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("iam-user sessions have no external id"),
        "{run:?}"
    );
    env.run_moto(&["session", "stop", "partner"], "").ok();
}
