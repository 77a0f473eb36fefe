//! Long waits, told to the person at the terminal.
//!
//! A 60 s `Retry-After`, a minute of replication lag or a slow Google operation look like a hang
//! when nothing is said. On a terminal (stderr), a wait of [`NOTICE_FROM`] or more is announced
//! with what is waited for and for how long; in a pipe or a CI log it stays quiet (the `-v`
//! request log has the details).

use std::io::IsTerminal;
use std::time::Duration;

/// Shortest (nominal) wait worth announcing.
pub const NOTICE_FROM: Duration = Duration::from_secs(5);

/// The announcement, or `None` for a wait too short to mention.
pub fn text(why: &str, target: &str, delay: Duration) -> Option<String> {
    (delay >= NOTICE_FROM).then(|| {
        let shown = humantime::format_duration(Duration::from_secs(delay.as_secs()));
        format!("waiting {shown}: {why} ({target})")
    })
}

/// Prints [`text`] on a terminal.
pub fn long_wait(why: &str, target: &str, delay: Duration) {
    if let Some(t) = text(why, target, delay)
        && std::io::stderr().is_terminal()
    {
        eprintln!("{t}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_long_waits_are_announced() {
        assert_eq!(text("x", "GET h/p", Duration::from_secs(4)), None);
        assert_eq!(
            text(
                "the server asked to retry later (HTTP 429)",
                "GET graph.microsoft.com/v1.0/applications",
                Duration::from_millis(60_400)
            )
            .unwrap(),
            "waiting 1m: the server asked to retry later (HTTP 429) (GET graph.microsoft.com/v1.0/applications)"
        );
    }
}
