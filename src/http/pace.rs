//! Write pacing: at most N writes per minute (nominal time, see [`crate::clock`]).
//!
//! Graph limits writes to personal-account apps to 60 per minute (reference §4.2); a bulk
//! `gc` that fires faster only collects 429s. Pacing keeps it just under the limit; the retry
//! policy still absorbs the 429s that other clients of the same tenant cause.

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
        let nominal = Duration::from_secs(60) / writes.max(1);
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
        // Slots at 0, 1, 2, 3 s (tokio's paused clock advances exactly).
        assert_eq!(Instant::now().duration_since(start).as_secs(), 3);
    }
}
