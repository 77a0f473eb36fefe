//! `verify --wait DURATION`: retries the failed logins with backoff until they pass or the time
//! is up. Exchange Online takes 30 minutes or more to apply a mailbox change (IMAP or POP turned
//! on, SMTP AUTH allowed); instead of waiting "at least 30 minutes" and hoping, this returns as
//! soon as every protocol works, and says when each one first did.
//!
//! The sign-in is done once, before: only the logins are repeated. Waits go through the
//! [`Clock`], so `MAILREG_TIME_SCALE` makes an hour run in seconds in tests. On a terminal a
//! progress line shows the elapsed time, the next try and each protocol's state.

use std::future::Future;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::Outcome;
use crate::clock::Clock;
use crate::error::Error;

/// The first pause between tries, and the longest (nominal time).
const FIRST: Duration = Duration::from_secs(15);
const LONGEST: Duration = Duration::from_secs(120);

/// The longest `--wait`: Microsoft says CAS changes reach every server within an hour or so;
/// a day is generous, and keeps every deadline computable.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Refuses a `--wait` longer than [`MAX_WAIT`] (bad input, before anyone signs in).
pub fn check_limit(wait: Duration) -> crate::error::Result<()> {
    if wait > MAX_WAIT {
        return Err(Error::bad_input(format!(
            "--wait {}: at most 24h (Exchange applies mailbox changes within an hour or so)",
            humantime::format_duration(wait)
        )));
    }
    Ok(())
}

/// The pause before try number `n` (from 1): 15 s, 30 s, 60 s, then every 2 minutes.
pub fn pause(n: u32) -> Duration {
    FIRST
        .saturating_mul(1u32 << n.saturating_sub(1).min(8))
        .min(LONGEST)
}

/// Retries every failed outcome until it passes or `limit` (nominal) has passed since `started`.
pub async fn retry<F, Fut>(
    outcomes: &mut [Outcome],
    limit: Duration,
    clock: Clock,
    started: Instant,
    interactive: bool,
    login: F,
) where
    F: Fn(super::Target) -> Fut,
    Fut: Future<Output = Option<Error>>,
{
    let bar = interactive.then(|| {
        let b = ProgressBar::new_spinner();
        b.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("static template"));
        b.enable_steady_tick(Duration::from_millis(200));
        b
    });
    let deadline = started + clock.real(limit);
    let mut n = 0;
    while outcomes.iter().any(|o| o.error.is_some()) {
        n += 1;
        let pause = clock.real(pause(n));
        if Instant::now() + pause > deadline {
            break;
        }
        if let Some(b) = &bar {
            b.set_message(format!(
                "waiting for the mailbox settings to apply: {} elapsed of {}, next try in {}; {}",
                minutes(started.elapsed(), clock),
                minutes(clock.real(limit), clock),
                minutes(pause, clock),
                states(outcomes)
            ));
        }
        tokio::time::sleep(pause).await;
        for o in outcomes.iter_mut().filter(|o| o.error.is_some()) {
            o.attempts += 1;
            o.error = login(o.target.clone()).await;
            if o.error.is_none() {
                o.passed_at = Some(time::OffsetDateTime::now_utc());
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}

/// `imap OK, pop3 waiting`.
fn states(outcomes: &[Outcome]) -> String {
    outcomes
        .iter()
        .map(|o| {
            let s = if o.error.is_none() { "OK" } else { "waiting" };
            format!("{} {s}", o.target.protocol.as_str())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A real duration shown in nominal terms (`12m30s`), so a scaled test shows what a person would.
fn minutes(real: Duration, clock: Clock) -> String {
    let scale = clock.scale();
    let nominal = if scale > 0.0 {
        real.as_secs_f64() / scale
    } else {
        0.0
    };
    let secs = nominal.min(1e9) as u64;
    format!("{}m{:02}s", secs / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_doubles_up_to_two_minutes() {
        let p: Vec<u64> = (1..=6).map(|n| pause(n).as_secs()).collect();
        assert_eq!(p, [15, 30, 60, 120, 120, 120]);
        assert_eq!(pause(u32::MAX), LONGEST);
        assert_eq!(
            minutes(Duration::from_millis(750), Clock::new(0.001)),
            "12m30s"
        );
    }
}
