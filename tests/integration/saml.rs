//! The federated login window, for real: `credtray-login --saml-login` on WebKitGTK, under the
//! Xvfb + openbox display scripts/test starts, against a fake identity provider
//! (tests/support/fake_idp.py) whose pages post to the real AWS sign-in URLs; xdotool plays the
//! person, strace watches every connect(2), moto answers AssumeRoleWithSAML and the AWS CLI
//! uses the profile. The tests take one lock: the keyboard and "is a window visible" are the
//! display's, shared by all of them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::engine::caller;
use crate::harness::{Env, Fixtures, fixtures, moto, support_server};
use crate::net_support::{NetProxy, TlsFront, connects_not_to, no_network_env, set_settings_proxy};

static DISPLAY: Mutex<()> = Mutex::new(());

/// One test's world: the display to itself (bind `_display` to a name, or the lock is let go
/// at once), its own environment, moto's fixtures, a fake IdP.
struct World {
    _display: MutexGuard<'static, ()>,
    env: Env,
    f: Fixtures,
    idp: FakeIdp,
}

fn world() -> World {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "the login window's tests need the display scripts/test starts (Xvfb)"
    );
    let display = DISPLAY.lock().unwrap_or_else(|e| e.into_inner());
    let env = Env::new();
    let idp = FakeIdp::start(&env);
    World {
        _display: display,
        f: fixtures(),
        env,
        idp,
    }
}

/// tests/support/fake_idp.py on a free port, killed on drop.
struct FakeIdp {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl FakeIdp {
    fn start(env: &Env) -> Self {
        let log = env.root.join("idp.log");
        let (child, port) = support_server("fake_idp.py", &[log.as_os_str()]);
        Self { child, port, log }
    }

    fn query(params: &[(&str, &str)]) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish()
    }

    /// The SAML 2.0 URL of a session: the IdP's start page with these parameters.
    fn url(&self, params: &[(&str, &str)]) -> String {
        format!(
            "http://127.0.0.1:{}/start?{}",
            self.port,
            Self::query(params)
        )
    }

    /// The SAMLResponse these parameters give.
    fn expected(&self, params: &[(&str, &str)]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "GET /expected?{} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
            Self::query(params)
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response.split("\r\n\r\n").nth(1).unwrap().to_owned()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn logins(&self) -> usize {
        self.log().lines().filter(|l| *l == "LOGIN").count()
    }

    /// Requests that posted something here other than the login form.
    fn stray_posts(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.starts_with("POST ") && *l != "POST /login")
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for FakeIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A federated session `alias` whose SAML 2.0 URL is `url`, granting the moto fixtures' role.
fn add_federated(env: &Env, f: &Fixtures, alias: &str, url: &str) -> String {
    env.run(
        &[
            "session",
            "add",
            "iam-role-federated",
            "--alias",
            alias,
            "--profile",
            alias,
            "--role-arn",
            &f.federated_role_arn,
            "--idp-arn",
            &f.idp_arn,
            "--saml-url",
            url,
        ],
        "",
    )
    .ok();
    env.id_of(alias)
}

/// The parameters of a page that grants the fixtures' federated role.
fn grants<'a>(f: &'a Fixtures, more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut params = vec![
        ("role", f.federated_role_arn.as_str()),
        ("idp", f.idp_arn.as_str()),
    ];
    params.extend_from_slice(more);
    params
}

/// `credtray args` against moto, on the display.
fn credtray_on_display(env: &Env, args: &[&str]) -> Command {
    let mut cmd = env.command(args);
    cmd.env("AWS_ENDPOINT_URL", moto())
        .env("DISPLAY", std::env::var_os("DISPLAY").unwrap())
        .env("NO_AT_BRIDGE", "1");
    cmd
}

/// `credtray session start alias` on the display, running.
fn start_on_display(env: &Env, alias: &str) -> Child {
    credtray_on_display(env, &["session", "start", alias])
        .spawn()
        .unwrap()
}

/// A start that ended without credentials: exit 2, saying `says`, nothing written, the session
/// inactive.
#[track_caller]
fn started_nothing(env: &Env, alias: &str, before: &(String, String), out: &Output, says: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    assert!(stderr(out).contains(says), "{}", stderr(out));
    assert_eq!(&env.aws_files(), before);
    assert_eq!(env.session(alias)["state"], "inactive");
}

/// The login child itself, given what the tray and the CLI give it (the window reads nothing
/// itself); `extra` comes last, so it may give another `--url` or `--timeout`.
fn login_child(env: &Env, id: &str, extra: &[&str]) -> Command {
    let mut cmd = env.tool(env!("CARGO_BIN_EXE_credtray-login"));
    cmd.args(login_args(env, id)).args(extra);
    cmd
}

/// What the engine's process gives the login child of session `id`: its alias and URL, the
/// default timeout and the cookie directory the engine names.
fn login_args(env: &Env, id: &str) -> Vec<String> {
    let session = env.session(id);
    let url = session["saml_url"].as_str().expect("a federated session");
    let cookies = credtray::saml_login::cookie_dir(
        &env.data_dir().join("credtray/idp"),
        &url.parse().unwrap(),
    );
    [
        "--saml-login",
        id,
        "--alias",
        session["alias"].as_str().unwrap(),
        "--url",
        url,
        "--timeout",
        "300",
        "--cookies",
        cookies.to_str().unwrap(),
    ]
    .map(str::to_owned)
    .to_vec()
}

fn finished(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

/// Login windows of session `alias` that are visible now.
fn visible_windows(alias: &str) -> Vec<String> {
    let out = Command::new("xdotool")
        .args(["search", "--onlyvisible", "--name"])
        .arg(format!("for session {alias}$"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits until the login window of `alias` shows; its X window id.
fn wait_for_window(alias: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(w) = visible_windows(alias).pop() {
            return w;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the login window of {alias} never showed");
}

/// Polls for a visible window of `alias` until `child` ends: none may show.
fn never_visible(alias: &str, mut child: Child) -> Output {
    loop {
        assert!(
            visible_windows(alias).is_empty(),
            "a login window of {alias} showed"
        );
        if child.try_wait().unwrap().is_some() {
            return finished(child);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn xdotool(args: &[&str]) {
    let status = Command::new("xdotool").args(args).status().unwrap();
    assert!(status.success(), "xdotool {args:?}");
}

/// The person logs in: the IdP's form has the user name focused.
fn type_login(window: &str) {
    xdotool(&["windowactivate", "--sync", window]);
    xdotool(&["type", "--delay", "20", "jane"]);
    xdotool(&["key", "Tab"]);
    xdotool(&["type", "--delay", "20", "correct horse"]);
    xdotool(&["key", "Return"]);
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The connects in an `strace -f -e trace=connect` log that left the machine: any address
/// that is not loopback, and any DNS (port 53) at all (the fake IdP is reached by address).
fn outside_connects(strace: &str) -> Vec<&str> {
    strace
        .lines()
        .filter(|l| l.contains("connect(") && !l.contains("AF_UNIX"))
        .filter(|l| {
            let loopback =
                l.contains("inet_addr(\"127.0.0.1\")") || l.contains("inet_pton(AF_INET6, \"::1\"");
            !loopback || l.contains("htons(53)")
        })
        .collect()
}

/// `credtray-login` for session `id` on `url` under `strace -f -e trace=connect`, with `during`
/// done while it runs: how it ended, and the connects that left the machine (`name` names its
/// trace file).
fn login_traced(
    env: &Env,
    id: &str,
    url: &str,
    name: &str,
    during: impl FnOnce(),
) -> (Output, Vec<String>) {
    let trace = env.root.join(format!("strace-{name}"));
    let child = env
        .tool("strace")
        .args(["-f", "-qq", "-e", "trace=connect", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_credtray-login"))
        .args(login_args(env, id))
        .args(["--url", url, "--timeout", "20"])
        .spawn()
        .expect("strace runs");
    during();
    let out = finished(child);
    let trace = std::fs::read_to_string(&trace).unwrap();
    assert!(
        trace.contains("127.0.0.1"),
        "{name}: strace saw the IdP's connects"
    );
    let outside = outside_connects(&trace)
        .into_iter()
        .map(str::to_owned)
        .collect();
    (out, outside)
}

#[test]
fn the_connect_check_flags_what_leaves_the_machine() {
    let log = r#"12 connect(11, {sa_family=AF_UNIX, sun_path=@"/tmp/.X11-unix/X95"}, 21) = 0
12 connect(20, {sa_family=AF_INET, sin_port=htons(35413), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS
13 connect(21, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = 0
13 connect(22, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("52.94.236.248")}, 16) = 0
13 connect(23, {sa_family=AF_INET6, sin6_port=htons(443), inet_pton(AF_INET6, "2600:9000::1", &sin6_addr)}, 28) = 0
13 connect(24, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.1")}, 16) = 0"#;
    let flagged = outside_connects(log);
    assert_eq!(flagged.len(), 4, "{flagged:#?}");
    assert!(flagged.iter().all(|l| !l.contains("35413")));
}

#[test]
fn every_way_an_idp_posts_is_captured_before_it_leaves_the_machine() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    let id = add_federated(&env, &f, "posts", &idp.url(&grants(&f, &[])));
    for (page, acs) in [
        ("form", "aws"),
        ("button", "regional"),
        ("fetch", "gov"),
        ("xhr", "cn"),
        ("iframe", "adfs"),
    ] {
        let params = grants(&f, &[("page", page), ("acs", acs)]);
        let (out, outside) = login_traced(&env, &id, &idp.url(&params), page, || ());
        assert!(outside.is_empty(), "{page}: left the machine: {outside:#?}");
        assert_eq!(out.status.code(), Some(0), "{page}: {}", stderr(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            idp.expected(&params),
            "{page}: the assertion arrives byte for byte"
        );
    }
    assert_eq!(idp.stray_posts(), Vec::<String>::new());
}

#[test]
fn a_first_login_is_typed_into_the_window_and_the_next_is_silent() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    let url = idp.url(&grants(&f, &[("login", "1"), ("duration", "900")]));
    add_federated(&env, &f, "typed", &url);

    // The CLI opens the window through credtray-login; the IdP wants a login first.
    let start = start_on_display(&env, "typed");
    type_login(&wait_for_window("typed"));
    let out = finished(start);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("logging in to the identity provider"),
        "{}",
        stderr(&out)
    );
    assert_eq!(idp.logins(), 1);
    let arn = caller(&env, "typed");
    assert!(arn.contains(":assumed-role/"), "{arn}");

    // SessionDuration 900: the credentials last 15 minutes, not the default hour.
    let session = env.session("typed");
    let expiration = time::OffsetDateTime::parse(
        session["expiration"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let left = expiration - time::OffsetDateTime::now_utc();
    assert!(
        left <= time::Duration::seconds(900) && left > time::Duration::seconds(780),
        "{left}"
    );

    // Test credential generation logs in again (a dry run takes fresh credentials): with the
    // IdP's cookie alive, without showing anything.
    let test = credtray_on_display(&env, &["session", "test", "typed", "--json"])
        .spawn()
        .unwrap();
    let out = never_visible("typed", test);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let tested: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tested["ok"], true, "{tested}");
    assert_eq!(idp.logins(), 1, "the second login was silent");
    assert_eq!(idp.stray_posts(), Vec::<String>::new());
}

#[test]
fn an_assertion_without_the_sessions_role_is_refused_naming_what_it_grants() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    let params = [("role", f.role_arn.as_str()), ("idp", f.idp_arn.as_str())];
    add_federated(&env, &f, "wrongrole", &idp.url(&params));
    let before = env.aws_files();
    let out = finished(start_on_display(&env, "wrongrole"));
    started_nothing(&env, "wrongrole", &before, &out, "does not grant role");
    assert!(stderr(&out).contains(&f.role_arn), "{}", stderr(&out));
}

#[test]
fn closing_the_window_cancels_the_start_and_writes_nothing() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    add_federated(&env, &f, "closed", &idp.url(&grants(&f, &[("login", "1")])));
    let before = env.aws_files();
    let start = start_on_display(&env, "closed");
    let window = wait_for_window("closed");
    xdotool(&["windowactivate", "--sync", &window]);
    xdotool(&["key", "--clearmodifiers", "alt+F4"]);
    let out = finished(start);
    started_nothing(&env, "closed", &before, &out, "login window was closed");
    assert_eq!(idp.logins(), 0);
}

#[test]
fn a_login_that_never_finishes_times_out_and_writes_nothing() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    add_federated(&env, &f, "slow", &idp.url(&grants(&f, &[("page", "hold")])));
    // [settings] saml_login_timeout, in seconds.
    let store = std::fs::read_to_string(env.store_path()).unwrap();
    let store = store.replacen("[settings]\n", "[settings]\nsaml_login_timeout = 5\n", 1);
    std::fs::write(env.store_path(), store).unwrap();
    let before = env.aws_files();
    let started = Instant::now();
    let start = start_on_display(&env, "slow");
    // A page that neither posts nor asks for anything shows itself after a few seconds.
    wait_for_window("slow");
    let out = finished(start);
    assert!(started.elapsed() >= Duration::from_secs(5));
    started_nothing(&env, "slow", &before, &out, "saml_login_timeout");
}

#[test]
fn forgetting_the_login_brings_the_form_back_and_a_hidden_login_gives_up_unseen() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    let url = idp.url(&grants(&f, &[("login", "1")]));
    let id = add_federated(&env, &f, "forget", &url);
    add_federated(&env, &f, "sharer", &url);

    // First login, typed; the cookie directory is private.
    let child = login_child(&env, &id, &[]).spawn().unwrap();
    type_login(&wait_for_window("forget"));
    assert_eq!(finished(child).status.code(), Some(0));
    let idp_dir = env.data_dir().join("credtray/idp");
    let dirs: Vec<_> = std::fs::read_dir(&idp_dir).unwrap().collect();
    assert_eq!(dirs.len(), 1);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &dirs[0].as_ref().unwrap().metadata().unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o700);

    // A rotation's login (hidden only) with the cookie alive: silent, for the sharer too.
    let sharer = env.id_of("sharer");
    let out = never_visible(
        "sharer",
        login_child(&env, &sharer, &["--hidden-only"])
            .spawn()
            .unwrap(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(idp.logins(), 1);

    let run = env.run(&["session", "forget-login", "forget"], "").ok();
    assert!(
        run.stdout.contains("forgot the identity provider login")
            && run.stdout.contains("\"forget\", \"sharer\""),
        "{run:?}"
    );
    assert_eq!(std::fs::read_dir(&idp_dir).unwrap().count(), 0);

    // Hidden only, the IdP now wants the person: the child gives up, never showing a window.
    let out = never_visible(
        "forget",
        login_child(&env, &id, &["--hidden-only"]).spawn().unwrap(),
    );
    assert_eq!(out.status.code(), Some(12), "{}", stderr(&out));
    // A login the person asked for shows the form again.
    let child = login_child(&env, &id, &[]).spawn().unwrap();
    type_login(&wait_for_window("forget"));
    assert_eq!(finished(child).status.code(), Some(0));
    assert_eq!(idp.logins(), 2);

    // Only federated sessions have an IdP login.
    env.run(
        &[
            "session",
            "add",
            "iam-user",
            "--alias",
            "plain",
            "--access-key-id",
            "-",
            "--secret-access-key",
            "-",
        ],
        "AKIAIOSFODNN7EXAMPLE\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    )
    .ok();
    let run = env.run(&["session", "forget-login", "plain"], "");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("not federated"), "{run:?}");
}

#[test]
fn a_page_that_cannot_load_fails_at_once_with_its_error() {
    let World {
        _display: _held,
        env,
        f,
        idp: _idp,
    } = world();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    add_federated(&env, &f, "down", &format!("http://127.0.0.1:{port}/saml"));
    let before = env.aws_files();
    let started = Instant::now();
    let out = finished(start_on_display(&env, "down"));
    started_nothing(
        &env,
        "down",
        &before,
        &out,
        "cannot load the identity provider's page",
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// What the hostile pages try to slip in (tests/support/fake_idp.py's FORGED): base64 of
/// `<forged by a frame/>`, as good as the real one but for where it comes from.
const FORGED: &str = "PGZvcmdlZCBieSBhIGZyYW1lLz4=";

/// Every byte but letters and digits percent-encoded (a `data:` URL of a whole page).
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn a_cross_origin_frame_cannot_end_the_login() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    // The IdP's page holds a frame of another origin (another port) that forges "needs the
    // person", a SAMLResponse bound for AWS and "none", every way a frame can; the page posts
    // the real assertion 2 s after that frame loaded.
    let params = grants(&f, &[("page", "crossorigin")]);
    let id = add_federated(&env, &f, "framed", &idp.url(&params));
    // Hidden only: a forged "needs the person" would end it at once (exit 12).
    let out = login_child(&env, &id, &["--hidden-only"]).output().unwrap();
    assert!(idp.log().contains("GET /evil"), "the frame loaded");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        idp.expected(&params),
        "the page's own assertion, not the frame's"
    );
    assert!(
        stderr(&out).contains("not sent by the main frame's document"),
        "{}",
        stderr(&out)
    );
    assert_eq!(idp.stray_posts(), Vec::<String>::new());
}

#[test]
fn a_cross_origin_frame_cannot_end_the_login_by_going_to_aws_or_opening_a_window() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    let id = add_federated(&env, &f, "framed", &idp.url(&grants(&f, &[])));
    let mut wrong = Vec::new();
    // A frame of another origin (another port), before the page has made its form: posts a
    // form without a SAMLResponse field to AWS (the hook lets it through, the navigation
    // handler cancels it), or, clicked by the person (WebKit allows neither without), sends the
    // main frame to AWS or opens a window on its own origin whose page posts a forged
    // SAMLResponse. The page posts the real
    // one 2 s after the frame did its part: the login must end with it, whatever the frame did.
    for page in ["frameacs", "frametop", "frameopen"] {
        let params = grants(&f, &[("page", page)]);
        let url = idp.url(&params);
        let mut child = login_child(&env, &id, &["--url", &url, "--timeout", "90"])
            .spawn()
            .unwrap();
        if page != "frameacs" {
            let window = wait_for_window("framed");
            xdotool(&["windowactivate", "--sync", &window]);
            // Again every second until the login ends: the window shows after 3 s even when
            // the frame (on a loaded machine) is not there yet to be clicked. A click once the
            // window is gone fails, unheard.
            while child.try_wait().unwrap().is_none() {
                let _ = Command::new("xdotool")
                    .args(["mousemove", "--window", &window, "450", "360", "click", "1"])
                    .status();
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        let out = finished(child);
        let errors = stderr(&out);
        // What the frame did reached the window (else this proves nothing).
        let met = if page == "frameopen" {
            "refused a new window"
        } else {
            "cancelled a navigation to AWS's sign-in"
        };
        if !errors.contains(met) {
            wrong.push(format!("{page}: no \"{met}\" logged: {errors}"));
        }
        if out.status.code() != Some(0) {
            wrong.push(format!("{page}: {:?} {errors}", out.status));
        } else if String::from_utf8_lossy(&out.stdout) != idp.expected(&params) {
            wrong.push(format!(
                "{page}: not the page's own assertion: {}",
                String::from_utf8_lossy(&out.stdout)
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    let frames = idp.log().lines().filter(|l| *l == "GET /frame").count();
    assert_eq!(frames, 3, "the frames loaded: {}", idp.log());
    assert_eq!(idp.stray_posts(), Vec::<String>::new());
}

#[test]
fn a_page_cannot_load_files_data_or_plain_http_off_this_machine() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    // Each would post a forged SAMLResponse (or reach the network) if it loaded; the page posts
    // the real one 2 s later, so the login ends well only if each was refused.
    let forged = format!(
        "<form method=post action=https://signin.aws.amazon.com/saml>\
         <input type=hidden name=SAMLResponse value={FORGED}></form>\
         <script>document.forms[0].submit()</script>"
    );
    let file = env.root.join("forged.html");
    std::fs::write(&file, &forged).unwrap();
    let file = format!("file://{}", file.display());
    let data = format!("data:text/html,{}", percent_encoded(&forged));
    // TEST-NET-1: no host answers there; a connect at all is the failure.
    let far = "http://192.0.2.1/forged".to_owned();
    let id = add_federated(&env, &f, "escape", &idp.url(&grants(&f, &[])));
    let mut wrong = Vec::new();
    // Whether the refusal is credtray's, and so logged: WebKit itself keeps a web page from
    // navigating to file: ("not allowed to load local resource"), never asking.
    for (n, (page, to, ours)) in [
        ("navigate", &file, false),
        ("navigate", &data, true),
        ("navigate", &far, true),
        ("popup", &file, true),
        ("popup", &data, true),
        ("popup", &far, true),
    ]
    .into_iter()
    .enumerate()
    {
        let scheme = &to[..to.find(':').unwrap()];
        let params = grants(&f, &[("page", page), ("to", to)]);
        let click = || {
            if page == "popup" {
                let window = wait_for_window("escape");
                xdotool(&["windowactivate", "--sync", &window]);
                xdotool(&["mousemove", "--window", &window, "450", "360", "click", "1"]);
            }
        };
        let (out, outside) = login_traced(&env, &id, &idp.url(&params), &format!("{n}"), click);
        let errors = stderr(&out);
        let refusal = if page == "popup" {
            "refused a new window"
        } else {
            "refused a navigation"
        };
        if !outside.is_empty() {
            wrong.push(format!("{page} {scheme}: left the machine: {outside:?}"));
        }
        if out.status.code() != Some(0) {
            wrong.push(format!("{page} {scheme}: {:?} {errors}", out.status));
        } else if String::from_utf8_lossy(&out.stdout) != idp.expected(&params) {
            wrong.push(format!("{page} {scheme}: not the page's own assertion"));
        }
        if ours && !errors.contains(refusal) {
            wrong.push(format!(
                "{page} {scheme}: no \"{refusal}\" logged: {errors}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn a_page_cannot_write_a_line_of_credtrays_own() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    // The page posts messages whose `via` holds a line "credtray-login: FORGED …", then a form
    // to AWS without a SAMLResponse field (the login fails with "none").
    let params = grants(&f, &[("page", "forgevia")]);
    let id = add_federated(&env, &f, "forger", &idp.url(&params));
    let out = login_child(&env, &id, &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let errors = stderr(&out);
    assert!(
        !errors
            .lines()
            .any(|l| l.starts_with("credtray-login: FORGED")),
        "a page's text began a line: {errors}"
    );
    // What the main frame's sender carried is logged, escaped.
    assert!(
        errors.contains(r"\ncredtray-login: FORGED through the sender"),
        "{errors}"
    );

    // The parent shows the child's reason, not the page's.
    let before = env.aws_files();
    let out = finished(start_on_display(&env, "forger"));
    started_nothing(&env, "forger", &before, &out, "has no SAMLResponse field");
    let errors = stderr(&out);
    assert!(
        !errors
            .lines()
            .any(|l| l.starts_with("credtray-login: FORGED")
                || (l.starts_with("credtray: ") && l.contains("FORGED"))),
        "{errors}"
    );
}

#[test]
fn a_page_without_a_samlresponse_field_fails_saying_so() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    add_federated(
        &env,
        &f,
        "nofield",
        &idp.url(&grants(&f, &[("page", "noform")])),
    );
    let before = env.aws_files();
    let out = finished(start_on_display(&env, "nofield"));
    let reason = "the identity provider sent the login to AWS in a way credtray can't read (the page has no SAMLResponse field)";
    started_nothing(&env, "nofield", &before, &out, reason);
    // In the error itself, not only in the child's log lines the parent passes on.
    let errors = stderr(&out);
    let error = errors
        .lines()
        .find(|l| l.starts_with("credtray: could not log in"))
        .unwrap_or_default();
    assert!(error.contains(reason), "{errors}");
}

/// `credtray-login` for session `id` under `strace -f -e trace=connect`, in an environment free
/// of proxy and CA variables but `vars`: how it ended, and the trace (`name` names its file).
fn login_through(env: &Env, id: &str, name: &str, vars: &[(&str, &str)]) -> (Output, String) {
    let trace = env.root.join(format!("strace-{name}"));
    let mut cmd = env.tool("strace");
    cmd.env("CREDTRAY_LOG", "trace")
        .args(["-f", "-qq", "-e", "trace=connect", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_credtray-login"))
        .args(login_args(env, id))
        .args(["--timeout", "60"]);
    no_network_env(&mut cmd).envs(vars.iter().copied());
    let out = cmd.output().expect("strace runs");
    (out, std::fs::read_to_string(&trace).unwrap())
}

/// The page that posts the SAMLResponse by itself (no login to type), to AWS's sign-in.
fn posting(f: &Fixtures) -> Vec<(&str, &str)> {
    grants(f, &[("page", "form"), ("acs", "aws")])
}

/// A login through `proxy` that captured the assertion: WebKit asked the proxy for the IdP's
/// pages and nothing else (never AWS's sign-in), and connected to nothing but the proxy.
#[track_caller]
fn captured_through(
    proxy: &NetProxy,
    idp: &FakeIdp,
    expected: &str,
    (out, trace): (Output, String),
) {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    let log = proxy.log();
    let idp_at = format!("127.0.0.1:{}", idp.port);
    assert!(
        log.iter()
            .any(|e| e["target"] == idp_at.as_str() && e["status"] == 200),
        "the proxy's log: {log:#?}"
    );
    assert!(
        log.iter().all(|e| e["target"] == idp_at.as_str()),
        "the proxy was asked for something else: {log:#?}"
    );
    assert!(
        trace.contains(&format!("_port=htons({})", proxy.port())),
        "strace saw the connects to the proxy"
    );
    assert_eq!(
        connects_not_to(&trace, &[proxy.port()]),
        Vec::<String>::new(),
        "connects around the proxy"
    );
}

#[test]
fn the_login_window_loads_through_the_environments_proxy() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    let proxy = NetProxy::start(None);
    let params = posting(&f);
    let id = add_federated(&env, &f, "proxied", &idp.url(&params));
    let url = proxy.url();
    let traced = login_through(
        &env,
        &id,
        "env-proxy",
        &[("http_proxy", &url), ("HTTPS_PROXY", &url)],
    );
    captured_through(&proxy, &idp, &idp.expected(&params), traced);

    // ALL_PROXY, which credtray reads as curl does and WebKit's own default does not.
    proxy.clear_log();
    let traced = login_through(&env, &id, "all-proxy", &[("ALL_PROXY", &url)]);
    captured_through(&proxy, &idp, &idp.expected(&params), traced);

    // NO_PROXY naming the IdP, and `[settings] proxy none` over the variables: straight to it,
    // the proxy asked for nothing.
    let direct = |name: &str, vars: &[(&str, &str)]| {
        proxy.clear_log();
        let (out, trace) = login_through(&env, &id, name, vars);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        assert_eq!(proxy.log(), Vec::<serde_json::Value>::new(), "{name}");
        assert!(
            trace.contains(&format!("_port=htons({})", idp.port)),
            "{name}: went to the IdP itself"
        );
    };
    direct(
        "no-proxy",
        &[("http_proxy", &url), ("no_proxy", "localhost, 127.0.0.1")],
    );
    env.run(&["settings", "proxy", "--none"], "").ok();
    direct("proxy-none", &[("http_proxy", &url), ("HTTPS_PROXY", &url)]);
}

#[test]
fn the_login_window_answers_the_settings_proxy_and_fails_naming_it_when_refused() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    let (user, password, wrong) = ("jane", "proxy-pass-7731", "wrong-pass-0042");
    let proxy = NetProxy::start(Some((user, password)));
    let params = posting(&f);
    let id = add_federated(&env, &f, "behind", &idp.url(&params));
    let set = |password: &str| {
        set_settings_proxy(&env, &proxy, user, password);
    };
    set(password);
    let traced = login_through(&env, &id, "settings-proxy", &[]);
    assert!(
        !stderr(&traced.0).contains(password),
        "{}",
        stderr(&traced.0)
    );
    captured_through(&proxy, &idp, &idp.expected(&params), traced);
    assert!(
        proxy
            .log()
            .iter()
            .any(|e| e["credentials"] == true && e["authorized"] == true),
        "{:#?}",
        proxy.log()
    );

    set(wrong);
    proxy.clear_log();
    let (out, _) = login_through(&env, &id, "wrong-password", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let (said, reason) = (
        stderr(&out),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    );
    let sentence = format!(
        "the proxy http://jane:***@127.0.0.1:{} (from [settings] proxy) refused credtray's credentials",
        proxy.port()
    );
    assert!(
        said.contains(&format!("credtray-login: {sentence}")),
        "{said}"
    );
    assert!(
        reason.starts_with(&format!("{}{sentence}", credtray::saml_login::REASON)),
        "{reason}"
    );
    for secret in [password, wrong] {
        assert!(!said.contains(secret) && !reason.contains(secret), "{said}");
    }
    let log = proxy.log();
    assert!(
        log.iter().all(|e| e["authorized"] == false),
        "the wrong password was refused: {log:#?}"
    );
    assert!(log.iter().any(|e| e["credentials"] == true), "{log:#?}");
}

#[test]
fn a_proxy_that_wants_credentials_none_are_set_for_ends_the_login_saying_so() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    let id = add_federated(&env, &f, "nouser", &idp.url(&posting(&f)));
    let asks = |name: &str, url: &str, port: u16| {
        let (out, trace) = login_through(&env, &id, name, &[("http_proxy", url)]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        let said = stderr(&out);
        assert!(
            said.contains(&format!(
                "credtray-login: the proxy http://127.0.0.1:{port} (from http_proxy) asks for a user and password"
            )),
            "{name}: {said}"
        );
        assert_eq!(connects_not_to(&trace, &[port]), Vec::<String>::new());
    };
    // It asks (Proxy-Authenticate): WebKit's authenticate signal.
    let proxy = NetProxy::start(Some(("jane", "proxy-pass-7731")));
    asks("asks", &proxy.url(), proxy.port());
    // It answers 407 without asking: the page WebKit would show.
    let bare = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = bare.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in bare.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head);
            let _ = stream.write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Type: text/html\r\nContent-Length: 11\r\nConnection: close\r\n\r\nlog in here",
            );
        }
    });
    asks("bare-407", &format!("http://127.0.0.1:{port}"), port);
    assert_eq!(std::fs::read_to_string(&idp.log).unwrap_or_default(), "");
}

#[test]
fn an_unusable_proxy_variable_is_the_logins_error_before_any_page_loads() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    let id = add_federated(&env, &f, "socks", &idp.url(&posting(&f)));
    let (out, trace) = login_through(
        &env,
        &id,
        "socks",
        &[("HTTPS_PROXY", "socks5://127.0.0.1:1080")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("credtray-login: HTTPS_PROXY is not a usable proxy (SOCKS proxies"),
        "{}",
        stderr(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("reason: HTTPS_PROXY is not a usable proxy"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(connects_not_to(&trace, &[]), Vec::<String>::new());
    assert_eq!(std::fs::read_to_string(&idp.log).unwrap_or_default(), "");
}

#[test]
fn a_proxy_that_cannot_be_reached_is_named_never_gone_around() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    let id = add_federated(&env, &f, "unreachable", &idp.url(&posting(&f)));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{closed}");
    let (out, trace) = login_through(&env, &id, "unreachable", &[("http_proxy", &url)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains(&format!(
            "through the proxy http://127.0.0.1:{closed} (from http_proxy)"
        )),
        "{said}"
    );
    assert_eq!(
        connects_not_to(&trace, &[closed]),
        Vec::<String>::new(),
        "went around the proxy"
    );
    assert_eq!(std::fs::read_to_string(&idp.log).unwrap_or_default(), "");
}

/// An https page goes through the proxy's tunnel (CONNECT, with the settings' credentials):
/// the test CA is in no store WebKit reads, so the load then fails on the certificate, which
/// shows the handshake came through the tunnel.
#[test]
fn an_https_page_tunnels_through_the_proxy_with_its_credentials() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    let (user, password) = ("jane", "proxy-pass-7731");
    let proxy = NetProxy::start(Some((user, password)));
    let front = TlsFront::start(&format!("127.0.0.1:{}", idp.port));
    let url = format!("{}/start?{}", front.url(), FakeIdp::query(&posting(&f)));
    let id = add_federated(&env, &f, "tunnelled", &url);
    set_settings_proxy(&env, &proxy, user, password);
    let (out, trace) = login_through(&env, &id, "tunnel", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot load the identity provider's page https://127.0.0.1:"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(password));
    let log = proxy.log();
    assert!(
        log.iter().any(|e| e["method"] == "CONNECT"
            && e["target"] == front.authority().as_str()
            && e["authorized"] == true
            && e["status"] == 200),
        "{log:#?}"
    );
    assert_eq!(
        connects_not_to(&trace, &[proxy.port()]),
        Vec::<String>::new()
    );
}

#[test]
fn a_certificate_only_the_ca_bundle_vouches_for_ends_the_login_saying_so() {
    let World {
        _display: _held,
        env,
        f,
        idp,
    } = world();
    let front = TlsFront::start(&format!("127.0.0.1:{}", idp.port));
    let url = format!("{}/start?{}", front.url(), FakeIdp::query(&posting(&f)));
    let id = add_federated(&env, &f, "inspected", &url);
    let bundle = front.ca_bundle();
    let (out, _) = login_through(
        &env,
        &id,
        "bundle",
        &[("AWS_CA_BUNDLE", bundle.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = stderr(&out);
    for part in [
        format!(
            "can't use the CA bundle {} (from AWS_CA_BUNDLE)",
            bundle.display()
        ),
        "install that CA into the system's store".to_owned(),
        "update-ca-certificates".to_owned(),
    ] {
        assert!(said.contains(&part), "{part}: {said}");
    }
}
