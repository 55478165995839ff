//! `credtray console` against moto (GetFederationToken, AssumeRole) and a stub of the AWS
//! federation endpoint (tests/support/federation_stub.py): the sign-in URL printed or opened
//! through a one-time loopback link, the token never in a log line or on a command line.

use std::process::Child;

use crate::engine::{add_moto_chain, add_moto_user, moto_requests};
use crate::harness::{Env, Run, finish, fixtures, moto, support_server};

/// The federation stub, killed on drop.
struct Federation {
    child: Child,
    endpoint: String,
    log: std::path::PathBuf,
}

impl Federation {
    fn start(env: &Env) -> Self {
        let log = env.root.join("federation.log");
        let (child, port) = support_server("federation_stub.py", &[log.as_os_str()]);
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}/federation"),
            log,
        }
    }

    /// The values logged under `tag` (SESSION, TOKEN, BAD), in order.
    fn logged(&self, tag: &str) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{tag} ")).map(str::to_owned))
            .collect()
    }
}

impl Drop for Federation {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn console(env: &Env, federation: &Federation, args: &[&str]) -> Run {
    let mut cmd = env.command(&[&["console"], args].concat());
    cmd.env("AWS_ENDPOINT_URL", moto())
        .env("CREDTRAY_FEDERATION_ENDPOINT", &federation.endpoint);
    finish(cmd, "")
}

fn query(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[test]
fn an_iam_user_signs_in_through_a_federation_token_with_the_allow_all_policy() {
    let env = Env::new();
    let f = fixtures();
    let federation = Federation::start(&env);
    add_moto_user(&env, &f, "console-user", "console-user", &[]);
    moto_requests("start");
    let run = console(
        &env,
        &federation,
        &["console-user", "--service", "s3", "--print"],
    )
    .ok();
    let url = run.stdout.trim();
    assert!(
        url.starts_with(&format!("{}?", federation.endpoint)),
        "{url}"
    );
    let pairs = query(url);
    let token = federation
        .logged("TOKEN")
        .pop()
        .expect("the stub handed out a token");
    assert!(
        pairs.contains(&("Action".into(), "login".into())),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&("SigninToken".into(), token.clone())),
        "{pairs:?}"
    );
    assert!(pairs.contains(&(
        "Destination".into(),
        "https://console.aws.amazon.com/s3/home?region=eu-west-1".into()
    )));
    // The federation token's credentials were exchanged, not the user's long-term keys.
    let session_id = federation.logged("SESSION").pop().unwrap();
    assert_ne!(session_id, f.access_key_id);
    let calls: Vec<String> = moto_requests("show")
        .into_iter()
        .filter(|b| b.contains("Action=GetFederationToken") && b.contains("credtray-console-user"))
        .collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let body: Vec<(String, String)> = url::form_urlencoded::parse(calls[0].as_bytes())
        .into_owned()
        .collect();
    let policy = &body
        .iter()
        .find(|(k, _)| k == "Policy")
        .expect("the policy is sent")
        .1;
    let policy: serde_json::Value = serde_json::from_str(policy).unwrap();
    assert_eq!(policy["Statement"][0]["Effect"], "Allow");
    assert_eq!(policy["Statement"][0]["Action"], "*");
    assert_eq!(policy["Statement"][0]["Resource"], "*");
    // The URL is a bearer credential: no log line carries the token (trace logging is on).
    assert!(!run.stderr.contains(&token), "{}", run.stderr);
    assert!(federation.logged("BAD").is_empty());
}

#[test]
fn a_chained_session_signs_in_with_its_role_and_the_browser_gets_a_one_time_link() {
    let env = Env::new();
    let f = fixtures();
    let federation = Federation::start(&env);
    add_moto_user(&env, &f, "dev", "dev", &[]);
    add_moto_chain(&env, &f);
    // A "browser" that records the link it was given and where it redirects (not following).
    let seen = env.root.join("browser.txt");
    let browser = env.root.join("browser.py");
    std::fs::write(
        &browser,
        format!(
            "#!/usr/bin/env python3\nimport sys, http.client, urllib.parse\nu = urllib.parse.urlsplit(sys.argv[1])\nc = http.client.HTTPConnection(u.hostname, u.port)\nc.request('GET', u.path)\nr = c.getresponse()\nopen({seen:?}, 'w').write(sys.argv[1] + '\\n' + str(r.status) + '\\n' + (r.getheader('Location') or '') + '\\n')\n",
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut cmd = env.command(&["console", "ops", "--region", "us-west-2"]);
    cmd.env("AWS_ENDPOINT_URL", moto())
        .env("CREDTRAY_FEDERATION_ENDPOINT", &federation.endpoint)
        .env("BROWSER", &browser)
        .env_remove("XDG_CURRENT_DESKTOP")
        .env_remove("DESKTOP_SESSION");
    let run = finish(cmd, "").ok();
    assert!(run.stderr.contains("opening the AWS console"), "{run:?}");
    // The browser writes what it saw once it has the redirect, after credtray is done.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let seen = loop {
        match std::fs::read_to_string(&seen) {
            Ok(text) if text.lines().count() == 3 => break text,
            _ if std::time::Instant::now() > deadline => panic!("the browser never reported"),
            _ => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    };
    let mut lines = seen.lines();
    let (link, status, location) = (
        lines.next().unwrap(),
        lines.next().unwrap(),
        lines.next().unwrap(),
    );
    let token = federation.logged("TOKEN").pop().unwrap();
    assert!(
        link.starts_with("http://127.0.0.1:") && !link.contains(&token),
        "{link}"
    );
    assert_eq!(status, "302");
    assert!(query(location).contains(&("SigninToken".into(), token.clone())));
    assert!(query(location).contains(&(
        "Destination".into(),
        "https://console.aws.amazon.com/console/home?region=us-west-2".into()
    )));
    // The role's temporary credentials went to the federation endpoint: no federation token.
    assert_eq!(federation.logged("SESSION").len(), 1);
    assert!(!run.stderr.contains(&token));
    assert!(
        !run.stdout.contains(&token),
        "nothing printed without --print"
    );
}

#[test]
fn a_service_that_is_not_a_path_segment_is_refused() {
    let env = Env::new();
    let run = env.run(&["console", "x", "--service", "s3/../iam"], "");
    assert_eq!(run.code, 2, "{run:?}");
}
