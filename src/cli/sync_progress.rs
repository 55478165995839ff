//! How `integration sync` and `integration login` show a sync getting on, and how Ctrl-C
//! cancels one: on a terminal a live line (indicatif: accounts listed of all, roles found,
//! requests throttled, elapsed), elsewhere plain lines on standard error (each phase, and every
//! tenth of the accounts); Ctrl-C is caught while a sync runs, so that it ends the sync before
//! anything is applied (or, once it applies, after all of it), never in the middle.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::{SyncPhase, SyncProgress};

/// What the person sees of a sync of the integration `alias`.
pub(super) struct Shown {
    alias: String,
    /// A live line, on a terminal.
    bar: Option<ProgressBar>,
    /// Plain lines: the last phase and tenth said, not to say them twice.
    said: Mutex<(Option<std::mem::Discriminant<SyncPhase>>, usize)>,
}

impl Shown {
    pub(super) fn new(alias: &str) -> Self {
        let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(spinner());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            alias: alias.to_owned(),
            bar,
            said: Mutex::new((None, 0)),
        }
    }

    pub(super) fn show(&self, p: &SyncProgress) {
        match &self.bar {
            Some(bar) => self.draw(bar, p),
            None => self.say(p),
        }
    }

    fn draw(&self, bar: &ProgressBar, p: &SyncProgress) {
        let alias = &self.alias;
        match (&p.phase, p.total) {
            (SyncPhase::Waiting(holder), _) => {
                bar.set_message(format!("{alias}: waiting for the sync {holder} runs"));
            }
            (SyncPhase::Accounts, _) => {
                bar.set_message(format!("{alias}: listing accounts… {}", p.accounts));
            }
            (SyncPhase::Roles | SyncPhase::Applying, Some(total)) => {
                if bar.length() != Some(total as u64) {
                    bar.set_length(total as u64);
                    bar.set_style(counting());
                }
                bar.set_position(p.accounts as u64);
                let applying = if p.phase == SyncPhase::Applying {
                    " · applying"
                } else {
                    ""
                };
                bar.set_message(format!(
                    "{} roles · {} throttled{applying}",
                    p.roles, p.throttled
                ));
            }
            (_, None) => {}
        }
        bar.set_prefix(alias.clone());
    }

    fn say(&self, p: &SyncProgress) {
        let mut said = self.said.lock().unwrap_or_else(|e| e.into_inner());
        let phase = std::mem::discriminant(&p.phase);
        let tenth = p.total.map_or(0, |t| p.accounts * 10 / t.max(1));
        let alias = &self.alias;
        let line = if said.0 != Some(phase) {
            match &p.phase {
                SyncPhase::Waiting(holder) => Some(format!(
                    "{alias}: another sync runs ({holder}); waiting for its result"
                )),
                SyncPhase::Accounts => Some(format!("{alias}: listing accounts")),
                SyncPhase::Roles => Some(format!(
                    "{alias}: listing the roles of {} accounts",
                    p.total.unwrap_or_default()
                )),
                SyncPhase::Applying => Some(format!(
                    "{alias}: {} roles found in {:.1} s ({} requests throttled); applying",
                    p.roles,
                    p.elapsed.as_secs_f64(),
                    p.throttled
                )),
            }
        } else if p.phase == SyncPhase::Roles && tenth > said.1 && tenth < 10 {
            Some(format!(
                "{alias}: {} / {} accounts, {} roles, {} throttled, {:.0} s",
                p.accounts,
                p.total.unwrap_or_default(),
                p.roles,
                p.throttled,
                p.elapsed.as_secs_f64()
            ))
        } else {
            None
        };
        *said = (
            Some(phase),
            if said.0 == Some(phase) {
                tenth.max(said.1)
            } else {
                0
            },
        );
        if let Some(line) = line {
            eprintln!("{line}");
        }
    }

    /// Ends the live line (the report is printed after it).
    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn spinner() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn counting() -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner} {prefix}: {bar:24} {pos}/{len} accounts · {msg} · {elapsed}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// Ctrl-C caught for as long as this lives (the default comes back after): it only sets a
/// flag that [`Interrupt::is_set`] reads.
pub(super) struct Interrupt {
    flag: Arc<AtomicBool>,
    #[cfg(unix)]
    registered: Option<signal_hook::SigId>,
}

impl Interrupt {
    pub(super) fn catch() -> Self {
        let flag = Arc::new(AtomicBool::new(false));
        #[cfg(unix)]
        let registered = signal_hook::flag::register(signal_hook::consts::SIGINT, flag.clone())
            .inspect_err(
                |e| tracing::warn!(error = %e, "cannot catch Ctrl-C; it ends the command at once"),
            )
            .ok();
        Self {
            flag,
            #[cfg(unix)]
            registered,
        }
    }

    pub(super) fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(id) = self.registered.take() {
            signal_hook::low_level::unregister(id);
        }
    }
}
