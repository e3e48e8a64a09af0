//! The qemu provider: each node a QEMU virtual machine booted from the distribution's cloud image
//! (or the lab's own), its disk a qcow2 overlay on it, its identity from the same NoCloud seed as
//! VirtualBox's linked clones (`crate::seed`). NIC1 is QEMU's user network (the way out; cut off
//! with `internet: false`), NIC2 the lab network: on Linux as root, a tap per node on the lab's
//! bridge holding `network.host`, like VirtualBox's host-only network, so this computer reaches
//! the nodes at their static addresses and every command works as with the other providers.
//!
//! One folder: `argv` (pure command lines), `accel` (the accelerator and why), `qmp` (the seam to
//! a running QEMU), `files` (paths, typed records, the lab's processes), `steps` (check, then act).

pub mod accel;
pub mod argv;
mod files;
pub mod net;
pub mod qmp;
mod steps;
#[cfg(unix)]
pub mod switch;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

use super::{Machine, Provider, Snapshots};
use crate::download::Cached;
use crate::error::{Error, Result};
use crate::spec::{Lab, Node};
use crate::state::{HostKey, State, StateDir};
use crate::steps::{Machines, Slot, Steps};
use files::Files;

pub struct Qemu {
    accel: Slot<accel::Choice>,
    image: Slot<Cached>,
}

impl Qemu {
    pub fn new() -> Self {
        Self { accel: Slot::new(None), image: Slot::new(None) }
    }

    /// The network of this run's new nodes (`net::decide`).
    pub fn net(&self) -> Result<net::Net> {
        net::decide(std::env::var(net::ENV).ok().as_deref(), net::linux_root())
    }

    /// The network of the lab's nodes: the one they were made on, else this run's.
    pub fn net_of(&self, sd: &StateDir) -> Result<net::Net> {
        match files::Records::load(sd).ok().and_then(|r| r.net) {
            Some(n) => Ok(n),
            None => self.net(),
        }
    }

    /// The accelerator of this run (decided once; the KVM probe runs at most once).
    pub fn accel(&self, lab: &Lab) -> Result<accel::Choice> {
        let program = argv::program(lab.host_arch);
        self.accel.get_or_make(|| accel::decide(&accel::Facts::here(), || accel::probe_kvm(program)))
    }
}

impl Default for Qemu {
    fn default() -> Self {
        Self::new()
    }
}

impl Machines for Qemu {
    fn host_keys(&self, lab: &Lab, sd: &StateDir) -> Result<BTreeMap<String, HostKey>> {
        sd.ensure_host_keys(lab)
    }
    /// Through lab's switch, SSH is reached at the port recorded for the node on 127.0.0.1.
    fn ssh_addr(&self, lab: &Lab, sd: &StateDir, node: &Node) -> SocketAddr {
        match files::Records::load(sd).ok().and_then(|r| r.vms.get(&node.name).and_then(|v| v.ssh_port)) {
            Some(port) => SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            None => SocketAddr::from((node.ip, lab.ssh_port())),
        }
    }
    fn reaches_nodes(&self, _lab: &Lab, sd: &StateDir) -> bool {
        self.net_of(sd).is_ok_and(|n| n == net::Net::Bridge)
    }
    /// Emulated guests start a JVM in minutes, not seconds.
    fn patience(&self, lab: &Lab) -> u32 {
        if self.accel(lab).is_ok_and(|c| c.accel == argv::Accel::Tcg) { 5 } else { 1 }
    }
}

impl Provider for Qemu {
    fn snapshots(&self) -> Result<&dyn Snapshots> {
        Ok(self)
    }

    fn name(&self) -> &'static str {
        "qemu"
    }

    fn available(&self, lab: &Lab) -> Result<()> {
        if cfg!(windows) {
            return Err(Error::Preflight {
                problem: "the qemu provider runs on Linux and macOS, not on Windows".into(),
                fix: "use `provider: virtualbox` on Windows".into(),
            });
        }
        let net = self.net()?;
        let system = argv::program(lab.host_arch);
        for (prog, package) in
            [(system, "qemu-system-x86 (Debian, Ubuntu) or qemu-kvm (Fedora, EL)"), ("qemu-img", "qemu-utils (Debian, Ubuntu) or qemu-img (Fedora, EL)")]
        {
            if crate::proc::find_program(prog).is_none() {
                return Err(Error::Preflight { problem: format!("`{prog}` is not installed"), fix: format!("install {package}") });
            }
        }
        if net == net::Net::Bridge && crate::proc::find_program("ip").is_none() {
            return Err(Error::Preflight { problem: "`ip` is not installed".into(), fix: "install iproute2".into() });
        }
        Ok(())
    }

    fn warnings(&self, lab: &Lab) -> Vec<String> {
        match self.accel(lab) {
            Ok(c) if c.accel == argv::Accel::Tcg => vec![format!("QEMU emulates the guests in software: {}", c.why)],
            _ => Vec::new(),
        }
    }

    fn known_host_keys(&self, lab: &Lab, sd: &StateDir) -> Result<BTreeMap<String, HostKey>> {
        sd.generated_host_keys(lab)
    }

    fn plan<'a>(&'a self, lab: &Lab) -> Steps<'a> {
        steps::up(self, lab)
    }

    fn halt<'a>(&'a self, lab: &Lab) -> Steps<'a> {
        steps::halt(self, lab)
    }

    fn status(&self, lab: &Lab, sd: &StateDir) -> Result<Vec<Machine>> {
        let running = files::running(sd);
        // A damaged state file hides only the crash notes, never what runs.
        let records = files::Records::load(sd).unwrap_or_default();
        Ok(lab
            .nodes
            .iter()
            .map(|n| {
                let f = Files::new(sd, &n.name);
                let seen = files::Seen { running: running.iter().any(|p| p.node == n.name), disk: f.disk.exists(), record: records.vms.get(&n.name) };
                files::machine(&n.name, &seen, || f.serial_tail(8))
            })
            .collect())
    }

    fn leftovers(&self, lab: &Lab, sd: &StateDir, state: Option<&State>) -> Result<Vec<String>> {
        let mut found: Vec<String> = files::running(sd).iter().map(|p| format!("QEMU process {} (node {})", p.pid, p.node)).collect();
        for node in nodes_found(lab, sd, state) {
            let f = Files::new(sd, &node);
            if f.dir.exists() {
                found.push(format!("disk and seed of node {node} ({})", f.dir.display()));
            }
        }
        #[cfg(unix)]
        {
            let dir = switch::dir(sd);
            found.extend(switch::ours(&dir, &files::processes()).iter().map(|p| format!("lab's network switch, process {p}")));
            if dir.exists() {
                found.push(format!("the network switch's folder {}", dir.display()));
            }
        }
        #[cfg(target_os = "linux")]
        found.extend(steps::bridge_leftovers(lab, sd)?);
        Ok(found)
    }

    fn destroy<'a>(&'a self, lab: &Lab, sd: &StateDir, state: Option<&State>) -> Result<Steps<'a>> {
        Ok(steps::destroy(lab, &nodes_found(lab, sd, state)))
    }
}

impl Snapshots for Qemu {
    fn save<'a>(&'a self, lab: &Lab, name: &str, live: bool) -> Result<Steps<'a>> {
        if live {
            return Err(Error::Unsupported {
                what: "qemu snapshots are taken of the nodes' disks while the nodes are halted".into(),
                hint: "leave out --live: lab halts the nodes, saves their disks and starts them again".into(),
            });
        }
        Ok(steps::snapshot::save(lab, name))
    }
    fn restore<'a>(&'a self, lab: &Lab, name: &str) -> Result<Steps<'a>> {
        Ok(steps::snapshot::restore(lab, name))
    }
    fn delete<'a>(&'a self, lab: &Lab, name: &str) -> Result<Steps<'a>> {
        Ok(steps::snapshot::delete(lab, name))
    }
    /// The snapshots every node's disk holds, oldest first (as the master's disk orders them).
    fn list(&self, lab: &Lab, sd: &StateDir) -> Result<Vec<String>> {
        let mut per_node = Vec::new();
        for n in &lab.nodes {
            per_node.push(steps::snapshot::on_disk(&Files::new(sd, &n.name).disk)?);
        }
        let Some((first, rest)) = per_node.split_first() else { return Ok(Vec::new()) };
        Ok(first.iter().filter(|s| rest.iter().all(|r| r.contains(s))).cloned().collect())
    }
}

/// The UEFI firmware guests of `arch` boot through (none needed for x86_64: SeaBIOS boots the
/// cloud images).
pub fn firmware(arch: crate::spec::Arch) -> Result<Option<std::path::PathBuf>> {
    if arch == crate::spec::Arch::X86_64 {
        return Ok(None);
    }
    argv::AARCH64_FIRMWARE.iter().map(std::path::PathBuf::from).find(|p| p.is_file()).map(Some).ok_or_else(|| Error::Preflight {
        problem: format!("no edk2 firmware for aarch64 guests (looked at {})", argv::AARCH64_FIRMWARE.join(", ")),
        fix: "install it: brew install qemu (macOS), apt-get install qemu-efi-aarch64 (Debian, Ubuntu), dnf install edk2-aarch64 (Fedora, EL)".into(),
    })
}

/// Every node the lab may have made: of the lab file, of its records, with a folder or a
/// process of the lab's.
fn nodes_found(lab: &Lab, sd: &StateDir, state: Option<&State>) -> Vec<String> {
    let mut nodes: Vec<String> = lab.nodes.iter().map(|n| n.name.clone()).collect();
    let mut add = |n: String| {
        if !nodes.contains(&n) {
            nodes.push(n);
        }
    };
    files::Records::of(state).vms.into_keys().for_each(&mut add);
    if let Ok(dir) = std::fs::read_dir(files::root(sd)) {
        dir.flatten().filter(|e| e.path().is_dir()).filter_map(|e| e.file_name().to_str().map(str::to_string)).for_each(&mut add);
    }
    files::running(sd).into_iter().map(|p| p.node).for_each(add);
    nodes
}

#[cfg(test)]
mod tests;
