//! The node's VM exists, is lab's, with its hardware and discs: installed from the ISO, or a
//! linked clone of the base with a seed disc. The check looks (one `showvminfo` and lab's
//! records) and decides; apply does what was decided.

use crate::error::Result;
use crate::provider::virtualbox::VirtualBox;
use crate::provider::virtualbox::observe::Decision;
use crate::provider::virtualbox::records::Made;
use crate::spec::{Lab, Node};
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct VmCreated<'a> {
    vb: &'a VirtualBox,
    node: String,
    made: Made,
    head: Head,
}

pub fn step<'a>(vb: &'a VirtualBox, lab: &Lab, n: &Node, made: Made) -> Box<dyn Step + 'a> {
    let vm = lab.machine_name(&n.name);
    let goal = match made {
        Made::Base => {
            format!("VM {vm}: linked clone of the base, {} CPU, {} MiB, NAT + host-only NIC, seed disc: host name {}, {}", n.cpus, n.memory_mib, n.name, n.ip)
        }
        Made::PerNode => format!("VM {vm}: {} CPU, {} MiB, {} GiB disk, NAT + host-only NIC", n.cpus, n.memory_mib, n.disk_gib),
    };
    Box::new(VmCreated { vb, node: n.name.clone(), made, head: Head::node("vm_created", Stage::Machines, &n.name, goal) })
}

impl Step for VmCreated<'_> {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        Ok(match self.vb.decision(cx, &self.node, self.made)?.1 {
            Decision::Keep => Check::Satisfied,
            Decision::Create(why) | Decision::Remake(why) | Decision::Reconnect(why) => Check::Needed(why),
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        // Looked at again: apply acts on what is there now.
        let (info, decision, _) = self.vb.decision(cx, &self.node, self.made)?;
        self.vb.act(cx, cx.node(&self.node)?, self.made, info.as_ref(), &decision)
    }
}
