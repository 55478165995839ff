//! `credtray exec` and `credtray env` with real clients: the AWS CLI, boto3 and the Rust SDK's
//! container provider (examples/ecs_probe) read the loopback endpoint against moto; a stub STS
//! with 30-second credentials shows a long-running child getting fresh ones; bash and fish read
//! `env`'s output back.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::engine::{add_moto_chain, add_moto_user};
use crate::harness::{Env, Run, finish, fixtures, moto, support_server};

fn python() -> String {
    std::env::var("CREDTRAY_TEST_PYTHON").expect("CREDTRAY_TEST_PYTHON is set by scripts/test")
}

fn aws_cli() -> String {
    std::env::var("CREDTRAY_TEST_AWS").expect("CREDTRAY_TEST_AWS is set by scripts/test")
}

/// `credtray exec SESSION -- CMD…` against `endpoint`.
fn exec(env: &Env, endpoint: &str, session: &str, extra: &[&str], command: &[&str]) -> Run {
    let mut args = vec!["exec", session];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(command);
    env.run_against(endpoint, &args, "")
}

/// A `[default]` profile with keys of its own in both files, and a credential_process: none of
/// it may win over the session's endpoint.
fn write_foreign_default(env: &Env) {
    std::fs::create_dir_all(env.aws_dir()).unwrap();
    std::fs::write(
        env.aws_dir().join("credentials"),
        "[default]\naws_access_key_id = AKIAFOREIGNDEFAULT01\naws_secret_access_key = foreign\n",
    )
    .unwrap();
    std::fs::write(
        env.aws_dir().join("config"),
        "[default]\nregion = sa-east-1\noutput = json\ncredential_process = /bin/false\naws_access_key_id = AKIAFOREIGNCONFIG001\naws_secret_access_key = foreign\n",
    )
    .unwrap();
}

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_credtray"))
        .parent()
        .unwrap()
        .join("examples")
}

/// The identity the AWS CLI has under `credtray exec ops` against moto.
fn aws_cli_caller(env: &Env) -> String {
    let run = exec(
        env,
        &moto(),
        "ops",
        &[],
        &[&aws_cli(), "sts", "get-caller-identity", "--output", "json"],
    )
    .ok();
    run.json()["Arn"].as_str().unwrap().to_owned()
}

const BOTO3_CALLER: &str = "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])";

#[test]
fn the_aws_cli_boto3_and_the_rust_sdk_get_the_chained_roles_identity_and_the_child_no_secret() {
    let env = Env::new();
    let f = fixtures();
    add_moto_user(&env, &f, "dev", "dev", &[]);
    add_moto_chain(&env, &f);
    write_foreign_default(&env);
    let files_before = env.aws_files();

    let arn = aws_cli_caller(&env);
    assert!(
        arn.contains(":assumed-role/") && arn.contains(f.role_arn.rsplit('/').next().unwrap()),
        "{arn}"
    );

    let run = exec(&env, &moto(), "ops", &[], &[&python(), "-c", BOTO3_CALLER]).ok();
    assert_eq!(run.stdout.trim(), arn, "boto3 sees the same identity");

    // The Rust SDK's ECS provider reads the endpoint too (its access key id is the role's).
    let probe = examples_dir().join("ecs_probe");
    let run = exec(&env, &moto(), "ops", &[], &[probe.to_str().unwrap()]).ok();
    assert!(run.stdout.trim().starts_with("ASIA"), "{run:?}");

    // The child's environment: the endpoint and its token, the session's region; no secret, no
    // caller's identity variables, and the shared files replaced by credential-less copies.
    let mut run = env.command(&["exec", "ops", "--", "env"]);
    run.env("AWS_ENDPOINT_URL", moto())
        .env("AWS_PROFILE", "personal")
        .env("AWS_ACCESS_KEY_ID", "AKIACALLER0000000001")
        .env(
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "/v2/credentials/x",
        );
    let run = finish(run, "").ok();
    let vars: Vec<&str> = run.stdout.lines().collect();
    let get = |name: &str| {
        vars.iter()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    };
    assert!(
        get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert!(
        get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
            .unwrap()
            .starts_with("Bearer ")
    );
    assert_eq!(get("AWS_REGION").as_deref(), Some("eu-west-1"));
    assert_eq!(get("AWS_DEFAULT_REGION").as_deref(), Some("eu-west-1"));
    for gone in [
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ] {
        assert_eq!(get(gone), None, "{gone} reached the child");
    }
    assert_eq!(
        get("AWS_ENDPOINT_URL").as_deref(),
        Some(moto().as_str()),
        "kept"
    );
    assert!(!run.stdout.contains(&f.secret_access_key) && !run.stdout.contains(&f.access_key_id));
    let config = std::fs::read_to_string(get("AWS_CONFIG_FILE").unwrap());
    assert!(
        config.is_err(),
        "the copies are removed when the command ends"
    );
    assert_eq!(
        env.aws_files(),
        files_before,
        "the user's files are untouched"
    );
}

/// botocore reads `[profile "default"]` as the default profile too: keys there would win over
/// the endpoint, and the child would run as their identity instead of the session's.
#[test]
fn a_quoted_default_profile_in_the_config_does_not_win_over_the_session() {
    let env = Env::new();
    let f = fixtures();
    add_moto_user(&env, &f, "dev", "dev", &[]);
    add_moto_chain(&env, &f);
    std::fs::create_dir_all(env.aws_dir()).unwrap();
    std::fs::write(
        env.aws_dir().join("config"),
        "[profile \"default\"]\nregion = sa-east-1\naws_access_key_id = AKIAFOREIGNQUOTED001\naws_secret_access_key = foreign\n",
    )
    .unwrap();
    let arn = aws_cli_caller(&env);
    assert!(arn.contains(":assumed-role/"), "the child ran as {arn}");
}

#[test]
fn the_endpoint_refuses_a_wrong_or_missing_token() {
    let env = Env::new();
    let f = fixtures();
    add_moto_user(&env, &f, "dev", "dev", &[]);
    let script = r#"
import os, urllib.request, urllib.error
url = os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI']
token = os.environ['AWS_CONTAINER_AUTHORIZATION_TOKEN']
def status(headers):
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers)).status
    except urllib.error.HTTPError as e:
        return e.code
print(status({'Authorization': token}), status({}), status({'Authorization': token[:-1] + 'x'}),
      status({'Authorization': token.replace('Bearer ', '')}))
"#;
    let run = exec(&env, &moto(), "dev", &[], &[&python(), "-c", script]).ok();
    assert_eq!(run.stdout.trim(), "200 401 401 401");
}

#[test]
fn a_child_that_outlives_its_first_credentials_gets_fresh_ones_without_restarting() {
    let env = Env::new();
    let (mut stub, port) = support_server("sts_stub.py", &["30".as_ref()]);
    let endpoint = format!("http://127.0.0.1:{port}");
    env.run(
        &[
            "session",
            "add",
            "iam-user",
            "--alias",
            "short",
            "--access-key-id",
            "-",
            "--secret-access-key",
            "-",
        ],
        "AKIAIOSFODNN7EXAMPLE\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    )
    .ok();
    // 30-second credentials are due after 20 s (a third of their life is their margin).
    let script = r#"
import time, boto3
credentials = boto3.Session().get_credentials()
print(credentials.get_frozen_credentials().access_key, flush=True)
time.sleep(24)
print(credentials.get_frozen_credentials().access_key, flush=True)
"#;
    let run = exec(&env, &endpoint, "short", &[], &[&python(), "-c", script]);
    let _ = stub.kill();
    let _ = stub.wait();
    let run = run.ok();
    let keys: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(keys.len(), 2, "{run:?}");
    assert!(
        keys[0].starts_with("ASIASTUB") && keys[1].starts_with("ASIASTUB"),
        "{keys:?}"
    );
    assert_ne!(
        keys[0], keys[1],
        "the second read got refreshed credentials"
    );
}

#[test]
fn the_commands_exit_status_and_signals_are_credtrays() {
    let env = Env::new();
    let f = fixtures();
    add_moto_user(&env, &f, "dev", "dev", &[]);
    assert_eq!(
        exec(&env, &moto(), "dev", &[], &["sh", "-c", "exit 7"]).code,
        7
    );
    assert_eq!(
        exec(&env, &moto(), "dev", &["--env"], &["sh", "-c", "exit 9"]).code,
        9
    );
    let run = exec(&env, &moto(), "dev", &[], &["/nonexistent/tool"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("/nonexistent/tool"), "{run:?}");

    // SIGTERM to credtray reaches the command, whose exit status is credtray's.
    let mut cmd = env.command(&[
        "exec",
        "dev",
        "--",
        "sh",
        "-c",
        "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.1; done",
    ]);
    cmd.env("AWS_ENDPOINT_URL", moto()).stdin(Stdio::null());
    let mut child: Child = cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = child.wait().unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "got-term");
    assert_eq!(status.code(), Some(3));
}

#[test]
fn the_command_exec_runs_is_dumpable_as_usual() {
    // credtray exec marks itself non-dumpable (`credtray::harden`); execve of an ordinary
    // program resets that, so the command can be debugged and dumps core as it would anyway.
    let env = Env::new();
    let f = fixtures();
    add_moto_user(&env, &f, "dev", "dev", &[]);
    let python = python();
    let run = exec(
        &env,
        &moto(),
        "dev",
        &[],
        &[
            &python,
            "-c",
            "import ctypes; print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))", // PR_GET_DUMPABLE
        ],
    )
    .ok();
    assert_eq!(run.stdout.trim(), "1", "{run:?}");
}

#[test]
fn env_output_is_read_back_by_each_shell_and_exec_env_gives_the_same_identity() {
    let env = Env::new();
    let f = fixtures();
    add_moto_user(&env, &f, "dev", "dev", &[]);
    let print_env = "printf '%s %s %s\\n' \"$AWS_ACCESS_KEY_ID\" \"$AWS_REGION\" \"$AWS_CREDENTIAL_EXPIRATION\"";
    let sh = env.run_moto(&["env", "dev"], "").ok();
    assert!(sh.stderr.contains("plaintext"), "{sh:?}");
    let key = sh
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("export AWS_ACCESS_KEY_ID='"))
        .unwrap()
        .trim_end_matches('\'')
        .to_owned();
    assert!(key.len() >= 16, "{key}");
    let read = Command::new("bash")
        .arg("-c")
        .arg(format!("eval \"$1\"; {print_env}"))
        .arg("bash")
        .arg(&sh.stdout)
        .output()
        .unwrap();
    let read = String::from_utf8(read.stdout).unwrap();
    assert!(read.starts_with(&format!("{key} eu-west-1 20")), "{read}");

    let fish = env.run_moto(&["env", "dev", "--format", "fish"], "").ok();
    let read = Command::new("fish")
        .arg("-c")
        .arg(format!(
            "{}; echo $AWS_ACCESS_KEY_ID $AWS_REGION",
            fish.stdout
        ))
        .output()
        .expect("fish is installed by scripts/test");
    assert_eq!(
        String::from_utf8(read.stdout).unwrap().trim(),
        format!("{key} eu-west-1")
    );

    if Command::new("pwsh").arg("-Version").output().is_ok() {
        let ps = env
            .run_moto(&["env", "dev", "--format", "powershell"], "")
            .ok();
        let read = Command::new("pwsh")
            .args(["-NoProfile", "-Command"])
            .arg(format!(
                "{}; Write-Output $Env:AWS_ACCESS_KEY_ID",
                ps.stdout
            ))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(read.stdout).unwrap().trim(), key);
    }

    let json = env
        .run_moto(&["env", "dev", "--format", "json"], "")
        .ok()
        .json();
    assert_eq!(json["AWS_ACCESS_KEY_ID"], key.as_str());
    assert_eq!(json["AWS_REGION"], "eu-west-1");
    assert!(json["AWS_SECRET_ACCESS_KEY"].as_str().unwrap().len() > 10);

    let dotenv = env.run_moto(&["env", "dev", "--format", "dotenv"], "").ok();
    let parsed = Command::new(python())
        .arg("-c")
        .arg("import sys, shlex\nfor l in sys.stdin:\n  k, v = l.rstrip('\\n').split('=', 1)\n  print(k, shlex.split(v)[0])")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = {
        use std::io::Write;
        let mut parsed = parsed;
        parsed
            .stdin
            .take()
            .unwrap()
            .write_all(dotenv.stdout.as_bytes())
            .unwrap();
        String::from_utf8(parsed.wait_with_output().unwrap().stdout).unwrap()
    };
    assert!(out.contains(&format!("AWS_ACCESS_KEY_ID {key}")), "{out}");

    // exec --env: static variables (the cached token, so the same key) and the same identity.
    let run = exec(&env, &moto(), "dev", &["--env"], &["sh", "-c", print_env]).ok();
    assert!(
        run.stdout.starts_with(&format!("{key} eu-west-1 20")),
        "{run:?}"
    );
    let run = exec(
        &env,
        &moto(),
        "dev",
        &["--env"],
        &[&python(), "-c", BOTO3_CALLER],
    )
    .ok();
    let via_endpoint = exec(&env, &moto(), "dev", &[], &[&python(), "-c", BOTO3_CALLER]).ok();
    assert_eq!(run.stdout, via_endpoint.stdout);
    assert!(run.stdout.contains(":user/"), "{run:?}");
}

#[test]
fn exec_needs_a_command_and_a_known_session() {
    let env = Env::new();
    let run = env.run(&["exec", "nobody", "--", "true"], "");
    assert_eq!(run.code, 2, "{run:?}");
    let run = env.run(&["exec", "nobody"], "");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("COMMAND"), "{run:?}");
}

/// utime + stime of a process, in clock ticks (`/proc/<pid>/stat`, all its threads).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// A `credtray exec dev` whose command hands the test its endpoint and token, then waits to
/// be ended; ended (it passes SIGTERM on to its command) however the test ends.
struct Serving {
    child: Child,
    /// The endpoint's `host:port`.
    addr: String,
    /// A whole, valid request for the credentials.
    request: String,
}

impl Serving {
    fn start(env: &Env) -> Self {
        let f = fixtures();
        add_moto_user(env, &f, "dev", "dev", &[]);
        let mut cmd = env.command(&[
            "exec",
            "dev",
            "--",
            "sh",
            "-c",
            "echo \"$AWS_CONTAINER_CREDENTIALS_FULL_URI\"; echo \"$AWS_CONTAINER_AUTHORIZATION_TOKEN\"; exec sleep 120",
        ]);
        cmd.env("AWS_ENDPOINT_URL", moto())
            .stdin(Stdio::null())
            .stderr(std::fs::File::create(env.root.join("exec.log")).unwrap());
        let mut child = cmd.spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (mut uri, mut token) = (String::new(), String::new());
        out.read_line(&mut uri).unwrap();
        out.read_line(&mut token).unwrap();
        let url = url::Url::parse(uri.trim()).unwrap();
        let addr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\n\r\n",
            url.path(),
            token.trim()
        );
        Self {
            child,
            addr,
            request,
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let _ = self.child.wait();
    }
}

#[test]
fn idle_connections_filling_the_endpoints_descriptors_neither_spin_it_nor_shut_a_request_out() {
    let env = Env::new();
    let exec = Serving::start(&env);
    let (pid, addr, request) = (exec.child.id(), &exec.addr, &exec.request);

    // credtray's descriptor limit is lowered to what it holds and 20 more (well under the
    // connections it serves at once), and as many connections that send a byte now and then,
    // never finishing their request, take them all.
    let open: Vec<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|fd| fd.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    let fds = || {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count() as u64
    };
    // New descriptors take the lowest free numbers below the limit (one inherited above it
    // stays open and counts for nothing).
    let limit = open.len() as u64 + 20;
    let free = limit - open.iter().filter(|fd| **fd < limit).count() as u64;
    rustix::process::prlimit(
        rustix::process::Pid::from_raw(pid as i32),
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit {
            current: Some(limit),
            maximum: Some(limit),
        },
    )
    .unwrap();
    let mut idle: Vec<TcpStream> = (0..free)
        .map(|_| {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(b"G").unwrap();
            c
        })
        .collect();
    let drip = |idle: &mut Vec<TcpStream>| {
        for c in idle.iter_mut() {
            let _ = c.write_all(b"E");
        }
    };
    let filled = Instant::now();
    let full = open.len() as u64 + free;
    while fds() < full {
        assert!(
            filled.elapsed() < Duration::from_secs(3),
            "credtray has {} descriptors, not {full} (its limit is {limit})",
            fds()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // While they hang, credtray waits for one to end instead of retrying accept at once.
    // Filling may have taken up to 3 s of the slow connections' 5 s for their head, so the
    // first may be closed before these 2.5 s are measured: the step is then weaker (a freed
    // descriptor is not retried for), not flaky; the request below is answered either way.
    let before = cpu_ticks(pid);
    let measured = Instant::now();
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(500));
        drip(&mut idle);
    }
    let ticks = cpu_ticks(pid) - before;
    // Clock ticks are USER_HZ, 100 a second on Linux: under a tenth of one core.
    let allowed = measured.elapsed().as_secs_f64() * 100.0 / 10.0;
    assert!(
        (ticks as f64) < allowed,
        "{ticks} ticks of CPU in {:?} with its descriptors full",
        measured.elapsed()
    );

    // A request waiting behind them is answered once one of them closes.
    let mut asking = TcpStream::connect(addr).unwrap();
    asking.write_all(request.as_bytes()).unwrap();
    drop(idle.pop());
    let closed = Instant::now();
    asking
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    let read = asking.read_to_string(&mut answer);
    assert!(
        read.is_ok() && answer.starts_with("HTTP/1.1 200") && answer.contains("\"AccessKeyId\""),
        "{read:?} {answer:?}"
    );
    assert!(
        closed.elapsed() < Duration::from_secs(5),
        "answered {:?} after a descriptor came free",
        closed.elapsed()
    );

    // And the slow ones had five seconds for their whole request, however often they sent.
    for c in &idle {
        c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    }
    while !idle.is_empty() {
        assert!(
            filled.elapsed() < Duration::from_secs(15),
            "{} slow connections still open {:?} after they came",
            idle.len(),
            filled.elapsed()
        );
        drip(&mut idle);
        idle.retain(|c| {
            let mut c: &TcpStream = c;
            match c.read(&mut [0u8; 64]) {
                Ok(n) => n > 0,
                Err(e) => matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
            }
        });
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// What the racer does to `credtray exec`'s endpoint, as another user: it holds `count`
/// connections open without a byte sent, and opens another in place of each one the endpoint
/// ends (a 503 beyond its room, or its head deadline), every 0.3 s until the test's `stop`
/// file appears; it counts the 503s it got.
const ENDPOINT_RACER: &str = r#"
import json, os, socket, sys, time
host, port, shared, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
out = {'uid': os.getuid(), 'connected': 0, 'busy': 0}
held = [None] * count
try:
    end = time.time() + 90
    while time.time() < end and not os.path.exists(shared + '/stop'):
        for i in range(count):
            if held[i] is not None:
                try:
                    if held[i].recv(4096).startswith(b'HTTP/1.1 503'):
                        out['busy'] += 1
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                held[i].close()
                held[i] = None
            try:
                held[i] = socket.create_connection((host, port), timeout=5)
                held[i].setblocking(False)
                out['connected'] += 1
            except OSError as e:
                out['error'] = repr(e)
        if not os.path.exists(shared + '/ready'):
            open(shared + '/ready', 'w').close()
        time.sleep(0.3)
except Exception as e:
    out['failed'] = repr(e)
json.dump(out, open(shared + '/racer.json', 'w'))
"#;

#[test]
fn another_user_holding_every_connection_they_can_get_does_not_keep_our_requests_out() {
    crate::console::ensure_racer();
    let env = Env::new();
    let exec = Serving::start(&env);
    let (host, port) = exec.addr.split_once(':').unwrap();
    let shared = crate::console::racer_dir();
    // More connections than the endpoint serves at once (64), held open by another user.
    let mut racer = Command::new("runuser")
        .args(["-u", crate::console::RACER, "--"])
        .args(["/usr/bin/python3", "-c", ENDPOINT_RACER, host, port])
        .arg(shared.path())
        .arg("80")
        .stdin(Stdio::null())
        .spawn()
        .expect("runuser (util-linux) runs the racer");
    /// Stops the racer however the test ends.
    struct Stop<'a>(&'a Path);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = std::fs::write(self.0.join("stop"), "");
        }
    }
    let stop = Stop(shared.path());
    let ready = Instant::now();
    while !shared.path().join("ready").exists() {
        assert!(
            ready.elapsed() < Duration::from_secs(60),
            "the racer never connected"
        );
        assert!(racer.try_wait().unwrap().is_none(), "the racer ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let it hold them a while and reopen what the endpoint ended.
    std::thread::sleep(Duration::from_secs(1));

    // Each of our requests, a moment apart, is answered at once with the credentials.
    for _ in 0..5 {
        let asked = Instant::now();
        let mut asking = TcpStream::connect(&exec.addr).unwrap();
        asking.write_all(exec.request.as_bytes()).unwrap();
        asking
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut answer = String::new();
        let read = asking.read_to_string(&mut answer);
        assert!(
            read.is_ok()
                && answer.starts_with("HTTP/1.1 200")
                && answer.contains("\"AccessKeyId\""),
            "{read:?} {answer:?}"
        );
        // A generous bound for a loaded machine; an SDK times out after 2 s (botocore: 1 s).
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "answered after {:?}",
            asked.elapsed()
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    drop(stop);
    let raced = racer.wait().unwrap();
    assert!(raced.success(), "{raced:?}");
    let racer: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shared.path().join("racer.json")).unwrap())
            .unwrap();
    // The racer really was another user and really was held to its room.
    assert_ne!(racer["uid"], 0, "{racer}");
    assert!(racer.get("failed").is_none(), "{racer}");
    assert!(racer["busy"].as_u64().unwrap() > 0, "{racer}");
}
