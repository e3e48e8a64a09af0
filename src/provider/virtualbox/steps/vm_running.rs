//! The node's VM runs and answers SSH with the host key lab pinned.

use crate::error::{Error, Result};
use crate::provider::virtualbox::VirtualBox;
use crate::provider::virtualbox::observe::run_needed;
use crate::provider::virtualbox::records::Records;
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
    /// A VM that runs and answered SSH as lab's node before is satisfied: the SSH step that
    /// follows opens its session (and says so when it does not answer).
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let vm = cx.lab.machine_name(&self.node);
        let info = self.vb.driver()?.vm(&vm)?.ok_or_else(|| Error::node(&self.node, format!("VM {vm} disappeared")))?;
        Ok(run_needed(&info, Records::load(cx.sd)?.booted(&self.node)).map_or(Check::Satisfied, Check::Needed))
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        self.vb.boot(cx, cx.node(&self.node)?)
    }
}
