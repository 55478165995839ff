//! The proxy through the real binary (issue 26): STS (moto), IAM Identity Center (the stub)
//! and the console's federation endpoint each behind a TLS front with a private test CA, and
//! a CONNECT proxy (tests/support/net_proxy.py) that logs every target and can ask for Basic
//! auth. With the proxy variables, or with `[settings] proxy` and none: a start, an SSO login
//! and sync, `console --print` and `exec`'s child all go through it, and `strace` sees no
//! connect(2) to anything else. A wrong password is a sentence about the proxy that never
//! shows the password; a CA bundle also comes from the profile or the settings; bad input is
//! an error, never a direct connection.

use std::path::PathBuf;
use std::process::Command;

use crate::engine::add_moto_user;
use crate::harness::{Env, Run, finish, fixtures, moto, require_secret_service};
use crate::net_support::{
    NetProxy, Support, TlsFront, connects_not_to, no_network_env, set_settings_proxy,
};
use crate::sso_stub::SsoStub;

/// The three endpoints behind their fronts, and one bundle of the fronts' CAs.
struct Endpoints {
    sts: TlsFront,
    _stub: SsoStub,
    sso: TlsFront,
    _federation: Support,
    federation: TlsFront,
    bundle: PathBuf,
}

impl Endpoints {
    fn start(env: &Env) -> Self {
        let stub = SsoStub::start();
        stub.config(serde_json::json!({"auto_approve_after": 0, "interval": 1}));
        let federation = Support::start(
            "federation_stub.py",
            |dir| vec![dir.join("federation.log").into()],
            "",
        );
        let sts = TlsFront::start(&moto());
        let sso = TlsFront::start(stub.url());
        let fed = TlsFront::start(&format!("127.0.0.1:{}", federation.port()));
        let bundle = env.root.join("fronts-ca.pem");
        let pem: String = [&sts, &sso, &fed]
            .iter()
            .map(|f| std::fs::read_to_string(f.ca_bundle()).unwrap())
            .collect();
        std::fs::write(&bundle, pem).unwrap();
        Self {
            sts,
            _stub: stub,
            sso,
            _federation: federation,
            federation: fed,
            bundle,
        }
    }

    /// The endpoint variables (the CA bundle is the caller's choice).
    fn point(&self, cmd: &mut Command) {
        no_network_env(cmd)
            .env("AWS_ENDPOINT_URL", self.sts.url())
            .env("AWS_ENDPOINT_URL_SSO_OIDC", self.sso.url())
            .env("AWS_ENDPOINT_URL_SSO", self.sso.url())
            .env(
                "CREDTRAY_FEDERATION_ENDPOINT",
                format!("{}/federation", self.federation.url()),
            );
    }
}

/// `credtray args` pointed at the fronts with `vars` on top, under `strace -f -e
/// trace=connect` when `trace` names a file in the environment's root: its run, and the trace.
fn run(
    env: &Env,
    ends: &Endpoints,
    args: &[&str],
    vars: &[(&str, &str)],
    stdin: &str,
    trace: Option<&str>,
) -> (Run, String) {
    let mut cmd = match trace {
        Some(name) => {
            let mut cmd = env.command_of("strace", &["-f", "-qq", "-e", "trace=connect", "-o"]);
            cmd.arg(env.root.join(name))
                .arg(env!("CARGO_BIN_EXE_credtray"))
                .args(args);
            cmd
        }
        None => env.command(args),
    };
    ends.point(&mut cmd);
    cmd.envs(vars.iter().copied());
    let run = finish(cmd, stdin);
    let traced = trace
        .map(|name| std::fs::read_to_string(env.root.join(name)).unwrap())
        .unwrap_or_default();
    (run, traced)
}

/// Adds integration "corp" at the stub (no call is made).
fn add_corp(env: &Env, ends: &Endpoints) {
    let start_url = format!("{}/start", ends._stub.url());
    run(
        env,
        ends,
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
        &[],
        "",
        None,
    )
    .0
    .ok();
}

/// Asserts the run succeeded, every inet connect it made went to `allowed` ports, and the
/// proxy opened a tunnel to `target`.
fn through(what: &str, (run, trace): &(Run, String), proxy: &NetProxy, target: &str) {
    assert_eq!(run.code, 0, "{what}: {run:?}");
    assert!(trace.contains("connect("), "{what}: strace saw nothing");
    let around = connects_not_to(trace, &[proxy.port()]);
    assert!(
        around.is_empty(),
        "{what} went around the proxy: {around:#?}"
    );
    assert!(
        proxy.connects().iter().any(|t| t == target),
        "{what}: the proxy never opened {target}: {:?}",
        proxy.log()
    );
}

/// A session start, the console's sign-in and an SSO login + sync with `vars`, each of which
/// must go [`through`] the proxy to its endpoint: their runs and traces.
fn start_console_and_login(
    env: &Env,
    ends: &Endpoints,
    vars: &[(&str, &str)],
    proxy: &NetProxy,
) -> [(Run, String); 3] {
    let calls: [(&str, &[&str], String); 3] = [
        ("start", &["session", "start", "dev"], ends.sts.authority()),
        (
            "console",
            &["console", "dev", "--print"],
            ends.federation.authority(),
        ),
        (
            "login",
            &["integration", "login", "corp", "--no-browser"],
            ends.sso.authority(),
        ),
    ];
    calls.map(|(name, args, target)| {
        let traced = run(env, ends, args, vars, "", Some(name));
        through(name, &traced, proxy, &target);
        traced
    })
}

#[test]
fn with_the_proxy_variables_every_call_goes_through_the_proxy_and_nothing_else() {
    let env = Env::new();
    add_moto_user(&env, &fixtures(), "dev", "dev", &[]);
    let ends = Endpoints::start(&env);
    add_corp(&env, &ends);
    let proxy = NetProxy::start(None);
    let url = proxy.url();
    let bundle = ends.bundle.display().to_string();
    // Both, as a company sets them: curl reads http_proxy for the credentials endpoint's
    // http:// URL (botocore never proxies it, curl would).
    let vars = [
        ("HTTPS_PROXY", url.as_str()),
        ("http_proxy", url.as_str()),
        ("AWS_CA_BUNDLE", &bundle),
    ];

    let [_, console, login] = start_console_and_login(&env, &ends, &vars, &proxy);
    assert!(env.aws_files().0.contains("aws_session_token"));
    assert!(
        console.0.stdout.starts_with(&ends.federation.url()),
        "{:?}",
        console.0
    );
    assert!(
        login.0.stdout.contains("6 sessions (6 added"),
        "{:?}",
        login.0
    );

    // `exec`'s child (the AWS CLI) reaches STS through the proxy, and its credentials endpoint
    // directly: the proxy sees STS only.
    // STS by name (the front's certificate names localhost too): the endpoint's 127.0.0.1,
    // which exec adds to NO_PROXY, must not make the child's STS calls go direct.
    proxy.clear_log();
    let sts_by_name = format!("https://localhost:{}", ends.sts.port());
    let mut exec_vars = vars.to_vec();
    exec_vars.push(("AWS_ENDPOINT_URL", &sts_by_name));
    let (exec, trace) = run(
        &env,
        &ends,
        &["exec", "dev", "--", "aws", "sts", "get-caller-identity"],
        &exec_vars,
        "",
        Some("exec"),
    );
    assert_eq!(exec.code, 0, "{exec:?}");
    assert!(exec.stdout.contains("\"Arn\""), "{exec:?}");
    let log = proxy.log();
    assert!(!log.is_empty(), "the child's call went around the proxy");
    assert!(
        log.iter()
            .all(|e| e["target"] == format!("localhost:{}", ends.sts.port()).as_str()),
        "only STS goes through the proxy, never the credentials endpoint: {log:?}"
    );
    let direct_to_sts = format!("_port=htons({})", ends.sts.port());
    assert!(
        !trace.lines().any(|l| l.contains(&direct_to_sts)),
        "a direct connect to STS: {trace}"
    );
    // A child that would proxy http:// (curl) reaches the endpoint directly all the same.
    proxy.clear_log();
    let (fetched, _) = run(
        &env,
        &ends,
        &[
            "exec",
            "dev",
            "--",
            "sh",
            "-c",
            "curl -sf -H \"Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN\" \"$AWS_CONTAINER_CREDENTIALS_FULL_URI\" | grep -c AccessKeyId",
        ],
        &vars,
        "",
        None,
    );
    assert_eq!(fetched.code, 0, "{fetched:?}");
    assert_eq!(fetched.stdout.trim(), "1", "{fetched:?}");
    assert!(
        proxy.log().is_empty(),
        "through the proxy: {:?}",
        proxy.log()
    );

    // The same proxy as `[settings] proxy`, no variables: the child's AWS CLI gets it and goes
    // through it.
    let set = run(&env, &ends, &["settings", "proxy", &url], &[], "", None).0;
    assert_eq!(set.code, 0, "{set:?}");
    proxy.clear_log();
    let no_vars = [
        ("AWS_CA_BUNDLE", bundle.as_str()),
        ("AWS_ENDPOINT_URL", &sts_by_name),
    ];
    let (exec, trace) = run(
        &env,
        &ends,
        &["exec", "dev", "--", "aws", "sts", "get-caller-identity"],
        &no_vars,
        "",
        Some("exec-settings"),
    );
    assert_eq!(exec.code, 0, "{exec:?}");
    assert!(
        proxy.connects() == [format!("localhost:{}", ends.sts.port())],
        "{:?}",
        proxy.log()
    );
    assert!(
        !trace.lines().any(|l| l.contains(&direct_to_sts)),
        "a direct connect to STS: {trace}"
    );
}

#[test]
fn a_settings_proxy_with_its_password_in_the_keychain_serves_every_call_without_variables() {
    require_secret_service();
    const PASSWORD: &str = "pr0xy-Pa55word-7391";
    let env = Env::new();
    add_moto_user(&env, &fixtures(), "dev", "dev", &[]);
    let ends = Endpoints::start(&env);
    add_corp(&env, &ends);
    let proxy = NetProxy::start(Some(("alice", PASSWORD)));
    let bundle = ends.bundle.display().to_string();
    let vars = [("AWS_CA_BUNDLE", bundle.as_str())];
    let mut runs = Vec::new();
    let set = |password: &str| set_settings_proxy(&env, &proxy, "alice", password);
    runs.push(set(PASSWORD));
    let shown = run(&env, &ends, &["settings", "show", "--json"], &[], "", None).0;
    assert_eq!(shown.json()["proxy"], proxy.url().as_str(), "{shown:?}");
    assert_eq!(shown.json()["proxy_password"], true, "{shown:?}");

    let [started, console, login] = start_console_and_login(&env, &ends, &vars, &proxy);
    assert!(
        proxy.log().iter().all(|e| e["authorized"] == true),
        "{:?}",
        proxy.log()
    );
    let doctor = run(&env, &ends, &["doctor", "--json"], &vars, "", None).0;
    let checks = doctor.json();
    let check = |name: &str| {
        checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .unwrap_or_else(|| panic!("no {name} check: {checks}"))
            .clone()
    };
    let proxy_check = check("proxy");
    assert_eq!(proxy_check["status"], "ok", "{proxy_check}");
    let detail = proxy_check["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!(
            "STS through http://alice:***@127.0.0.1:{} (from [settings] proxy)",
            proxy.port()
        )) && detail.contains("a tunnel to"),
        "{detail}"
    );
    let bundle_check = check("ca bundle");
    assert!(
        bundle_check["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("{bundle} (3 certificates, from AWS_CA_BUNDLE)")),
        "{bundle_check}"
    );

    // `exec`'s child gets the proxy, never its password, and a warning saying so.
    let (child, _) = run(&env, &ends, &["exec", "dev", "--", "env"], &vars, "", None);
    assert_eq!(child.code, 0, "{child:?}");
    assert!(
        child
            .stdout
            .lines()
            .any(|l| l == format!("HTTPS_PROXY={}", proxy.url())),
        "{child:?}"
    );
    assert!(
        child
            .stdout
            .lines()
            .any(|l| l.starts_with("no_proxy=") && l.ends_with("127.0.0.1")),
        "{child:?}"
    );
    assert!(
        child
            .stderr
            .contains("must authenticate to the proxy itself"),
        "{child:?}"
    );

    // A wrong password: a sentence about the proxy, and nothing else happens.
    proxy.clear_log();
    runs.push(set("not-the-password"));
    // (The session's token is cached: the console's sign-in calls STS and the federation
    // endpoint afresh.)
    let refused = run(&env, &ends, &["console", "dev", "--print"], &vars, "", None).0;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains(&format!(
            "the proxy http://alice:***@127.0.0.1:{} (from [settings] proxy) refused credtray's credentials (407",
            proxy.port()
        )),
        "{refused:?}"
    );
    let doctor = run(&env, &ends, &["doctor", "--json"], &vars, "", None).0;
    assert_eq!(doctor.code, 1, "{doctor:?}");
    assert!(
        doctor.stdout.contains("refused credtray's credentials"),
        "{doctor:?}"
    );
    runs.extend([started.0, console.0, login.0, child, refused, doctor]);
    for r in &runs {
        assert!(
            !r.stdout.contains(PASSWORD) && !r.stderr.contains(PASSWORD),
            "the proxy password in a run's output: {r:?}"
        );
    }
    for (path, bytes) in env.files() {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(PASSWORD),
            "the proxy password in {}",
            path.display()
        );
    }
}

#[test]
fn a_ca_bundle_from_the_profile_or_the_settings_is_trusted_as_aws_ca_bundle_is() {
    let env = Env::new();
    add_moto_user(&env, &fixtures(), "dev", "dev", &[]);
    let ends = Endpoints::start(&env);
    let bundle = ends.bundle.display().to_string();
    // The console's sign-in: STS and the federation endpoint are called every time (a
    // session's start would use its cached token).
    let start = |what: &str, vars: &[(&str, &str)]| {
        let (signed_in, _) = run(&env, &ends, &["console", "dev", "--print"], vars, "", None);
        eprintln!("{what}: {signed_in:?}");
        signed_in
    };
    let refused = start("no bundle", &[]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("is not trusted"), "{refused:?}");

    // [default]'s ca_bundle in ~/.aws/config, as the AWS CLI reads it.
    let config = env.aws_dir().join("config");
    std::fs::create_dir_all(env.aws_dir()).unwrap();
    let before = std::fs::read_to_string(&config).unwrap_or_default();
    std::fs::write(
        &config,
        format!("[default]\nca_bundle = {bundle}\n{before}"),
    )
    .unwrap();
    assert_eq!(start("profile ca_bundle", &[]).code, 0);
    std::fs::write(&config, &before).unwrap();

    // [settings] ca_bundle.
    let set = run(
        &env,
        &ends,
        &["settings", "ca-bundle", &bundle],
        &[],
        "",
        None,
    )
    .0;
    assert_eq!(set.code, 0, "{set:?}");
    assert_eq!(start("settings ca_bundle", &[]).code, 0);
    // doctor names it; with a federated session, it warns that the login window can't use it.
    let bundle_check = || {
        let doctor = run(&env, &ends, &["doctor", "--json"], &[], "", None).0;
        doctor
            .json()
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "ca bundle")
            .cloned()
            .unwrap()
    };
    let check = bundle_check();
    assert_eq!(check["status"], "ok", "{check}");
    assert!(
        check["detail"].as_str().unwrap().contains(&format!(
            "{bundle} (3 certificates, from [settings] ca_bundle)"
        )),
        "{check}"
    );
    env.add_federated("fed");
    let check = bundle_check();
    assert_eq!(check["status"], "warning", "{check}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .contains("the SAML login window can't use it"),
        "{check}"
    );
    // exec's child gets it as AWS_CA_BUNDLE (its AWS CLI could not read the setting).
    let (child, _) = run(&env, &ends, &["exec", "dev", "--", "env"], &[], "", None);
    assert!(
        child
            .stdout
            .lines()
            .any(|l| l == format!("AWS_CA_BUNDLE={bundle}")),
        "{child:?}"
    );
    // AWS_CA_BUNDLE comes first: a bad one is the error, naming it.
    let bad = env.root.join("bad.pem");
    std::fs::write(&bad, "not a certificate\n").unwrap();
    let bad = bad.display().to_string();
    let refused = start("AWS_CA_BUNDLE first", &[("AWS_CA_BUNDLE", &bad)]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains(&format!("the CA bundle {bad} (from AWS_CA_BUNDLE)")),
        "{refused:?}"
    );
    // A bundle that isn't one is refused when set, and the setting stays as it was.
    let refused = run(&env, &ends, &["settings", "ca-bundle", &bad], &[], "", None).0;
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains(&bad), "{refused:?}");
    let shown = run(&env, &ends, &["settings", "show", "--json"], &[], "", None).0;
    assert_eq!(shown.json()["ca_bundle"], bundle.as_str());
    run(
        &env,
        &ends,
        &["settings", "ca-bundle", "--none"],
        &[],
        "",
        None,
    )
    .0
    .ok();
    assert_eq!(start("none again", &[]).code, 1);
}

#[test]
fn bad_proxy_input_is_a_clear_error_and_never_a_direct_connection() {
    let env = Env::new();
    add_moto_user(&env, &fixtures(), "dev", "dev", &[]);
    let ends = Endpoints::start(&env);
    let bundle = ends.bundle.display().to_string();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let unreachable = format!("http://127.0.0.1:{closed}");
    for (proxy, says) in [
        (
            "socks5://127.0.0.1:1080",
            "HTTPS_PROXY is not a usable proxy (SOCKS",
        ),
        (
            "http://127.0.0.1:notaport",
            "HTTPS_PROXY is not a usable proxy",
        ),
        ("http://127.0.0.1:3128/some/path", "no path"),
        (
            unreachable.as_str(),
            "(from HTTPS_PROXY) could not be reached",
        ),
    ] {
        let (refused, trace) = run(
            &env,
            &ends,
            &["session", "start", "dev"],
            &[("HTTPS_PROXY", proxy), ("AWS_CA_BUNDLE", &bundle)],
            "",
            Some("bad"),
        );
        assert_eq!(refused.code, 1, "{proxy}: {refused:?}");
        assert!(refused.stderr.contains(says), "{proxy}: {refused:?}");
        let direct = format!("_port=htons({})", ends.sts.port());
        assert!(
            !trace.lines().any(|l| l.contains(&direct)),
            "{proxy}: a direct connection: {trace}"
        );
    }
    assert!(!env.aws_files().0.contains("aws_session_token"));
    // NO_PROXY with curl's odd spacing: the front goes direct, the proxy sees nothing.
    let proxy = NetProxy::start(None);
    let (direct, _) = run(
        &env,
        &ends,
        &["session", "start", "dev"],
        &[
            ("HTTPS_PROXY", &proxy.url()),
            ("NO_PROXY", " example.com ,  127.0.0.1 ,"),
            ("AWS_CA_BUNDLE", &bundle),
        ],
        "",
        None,
    );
    assert_eq!(direct.code, 0, "{direct:?}");
    assert!(proxy.log().is_empty(), "{:?}", proxy.log());
    // The settings refuse what they can't use, with exit 2, and keep what they had.
    for bad in [
        vec!["settings", "proxy", "http://pro xy:3128"],
        vec!["settings", "proxy", "socks5://127.0.0.1:1080"],
        vec!["settings", "proxy", "http://alice:pw@127.0.0.1:3128"],
        vec!["settings", "proxy", "none"],
        vec![
            "settings",
            "proxy",
            "http://127.0.0.1:3128",
            "--no-proxy",
            "a b",
        ],
        vec![
            "settings",
            "proxy",
            "http://127.0.0.1:3128",
            "--user",
            "a:b",
        ],
    ] {
        let refused = run(&env, &ends, &bad, &[], "", None).0;
        assert_eq!(refused.code, 2, "{bad:?}: {refused:?}");
        assert!(!refused.stderr.contains("panicked"), "{refused:?}");
        assert!(
            !refused.stderr.contains(":pw@"),
            "the password echoed: {refused:?}"
        );
    }
    let shown = run(&env, &ends, &["settings", "show", "--json"], &[], "", None).0;
    assert_eq!(shown.json()["proxy"], serde_json::Value::Null, "{shown:?}");
}
