//! Write pacing: at most N writes per minute (nominal time, see [`crate::clock`]).
//!
//! Graph limits writes to personal-account apps to 60 per minute (reference §4.2); a bulk
//! `gc` that fires faster only collects 429s. The pacer owns paced writes, retries included:
//! every attempt takes a slot, and a 429 holds the whole pacer for its `Retry-After` (other
//! clients of the same tenant fill the window too), so a throttled write never lands on top of
//! the next paced one. Slots are spaced 5 % wider than the limit: against a sliding window, a
//! write that arrives a millisecond early is throttled.

use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::Mutex;

use crate::clock::Clock;

pub struct Pacer {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    pub fn per_minute(writes: u32, clock: Clock) -> Pacer {
        let nominal = Duration::from_secs(60).div_f64(f64::from(writes.max(1)) * 0.95);
        Pacer {
            interval: clock.real(nominal),
            next: Mutex::new(None),
        }
    }

    /// Waits for the next slot. Slots are handed out in order, evenly spaced.
    pub async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// No slot before `real` from now: the server said so with `Retry-After`.
    pub async fn hold(&self, real: Duration) {
        let mut next = self.next.lock().await;
        let until = Instant::now() + real;
        *next = Some(next.map_or(until, |n| n.max(until)));
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
    async fn a_hold_delays_every_later_slot() {
        let p = Pacer::per_minute(60, Clock::new(1.0));
        let start = Instant::now();
        p.wait().await;
        p.hold(Duration::from_secs(10)).await;
        p.wait().await;
        assert_eq!(Instant::now().duration_since(start).as_secs(), 10);
    }
}
