//! `credtray console` against moto (GetFederationToken, AssumeRole) and a stub of the AWS
//! federation endpoint (tests/support/federation_stub.py): the sign-in URL printed or opened
//! through a one-time loopback link, the token never in a log line or on a command line, the
//! link served to no other user and held by no slow client, and ended at once, saying why, where
//! users can't be told apart.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// An environment with IAM-user session `dev` (moto's keys) and a federation endpoint.
fn dev_with_federation() -> (Env, Federation) {
    let env = Env::new();
    let federation = Federation::start(&env);
    add_moto_user(&env, &fixtures(), "dev", "dev", &[]);
    (env, federation)
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

/// A "browser" for `xdg-open` (through `BROWSER`): a Python script whose `link` is the URL it
/// was given, `fetch()` requests it without following (its status and `Location`, or `error
/// …` and nothing), and `report(path, lines)` writes lines whole; `body` does the rest.
fn fake_browser(env: &Env, body: &str) -> std::path::PathBuf {
    let script = env.root.join("browser.py");
    std::fs::write(
        &script,
        format!(
            r#"#!/usr/bin/env python3
import os, socket, sys, threading, time, http.client, urllib.parse
link = sys.argv[1]
u = urllib.parse.urlsplit(link)
def fetch(timeout=60):
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        c.request('GET', u.path)
        r = c.getresponse()
        return str(r.status), r.getheader('Location') or ''
    except OSError as e:
        return 'error ' + repr(e), ''
def report(path, lines):
    open(path + '.tmp', 'w').write(''.join(str(l) + '\n' for l in lines))
    os.rename(path + '.tmp', path)
{body}"#
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    script
}

/// `credtray console args…` opening its link with `browser` (xdg-open's generic mode).
fn console_in(env: &Env, federation: &Federation, browser: &Path, args: &[&str]) -> Run {
    let mut cmd = env.command(&[&["console"], args].concat());
    cmd.env("AWS_ENDPOINT_URL", moto())
        .env("CREDTRAY_FEDERATION_ENDPOINT", &federation.endpoint)
        .env("BROWSER", browser)
        .env_remove("XDG_CURRENT_DESKTOP")
        .env_remove("DESKTOP_SESSION");
    finish(cmd, "")
}

/// The text of `path` once it has `lines` lines (a browser writes after credtray is done).
fn wait_for(path: &Path, lines: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match std::fs::read_to_string(path) {
            Ok(text) if text.lines().count() == lines => return text,
            _ if Instant::now() > deadline => panic!("{} was never written", path.display()),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
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
    let browser = fake_browser(
        &env,
        &format!("status, location = fetch()\nreport({seen:?}, [link, status, location])\n"),
    );
    let run = console_in(
        &env,
        &federation,
        &browser,
        &["ops", "--region", "us-west-2"],
    )
    .ok();
    assert!(run.stderr.contains("opening the AWS console"), "{run:?}");
    let seen = wait_for(&seen, 3);
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

/// A throw-away system user for the racer (created once; tests run as root).
pub(crate) const RACER: &str = "credtray-racer";

/// Makes [`RACER`] unless it is there (exec's tests run it too).
pub(crate) fn ensure_racer() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test runs a racer as another user, which takes root (as scripts/test runs)"
    );
    let exists = || {
        Command::new("id")
            .args(["-u", RACER])
            .output()
            .unwrap()
            .status
            .success()
    };
    // One test at a time (they run in parallel threads of this binary): a second useradd
    // while the first holds /etc/passwd's lock would fail before the user exists.
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _making = MAKING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !exists() {
        let _ = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                RACER,
            ])
            .status();
    }
    assert!(exists(), "useradd could not create {RACER}");
}

/// A directory both users can write (0777), for what the racer reports.
pub(crate) fn racer_dir() -> tempfile::TempDir {
    let shared = tempfile::Builder::new()
        .prefix("credtray-race-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(
        shared.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    shared
}

/// What the racer does, as another user: it finds the browser's process, reads the link from
/// its command line as anyone may (`/proc/<pid>/cmdline`), asks for it [`RACER_ASKS`] times,
/// and records every byte it got back.
const RACER_SCRIPT: &str = r#"
import json, os, socket, sys, time
shared = sys.argv[1]
out = {'uid': os.getuid(), 'got': []}
try:
    end = time.time() + 60
    while not os.path.exists(shared + '/browser.pid') and time.time() < end:
        time.sleep(0.02)
    pid = open(shared + '/browser.pid').read().strip()
    argv = open('/proc/%s/cmdline' % pid, 'rb').read().split(b'\0')
    link = next(a.decode() for a in argv if a.startswith(b'http://127.0.0.1:'))
    out['link'] = link
    host, rest = link[len('http://'):].split('/', 1)
    for _ in range(int(sys.argv[2])):
        data = b''
        try:
            s = socket.create_connection((host.split(':')[0], int(host.split(':')[1])), timeout=10)
            s.sendall(('GET /%s HTTP/1.1\r\nHost: %s\r\n\r\n' % (rest, host)).encode())
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError as e:
            out.setdefault('errors', []).append(repr(e))
        out['got'].append(data.decode('latin-1'))
        time.sleep(0.05)
except Exception as e:
    out['failed'] = repr(e)
json.dump(out, open(shared + '/racer.json', 'w'))
open(shared + '/racer.done', 'w').close()
"#;

/// How often the racer asks: more than credtray logs one by one.
const RACER_ASKS: usize = 12;

#[test]
fn another_user_reading_the_link_off_the_browsers_command_line_gets_nothing_and_we_still_sign_in() {
    ensure_racer();
    let (env, federation) = dev_with_federation();
    // A directory both users can write: the browser's pid, the racer's findings.
    let shared = racer_dir();
    let mut racer = Command::new("runuser")
        .args(["-u", RACER, "--", "/usr/bin/python3", "-c", RACER_SCRIPT])
        .arg(shared.path())
        .arg(RACER_ASKS.to_string())
        .stdin(Stdio::null())
        .spawn()
        .expect("runuser (util-linux) runs the racer");
    // Our browser shows itself, lets the racer go first, then follows the link.
    let seen = env.root.join("browser.txt");
    let browser = fake_browser(
        &env,
        &format!(
            "shared = {:?}\nreport(shared + '/browser.pid', [os.getpid()])\nend = time.time() + 60\nwhile not os.path.exists(shared + '/racer.done') and time.time() < end:\n    time.sleep(0.05)\nstatus, location = fetch()\nreport({seen:?}, [status, location])\n",
            shared.path()
        ),
    );
    let run = console_in(&env, &federation, &browser, &["dev"]);
    let raced = racer.wait().unwrap();
    assert!(raced.success(), "{raced:?}");
    let racer: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shared.path().join("racer.json")).unwrap())
            .unwrap();
    let token = federation
        .logged("TOKEN")
        .pop()
        .expect("a sign-in token was made");
    // The racer really was another user and really had the link.
    assert_ne!(racer["uid"], 0, "{racer}");
    assert!(racer.get("failed").is_none(), "{racer}");
    assert!(
        racer["link"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"),
        "{racer}"
    );
    let got = racer["got"].as_array().unwrap();
    assert_eq!(got.len(), RACER_ASKS, "{racer}");
    for answer in got {
        assert_eq!(answer, "", "another user got an answer: {racer}");
    }
    assert!(!racer.to_string().contains(&token));
    // And the person's own browser was still signed in.
    let run = run.ok();
    let seen = wait_for(&seen, 2);
    let mut lines = seen.lines();
    assert_eq!(lines.next(), Some("302"), "{seen}");
    assert!(query(lines.next().unwrap()).contains(&("SigninToken".into(), token.clone())));
    // The refusals are logged, the first few one by one and then their number, not a line for
    // each (another user can connect as often as they like; stderr is the person's terminal).
    let one_by_one = run
        .stderr
        .matches("refused a connection to the sign-in link from another user")
        .count();
    assert!((1..=3).contains(&one_by_one), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "refused {RACER_ASKS} connections to the sign-in link from other users in all"
        )),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(&token));
}

#[test]
fn a_client_sending_its_request_a_byte_at_a_time_does_not_keep_the_browser_from_the_link() {
    let (env, federation) = dev_with_federation();
    // Before following the link, the browser opens a connection of its own (same user) that
    // sends a byte a second, never finishing its request: the listener takes it first.
    let seen = env.root.join("browser.txt");
    let browser = fake_browser(
        &env,
        &format!(
            r"slow = socket.create_connection((u.hostname, u.port))
slow.sendall(b'G')
def drip():
    for byte in b'ET / HTTP/1.1\r\nX-Slow: ' + b'a' * 200:
        time.sleep(1)
        try:
            slow.sendall(bytes([byte]))
        except OSError:
            return
threading.Thread(target=drip, daemon=True).start()
time.sleep(0.5)
started = time.time()
status, location = fetch(timeout=40)
report({seen:?}, [status, location, time.time() - started])
"
        ),
    );
    let run = console_in(&env, &federation, &browser, &["dev"]).ok();
    let seen = wait_for(&seen, 3);
    let mut lines = seen.lines();
    let token = federation.logged("TOKEN").pop().unwrap();
    assert_eq!(lines.next(), Some("302"), "{seen} {run:?}");
    assert!(query(lines.next().unwrap()).contains(&("SigninToken".into(), token)));
    // The slow one had five seconds for its whole request; generous bound for a loaded machine.
    let waited: f64 = lines.next().unwrap().parse().unwrap();
    assert!(waited < 20.0, "the browser waited {waited} s");
}

#[test]
fn a_proc_without_the_socket_tables_ends_the_sign_in_at_once_with_that_cause() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test mounts a /proc of its own, which takes root (as scripts/test runs)"
    );
    let (env, federation) = dev_with_federation();
    let seen = env.root.join("browser.txt");
    let browser = fake_browser(
        &env,
        &format!("status, location = fetch()\nreport({seen:?}, [status, location])\n"),
    );
    // credtray in a mount namespace of its own whose /proc shows only processes, as systemd's
    // ProcSubset=pid gives a service: /proc/net/tcp is not there, so no one can be told apart.
    let mut cmd = env.command_of(
        "unshare",
        &[
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount -t proc -o subset=pid proc /proc && exec \"$@\"",
            "sh",
            env!("CARGO_BIN_EXE_credtray"),
            "console",
            "dev",
        ],
    );
    cmd.env("AWS_ENDPOINT_URL", moto())
        .env("CREDTRAY_FEDERATION_ENDPOINT", &federation.endpoint)
        .env("BROWSER", &browser)
        .env_remove("XDG_CURRENT_DESKTOP")
        .env_remove("DESKTOP_SESSION");
    let started = Instant::now();
    let run = finish(cmd, "");
    let took = started.elapsed();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("cannot tell which user a connection to the sign-in link comes from")
            && run.stderr.contains("/proc/net/tcp"),
        "{}",
        run.stderr
    );
    // Not after the link's two minutes (a generous bound for a loaded machine).
    assert!(took < Duration::from_secs(60), "ended after {took:?}");
    // The browser was answered nothing.
    let seen = wait_for(&seen, 2);
    assert!(seen.starts_with("error "), "{seen}");
    let token = federation.logged("TOKEN").pop().unwrap();
    assert!(!run.stderr.contains(&token));
}
