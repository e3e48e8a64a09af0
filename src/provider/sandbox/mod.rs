//! The sandbox provider: each node is a set of Linux namespaces on this machine (network, mount,
//! UTS, PID) with its own address on a per-lab bridge, its own overlay root, host name and sshd.
//! For users whose VirtualBox cannot run, and for lab's own end-to-end tests.

pub mod net;
pub mod node;
mod steps;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use net::Ip;

use super::{Machine, MachineState, Provider, Snapshots};
use crate::error::{Error, Result};
use crate::fsx;
use crate::proc::System;
use crate::spec::{Lab, Node};
use crate::state::{HostKey, State, StateDir};
use crate::steps::{Machines, Steps};

/// How long a node may take to answer SSH after it was started.
pub(super) const BOOT_DEADLINE: Duration = Duration::from_secs(20);
/// How long `halt` lets a node end before killing what is left.
pub(super) const HALT_GRACE: Duration = Duration::from_secs(5);

/// The names of everything the provider creates for a lab, and the mark that says lab owns it.
/// Names carry a hash of the lab's state folder, so labs with the same name in two folders, or
/// a lab `a` with node `b-node1` beside a lab `a-b` with node `node1`, never share one.
#[derive(Debug, Clone)]
pub struct Names {
    /// `lab-<lab>-`: what every node's namespace name begins with.
    prefix: String,
    /// Written into the alias of every interface lab creates: `lab:<state folder>`.
    pub mark: String,
    hash: String,
    pub bridge: String,
}

impl Names {
    pub fn new(lab: &Lab, sd: &StateDir) -> Self {
        let mark = sd.mark();
        let hash = crate::hash::fnv_hex(&mark);
        // Interface names have at most 15 characters.
        let bridge = format!("lab-{}", &hash[..11]);
        Self { prefix: lab.machine_prefix(), mark, hash, bridge }
    }
    pub fn netns(&self, node: &str) -> String {
        format!("{}{node}-{}", self.prefix, &self.hash[..6])
    }
    pub fn veth(&self, node: &str) -> String {
        format!("lv-{}", &crate::hash::fnv_hex(&format!("{}/{node}", self.mark))[..12])
    }
}

pub struct Sandbox;

/// The lab's bridge holding `network.host` (the qemu provider's nodes plug their taps into it).
pub fn bridge_step(lab: &Lab) -> Box<dyn crate::steps::Step> {
    steps::bridge_step(lab, &Names::new(lab, &StateDir::for_lab(lab)))
}

/// After the nodes: the lab's bridge is gone.
pub fn bridge_removed_step() -> Box<dyn crate::steps::Step> {
    steps::bridge_removed_step()
}

fn snapshot_dir(sd: &StateDir, name: &str) -> PathBuf {
    sd.path().join("snapshots").join(name)
}

/// Copies a node's upper layer with everything overlayfs keeps there (owners, modes, whiteout
/// devices, `trusted.overlay.*` attributes).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if !from.exists() {
        return fsx::private_dir(to);
    }
    let cmd = crate::proc::Cmd::new("cp").args(["-a".to_string(), "--no-target-directory".into(), from.display().to_string(), to.display().to_string()]);
    let out = crate::proc::Runner::run(&System, &cmd)?;
    if out.success() {
        Ok(())
    } else {
        Err(Error::io(format!("copying {} to {}", from.display(), to.display()), std::io::Error::other(out.stderr.trim().to_string())))
    }
}

pub(super) fn ssh_addr(n: &Node) -> SocketAddr {
    SocketAddr::from((n.ip, 22))
}

impl Machines for Sandbox {
    fn host_keys(&self, lab: &Lab, sd: &StateDir) -> Result<BTreeMap<String, HostKey>> {
        sd.ensure_host_keys(lab)
    }
}

impl Provider for Sandbox {
    fn snapshots(&self) -> Result<&dyn Snapshots> {
        Ok(self)
    }

    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn available(&self, lab: &Lab) -> Result<()> {
        if !nix::unistd::geteuid().is_root() {
            return Err(Error::Preflight {
                problem: "the sandbox provider needs root to create namespaces, bridges and mounts".into(),
                fix: "run it as root: sudo lab up".into(),
            });
        }
        for (prog, package) in [("ip", "iproute2"), ("unshare", "util-linux"), ("setsid", "util-linux"), ("chroot", "coreutils")] {
            if crate::proc::find_program(prog).is_none() {
                return Err(Error::Preflight { problem: format!("`{prog}` is not installed"), fix: format!("apt-get install {package}") });
            }
        }
        let lower = lab.sandbox.rootfs.clone().unwrap_or_else(|| PathBuf::from("/"));
        for (file, package) in [("usr/sbin/sshd", "openssh-server"), ("usr/bin/sudo", "sudo"), ("usr/sbin/useradd", "passwd")] {
            if !lower.join(file).is_file() {
                let fix = if lower == Path::new("/") { format!("apt-get install {package}") } else { format!("install {package} into {}", lower.display()) };
                return Err(Error::Preflight { problem: format!("{} has no /{file}, which every node needs", lower.display()), fix });
            }
        }
        let fs = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
        if !fs.lines().any(|l| l.split_whitespace().last() == Some("overlay")) {
            return Err(Error::Preflight {
                problem: "this kernel has no overlay filesystem, which node roots are made of".into(),
                fix: "load it: modprobe overlay".into(),
            });
        }
        Ok(())
    }

    fn known_host_keys(&self, lab: &Lab, sd: &StateDir) -> Result<BTreeMap<String, HostKey>> {
        sd.generated_host_keys(lab)
    }

    fn plan<'a>(&'a self, lab: &Lab) -> Steps<'a> {
        steps::up(lab)
    }

    fn halt<'a>(&'a self, lab: &Lab) -> Steps<'a> {
        steps::halt(lab)
    }

    fn status(&self, lab: &Lab, sd: &StateDir) -> Result<Vec<Machine>> {
        let names = Names::new(lab, sd);
        let ip = Ip::new(&System);
        Ok(lab
            .nodes
            .iter()
            .map(|n| {
                let ns = names.netns(&n.name);
                let (_, init) = node::processes(&ns);
                let state = match (ip.netns_exists(&ns), init) {
                    (false, _) => MachineState::NotCreated,
                    (true, None) => MachineState::Halted,
                    (true, Some(_)) => MachineState::Running,
                };
                Machine { node: n.name.clone(), state, reachable: init.is_some(), note: None }
            })
            .collect())
    }

    fn leftovers(&self, lab: &Lab, sd: &StateDir, _: Option<&State>) -> Result<Vec<String>> {
        let names = Names::new(lab, sd);
        let ip = Ip::new(&System);
        let mut found = Vec::new();
        for ns in ip.namespaces()? {
            if ns.starts_with(&lab.machine_prefix()) && ip.netns_mark(&ns)?.as_deref() == Some(names.mark.as_str()) {
                found.push(format!("namespace {ns}"));
            }
        }
        for i in ip.ifaces(None)? {
            if i.alias.as_deref() == Some(names.mark.as_str()) {
                found.push(format!("interface {}", i.name));
            }
        }
        Ok(found)
    }

    fn destroy<'a>(&'a self, lab: &Lab, sd: &StateDir, state: Option<&State>) -> Result<Steps<'a>> {
        self.available(lab)?;
        let names = Names::new(lab, sd);
        let ip = Ip::new(&System);
        // Every namespace carrying the lab's mark: nodes of the lab file, nodes removed from it
        // since, and nodes of a lab whose state is gone.
        let mut nodes: Vec<String> = lab.nodes.iter().map(|n| n.name.clone()).collect();
        if let Some(st) = state {
            nodes.extend(st.nodes.keys().filter(|k| !nodes.contains(k)).cloned().collect::<Vec<_>>());
        }
        let suffix = format!("-{}", &names.hash[..6]);
        for ns in ip.namespaces()? {
            if let Some(node) = ns.strip_prefix(&lab.machine_prefix()).and_then(|r| r.strip_suffix(&suffix))
                && !nodes.iter().any(|n| n == node)
            {
                nodes.push(node.to_string());
            }
        }
        Ok(steps::destroy(&nodes))
    }
}

impl Snapshots for Sandbox {
    fn save<'a>(&'a self, lab: &Lab, name: &str, live: bool) -> Result<Steps<'a>> {
        if live {
            return Err(Error::Unsupported {
                what: "sandbox snapshots are copies of the nodes' disks made while the nodes are halted".into(),
                hint: "leave out --live: lab halts the nodes, copies them and starts them again".into(),
            });
        }
        Ok(steps::snapshot::save(lab, name))
    }

    fn restore<'a>(&'a self, lab: &Lab, name: &str) -> Result<Steps<'a>> {
        Ok(steps::snapshot::restore(lab, name))
    }

    fn delete<'a>(&'a self, _lab: &Lab, name: &str) -> Result<Steps<'a>> {
        Ok(steps::snapshot::delete(name))
    }

    fn list(&self, _lab: &Lab, sd: &StateDir) -> Result<Vec<String>> {
        let Ok(entries) = std::fs::read_dir(sd.path().join("snapshots")) else { return Ok(Vec::new()) };
        let mut found: Vec<(std::time::SystemTime, String)> = entries
            .flatten()
            .filter(|e| e.path().is_dir() && e.path().extension().is_none())
            .map(|e| (e.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), e.file_name().to_string_lossy().into_owned()))
            .collect();
        found.sort();
        Ok(found.into_iter().map(|(_, n)| n).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{HostFacts, parse};

    #[test]
    fn names_fit_interface_limits_and_never_collide() {
        let lab_at = |dir: &str, name: &str| {
            let text = include_str!("../../../labs/sandbox.yaml").replace("name: sandbox", &format!("name: {name}"));
            parse(&Path::new(dir).join("lab.yaml"), &text, &HostFacts::default()).expect("valid")
        };
        let lab = lab_at("/srv/course", "a-rather-long-lab-name");
        let n = Names::new(&lab, &StateDir::for_lab(&lab));
        assert!(n.bridge.len() <= 15, "{}", n.bridge);
        assert!(n.veth("master").len() <= 15);
        assert_ne!(n.veth("master"), n.veth("node1"));
        assert!(n.netns("node1").starts_with("lab-a-rather-long-lab-name-node1-"));
        assert_eq!(n.mark, "lab:/srv/course/.lab/a-rather-long-lab-name");
        // The same lab name in two folders.
        let other = lab_at("/home/x/course", "a-rather-long-lab-name");
        let o = Names::new(&other, &StateDir::for_lab(&other));
        assert_ne!(n.bridge, o.bridge);
        assert_ne!(n.netns("node1"), o.netns("node1"));
        // Lab `a` with node `b-node1`, lab `a-b` with node `node1`.
        let a = lab_at("/srv", "a");
        let ab = lab_at("/srv", "a-b");
        assert_ne!(Names::new(&a, &StateDir::for_lab(&a)).netns("b-node1"), Names::new(&ab, &StateDir::for_lab(&ab)).netns("node1"));
    }
}
