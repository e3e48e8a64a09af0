//! What the VirtualBox provider does besides `lab up`: halt, status, snapshots, what lab
//! made and how it is removed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::driver::{self, Arch, Driver, VmInfo, VmState};
use super::{VirtualBox, base, halt_timeout, is_ours, running_as_root_for};
use crate::error::{Error, Result};
use crate::provider::{Machine, MachineState, Provider};
use crate::spec::Lab;
use crate::state::{HostKey, State, StateDir};
use crate::steps::{HOST, Machines, Steps};
use crate::ui::{Outcome, Reporter};

impl Machines for VirtualBox {
    fn host_keys(&self, lab: &Lab, sd: &StateDir) -> Result<BTreeMap<String, HostKey>> {
        sd.ensure_host_keys(lab)
    }
}

impl Provider for VirtualBox {
    fn name(&self) -> &'static str {
        "virtualbox"
    }

    fn available(&self, _: &Lab) -> Result<()> {
        self.driver().map(drop)
    }

    fn warnings(&self, _: &Lab) -> Vec<String> {
        running_as_root_for().map_or_else(Vec::new, |user| {
            vec![format!(
                "lab runs as root (sudo): the VMs are registered in root's VirtualBox and {user}'s VirtualBox window will not show them; run lab as {user}, without sudo"
            )]
        })
    }

    fn preflight(&self, lab: &Lab) -> Result<()> {
        let d = self.driver()?;
        let arch = Self::image_arch(lab);
        if !d.runs(arch) {
            let image = lab.image.as_ref().map_or("the image", |i| i.name.as_str());
            return Err(Error::Preflight {
                problem: format!("VirtualBox {} on this {} computer cannot run {} guests ({image})", d.version, d.host_arch.name(), arch.name()),
                fix: if d.host_arch == Arch::Aarch64 && d.version < (driver::Version { major: 7, minor: 1, patch: 0 }) {
                    "install VirtualBox 7.1 or later, which runs arm64 guests on Apple Silicon".into()
                } else {
                    format!(
                        "remove `image:` from the lab file (lab then chooses the {} image), or write one built for {}",
                        d.host_arch.name(),
                        d.host_arch.name()
                    )
                },
            });
        }
        self.addresses_free(lab)
    }

    fn known_host_keys(&self, lab: &Lab, sd: &StateDir) -> Result<BTreeMap<String, HostKey>> {
        sd.generated_host_keys(lab)
    }

    fn plan<'a>(&'a self, lab: &Lab) -> Steps<'a> {
        super::steps::up(self, lab)
    }

    fn halt(&self, lab: &Lab, sd: &StateDir, reporter: &dyn Reporter) -> Result<()> {
        let d = self.driver()?;
        let state = sd.load().ok().flatten();
        std::thread::scope(|s| {
            let hs: Vec<_> = lab
                .nodes
                .iter()
                .map(|n| {
                    let state = state.as_ref();
                    s.spawn(move || -> Result<()> {
                        let vm = lab.machine_name(&n.name);
                        let start = Instant::now();
                        reporter.step_start(&n.name, "halted");
                        let Some(info) = d.vm(&vm)? else {
                            reporter.step_done(&n.name, "halted", &Outcome::Satisfied, start.elapsed());
                            return Ok(());
                        };
                        if !is_ours(&info, sd, Self::recorded_uuid(state, &n.name).as_deref()) {
                            reporter.note(&format!("{}: VM {vm} is not this lab's (no lab mark); left alone", n.name));
                            return Ok(());
                        }
                        if !info.state.is_on() {
                            reporter.step_done(&n.name, "halted", &Outcome::Satisfied, start.elapsed());
                            return Ok(());
                        }
                        let _ = d.acpi_power_button(&vm);
                        while start.elapsed() < halt_timeout() {
                            if d.vm(&vm)?.is_some_and(|i| !i.state.is_on()) {
                                reporter.step_done(&n.name, "halted", &Outcome::Applied, start.elapsed());
                                return Ok(());
                            }
                            reporter.phase(&n.name, "shutting down");
                            std::thread::sleep(Duration::from_millis(500));
                        }
                        d.power_off(&vm)?;
                        reporter.step_done(&n.name, "halted (powered off after the ACPI timeout)", &Outcome::Applied, start.elapsed());
                        Ok(())
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Error::Internal("halt panicked".into())))).collect::<Result<Vec<_>>>()
        })
        .map(drop)
    }

    fn status(&self, lab: &Lab, _: &StateDir) -> Result<Vec<Machine>> {
        let d = self.driver()?;
        lab.nodes
            .iter()
            .map(|n| {
                let info = d.vm(&lab.machine_name(&n.name))?;
                Ok(Machine {
                    node: n.name.clone(),
                    state: match &info {
                        None => MachineState::NotCreated,
                        Some(i) if i.state == VmState::Running => MachineState::Running,
                        Some(i) => MachineState::Other(i.state.word().to_string()),
                    },
                    reachable: info.is_some_and(|i| i.state == VmState::Running),
                })
            })
            .collect()
    }

    fn snapshot_save(&self, lab: &Lab, sd: &StateDir, name: &str, live: bool) -> Result<()> {
        let d = self.driver()?;
        for n in &lab.nodes {
            d.take_snapshot(&self.node_vm(d, lab, sd, &n.name)?, name, &format!("lab snapshot of lab {}", lab.name), live)?;
        }
        Ok(())
    }

    fn snapshot_restore(&self, lab: &Lab, sd: &StateDir, name: &str) -> Result<()> {
        let d = self.driver()?;
        for n in &lab.nodes {
            d.restore_snapshot(&self.node_vm(d, lab, sd, &n.name)?, name)?;
        }
        Ok(())
    }

    fn snapshot_delete(&self, lab: &Lab, sd: &StateDir, name: &str) -> Result<()> {
        let d = self.driver()?;
        for n in &lab.nodes {
            let vm = self.node_vm(d, lab, sd, &n.name)?;
            if d.vm(&vm)?.is_some_and(|i| i.snapshots.iter().any(|s| s == name)) {
                d.delete_snapshot(&vm, name)?;
            }
        }
        Ok(())
    }

    fn snapshot_list(&self, lab: &Lab, sd: &StateDir) -> Result<Vec<String>> {
        let d = self.driver()?;
        let mut lists = Vec::new();
        for n in &lab.nodes {
            let vm = self.node_vm(d, lab, sd, &n.name)?;
            lists.push(d.vm(&vm)?.map(|i| i.snapshots).unwrap_or_default());
        }
        // A snapshot of the lab is one every node has.
        let first = lists.first().cloned().unwrap_or_default();
        Ok(first.into_iter().filter(|s| lists.iter().all(|l| l.contains(s))).collect())
    }

    fn leftovers(&self, lab: &Lab, sd: &StateDir, state: Option<&State>) -> Result<Vec<String>> {
        let d = match self.driver() {
            Ok(d) => d,
            Err(_) => return Ok(Vec::new()),
        };
        Ok(self.our_vms(d, lab, sd, state)?.into_iter().map(|i| format!("VM {} ({})", i.name, i.state.word())).collect())
    }

    fn destroy(&self, lab: &Lab, sd: &StateDir, state: Option<&State>, reporter: &dyn Reporter, _: &tokio::runtime::Handle) -> Result<()> {
        let d = match self.driver() {
            Ok(d) => d,
            // Nothing was ever made in VirtualBox: there is nothing to look at there.
            Err(_) if state.is_none_or(|s| !s.resources.keys().any(|k| k.starts_with("vm") || k.starts_with("hostonlyif"))) => return Ok(()),
            Err(e) => return Err(e),
        };
        for info in self.our_vms(d, lab, sd, state)? {
            let start = Instant::now();
            let node = info.name.strip_prefix(&lab.machine_prefix()).unwrap_or(&info.name).to_string();
            reporter.step_start(&node, "removed");
            Self::remove_vm(d, &info)?;
            reporter.step_done(&node, &format!("VM {} and its disk deleted", info.name), &Outcome::Applied, start.elapsed());
        }
        let resources = state.map(|s| s.resources.clone()).unwrap_or_default();
        if let Some(name) = resources.get("base") {
            base::remove_user(name, sd);
            let others = base::users(name).len();
            let why = if others > 0 { format!("{others} other lab(s) use it") } else { "the next lab starts from it".into() };
            reporter.note(&format!("base {name} kept ({why}); `lab base list` shows bases, `lab base prune` removes those no lab uses"));
        }
        if state.is_none() {
            // Without the state lab cannot tell whether it made an interface: it names it.
            let want = (Some(lab.network.host), Some(lab.network.cidr.netmask()));
            for h in d.hostonly()?.into_iter().filter(|h| (h.ip, h.mask) == want) {
                reporter.note(&format!(
                    "host-only network {} holds the lab's address {}; without .lab/ lab cannot tell whether it made it, so it is left. If nothing else uses it: {}",
                    h.name,
                    lab.network.host,
                    d.remove_hostonly_command(&h.name)
                ));
            }
        }
        if let Some(ifname) = resources.get("hostonlyif") {
            self.remove_hostonly(d, lab, ifname, resources.get("hostonlyif_addr"), reporter)?;
        }
        for (k, _) in resources.iter().filter(|(k, _)| k.starts_with("dhcp_disabled:")) {
            let ifname = &k["dhcp_disabled:".len()..];
            if d.hostonly()?.iter().any(|h| h.name == ifname) {
                d.set_dhcp(ifname, true)?;
                reporter.step_done(HOST, &format!("DHCP server of {ifname} turned back on"), &Outcome::Applied, Duration::ZERO);
            }
        }
        Ok(())
    }
}

impl VirtualBox {
    /// The VM of a node, when it exists and is lab's.
    fn node_vm(&self, d: &Driver, lab: &Lab, sd: &StateDir, node: &str) -> Result<String> {
        let vm = lab.machine_name(node);
        let state = sd.load().ok().flatten();
        match d.vm(&vm)? {
            Some(info) if is_ours(&info, sd, Self::recorded_uuid(state.as_ref(), node).as_deref()) => Ok(vm),
            Some(_) => Err(Error::node(node, format!("VM {vm} is not this lab's (no lab mark)"))),
            None => Err(Error::node_hint(node, format!("VM {vm} does not exist"), "run `lab up` first")),
        }
    }

    /// The lab's VMs, found by their mark or recorded UUID (also when `.lab/` is gone).
    pub(super) fn our_vms(&self, d: &Driver, lab: &Lab, sd: &StateDir, state: Option<&State>) -> Result<Vec<VmInfo>> {
        let prefix = lab.machine_prefix();
        let uuids: Vec<String> =
            state.map(|s| s.resources.iter().filter(|(k, _)| k.starts_with("vmuuid:")).map(|(_, v)| v.to_lowercase()).collect()).unwrap_or_default();
        let mut out = Vec::new();
        for (name, uuid) in d.list_vms()? {
            if !name.starts_with(&prefix) && !uuids.contains(&uuid.to_lowercase()) {
                continue;
            }
            if let Some(info) = d.vm(&uuid)?
                && is_ours(&info, sd, uuids.iter().find(|u| **u == uuid.to_lowercase()).map(String::as_str))
            {
                out.push(info);
            }
        }
        Ok(out)
    }
}
