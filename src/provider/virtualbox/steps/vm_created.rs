//! The node's VM exists, is lab's, with its hardware and discs: installed from the ISO, or a
//! linked clone of the base with a seed disc.

use crate::error::Result;
use crate::provider::virtualbox::VirtualBox;
use crate::spec::{Lab, Node};
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct VmCreated<'a> {
    vb: &'a VirtualBox,
    node: String,
    clone: bool,
    head: Head,
}

pub fn step<'a>(vb: &'a VirtualBox, lab: &Lab, n: &Node, clone: bool) -> Box<dyn Step + 'a> {
    let vm = lab.machine_name(&n.name);
    let goal = if clone {
        format!("VM {vm}: linked clone of the base, {} CPU, {} MiB, NAT + host-only NIC, seed disc: host name {}, {}", n.cpus, n.memory_mib, n.name, n.ip)
    } else {
        format!("VM {vm}: {} CPU, {} MiB, {} GiB disk, NAT + host-only NIC", n.cpus, n.memory_mib, n.disk_gib)
    };
    Box::new(VmCreated { vb, node: n.name.clone(), clone, head: Head::node("vm_created", Stage::Machines, &n.name, goal) })
}

impl Step for VmCreated<'_> {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, _: &Cx<'_>) -> Result<Check> {
        // What VirtualBox reports decides between keeping, finishing and refusing.
        Ok(Check::InApply)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let node = cx.node(&self.node)?;
        if self.clone { self.vb.ensure_clone(cx, node) } else { self.vb.ensure_vm(cx, node) }
    }
}
