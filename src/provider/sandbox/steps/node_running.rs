//! A node runs: its namespaces, its veth on the bridge, its address, and sshd answering.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::fsx::{self, Access};
use crate::proc::System;
use crate::provider::sandbox::net::{self, Ip};
use crate::provider::sandbox::{BOOT_DEADLINE, HALT_GRACE, Names, node, ssh_addr};
use crate::spec::Node;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct NodeRunning {
    node: String,
    head: Head,
}

pub fn step(names: &Names, n: &Node) -> Box<dyn Step> {
    Box::new(NodeRunning {
        node: n.name.clone(),
        head: Head::node("node_running", Stage::Machines, &n.name, format!("namespace {}: overlay root, host name, sshd at {}", names.netns(&n.name), n.ip)),
    })
}

impl Step for NodeRunning {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, _: &Cx<'_>) -> Result<Check> {
        // Cannot look first: a node's sshd is found by its pid file inside the namespace, and
        // starting it is what checking it means (an sshd that died is started again).
        Ok(Check::InApply)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        ensure_node(&Ip::new(&System), cx, &Names::new(cx.lab, cx.sd), cx.node(&self.node)?)
    }
}

/// Makes one node run and answer SSH.
fn ensure_node(ip: &Ip<'_>, cx: &Cx<'_>, names: &Names, node: &Node) -> Result<Outcome> {
    let lab = cx.lab;
    let ns = names.netns(&node.name);
    let veth = names.veth(&node.name);
    let mut changed = false;
    if ip.netns_exists(&ns) {
        if ip.netns_mark(&ns)?.as_deref() != Some(names.mark.as_str()) {
            return Err(Error::Preflight {
                problem: format!("a network namespace named {ns} exists and lab did not make it for this lab"),
                fix: format!("remove it (ip netns del {ns}) if it is a leftover"),
            });
        }
    } else {
        ip.add_netns(&ns, &names.mark)?;
        changed = true;
    }
    let host_ifaces = ip.ifaces(None)?;
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
                ip.plug(&veth, &names.bridge)?;
                changed = true;
            }
        }
        None => {
            if ip.ifaces(Some(&ns))?.iter().any(|i| i.name == "eth0") {
                // A peer without its host end cannot be: start the namespace afresh.
                node::stop(&ns, HALT_GRACE)?;
                ip.del_netns(&ns)?;
                ip.add_netns(&ns, &names.mark)?;
            }
            ip.add_veth(&veth, &names.mark, &ns, &names.bridge)?;
            changed = true;
        }
    }
    let inside = ip.ifaces(Some(&ns))?;
    let eth0 = inside.iter().find(|i| i.name == "eth0").map(|i| i.v4.clone()).unwrap_or_default();
    changed |= ip.ensure_addr("eth0", Some(&ns), node.ip, lab.network.cidr.prefix(), &eth0)?;
    if !inside.iter().any(|i| i.name == "eth0" && i.up) {
        ip.set_up("eth0", Some(&ns))?;
        changed = true;
    }

    let dir = cx.sd.node_dir(&node.name);
    let console = dir.join("console.log");
    let (_, init) = node::processes(&ns);
    if init.is_some() && crate::remote::ssh_answers(ssh_addr(node), Duration::from_millis(500)) {
        return Ok(if changed { Outcome::Applied } else { Outcome::Satisfied });
    }
    if init.is_some() {
        // Started but not answering yet (another lab run booted it a moment ago)?
        if crate::remote::wait_ssh(ssh_addr(node), Instant::now() + Duration::from_secs(3)) {
            return Ok(Outcome::Applied);
        }
        node::stop(&ns, HALT_GRACE)?;
    }
    let keys = cx.keys()?;
    let lower = lab.sandbox.rootfs.clone().unwrap_or_else(|| PathBuf::from("/"));
    let host_key = keys.hosts.get(&node.name).and_then(|k| k.private_path.clone()).ok_or_else(|| Error::Internal(format!("no host key for {}", node.name)))?;
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
    fsx::private_dir(&dir)?;
    for d in [spec.upper(), spec.work(), spec.root()] {
        std::fs::create_dir_all(&d).map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
    }
    let boot = dir.join("boot.sh");
    fsx::write_atomic(&boot, node::boot_script(&spec).as_str().as_bytes(), Access::PrivateExec)?;
    let argv: [&std::ffi::OsStr; 7] =
        ["unshare".as_ref(), "--mount".as_ref(), "--uts".as_ref(), "--pid".as_ref(), "--fork".as_ref(), "--kill-child".as_ref(), "sh".as_ref()];
    let mut full: Vec<&std::ffi::OsStr> = argv.to_vec();
    full.push(boot.as_os_str());
    net::spawn_in(&ns, &full, &console)?;
    cx.reporter.phase(&node.name, "booting: waiting for sshd");
    if !crate::remote::wait_ssh(ssh_addr(node), Instant::now() + BOOT_DEADLINE) {
        let (_, init) = node::processes(&ns);
        let problem = if init.is_some() { "sshd does not answer" } else { "the node stopped while booting" };
        return Err(Error::node_hint(
            &node.name,
            format!("{problem} at {}:22 after {} s; its console says:\n{}", node.ip, BOOT_DEADLINE.as_secs(), crate::fsx::log_tail(&console, 15)),
            format!("the whole log is {}", console.display()),
        ));
    }
    Ok(Outcome::Applied)
}
