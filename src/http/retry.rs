//! The one retry policy of mailreg.
//!
//! Hand-written rather than `backon`: the decision depends on three things a generic retry crate
//! does not model together: whether the request is safe to repeat (a create whose answer was
//! lost must not be sent again), a per-call classifier for replication-lag answers with a budget
//! of its own (~2 minutes), and `Retry-After`. It is small, and it is the only place that sleeps
//! between attempts.

use std::time::Duration;

/// Limits for one logical call. Durations are nominal (see [`crate::clock`]).
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts for throttling, 5xx and dropped connections, the first one included.
    pub max_attempts: u32,
    /// First backoff when the server gives no `Retry-After`; doubles each time.
    pub base_delay: Duration,
    /// Largest single backoff.
    pub max_delay: Duration,
    /// Total time mailreg may wait on throttling/5xx for one call.
    pub budget: Duration,
    /// Total time mailreg may wait on replication-lag answers for one call.
    pub lag_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            budget: Duration::from_secs(180),
            lag_budget: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with full jitter in the upper half: `[d/2, d]` with `d = base·2^n`,
    /// capped. Jitter keeps parallel CI jobs from retrying in lock-step.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX));
        let capped = exp.min(self.max_delay);
        let half = capped / 2;
        half + capped.mul_f64(fastrand::f64() * 0.5)
    }
}

/// The nominal wait before replication-lag poll `n` (0-based): 1 s, 2 s, 3 s, … up to 10 s.
///
/// Linear rather than doubling: an object appears at some unknown moment within seconds to a
/// couple of minutes, and the overshoot past that moment is at most the current step. Doubling
/// (1, 2, 4, 8, 8, …) overshot by up to 8 s per wait, which adds up when a run waits on several
/// new objects in a chain (app, service principal, grant). Linear steps reach 20 s of lag with at
/// most 1 s of overshoot and 40 s with at most 5 s, while the request count over the whole
/// two-minute lag budget stays what doubling cost (about 17 polls).
pub fn lag_delay(poll: u32) -> Duration {
    Duration::from_secs(u64::from(poll.saturating_add(1).min(10)))
}

/// Parses `Retry-After`: delta-seconds (what Graph and Google send) or an HTTP date. The value
/// comes from a server, so it is clamped ([`crate::clock::secs_clamped`]): `1e300` is a very
/// long wait, which the retry budget then refuses, never a panic.
pub fn parse_retry_after(value: &str, now: time::OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        if !secs.is_nan() && secs >= 0.0 {
            return Some(crate::clock::secs_clamped(secs));
        }
        return None;
    }
    let date =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let delta = date - now;
    Some(if delta.is_negative() {
        Duration::ZERO
    } else {
        delta.unsigned_abs().min(crate::clock::MAX_WAIT)
    })
}

/// What to do with a failed attempt.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Retry after the given nominal delay, counted against the throttling/5xx budget.
    Transient(Duration),
    /// Retry after the given nominal delay, counted against the replication-lag budget.
    Lag(Duration),
    /// Give up: the error is final (or repeating the request could apply it twice).
    Final,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = time::macros::datetime!(2026-11-28 10:00:00 UTC);
        assert_eq!(parse_retry_after("10", now), Some(Duration::from_secs(10)));
        assert_eq!(
            parse_retry_after("Sat, 28 Nov 2026 10:00:05 +0000", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Sat, 28 Nov 2026 09:00:05 +0000", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
        // Numbers from a hostile server: clamped, not a panic.
        assert_eq!(
            parse_retry_after("1e300", now),
            Some(crate::clock::MAX_WAIT)
        );
        assert_eq!(parse_retry_after("inf", now), Some(crate::clock::MAX_WAIT));
        assert_eq!(parse_retry_after("NaN", now), None);
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 +0000", now),
            Some(crate::clock::MAX_WAIT)
        );
    }

    #[test]
    fn lag_polls_come_close_to_the_moment_an_object_appears() {
        // Poll times (nominal, from the first answer) for a given number of polls.
        let times: Vec<u64> = (0..40)
            .scan(0, |t, n| {
                *t += lag_delay(n).as_secs();
                Some(*t)
            })
            .collect();
        let first_after = |lag: u64| times.iter().copied().find(|t| *t >= lag).unwrap();
        assert_eq!(first_after(20), 21);
        assert!(first_after(40) - 40 <= 5);
        assert!(first_after(5) - 5 <= 1);
        // The whole lag budget costs no more polls than the doubling schedule did (17).
        let polls_in_budget = times.iter().take_while(|t| **t <= 120).count();
        assert!(polls_in_budget <= 17, "{polls_in_budget}");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for attempt in 0..20 {
            let d = p.backoff(attempt);
            let nominal = Duration::from_secs(1 << attempt.min(16)).min(p.max_delay);
            assert!(d >= nominal / 2 && d <= nominal, "attempt {attempt}: {d:?}");
        }
    }
}
