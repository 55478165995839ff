//! Keeping the processes that hold credentials in memory — the agent (`credtray agent`), the
//! tray (which is also the agent) and `credtray exec` — out of reach of the same user's
//! debuggers, by accident or by a stray script. On Linux such a process marks itself
//! non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`) once started, which changes three things:
//! - its `/proc/<pid>/*` files (all but the directory itself) become owned by root, so the
//!   same non-root user can no longer read `environ`, `mem`, `maps`, `fd/` or `exe` (the
//!   world-readable ones, `cmdline`, `status` and `stat`, stay readable, as for anyone);
//! - it leaves no core dump when it crashes;
//! - the same user can't `ptrace` it (`gdb -p`, `strace -p`); root still can.
//!
//! Nothing credtray does needs what this takes away: the process itself still reads
//! `/proc/self/fd`, `/proc/self/exe` (`std::env::current_exe`) and `/proc/self/net/tcp` (the
//! loopback servers' peer check), it reads its environment from memory, not
//! `/proc/self/environ`, and the agent checks its peers with `SO_PEERCRED`, not through
//! `/proc`. The flag is not inherited across `execve` of an ordinary program, so what these
//! processes run (`exec`'s command, the login window, the browser) is dumpable as usual.
//!
//! Other platforms: nothing is done. The nearest equivalents, FreeBSD's
//! `procctl(PROC_TRACE_CTL)` and macOS's `ptrace(PT_DENY_ATTACH)`, are left for when credtray
//! is tested there.

/// Marks this process non-dumpable (Linux; elsewhere nothing). A failure is logged and the
/// process goes on: it is a precaution, not something credentials depend on.
pub fn keep_debuggers_out() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(e) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        tracing::warn!(error = %e, "could not mark this process non-dumpable");
    }
}
