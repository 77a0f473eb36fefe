//! The credentials store: one JSON file per spec name and environment in `.mailreg/` beside the
//! spec (or `MAILREG_STATE_DIR`), mode 0600 in a 0700 folder.
//!
//! Several mailreg processes may change the same record at once (an `apply` and a `google
//! import-client`, a `rotate` and a `verify --keep-refresh-token`). A writer that saved the copy
//! it read at its start would throw away what the other wrote in between, so the store has a
//! single way to change a record, [`Store::update`]: take the record's lock, read the file as it
//! is now, let the caller change only its own fields, write atomically and durably, release.
//! The lock is held for microseconds (never across a network call), so a second writer simply
//! waits for it, up to `MAILREG_LOCK_TIMEOUT` seconds.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Record;
use super::hygiene;
use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// `MAILREG_STATE_DIR`, else `.mailreg/` beside the spec file.
    pub fn for_spec(spec_file: &Path) -> Store {
        let dir = match std::env::var_os("MAILREG_STATE_DIR") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => spec_file
                .parent()
                .map(|p| {
                    if p.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        p
                    }
                })
                .unwrap_or(Path::new("."))
                .join(".mailreg"),
        };
        Store { dir }
    }

    pub fn at(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    pub fn path(&self, name: &str, env: &str) -> PathBuf {
        self.dir.join(format!("{name}.{env}.json"))
    }

    pub fn load(&self, name: &str, env: &str) -> Result<Option<Record>> {
        let path = self.path(name, env);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("{}: {e}", path.display()))),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::bad_input(format!(
                "{}:{}:{}: the credentials file is damaged: {}",
                path.display(),
                e.line(),
                e.column(),
                crate::error::json_message(&e)
            ))
            .with_hint("move it away and run `mailreg apply`: a new secret is made and the old ones retired")
        })
    }

    /// The usable credentials of an applied environment (without a Google client kept only
    /// for `google undelete`), or the error that says to apply first.
    pub fn load_required(&self, name: &str, env: &str) -> Result<Record> {
        let live = self.load(name, env)?.map(|mut r| {
            if r.google.as_ref().is_some_and(|g| g.deleting.is_some()) {
                r.google = None;
            }
            r
        });
        live.filter(|r| !r.is_empty()).ok_or_else(|| {
            Error::bad_input(format!(
                "no credentials on record for {name} (environment {env}) in {}",
                self.path(name, env).display()
            ))
            .with_hint(
                "run `mailreg apply` first (on this machine, or with the same MAILREG_STATE_DIR)",
            )
        })
    }

    /// The one way to change a record. Under the record's lock: re-reads the file, lets `change`
    /// edit it (only the fields its caller owns), and writes it back atomically and durably, or
    /// removes the file when the record became empty. Skips the write when nothing changed, so
    /// a no-op run leaves the file untouched. Returns the record as it now is.
    pub fn update(
        &self,
        name: &str,
        env: &str,
        change: impl FnOnce(&mut Record),
    ) -> Result<Record> {
        self.ensure_dir()?;
        let _guard = RecordLock::acquire(self, name, env)?;
        hygiene::remove_stray_temp_files(&self.dir, &temp_prefix(name, env));
        let mut record = self
            .load(name, env)?
            .unwrap_or_else(|| Record::new(name, env));
        let before = serde_json::to_value(&record).expect("records serialise");
        change(&mut record);
        if serde_json::to_value(&record).expect("records serialise") == before {
            return Ok(record);
        }
        let path = self.path(name, env);
        if record.is_empty() {
            match std::fs::remove_file(&path) {
                Ok(()) => sync_dir(&self.dir).map_err(|e| io_error(&self.dir, e))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&path, e)),
            }
        } else {
            let bytes = serde_json::to_vec_pretty(&record).expect("records serialise");
            write_private_as(&path, &bytes, &temp_prefix(name, env))?;
        }
        Ok(record)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the folder (0700, with a `.gitignore` that ignores everything), or checks one
    /// that exists already: a folder made by hand or named by `MAILREG_STATE_DIR` gets the same
    /// treatment, fixed where mailreg may, warned about where it may not.
    pub fn ensure_dir(&self) -> Result<()> {
        if !self.dir.exists() {
            std::fs::create_dir_all(&self.dir).map_err(|e| io_error(&self.dir, e))?;
        }
        hygiene::secure_state_dir(&self.dir);
        Ok(())
    }
}

/// The temp-file prefix of one record: a stray file of a killed writer is recognised (and
/// removed under that record's lock) without touching another record's write in progress.
fn temp_prefix(name: &str, env: &str) -> String {
    format!(".mailreg-{name}.{env}.json.")
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::io(format!("{}: {e}", path.display())).with_source(e)
}

/// Accepted range of `MAILREG_LOCK_TIMEOUT`, in seconds.
pub const LOCK_TIMEOUT_RANGE: (f64, f64) = (0.0, 3600.0);

/// How long a writer waits for another's record update: `MAILREG_LOCK_TIMEOUT` seconds (30). A
/// value that is not a number in range is bad input, like every numeric variable
/// ([`crate::clock::env_number`]); `commands::run` checks it before anything is sent, so no
/// command can fail on it halfway.
pub fn lock_timeout() -> Result<Duration> {
    crate::clock::env_number("MAILREG_LOCK_TIMEOUT", LOCK_TIMEOUT_RANGE, 30.0)
        .map(crate::clock::secs_clamped)
}

/// The short lock around one read-change-write of a record (`<name>.<env>.json.lock`).
/// Separate from the run lock of [`crate::lock`], which a writing command holds for its whole run:
/// a process that holds the run lock still takes this one for each write.
struct RecordLock {
    file: File,
}

impl RecordLock {
    fn acquire(store: &Store, name: &str, env: &str) -> Result<RecordLock> {
        let path = store.dir.join(format!("{name}.{env}.json.lock"));
        let file = open_lock_file(&path)?;
        let timeout = lock_timeout()?;
        let deadline = Instant::now() + timeout;
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(RecordLock { file }),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    if !told {
                        tracing::warn!(
                            "waiting for another mailreg process to finish writing {}",
                            store.path(name, env).display()
                        );
                        told = true;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::refused(format!(
                        "another mailreg process kept the credentials record {} locked for longer than {}s",
                        store.path(name, env).display(),
                        timeout.as_secs()
                    ))
                    .with_hint("run the command again; MAILREG_LOCK_TIMEOUT sets the wait in seconds"));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(Error::io(format!("locking {}: {e}", path.display())));
                }
            }
        }
    }
}

impl Drop for RecordLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Opens (or creates, 0600) a lock file without following a symlink: a link planted in the
/// state folder must not get its target created or truncated.
pub(crate) fn open_lock_file(path: &Path) -> Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path).map_err(|e| {
        if path.is_symlink() {
            Error::refused(format!(
                "{}: the lock file is a symbolic link; mailreg does not follow it",
                path.display()
            ))
            .with_hint("remove the link; mailreg creates the lock file itself")
        } else {
            io_error(path, e)
        }
    })
}

/// Atomic, durable write of a file holding secrets: a 0600 temp file in the same folder,
/// fsync, rename, fsync of the folder. A reader sees the old file or the new one, never a
/// half-written one, and a crash after success cannot bring the old one back.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_private_as(path, bytes, ".mailreg-")
}

fn write_private_as(path: &Path, bytes: &[u8], prefix: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let fail = |e: std::io::Error| Error::io(format!("writing {}: {e}", path.display()));
    // tempfile creates with 0600 on unix.
    let mut tmp = tempfile::Builder::new()
        .prefix(prefix)
        .tempfile_in(dir)
        .map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    sync_dir(dir).map_err(fail)
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::{SecretValue, google_fixture as google};

    /// Many writers, each changing only its own refresh token, from several threads at once:
    /// every one of them is on record at the end.
    #[test]
    fn concurrent_updates_each_keep_the_others_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join(".mailreg"));
        store
            .update("a", "test", |r| r.google = Some(google("c1")))
            .unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for j in 0..10 {
                        store
                            .update("a", "test", |r| {
                                let g = r.google.as_mut().unwrap();
                                g.refresh_tokens
                                    .insert(format!("u{i}-{j}"), SecretValue::new("rt"));
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let rec = store.load("a", "test").unwrap().unwrap();
        assert_eq!(rec.google.unwrap().refresh_tokens.len(), 80);
        let strays = std::fs::read_dir(store.dir())
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with(".mailreg-")
            })
            .count();
        assert_eq!(strays, 0);
    }

    #[test]
    fn an_emptied_record_is_removed_and_an_unchanged_one_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join(".mailreg"));
        store
            .update("a", "test", |r| r.google = Some(google("c1")))
            .unwrap();
        let path = store.path("a", "test");
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        store.update("a", "test", |_| {}).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            before
        );
        store.update("a", "test", |r| r.google = None).unwrap();
        assert!(!path.exists());
    }
}
