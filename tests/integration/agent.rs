//! The agent (`credtray agent`) against the real components: moto as STS, gnome-keyring as
//! the keychain, the real AWS CLI running `credtray credential-process`, real unix sockets.

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::engine::{add_moto_user, assume_roles_named, caller, moto_requests};
use crate::harness::{Env, fixtures, moto};

/// A running `credtray agent`, killed when dropped.
pub struct Agent {
    child: Child,
}

impl Agent {
    /// Starts the agent of `env` against moto and waits until its socket answers.
    pub fn start(env: &Env) -> Self {
        Self::start_with(env, &[])
    }

    /// [`Agent::start`] with more variables in its environment (an SSO stub's endpoints).
    pub fn start_with(env: &Env, vars: &[(&str, String)]) -> Self {
        let mut cmd = env.command(&["agent"]);
        cmd.env("AWS_ENDPOINT_URL", moto())
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null());
        let child = cmd.spawn().unwrap();
        let agent = Self { child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(socket(env)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the agent did not start listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        agent
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a crash: nothing is cleaned up. Only while it is idle (a keychain client
    /// killed mid-call makes gnome-keyring abort).
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn socket(env: &Env) -> std::path::PathBuf {
    env.runtime_dir().join("credtray/agent.sock")
}

fn access_key_id(env: &Env, session: &str) -> String {
    let run = env
        .run(&["credential-process", "--session", session], "")
        .ok();
    let json = run.json();
    assert_eq!(json["Version"], 1);
    json["AccessKeyId"].as_str().unwrap().to_owned()
}

/// How many AssumeRole calls moto has seen for the role session name `name`.
fn assume_roles(name: &str) -> usize {
    assume_roles_named(name).len()
}

#[test]
fn the_agent_answers_credential_process_from_memory_and_the_aws_cli_through_it() {
    let env = Env::new();
    let f = fixtures();
    add_moto_user(&env, &f, "root", "root", &[]);
    let name = format!("agent-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    env.run(
        &[
            "session",
            "chain",
            "root",
            "--role-arn",
            &f.role_arn,
            "--alias",
            "admin",
            "--profile",
            "admin",
            "--role-session-name",
            &name,
        ],
        "",
    )
    .ok();
    let id = env.id_of("admin");
    let agent = Agent::start(&env);
    let dir_mode = std::fs::metadata(env.runtime_dir().join("credtray"))
        .unwrap()
        .permissions()
        .mode();
    let socket_mode = std::fs::metadata(socket(&env))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!((dir_mode & 0o777, socket_mode & 0o777), (0o700, 0o600));

    moto_requests("start");
    // credential-process itself goes through the agent (run with no STS endpoint at all: it
    // could not have called moto itself).
    let first = access_key_id(&env, "admin");
    assert_eq!(assume_roles(&name), 1);
    // Gone from the keychain, still served: from the agent's memory.
    let cleared = std::process::Command::new("secret-tool")
        .args(["clear", "service", "credtray", "username"])
        .arg(format!("{id}-role-credentials"))
        .status()
        .unwrap();
    assert!(cleared.success());
    for _ in 0..3 {
        assert_eq!(access_key_id(&env, &id), first);
    }
    assert_eq!(assume_roles(&name), 1, "no STS call between warm requests");

    // The AWS CLI through credential_process, answered by the agent.
    std::fs::create_dir_all(env.aws_dir()).unwrap();
    std::fs::write(
        env.aws_dir().join("config"),
        format!(
            "[profile via-agent]\ncredential_process = {} credential-process --session {id}\nregion = eu-west-1\n",
            env!("CARGO_BIN_EXE_credtray")
        ),
    )
    .unwrap();
    assert!(caller(&env, "via-agent").contains("assumed-role/"));
    assert_eq!(assume_roles(&name), 1);

    // Another process edits the session: the agent's next answer is the new role's.
    env.run(
        &["session", "edit", "admin", "--role-arn", &f.deeper_role_arn],
        "",
    )
    .ok();
    let role = f.deeper_role_arn.rsplit('/').next().unwrap();
    let arn = caller(&env, "via-agent");
    assert!(arn.contains(&format!("assumed-role/{role}/")), "{arn}");
    drop(agent);
}

#[test]
fn one_agent_at_a_time_and_a_crashed_ones_socket_is_replaced() {
    let env = Env::new();
    let first = Agent::start(&env);
    let run = env.run(&["agent"], "");
    assert_ne!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "another credtray agent is running (process {}",
            first.pid()
        )),
        "{run:?}"
    );
    first.kill();
    assert!(socket(&env).exists(), "a crash leaves its socket file");
    let second = Agent::start(&env);
    let run = env.run(&["agent"], "");
    assert!(
        run.stderr.contains(&format!("(process {}", second.pid())),
        "{run:?}"
    );
}

#[test]
fn a_headless_agent_says_what_to_run_when_an_mfa_code_is_needed() {
    let env = Env::new();
    let f = fixtures();
    add_moto_user(
        &env,
        &f,
        "dev",
        "dev",
        &["--mfa-device", "arn:aws:iam::123456789012:mfa/dev"],
    );
    let _agent = Agent::start(&env);
    let run = env.run(&["credential-process", "--session", "dev"], "");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.is_empty());
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("credtray:"))
        .collect();
    assert_eq!(lines.len(), 1, "{run:?}");
    assert!(
        lines[0].contains("needs an MFA code") && lines[0].contains("credtray session start"),
        "{run:?}"
    );
}

#[test]
fn twenty_parallel_credential_process_calls_on_a_cold_session_make_one_assume_role() {
    let env = Env::new();
    let f = fixtures();
    add_moto_user(&env, &f, "root", "root", &[]);
    let name = format!(
        "flight-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    env.run(
        &[
            "session",
            "chain",
            "root",
            "--role-arn",
            &f.role_arn,
            "--alias",
            "ops",
            "--role-session-name",
            &name,
        ],
        "",
    )
    .ok();
    let _agent = Agent::start(&env);
    moto_requests("start");
    let calls: Vec<std::process::Child> = (0..20)
        .map(|_| {
            env.command(&["credential-process", "--session", "ops"])
                .stdin(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let keys: Vec<String> = calls
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            json["AccessKeyId"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(assume_roles(&name), 1, "one AssumeRole for twenty callers");
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
}

/// A listener on the agent's socket path that answers every request with one canned reply, as
/// a fake agent made by another user would, and counts the requests it was sent. One helper for
/// every test that stands something other than credtray's agent on the socket.
pub struct FakeAgent {
    path: std::path::PathBuf,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeAgent {
    /// Binds `path` (its directory must exist) and answers until stopped or dropped.
    pub fn answering(path: &std::path::Path, reply: &'static str) -> Self {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (counted, stopping) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            loop {
                // Read before accepting: once stopped, the connections already waiting are
                // still answered and counted, so a client that has exited is never missed.
                let stopped = stopping.load(Ordering::SeqCst);
                let Ok((mut stream, _)) = listener.accept() else {
                    if stopped {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut request = Vec::new();
                let _ = stream.read_to_end(&mut request);
                if !request.is_empty() {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        Self {
            path: path.to_owned(),
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops answering and says how many requests were sent to it, those still waiting included.
    pub fn stop(mut self) -> usize {
        self.halt();
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn halt(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for FakeAgent {
    fn drop(&mut self) {
        self.halt();
    }
}

/// What a fake agent answers with: credentials of the attacker's account.
const FAKE_CREDENTIALS: &str = r#"{"version":1,"reply":"credentials","access_key_id":"ASIAFAKEAGENTANSWER1","secret_access_key":"fakeagentsecretfakeagentsecretfakeagent1","session_token":"fake-agent-token","expiration":"2099-01-01T00:00:00Z"}"#;

/// Issue 23, item 2: `credential-process` used whatever answered on the agent's socket. Without
/// XDG_RUNTIME_DIR that socket is under /tmp, where another user can make the directory first;
/// here the directories are 0755, as theirs would be. The socket is refused before anything is
/// sent to it, its credentials are never printed, stderr names the path and why, and the command
/// does the work itself (with moto). Then a private directory with a fake agent whose error
/// carries terminal escapes: they reach stderr written out, never raw.
#[test]
fn credential_process_refuses_an_agent_socket_others_could_have_made_and_shows_no_escapes() {
    let env = Env::new();
    let f = fixtures();
    add_moto_user(&env, &f, "dev", "dev", &[]);
    let dir = env.runtime_dir().join("credtray");
    std::fs::create_dir(&dir).unwrap();
    for d in [env.runtime_dir(), dir.clone()] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let fake = FakeAgent::answering(&socket(&env), FAKE_CREDENTIALS);
    let run = env.run_moto(&["credential-process", "--session", "dev"], "");
    assert_eq!(fake.stop(), 0, "nothing is sent to it: {run:?}");
    assert!(
        !run.stdout.contains("FAKE") && !run.stderr.contains("FAKE"),
        "{run:?}"
    );
    let said = format!(
        "credtray: refusing the agent's socket {}: its directory {} has mode 0755",
        socket(&env).display(),
        dir.display()
    );
    assert_eq!(run.stderr.matches(&said).count(), 1, "{run:?}");
    assert_eq!(run.code, 0, "the work is done here instead: {run:?}");
    // moto's session credentials, from GetSessionToken made here.
    let json = run.json();
    assert_eq!(json["Version"], 1, "{json}");
    assert!(!json["SessionToken"].as_str().unwrap().is_empty(), "{json}");

    for d in [env.runtime_dir(), dir] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let _fake = FakeAgent::answering(
        &socket(&env),
        r#"{"version":1,"reply":"error","kind":"aws","message":"denied\u001b]0;owned\u0007\u001b[2J\r\ncredtray: all is well"}"#,
    );
    let run = env.run(&["credential-process", "--session", "dev"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        !run.stderr.contains(['\u{1b}', '\u{7}', '\r']),
        "no raw control character: {run:?}"
    );
    assert!(
        run.stderr
            .contains(r"credtray: denied\u{1b}]0;owned\u{7}\u{1b}[2J\r\ncredtray: all is well"),
        "{run:?}"
    );
}

/// `credtray agent` run as [`crate::console::RACER`] in a home of its own: its process id,
/// and `runuser`'s process, which waits for it. Killed when dropped.
struct RacerAgent {
    runuser: Child,
    pid: u32,
    _home: tempfile::TempDir,
}

impl RacerAgent {
    fn start() -> Self {
        crate::console::ensure_racer();
        let home = tempfile::Builder::new()
            .prefix("credtray-undumpable-")
            .tempdir()
            .unwrap();
        for dir in ["home", "run", "config"] {
            std::fs::create_dir(home.path().join(dir)).unwrap();
        }
        std::fs::set_permissions(
            home.path().join("run"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        let chown = std::process::Command::new("chown")
            .args(["-R", crate::console::RACER])
            .arg(home.path())
            .status()
            .unwrap();
        assert!(chown.success(), "chown {chown}");
        let at = |dir: &str| home.path().join(dir).display().to_string();
        // No keychain is reachable for this user; the agent starts without one (it asks the
        // keychain only when a request needs it).
        let mut runuser = std::process::Command::new("runuser")
            .args(["-u", crate::console::RACER, "--", "env", "-i"])
            .arg("PATH=/usr/bin:/bin")
            .arg(format!("HOME={}", at("home")))
            .arg(format!("XDG_RUNTIME_DIR={}", at("run")))
            .arg(format!("CREDTRAY_CONFIG_DIR={}", at("config")))
            .arg(env!("CARGO_BIN_EXE_credtray"))
            .arg("agent")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runuser (util-linux) runs the agent");
        // "credtray agent: listening on … (process N)": runuser forks, so the agent's id is
        // its own.
        let mut said = String::new();
        let mut lines =
            std::io::BufRead::lines(std::io::BufReader::new(runuser.stderr.take().unwrap()));
        let pid = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = runuser.kill();
                panic!("the agent ended before listening: {said}");
            };
            said.push_str(&line);
            said.push('\n');
            if let Some(rest) = line.split_once("(process ").map(|(_, rest)| rest)
                && line.contains("listening on")
            {
                break rest.trim_end_matches(')').parse::<u32>().unwrap();
            }
        };
        // Drain the rest, so the agent never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            runuser,
            pid,
            _home: home,
        }
    }
}

impl Drop for RacerAgent {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.pid as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        let _ = self.runuser.kill();
        let _ = self.runuser.wait();
    }
}

/// `argv` run as [`crate::console::RACER`].
fn as_racer(argv: &[&str]) -> crate::harness::Run {
    let out = std::process::Command::new("runuser")
        .args(["-u", crate::console::RACER, "--"])
        .args(argv)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    crate::harness::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn the_agents_own_user_cannot_read_its_environment_or_memory_through_proc() {
    // As a throw-away user: root reads every process's /proc files, whatever the agent does.
    let agent = RacerAgent::start();
    let proc = format!("/proc/{}", agent.pid);
    // It is the racer's own process, and the racer may read /proc as usual (no hidepid): its
    // own command's environment, and the agent's world-readable command line.
    let status = std::fs::read_to_string(format!("{proc}/status")).unwrap();
    let racer_uid = std::process::Command::new("id")
        .args(["-u", crate::console::RACER])
        .output()
        .unwrap();
    let racer_uid = String::from_utf8(racer_uid.stdout).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid_line.split_whitespace().nth(1),
        Some(racer_uid.trim()),
        "{uid_line}"
    );
    as_racer(&["cat", "/proc/self/environ"]).ok();
    let cmdline = as_racer(&["cat", &format!("{proc}/cmdline")]).ok();
    assert!(cmdline.stdout.contains("agent"), "{cmdline:?}");

    // But not the agent's environment, nor its memory.
    let environ = as_racer(&["cat", &format!("{proc}/environ")]);
    assert!(
        environ.code != 0 && environ.stderr.contains("Permission denied"),
        "the agent's own user read its environment: {environ:?}"
    );
    let mem = as_racer(&[
        "/usr/bin/python3",
        "-c",
        &format!("open('{proc}/mem', 'rb')"),
    ]);
    assert!(
        mem.code != 0 && mem.stderr.contains("PermissionError"),
        "the agent's own user opened its memory: {mem:?}"
    );
}
