//! What the VirtualBox provider does besides `lab up`: halt, status, snapshots, what lab
//! made and how it is removed.

use std::collections::BTreeMap;

use super::driver::{self, Arch, Driver, VmInfo, VmState};
use super::records::Records;
use super::{VirtualBox, is_ours, running_as_root_for};
use crate::error::{Error, Result};
use crate::provider::{Machine, MachineState, Provider, Snapshots};
use crate::spec::Lab;
use crate::state::{HostKey, State, StateDir};
use crate::steps::{Machines, Steps};

impl Machines for VirtualBox {
    fn host_keys(&self, lab: &Lab, sd: &StateDir) -> Result<BTreeMap<String, HostKey>> {
        sd.ensure_host_keys(lab)
    }
}

impl Provider for VirtualBox {
    fn snapshots(&self) -> Result<&dyn Snapshots> {
        Ok(self)
    }

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

    fn halt<'a>(&'a self, lab: &Lab) -> Steps<'a> {
        super::steps::halt(self, lab)
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
                    note: None,
                })
            })
            .collect()
    }

    fn leftovers(&self, lab: &Lab, sd: &StateDir, state: Option<&State>) -> Result<Vec<String>> {
        let d = match self.driver() {
            Ok(d) => d,
            Err(_) => return Ok(Vec::new()),
        };
        Ok(self.our_vms(d, lab, sd, state)?.into_iter().map(|i| format!("VM {} ({})", i.name, i.state.word())).collect())
    }

    fn destroy<'a>(&'a self, lab: &Lab, sd: &StateDir, state: Option<&State>) -> Result<Steps<'a>> {
        let d = match self.driver() {
            Ok(d) => d,
            // Nothing was ever made in VirtualBox: there is nothing to look at there.
            Err(_) if !Records::of(state).any() => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(super::steps::destroy(self, lab, self.our_vms(d, lab, sd, state)?, state))
    }
}

impl VirtualBox {
    /// The VM of a node, when it exists and is lab's.
    pub(super) fn node_vm(&self, d: &Driver, lab: &Lab, sd: &StateDir, node: &str) -> Result<String> {
        let vm = lab.machine_name(node);
        let records = Records::of(sd.load().ok().flatten().as_ref());
        match d.vm(&vm)? {
            Some(info) if is_ours(&info, sd, &records, node) => Ok(vm),
            Some(_) => Err(Error::node(node, format!("VM {vm} is not this lab's (no lab mark)"))),
            None => Err(Error::node_hint(node, format!("VM {vm} does not exist"), "run `lab up` first")),
        }
    }

    /// The lab's VMs, found by their mark or recorded UUID (also when `.lab/` is gone).
    pub(super) fn our_vms(&self, d: &Driver, lab: &Lab, sd: &StateDir, state: Option<&State>) -> Result<Vec<VmInfo>> {
        let prefix = lab.machine_prefix();
        let records = Records::of(state);
        let mut out = Vec::new();
        for (name, uuid) in d.list_vms()? {
            let recorded = records.vms.values().any(|v| v.uuid.eq_ignore_ascii_case(&uuid));
            if !name.starts_with(&prefix) && !recorded {
                continue;
            }
            if let Some(info) = d.vm(&uuid)?
                && (sd.marks(&info.description) || recorded)
            {
                out.push(info);
            }
        }
        Ok(out)
    }
}

impl Snapshots for VirtualBox {
    fn save<'a>(&'a self, lab: &Lab, name: &str, live: bool) -> Result<Steps<'a>> {
        Ok(super::steps::snapshot(self, lab, name, super::steps::SnapshotOp::Save { live }))
    }

    fn restore<'a>(&'a self, lab: &Lab, name: &str) -> Result<Steps<'a>> {
        Ok(super::steps::snapshot(self, lab, name, super::steps::SnapshotOp::Restore))
    }

    fn delete<'a>(&'a self, lab: &Lab, name: &str) -> Result<Steps<'a>> {
        Ok(super::steps::snapshot(self, lab, name, super::steps::SnapshotOp::Delete))
    }

    fn list(&self, lab: &Lab, sd: &StateDir) -> Result<Vec<String>> {
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
}
