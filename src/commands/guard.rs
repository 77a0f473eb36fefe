//! Checks before a command goes on, beyond what the spec loader can refuse.
//!
//! A mistyped `--env`: `--env prdo` beside a declared `[env.prod]` would quietly plan (and
//! apply) a whole new registration. When the environment is not declared but close to one that
//! is, say so, and go on only with `--yes` or a "yes" typed at a terminal.

use std::io::IsTerminal;

use crate::cli::{Global, OutputFormat};
use crate::error::{Error, Result};
use crate::spec::Spec;

/// `yes` is the command's `--yes` flag, `None` for commands without one (plan, status, output).
pub(crate) fn env_guard(
    spec: &Spec,
    global: &Global,
    yes: Option<bool>,
    command: &str,
) -> Result<()> {
    let Some(close) = spec.near_miss_env() else {
        return Ok(());
    };
    let env = &spec.env;
    let notice = format!(
        "environment `{env}` is not declared in {}, but `{close}` is: did you mean `--env {close}`?",
        spec.file.display()
    );
    if yes == Some(true) {
        tracing::warn!("{notice} Going on with `{env}` (--yes).");
        return Ok(());
    }
    if global.output == OutputFormat::Text && std::io::stdin().is_terminal() {
        eprintln!("warning: {notice}");
        return super::confirm(
            global,
            false,
            command,
            &format!("Go on with environment `{env}`, a registration of its own?"),
        );
    }
    let also = if yes.is_some() { " or pass --yes" } else { "" };
    Err(Error::bad_input(notice).with_hint(format!(
        "pass --env {close}; if a new environment `{env}` is meant, declare [env.{env}] in the spec{also}"
    )))
}

/// A Google app in Testing lets only its test users sign in: with none listed, nobody can,
/// and the mailbox fails at its first sign-in rather than here. A warning, not an error: the
/// users can still be added in the console.
pub(crate) fn warn_no_test_users(spec: &Spec) {
    if let Some(g) = &spec.google
        && g.test_users.is_empty()
    {
        tracing::warn!(
            "{}: google.test_users is empty: while the app is in Testing nobody can sign in; add the mailbox address",
            spec.locator
                .locate("google")
                .map(|(l, c)| format!("{}:{l}:{c}", spec.file.display()))
                .unwrap_or_else(|| spec.file.display().to_string())
        );
    }
}
