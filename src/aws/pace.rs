//! Pacing for a burst of calls to one AWS service (an IAM Identity Center sync lists every
//! account's roles): a token bucket (a steady rate with a small burst), a cap on calls in
//! flight, and exponential backoff with full jitter when the service throttles anyway
//! (honouring its `Retry-After`), up to a total wait after which the call's error stands.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How a burst of calls is paced.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Calls per second, steadily.
    pub rate: f64,
    /// Calls that may go at once after a quiet spell.
    pub burst: f64,
    /// Calls waiting for their answer at once.
    pub in_flight: usize,
    /// The first backoff after a throttle; it doubles each time, up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// Giving up on one call once its backoffs add up to this.
    pub give_up_after: Duration,
}

impl Limits {
    /// What IAM Identity Center's portal bears (its documented quota is about 20 per second
    /// for the account; credtray keeps well under it): 5 per second, 4 in flight, backoff from
    /// 1 s to 30 s, up to 2 minutes per call.
    pub const SSO: Limits = Limits {
        rate: 5.0,
        burst: 5.0,
        in_flight: 4,
        first_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(30),
        give_up_after: Duration::from_secs(120),
    };
}

struct Bucket {
    tokens: f64,
    at: Instant,
    in_flight: usize,
}

/// Paces calls made from any number of threads.
pub struct Pace {
    limits: Limits,
    bucket: Mutex<Bucket>,
    freed: Condvar,
}

/// What a paced call reports back: its result, and whether the service asked it to back off
/// (and for how long, if it said).
pub enum Attempt<T, E> {
    Done(Result<T, E>),
    Throttled {
        error: E,
        retry_after: Option<Duration>,
    },
}

impl Pace {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            bucket: Mutex::new(Bucket {
                tokens: limits.burst,
                at: Instant::now(),
                in_flight: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// Waits for a token and a free slot, then holds the slot until the guard drops.
    fn admit(&self) -> Slot<'_> {
        let mut bucket = self.bucket.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let now = Instant::now();
            let earned = now.duration_since(bucket.at).as_secs_f64() * self.limits.rate;
            bucket.tokens = (bucket.tokens + earned).min(self.limits.burst);
            bucket.at = now;
            if bucket.in_flight < self.limits.in_flight && bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                bucket.in_flight += 1;
                return Slot { pace: self };
            }
            let wait = if bucket.tokens >= 1.0 {
                // A slot frees up when a call answers.
                Duration::from_millis(50)
            } else {
                Duration::from_secs_f64((1.0 - bucket.tokens) / self.limits.rate)
            };
            bucket = self
                .freed
                .wait_timeout(bucket, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Runs `call` when the pace allows, again after a backoff each time it is throttled,
    /// until it answers or the backoffs reach [`Limits::give_up_after`].
    pub fn run<T, E>(&self, mut call: impl FnMut() -> Attempt<T, E>) -> Result<T, E> {
        let mut backoff = self.limits.first_backoff;
        let mut waited = Duration::ZERO;
        loop {
            let attempt = {
                let _slot = self.admit();
                call()
            };
            match attempt {
                Attempt::Done(result) => return result,
                Attempt::Throttled { error, retry_after } => {
                    // Full jitter: anywhere up to the backoff, so throttled callers spread out;
                    // never sooner than the service asked.
                    let jittered = backoff.mul_f64(random_fraction());
                    let wait = retry_after.map_or(jittered, |r| r.max(jittered));
                    if waited + wait > self.limits.give_up_after {
                        return Err(error);
                    }
                    tracing::info!(wait_ms = wait.as_millis(), "throttled; backing off");
                    std::thread::sleep(wait);
                    waited += wait;
                    backoff = (backoff * 2).min(self.limits.max_backoff);
                }
            }
        }
    }
}

/// A call in flight; dropping it frees its slot.
struct Slot<'a> {
    pace: &'a Pace,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut bucket = self
            .pace
            .bucket
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        bucket.in_flight -= 1;
        self.pace.freed.notify_one();
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
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn fast(rate: f64, burst: f64, in_flight: usize) -> Limits {
        Limits {
            rate,
            burst,
            in_flight,
            first_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(80),
            give_up_after: Duration::from_millis(400),
        }
    }

    #[test]
    fn calls_keep_to_the_rate_after_the_burst_and_to_the_cap_in_flight() {
        let pace = Pace::new(fast(50.0, 5.0, 2));
        let busy = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let started = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..10 {
                        pace.run(|| {
                            let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(2));
                            busy.fetch_sub(1, Ordering::SeqCst);
                            Attempt::<(), ()>::Done(Ok(()))
                        })
                        .unwrap();
                    }
                });
            }
        });
        // 40 calls: 5 at once, then 35 at 50 per second: at least 0.7 s.
        assert!(
            started.elapsed() >= Duration::from_millis(650),
            "{:?}",
            started.elapsed()
        );
        assert!(most.load(Ordering::SeqCst) <= 2);
    }

    #[test]
    fn a_throttled_call_backs_off_and_is_retried_until_it_gives_up() {
        let pace = Pace::new(fast(1000.0, 10.0, 4));
        let tries = AtomicUsize::new(0);
        let result = pace.run(|| {
            if tries.fetch_add(1, Ordering::SeqCst) < 3 {
                Attempt::Throttled {
                    error: "throttled",
                    retry_after: None,
                }
            } else {
                Attempt::Done(Ok(42))
            }
        });
        assert_eq!(result, Ok(42));
        assert_eq!(tries.load(Ordering::SeqCst), 4);

        // A service that never stops throttling: its error stands once the backoffs add up.
        let started = Instant::now();
        let result: Result<(), &str> = pace.run(|| Attempt::Throttled {
            error: "still throttled",
            retry_after: Some(Duration::from_millis(100)),
        });
        assert_eq!(result, Err("still throttled"));
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(10),
            "Retry-After honoured, then given up: {took:?}"
        );
    }
}
