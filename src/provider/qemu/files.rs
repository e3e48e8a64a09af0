//! Where a node's QEMU keeps its things (all in the lab's state folder: `.lab/<lab>/qemu/<node>/`),
//! what lab recorded about it (typed records in `state.json`), and the QEMU processes that are
//! the lab's, found by their command line (the pid file's path names the lab's folder), so
//! `destroy` finds them also without the state file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::provider::{Machine, MachineState};
use crate::state::{State, StateDir};

/// A node's files.
#[derive(Debug, Clone)]
pub struct Files {
    pub dir: PathBuf,
    pub disk: PathBuf,
    pub seed: PathBuf,
    pub pidfile: PathBuf,
    pub serial: PathBuf,
    pub qmp: PathBuf,
}

/// The folder holding every node's folder.
pub fn root(sd: &StateDir) -> PathBuf {
    sd.path().join("qemu")
}

impl Files {
    pub fn new(sd: &StateDir, node: &str) -> Self {
        Self::under(&root(sd), node)
    }

    fn under(root: &Path, node: &str) -> Self {
        let dir = root.join(node);
        // A Unix socket's path has at most 104 (macOS) or 108 (Linux) bytes: a deep lab folder
        // gets its QMP socket in the temporary folder, named by a hash of the node's folder.
        let qmp = dir.join("qmp.sock");
        let qmp = if qmp.as_os_str().len() > 100 {
            std::env::temp_dir().join(format!("lab-qmp-{}.sock", &crate::hash::fnv_hex(&dir.display().to_string())[..12]))
        } else {
            qmp
        };
        Self { disk: dir.join("disk.qcow2"), seed: dir.join("seed.iso"), pidfile: dir.join("qemu.pid"), serial: dir.join("serial.log"), qmp, dir }
    }

    /// The serial console's last `n` lines (what a guest that did not come up said).
    pub fn serial_tail(&self, n: usize) -> String {
        crate::fsx::log_tail(&self.serial, n)
    }
}

/// A node's machine as lab made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmRecord {
    /// The cloud-init instance id its seed carries: the same across boots (cloud-init runs its
    /// first-boot modules once), new with a new disk.
    pub instance: String,
    /// The digest of the image its disk is an overlay on.
    pub image: String,
    /// It answered SSH as lab's node once.
    #[serde(default)]
    pub booted: bool,
    /// Lab started its QEMU and has not stopped it since: with no QEMU running, it died.
    #[serde(default)]
    pub up: bool,
    /// The port on 127.0.0.1 QEMU forwards to its SSH (lab's switch network): kept across boots,
    /// so `lab ssh-config`'s lines stay true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_port: Option<u16>,
}

/// What lab made for a lab with QEMU, in `state.json` (`made`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Records {
    /// The network the nodes were made on (a lab keeps it until `lab destroy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net: Option<super::net::Net>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vms: BTreeMap<String, VmRecord>,
}

impl Records {
    pub fn of(state: Option<&State>) -> Self {
        state.map(State::made_as).unwrap_or_default()
    }
    pub fn load(sd: &StateDir) -> Result<Self> {
        Ok(Self::of(sd.load()?.as_ref()))
    }
    /// Changes `node`'s VM record (when lab has one) and writes it at once.
    pub fn update_vm(sd: &StateDir, node: &str, f: impl FnOnce(&mut VmRecord)) -> Result<()> {
        Self::update(sd, |r| {
            if let Some(v) = r.vms.get_mut(node) {
                f(v);
            }
        })
    }
    /// Whether lab started `node`'s QEMU and has not stopped it (a damaged or missing state
    /// file: no).
    pub fn up(sd: &StateDir, node: &str) -> bool {
        Self::load(sd).is_ok_and(|r| r.vms.get(node).is_some_and(|v| v.up))
    }
    /// Changes the records and writes them at once.
    pub fn update(sd: &StateDir, f: impl FnOnce(&mut Self)) -> Result<()> {
        let mut written = Ok(());
        sd.update(|st| {
            let mut r = Self::of(Some(st));
            f(&mut r);
            written = st.set_made(&r);
        })?;
        written
    }
}

/// Why a node with a record saying it runs has no QEMU.
pub const DIED: &str = "its QEMU ended without lab stopping it";

/// What lab sees of a node's machine now.
pub struct Seen<'a> {
    pub running: bool,
    pub disk: bool,
    pub record: Option<&'a VmRecord>,
}

/// The node's machine as `lab status` shows it: running, halted (by lab), not created, or
/// `stopped` when its QEMU ended without lab stopping it (a crash, a kill, the guest's own
/// shutdown), with the serial console's last lines.
pub fn machine(node: &str, seen: &Seen<'_>, serial_tail: impl FnOnce() -> String) -> Machine {
    let (state, note) = if seen.running {
        (MachineState::Running, None)
    } else if !seen.disk {
        (MachineState::NotCreated, None)
    } else if seen.record.is_some_and(|r| r.up) {
        let note = format!("{DIED}; its serial console's last lines:\n{}", serial_tail());
        (MachineState::Other("stopped".into()), Some(note))
    } else {
        (MachineState::Halted, None)
    };
    Machine { node: node.to_string(), state, reachable: seen.running, note }
}

/// A QEMU process of this lab: its pid and the node whose pid file it was started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub node: String,
}

/// The lab's QEMU processes among `(pid, argv)`: those whose `-pidfile` lies in a node folder
/// of `root`.
pub fn ours(root: &Path, processes: &[(u32, Vec<String>)]) -> Vec<Process> {
    processes
        .iter()
        .filter_map(|(pid, argv)| {
            let pidfile = argv.windows(2).find(|w| w[0] == "-pidfile").map(|w| PathBuf::from(&w[1]))?;
            let node = pidfile.parent()?.strip_prefix(root).ok()?.to_str()?.to_string();
            (!node.is_empty() && !node.contains('/') && pidfile.file_name()? == "qemu.pid").then_some(Process { pid: *pid, node })
        })
        .collect()
}

/// Every process's argv (Linux: `/proc`; elsewhere `ps`).
pub fn processes() -> Vec<(u32, Vec<String>)> {
    #[cfg(target_os = "linux")]
    {
        let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
        dir.filter_map(|e| {
            let e = e.ok()?;
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            let argv: Vec<String> = raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            (!argv.is_empty()).then_some((pid, argv))
        })
        .collect()
    }
    #[cfg(not(target_os = "linux"))]
    {
        // `ps` joins argv with spaces: a folder with spaces in its name is split too, which
        // `ours` reads as another path and leaves alone.
        let out = std::process::Command::new("ps").args(["-axww", "-o", "pid=,args="]).output();
        let Ok(out) = out else { return Vec::new() };
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                let pid = w.next()?.parse().ok()?;
                Some((pid, w.map(str::to_string).collect()))
            })
            .collect()
    }
}

/// This lab's QEMU processes now.
pub fn running(sd: &StateDir) -> Vec<Process> {
    ours(&root(sd), &processes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_processes_started_with_a_pid_file_in_a_node_folder_are_the_labs() {
        let root = Path::new("/home/ana/aula/.lab/spark/qemu");
        let argv = |pidfile: &str| ["qemu-system-x86_64", "-name", "x", "-pidfile", pidfile, "-daemonize"].iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ps = vec![
            (10, argv("/home/ana/aula/.lab/spark/qemu/master/qemu.pid")),
            (11, argv("/home/ana/aula/.lab/spark/qemu/node1/qemu.pid")),
            (12, argv("/home/ana/other/.lab/spark/qemu/master/qemu.pid")),
            (13, argv("/home/ana/aula/.lab/spark/qemu/master/other.pid")),
            (14, argv("/home/ana/aula/.lab/spark/qemu/a/b/qemu.pid")),
            (15, vec!["sleep".into(), "-pidfile".into()]),
        ];
        assert_eq!(ours(root, &ps), vec![Process { pid: 10, node: "master".into() }, Process { pid: 11, node: "node1".into() }]);
    }

    #[test]
    fn a_qemu_that_ended_without_lab_is_stopped_and_says_what_its_console_said() {
        let rec = |up| VmRecord { instance: "i-1".into(), image: "d".into(), booted: true, up, ssh_port: None };
        let (up, down) = (rec(true), rec(false));
        let tail = || "Kernel panic - not syncing: Out of memory".to_string();
        let m = machine("node1", &Seen { running: false, disk: true, record: Some(&up) }, tail);
        assert_eq!(m.state, MachineState::Other("stopped".into()));
        assert!(m.note.as_deref().is_some_and(|n| n.contains("without lab stopping it") && n.ends_with("Out of memory")), "{m:?}");
        assert!(!m.reachable);
        let halted = machine("node1", &Seen { running: false, disk: true, record: Some(&down) }, || unreachable!("a halted node's console is not read"));
        assert_eq!((halted.state, halted.note), (MachineState::Halted, None));
        let running = machine("node1", &Seen { running: true, disk: true, record: Some(&up) }, tail);
        assert_eq!((running.state, running.reachable), (MachineState::Running, true));
        let gone = machine("node1", &Seen { running: false, disk: false, record: None }, tail);
        assert_eq!(gone.state, MachineState::NotCreated);
    }

    #[test]
    fn a_deep_folder_gets_its_qmp_socket_where_a_unix_socket_fits() {
        let deep = format!("/home/joão/{}/lab.yaml", "Área de Trabalho/".repeat(6));
        let lab_dir = Path::new(&deep).parent().unwrap_or(Path::new("/"));
        let f = Files::under(&lab_dir.join(".lab/spark/qemu"), "master");
        assert!(f.qmp.as_os_str().len() <= 100, "{}", f.qmp.display());
        assert!(f.disk.starts_with(lab_dir));
        let short = Files::under(Path::new("/l/.lab/s/qemu"), "master");
        assert_eq!(short.qmp, PathBuf::from("/l/.lab/s/qemu/master/qmp.sock"));
    }
}
