//! Pacing for the calls to one AWS service that throttles (an IAM Identity Center
//! integration's portal and OIDC calls): an adaptive token bucket that learns the rate the
//! service bears, a cap on calls in flight, a pause for everyone when the service says
//! `Retry-After`, and the retries themselves, so that no retry goes around the pace.
//!
//! The rate logic is pure ([`Governor`] and [`Tries`] take the time as an argument and never
//! sleep), so tests drive it with a simulated clock and a simulated service; [`Pace`] is the
//! thin real-time wrapper (a mutex, a condvar, sleeps) that threads share.
//!
//! How the rate moves (after the AWS SDKs' "adaptive" retry mode): it starts at
//! [`Limits::start_rate`] with a burst of [`Limits::burst`]; each answer adds
//! [`Limits::increase`] per second until the first throttle; each throttle cuts it to β times
//! the lower of the current and the measured rate (the calls answered per second), and from
//! there it grows back along a CUBIC curve towards, then past, the rate that was throttled.
//! It never exceeds twice the measured rate, nor falls below [`Limits::floor`].
//!
//! What a pace learned outlives it as [`Learned`] (the rate that held, and the rate the
//! service last throttled at), which the integration keeps in the store: a pace
//! [`Governor::resume`]d from it starts where the last one ended, already on the curve through
//! that ceiling, so a second sync is not throttled while it finds the rate again.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How calls are paced and retried.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Calls per second at first.
    pub start_rate: f64,
    /// Calls that may go at once after a quiet spell.
    pub burst: f64,
    /// Calls per second added on each answer, until the first throttle.
    pub increase: f64,
    /// The rate never falls below this (calls per second).
    pub floor: f64,
    /// CUBIC's multiplicative decrease (the share of the rate kept on a throttle).
    pub beta: f64,
    /// CUBIC's scaling constant (how fast the rate grows back).
    pub c: f64,
    /// Calls waiting for their answer at once.
    pub in_flight: usize,
    /// Attempts of one call in all, throttled or not, before its last error stands.
    pub attempts: u32,
    /// Attempts of one call that fails for a passing reason (a 5xx, the network).
    pub transient_attempts: u32,
    /// The first backoff after a passing failure; it doubles each time, up to `max_backoff`,
    /// and a random share of it is waited (full jitter).
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest pause a `Retry-After` imposes.
    pub max_pause: Duration,
    /// Once the service has answered nothing but throttles for this long, every waiting
    /// call gives up (so a service that refuses everything ends a sync in bounded time).
    pub starved_after: Duration,
}

impl Limits {
    /// What an IAM Identity Center integration's calls start from: about 10 per second
    /// (the portal's documented quota is about 20 per second), bursts of 2, 8 in flight,
    /// 10 attempts per call; the rate then follows what the portal bears.
    pub const SSO: Limits = Limits {
        start_rate: 10.0,
        burst: 2.0,
        increase: 1.0,
        floor: 0.5,
        beta: 0.7,
        c: 0.4,
        in_flight: 8,
        attempts: 10,
        transient_attempts: 3,
        first_backoff: Duration::from_millis(250),
        max_backoff: Duration::from_secs(8),
        max_pause: Duration::from_secs(30),
        starved_after: Duration::from_secs(60),
    };
}

/// How long the measured rate counts answers before it takes a sample.
const MEASURE_EVERY: Duration = Duration::from_millis(500);
/// Below this rate (calls per second) CUBIC's curve is stretched in time, once the service's
/// rate is found: throttled twice at rates this close (as a share).
const SLOW_BELOW: f64 = 10.0;
const SAME_CEILING: f64 = 0.2;
/// A resumed pace starts at this share of the rate that held (or of the ceiling, if lower),
/// and its curve's clock runs at this share of real time until it is throttled again.
const RESUME_BELOW: f64 = 0.85;
const RESUMED_CLOCK: f64 = 0.15;
/// The weight of a new sample in the measured rate.
const SMOOTHING: f64 = 0.8;

/// The rate after a throttle: CUBIC's curve through the rate that was throttled.
#[derive(Debug, Clone, Copy)]
struct Cubic {
    /// The rate that was throttled.
    w_max: f64,
    /// When.
    since: Duration,
    /// Seconds of the curve already behind it at `since` (a resumed pace starts mid-curve).
    ahead: f64,
    /// Whether the curve's clock runs slower (see [`Governor::cubic_rate`]).
    stretched: bool,
    /// Whether the curve is one a resumed pace started on (its clock runs slower still).
    resumed: bool,
}

/// What a pace learned, kept between processes (with the integration, in the store): the
/// rate that held when it was last used, and the rate the service last throttled it at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Learned {
    rate: f64,
    ceiling: Option<f64>,
}

/// Rates are finite and positive (checked by [`Learned::new`]), so equality is total.
impl Eq for Learned {}

impl Learned {
    /// The highest rate (calls per second) a stored value may say; more is taken for a typo.
    pub const MOST: f64 = 10_000.0;

    /// A learned pace from stored rates (calls per second), `None` unless each is a number
    /// above zero and at most [`Self::MOST`].
    pub fn new(rate: f64, ceiling: Option<f64>) -> Option<Self> {
        let fits = |r: f64| r.is_finite() && r > 0.0 && r <= Self::MOST;
        (fits(rate) && ceiling.is_none_or(fits)).then_some(Self { rate, ceiling })
    }

    /// Calls per second that held.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Calls per second at which the service last throttled, if it ever did.
    pub fn ceiling(&self) -> Option<f64> {
        self.ceiling
    }
}

/// The pure pace: times are offsets from any fixed origin (a simulated clock in tests).
#[derive(Debug, Clone)]
pub struct Governor {
    limits: Limits,
    rate: f64,
    tokens: f64,
    /// When `tokens` was last filled.
    at: Duration,
    in_flight: usize,
    /// No call starts before this (a `Retry-After`).
    paused_until: Duration,
    /// `None` until the first throttle: the rate grows additively until then.
    cubic: Option<Cubic>,
    /// The last cut: throttles of calls admitted before it belong to the same event.
    last_cut: Option<Duration>,
    /// Calls answered (throttles included) per second, once a sample was taken.
    measured: Option<f64>,
    sample_since: Duration,
    sample_count: u32,
    /// Since when the service has answered nothing but throttles, and its last throttle.
    throttled: Option<(Duration, Duration)>,
    admitted: u64,
    throttles: u64,
}

/// A call admitted by the pace: it holds a slot in flight until its answer is reported.
#[derive(Debug)]
#[must_use = "a ticket's slot is freed only by reporting its answer"]
pub struct Ticket {
    admitted: Duration,
}

/// What the pace says to a call that asks to start.
#[derive(Debug)]
pub enum Admission {
    Go(Ticket),
    /// Ask again after this long.
    Wait(Duration),
    /// Every slot is taken: ask again when a call answers.
    Full,
    /// The service has refused everything for too long.
    GiveUp,
}

/// How a call ended, as far as the pace cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Answered (an error that is the caller's, such as a refused token, counts here too).
    Answered,
    /// Throttled, with the service's `Retry-After` if it sent one.
    Throttled { retry_after: Option<Duration> },
    /// A passing failure (a 5xx, the network): neither an answer nor a throttle.
    Failed,
}

impl Governor {
    pub fn new(limits: Limits, now: Duration) -> Self {
        Self {
            limits,
            rate: limits.start_rate,
            tokens: limits.burst,
            at: now,
            in_flight: 0,
            paused_until: now,
            cubic: None,
            last_cut: None,
            measured: None,
            sample_since: now,
            sample_count: 0,
            throttled: None,
            admitted: 0,
            throttles: 0,
        }
    }

    /// Calls per second the pace allows now.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// A pace that starts from what an earlier one learned: at the rate that held, and, if
    /// the service throttled it, on the CUBIC curve through that ceiling at the point of that
    /// rate (so it grows back as the earlier pace would have, rather than from the start).
    pub fn resume(limits: Limits, now: Duration, learned: Learned) -> Self {
        let mut governor = Self::new(limits, now);
        governor.rate = match learned.ceiling {
            Some(ceiling) => learned.rate.min(ceiling) * RESUME_BELOW,
            None => learned.rate,
        }
        .max(limits.floor);
        governor.cubic = learned.ceiling.map(|w_max| {
            // Where on `W(t) = C (t − K)³ + W_max` the rate is (the curve is monotonic).
            let k = (w_max * (1.0 - limits.beta) / limits.c).cbrt();
            let t = k + ((governor.rate - w_max) / limits.c).cbrt();
            Cubic {
                w_max,
                since: now,
                ahead: t.max(0.0),
                stretched: true,
                resumed: true,
            }
        });
        governor
    }

    /// What this pace learned, to resume from later.
    pub fn learned(&self) -> Learned {
        Learned {
            rate: self.rate.min(Learned::MOST),
            ceiling: self.cubic.map(|c| c.w_max.min(Learned::MOST)),
        }
    }

    /// Calls admitted so far.
    pub fn admitted(&self) -> u64 {
        self.admitted
    }

    /// Answers that were throttles, so far.
    pub fn throttled(&self) -> u64 {
        self.throttles
    }

    /// Calls admitted and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Whether a call may start now.
    pub fn admit(&mut self, now: Duration) -> Admission {
        if self.starved(now) {
            return Admission::GiveUp;
        }
        if now < self.paused_until {
            return Admission::Wait(self.paused_until - now);
        }
        let from = self.at.max(self.paused_until);
        if now > from {
            let earned = (now - from).as_secs_f64() * self.rate;
            self.tokens = (self.tokens + earned).min(self.limits.burst);
            self.at = now;
        }
        if self.in_flight >= self.limits.in_flight {
            return Admission::Full;
        }
        if self.tokens < 1.0 {
            // At least a millisecond, so a wait never rounds down to nothing.
            let wait = Duration::from_secs_f64((1.0 - self.tokens) / self.rate);
            return Admission::Wait(wait.max(Duration::from_millis(1)));
        }
        self.tokens -= 1.0;
        self.in_flight += 1;
        self.admitted += 1;
        Admission::Go(Ticket { admitted: now })
    }

    /// Reports a call's answer: frees its slot and moves the rate.
    pub fn answered(&mut self, now: Duration, ticket: Ticket, answer: Answer) {
        self.in_flight = self.in_flight.saturating_sub(1);
        match answer {
            Answer::Answered => {
                self.throttled = None;
                self.measure(now, 1);
                let grown = match self.cubic {
                    None => self.rate + self.limits.increase,
                    Some(cubic) => self.cubic_rate(cubic, now),
                };
                let ceiling = self.measured.map_or(f64::INFINITY, |m| 2.0 * m);
                // Never below what it is: a low sample does not slow a pace that is not
                // throttled.
                self.rate = grown.min(ceiling).max(self.rate).max(self.limits.floor);
            }
            Answer::Throttled { retry_after } => {
                let since = match self.throttled {
                    Some((since, last)) if now.saturating_sub(last) < self.limits.max_pause => {
                        since
                    }
                    _ => now,
                };
                self.throttled = Some((since, now));
                self.throttles += 1;
                // A throttle is an answer too (as the SDKs measure): a pace throttled at once
                // is not taken for one that nothing answers.
                self.measure(now, 1);
                if let Some(wait) = retry_after {
                    let until = now + wait.min(self.limits.max_pause);
                    self.paused_until = self.paused_until.max(until);
                    // Nothing can be answered while paused: the pause is not a measure of
                    // the rate the service bears.
                    self.sample_since = self.paused_until;
                    self.sample_count = 0;
                }
                // Calls already on their way when the rate was cut hit the same congestion:
                // cutting again for each would collapse the rate.
                if self.last_cut.is_none_or(|cut| ticket.admitted >= cut) {
                    let base = self.measured.map_or(self.rate, |m| m.min(self.rate));
                    let base = base.max(self.limits.floor);
                    // Throttled again about where it was last time: the service's rate is
                    // found, and the curve may probe past it gently.
                    let found = self
                        .cubic
                        .is_some_and(|c| (base / c.w_max - 1.0).abs() <= SAME_CEILING);
                    self.cubic = Some(Cubic {
                        w_max: base,
                        since: now,
                        ahead: 0.0,
                        stretched: found,
                        resumed: false,
                    });
                    self.rate = (base * self.limits.beta).max(self.limits.floor);
                    self.tokens = self.tokens.min(0.0);
                    self.last_cut = Some(now);
                }
            }
            Answer::Failed => {}
        }
    }

    /// Whether the service has answered nothing but throttles for
    /// [`Limits::starved_after`], lately (a pace idle since, in a long-lived process, tries
    /// again).
    fn starved(&self, now: Duration) -> bool {
        self.throttled.is_some_and(|(since, last)| {
            now.saturating_sub(since) >= self.limits.starved_after
                && now.saturating_sub(last) < self.limits.max_pause
        })
    }

    /// CUBIC's curve: `W(t) = C (t − K)³ + W_max`, `K = ∛(W_max (1 − β) / C)`, so it starts
    /// at β·W_max, flattens out at W_max and then probes above it.
    fn cubic_rate(&self, cubic: Cubic, now: Duration) -> f64 {
        // C suits rates of ten or more per second; below that, once the service's rate is
        // found, the curve's clock runs slower in proportion, so a cycle holds as many calls
        // as at ten per second (otherwise a portal that bears 2 per second is probed into a
        // throttle every 3 seconds: one call in six). A first cut recovers at full speed.
        let mut slower = if cubic.stretched {
            (cubic.w_max / SLOW_BELOW).min(1.0)
        } else {
            1.0
        };
        // A resumed pace knows the ceiling from an earlier run: it probes past it gently.
        if cubic.resumed {
            slower *= RESUMED_CLOCK;
        }
        let t = now.saturating_sub(cubic.since).as_secs_f64() * slower + cubic.ahead;
        let k = (cubic.w_max * (1.0 - self.limits.beta) / self.limits.c).cbrt();
        self.limits.c * (t - k).powi(3) + cubic.w_max
    }

    fn measure(&mut self, now: Duration, answered: u32) {
        self.sample_count += answered;
        let elapsed = now.saturating_sub(self.sample_since);
        if elapsed >= MEASURE_EVERY {
            let sample = f64::from(self.sample_count) / elapsed.as_secs_f64();
            self.measured = Some(match self.measured {
                None => sample,
                Some(m) => SMOOTHING * sample + (1.0 - SMOOTHING) * m,
            });
            self.sample_since = now;
            self.sample_count = 0;
        }
    }
}

/// One call's attempts so far, and what comes after each.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tries {
    attempts: u32,
    failures: u32,
}

/// What a call does after an attempt that did not end it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Back in the queue: the pace admits it again.
    Again,
    /// Wait this long first (a backoff after a passing failure), then back in the queue.
    After(Duration),
    /// Its attempts are spent: its last error stands.
    Stop,
}

impl Tries {
    /// After an attempt answered `answer` (throttled or failed); `random` is in [0, 1).
    pub fn after(&mut self, limits: &Limits, answer: Answer, random: f64) -> Next {
        self.attempts += 1;
        if self.attempts >= limits.attempts {
            return Next::Stop;
        }
        match answer {
            Answer::Answered => Next::Stop,
            Answer::Throttled { .. } => Next::Again,
            Answer::Failed => {
                self.failures += 1;
                if self.failures >= limits.transient_attempts {
                    return Next::Stop;
                }
                let doubled = limits
                    .first_backoff
                    .saturating_mul(1 << (self.failures - 1).min(16));
                Next::After(doubled.min(limits.max_backoff).mul_f64(random))
            }
        }
    }

    /// Attempts made.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

/// Paces calls made from any number of threads, in real time.
pub struct Pace {
    limits: Limits,
    origin: Instant,
    governor: Mutex<Governor>,
    freed: Condvar,
}

/// What a paced call reports back.
pub enum Attempt<T, E> {
    /// Its result, which ends it.
    Done(Result<T, E>),
    /// The service throttled it (and asked for a pause, if it said).
    Throttled {
        error: E,
        retry_after: Option<Duration>,
    },
    /// It failed for a passing reason (a 5xx, the network): worth another try after a backoff.
    Failed(E),
}

impl Pace {
    pub fn new(limits: Limits) -> Self {
        Self::with(limits, Governor::new(limits, Duration::ZERO))
    }

    /// A pace that starts from what an earlier one learned ([`Governor::resume`]).
    pub fn resume(limits: Limits, learned: Learned) -> Self {
        Self::with(limits, Governor::resume(limits, Duration::ZERO, learned))
    }

    fn with(limits: Limits, governor: Governor) -> Self {
        Self {
            limits,
            origin: Instant::now(),
            governor: Mutex::new(governor),
            freed: Condvar::new(),
        }
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn governor(&self) -> std::sync::MutexGuard<'_, Governor> {
        self.governor.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Throttles answered so far (read on every sync progress report: no copy of the pace).
    pub fn throttled(&self) -> u64 {
        self.governor().throttled()
    }

    /// A copy of the pure pace, as it stands.
    pub fn snapshot(&self) -> Governor {
        self.governor().clone()
    }

    /// Waits until the pace admits a call; `None` once it gives up.
    fn admit(&self) -> Option<Slot<'_>> {
        let mut governor = self.governor();
        loop {
            let wait = match governor.admit(self.now()) {
                Admission::Go(ticket) => {
                    return Some(Slot {
                        pace: self,
                        ticket: Some(ticket),
                    });
                }
                Admission::GiveUp => return None,
                Admission::Wait(wait) => wait,
                // A slot frees when a call answers (and notifies); the timeout is a safety net.
                Admission::Full => Duration::from_millis(250),
            };
            governor = self
                .freed
                .wait_timeout(governor, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Runs `call` when the pace admits it, and again (each time admitted by the pace) when
    /// it is throttled or fails for a passing reason, until it ends or its attempts are
    /// spent. `starved` is the error of a call that never ran because the service refused
    /// everything for too long.
    pub fn run<T, E>(
        &self,
        mut call: impl FnMut() -> Attempt<T, E>,
        starved: impl FnOnce() -> E,
    ) -> Result<T, E> {
        let mut tries = Tries::default();
        let mut last = None;
        loop {
            let Some(slot) = self.admit() else {
                return Err(last.unwrap_or_else(starved));
            };
            let (answer, error) = match call() {
                Attempt::Done(result) => {
                    slot.finish(Answer::Answered);
                    return result;
                }
                Attempt::Throttled { error, retry_after } => {
                    (Answer::Throttled { retry_after }, error)
                }
                Attempt::Failed(error) => (Answer::Failed, error),
            };
            slot.finish(answer);
            match tries.after(&self.limits, answer, random_fraction()) {
                Next::Stop => return Err(error),
                Next::Again => {}
                Next::After(wait) => {
                    tracing::info!(wait_ms = wait.as_millis(), "failed; backing off");
                    std::thread::sleep(wait);
                }
            }
            last = Some(error);
        }
    }
}

/// A call in flight; finishing (or dropping) it frees its slot.
struct Slot<'a> {
    pace: &'a Pace,
    ticket: Option<Ticket>,
}

impl Slot<'_> {
    fn finish(mut self, answer: Answer) {
        self.report(answer);
    }

    fn report(&mut self, answer: Answer) {
        if let Some(ticket) = self.ticket.take() {
            let now = self.pace.now();
            self.pace.governor().answered(now, ticket, answer);
            self.pace.freed.notify_all();
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        // A call that panicked: its slot is freed all the same.
        self.report(Answer::Failed);
    }
}

/// A random number in [0, 1): std's randomly keyed hasher is random enough for jitter.
fn random_fraction() -> f64 {
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests;
