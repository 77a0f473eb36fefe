//! `verify --wait DURATION`: retries the failed logins until they pass or the time is up.
//! Exchange Online takes 30 minutes or more to apply a mailbox change (IMAP or POP turned on,
//! SMTP AUTH allowed); instead of waiting "at least 30 minutes" and hoping, this returns as soon
//! as every protocol works, and says when each one first did.
//!
//! The sign-in is done once, before: only the logins are repeated. Waits go through the
//! [`Clock`], so `MAILREG_TIME_SCALE` makes an hour run in seconds in tests. On a terminal a
//! progress line shows the elapsed time, the next try, an estimate of the time left (when the
//! settings change was made in this process: `mailreg up`) and each protocol's state.

use std::future::Future;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::Outcome;
use crate::clock::Clock;
use crate::error::Error;

/// The pause between tries is this fraction of the time since the change (nominal): a login
/// that starts to pass is noticed within a twelfth (8 %) of the time it took, whatever Exchange
/// takes, with ever fewer tries as the wait grows.
const SHARE: u32 = 12;
/// Never more often than this: the first seconds after a change see tries at this pace.
const SHORTEST: Duration = Duration::from_secs(2);
/// Never less often than this: past 24 minutes, one try every two minutes (as before).
const LONGEST: Duration = Duration::from_secs(120);

/// What the seed and the guide say Exchange usually takes to apply a mailbox change, and what
/// Microsoft says it can take: the progress line's estimate is counted against these.
const USUAL: Duration = Duration::from_secs(30 * 60);
const AT_MOST: Duration = Duration::from_secs(60 * 60);

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

/// The pause before the next try, `since` (nominal) after the change: a twelfth of it, from 2 s
/// to 2 minutes. Doubling from 15 s (the schedule before) noticed a 20-second propagation after
/// 45 s and an 11-minute one up to 2 minutes late; this notices either within 8 % of the time
/// it took, for 67 tries in Exchange's usual 30 minutes (18 before), one every 2 s only in the
/// first 24 s.
pub fn pause(since: Duration) -> Duration {
    (since / SHARE).clamp(SHORTEST, LONGEST)
}

/// Retries every failed outcome until it passes or `limit` (nominal) has passed since `started`.
/// `--wait`, when asked for: retries what failed until it passes or the wait is up, with a
/// progress line on a terminal (never for JSON or `-q`).
pub async fn when_asked<F, Fut>(
    outcomes: &mut [Outcome],
    args: &super::Options,
    clock: Clock,
    started: Instant,
    login: F,
) where
    F: Fn(super::Target) -> Fut,
    Fut: Future<Output = Option<Error>>,
{
    let Some(limit) = args.wait else { return };
    let interactive =
        !args.json && !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    retry(
        outcomes,
        limit,
        clock,
        started,
        args.settings_changed,
        interactive,
        login,
    )
    .await;
}

pub async fn retry<F, Fut>(
    outcomes: &mut [Outcome],
    limit: Duration,
    clock: Clock,
    started: Instant,
    changed: Option<Instant>,
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
    // The change cannot be after the first login; a stale mark (an earlier wait) is ignored.
    let changed = changed.filter(|c| *c <= started);
    let reference = changed.unwrap_or(started);
    while outcomes.iter().any(|o| o.error.is_some()) {
        let pause = clock.real(pause(nominal(reference.elapsed(), clock)));
        if Instant::now() + pause > deadline {
            break;
        }
        if let Some(b) = &bar {
            b.set_message(progress_line(
                nominal(started.elapsed(), clock),
                limit,
                nominal(pause, clock),
                changed.map(|c| nominal(c.elapsed(), clock)),
                &states(outcomes),
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

/// The progress line, from nominal durations: the wait's elapsed time and limit, the pause
/// before the next try, the time since the settings change (when known) and the protocols'
/// states. Pure, so its exact text is tested.
fn progress_line(
    elapsed: Duration,
    limit: Duration,
    next: Duration,
    since_change: Option<Duration>,
    states: &str,
) -> String {
    let eta = since_change
        .map(|s| format!("{}; ", eta(s)))
        .unwrap_or_default();
    format!(
        "waiting for the mailbox settings to apply: {} elapsed of {}, next try in {}; {eta}{states}",
        minutes(elapsed),
        minutes(limit),
        minutes(next)
    )
}

/// The estimate, `since` (nominal) after the change: the minutes left of Exchange's usual 30,
/// then that it is taking longer, then past Microsoft's hour where to look instead.
fn eta(since: Duration) -> String {
    if since >= AT_MOST {
        "longer than the hour Microsoft allows: `mailreg mailbox check` shows the settings".into()
    } else if since >= USUAL {
        "taking longer than usual (Exchange applies most changes within ~30 min, Microsoft says up to 60)".into()
    } else {
        let left = (USUAL - since).as_secs().div_ceil(60);
        let left = if left <= 1 {
            "about a minute left".to_owned()
        } else {
            format!("about {left} min left")
        };
        format!("{left} (Exchange applies changes within ~30 min)")
    }
}

/// A real duration in nominal terms, so a scaled test waits and shows what a person would.
fn nominal(real: Duration, clock: Clock) -> Duration {
    let scale = clock.scale();
    if scale > 0.0 {
        crate::clock::secs_clamped(real.as_secs_f64() / scale)
    } else {
        Duration::ZERO
    }
}

/// `12m30s`.
fn minutes(d: Duration) -> String {
    let secs = d.as_secs();
    format!("{}m{:02}s", secs / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_pause_is_a_twelfth_of_the_time_since_the_change_from_2_s_to_2_min() {
        let p: Vec<u64> = [0, 10, 24, 60, 300, 1440, 1800, 86_400]
            .map(|s| pause(secs(s)).as_secs())
            .to_vec();
        assert_eq!(p, [2, 2, 2, 5, 25, 120, 120, 120]);
        assert_eq!(pause(Duration::MAX), LONGEST);
        assert_eq!(
            nominal(Duration::from_millis(750), Clock::new(0.001)),
            secs(750)
        );
        assert_eq!(nominal(secs(5), Clock::new(0.0)), Duration::ZERO);
        assert_eq!(minutes(secs(750)), "12m30s");
    }

    #[test]
    fn the_progress_line_estimates_from_the_change() {
        let line = |since: Option<u64>| {
            progress_line(
                secs(180),
                secs(45 * 60),
                secs(15),
                since.map(secs),
                "imap waiting",
            )
        };
        let usual = "(Exchange applies changes within ~30 min)";
        assert_eq!(
            line(Some(0)),
            format!(
                "waiting for the mailbox settings to apply: 3m00s elapsed of 45m00s, next try in 0m15s; about 30 min left {usual}; imap waiting"
            )
        );
        assert_eq!(
            line(Some(750)),
            format!(
                "waiting for the mailbox settings to apply: 3m00s elapsed of 45m00s, next try in 0m15s; about 18 min left {usual}; imap waiting"
            )
        );
        assert_eq!(eta(secs(28 * 60)), format!("about 2 min left {usual}"));
        assert_eq!(
            eta(secs(29 * 60 + 30)),
            format!("about a minute left {usual}")
        );
        assert_eq!(
            eta(secs(30 * 60)),
            "taking longer than usual (Exchange applies most changes within ~30 min, Microsoft says up to 60)"
        );
        assert_eq!(
            eta(secs(61 * 60)),
            "longer than the hour Microsoft allows: `mailreg mailbox check` shows the settings"
        );
        // Without a change made by this process (`verify --wait`), no estimate.
        assert_eq!(
            line(None),
            "waiting for the mailbox settings to apply: 3m00s elapsed of 45m00s, next try in 0m15s; imap waiting"
        );
    }
}
