//! The node's VM runs and answers SSH with the host key lab pinned.

use crate::error::Result;
use crate::provider::virtualbox::VirtualBox;
use crate::spec::Node;
use crate::steps::{Check, Cx, Stage, Step};
use crate::ui::Outcome;

pub struct VmRunning<'a> {
    vb: &'a VirtualBox,
    node: String,
    clone: bool,
}

pub fn step<'a>(vb: &'a VirtualBox, n: &Node, clone: bool) -> Box<dyn Step + 'a> {
    Box::new(VmRunning { vb, node: n.name.clone(), clone })
}

impl Step for VmRunning<'_> {
    fn id(&self) -> &'static str {
        "vm_running"
    }
    fn stage(&self) -> Stage {
        Stage::Machines
    }
    fn target(&self) -> &str {
        &self.node
    }
    fn goal(&self) -> String {
        if self.clone {
            "booted, set up by cloud-init from its seed, SSH answers with the pinned host key"
        } else {
            "booted from disk, SSH answers with the pinned host key"
        }
        .into()
    }
    fn check(&self, _: &Cx<'_>) -> Result<Check> {
        Ok(Check::InApply)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        self.vb.ensure_running(cx, cx.node(&self.node)?)
    }
}
