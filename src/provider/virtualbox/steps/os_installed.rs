//! The node's OS installed by the kickstart on its OEMDRV disc, watched on the serial port.

use crate::error::Result;
use crate::provider::virtualbox::VirtualBox;
use crate::spec::Node;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct OsInstalled<'a> {
    vb: &'a VirtualBox,
    node: String,
    head: Head,
}

pub fn step<'a>(vb: &'a VirtualBox, n: &Node) -> Box<dyn Step + 'a> {
    Box::new(OsInstalled {
        vb,
        node: n.name.clone(),
        head: Head::node("os_installed", Stage::Machines, &n.name, format!("kickstart install: host name {}, {} on the host-only NIC", n.name, n.ip)),
    })
}

impl Step for OsInstalled<'_> {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, _: &Cx<'_>) -> Result<Check> {
        Ok(Check::InApply)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        self.vb.ensure_installed(cx, cx.node(&self.node)?)
    }
}
