//! One run at a time per spec and environment.
//!
//! An advisory OS lock (`flock`) on `.mailreg/<name>.<env>.lock`: the kernel releases it when the
//! holder exits or is killed, so a lock left by a killed run is never stale: the next run takes
//! it over at once. The file also records who holds it, for the message the second run prints.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;

use crate::credentials::Store;
use crate::error::{Error, Result};

/// Held for the lifetime of the value.
pub struct Lock {
    file: File,
    pub path: PathBuf,
}

impl Lock {
    /// Takes the lock of `name`/`env`, or says who holds it.
    pub fn acquire(store: &Store, name: &str, env: &str, command: &str) -> Result<Lock> {
        store.ensure_dir()?;
        let path = store.dir().join(format!("{name}.{env}.lock"));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(format!("{}: {e}", path.display())).with_source(e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::refused(format!(
                    "another mailreg run holds the lock for {name} (environment {env}){}",
                    if holder.is_empty() {
                        String::new()
                    } else {
                        format!(": {holder}")
                    }
                ))
                .with_hint("wait for it to finish; a killed run releases the lock by itself"));
            }
            Err(TryLockError::Error(e)) => {
                return Err(Error::io(format!("locking {}: {e}", path.display())));
            }
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(
            file,
            "pid {} ({command}) since {}",
            std::process::id(),
            crate::clock::rfc3339(time::OffsetDateTime::now_utc())
        );
        let _ = file.flush();
        Ok(Lock { file, path })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join(".mailreg"));
        let first = Lock::acquire(&store, "app", "test", "apply").unwrap();
        let e = Lock::acquire(&store, "app", "test", "destroy")
            .err()
            .unwrap();
        assert!(
            e.message
                .starts_with("another mailreg run holds the lock for app (environment test): pid "),
            "{}",
            e.message
        );
        assert!(e.message.contains("(apply) since "));
        assert!(
            Lock::acquire(&store, "app", "other", "apply").is_ok(),
            "per environment"
        );
        drop(first);
        assert!(Lock::acquire(&store, "app", "test", "destroy").is_ok());
    }
}
