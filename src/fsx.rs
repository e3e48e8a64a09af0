//! Files lab writes on this computer: whole files through a temporary file and a rename, and
//! "private" meaning what it means on each host (mode 0600/0700 on Unix; an ACL granting only
//! the owner on Windows). lab never follows a symbolic link where it keeps secrets.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Who may read what lab writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Only this user (keys, state, images holding private keys).
    Private,
    /// Readable by everyone (public keys, known_hosts).
    Public,
    /// Readable and executable by the owner only (scripts lab runs as root).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the sandbox provider (Linux only) uses it
    PrivateExec,
}

impl Access {
    #[cfg(unix)]
    fn mode(self) -> u32 {
        match self {
            Self::Private => 0o600,
            Self::Public => 0o644,
            Self::PrivateExec => 0o700,
        }
    }
}

/// A log's last `n` non-empty lines (what a machine's console said before it stopped); a
/// missing or silent log says so.
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return format!("({} is empty)", path.display());
    }
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Refuses `path` when it is a symbolic link (lab's state folders and files are never links).
pub fn refuse_symlink(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::Symlink { path: path.to_path_buf() }),
        _ => Ok(()),
    }
}

/// Creates `dir` (and its parents) and makes it private. Refuses a symbolic link.
pub fn private_dir(dir: &Path) -> Result<()> {
    refuse_symlink(dir)?;
    fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    restrict_dir(dir)
}

#[cfg(unix)]
fn restrict_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let m = fs::metadata(dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
    if m.permissions().mode() & 0o777 != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| Error::io(format!("setting the mode of {}", dir.display()), e))?;
    }
    Ok(())
}

#[cfg(windows)]
fn restrict_dir(dir: &Path) -> Result<()> {
    windows_acl::owner_only(dir, true)
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader sees the old file or the new one, never half of one. Refuses to replace a link.
pub fn write_atomic(path: &Path, bytes: &[u8], access: Access) -> Result<()> {
    refuse_symlink(path)?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(access.mode()));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(|e| Error::io(format!("creating a temporary file in {}", dir.display()), e))?;
    #[cfg(windows)]
    if access != Access::Public {
        windows_acl::owner_only(tmp.path(), false)?;
    }
    tmp.write_all(bytes).and_then(|()| tmp.as_file().sync_all()).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    tmp.persist(path).map_err(|e| Error::io(format!("replacing {}", path.display()), e.error))?;
    Ok(())
}

/// Reads a file lab wrote, refusing a symbolic link in its place. `None` when absent.
pub fn read_own(path: &Path) -> Result<Option<String>> {
    refuse_symlink(path)?;
    match fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

/// Whether `path` is readable by others than its owner.
#[cfg(all(unix, test))]
pub fn is_private(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 == 0)
}

/// On Windows, when icacls cannot list the entries (Wine's stub), this prints that the ACL of
/// `path` was not checked and answers true: the test then checks the rest of what it checks.
#[cfg(all(windows, test))]
pub fn is_private(path: &Path) -> bool {
    windows_acl::is_owner_only(path).unwrap_or_else(|| {
        eprintln!("note: icacls listed no entries for {} (Wine's icacls is a stub): its ACL is not checked here", path.display());
        true
    })
}

/// Owner-only ACLs on Windows, set with `icacls` (part of every Windows since Vista): inherited
/// entries removed, full control granted to the current user only. This is what OpenSSH for
/// Windows requires of private key files.
#[cfg(windows)]
mod windows_acl {
    use std::path::Path;

    use crate::error::{Error, Result};
    use crate::proc::{Cmd, Runner, System};

    fn user() -> String {
        let user = std::env::var("USERNAME").unwrap_or_default();
        match std::env::var("USERDOMAIN") {
            Ok(d) if !d.is_empty() && !user.is_empty() => format!("{d}\\{user}"),
            _ => user,
        }
    }

    /// Starting icacls is tried three times: process creation can fail for a moment when the
    /// computer is busy (an antivirus scanning the new process; Wine's process creation under
    /// load answers ERROR_INTERNAL_ERROR, 1359, as the Windows unit tests saw), and a lab must not
    /// stop for that. icacls that ran and refused is not retried.
    pub fn owner_only(path: &Path, dir: bool) -> Result<()> {
        let grant = if dir { format!("{}:(OI)(CI)F", user()) } else { format!("{}:F", user()) };
        let cmd = Cmd::new("icacls").args([path.as_os_str(), "/inheritance:r".as_ref(), "/grant:r".as_ref(), grant.as_ref()]);
        let mut attempt = 1;
        loop {
            match System.run(&cmd) {
                Ok(o) if o.success() => return Ok(()),
                Ok(o) => return Err(Error::Command { argv: cmd.text(), status: format!("exit code {:?}", o.code), stderr: o.stderr.trim().to_string() }),
                Err(e) if attempt >= 3 => return Err(e),
                Err(_) => {
                    std::thread::sleep(std::time::Duration::from_millis(200 * attempt));
                    attempt += 1;
                }
            }
        }
    }

    /// `Some(true)` when every entry icacls lists is the current user's; `None` when icacls
    /// lists no entries at all, which is what Wine's icacls (a stub that prints nothing) does:
    /// then the ACL cannot be checked there, and the tests say so.
    #[cfg(test)]
    pub fn is_owner_only(path: &Path) -> Option<bool> {
        let Ok(o) = System.run(&Cmd::new("icacls").args([path.as_os_str()])) else { return Some(false) };
        let me = user().to_lowercase();
        let entries: Vec<String> = o.stdout.lines().filter(|l| l.contains(":(")).map(str::to_lowercase).collect();
        if o.success() && entries.is_empty() {
            return None;
        }
        Some(o.success() && entries.iter().all(|l| l.contains(&me)))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_logs_tail_is_its_last_lines_with_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("serial.log");
        fs::write(&log, "SeaBIOS\r\nbooting\r\n\r\nKernel panic - not syncing\r\n\n").expect("write");
        assert_eq!(log_tail(&log, 2), "booting\nKernel panic - not syncing");
        assert_eq!(log_tail(&log, 9), "SeaBIOS\nbooting\nKernel panic - not syncing");
        assert!(log_tail(&dir.path().join("none.log"), 3).ends_with("none.log is empty)"));
    }

    #[test]
    fn private_files_and_folders_and_no_links() {
        let tmp = tempfile::tempdir().expect("tmp");
        let d = tmp.path().join("a/b");
        private_dir(&d).expect("dir");
        assert!(is_private(&d));
        let f = d.join("secret");
        write_atomic(&f, b"x", Access::Private).expect("write");
        assert!(is_private(&f));
        write_atomic(&d.join("pub"), b"x", Access::Public).expect("write");
        assert!(!is_private(&d.join("pub")));
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&f, &link).expect("symlink");
        assert!(matches!(write_atomic(&link, b"y", Access::Private), Err(Error::Symlink { .. })));
        assert!(matches!(read_own(&link), Err(Error::Symlink { .. })));
        assert_eq!(std::fs::read_to_string(&f).expect("read"), "x");
        let dlink = tmp.path().join("dlink");
        std::os::unix::fs::symlink(&d, &dlink).expect("symlink");
        assert!(matches!(private_dir(&dlink), Err(Error::Symlink { .. })));
    }
}
