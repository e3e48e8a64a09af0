//! The qemu provider's steps: the image in the download cache, the lab's bridge (Linux), then per
//! node its disk and seed, and its VM running until SSH answers; `halt` shuts each down through
//! ACPI; `destroy` removes each node found by lab's marks, then the bridge.

mod disk_ready;
mod image_ready;
pub mod snapshot;
mod stop;
#[cfg(unix)]
mod switch;
mod vm_halted;
mod vm_removed;
mod vm_running;

use std::time::Duration;

use super::Qemu;
use super::argv::Accel;
use super::net::Net;
use crate::spec::Lab;
use crate::state::StateDir;
use crate::steps::Steps;

/// How long a guest may take from start to SSH: under emulation a first boot (kernel, systemd,
/// cloud-init's first-boot modules) takes one to two minutes here, and a busy computer more.
pub(super) fn boot_deadline(accel: Accel) -> Duration {
    if accel == Accel::Tcg { Duration::from_secs(900) } else { Duration::from_secs(240) }
}

/// How long a guest may take to power off after the ACPI button, before lab ends QEMU.
pub(super) fn halt_deadline(accel: Accel) -> Duration {
    if accel == Accel::Tcg { Duration::from_secs(240) } else { Duration::from_secs(90) }
}

/// The name of `node`'s tap: `lq-` and a hash of the lab's mark and the node (15 characters at
/// most, like every interface name).
pub(super) fn tap(sd: &StateDir, node: &str) -> String {
    format!("lq-{}", &crate::hash::fnv_hex(&format!("{}/{node}", sd.mark()))[..12])
}

pub fn up<'a>(q: &'a Qemu, lab: &Lab) -> Steps<'a> {
    let mut steps: Steps<'a> = vec![image_ready::step(q, lab)];
    // (`available` refused a network this computer cannot make before any plan.)
    match q.net().unwrap_or(Net::Switch) {
        #[cfg(target_os = "linux")]
        Net::Bridge => steps.push(crate::provider::sandbox::bridge_step(lab)),
        #[cfg(unix)]
        Net::Switch => steps.push(switch::running()),
        #[allow(unreachable_patterns)]
        _ => {}
    }
    for n in &lab.nodes {
        steps.push(disk_ready::step(q, n));
        steps.push(vm_running::step(q, n));
    }
    steps
}

/// Every node shut down, then lab's switch (which has nothing left to carry).
pub fn halt<'a>(q: &'a Qemu, lab: &Lab) -> Steps<'a> {
    #[cfg_attr(not(unix), allow(unused_mut))] // (the qemu provider is refused on Windows)
    let mut steps: Steps<'a> = lab.nodes.iter().map(|n| vm_halted::step(q, &n.name)).collect();
    #[cfg(unix)]
    steps.push(switch::stopped());
    steps
}

/// Every node found removed, then the lab network, whichever kind it was: the switch and its
/// folder, the bridge (Linux).
pub fn destroy(_lab: &Lab, nodes: &[String]) -> Steps<'static> {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut steps: Steps<'static> = nodes.iter().map(|n| vm_removed::step(n)).collect();
    #[cfg(unix)]
    steps.push(switch::stopped());
    #[cfg(target_os = "linux")]
    steps.push(crate::provider::sandbox::bridge_removed_step());
    steps
}

/// The lab's bridge, when lab's mark is on it.
#[cfg(target_os = "linux")]
pub fn bridge_leftovers(lab: &Lab, sd: &StateDir) -> crate::error::Result<Vec<String>> {
    use crate::provider::sandbox::{Names, net::Ip};
    let names = Names::new(lab, sd);
    Ok(Ip::new(&crate::proc::System)
        .ifaces(None)?
        .into_iter()
        .filter(|i| i.name == names.bridge && i.alias.as_deref() == Some(names.mark.as_str()))
        .map(|i| format!("bridge {}", i.name))
        .collect())
}
