//! File hygiene around secrets: the state folder's mode and `.gitignore`, stray temp files of
//! killed writers, and secret files that git would pick up.
//!
//! These are checks on files mailreg does not fully own (a folder made by hand, a work tree),
//! so they fix what is safe to fix and warn about the rest; none of them stops a run.

use std::path::Path;
use std::time::Duration;

/// Gives the state folder mode 0700 and a `.gitignore` that ignores everything, whether mailreg
/// created it just now or found it (made by hand, or named by `MAILREG_STATE_DIR`).
pub fn secure_state_dir(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(dir)
            && meta.permissions().mode() & 0o077 != 0
            && std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).is_err()
        {
            tracing::warn!(
                "{}: the folder holding secrets is readable by others (mode {:o}) and mailreg cannot change that; run `chmod 700` on it",
                dir.display(),
                meta.permissions().mode() & 0o777
            );
        }
    }
    let ignore = dir.join(".gitignore");
    if !ignore.exists() && std::fs::write(&ignore, "*\n").is_err() {
        tracing::warn!(
            "{}: cannot write a .gitignore; make sure this folder is never committed",
            dir.display()
        );
    }
}

/// Temp files of the old naming (`.mailreg-XXXXXX`, shared by every record) are removed only
/// when older than this: a current writer of another record never uses that name.
const LEGACY_STRAY_AGE: Duration = Duration::from_secs(60);

/// Removes the temp files that a writer killed between write and rename left behind: they are
/// 0600 but hold a secret nobody will ever use. Called under the record's lock, so no write of
/// the same record (whose temp files start with `prefix`) is in progress.
pub fn remove_stray_temp_files(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let legacy = name.len() == ".mailreg-".len() + 6
            && name.starts_with(".mailreg-")
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= LEGACY_STRAY_AGE);
        if (name.starts_with(prefix) || legacy)
            && entry.file_type().is_ok_and(|t| t.is_file())
            && std::fs::remove_file(entry.path()).is_ok()
        {
            tracing::info!(target: "mailreg::store", "removed a stray temp file left by an interrupted write: {}", entry.path().display());
        }
    }
}

/// Warns when a file holding a secret sits in a git work tree and git does not ignore it: the
/// next `git add .` would commit the secret. Silent when git is not installed or the path is
/// not in a work tree.
pub fn warn_if_git_would_track(path: &Path) {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return warn_if_git_would_track(&Path::new(".").join(path));
    };
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["check-ignore", "-q", "--"])
        .arg(path.file_name().unwrap_or_default())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    // 0: ignored; 1: not ignored; 128: not a work tree (or another failure).
    if status.ok().and_then(|s| s.code()) == Some(1) {
        tracing::warn!(
            "{} holds a secret and is inside a git work tree that does not ignore it: add it to .gitignore",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_records_own_strays_and_old_legacy_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for f in [
            ".mailreg-app.test.json.abc123",
            ".mailreg-app.prod.json.abc123",
            ".mailreg-Xy12Zq",
            "app.test.json",
        ] {
            std::fs::write(p.join(f), "x").unwrap();
        }
        remove_stray_temp_files(p, ".mailreg-app.test.json.");
        let mut left: Vec<String> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        // The legacy file is younger than a minute: it may be another writer's.
        assert_eq!(
            left,
            [
                ".mailreg-Xy12Zq",
                ".mailreg-app.prod.json.abc123",
                "app.test.json"
            ]
        );
    }
}
