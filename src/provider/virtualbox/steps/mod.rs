//! The VirtualBox machines' part of `lab up`: the ISO, the host-only network, the base (when
//! nodes are clones), then per node its VM, its install, and its first boot.

pub(super) mod base_image;
pub(super) mod hostonly_network;
pub(super) mod iso_downloaded;
pub(super) mod network_released;
pub(super) mod os_installed;
mod snapshot;
pub(super) mod vm_created;
pub(super) mod vm_halted;
mod vm_removed;
pub(super) mod vm_running;

pub use snapshot::Op as SnapshotOp;

use super::driver::VmInfo;
use super::records::Made;
use super::{VirtualBox, base};
use crate::spec::{InstallMode, Lab};
use crate::state::State;
use crate::steps::Steps;

/// The steps that bring the lab's VMs up, until each answers SSH.
pub fn up<'a>(vb: &'a VirtualBox, lab: &Lab) -> Steps<'a> {
    let base = (lab.install == InstallMode::Base).then(|| base::spec(lab).ok()).flatten();
    let mut steps: Steps<'a> = Vec::new();
    if let Some(img) = &lab.image {
        steps.push(iso_downloaded::step(vb, img, base.is_some()));
    }
    steps.push(hostonly_network::step(vb, lab));
    if let Some(b) = &base {
        steps.push(base_image::step(vb, b));
    }
    for n in &lab.nodes {
        steps.push(vm_created::step(vb, lab, n, if base.is_some() { Made::Base } else { Made::PerNode }));
        if base.is_none() {
            steps.push(os_installed::step(vb, n));
        }
        steps.push(vm_running::step(vb, n, base.is_some()));
    }
    steps
}

/// The steps that stop the lab's VMs, keeping their disks.
pub fn halt<'a>(vb: &'a VirtualBox, lab: &Lab) -> Steps<'a> {
    lab.nodes.iter().map(|n| vm_halted::step(vb, n)).collect()
}

/// The steps that remove what lab made: the VMs found by their marks (also those of nodes no
/// longer in the lab file), then the host-only network.
pub fn destroy<'a>(vb: &'a VirtualBox, lab: &Lab, vms: Vec<VmInfo>, state: Option<&State>) -> Steps<'a> {
    let mut steps: Steps<'a> = vms.into_iter().map(|info| vm_removed::step(vb, lab, info)).collect();
    steps.push(network_released::step(vb, state));
    steps
}

/// The steps of `lab snapshot save|restore|delete NAME`: one per node's VM.
pub fn snapshot<'a>(vb: &'a VirtualBox, lab: &Lab, name: &str, op: SnapshotOp) -> Steps<'a> {
    snapshot::steps(vb, lab, name, op)
}
