//! The VirtualBox machines' part of `lab up`: the ISO, the host-only network, the base (when
//! nodes are clones), then per node its VM, its install, and its first boot.

mod base_image;
mod hostonly_network;
mod iso_downloaded;
mod os_installed;
mod vm_created;
mod vm_running;

use super::{VirtualBox, base};
use crate::spec::{InstallMode, Lab};
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
        steps.push(vm_created::step(vb, lab, n, base.is_some()));
        if base.is_none() {
            steps.push(os_installed::step(vb, n));
        }
        steps.push(vm_running::step(vb, n, base.is_some()));
    }
    steps
}
