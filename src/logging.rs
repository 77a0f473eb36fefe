//! Logging to stderr. Only mailreg's own targets go above `warn`: dependencies' debug output
//! (HTTP internals) is never shown, so no verbosity can print a header or a body.
//!
//! Colour only when a person reads it: escape codes in a CI log or a redirected file are noise.
//! `NO_COLOR` (any non-empty value) turns colour off, `CLICOLOR_FORCE` (non-empty, not `0`)
//! turns it on without a terminal; NO_COLOR wins when both are set.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(verbose: u8, quiet: bool) {
    let filter = match std::env::var("MAILREG_LOG") {
        Ok(f) if !f.is_empty() => f,
        _ => match (quiet, verbose) {
            (true, _) => "error".into(),
            (false, 0) => "warn".into(),
            (false, 1) => "warn,mailreg=info".into(),
            (false, _) => "warn,mailreg=debug".into(),
        },
    };
    let colour = use_colour(
        std::env::var_os("NO_COLOR").as_deref(),
        std::env::var_os("CLICOLOR_FORCE").as_deref(),
        std::io::stderr().is_terminal(),
    );
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Whether stderr gets colour, from `NO_COLOR`, `CLICOLOR_FORCE` and whether it is a terminal.
pub fn use_colour(
    no_color: Option<&std::ffi::OsStr>,
    force: Option<&std::ffi::OsStr>,
    terminal: bool,
) -> bool {
    if no_color.is_some_and(|v| !v.is_empty()) {
        return false;
    }
    if force.is_some_and(|v| !v.is_empty() && v != "0") {
        return true;
    }
    terminal
}

#[cfg(test)]
mod tests {
    use super::use_colour;
    use std::ffi::OsStr;

    #[test]
    fn colour_follows_the_terminal_and_the_conventions() {
        let on = Some(OsStr::new("1"));
        let zero = Some(OsStr::new("0"));
        let empty = Some(OsStr::new(""));
        assert!(use_colour(None, None, true));
        assert!(!use_colour(None, None, false));
        assert!(!use_colour(on, None, true), "NO_COLOR on a terminal");
        assert!(use_colour(empty, None, true), "an empty NO_COLOR is unset");
        assert!(
            use_colour(None, on, false),
            "CLICOLOR_FORCE without a terminal"
        );
        assert!(
            !use_colour(None, zero, false),
            "CLICOLOR_FORCE=0 forces nothing"
        );
        assert!(!use_colour(on, on, true), "NO_COLOR wins");
    }
}
