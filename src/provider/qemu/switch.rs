//! The lab network without root: a switch lab runs for as long as the lab's nodes run, a
//! process of lab's own (`lab qemu-switch DIR`, started detached), that passes every Ethernet
//! frame one node's QEMU sends to the other nodes.
//!
//! Why this and not QEMU's other socket netdevs: `-netdev socket,mcast=` needs multicast on the
//! loopback, which macOS does not route; `socket,listen=`/`connect=` and `stream` join exactly
//! two QEMUs; a bridge and taps need root. QEMU 7.2's `-netdev dgram` with Unix sockets sends
//! each frame as one datagram from the node's own socket (`local.path`, which QEMU unlinks and
//! binds: net/dgram.c) to the switch's (`remote.path`); the switch sends it on to every other
//! node socket of its folder. A hub, not a learning switch: a lab has a handful of nodes.
//!
//! The folder is the lab's alone (0700): no other account of this computer can send frames
//! into the lab network or read them.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::state::StateDir;

/// The switch's own socket in its folder.
pub const SWITCH_SOCK: &str = "switch.sock";
/// The subcommand that runs it (hidden from `lab --help`).
pub const COMMAND: &str = "qemu-switch";

/// The folder of the lab's switch: `qemu/net` in the state folder, or, when that path leaves too
/// little room for a Unix socket's name (104 bytes on macOS, 108 on Linux), a folder in the
/// temporary folder named by a hash of it.
pub fn dir(sd: &StateDir) -> PathBuf {
    dir_for(&super::files::root(sd))
}

fn dir_for(root: &Path) -> PathBuf {
    let dir = root.join("net");
    if dir.as_os_str().len() <= 48 { dir } else { std::env::temp_dir().join(format!("lab-net-{}", &crate::hash::fnv_hex(&dir.display().to_string())[..12])) }
}

/// Where `node`'s QEMU binds its end.
pub fn node_sock(dir: &Path, node: &str) -> PathBuf {
    dir.join(format!("{node}.sock"))
}

/// Makes the switch's folder, the lab's alone; a folder of that name owned by another account
/// (the temporary folder is shared) is refused.
pub fn make_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| Error::io(format!("making {}", dir.display()), e))?;
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
    if !meta.is_dir() || meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(Error::Preflight {
            problem: format!("{} is not a folder of this account's: lab's network switch cannot use it", dir.display()),
            fix: format!("remove {} (another account made it) and run lab again", dir.display()),
        });
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| Error::io(format!("restricting {}", dir.display()), e))?;
    }
    Ok(())
}

/// Every node socket of the folder.
fn peers(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "sock") && p.file_name().is_some_and(|n| n != SWITCH_SOCK)).collect()
}

/// Binds the switch's socket in `dir` (one already there is replaced: a switch that died left it).
pub fn bind(dir: &Path) -> Result<UnixDatagram> {
    let path = dir.join(SWITCH_SOCK);
    let _ = std::fs::remove_file(&path);
    UnixDatagram::bind(&path).map_err(|e| Error::io(format!("binding {}", path.display()), e))
}

/// Passes frames until the process ends: each datagram to every other node socket, never
/// waiting on a node that does not read (its frames are dropped, as a busy switch drops them).
pub fn serve(sock: &UnixDatagram, dir: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    let mut buf = vec![0u8; 65_536];
    let mut known: Vec<PathBuf> = Vec::new();
    let mut looked: Option<Instant> = None;
    loop {
        let (n, from) = sock.recv_from(&mut buf).map_err(|e| Error::io("reading the lab network's switch socket", e))?;
        let from = from.as_pathname().map(Path::to_path_buf);
        // The folder is read again when a node it did not know sends, and once a second has passed
        // since it was last read.
        if from.as_ref().is_some_and(|f| !known.contains(f)) || looked.is_none_or(|t| t.elapsed() > Duration::from_secs(1)) {
            known = peers(dir);
            looked = Some(Instant::now());
        }
        for to in known.iter().filter(|p| Some(*p) != from.as_ref()) {
            let Ok(addr) = nix::sys::socket::UnixAddr::new(to.as_path()) else { continue };
            let _ = nix::sys::socket::sendto(sock.as_raw_fd(), &buf[..n], &addr, nix::sys::socket::MsgFlags::MSG_DONTWAIT);
        }
    }
}

/// `lab qemu-switch DIR`: the switch's process.
pub fn run(dir: &Path) -> Result<i32> {
    make_dir(dir)?;
    let sock = bind(dir)?;
    serve(&sock, dir)?;
    Ok(0)
}

/// The switch's processes for `dir` among `(pid, argv)`: the folder is the last argument (read
/// joined again: macOS's `ps` splits a folder with spaces into words).
pub fn ours(dir: &Path, processes: &[(u32, Vec<String>)]) -> Vec<u32> {
    let tail = format!(" {COMMAND} {}", dir.display());
    processes.iter().filter(|(_, argv)| argv.join(" ").ends_with(&tail)).map(|(pid, _)| *pid).collect()
}

/// Starts the switch detached from lab (its own process group, no terminal, nothing inherited),
/// and waits for its socket.
pub fn start(dir: &Path) -> Result<()> {
    use std::os::unix::process::CommandExt;
    make_dir(dir)?;
    let exe = std::env::current_exe().map_err(|e| Error::io("finding lab's own program", e))?;
    let log = std::fs::File::create(dir.join("switch.log")).map_err(|e| Error::io(format!("writing {}", dir.join("switch.log").display()), e))?;
    let sock = dir.join(SWITCH_SOCK);
    let _ = std::fs::remove_file(&sock);
    std::process::Command::new(exe)
        .arg(COMMAND)
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| Error::io("starting lab's network switch", e))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        if Instant::now() > deadline {
            return Err(Error::Preflight {
                problem: format!("lab's network switch did not start: {}", crate::fsx::log_tail(&dir.join("switch.log"), 5)),
                fix: "run lab up again; if it fails the same way, report it".into(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Ends the switch's processes (nothing of theirs needs keeping: no grace).
pub fn stop_processes(pids: &[u32]) {
    for pid in pids {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid as i32), nix::sys::signal::Signal::SIGKILL);
    }
}

/// Ends the switch's processes for `dir` and removes the folder.
pub fn stop(dir: &Path, pids: &[u32]) -> Result<()> {
    stop_processes(pids);
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(format!("removing {}", dir.display()), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
