//! The node's VM runs and answers SSH with the host key lab pinned.

use crate::error::Result;
use crate::provider::virtualbox::VirtualBox;
use crate::spec::Node;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct VmRunning<'a> {
    vb: &'a VirtualBox,
    node: String,
    head: Head,
}

pub fn step<'a>(vb: &'a VirtualBox, n: &Node, clone: bool) -> Box<dyn Step + 'a> {
    let goal = if clone {
        "booted, set up by cloud-init from its seed, SSH answers with the pinned host key"
    } else {
        "booted from disk, SSH answers with the pinned host key"
    };
    Box::new(VmRunning { vb, node: n.name.clone(), head: Head::node("vm_running", Stage::Machines, &n.name, goal) })
}

impl Step for VmRunning<'_> {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, _: &Cx<'_>) -> Result<Check> {
        Ok(Check::InApply)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        self.vb.ensure_running(cx, cx.node(&self.node)?)
    }
}
