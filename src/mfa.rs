//! Running an MFA source ([`MfaSource`]): `ykman` or the user's command, without a shell,
//! with nothing on its standard input, its standard error passed to the log line by line and
//! its standard output read into wiped buffers, stopped (with the processes it started) when
//! it gives no code within [`TIMEOUT`]. What it printed never reaches a log or a message: a
//! failure is one sentence naming the program and why.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::session::{MfaCode, MfaSource};

/// How long a source may take: long enough to find a YubiKey and touch it, or to unlock a
/// password manager.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Overrides [`TIMEOUT`] in seconds (tests of a source that hangs).
const TIMEOUT_VAR: &str = "CREDTRAY_MFA_SOURCE_TIMEOUT";

/// Why a source gave no code, as one sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Failed(String);

/// The code `source` gives now.
pub fn code(source: &MfaSource) -> Result<MfaCode, Failed> {
    let words: Vec<&str> = match source {
        MfaSource::Ykman { account } => {
            vec!["ykman", "oath", "accounts", "code", "--single", account]
        }
        MfaSource::Process(command) => command.words().iter().map(String::as_str).collect(),
    };
    let timeout = std::env::var(TIMEOUT_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(TIMEOUT, Duration::from_secs);
    let ran = run(source, &words, timeout)?;
    let program = source.program();
    if !ran.status.success() {
        return Err(Failed(failure(source, &ran)));
    }
    let text = String::from_utf8_lossy(&ran.stdout);
    let text = Zeroizing::new(text.into_owned());
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
    /// Its last line of error output, for the sentence of a failure.
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

fn run(source: &MfaSource, words: &[&str], timeout: Duration) -> Result<Ran, Failed> {
    let program = source.program();
    let mut command = Command::new(words[0]);
    command
        .args(&words[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
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
    let (out_tx, out_rx) = mpsc::channel();
    let stdout = child.stdout.take();
    std::thread::spawn(move || {
        let read = match stdout {
            Some(stdout) => crate::secrets::pass::read_secret(stdout),
            None => Ok(Zeroizing::new(Vec::new())),
        };
        let _ = out_tx.send(read);
    });
    let (err_tx, err_rx) = mpsc::channel();
    let stderr = child.stderr.take();
    let name = program.to_owned();
    std::thread::spawn(move || {
        let mut last = None;
        if let Some(stderr) = stderr {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let line = line.trim().to_owned();
                if !line.is_empty() {
                    tracing::info!(source = %name, "{line}");
                    last = Some(line);
                }
            }
        }
        let _ = err_tx.send(last);
    });
    let deadline = Instant::now() + timeout;
    let status = wait(&mut child, deadline).ok_or_else(|| {
        stop(&mut child);
        Failed(format!(
            "{program} gave no MFA code within {} s and was stopped",
            timeout.as_secs()
        ))
    })?;
    // A process it left behind may hold the pipes open: read what came until the deadline.
    let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(200);
    let stdout = out_rx
        .recv_timeout(left)
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let last_error = err_rx
        .recv_timeout(Duration::from_millis(200))
        .ok()
        .flatten();
    Ok(Ran {
        status,
        stdout,
        last_error,
    })
}

/// The child's exit status, or `None` at the deadline.
fn wait(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) | Err(_) => return None,
        }
    }
}

/// Kills the child and the processes it started (its process group), and reaps it.
fn stop(child: &mut Child) {
    #[cfg(unix)]
    if let Some(group) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn process(script: &str) -> MfaSource {
        let quoted = shlex::try_quote(script).unwrap();
        format!("process:sh -c {quoted}").parse().unwrap()
    }

    #[test]
    fn the_last_line_of_output_is_the_code() {
        let code = code(&process("echo 'Your code:'; echo ' 123456 '; echo")).unwrap();
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
        ];
        for (source, sentence) in cases {
            let Err(Failed(said)) = code(&source) else {
                panic!("{source} gave a code")
            };
            assert!(said.contains(sentence), "{source}: {said}");
        }
    }

    #[test]
    fn a_source_that_hangs_is_stopped_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
        let started = Instant::now();
        let ran = run(
            &process(&script),
            &["sh", "-c", &script],
            Duration::from_secs(1),
        );
        let Err(Failed(said)) = ran else {
            panic!("it finished")
        };
        assert!(said.contains("within 1 s and was stopped"), "{said}");
        assert!(started.elapsed() < Duration::from_secs(10));
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let alive = std::path::Path::new(&format!("/proc/{}", pid.trim())).exists()
            && !std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
                .unwrap_or_default()
                .contains(") Z ");
        assert!(!alive, "the sleep it started was stopped too");
    }
}
