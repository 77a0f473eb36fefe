//! Distribution: the release archive's layout (scripts/package.sh), the installer (install.sh)
//! against a local archive, and what `--version` says.
//!
//! The archive here holds the binary this test suite built; .ci/dist-check does the same with the
//! static release binary and then runs the README walkthrough with what install.sh installed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TARGET: &str = "x86_64-unknown-linux-musl";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn name() -> String {
    format!("mailreg-{}-{TARGET}", env!("CARGO_PKG_VERSION"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A release folder made by scripts/package.sh from the binary under test.
fn package(out: &Path) -> PathBuf {
    package_binary(Path::new(env!("CARGO_BIN_EXE_mailreg")), out)
}

/// The same from a small stand-in binary (the debug build is 100 MB: slow to compress).
fn package_small(out: &Path) -> PathBuf {
    std::fs::create_dir_all(out).unwrap();
    let bin = out.join("stand-in");
    std::fs::write(&bin, "#!/bin/sh\necho stand-in\n").unwrap();
    let archive = package_binary(&bin, out);
    std::fs::remove_file(bin).unwrap();
    archive
}

fn package_binary(binary: &Path, out: &Path) -> PathBuf {
    let made = Command::new("sh")
        .arg(root().join("scripts/package.sh"))
        .arg(binary)
        .arg(TARGET)
        .arg(out)
        .output()
        .expect("sh runs");
    assert!(made.status.success(), "{}", text(&made.stderr));
    let archive = out.join(format!("{}.tar.gz", name()));
    assert_eq!(text(&made.stdout).trim(), archive.display().to_string());
    archive
}

struct Install {
    out: Output,
    stderr: String,
}

/// install.sh with the release folder as its base URL, a private HOME and TMPDIR.
fn install(base: &Path, dir: &Path, tmp: &Path) -> Install {
    std::fs::create_dir_all(tmp).unwrap();
    let out = Command::new("sh")
        .arg(root().join("install.sh"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", tmp)
        .env("TMPDIR", tmp)
        .env(
            "MAILREG_INSTALL_BASE_URL",
            format!("file://{}", base.display()),
        )
        .env("MAILREG_INSTALL_DIR", dir)
        .env("MAILREG_INSTALL_TARGET", TARGET)
        .env("MAILREG_VERSION", env!("CARGO_PKG_VERSION"))
        .output()
        .expect("sh runs");
    let stderr = text(&out.stderr);
    Install { out, stderr }
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    text(&out.stdout).split(' ').next().unwrap().to_owned()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn the_archive_holds_one_folder_with_the_binary_and_its_documents() {
    let t = tempfile::tempdir().unwrap();
    let archive = package_small(t.path());
    let list = Command::new("tar")
        .arg("-tzvf")
        .arg(&archive)
        .output()
        .unwrap();
    assert!(list.status.success());
    let listing = text(&list.stdout);
    let n = name();
    let paths: Vec<&str> = listing
        .lines()
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            format!("{n}/"),
            format!("{n}/CHANGELOG.md"),
            format!("{n}/LICENSE"),
            format!("{n}/README.md"),
            format!("{n}/mailreg"),
        ]
    );
    let bin = listing.lines().find(|l| l.ends_with("/mailreg")).unwrap();
    assert!(bin.starts_with("-rwxr-xr-x 0/0 "), "{bin}");
    // The .sha256 is `sha256sum` format for the archive's file name, and right.
    let sums = std::fs::read_to_string(t.path().join(format!("{n}.tar.gz.sha256"))).unwrap();
    assert_eq!(sums, format!("{}  {n}.tar.gz\n", sha256(&archive)));
    let check = Command::new("sha256sum")
        .args(["-c", &format!("{n}.tar.gz.sha256")])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert_eq!(text(&check.stdout), format!("{n}.tar.gz: OK\n"));
    // Packing again gives the same bytes.
    let again = tempfile::tempdir().unwrap();
    assert_eq!(sha256(&package_small(again.path())), sha256(&archive));
}

#[test]
fn a_good_checksum_installs_a_working_binary() {
    let t = tempfile::tempdir().unwrap();
    let rel = t.path().join("release");
    package(&rel);
    let dir = t.path().join("bin");
    let tmp = t.path().join("tmp");
    let r = install(&rel, &dir, &tmp);
    assert_eq!(r.out.status.code(), Some(0), "{}", r.stderr);
    assert!(
        r.stderr.contains("mailreg-install: checksum ok ("),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!(
            "mailreg-install: installed {}/mailreg\n",
            dir.display()
        )),
        "{}",
        r.stderr
    );
    // Only the binary, executable; the downloads are gone.
    assert_eq!(entries(&dir), ["mailreg"]);
    let mode = std::fs::metadata(dir.join("mailreg"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(entries(&tmp), Vec::<String>::new());
    let v = Command::new(dir.join("mailreg"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        text(&v.stdout),
        format!("mailreg {}\n", env!("MAILREG_VERSION"))
    );
    // The folder is not on this PATH: the installer says how to add it.
    assert!(r.stderr.contains("is not on your PATH"), "{}", r.stderr);
}

#[test]
fn a_bad_checksum_installs_nothing() {
    let t = tempfile::tempdir().unwrap();
    let rel = t.path().join("release");
    let archive = package_small(&rel);
    let n = name();
    // The archive changed after its checksum was taken (a tampered or truncated download).
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes.push(0);
    std::fs::write(&archive, bytes).unwrap();
    let dir = t.path().join("bin");
    let tmp = t.path().join("tmp");
    let r = install(&rel, &dir, &tmp);
    assert_eq!(r.out.status.code(), Some(1), "{}", r.stderr);
    let expected = std::fs::read_to_string(rel.join(format!("{n}.tar.gz.sha256"))).unwrap();
    let expected = expected.split(' ').next().unwrap();
    assert!(
        r.stderr.ends_with(&format!(
            "mailreg-install: error: checksum mismatch for {n}.tar.gz: expected {expected}, got {}; nothing installed\n",
            sha256(&archive)
        )),
        "{}",
        r.stderr
    );
    assert!(!dir.exists(), "the install folder was made");
    assert_eq!(entries(&tmp), Vec::<String>::new());

    // An existing install is left as it was.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mailreg"), "old").unwrap();
    let r = install(&rel, &dir, &tmp);
    assert_eq!(r.out.status.code(), Some(1), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(dir.join("mailreg")).unwrap(), "old");
    assert_eq!(entries(&dir), ["mailreg"]);
}

#[test]
fn a_checksum_file_without_a_checksum_or_a_missing_archive_installs_nothing() {
    let t = tempfile::tempdir().unwrap();
    let rel = t.path().join("release");
    package_small(&rel);
    let n = name();
    let dir = t.path().join("bin");
    let tmp = t.path().join("tmp");
    std::fs::write(
        rel.join(format!("{n}.tar.gz.sha256")),
        "<html>not found</html>\n",
    )
    .unwrap();
    let r = install(&rel, &dir, &tmp);
    assert_eq!(r.out.status.code(), Some(1), "{}", r.stderr);
    assert!(
        r.stderr.ends_with(&format!(
            "mailreg-install: error: {n}.tar.gz.sha256 holds no SHA-256\n"
        )),
        "{}",
        r.stderr
    );
    assert!(!dir.exists());

    std::fs::remove_file(rel.join(format!("{n}.tar.gz"))).unwrap();
    let r = install(&rel, &dir, &tmp);
    assert_eq!(r.out.status.code(), Some(1), "{}", r.stderr);
    assert!(
        r.stderr.ends_with(&format!(
            "mailreg-install: error: could not download file://{}/{n}.tar.gz\n",
            rel.display()
        )),
        "{}",
        r.stderr
    );
    assert!(!dir.exists());
    assert_eq!(entries(&tmp), Vec::<String>::new());
}

/// install.sh's default release, the action's and the Dockerfile's follow the crate's version.
#[test]
fn the_installer_and_the_action_default_to_this_version() {
    let v = env!("CARGO_PKG_VERSION");
    let sh = std::fs::read_to_string(root().join("install.sh")).unwrap();
    assert!(sh.contains(&format!("version=\"${{MAILREG_VERSION:-${{1:-{v}}}}}\"")));
    let action = std::fs::read_to_string(root().join("action.yml")).unwrap();
    assert!(
        action.contains(&format!("    default: \"{v}\"\n")),
        "{action}"
    );
}

fn git(args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(root())
        .env("TZ", "UTC")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

#[test]
fn version_names_the_commit_and_its_date() {
    let out = Command::new(env!("CARGO_BIN_EXE_mailreg"))
        .arg("--version")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    let date = match std::env::var("SOURCE_DATE_EPOCH") {
        // The build took its date from there.
        Ok(_) => env!("MAILREG_VERSION")
            .rsplit(' ')
            .next()
            .unwrap()
            .trim_end_matches(')')
            .to_owned(),
        Err(_) => git(&["log", "-1", "--date=format-local:%Y-%m-%d", "--format=%cd"]),
    };
    assert_eq!(
        text(&out.stdout),
        format!("mailreg {} ({commit} {date})\n", env!("CARGO_PKG_VERSION"))
    );
    let json = Command::new(env!("CARGO_BIN_EXE_mailreg"))
        .args(["--version", "-o", "json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({ "version": format!("mailreg {} ({commit} {date})", env!("CARGO_PKG_VERSION")) })
    );
}
