//! The network test infrastructure for the proxy and company-CA tests: a forward proxy that
//! tunnels, forwards, can ask for Basic authentication and logs every target
//! (`tests/support/net_proxy.py`), a TLS front with a private test CA before moto or the SSO
//! stub (`tests/support/tls_front.py`), each killed on drop, and a reading of
//! `strace -f -e trace=connect` logs that names every connect not made to the proxy. The tests
//! here prove them with real clients (the AWS CLI, curl), so the product's tests can rely on them:
//! ```ignore
//! let front = TlsFront::start(&moto());
//! let proxy = NetProxy::start(None);
//! let mut cmd = env.command(&["session", "start", "dev"]);
//! no_network_env(&mut cmd)
//!     .env("HTTPS_PROXY", proxy.url())
//!     .env("AWS_ENDPOINT_URL", front.url())
//!     .env("AWS_CA_BUNDLE", front.ca_bundle());
//! assert!(proxy.connects().contains(&front.authority()));
//! ```
//! botocore proxies loopback targets like any other (urllib's `proxy_bypass_environment` has
//! no localhost exception, only `NO_PROXY`), so a test removes `NO_PROXY`/`no_proxy` with
//! [`no_network_env`] and then sees every call in the proxy's log.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Env, Run, finish, fresh_keys, moto};

/// Every variable that moves a client's traffic or trust (curl's, botocore's and the AWS
/// SDKs' readings; rustls-native-certs reads `SSL_CERT_FILE`/`SSL_CERT_DIR` too), so a test
/// starts from a direct connection and the platform's roots.
const NETWORK_VARIABLES: [&str; 12] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "AWS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CURL_CA_BUNDLE",
];

/// Removes every proxy and CA variable from `cmd`'s environment.
pub fn no_network_env(cmd: &mut Command) -> &mut Command {
    for name in NETWORK_VARIABLES {
        cmd.env_remove(name);
    }
    cmd
}

fn python() -> String {
    std::env::var("CREDTRAY_TEST_PYTHON")
        .expect("CREDTRAY_TEST_PYTHON (the venv's python) is set by scripts/test")
}

/// Starts `script` from tests/support with the venv's python (it has `cryptography`, which
/// moto requires), its stderr in `stderr`, `input` written to its stdin (held open: the
/// servers exit when it closes, so they die with this process even if Drop never runs), and
/// waits for its `PORT <n>` line.
fn start_support(
    script: &str,
    args: &[&std::ffi::OsStr],
    input: &str,
    stderr: &Path,
) -> (Child, ChildStdin, u16) {
    let mut child = Command::new(python())
        .arg(format!(
            "{}/tests/support/{script}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{script} starts: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let Some(port) = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
    else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "{script} did not start: it said {line:?}; stderr: {}",
            std::fs::read_to_string(stderr).unwrap_or_default()
        );
    };
    (child, stdin, port)
}

/// A support server from tests/support, running (see [`start_support`]), killed when dropped;
/// its stderr and any file it writes are in its own temporary directory.
pub struct Support {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
    dir: tempfile::TempDir,
}

impl Support {
    /// Starts `script` with the arguments `args` makes of its directory, `input` on its stdin.
    pub fn start(
        script: &str,
        args: impl FnOnce(&Path) -> Vec<std::ffi::OsString>,
        input: &str,
    ) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}-", script.trim_end_matches(".py")))
            .tempdir()
            .unwrap();
        let args = args(dir.path());
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let (child, stdin, port) = start_support(script, &args, input, &dir.path().join("stderr"));
        Self {
            child,
            _stdin: stdin,
            port,
            dir,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What it wrote on stderr.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Support {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running forward proxy on 127.0.0.1, killed when dropped.
pub struct NetProxy {
    server: Support,
    port: u16,
}

impl NetProxy {
    /// Starts a proxy that asks for Basic authentication with `(user, password)`, or for none.
    pub fn start(basic_auth: Option<(&str, &str)>) -> Self {
        let config = basic_auth.map_or_else(
            || json!({}),
            |(user, password)| json!({"user": user, "password": password}),
        );
        let server = Support::start("net_proxy.py", |_| Vec::new(), &format!("{config}\n"));
        Self {
            port: server.port(),
            server,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`, for `HTTPS_PROXY` or a `[settings] proxy`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The proxy URL with credentials in it, as curl and botocore read them from `HTTPS_PROXY`
    /// (`user` and `password` must need no percent-encoding).
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@127.0.0.1:{}", self.port)
    }

    /// Every proxied request so far: method, target (`host:port`), credentials (a
    /// Proxy-Authorization header came), authorized, status.
    pub fn log(&self) -> Vec<Value> {
        self.own("GET", "/_proxy/log")["requests"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// The targets of the tunnels it opened (CONNECTs answered 200).
    pub fn connects(&self) -> Vec<String> {
        self.log()
            .iter()
            .filter(|e| e["method"] == "CONNECT" && e["status"] == 200)
            .map(|e| e["target"].as_str().unwrap().to_owned())
            .collect()
    }

    pub fn clear_log(&self) {
        self.own("POST", "/_proxy/clear_log");
    }

    /// What the proxy wrote on stderr (nothing, unless it failed).
    pub fn stderr(&self) -> String {
        self.server.stderr()
    }

    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// A request to the proxy itself (not proxied); panics unless it answers 200 with JSON.
    fn own(&self, method: &str, path: &str) -> Value {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
        assert!(
            head.starts_with("HTTP/1.1 200 "),
            "the proxy's {path}: {raw}"
        );
        serde_json::from_str(body).unwrap_or_else(|e| panic!("JSON from the proxy ({e}): {raw}"))
    }
}

/// A running TLS front on 127.0.0.1 with its own test CA, killed when dropped.
pub struct TlsFront {
    server: Support,
    port: u16,
}

impl TlsFront {
    /// Starts a front that pipes to `upstream`, a plain-http URL (`moto()`, a stub's URL) or
    /// `host:port`.
    pub fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/');
        let server = Support::start(
            "tls_front.py",
            |dir| {
                vec![
                    "--ca-out".into(),
                    dir.join("ca.pem").into(),
                    "--upstream".into(),
                    upstream.into(),
                    "--watch-stdin".into(),
                ]
            },
            "",
        );
        Self {
            port: server.port(),
            server,
        }
    }

    /// `https://127.0.0.1:<port>`, the endpoint a client is pointed at.
    pub fn url(&self) -> String {
        format!("https://{}", self.authority())
    }

    /// `127.0.0.1:<port>`, as a proxy's CONNECT names it.
    pub fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The test CA's certificate (PEM), for `AWS_CA_BUNDLE`, `ca_bundle` or `curl --cacert`.
    pub fn ca_bundle(&self) -> PathBuf {
        self.server.dir().join("ca.pem")
    }

    /// What the front logged: one line per failed handshake or unreachable upstream.
    pub fn stderr(&self) -> String {
        self.server.stderr()
    }

    /// Waits (generously: a loaded machine) until the front's stderr holds `needle`.
    pub fn wait_for_stderr(&self, needle: &str) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if self.stderr().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

/// `credtray settings proxy <proxy> --user USER --password -`, the password on standard input;
/// it must succeed.
pub fn set_settings_proxy(env: &Env, proxy: &NetProxy, user: &str, password: &str) -> Run {
    env.run(
        &[
            "settings",
            "proxy",
            &proxy.url(),
            "--user",
            user,
            "--password",
            "-",
        ],
        &format!("{password}\n"),
    )
    .ok()
}

/// The TCP connects in an `strace -f -e trace=connect` log made to any port but `allowed`
/// (on any address): with a proxy in force, every one of them went around it.
pub fn connects_not_to(strace: &str, allowed: &[u16]) -> Vec<String> {
    strace
        .lines()
        .filter(|l| l.contains("connect(") && !l.contains("AF_UNIX"))
        .filter(|l| l.contains("AF_INET"))
        .filter(|l| {
            !allowed
                .iter()
                .any(|port| l.contains(&format!("_port=htons({port})")))
        })
        .map(str::to_owned)
        .collect()
}

/// `aws sts get-caller-identity` against `endpoint` with `vars` on top of an environment free
/// of any proxy or CA variable, with throw-away keys (moto takes any).
fn caller_identity(env: &Env, endpoint: &str, vars: &[(&str, &str)]) -> Run {
    finish(caller_identity_command(env, endpoint, vars, None), "")
}

/// The command [`caller_identity`] runs, under `strace -f -e trace=connect -o TRACE` when a
/// trace file is given.
fn caller_identity_command(
    env: &Env,
    endpoint: &str,
    vars: &[(&str, &str)],
    trace: Option<&Path>,
) -> Command {
    let aws = std::env::var("CREDTRAY_TEST_AWS")
        .expect("CREDTRAY_TEST_AWS (the AWS CLI) is set by scripts/test");
    let mut cmd = match trace {
        None => env.tool(aws),
        Some(trace) => {
            let mut cmd = env.tool("strace");
            cmd.args(["-f", "-qq", "-e", "trace=connect", "-o"])
                .arg(trace)
                .arg(aws);
            cmd
        }
    };
    let (access_key_id, secret_access_key) = fresh_keys();
    no_network_env(&mut cmd)
        .args([
            "sts",
            "get-caller-identity",
            "--endpoint-url",
            endpoint,
            "--output",
            "json",
        ])
        .env("AWS_ACCESS_KEY_ID", access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", secret_access_key)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        // botocore retries a refused call; one attempt keeps the failing runs short.
        .env("AWS_MAX_ATTEMPTS", "1")
        .envs(vars.iter().copied());
    cmd
}

#[track_caller]
fn assert_moto_answered(run: &Run) {
    assert_eq!(run.code, 0, "the AWS CLI failed: {run:#?}");
    assert_eq!(run.json()["Account"], "123456789012", "{run:#?}");
}

#[test]
fn the_aws_cli_trusts_the_tls_front_only_with_its_test_ca() {
    let env = Env::new();
    let front = TlsFront::start(&moto());
    let ca = front.ca_bundle();
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");

    let trusted = caller_identity(
        &env,
        &front.url(),
        &[("AWS_CA_BUNDLE", ca.to_str().unwrap())],
    );
    assert_moto_answered(&trusted);

    let untrusted = caller_identity(&env, &front.url(), &[]);
    assert_ne!(untrusted.code, 0, "{untrusted:#?}");
    assert!(
        untrusted.stderr.contains("CERTIFICATE_VERIFY_FAILED"),
        "not a certificate error: {untrusted:#?}"
    );
    assert!(
        front.wait_for_stderr("unknown ca"),
        "the front saw no refused handshake: {}",
        front.stderr()
    );

    // The certificate names localhost too, for clients that must proxy by name.
    let by_name = caller_identity(
        &env,
        &format!("https://localhost:{}", front.port()),
        &[("AWS_CA_BUNDLE", ca.to_str().unwrap())],
    );
    assert_moto_answered(&by_name);
}

#[test]
fn the_aws_cli_tunnels_through_the_proxy_to_the_tls_front() {
    let env = Env::new();
    let front = TlsFront::start(&moto());
    let proxy = NetProxy::start(None);
    let ca = front.ca_bundle();
    let ca = ca.to_str().unwrap();

    let run = caller_identity(
        &env,
        &front.url(),
        &[("HTTPS_PROXY", &proxy.url()), ("AWS_CA_BUNDLE", ca)],
    );
    assert_moto_answered(&run);
    assert_eq!(
        proxy.log(),
        vec![json!({"method": "CONNECT", "target": front.authority(),
            "credentials": false, "authorized": true, "status": 200})]
    );

    // NO_PROXY is what exempts loopback, not botocore itself: this is why tests remove it.
    proxy.clear_log();
    let bypassed = caller_identity(
        &env,
        &front.url(),
        &[
            ("HTTPS_PROXY", &proxy.url()),
            ("NO_PROXY", "127.0.0.1"),
            ("AWS_CA_BUNDLE", ca),
        ],
    );
    assert_moto_answered(&bypassed);
    assert_eq!(proxy.log(), Vec::<Value>::new());

    // A plain http:// endpoint is forwarded, not tunnelled.
    let moto = moto();
    let plain = caller_identity(&env, &moto, &[("HTTP_PROXY", &proxy.url())]);
    assert_moto_answered(&plain);
    let moto_authority = moto.trim_start_matches("http://").trim_end_matches('/');
    assert_eq!(
        proxy.log(),
        vec![json!({"method": "POST", "target": moto_authority,
            "credentials": false, "authorized": true, "status": 200})]
    );
}

#[test]
fn strace_shows_every_connect_that_goes_around_the_proxy() {
    let env = Env::new();
    let front = TlsFront::start(&moto());
    let proxy = NetProxy::start(None);
    let ca = front.ca_bundle();
    let ca = ca.to_str().unwrap();
    let traced = |name: &str, vars: &[(&str, &str)]| {
        let trace = env.root.join(format!("strace-{name}"));
        let run = finish(
            caller_identity_command(&env, &front.url(), vars, Some(&trace)),
            "",
        );
        (run, std::fs::read_to_string(&trace).unwrap())
    };

    let (run, trace) = traced(
        "proxied",
        &[("HTTPS_PROXY", &proxy.url()), ("AWS_CA_BUNDLE", ca)],
    );
    assert_moto_answered(&run);
    assert!(
        trace.contains(&format!("htons({})", proxy.port())),
        "strace saw no connect to the proxy:\n{trace}"
    );
    let around = connects_not_to(&trace, &[proxy.port()]);
    assert!(around.is_empty(), "connects around the proxy: {around:#?}");

    let (run, trace) = traced("direct", &[("AWS_CA_BUNDLE", ca)]);
    assert_moto_answered(&run);
    let around = connects_not_to(&trace, &[proxy.port()]);
    assert!(
        around
            .iter()
            .any(|l| l.contains(&format!("htons({})", front.port()))),
        "the direct connect to the front was not flagged: {around:#?}\n{trace}"
    );
}

/// curl through the proxy to the front's `/moto-api/` with `proxy-user` from its config on
/// stdin (not in its arguments): curl's exit code and `%{http_connect} %{http_code}`.
fn curl_through(proxy: &NetProxy, front: &TlsFront, proxy_user: Option<&str>) -> (i32, String) {
    let config = proxy_user.map_or_else(String::new, |u| format!("proxy-user = \"{u}\"\n"));
    let mut cmd = Command::new("curl");
    no_network_env(&mut cmd)
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_connect} %{http_code}",
        ])
        .args(["-K", "-", "--proxy", &proxy.url(), "--cacert"])
        .arg(front.ca_bundle())
        .arg(format!("{}/moto-api/", front.url()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = finish(cmd, &config);
    (run.code, run.stdout)
}

#[test]
fn the_proxy_asks_for_basic_auth_and_never_logs_the_password() {
    let env = Env::new();
    let front = TlsFront::start(&moto());
    let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let wrong = format!("wrong-{}", uuid::Uuid::new_v4().simple());
    let proxy = NetProxy::start(Some(("proxy-user", &password)));
    let ca = front.ca_bundle();
    let ca = ca.to_str().unwrap();

    let run = caller_identity(
        &env,
        &front.url(),
        &[
            ("HTTPS_PROXY", &proxy.url_with("proxy-user", &password)),
            ("AWS_CA_BUNDLE", ca),
        ],
    );
    assert_moto_answered(&run);
    assert_eq!(proxy.connects(), vec![front.authority()]);
    assert_eq!(proxy.log()[0]["credentials"], true);

    let refused = caller_identity(
        &env,
        &front.url(),
        &[
            ("HTTPS_PROXY", &proxy.url_with("proxy-user", &wrong)),
            ("AWS_CA_BUNDLE", ca),
        ],
    );
    assert_ne!(refused.code, 0, "{refused:#?}");
    assert!(
        refused.stderr.contains("Failed to connect to proxy URL"),
        "{refused:#?}"
    );

    assert_eq!(
        curl_through(&proxy, &front, Some(&format!("proxy-user:{password}"))),
        (0, "200 200".to_owned())
    );
    // curl: (56) CONNECT tunnel failed, response 407
    assert_eq!(
        curl_through(&proxy, &front, Some(&format!("proxy-user:{wrong}"))),
        (56, "407 000".to_owned())
    );
    assert_eq!(
        curl_through(&proxy, &front, None),
        (56, "407 000".to_owned())
    );

    // A forwarded http:// request gets the 407 itself, with the challenge.
    let mut cmd = Command::new("curl");
    no_network_env(&mut cmd)
        .args(["-sS", "-i", "-K", "-", "--proxy", &proxy.url()])
        .arg(format!("{}/moto-api/", moto()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let answer = finish(cmd, &format!("proxy-user = \"proxy-user:{wrong}\"\n"));
    assert!(
        answer
            .stdout
            .starts_with("HTTP/1.1 407 Proxy Authentication Required\r\n"),
        "{answer:#?}"
    );
    assert!(
        answer
            .stdout
            .contains("\r\nProxy-Authenticate: Basic realm=\"test\"\r\n"),
        "{answer:#?}"
    );

    let log = proxy.log();
    let refusals: Vec<_> = log
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap(),
                e["credentials"] == true,
                e["status"].as_i64().unwrap(),
            )
        })
        .filter(|(_, _, status)| *status == 407)
        .collect();
    assert!(refusals.contains(&("CONNECT", true, 407)), "{log:#?}");
    assert!(refusals.contains(&("CONNECT", false, 407)), "{log:#?}");
    assert!(refusals.contains(&("GET", true, 407)), "{log:#?}");

    // Nothing but these fields, so no header (Proxy-Authorization carries the password in
    // base64) and no path can reach the log.
    let moto = moto();
    let moto_authority = moto.trim_start_matches("http://").trim_end_matches('/');
    for entry in &log {
        let mut keys: Vec<_> = entry.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["authorized", "credentials", "method", "status", "target"],
            "{entry}"
        );
        assert!(
            entry["target"] == front.authority() || entry["target"] == moto_authority,
            "{entry}"
        );
    }
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", proxy.pid())).unwrap();
    let seen = [
        serde_json::to_string(&log).unwrap(),
        proxy.stderr(),
        String::from_utf8_lossy(&cmdline).into_owned(),
    ];
    for secret in [&password, &wrong] {
        assert!(
            seen.iter().all(|s| !s.contains(secret.as_str())),
            "a proxy password leaked: {seen:#?}"
        );
    }
}

#[test]
fn the_tls_front_fronts_the_sso_stub_through_the_proxy() {
    let stub = crate::sso_stub::SsoStub::start();
    let front = TlsFront::start(stub.url());
    let proxy = NetProxy::start(None);
    let mut cmd = Command::new("curl");
    no_network_env(&mut cmd)
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(front.ca_bundle())
        .args(["--proxy", &proxy.url()])
        .arg(format!("{}/assignment/accounts?max_result=10", front.url()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = finish(cmd, "");
    // No bearer token: the stub's portal refuses, which shows the request reached it.
    assert_eq!(run.stdout, "401", "{run:#?}");
    let calls = stub.log_of("ListAccounts");
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0]["status"], 401);
    assert_eq!(proxy.connects(), vec![front.authority()]);
}
