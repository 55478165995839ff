//! The pace against a simulated clock and a simulated service (a token bucket), and its
//! real-time wrapper against threads.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The simulated service: a token bucket at `rate` per second, `burst` deep.
struct Service {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Duration,
}

impl Service {
    fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst,
            tokens: burst,
            at: Duration::ZERO,
        }
    }

    /// Whether a call arriving at `now` is served (otherwise: 429).
    fn serves(&mut self, now: Duration) -> bool {
        self.tokens =
            (self.tokens + now.saturating_sub(self.at).as_secs_f64() * self.rate).min(self.burst);
        self.at = self.at.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Each call takes this long to answer (half of it on the way to the service).
const LATENCY: Duration = Duration::from_millis(50);

#[derive(Debug, Default)]
struct Run {
    /// When each call was answered, in order.
    answered: Vec<Duration>,
    /// Attempts that reached the service, and how many of them were throttled.
    sent: usize,
    throttled: usize,
    /// Calls whose attempts ran out, and the attempts each made.
    gave_up: Vec<u32>,
    /// Admissions the pace counted (to compare with `sent`).
    admitted: u64,
    most_in_flight: usize,
    /// When the last call ended.
    end: Duration,
}

impl Run {
    /// Calls answered per second after the first `skip`.
    fn throughput_after(&self, skip: usize) -> f64 {
        let first = self.answered[skip - 1];
        let last = *self.answered.last().unwrap();
        (self.answered.len() - skip) as f64 / (last - first).as_secs_f64()
    }

    fn throttled_share(&self) -> f64 {
        self.throttled as f64 / self.sent as f64
    }
}

/// Where one simulated worker is.
enum Worker {
    /// Asks the pace at this time (with its call's tries so far), or takes a new call.
    Asking(Duration, Option<Tries>),
    /// Its call is on the way; answered at `at`, served or throttled.
    Waiting {
        at: Duration,
        ticket: Ticket,
        tries: Tries,
        served: bool,
    },
    Done,
}

/// `calls` calls made by as many workers as the pace lets in flight, against `service`.
fn simulate(limits: Limits, service: Service, calls: usize) -> Run {
    simulate_from(&mut Governor::new(limits, Duration::ZERO), service, calls)
}

/// [`simulate`] with a pace as it stands (which is left as the run leaves it).
fn simulate_from(pace: &mut Governor, mut service: Service, calls: usize) -> Run {
    let limits = pace.limits;
    let mut run = Run::default();
    let mut queued = calls;
    let mut workers: Vec<Worker> = (0..limits.in_flight)
        .map(|_| Worker::Asking(Duration::ZERO, None))
        .collect();
    let when = |w: &Worker| match w {
        Worker::Asking(at, _) | Worker::Waiting { at, .. } => Some(*at),
        Worker::Done => None,
    };
    while let Some(i) = (0..workers.len())
        .filter(|i| when(&workers[*i]).is_some())
        .min_by_key(|i| when(&workers[*i]))
    {
        let now = when(&workers[i]).unwrap();
        assert!(
            now < Duration::from_secs(24 * 3600),
            "the simulation never ends"
        );
        let worker = std::mem::replace(&mut workers[i], Worker::Done);
        workers[i] = match worker {
            Worker::Asking(_, None) if queued == 0 => Worker::Done,
            Worker::Asking(_, tries) => {
                let tries = tries.unwrap_or_else(|| {
                    queued -= 1;
                    Tries::default()
                });
                match pace.admit(now) {
                    Admission::Go(ticket) => {
                        run.sent += 1;
                        run.most_in_flight = run.most_in_flight.max(pace.in_flight());
                        Worker::Waiting {
                            at: now + LATENCY,
                            ticket,
                            tries,
                            served: service.serves(now + LATENCY / 2),
                        }
                    }
                    Admission::Wait(wait) => Worker::Asking(now + wait, Some(tries)),
                    // Asks again when the next call answers.
                    Admission::Full => {
                        let next = workers
                            .iter()
                            .filter_map(|w| match w {
                                Worker::Waiting { at, .. } => Some(*at),
                                _ => None,
                            })
                            .min()
                            .unwrap();
                        Worker::Asking(next, Some(tries))
                    }
                    Admission::GiveUp => {
                        run.gave_up.push(tries.attempts());
                        run.end = now;
                        Worker::Asking(now, None)
                    }
                }
            }
            Worker::Waiting {
                ticket,
                mut tries,
                served,
                ..
            } => {
                let answer = if served {
                    Answer::Answered
                } else {
                    run.throttled += 1;
                    Answer::Throttled { retry_after: None }
                };
                pace.answered(now, ticket, answer);
                run.end = now;
                if served {
                    run.answered.push(now);
                    Worker::Asking(now, None)
                } else {
                    match tries.after(&limits, answer, 0.5) {
                        Next::Stop => {
                            run.gave_up.push(tries.attempts());
                            Worker::Asking(now, None)
                        }
                        Next::Again => Worker::Asking(now, Some(tries)),
                        Next::After(wait) => Worker::Asking(now + wait, Some(tries)),
                    }
                }
            }
            Worker::Done => Worker::Done,
        };
    }
    run.admitted = pace.admitted();
    run
}

#[test]
fn the_pace_learns_the_rate_the_service_bears_and_is_seldom_throttled() {
    for n in [2.0, 8.0, 20.0, 50.0] {
        let run = simulate(Limits::SSO, Service::new(n, n), 2_000);
        let throughput = run.throughput_after(200);
        let throttled = run.throttled_share();
        eprintln!(
            "service at {n}/s: {throughput:.2} calls/s after the first 200, {:.1} % throttled ({} of {} sent), {:.1} s",
            throttled * 100.0,
            run.throttled,
            run.sent,
            run.end.as_secs_f64()
        );
        assert_eq!(run.answered.len(), 2_000, "every call answered at {n}/s");
        assert!(
            (throughput - n).abs() <= 0.1 * n,
            "at {n}/s the pace made {throughput:.2} calls/s"
        );
        assert!(
            throttled <= 0.1,
            "at {n}/s {:.1} % of the calls were throttled",
            throttled * 100.0
        );
    }
}

#[test]
fn every_attempt_is_admitted_by_the_pace() {
    // Retries included: what reached the service is what the pace let through.
    let run = simulate(Limits::SSO, Service::new(8.0, 8.0), 500);
    assert!(run.throttled > 0, "the simulation retried something");
    assert_eq!(run.sent as u64, run.admitted);
}

#[test]
fn a_service_that_throttles_everything_is_given_up_on_in_bounded_time() {
    // A few calls: each makes its ten attempts, then its error stands.
    let run = simulate(Limits::SSO, Service::new(0.0, 0.0), 3);
    assert_eq!(run.gave_up, vec![10, 10, 10]);
    assert_eq!(run.sent, 30);
    assert!(run.end < Duration::from_secs(60), "{:?}", run.end);
    // Many calls: the pace stops trying once the service has refused everything for a
    // minute, rather than making ten attempts each at the floor rate.
    let run = simulate(Limits::SSO, Service::new(0.0, 0.0), 500);
    assert_eq!(run.gave_up.len(), 500);
    assert!(run.gave_up.iter().all(|a| *a <= 10));
    assert!(run.end <= Duration::from_secs(180), "{:?}", run.end);
}

#[test]
fn a_retry_after_pauses_the_whole_pace_up_to_thirty_seconds() {
    let t = Duration::from_secs;
    let mut pace = Governor::new(Limits::SSO, t(0));
    let Admission::Go(first) = pace.admit(t(0)) else {
        panic!("the first call goes at once")
    };
    let Admission::Go(second) = pace.admit(t(0)) else {
        panic!("a burst of two")
    };
    pace.answered(
        t(1),
        first,
        Answer::Throttled {
            retry_after: Some(t(3)),
        },
    );
    // Nobody starts before the pause ends, even with a call answered meanwhile.
    pace.answered(t(2), second, Answer::Answered);
    assert!(matches!(pace.admit(t(2)), Admission::Wait(w) if w == t(2)));
    // Then calls go at the (cut) rate.
    let go = first_go(&mut pace, t(2));
    assert!(go >= t(4) && go <= t(7), "{go:?}");

    // A Retry-After of an hour pauses for thirty seconds.
    let mut pace = Governor::new(Limits::SSO, t(0));
    let Admission::Go(ticket) = pace.admit(t(0)) else {
        panic!()
    };
    pace.answered(
        t(0),
        ticket,
        Answer::Throttled {
            retry_after: Some(t(3600)),
        },
    );
    assert!(matches!(pace.admit(t(1)), Admission::Wait(w) if w == t(29)));
    let go = first_go(&mut pace, t(1));
    assert!(go >= t(30) && go <= t(33), "{go:?}");
}

/// When the pace first admits a call, asking from `now` on.
fn first_go(pace: &mut Governor, mut now: Duration) -> Duration {
    loop {
        match pace.admit(now) {
            Admission::Go(_) => return now,
            Admission::Wait(w) => now += w,
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn at_most_eight_calls_are_in_flight() {
    let mut pace = Governor::new(Limits::SSO, Duration::ZERO);
    let mut tickets = Vec::new();
    let mut now = Duration::ZERO;
    loop {
        match pace.admit(now) {
            Admission::Go(t) => tickets.push(t),
            Admission::Wait(w) => now += w,
            Admission::Full => break,
            Admission::GiveUp => panic!("nothing was refused"),
        }
    }
    assert_eq!(tickets.len(), 8);
    // One answers: one more may go.
    pace.answered(now, tickets.pop().unwrap(), Answer::Answered);
    now += Duration::from_secs(1);
    assert!(matches!(pace.admit(now), Admission::Go(_)));
    assert!(matches!(pace.admit(now), Admission::Full));
    // And the simulation of a fast service never had more.
    let run = simulate(Limits::SSO, Service::new(1000.0, 1000.0), 1_000);
    assert_eq!(run.most_in_flight, 8);
}

#[test]
fn a_passing_failure_backs_off_with_full_jitter_and_gives_up() {
    let limits = Limits::SSO;
    let mut tries = Tries::default();
    assert_eq!(
        tries.after(&limits, Answer::Failed, 0.999_999),
        Next::After(limits.first_backoff.mul_f64(0.999_999))
    );
    assert_eq!(
        tries.after(&limits, Answer::Failed, 0.5),
        Next::After(limits.first_backoff)
    );
    assert_eq!(tries.after(&limits, Answer::Failed, 0.5), Next::Stop);
}

fn quick() -> Limits {
    Limits {
        start_rate: 200.0,
        // Never slow, however often the test throttles.
        floor: 100.0,
        first_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        ..Limits::SSO
    }
}

#[test]
fn threads_share_the_pace_and_every_retry_goes_through_it() {
    let pace = Pace::new(quick());
    let busy = AtomicUsize::new(0);
    let most = AtomicUsize::new(0);
    let calls = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..16 {
            scope.spawn(|| {
                for _ in 0..5 {
                    let mut tries = 0;
                    let done = pace.run(
                        || {
                            calls.fetch_add(1, Ordering::SeqCst);
                            let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(2));
                            busy.fetch_sub(1, Ordering::SeqCst);
                            tries += 1;
                            match tries {
                                1 => Attempt::Throttled {
                                    error: "throttled",
                                    retry_after: None,
                                },
                                2 => Attempt::Failed("unreachable"),
                                _ => Attempt::Done(Ok::<_, &str>(tries)),
                            }
                        },
                        || "starved",
                    );
                    assert_eq!(done, Ok(3));
                }
            });
        }
    });
    assert!(most.load(Ordering::SeqCst) <= 8, "{most:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 16 * 5 * 3);
    assert_eq!(pace.snapshot().admitted(), 16 * 5 * 3);
    assert_eq!(pace.snapshot().in_flight(), 0);
}

#[test]
fn a_call_throttled_every_time_makes_ten_attempts_and_its_error_stands() {
    let pace = Pace::new(quick());
    let calls = AtomicUsize::new(0);
    let result: Result<(), &str> = pace.run(
        || {
            calls.fetch_add(1, Ordering::SeqCst);
            Attempt::Throttled {
                error: "throttled",
                retry_after: None,
            }
        },
        || "starved",
    );
    assert_eq!(result, Err("throttled"));
    assert_eq!(calls.load(Ordering::SeqCst), 10);
}

#[test]
fn a_few_throttles_at_the_start_do_not_leave_the_pace_slow() {
    // Three 429s with `Retry-After: 1` first (as the stub's `throttle_next` does), then a
    // service that answers everything: within twenty seconds the pace is past its start.
    let mut pace = Governor::new(Limits::SSO, Duration::ZERO);
    let mut now = Duration::ZERO;
    let mut throttles = 3;
    while now < Duration::from_secs(20) {
        match pace.admit(now) {
            Admission::Go(ticket) => {
                now += LATENCY;
                let answer = if throttles > 0 {
                    throttles -= 1;
                    Answer::Throttled {
                        retry_after: Some(Duration::from_secs(1)),
                    }
                } else {
                    Answer::Answered
                };
                pace.answered(now, ticket, answer);
            }
            Admission::Wait(wait) => now += wait,
            other => panic!("{other:?}"),
        }
    }
    assert!(pace.rate() >= 10.0, "{}", pace.rate());
}

#[test]
fn a_pace_resumed_from_what_the_last_one_learned_is_hardly_throttled() {
    // A sync of 505 calls, then another one (a new process, the service's bucket full again)
    // resumed from what the first learned.
    for n in [2.0, 8.0, 20.0, 50.0] {
        let mut first = Governor::new(Limits::SSO, Duration::ZERO);
        let run = simulate_from(&mut first, Service::new(n, n), 505);
        let learned = first.learned();
        let mut second = Governor::resume(Limits::SSO, Duration::ZERO, learned);
        let again = simulate_from(&mut second, Service::new(n, n), 505);
        let took = |r: &Run| r.end.as_secs_f64();
        eprintln!(
            "service at {n}/s: first {} throttled in {:.1} s; learned {learned:?}; second {} throttled in {:.1} s ({:.2} calls/s)",
            run.throttled,
            took(&run),
            again.throttled,
            took(&again),
            505.0 / took(&again)
        );
        assert_eq!(again.answered.len(), 505);
        // At the portal's quota and above, hardly ever; below it (where the first sync was
        // throttled in every probe), less than the first.
        assert!(
            again.throttled < if n >= 20.0 { 5 } else { run.throttled },
            "at {n}/s the resumed pace was throttled {} times (the first {})",
            again.throttled,
            run.throttled
        );
        assert!(
            505.0 / took(&again) >= 0.9 * n,
            "at {n}/s the resumed pace made {:.2} calls/s",
            505.0 / took(&again)
        );
    }
}
