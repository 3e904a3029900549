//! Growing, jittered delays between tries of something that failed for want of a
//! dependency (the database down, the writer's queue full).
//!
//! A failure path that tries again at once turns one outage into a storm: every actor
//! retrying as fast as it can, a core at 100 % and a flood of warnings, all of it feeding
//! the very queue that is full. So a retry waits, twice as long each time up to a cap,
//! with jitter so that many actors that failed together do not come back together; and
//! while it waits, nothing else the actor does may start the same work early.

use std::time::{Duration, Instant};

use rand::Rng;

/// The first delay; each failure doubles it.
const FIRST: Duration = Duration::from_millis(100);
/// The longest delay.
const CAP: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
    until: Option<Instant>,
}

impl Backoff {
    /// Record a failure and say how long to wait before trying again: between half and
    /// all of `FIRST * 2^(failures - 1)`, at most [`CAP`].
    pub fn failed(&mut self) -> Duration {
        let full = FIRST.saturating_mul(1u32 << self.failures.min(16)).min(CAP);
        self.failures = self.failures.saturating_add(1);
        let delay = full.mul_f64(rand::thread_rng().gen_range(0.5..=1.0));
        self.until = Some(Instant::now() + delay);
        delay
    }

    /// Whether a retry is pending: work that would repeat the failed try waits for it.
    pub fn waiting(&self) -> bool {
        self.until.is_some_and(|until| Instant::now() < until)
    }

    /// The dependency answered: the next failure starts from the first delay again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.until = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_with_jitter_and_reset_on_success() {
        let mut backoff = Backoff::default();
        let delays: Vec<Duration> = (0..12).map(|_| backoff.failed()).collect();
        assert!(delays[0] >= FIRST / 2 && delays[0] <= FIRST);
        assert!(delays[3] >= FIRST * 4 && delays[3] <= FIRST * 8, "{delays:?}");
        assert!(delays.iter().all(|d| *d <= CAP) && delays[11] >= CAP / 2, "{delays:?}");
        assert!(backoff.waiting());
        backoff.succeeded();
        assert!(!backoff.waiting());
        assert!(backoff.failed() <= FIRST);
    }
}
