//! The node's VM runs: QEMU started detached (pid file, serial log and QMP socket in the node's
//! folder), NIC2's tap on the lab's bridge, and SSH answering at the node's static address.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::proc::{Cmd, Runner, System};
use crate::provider::qemu::Qemu;
use crate::provider::qemu::argv::{self, LabNic, VmSpec};
use crate::provider::qemu::files::{self, Files, Records};
use crate::provider::qemu::net::Net;
use crate::spec::Node;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct VmRunning<'a> {
    q: &'a Qemu,
    node: String,
    head: Head,
}

pub fn step<'a>(q: &'a Qemu, n: &Node) -> Box<dyn Step + 'a> {
    let at = match q.net() {
        Ok(Net::Switch) => format!("through a forward on 127.0.0.1 (lab network {} on lab's switch)", n.ip),
        _ => format!("at {}", n.ip),
    };
    Box::new(VmRunning { q, node: n.name.clone(), head: Head::node("vm_running", Stage::Machines, &n.name, format!("QEMU runs it, SSH answers {at}")) })
}

/// QEMU's words when a forward's port is taken (net/slirp.c, `slirp_hostfwd`).
const PORT_TAKEN: &str = "Could not set up host forwarding rule";

impl Step for VmRunning<'_> {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        Ok(if files::running(cx.sd).iter().any(|p| p.node == self.node) {
            Check::Satisfied
        } else if let Some(v) = Records::load(cx.sd)?.vms.get(&self.node).filter(|v| v.booted) {
            Check::Needed(if v.up { files::DIED.into() } else { "halted".into() })
        } else {
            Check::Needed("never booted".into())
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let node = cx.node(&self.node)?;
        let choice = self.q.accel(cx.lab)?;
        let f = Files::new(cx.sd, &self.node);
        for stale in [&f.pidfile, &f.qmp] {
            let _ = std::fs::remove_file(stale);
        }
        let (nat, lab_mac) = crate::identity::macs(cx.lab, &self.node);
        let net = self.q.net()?;
        let mut ssh_port = self.network(cx, net)?;
        let tap = super::tap(cx.sd, &self.node);
        let lab_nic = lab_nic(cx, net, &self.node, &tap)?;
        let name = cx.lab.machine_name(&self.node);
        let firmware = super::super::firmware(cx.lab.host_arch)?;
        let mut spec = VmSpec {
            arch: cx.lab.host_arch,
            accel: choice.accel,
            name: &name,
            cpus: node.cpus,
            memory_mib: node.memory_mib,
            disk: &f.disk,
            seed: &f.seed,
            pidfile: &f.pidfile,
            qmp: &f.qmp,
            serial: &f.serial,
            firmware: firmware.as_deref(),
            nat_mac: nat.to_string(),
            internet: cx.lab.qemu.internet,
            ssh_forward: ssh_port,
            lab_mac: lab_mac.to_string(),
            lab_nic,
        };
        let program = argv::program(cx.lab.host_arch);
        let mut out = System.run(&Cmd::new(program).args(argv::run(&spec)).timeout(Duration::from_secs(60)))?;
        if !out.success() && ssh_port.is_some() && out.stderr.contains(PORT_TAKEN) {
            // The recorded port was taken by another program since: another one, recorded.
            ssh_port = Some(crate::provider::qemu::net::free_port()?);
            spec.ssh_forward = ssh_port;
            Records::update_vm(cx.sd, &self.node, |v| v.ssh_port = ssh_port)?;
            out = System.run(&Cmd::new(program).args(argv::run(&spec)).timeout(Duration::from_secs(60)))?;
        }
        if !out.success() {
            return Err(Error::node_hint(
                &self.node,
                format!("QEMU did not start: {}", out.stderr.trim()),
                format!("the whole command: {program} {}", argv::run(&spec).join(" ")),
            ));
        }
        Records::update_vm(cx.sd, &self.node, |v| v.up = true)?;
        if net == Net::Bridge {
            plug(cx, &tap)?;
        }
        let label = if choice.accel == argv::Accel::Tcg { "booting under software emulation: waiting for sshd" } else { "booting: waiting for sshd" };
        cx.reporter.phase(&self.node, label);
        let deadline = super::boot_deadline(choice.accel);
        let addr = match ssh_port {
            Some(port) => SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port)),
            None => SocketAddr::from((node.ip, 22)),
        };
        wait_ssh(cx.sd, &self.node, addr, deadline, &f)?;
        Records::update_vm(cx.sd, &self.node, |v| v.booted = true)?;
        Ok(Outcome::Applied)
    }
}

impl VmRunning<'_> {
    /// Records the network this node starts on, and (lab's switch) the port on 127.0.0.1 that
    /// QEMU forwards to its SSH: the one recorded before, else a free one. A node never joins
    /// other running nodes on another network.
    fn network(&self, cx: &Cx<'_>, net: Net) -> Result<Option<u16>> {
        let records = Records::load(cx.sd)?;
        if let Some(was) = records.net.filter(|was| *was != net)
            && files::running(cx.sd).iter().any(|p| p.node != self.node)
        {
            return Err(Error::node_hint(
                &self.node,
                format!("the other nodes run on the {} network; this run would start it on the {}", was.word(), net.word()),
                format!(
                    "`lab halt` first, then `lab up` starts every node on the {} network (or set {} as before)",
                    net.word(),
                    crate::provider::qemu::net::ENV
                ),
            ));
        }
        let ssh_port = match net {
            Net::Switch => Some(records.vms.get(&self.node).and_then(|v| v.ssh_port).map_or_else(crate::provider::qemu::net::free_port, Ok)?),
            Net::Bridge => None,
        };
        Records::update(cx.sd, |r| {
            r.net = Some(net);
            if let Some(v) = r.vms.get_mut(&self.node) {
                v.ssh_port = ssh_port;
            }
        })?;
        Ok(ssh_port)
    }
}

/// Where NIC2 plugs in: the node's tap, or its socket by lab's switch.
fn lab_nic(cx: &Cx<'_>, net: Net, node: &str, tap: &str) -> Result<LabNic> {
    Ok(match net {
        Net::Bridge => LabNic::Tap(tap.to_string()),
        #[cfg(unix)]
        Net::Switch => {
            use crate::provider::qemu::switch;
            let dir = switch::dir(cx.sd);
            LabNic::Switch { local: switch::node_sock(&dir, node), switch: dir.join(switch::SWITCH_SOCK) }
        }
        #[cfg(not(unix))]
        Net::Switch => {
            let _ = (cx, node);
            return Err(Error::Internal("lab's switch runs on Linux and macOS".into()));
        }
    })
}

/// Puts the node's tap (QEMU made it) on the lab's bridge, marked as lab's.
#[cfg(target_os = "linux")]
fn plug(cx: &Cx<'_>, tap: &str) -> Result<()> {
    use crate::provider::sandbox::{Names, net::Ip};
    let names = Names::new(cx.lab, cx.sd);
    let ip = Ip::new(&System);
    ip.set_alias(tap, &names.mark)?;
    ip.plug(tap, &names.bridge)
}

#[cfg(not(target_os = "linux"))]
fn plug(_: &Cx<'_>, _: &str) -> Result<()> {
    Ok(())
}

/// Waits for SSH while QEMU runs; a QEMU that ended, or a guest silent past the deadline, is an
/// error carrying the serial console's last lines.
fn wait_ssh(sd: &crate::state::StateDir, node: &str, addr: SocketAddr, within: Duration, f: &Files) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if crate::remote::ssh_answers(addr, Duration::from_secs(1)) {
            return Ok(());
        }
        let alive = files::running(sd).iter().any(|p| p.node == node);
        if !alive || Instant::now() >= deadline {
            let problem =
                if alive { format!("SSH does not answer at {addr} after {} s", within.as_secs()) } else { "QEMU ended while the guest booted".to_string() };
            return Err(Error::node_hint(
                node,
                format!("{problem}; its serial console says:\n{}", f.serial_tail(15)),
                format!("the whole console is {}; `lab destroy` then `lab up` starts it afresh", f.serial.display()),
            ));
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}
