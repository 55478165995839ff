//! Running an MFA source ([`MfaSource`]): `ykman` or the user's command, without a shell,
//! with nothing on its standard input, its standard error passed to the log line by line and
//! its standard output read into wiped buffers, stopped when it gives no code within its time
//! ([`timeout`]) or when the caller gives up. What it printed never reaches a log or a
//! message: a failure is one sentence naming the program and why (with its last line of error
//! output, escaped and cut short).
//!
//! Where a person is at a terminal the source stays in credtray's process group, so that it
//! can ask there (`op` for its password) and Ctrl-C ends it with credtray. Elsewhere (the
//! agent, the tray) it gets a group of its own, which is stopped whole: what it started too.

use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::session::{MfaCode, MfaSource};

/// How long a source may take: long enough to find a YubiKey and touch it, or to unlock a
/// password manager.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Overrides [`TIMEOUT`] in seconds (tests of a source that hangs).
const TIMEOUT_VAR: &str = "CREDTRAY_MFA_SOURCE_TIMEOUT";

/// How long output may still come after the source exited (a process it left behind may hold
/// the pipe open).
const AFTER_EXIT: Duration = Duration::from_millis(200);

/// The most of a source's error line a message shows.
const SAID_MAX: usize = 200;

/// Why a source gave no code, as one sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Failed(String);

impl Failed {
    pub fn new(sentence: String) -> Self {
        Self(sentence)
    }
}

/// The time a source has: [`TIMEOUT`], or `CREDTRAY_MFA_SOURCE_TIMEOUT`'s seconds.
pub fn timeout() -> Duration {
    std::env::var(TIMEOUT_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(TIMEOUT, Duration::from_secs)
}

/// The code `source` gives now, within `limit`; `cancelled` is asked while it runs (the
/// tray quitting), and stops it.
pub fn code(
    source: &MfaSource,
    limit: Duration,
    cancelled: &dyn Fn() -> bool,
) -> Result<MfaCode, Failed> {
    let words: Vec<&str> = match source {
        MfaSource::Ykman { account } => {
            vec!["ykman", "oath", "accounts", "code", "--single", account]
        }
        MfaSource::Process(command) => command.words().iter().map(String::as_str).collect(),
    };
    let ran = run(source, &words, limit, cancelled)?;
    let program = source.program();
    if !ran.status.success() {
        return Err(Failed(failure(source, &ran)));
    }
    let text = Zeroizing::new(String::from_utf8_lossy(&ran.stdout).into_owned());
    let last = text.lines().map(str::trim).rfind(|l| !l.is_empty());
    last.and_then(|line| line.parse::<MfaCode>().ok())
        .ok_or_else(|| {
            Failed(format!(
                "{program} printed no MFA code (its last line of output is not six digits)"
            ))
        })
}

/// What a finished source gave back.
struct Ran {
    status: ExitStatus,
    stdout: Zeroizing<Vec<u8>>,
    /// Its last line of error output, escaped, for the sentence of a failure.
    last_error: Option<String>,
}

/// The sentence of a source that exited with a failure.
fn failure(source: &MfaSource, ran: &Ran) -> String {
    let program = source.program();
    let said = ran.last_error.as_deref().unwrap_or("");
    if matches!(source, MfaSource::Ykman { .. }) && said.contains("No YubiKey") {
        return format!("no YubiKey is plugged in (ykman: {said})");
    }
    let how = match ran.status.code() {
        Some(code) => format!("exit status {code}"),
        None => "ended by a signal".to_owned(),
    };
    if said.is_empty() {
        format!("{program} failed ({how}) without saying why")
    } else {
        format!("{program} failed ({how}): {said}")
    }
}

/// Output read so far, in a buffer that is wiped (the old one when it grows, the last when
/// dropped), whole once `done`.
#[derive(Default)]
struct Output {
    bytes: Zeroizing<Vec<u8>>,
    done: bool,
}

fn run(
    source: &MfaSource,
    words: &[&str],
    limit: Duration,
    cancelled: &dyn Fn() -> bool,
) -> Result<Ran, Failed> {
    let program = source.program();
    let mut command = Command::new(words[0]);
    command
        .args(&words[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Module docs: a group of its own only where no person is at a terminal.
    let own_group = !(std::io::stdin().is_terminal() || std::io::stderr().is_terminal());
    #[cfg(unix)]
    if own_group {
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
    }
    let mut child = command.spawn().map_err(|e| {
        Failed(match (e.kind(), source) {
            (std::io::ErrorKind::NotFound, MfaSource::Ykman { .. }) => {
                "ykman (YubiKey Manager) is not installed or not on PATH: install it (yubikey-manager) or choose another MFA source".to_owned()
            }
            (std::io::ErrorKind::NotFound, _) => {
                format!("the MFA source's program {program:?} was not found")
            }
            _ => format!("cannot run {program:?}: {e}"),
        })
    })?;
    let output = Arc::new(Mutex::new(Output::default()));
    if let Some(stdout) = child.stdout.take() {
        let output = output.clone();
        std::thread::spawn(move || read_into(stdout, &output));
    } else {
        lock(&output).done = true;
    }
    let (err_tx, err_rx) = mpsc::channel();
    let stderr = child.stderr.take();
    let name = program.to_owned();
    std::thread::spawn(move || {
        let mut last = None;
        if let Some(stderr) = stderr {
            // Split on bytes: a line that is not UTF-8 must not stop the reading (the source
            // would die of SIGPIPE at its next line).
            for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
                let line = String::from_utf8_lossy(&line).trim().to_owned();
                if !line.is_empty() {
                    let line = crate::redact::escaped(&line, Some(SAID_MAX));
                    tracing::info!(source = %name, "{line}");
                    last = Some(line);
                }
            }
        }
        let _ = err_tx.send(last);
    });
    let deadline = Instant::now() + limit;
    let Some(status) = wait(&mut child, deadline, cancelled) else {
        stop(&mut child, own_group);
        return Err(Failed(if cancelled() {
            format!("{program} was stopped: credtray is quitting")
        } else {
            format!(
                "{program} gave no MFA code within {} s and was stopped",
                limit.as_secs().max(1)
            )
        }));
    };
    // Output may still come a moment after the exit; a process left behind holding the pipe
    // is not waited for (and, in a group of its own, is stopped).
    let grace = Instant::now() + AFTER_EXIT;
    while !lock(&output).done && Instant::now() < grace {
        std::thread::sleep(Duration::from_millis(10));
    }
    if !lock(&output).done && own_group {
        stop_group(&child);
    }
    let stdout = std::mem::take(&mut lock(&output).bytes);
    let last_error = err_rx.recv_timeout(AFTER_EXIT).ok().flatten();
    Ok(Ran {
        status,
        stdout,
        last_error,
    })
}

fn lock(output: &Mutex<Output>) -> std::sync::MutexGuard<'_, Output> {
    output.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads `reader` into `output` as it comes, so that what came is there even if the pipe
/// never closes.
fn read_into(mut reader: impl Read, output: &Mutex<Output>) {
    let mut chunk = Zeroizing::new([0u8; 256]);
    loop {
        match reader.read(&mut chunk[..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => crate::secrets::extend_wiped(&mut lock(output).bytes, &chunk[..n]),
        }
    }
    lock(output).done = true;
}

/// The child's exit status, or `None` at the deadline or once `cancelled`.
fn wait(child: &mut Child, deadline: Instant, cancelled: &dyn Fn() -> bool) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline && !cancelled() => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) | Err(_) => return None,
        }
    }
}

/// Kills the child (with the processes it started, in a group of its own), and reaps it.
fn stop(child: &mut Child, own_group: bool) {
    if own_group {
        stop_group(child);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Kills the child's process group: the child's id is the group's while the child, or one of
/// its processes, is in it.
fn stop_group(child: &Child) {
    #[cfg(not(unix))]
    let _ = child;
    #[cfg(unix)]
    if let Some(group) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn process(script: &str) -> MfaSource {
        let quoted = shlex::try_quote(script).unwrap();
        format!("process:sh -c {quoted}").parse().unwrap()
    }

    fn code_of(source: &MfaSource) -> Result<MfaCode, Failed> {
        code(source, Duration::from_secs(20), &|| false)
    }

    #[test]
    fn the_last_line_of_output_is_the_code() {
        let code = code_of(&process("echo 'Your code:'; echo ' 123456 '; echo")).unwrap();
        assert_eq!(code.as_str(), "123456");
    }

    #[test]
    fn each_failure_is_one_sentence_naming_the_program_and_why() {
        let cases = [
            (process("echo 1234567"), "sh printed no MFA code"),
            (
                process("echo oops >&2; exit 3"),
                "sh failed (exit status 3): oops",
            ),
            (
                process("exit 5"),
                "sh failed (exit status 5) without saying why",
            ),
            (
                "process:/nonexistent/otp".parse().unwrap(),
                "\"/nonexistent/otp\" was not found",
            ),
            // What it said is shown escaped: it can't drive the terminal.
            (
                process("printf '\\033[31mred\\n' >&2; exit 1"),
                "sh failed (exit status 1): \\u{1b}[31mred",
            ),
        ];
        for (source, sentence) in cases {
            let Err(Failed(said)) = code_of(&source) else {
                panic!("{source} gave a code")
            };
            assert!(said.contains(sentence), "{source}: {said}");
        }
    }

    #[test]
    fn error_output_that_is_not_text_does_not_stop_the_source() {
        let source = process("printf '\\377\\376\\n' >&2; sleep 0.2; echo more >&2; echo 123456");
        assert_eq!(code_of(&source).unwrap().as_str(), "123456");
    }

    #[test]
    fn a_process_left_behind_holding_the_output_is_not_waited_for() {
        let started = Instant::now();
        let source = process("sleep 30 & echo 123456");
        assert_eq!(code_of(&source).unwrap().as_str(), "123456");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_source_that_hangs_is_stopped_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
        let started = Instant::now();
        let Err(Failed(said)) = code(&process(&script), Duration::from_secs(1), &|| false) else {
            panic!("it finished")
        };
        assert!(said.contains("within 1 s and was stopped"), "{said}");
        assert!(started.elapsed() < Duration::from_secs(10));
        if std::io::stdin().is_terminal() || std::io::stderr().is_terminal() {
            return; // At a terminal the source shares credtray's group: only it is stopped.
        }
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let alive = std::path::Path::new(&format!("/proc/{}", pid.trim())).exists()
            && !std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
                .unwrap_or_default()
                .contains(") Z ");
        assert!(!alive, "the sleep it started was stopped too");
    }

    #[test]
    fn a_cancelled_source_is_stopped_at_once() {
        let started = Instant::now();
        let Err(Failed(said)) = code(&process("sleep 30"), Duration::from_secs(20), &|| {
            started.elapsed() > Duration::from_millis(300)
        }) else {
            panic!("it finished")
        };
        assert!(said.contains("credtray is quitting"), "{said}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
