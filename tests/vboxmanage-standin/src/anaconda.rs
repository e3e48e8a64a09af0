//! What the stand-in's Anaconda knows of the install media and of failing: the repositories an
//! install ISO carries (its `.treeinfo`), the packages each repository has (of those a lab's
//! kickstart may name), the units each package brings, and the kickstart scripts it runs
//! (`%pre` before the install, `%onerror` when a non-interactive install stops) with the VM's
//! first serial port as `/dev/ttyS0`.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The variants (repositories) an install ISO's `.treeinfo` names: productmd's treeinfo,
/// `[tree] variants = BaseOS,AppStream`, which Anaconda reads to add the DVD's repositories
/// (pyanaconda/modules/payloads/source/utils.py and payload/dnf/tree_info.py, TreeInfoMetadata).
/// `None` when the ISO has no `.treeinfo` (Anaconda then finds no repository on it).
pub fn variants(iso: &[u8]) -> Option<Vec<String>> {
    let text = String::from_utf8(crate::iso::file(iso, ".treeinfo")?).ok()?;
    let mut in_tree = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_tree = line == "[tree]";
        } else if in_tree
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == "variants"
        {
            return Some(v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect());
        }
    }
    None
}

/// Whether repository `variant` of an EL9/EL10 ISO has `package`. BaseOS has the core system
/// (openssh-server, tar, which, procps-ng, python3); AppStream has cloud-init and the OpenJDK
/// packages (as the distributions split them: RHEL 9's "Package manifest", BaseOS and
/// AppStream chapters). Rocky's `minimal` repository holds the AppStream packages that the
/// minimal environment pulls in, none of these. CentOS 7's single repository (its `.treeinfo`
/// names none) is like BaseOS without procps-ng by that name.
pub fn carries(variant: &str, package: &str) -> bool {
    match variant {
        "BaseOS" => matches!(package, "openssh-server" | "tar" | "which" | "procps-ng" | "python3" | "rpm" | "bash"),
        "AppStream" => package == "cloud-init" || package.starts_with("java-") && package.contains("-openjdk"),
        _ => false,
    }
}

/// Units each package installs (systemd unit files), of those a kickstart's `services` may
/// name; the minimal environment brings its own (sshd only with openssh-server).
pub fn units(package: &str) -> &'static [&'static str] {
    match package {
        "openssh-server" => &["sshd"],
        "cloud-init" => &["cloud-init-local", "cloud-init", "cloud-config", "cloud-final"],
        _ => &[],
    }
}

pub const CORE_UNITS: &[&str] = &["chronyd", "NetworkManager", "firewalld", "crond", "rsyslog", "auditd"];

/// The kickstart's scripts of one kind (`%pre`, `%onerror`, ...), their bodies in order.
pub fn scripts(ks: &str, kind: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in ks.lines() {
        let t = line.trim();
        if let Some(body) = current.as_mut() {
            if t == "%end" {
                out.push(std::mem::take(body));
                current = None;
            } else {
                body.push_str(line);
                body.push('\n');
            }
        } else if t == kind || t.starts_with(&format!("{kind} ")) {
            current = Some(String::new());
        }
    }
    out
}

/// The VM's first serial port's file, when it is in file mode (`--uartmode1 file PATH`).
pub fn serial_file(vm: &crate::Vm) -> Option<PathBuf> {
    vm.other.get("uart1")?;
    vm.other.get("uartmode1")?.strip_prefix("file,").map(PathBuf::from)
}

/// Runs `body` as Anaconda runs a kickstart script (`/bin/sh`, in the installer's own system),
/// with the installer's logs in `/tmp` and `/dev/ttyS0` a serial port whose output VirtualBox
/// appends to `serial` (file mode), or that goes nowhere when the VM has no port there.
pub fn run_script(work: &Path, body: &str, logs: &[(&str, String)], serial: Option<&Path>) {
    let _ = fs::remove_dir_all(work);
    for d in ["tmp", "dev"] {
        let _ = fs::create_dir_all(work.join(d));
    }
    for (name, text) in logs {
        let _ = fs::write(work.join("tmp").join(name), text);
    }
    let _ = fs::write(work.join("dev/null"), "");
    let tty = work.join("dev/ttyS0");
    let _ = Command::new("mkfifo").arg(&tty).status();
    // The port: a reader that never sees the end (a FIFO opened for reading and writing), and
    // appends what the guest writes, as DrvRawFile writes a UART's bytes to its file.
    if let Ok(mut port) = fs::OpenOptions::new().read(true).write(true).open(&tty) {
        let out = serial.map(Path::to_path_buf);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = port.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Some(f) = out.as_ref().and_then(|p| fs::OpenOptions::new().create(true).append(true).open(p).ok()) {
                    let mut f = f;
                    let _ = f.write_all(&buf[..n]);
                }
            }
        });
    }
    // Anaconda writes each script to /tmp/ks-script-* and runs it there.
    let _ = fs::write(work.join("tmp/ks-script-lab"), body);
    let q = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
    let setup = format!(
        "mount --make-rprivate / && mount --bind /dev/null {w}/dev/null && mount --bind {w}/dev /dev && mount --bind {w}/tmp /tmp && exec sh /tmp/ks-script-lab",
        w = q(work)
    );
    let _ = Command::new("unshare").args(["--mount", "sh", "-c", &setup]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
    // What the script wrote is still in the pipe for a moment.
    std::thread::sleep(std::time::Duration::from_millis(300));
}
