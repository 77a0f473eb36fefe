//! Write pacing for bulk work: adaptive, starting at N writes per minute (nominal time, see
//! [`crate::clock`]).
//!
//! Graph limits writes to personal-account apps to 60 per minute (reference §4.2), but the real
//! budget is whatever other clients of the tenant leave over, and a tenant may be limited harder.
//! So the configured rate is only where the pacer starts and the most it ever allows. Every 429
//! slows the pacer down. With `Retry-After` the server says exactly when its window has room
//! again: the whole pacer holds until then and resumes at its pace (halving the rate as well
//! would only waste the room the server announced: measured, a gc started on a full window
//! then ran at 13 % of the limit instead of 87 %). Without it there is nothing to go by but the
//! refusal: the interval between writes doubles and the pacer holds for that new interval.
//! Every run of [`SPEED_UP_AFTER`] answered writes shortens the interval by a tenth. Slow down
//! fast, speed up carefully: the pace settles just under the limit in force.
//!
//! The pacer owns paced writes, retries included: every attempt takes a slot. A throttled paced
//! write is retried until the run's deadline instead of the per-call retry budget, so a bulk
//! `gc` finishes whatever the limit, or stops at a deadline the user chose.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::clock::Clock;

/// Answered writes in a row before the interval shortens.
pub const SPEED_UP_AFTER: u32 = 5;

/// The longest interval (nominal): one write every two minutes is slower than any real limit.
const MAX_INTERVAL: Duration = Duration::from_secs(120);

pub struct Pacer {
    /// The fastest allowed interval (the configured rate, 5 % under).
    floor: Duration,
    clock: Clock,
    deadline: Option<Instant>,
    state: Mutex<State>,
}

struct State {
    interval: Duration,
    next: Option<Instant>,
    successes: u32,
    throttled: u64,
}

impl Pacer {
    pub fn per_minute(writes: u32, clock: Clock) -> Pacer {
        // Slots are spaced 5 % wider than the limit: against a sliding window, a write that
        // arrives a millisecond early is throttled.
        let nominal = Duration::from_secs(60).div_f64(f64::from(writes.max(1)) * 0.95);
        Pacer {
            floor: clock.real(nominal),
            clock,
            deadline: None,
            state: Mutex::new(State {
                interval: clock.real(nominal),
                next: None,
                successes: 0,
                throttled: 0,
            }),
        }
    }

    /// Paced writes stop being retried once `nominal` has passed from now.
    pub fn with_deadline(mut self, nominal: Duration) -> Pacer {
        self.deadline = Some(Instant::now() + self.clock.real(nominal));
        self
    }

    /// Whether a retry that would start `real` from now is still before the deadline.
    pub fn before_deadline(&self, real: Duration) -> bool {
        self.deadline.is_none_or(|d| Instant::now() + real < d)
    }

    /// Waits for the next slot. Slots are handed out in order, spaced by the current interval.
    pub async fn wait(&self) {
        let slot = {
            let mut st = self.state.lock().await;
            let now = Instant::now();
            let slot = st.next.map_or(now, |n| n.max(now));
            st.next = Some(slot + st.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// A paced write was answered (not throttled): after a run of them, speed up a little.
    pub async fn answered(&self) {
        let mut st = self.state.lock().await;
        st.successes += 1;
        if st.successes >= SPEED_UP_AFTER {
            st.successes = 0;
            st.interval = st.interval.mul_f64(0.9).max(self.floor);
        }
    }

    /// A paced write got a 429: hold every slot for `retry_after` (real time) when the server
    /// gave one; else double the interval and hold for the new interval.
    pub async fn throttled(&self, retry_after: Option<Duration>) {
        let mut st = self.state.lock().await;
        st.successes = 0;
        st.throttled += 1;
        let hold = match retry_after {
            Some(d) => d,
            None => {
                st.interval = (st.interval * 2).min(self.clock.real(MAX_INTERVAL).max(self.floor));
                st.interval
            }
        };
        let until = Instant::now() + hold;
        st.next = Some(st.next.map_or(until, |n| n.max(until)));
    }

    /// The current interval between slots (real time), for the tests.
    #[cfg(test)]
    pub async fn interval(&self) -> Duration {
        self.state.lock().await.interval
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slots_are_evenly_spaced() {
        let p = Pacer::per_minute(60, Clock::new(1.0));
        let start = Instant::now();
        for _ in 0..4 {
            p.wait().await;
        }
        // Slots at 0, 1.05, 2.1, 3.16 s (60 a minute, 5 % under; tokio's paused clock).
        // tokio's timer rounds each sleep up to the millisecond.
        let ms = Instant::now().duration_since(start).as_millis();
        assert!((3157..=3159).contains(&ms), "{ms}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_delays_every_later_slot() {
        let p = Pacer::per_minute(60, Clock::new(1.0));
        let start = Instant::now();
        p.wait().await;
        p.throttled(Some(Duration::from_secs(10))).await;
        p.wait().await;
        assert_eq!(Instant::now().duration_since(start).as_secs(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn every_429_slows_down_with_or_without_retry_after_and_successes_speed_up_to_the_floor()
    {
        let p = Pacer::per_minute(60, Clock::new(1.0));
        let floor = p.interval().await;
        p.throttled(None).await;
        assert_eq!(p.interval().await, floor * 2);
        // A Retry-After is the server's own word: the pacer holds for it (see
        // a_retry_after_delays_every_later_slot) and keeps its pace.
        p.throttled(Some(Duration::from_secs(1))).await;
        assert_eq!(p.interval().await, floor * 2);
        p.throttled(None).await;
        assert_eq!(p.interval().await, floor * 4);
        // Without Retry-After the hold is the new interval.
        let start = Instant::now();
        p.wait().await;
        assert!(Instant::now().duration_since(start) >= floor * 2);
        for _ in 0..SPEED_UP_AFTER - 1 {
            p.answered().await;
        }
        assert_eq!(p.interval().await, floor * 4, "not before a full run");
        p.answered().await;
        assert_eq!(p.interval().await, (floor * 4).mul_f64(0.9));
        for _ in 0..SPEED_UP_AFTER * 40 {
            p.answered().await;
        }
        assert_eq!(p.interval().await, floor, "never faster than configured");
        for _ in 0..40 {
            p.throttled(None).await;
        }
        assert_eq!(p.interval().await, MAX_INTERVAL);
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_is_counted_from_creation() {
        let p = Pacer::per_minute(60, Clock::new(0.5)).with_deadline(Duration::from_secs(60));
        assert!(p.before_deadline(Duration::from_secs(29)));
        assert!(!p.before_deadline(Duration::from_secs(31)));
    }
}
