//! Running `credtray exec`'s command: spawned with the environment it is given, signals sent
//! to credtray passed on to it, and its exit status made credtray's (128 + the signal's number
//! when a signal ended it, as shells report it).
//!
//! SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 are always passed on. SIGINT and SIGQUIT are passed on
//! only when credtray's standard input is not a terminal: from a terminal, Ctrl-C and Ctrl-\
//! already reach the whole foreground process group, the command included, and a second copy
//! would read as "pressed twice" (Terraform, for one, then stops without cleaning up).
//! credtray itself never dies of them while the command runs. On Windows, Ctrl-C and
//! Ctrl-Break reach the whole console, the command included; credtray ignores them and waits.

use std::ffi::{OsStr, OsString};
#[cfg(unix)]
use std::io::IsTerminal;
use std::process::{Command, ExitStatus};

/// What the command is run with.
pub struct Launch<'a> {
    pub program: &'a OsStr,
    pub args: &'a [OsString],
    pub set: Vec<(OsString, OsString)>,
    pub remove: Vec<OsString>,
}

/// Runs the command to its end; its exit code.
pub fn run(launch: Launch<'_>) -> std::io::Result<i32> {
    let mut command = Command::new(launch.program);
    command.args(launch.args);
    for name in &launch.remove {
        command.env_remove(name);
    }
    command.envs(launch.set.iter().map(|(k, v)| (k, v)));
    let forwarding = Forwarding::install()?;
    let mut child = command.spawn().map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot run {}: {e}", launch.program.to_string_lossy()),
        )
    })?;
    forwarding.to(child.id());
    let status = child.wait()?;
    Ok(exit_code(status))
}

/// The code credtray exits with for the command's `status`.
pub fn exit_code(status: ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return 128 + signal;
    }
    1
}

#[cfg(unix)]
struct Forwarding {
    signals: signal_hook::iterator::Signals,
}

#[cfg(unix)]
impl Forwarding {
    /// Catches the signals before the command starts (so none is lost in between).
    fn install() -> std::io::Result<Self> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
        let signals = signal_hook::iterator::Signals::new([
            SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGINT, SIGQUIT,
        ])?;
        Ok(Self { signals })
    }

    /// Passes what arrives on to process `pid`, on a thread of its own.
    fn to(mut self, pid: u32) {
        use signal_hook::consts::{SIGINT, SIGQUIT};
        let from_terminal = std::io::stdin().is_terminal();
        let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else {
            return;
        };
        std::thread::spawn(move || {
            for signal in self.signals.forever() {
                if from_terminal && (signal == SIGINT || signal == SIGQUIT) {
                    continue;
                }
                let Some(signal) = rustix::process::Signal::from_named_raw(signal) else {
                    continue;
                };
                tracing::debug!(?signal, "passing a signal on to the command");
                let _ = rustix::process::kill_process(pid, signal);
            }
        });
    }
}

#[cfg(not(unix))]
struct Forwarding;

#[cfg(not(unix))]
impl Forwarding {
    /// Windows has no signals to pass on: Ctrl-C and Ctrl-Break reach every process of the
    /// console, the command included, so credtray only stays alive through them to return the
    /// command's exit code.
    fn install() -> std::io::Result<Self> {
        #[cfg(windows)]
        crate::win32::leave_interrupts_to_the_child()?;
        Ok(Self)
    }

    fn to(self, _: u32) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(windows)]
    fn the_commands_exit_code_becomes_credtrays() {
        let run_cmd = |script: &str| {
            run(Launch {
                program: OsStr::new("cmd"),
                args: &["/c".into(), script.into()],
                set: vec![("CREDTRAY_TEST_SET".into(), "yes".into())],
                remove: vec!["CREDTRAY_TEST_REMOVED".into()],
            })
            .unwrap()
        };
        assert_eq!(run_cmd("exit 7"), 7);
        assert_eq!(run_cmd("exit 0"), 0);
        assert_eq!(
            run_cmd("if %CREDTRAY_TEST_SET%==yes (exit 0) else (exit 1)"),
            0
        );
        assert_eq!(
            run_cmd("if %CREDTRAY_TEST_SET%==no (exit 0) else (exit 1)"),
            1
        );
    }

    #[test]
    #[cfg(unix)]
    fn the_commands_exit_code_and_signal_become_credtrays() {
        let run_sh = |script: &str| {
            run(Launch {
                program: OsStr::new("sh"),
                args: &["-c".into(), script.into()],
                set: vec![("CREDTRAY_TEST_SET".into(), "yes".into())],
                remove: vec!["CREDTRAY_TEST_REMOVED".into()],
            })
            .unwrap()
        };
        assert_eq!(run_sh("exit 7"), 7);
        assert_eq!(run_sh("exit 0"), 0);
        assert_eq!(run_sh("kill -TERM $$"), 128 + 15);
        assert_eq!(run_sh("[ \"$CREDTRAY_TEST_SET\" = yes ]"), 0);
    }

    #[test]
    fn a_missing_program_is_named() {
        let err = run(Launch {
            program: OsStr::new("/nonexistent/credtray-test"),
            args: &[],
            set: vec![],
            remove: vec![],
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/credtray-test"),
            "{err}"
        );
    }
}
