//! Time as a setting, not a constant.
//!
//! Every wait in mailreg (retry backoff, replication-lag retries, operation polling, write
//! pacing) goes through [`Clock::sleep`], which multiplies the nominal duration by one factor:
//! `MAILREG_TIME_SCALE` (default 1). Test suites set it to 0.001 so that minutes of backoff run in
//! milliseconds without changing any policy. Budgets ("retry for up to two minutes") are counted
//! in nominal time, so the same decisions are taken at any scale.

use std::time::Duration;

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
            scale: if scale.is_finite() && scale >= 0.0 {
                scale
            } else {
                1.0
            },
        }
    }

    /// Reads `MAILREG_TIME_SCALE`; an unparsable value is ignored (scale 1).
    pub fn from_env() -> Self {
        std::env::var("MAILREG_TIME_SCALE")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .map(Clock::new)
            .unwrap_or_default()
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The real duration that a nominal one takes at this scale.
    pub fn real(&self, nominal: Duration) -> Duration {
        nominal.mul_f64(self.scale)
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
