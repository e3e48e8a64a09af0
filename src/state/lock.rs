//! The lab's lock: an advisory file lock (portable: `flock` on Unix, `LockFileEx` on Windows,
//! through the standard library), released by the system when the holder exits, however it
//! exits. The file names its holder for the message a second command prints.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// Held while a command changes the lab; dropping it releases the lock.
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
}

pub fn take(path: &Path, lab: &str, command: &str) -> Result<LockGuard> {
    crate::fsx::refuse_symlink(path)?;
    let mut file =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => {
            let me = format!("pid {} (lab {command})\n", std::process::id());
            file.set_len(0)
                .and_then(|()| file.rewind())
                .and_then(|()| file.write_all(me.as_bytes()))
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
            Ok(LockGuard { _file: file })
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() { "another lab process holds its lock".to_string() } else { format!("held by {holder}") };
            Err(Error::Locked { lab: lab.to_string(), holder, lock: path.to_path_buf() })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(format!("locking {}", path.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_naming_the_holder_and_is_free_after_drop() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("lock");
        let held = take(&path, "x", "up").expect("first lock");
        match take(&path, "x", "up") {
            Err(Error::Locked { holder, .. }) => assert!(holder.contains(&std::process::id().to_string()), "{holder}"),
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(held);
        take(&path, "x", "halt").expect("free again");
    }
}
