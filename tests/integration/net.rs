//! The network policy through the real binary (issue 26, its first part: trust roots): STS
//! behind a TLS front whose certificate a private test CA signed, as a company's TLS
//! inspection looks. Without the CA's bundle a start says the certificate is not trusted and
//! how to fix it; with `AWS_CA_BUNDLE` it works; a bundle that is not one is an error naming
//! the file, before any call.

use crate::engine::add_moto_user;
use crate::harness::{Env, Run, finish, fixtures, moto};
use crate::net_support::{Support, TlsFront, no_network_env};
use crate::sso_stub::SsoStub;

/// `credtray args` with STS at `front`, no proxy or CA variable from the test's environment,
/// and `bundle` as `AWS_CA_BUNDLE` if given.
fn run_behind(env: &Env, front: &TlsFront, bundle: Option<&std::path::Path>, args: &[&str]) -> Run {
    let mut cmd = env.command(args);
    no_network_env(&mut cmd).env("AWS_ENDPOINT_URL", front.url());
    if let Some(bundle) = bundle {
        cmd.env("AWS_CA_BUNDLE", bundle);
    }
    finish(cmd, "")
}

#[test]
fn sts_behind_a_company_ca_is_refused_without_its_bundle_and_works_with_aws_ca_bundle() {
    let env = Env::new();
    let f = fixtures();
    add_moto_user(&env, &f, "dev", "dev", &[]);
    let front = TlsFront::start(&moto());

    let refused = run_behind(&env, &front, None, &["session", "start", "dev"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains(&format!(
            "STS's TLS certificate at {} is not trusted",
            front.url()
        )),
        "{refused:?}"
    );
    assert!(refused.stderr.contains("set AWS_CA_BUNDLE"), "{refused:?}");
    assert!(!env.aws_files().0.contains("aws_session_token"));

    let started = run_behind(
        &env,
        &front,
        Some(&front.ca_bundle()),
        &["session", "start", "dev"],
    );
    assert_eq!(started.code, 0, "{started:?}");
    assert!(env.aws_files().0.contains("aws_session_token"));
}

#[test]
fn a_ca_bundle_that_is_not_one_fails_the_call_naming_the_file_before_it_is_made() {
    let env = Env::new();
    let f = fixtures();
    add_moto_user(&env, &f, "dev", "dev", &[]);
    let front = TlsFront::start(&moto());
    let bad = env.root.join("company-ca.pem");
    std::fs::write(&bad, "this is not a certificate\n").unwrap();
    for bundle in [bad.clone(), env.root.join("missing.pem")] {
        let run = run_behind(&env, &front, Some(&bundle), &["session", "start", "dev"]);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(
            run.stderr
                .contains(&format!("the CA bundle {}", bundle.display()))
                && run.stderr.contains("(from AWS_CA_BUNDLE) can't be used"),
            "{run:?}"
        );
    }
    // No connection reached the front: the calls were refused before they were made.
    assert!(!front.stderr().contains("handshake"), "{}", front.stderr());
}

#[test]
fn iam_identity_center_behind_a_company_ca_logs_in_and_syncs_with_aws_ca_bundle() {
    let env = Env::new();
    let stub = SsoStub::start();
    stub.config(serde_json::json!({"auto_approve_after": 0, "interval": 1}));
    let front = TlsFront::start(stub.url());
    let behind = |bundle: Option<&std::path::Path>, args: &[&str]| {
        let mut cmd = env.command(args);
        no_network_env(&mut cmd)
            .env("AWS_ENDPOINT_URL_SSO_OIDC", front.url())
            .env("AWS_ENDPOINT_URL_SSO", front.url());
        if let Some(bundle) = bundle {
            cmd.env("AWS_CA_BUNDLE", bundle);
        }
        finish(cmd, "")
    };
    let start_url = format!("{}/start", stub.url());
    behind(
        None,
        &[
            "integration",
            "add",
            "aws-sso",
            "--alias",
            "corp",
            "--start-url",
            &start_url,
            "--region",
            "eu-west-1",
        ],
    )
    .ok();
    let refused = behind(None, &["integration", "login", "corp", "--no-browser"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains(&format!(
            "IAM Identity Center's TLS certificate at {} is not trusted",
            front.url()
        )) && refused.stderr.contains("set AWS_CA_BUNDLE"),
        "{refused:?}"
    );
    assert!(stub.log_of("RegisterClient").is_empty(), "{refused:?}");
    let login = behind(
        Some(&front.ca_bundle()),
        &["integration", "login", "corp", "--no-browser"],
    );
    assert_eq!(login.code, 0, "{login:?}");
    assert!(login.stdout.contains("6 sessions (6 added"), "{login:?}");
    assert!(!stub.log_of("ListAccountRoles").is_empty());
}

#[test]
fn the_console_sign_in_behind_a_company_ca_needs_its_bundle_and_says_so() {
    let env = Env::new();
    add_moto_user(&env, &fixtures(), "dev", "dev", &[]);
    let federation = Support::start(
        "federation_stub.py",
        |dir| vec![dir.join("federation.log").into()],
        "",
    );
    let front = TlsFront::start(&format!("127.0.0.1:{}", federation.port()));
    let endpoint = format!("{}/federation", front.url());
    let console = |bundle: Option<&std::path::Path>| {
        let mut cmd = env.command(&["console", "dev", "--print"]);
        no_network_env(&mut cmd)
            .env("AWS_ENDPOINT_URL", moto())
            .env("CREDTRAY_FEDERATION_ENDPOINT", &endpoint);
        if let Some(bundle) = bundle {
            cmd.env("AWS_CA_BUNDLE", bundle);
        }
        finish(cmd, "")
    };
    let refused = console(None);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains(&format!(
            "TLS certificate at {} is not trusted",
            front.url()
        )) && refused.stderr.contains("set AWS_CA_BUNDLE"),
        "{refused:?}"
    );
    let signed_in = console(Some(&front.ca_bundle()));
    assert_eq!(signed_in.code, 0, "{signed_in:?}");
    assert!(
        signed_in.stdout.trim().starts_with(&format!("{endpoint}?")),
        "{signed_in:?}"
    );
}
