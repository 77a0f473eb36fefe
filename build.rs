//! Records the commit and its date for `mailreg --version`: `mailreg 0.1.0 (abc123def456 2026-12-06)`.
//!
//! From git when the crate is built in its own repository; from `.cargo_vcs_info.json` (the commit
//! only) when built from a published crate; `SOURCE_DATE_EPOCH`, when set, gives the date (release
//! builds set it to the commit's time, so the same commit builds the same binary). Outside git and
//! without that file the version is just `mailreg 0.1.0`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");

    let mut commit = None;
    let mut date = None;
    if in_own_repository(&dir) {
        watch_git(&dir);
        commit = git(&dir, &["rev-parse", "--short=12", "HEAD"]);
        date = git(
            &dir,
            &["log", "-1", "--date=format-local:%Y-%m-%d", "--format=%cd"],
        );
    } else if let Ok(info) = std::fs::read_to_string(dir.join(".cargo_vcs_info.json")) {
        println!("cargo:rerun-if-changed=.cargo_vcs_info.json");
        commit = vcs_info_sha1(&info).map(|s| s.chars().take(12).collect());
    }
    if let Some(epoch) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
    {
        date = Some(civil_date(epoch));
    }

    let version = env!("CARGO_PKG_VERSION");
    let long = match (commit, date) {
        (Some(c), Some(d)) => format!("{version} ({c} {d})"),
        (Some(c), None) => format!("{version} ({c})"),
        (None, Some(d)) => format!("{version} ({d})"),
        (None, None) => version.to_owned(),
    };
    println!("cargo:rustc-env=MAILREG_VERSION={long}");
}

/// True when `dir` is the top of a git work tree (not merely inside some other repository, as a
/// crate unpacked under a project's `target/` would be).
fn in_own_repository(dir: &Path) -> bool {
    let Some(top) = git(dir, &["rev-parse", "--show-toplevel"]) else {
        return false;
    };
    match (Path::new(&top).canonicalize(), dir.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Rebuild when HEAD moves: HEAD itself, the branch it points to, and packed-refs.
fn watch_git(dir: &Path) {
    let abs = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() { p } else { dir.join(p) }
    };
    let mut watched = Vec::new();
    if let Some(head) = git(dir, &["rev-parse", "--git-path", "HEAD"]) {
        watched.push(abs(head));
    }
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"])
        && let Some(r) = git(dir, &["rev-parse", "--git-path", &branch])
    {
        watched.push(abs(r));
    }
    if let Some(p) = git(dir, &["rev-parse", "--git-path", "packed-refs"]) {
        watched.push(abs(p));
    }
    for p in watched {
        // A path that does not exist would make every build rerun this script.
        if p.exists() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("TZ", "UTC")
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !s.is_empty()).then_some(s)
}

/// The `"sha1": "…"` of cargo's `.cargo_vcs_info.json`.
fn vcs_info_sha1(info: &str) -> Option<String> {
    let rest = &info[info.find("\"sha1\"")? + 6..];
    let rest = &rest[rest.find('"')? + 1..];
    let sha = &rest[..rest.find('"')?];
    sha.chars()
        .all(|c| c.is_ascii_hexdigit())
        .then(|| sha.to_owned())
}

/// `YYYY-MM-DD` (UTC) of a Unix time, by Howard Hinnant's days-to-civil algorithm.
fn civil_date(epoch: i64) -> String {
    let z = epoch.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
