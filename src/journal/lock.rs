//! One run per batch folder: an advisory lock on `<batch>/.lock`, held for the process's life.
//! The kernel drops it when the process dies, however it dies, so a crash never leaves a
//! stale lock behind (unlike a pid file), and cron needs no `flock` wrapper.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The lock's file name inside a batch folder.
pub const LOCK_FILE: &str = ".lock";

/// Why the batch folder could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "another creatify-batch run is using {dir} (process {holder}); wait for it to finish, \
         or give this run another --out folder"
    )]
    Busy {
        /// The batch folder.
        dir: PathBuf,
        /// The pid written by the holder, when readable.
        holder: String,
    },
    /// The lock file could not be opened.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// A held lock; released when dropped or when the process exits.
#[derive(Debug)]
pub struct BatchLock {
    _file: File,
}

impl BatchLock {
    /// Takes the lock on `batch_dir`, failing at once if another process holds it.
    pub fn acquire(batch_dir: &Path) -> Result<Self, LockError> {
        let path = batch_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path)
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_default();
                return Err(LockError::Busy {
                    dir: batch_dir.to_owned(),
                    holder: if holder.is_empty() {
                        "unknown".into()
                    } else {
                        holder
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self { _file: file })
    }
}
