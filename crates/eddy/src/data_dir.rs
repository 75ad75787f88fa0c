//! The data directory's lock: one `eddy serve` per `--data-dir`. Two servers on one embedded
//! store would each believe they own its leases, clock and function code; the second one is
//! refused at start with the first one's process id.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use anyhow::Context;

/// The lock file's name inside the data directory.
const LOCK_FILE: &str = "eddy.lock";

/// Locks `dir` (creating it) for as long as the returned file is open, or says which process
/// holds it. The operating system releases the lock when the process ends, however it ends.
pub fn lock(dir: &Path) -> anyhow::Result<File> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _unreadable = file.read_to_string(&mut holder).is_err();
            let holder = holder.trim();
            let by = if holder.is_empty() {
                String::new()
            } else {
                format!(" (process {holder})")
            };
            anyhow::bail!(
                "another eddy is already running on the data directory {}{by}; stop it, or give \
                 this one its own directory with --data-dir",
                dir.display()
            );
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{}", std::process::id())?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_a_directory_is_refused_until_the_first_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap();
        let e = lock(dir.path()).unwrap_err().to_string();
        assert!(e.contains("already running"), "{e}");
        assert!(e.contains(&std::process::id().to_string()), "{e}");
        drop(first);
        lock(dir.path()).unwrap();
    }
}
