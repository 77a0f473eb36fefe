//! Time as a setting, not a constant.
//!
//! Every wait in mailreg (retry backoff, replication-lag retries, operation polling, write
//! pacing) goes through [`Clock::sleep`], which multiplies the nominal duration by one factor:
//! `MAILREG_TIME_SCALE` (default 1). Test suites set it to 0.001 so that minutes of backoff run in
//! milliseconds without changing any policy. Budgets ("retry for up to two minutes") are counted
//! in nominal time, so the same decisions are taken at any scale.

use std::time::Duration;

use crate::error::{Error, Result};

/// Longest real wait mailreg ever schedules. Every duration that comes from outside (a
/// `Retry-After`, a device-code `interval`, a scale factor) is bounded by it, so no value can
/// overflow a timer or keep a run alive for years.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Accepted range of `MAILREG_TIME_SCALE` (0 makes every wait instant).
pub const TIME_SCALE_RANGE: (f64, f64) = (0.0, 100.0);

/// A number from an environment variable, checked against `range` (inclusive). Unset or empty
/// means `default`; anything else that is not a finite number in range is bad input (exit 3)
/// naming the variable and the range, so a typo never silently changes behaviour.
pub fn env_number(var: &str, range: (f64, f64), default: f64) -> Result<f64> {
    let raw = match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => v,
        Ok(_) | Err(std::env::VarError::NotPresent) => return Ok(default),
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(out_of_range(var, "(not valid UTF-8)", range));
        }
    };
    match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= range.0 && v <= range.1 => Ok(v),
        _ => Err(out_of_range(var, &format!("{raw:?}"), range)),
    }
}

fn out_of_range(var: &str, shown: &str, (lo, hi): (f64, f64)) -> Error {
    let shown: String = shown.chars().filter(|c| !c.is_control()).take(40).collect();
    Error::bad_input(format!(
        "{var}={shown}: expected a number from {lo} to {hi}"
    ))
}

/// Converts seconds that came from outside to a duration, clamped to `[0, MAX_WAIT]`
/// (`Duration::from_secs_f64` panics on huge, negative or NaN input).
pub fn secs_clamped(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        Duration::ZERO
    } else {
        Duration::try_from_secs_f64(secs)
            .unwrap_or(MAX_WAIT)
            .min(MAX_WAIT)
    }
}

/// RFC 3339 at whole seconds, as Graph and the credentials store write times.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Parses RFC 3339, as Graph and Resource Manager send times.
pub fn parse_rfc3339(t: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
}

#[derive(Clone, Copy, Debug)]
pub struct Clock {
    scale: f64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock { scale: 1.0 }
    }
}

impl Clock {
    pub fn new(scale: f64) -> Self {
        Clock {
            scale: if scale.is_finite()
                && (TIME_SCALE_RANGE.0..=TIME_SCALE_RANGE.1).contains(&scale)
            {
                scale
            } else {
                1.0
            },
        }
    }

    /// Reads `MAILREG_TIME_SCALE` (default 1); a value that is not a number from 0 to 100 is
    /// bad input.
    pub fn from_env() -> Result<Self> {
        env_number("MAILREG_TIME_SCALE", TIME_SCALE_RANGE, 1.0).map(Clock::new)
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The real duration that a nominal one takes at this scale, never beyond [`MAX_WAIT`].
    pub fn real(&self, nominal: Duration) -> Duration {
        secs_clamped(nominal.as_secs_f64() * self.scale)
    }

    /// Sleeps until `nominal` (scaled) after `start`; returns at once if that time has passed.
    pub async fn sleep_until(&self, start: std::time::Instant, nominal: Duration) {
        let deadline = start + self.real(nominal);
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await;
    }

    pub async fn sleep(&self, nominal: Duration) {
        let real = self.real(nominal);
        if !real.is_zero() {
            tokio::time::sleep(real).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_seconds_are_clamped_not_panicking() {
        assert_eq!(secs_clamped(1e300), MAX_WAIT);
        assert_eq!(secs_clamped(f64::INFINITY), MAX_WAIT);
        assert_eq!(secs_clamped(f64::NAN), Duration::ZERO);
        assert_eq!(secs_clamped(-5.0), Duration::ZERO);
        assert_eq!(secs_clamped(2.5), Duration::from_millis(2500));
        let c = Clock::new(1.0);
        assert_eq!(c.real(Duration::from_secs(u64::MAX)), MAX_WAIT);
        assert_eq!(
            Clock::new(0.001).real(Duration::from_secs(10)),
            Duration::from_millis(10)
        );
    }
}
