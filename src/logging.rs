//! Logging to stderr. Only mailreg's own targets go above `warn`: dependencies' debug output
//! (HTTP internals) is never shown, so no verbosity can print a header or a body.

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
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}
