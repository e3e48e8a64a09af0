//! The node's OS installed by the kickstart on its OEMDRV disc, watched on the serial port.

use crate::error::Result;
use crate::provider::virtualbox::VirtualBox;
use crate::spec::Node;
use crate::steps::{Check, Cx, Stage, Step};
use crate::ui::Outcome;

pub struct OsInstalled<'a> {
    vb: &'a VirtualBox,
    node: String,
    goal: String,
}

pub fn step<'a>(vb: &'a VirtualBox, n: &Node) -> Box<dyn Step + 'a> {
    Box::new(OsInstalled { vb, node: n.name.clone(), goal: format!("kickstart install: host name {}, {} on the host-only NIC", n.name, n.ip) })
}

impl Step for OsInstalled<'_> {
    fn id(&self) -> &'static str {
        "os_installed"
    }
    fn stage(&self) -> Stage {
        Stage::Machines
    }
    fn target(&self) -> &str {
        &self.node
    }
    fn goal(&self) -> String {
        self.goal.clone()
    }
    fn check(&self, _: &Cx<'_>) -> Result<Check> {
        Ok(Check::InApply)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        self.vb.ensure_installed(cx, cx.node(&self.node)?)
    }
}
