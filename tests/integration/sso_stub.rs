//! The local IAM Identity Center (`tests/support/sso_stub.py`, knobs in its docstring): one per
//! test on its own port, killed on drop, and the conformance check that it speaks AWS's dialect
//! to the real botocore.
//!
//! A test points `credtray` at it with both endpoint variables and reads the request log:
//! ```ignore
//! let stub = SsoStub::start();
//! stub.config(json!({"auto_approve_after": 0, "interval": 0}));
//! let mut cmd = env.command(&["integration", "login", "corp", "--no-browser"]);
//! cmd.envs(stub.env());
//! let run = finish(cmd, "");
//! assert!(stub.log_of("ListAccountRoles").iter().all(|e| e["status"] == 200));
//! ```
//! `AWS_ENDPOINT_URL_SSO{,_OIDC}` win over `AWS_ENDPOINT_URL`, so moto can stay the STS.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// A running stub, killed when dropped.
pub struct SsoStub {
    child: Child,
    // Held open: the stub (started with --watch-stdin) exits when it closes, so it dies with
    // this process even if Drop never runs.
    _stdin: ChildStdin,
    url: String,
}

/// One HTTP answer from the stub.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Response {
    /// A header's value (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn python() -> String {
    std::env::var("CREDTRAY_TEST_PYTHON")
        .expect("CREDTRAY_TEST_PYTHON (the venv's python) is set by scripts/test")
}

fn support(script: &str) -> String {
    format!("{}/tests/support/{script}", env!("CARGO_MANIFEST_DIR"))
}

impl SsoStub {
    /// Starts a stub on a free loopback port and waits until it listens.
    pub fn start() -> Self {
        let mut child = Command::new(python())
            .args([&support("sso_stub.py"), "--watch-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the SSO stub starts");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(url) = line.trim().strip_prefix("SSO_STUB_READY ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the SSO stub did not start: it said {line:?}");
        };
        Self {
            url: url.to_owned(),
            child,
            _stdin: stdin,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The environment that sends a process's IAM Identity Center calls (OIDC and portal) here.
    pub fn env(&self) -> [(&'static str, String); 2] {
        [
            ("AWS_ENDPOINT_URL_SSO_OIDC", self.url.clone()),
            ("AWS_ENDPOINT_URL_SSO", self.url.clone()),
        ]
    }

    /// Merges knobs (`POST /_stub/config`); answers the knobs in force.
    pub fn config(&self, knobs: Value) -> Value {
        self.control("config", &knobs)
    }

    /// Approves the pending device login with this user code, or every pending one.
    pub fn approve(&self, user_code: Option<&str>) -> Vec<String> {
        self.decide("approve", "approved", user_code)
    }

    /// Refuses the pending device login with this user code, or every pending one.
    pub fn deny(&self, user_code: Option<&str>) -> Vec<String> {
        self.decide("deny", "denied", user_code)
    }

    fn decide(&self, path: &str, key: &str, user_code: Option<&str>) -> Vec<String> {
        let body = user_code.map_or_else(|| json!({}), |c| json!({"userCode": c}));
        self.control(path, &body)[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect()
    }

    /// Assigns a role in an account (creating the account if it is new).
    pub fn assign(&self, account_id: &str, role_name: &str) {
        self.control(
            "assign",
            &json!({"accountId": account_id, "roleName": role_name}),
        );
    }

    /// Takes a role away, or with `None` the whole account.
    pub fn unassign(&self, account_id: &str, role_name: Option<&str>) {
        let mut body = json!({ "accountId": account_id });
        if let Some(role) = role_name {
            body["roleName"] = json!(role);
        }
        self.control("unassign", &body);
    }

    /// Back to the defaults: knobs, fixtures, clients, tokens and the log.
    pub fn reset(&self) {
        self.control("reset", &json!({}));
    }

    /// Pending user codes and counts of clients, valid tokens and accounts.
    pub fn state(&self) -> Value {
        self.get("state")
    }

    /// Every AWS call so far: seq, operation, method, path, query, status, error, start/end
    /// (monotonic seconds), time (epoch seconds), inflight.
    pub fn log(&self) -> Vec<Value> {
        self.get("log")["requests"].as_array().unwrap().clone()
    }

    /// The logged calls of one operation (`"ListAccountRoles"`, `"CreateToken"`, ...).
    pub fn log_of(&self, operation: &str) -> Vec<Value> {
        self.log()
            .into_iter()
            .filter(|e| e["operation"] == operation)
            .collect()
    }

    /// `POST /_stub/<path>` with a JSON body; panics unless it answers 200.
    pub fn control(&self, path: &str, body: &Value) -> Value {
        let r = self.request("POST", &format!("/_stub/{path}"), &[], Some(body));
        assert_eq!(r.status, 200, "SSO stub /_stub/{path}: {r:?}");
        r.body
    }

    fn get(&self, path: &str) -> Value {
        let r = self.request("GET", &format!("/_stub/{path}"), &[], None);
        assert_eq!(r.status, 200, "SSO stub /_stub/{path}: {r:?}");
        r.body
    }

    /// One raw HTTP request (e.g. a portal call with a token found in the keychain).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response {
        let host = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(host).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !body.is_empty() {
            head.push_str("Content-Type: application/json\r\n");
        }
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        stream
            .write_all(format!("{head}\r\n{body}").as_bytes())
            .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("an HTTP status line: {raw:?}"));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let body = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(body).unwrap_or_else(|e| panic!("JSON from the stub ({e}): {raw}"))
        };
        Response {
            status,
            headers,
            body,
        }
    }

    /// The stub's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for SsoStub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The stub against the real botocore (tests/support/sso_stub_check.py, which starts its own
/// stub): modelled exceptions from x-amzn-ErrorType, paginators, epoch-ms expirations,
/// botocore's retries, its sso-session credential provider, and (with moto) STS.
#[test]
fn sso_stub_speaks_botocores_dialect() {
    let out = Command::new(python())
        .arg(support("sso_stub_check.py"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the SSO stub's conformance check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
    // scripts/test runs moto, so nothing is skipped there.
    if std::env::var_os("CREDTRAY_TEST_MOTO").is_some() {
        assert!(!stdout.contains("skipped"), "{stdout}");
    }
}

/// What the Rust SSO tests rely on: a stub per test on its own port, driven through its control
/// API, logging each call, gone once dropped.
#[test]
fn sso_stub_runs_per_test_and_is_driven_from_rust() {
    let stub = SsoStub::start();
    let other = SsoStub::start();
    assert_ne!(stub.url(), other.url());
    assert_eq!(
        stub.env().map(|(k, _)| k),
        ["AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL_SSO"]
    );
    assert_eq!(stub.config(json!({"interval": 0}))["interval"], 0);

    let oidc = |path: &str, body: Value| stub.request("POST", path, &[], Some(&body));
    let reg = oidc(
        "/client/register",
        json!({"clientName": "credtray", "clientType": "public", "scopes": ["sso:account:access"]}),
    )
    .body;
    let client = json!({"clientId": reg["clientId"], "clientSecret": reg["clientSecret"]});
    let start = |client: &Value| {
        let mut body = client.clone();
        body["startUrl"] = json!("https://d-1234567890.awsapps.com/start");
        oidc("/device_authorization", body).body
    };
    let poll = |device: &Value| {
        let mut body = client.clone();
        body["grantType"] = json!("urn:ietf:params:oauth:grant-type:device_code");
        body["deviceCode"] = device["deviceCode"].clone();
        oidc("/token", body)
    };

    let device = start(&client);
    let code = device["userCode"].as_str().unwrap();
    assert_eq!(stub.state()["pendingUserCodes"], json!([code]));
    let pending = poll(&device);
    assert_eq!(pending.status, 400);
    assert_eq!(
        pending.header("x-amzn-errortype"),
        Some(
            "AuthorizationPendingException:http://internal.amazon.com/coral/com.amazonaws.sso.oidc/"
        )
    );
    assert_eq!(pending.body["error"], "authorization_pending");
    assert_eq!(stub.approve(Some(code)), [code]);
    let token = poll(&device);
    assert_eq!(token.status, 200, "{token:?}");
    assert_eq!(token.body["tokenType"], "Bearer");
    assert!(token.body["refreshToken"].is_string());

    let denied = start(&client);
    assert_eq!(stub.deny(None), [denied["userCode"].as_str().unwrap()]);
    assert_eq!(poll(&denied).body["error"], "access_denied");

    let access = token.body["accessToken"].as_str().unwrap();
    let roles = |account: &str| {
        let r = stub.request(
            "GET",
            &format!("/assignment/roles?account_id={account}&max_result=100"),
            &[("x-amz-sso_bearer_token", access)],
            None,
        );
        assert_eq!(r.status, 200, "{r:?}");
        r.body["roleList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["roleName"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(roles("222222222222"), ["ReadOnlyAccess"]);
    stub.assign("222222222222", "Billing");
    stub.unassign("222222222222", Some("ReadOnlyAccess"));
    assert_eq!(roles("222222222222"), ["Billing"]);
    stub.unassign("222222222222", None);
    let gone = stub.request(
        "GET",
        "/assignment/roles?account_id=222222222222",
        &[("x-amz-sso_bearer_token", access)],
        None,
    );
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.header("x-amzn-errortype").map(|v| v.split(':').next()),
        Some(Some("ResourceNotFoundException"))
    );

    let polls = stub.log_of("CreateToken");
    assert_eq!(
        polls
            .iter()
            .map(|e| e["status"].clone())
            .collect::<Vec<_>>(),
        [400, 200, 400]
    );
    assert!(
        polls
            .iter()
            .all(|e| e["start"].as_f64() <= e["end"].as_f64())
    );
    assert_eq!(stub.log().len(), 9);
    assert!(other.log().is_empty(), "each stub has its own state");

    stub.reset();
    assert!(stub.log().is_empty());
    assert_eq!(stub.state()["accessTokens"], 0);

    let pid = stub.pid();
    drop(stub);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the stub outlived its SsoStub"
    );
}
