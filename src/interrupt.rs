//! Ctrl-C, wherever mailreg is.
//!
//! Most of a run awaits network calls: there `main` drops the command's future on SIGINT and
//! reports [`Error::interrupted`]. But a prompt blocks its thread in a terminal read (and
//! `rpassword` turns echo off while it does), so nothing async gets polled. A watcher task on
//! another runtime thread therefore also hears the signal: it restores the terminal as it was
//! when mailreg started and, if the run has not ended by itself within a moment, reports the
//! interruption and exits with 130.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::{Error, ExitCode};

/// Set once an outcome (result or error) is being reported, so the watcher never prints a
/// second one.
static REPORTED: AtomicBool = AtomicBool::new(false);

/// Claims the right to report the run's outcome; false when the watcher already did.
pub fn claim_report() -> bool {
    !REPORTED.swap(true, Ordering::SeqCst)
}

/// How long the watcher lets the ordinary path finish before it exits on its own.
const GRACE: Duration = Duration::from_millis(300);

/// The terminal settings of standard input at start, to put back after an interrupted prompt.
#[cfg(unix)]
pub struct Terminal(Option<libc::termios>);

#[cfg(unix)]
impl Terminal {
    pub fn save() -> Terminal {
        // SAFETY: tcgetattr writes a termios into the zeroed value we own; fd 0 may be anything.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::isatty(0) == 1 && libc::tcgetattr(0, &mut t) == 0 {
                Terminal(Some(t))
            } else {
                Terminal(None)
            }
        }
    }
    pub fn restore(&self) {
        if let Some(t) = &self.0 {
            // SAFETY: t is a termios read from the same descriptor by tcgetattr.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, t);
            }
        }
    }
}

#[cfg(not(unix))]
pub struct Terminal;

#[cfg(not(unix))]
impl Terminal {
    pub fn save() -> Terminal {
        Terminal
    }
    pub fn restore(&self) {}
}

/// Spawns the watcher. `report` prints the interruption (text or JSON) the way `main` would.
pub fn watch(terminal: Terminal, report: fn(Error)) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        terminal.restore();
        tokio::time::sleep(GRACE).await;
        if claim_report() {
            // A prompt still holds the main thread: end here.
            eprintln!();
            report(Error::interrupted());
            std::process::exit(ExitCode::Interrupted as i32);
        }
    });
}

/// Reads one line of standard input without holding up the runtime: on a thread of its own
/// (not `spawn_blocking`, whose threads the runtime waits for at shutdown), so Ctrl-C ends the
/// process at once even while the read is still blocked.
pub async fn read_line() -> crate::error::Result<String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let r = std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut line).map(|_| line);
        let _ = tx.send(r);
    });
    match rx.await {
        Ok(r) => Ok(r?),
        Err(_) => Err(Error::internal("the terminal reader stopped")),
    }
}
