//! Opening the sign-in URL (DESIGN.md "Opening a browser"): the command in `BROWSER` with the URL
//! appended as its last argument (as `gh` and Python's `webbrowser` do), else `xdg-open` / `open`.
//! The browser's own output is discarded so it never mixes with mailreg's.

use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// The command line that opens `url`.
pub fn command_line(browser_env: Option<&str>, url: &str) -> Vec<String> {
    let mut argv: Vec<String> = match browser_env.map(str::trim).filter(|b| !b.is_empty()) {
        Some(b) => b.split_whitespace().map(str::to_owned).collect(),
        None if cfg!(target_os = "macos") => vec!["open".into()],
        None => vec!["xdg-open".into()],
    };
    argv.push(url.to_owned());
    argv
}

/// Starts the browser and returns at once; a thread reaps it.
pub fn open(url: &str) -> Result<()> {
    let env = std::env::var("BROWSER").ok();
    let argv = command_line(env.as_deref(), url);
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            Error::io(format!("starting the browser ({}): {e}", argv[0])).with_source(e)
        })?;
    std::thread::spawn(move || child.wait());
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn browser_gets_the_url_last() {
        assert_eq!(
            super::command_line(Some("node tests/peers/browser.mjs"), "http://x/?a=1&b=2"),
            ["node", "tests/peers/browser.mjs", "http://x/?a=1&b=2"]
        );
        let default = super::command_line(None, "u");
        assert_eq!(default.last().unwrap(), "u");
        assert_eq!(super::command_line(Some("  "), "u").len(), 2);
    }
}
