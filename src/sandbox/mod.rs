//! The sandbox provider: each node is a set of Linux namespaces on this machine (network, mount,
//! UTS, PID) with its own address on a per-lab bridge, its own overlay root, host name and sshd.
//! For users whose VirtualBox cannot run, and for lab's own end-to-end tests.

mod net;
pub mod node;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::spec::Lab;
use crate::state::{Keys, NodeState, STATE_VERSION, State, StateDir};
use crate::ui::{Outcome, Reporter};

/// How long a node may take to answer SSH after it was started.
const BOOT_DEADLINE: Duration = Duration::from_secs(20);
/// How long `halt` lets a node end before killing what is left.
const HALT_GRACE: Duration = Duration::from_secs(5);

fn fnv_hex(s: &str) -> String {
    let h = s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
    format!("{h:016x}")
}

/// The names of everything the provider creates for a lab, and the mark that says lab owns it.
#[derive(Debug, Clone)]
pub struct Names {
    lab: String,
    /// Written into the alias of every interface lab creates: `lab:<state folder>`.
    pub mark: String,
    pub bridge: String,
}

impl Names {
    pub fn new(lab: &Lab, sd: &StateDir) -> Self {
        let mark = format!("lab:{}", sd.path().display());
        let plain = format!("lab-{}", lab.name);
        // Interface names have at most 15 characters.
        let bridge = if plain.len() <= 15 { plain } else { format!("lab-{}", &fnv_hex(&mark)[..11]) };
        Self { lab: lab.name.clone(), mark, bridge }
    }
    pub fn netns(&self, node: &str) -> String {
        format!("lab-{}-{node}", self.lab)
    }
    pub fn veth(&self, node: &str) -> String {
        format!("lv-{}", &fnv_hex(&format!("{}/{node}", self.mark))[..12])
    }
}

fn node_dir(sd: &StateDir, node: &str) -> PathBuf {
    sd.path().join("nodes").join(node)
}

/// What must be true of this machine before a sandbox lab can run.
pub fn preflight(lab: &Lab) -> Result<()> {
    if !cfg!(target_os = "linux") {
        return Err(Error::Preflight {
            problem: "the sandbox provider needs Linux (network, mount and PID namespaces)".into(),
            fix: "use `provider: virtualbox` on this machine".into(),
        });
    }
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
            let fix = if lower == Path::new("/") {
                format!("apt-get install {package}")
            } else {
                format!("install {package} into {}", lower.display())
            };
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

/// Makes the lab's bridge exist with the host's address. Returns whether anything was done.
fn ensure_bridge(lab: &Lab, names: &Names) -> Result<Outcome> {
    let ifaces = net::ifaces(None)?;
    let prefix = lab.network.cidr.prefix();
    let ours: Vec<&str> = vec![names.bridge.as_str()];
    let clashes = net::conflicts(&ifaces, &lab.network.cidr, &ours);
    if !clashes.is_empty() {
        return Err(Error::Preflight {
            problem: format!("the lab network {} is already in use on this machine: {}", lab.network.cidr, clashes.join(", ")),
            fix: "choose another network.cidr for the lab (two interfaces holding one subnet break routing)".into(),
        });
    }
    match ifaces.iter().find(|i| i.name == names.bridge) {
        Some(b) if b.alias.as_deref() != Some(names.mark.as_str()) => Err(Error::Preflight {
            problem: format!("an interface named {} exists and lab does not own it ({})", names.bridge, b.alias.as_deref().map_or("no lab mark".to_string(), |a| format!("marked {a:?}"))),
            fix: format!("remove it (ip link del {}) if it is a leftover, or rename the lab", names.bridge),
        }),
        Some(b) => {
            let mut changed = net::ensure_addr(&names.bridge, None, lab.network.host, prefix, &b.v4)?;
            if !b.up {
                net::set_up(&names.bridge, None)?;
                changed = true;
            }
            Ok(if changed { Outcome::Applied } else { Outcome::Satisfied })
        }
        None => {
            net::add_bridge(&names.bridge, &names.mark, lab.network.host, prefix)?;
            Ok(Outcome::Applied)
        }
    }
}

/// Makes one node run and answer SSH.
fn ensure_node(lab: &Lab, sd: &StateDir, keys: &Keys, names: &Names, node: &crate::spec::Node) -> Result<Outcome> {
    let ns = names.netns(&node.name);
    let veth = names.veth(&node.name);
    let mut changed = false;
    if !net::netns_exists(&ns) {
        net::add_netns(&ns)?;
        changed = true;
    }
    let host_ifaces = net::ifaces(None)?;
    match host_ifaces.iter().find(|i| i.name == veth) {
        Some(i) if i.alias.as_deref() != Some(names.mark.as_str()) => {
            return Err(Error::Preflight {
                problem: format!("an interface named {veth} exists and lab does not own it"),
                fix: format!("remove it: ip link del {veth}"),
            });
        }
        Some(i) => {
            if i.master.as_deref() != Some(names.bridge.as_str()) || !i.up {
                // Its bridge was re-created: plug it in again.
                crate::proc::run("ip", &["link", "set", &veth, "master", &names.bridge])?;
                net::set_up(&veth, None)?;
                changed = true;
            }
        }
        None => {
            if net::ifaces(Some(&ns))?.iter().any(|i| i.name == "eth0") {
                // A peer without its host end cannot be: start the namespace afresh.
                node::stop(&ns, HALT_GRACE)?;
                net::del_netns(&ns)?;
                net::add_netns(&ns)?;
            }
            net::add_veth(&veth, &names.mark, &ns, &names.bridge)?;
            changed = true;
        }
    }
    let inside = net::ifaces(Some(&ns))?;
    let eth0 = inside.iter().find(|i| i.name == "eth0").map(|i| i.v4.clone()).unwrap_or_default();
    changed |= net::ensure_addr("eth0", Some(&ns), node.ip, lab.network.cidr.prefix(), &eth0)?;
    for dev in ["lo", "eth0"] {
        if !inside.iter().any(|i| i.name == dev && i.up) {
            net::set_up(dev, Some(&ns))?;
            changed = true;
        }
    }

    let dir = node_dir(sd, &node.name);
    let console = dir.join("console.log");
    let (_, init) = node::processes(&ns);
    if init.is_some() && crate::remote::ssh_answers(node.ip, Duration::from_millis(500)) {
        return Ok(if changed { Outcome::Applied } else { Outcome::Satisfied });
    }
    if init.is_some() {
        // Started but not answering yet (another lab run booted it a moment ago)?
        if crate::remote::wait_ssh(node.ip, Instant::now() + Duration::from_secs(3)) {
            return Ok(Outcome::Applied);
        }
        node::stop(&ns, HALT_GRACE)?;
    }
    let lower = lab.sandbox.rootfs.clone().unwrap_or_else(|| PathBuf::from("/"));
    let host_key = keys.hosts.get(&node.name).map(|k| k.private_path.clone()).ok_or_else(|| Error::Other(format!("no host key for {}", node.name)))?;
    let authorized = keys.client.private_path.with_extension("pub");
    let hosts = crate::files::hosts_file(lab);
    let spec = node::BootSpec {
        node: &node.name,
        ip: node.ip,
        user: &lab.user,
        lower: &lower,
        dir: &dir,
        authorized_key: &authorized,
        host_key: &host_key,
        hosts: &hosts,
    };
    for d in [spec.upper(), spec.work(), spec.root()] {
        std::fs::create_dir_all(&d).map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
    }
    let boot = dir.join("boot.sh");
    crate::state::write_atomic(&boot, node::boot_script(&spec).as_bytes(), 0o700)?;
    node::spawn(&ns, &boot, &console)?;
    if !crate::remote::wait_ssh(node.ip, Instant::now() + BOOT_DEADLINE) {
        let (_, init) = node::processes(&ns);
        let problem = if init.is_some() { "sshd does not answer" } else { "the node stopped while booting" };
        return Err(Error::Node {
            node: node.name.clone(),
            problem: format!("{problem} at {}:22 after {} s; its console says:\n{}", node.ip, BOOT_DEADLINE.as_secs(), node::console_tail(&console, 15)),
            hint: Some(format!("the whole log is {}", console.display())),
        });
    }
    Ok(Outcome::Applied)
}

/// Runs one step, reporting its start, outcome and time.
fn timed(reporter: &dyn Reporter, target: &str, step: &str, f: impl FnOnce() -> Result<Outcome>) -> Result<Outcome> {
    let start = Instant::now();
    reporter.step_start(target, step);
    match f() {
        Ok(v) => {
            reporter.step_done(target, step, &v, start.elapsed());
            Ok(v)
        }
        Err(e) => {
            reporter.step_done(target, step, &Outcome::Failed(e.to_string()), start.elapsed());
            Err(e)
        }
    }
}

/// Brings every node of the lab up: the bridge, then all nodes in parallel.
pub fn up(lab: &Lab, sd: &StateDir, keys: &Keys, reporter: &dyn Reporter) -> Result<()> {
    preflight(lab)?;
    let names = Names::new(lab, sd);
    timed(reporter, "host", &format!("bridge {}", names.bridge), || ensure_bridge(lab, &names))?;
    let results: Vec<Result<Outcome>> = std::thread::scope(|s| {
        let handles: Vec<_> = lab
            .nodes
            .iter()
            .map(|n| {
                let names = &names;
                s.spawn(move || timed(reporter, &n.name, "node_running", || ensure_node(lab, sd, keys, names, n)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Error::Other("a node thread panicked".into())))).collect()
    });
    let mut state = sd.load()?.unwrap_or_else(|| State { version: STATE_VERSION, lab: lab.name.clone(), provider: "sandbox".into(), ..State::default() });
    let before = state.clone();
    state.resources.insert("bridge".into(), names.bridge.clone());
    for n in &lab.nodes {
        let entry = state.nodes.entry(n.name.clone()).or_insert_with(NodeState::default);
        entry.ip = n.ip.to_string();
    }
    if state != before {
        sd.save(&state)?;
    }
    results.into_iter().collect::<Result<Vec<_>>>().map(drop)
}

/// Stops every node's processes; keeps their disks, namespaces and the bridge.
pub fn halt(lab: &Lab, sd: &StateDir, reporter: &dyn Reporter) -> Result<()> {
    let names = Names::new(lab, sd);
    for n in &lab.nodes {
        timed(reporter, &n.name, "halted", || {
            let ns = names.netns(&n.name);
            if node::processes(&ns).0.is_empty() {
                return Ok(Outcome::Satisfied);
            }
            node::stop(&ns, HALT_GRACE)?;
            Ok(Outcome::Applied)
        })?;
    }
    Ok(())
}

/// Removes every trace of the lab's nodes: processes, namespaces (and with them the veth
/// pairs), disks, and the bridge when lab owns it and no other interface is plugged into it.
pub fn destroy(lab: &Lab, sd: &StateDir, reporter: &dyn Reporter) -> Result<()> {
    let names = Names::new(lab, sd);
    let mut node_names: Vec<String> = lab.nodes.iter().map(|n| n.name.clone()).collect();
    // Nodes removed from the lab file since they were created are still the lab's.
    if let Some(st) = sd.load().ok().flatten() {
        node_names.extend(st.nodes.keys().filter(|k| !node_names.contains(k)).cloned().collect::<Vec<_>>());
    }
    for n in &node_names {
        timed(reporter, n, "removed", || {
            let ns = names.netns(n);
            let mut done = false;
            if !node::processes(&ns).0.is_empty() {
                node::stop(&ns, Duration::from_secs(2))?;
                done = true;
            }
            let veth = names.veth(n);
            if net::ifaces(None)?.iter().any(|i| i.name == veth && i.alias.as_deref() == Some(names.mark.as_str())) {
                net::del_link(&veth)?;
                done = true;
            }
            if net::netns_exists(&ns) {
                net::del_netns(&ns)?;
                done = true;
            }
            let dir = node_dir(sd, n);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| Error::io(format!("removing {}", dir.display()), e))?;
                done = true;
            }
            Ok(if done { Outcome::Applied } else { Outcome::Satisfied })
        })?;
    }
    timed(reporter, "host", &format!("bridge {}", names.bridge), || {
        let ifaces = net::ifaces(None)?;
        let Some(b) = ifaces.iter().find(|i| i.name == names.bridge) else { return Ok(Outcome::Satisfied) };
        if b.alias.as_deref() != Some(names.mark.as_str()) {
            return Ok(Outcome::Satisfied); // not ours: leave it
        }
        let plugged: Vec<&str> = ifaces.iter().filter(|i| i.master.as_deref() == Some(names.bridge.as_str())).map(|i| i.name.as_str()).collect();
        if !plugged.is_empty() {
            return Err(Error::Other(format!("bridge {} still has {} plugged in; lab leaves it", names.bridge, plugged.join(", "))));
        }
        net::del_link(&names.bridge)?;
        Ok(Outcome::Applied)
    })?;
    Ok(())
}

/// True when any namespace or interface of the lab exists on this machine.
pub fn has_leftovers(lab: &Lab, sd: &StateDir) -> bool {
    let names = Names::new(lab, sd);
    lab.nodes.iter().any(|n| net::netns_exists(&names.netns(&n.name)))
        || net::ifaces(None).is_ok_and(|i| i.iter().any(|i| i.alias.as_deref() == Some(names.mark.as_str())))
}

/// A node as observed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    pub name: String,
    pub ip: Ipv4Addr,
    /// `running`, `halted` or `not created`.
    pub state: &'static str,
    pub ssh: bool,
}

/// Observes every node: its namespace, its init process, its sshd.
pub fn status(lab: &Lab, sd: &StateDir) -> Vec<NodeStatus> {
    let names = Names::new(lab, sd);
    lab.nodes
        .iter()
        .map(|n| {
            let ns = names.netns(&n.name);
            let (_, init) = node::processes(&ns);
            let state = match (net::netns_exists(&ns), init) {
                (false, _) => "not created",
                (true, None) => "halted",
                (true, Some(_)) => "running",
            };
            let ssh = init.is_some() && crate::remote::ssh_answers(n.ip, Duration::from_millis(500));
            NodeStatus { name: n.name.clone(), ip: n.ip, state, ssh }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{HostFacts, parse};

    #[test]
    fn names_fit_interface_limits_and_are_distinct() {
        let dir = Path::new("/srv/course");
        let text = include_str!("../../labs/sandbox.yaml").replace("name: sandbox", "name: a-rather-long-lab-name");
        let lab = parse(&dir.join("lab.yaml"), &text, &HostFacts::default()).expect("valid");
        let sd = StateDir::for_lab(&lab);
        let n = Names::new(&lab, &sd);
        assert!(n.bridge.len() <= 15, "{}", n.bridge);
        assert!(n.veth("master").len() <= 15);
        assert_ne!(n.veth("master"), n.veth("node1"));
        assert_eq!(n.netns("node1"), "lab-a-rather-long-lab-name-node1");
        assert_eq!(n.mark, "lab:/srv/course/.lab/a-rather-long-lab-name");
        let short = parse(&dir.join("lab.yaml"), include_str!("../../labs/sandbox.yaml"), &HostFacts::default()).expect("valid");
        assert_eq!(Names::new(&short, &StateDir::for_lab(&short)).bridge, "lab-sandbox");
    }
}
