//! The node's OS installed by the kickstart on its OEMDRV disc, watched on the serial port.

use crate::error::{Error, Result};
use crate::provider::virtualbox::VirtualBox;
use crate::provider::virtualbox::observe::install_needed;
use crate::spec::{Lab, Node};
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct OsInstalled<'a> {
    vb: &'a VirtualBox,
    node: String,
    head: Head,
}

pub fn step<'a>(vb: &'a VirtualBox, n: &Node) -> Box<dyn Step + 'a> {
    let goal = format!("kickstart install: host name {}, {} on the host-only NIC", n.name, n.ip);
    Box::new(OsInstalled { vb, node: n.name.clone(), head: Head::node("os_installed", Stage::Machines, &n.name, goal) })
}

impl OsInstalled<'_> {
    fn paths(&self, lab: &Lab, cx: &Cx<'_>) -> (String, std::path::PathBuf, std::path::PathBuf) {
        let vm = lab.machine_name(&self.node);
        let disk = VirtualBox::disk_path(lab, cx.sd, &vm);
        (vm, disk, VirtualBox::seed_path(cx.sd, &self.node))
    }
}

impl Step for OsInstalled<'_> {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let (vm, disk, seed) = self.paths(cx.lab, cx);
        let info = self.vb.driver()?.vm(&vm)?.ok_or_else(|| Error::node(&self.node, format!("VM {vm} disappeared")))?;
        Ok(install_needed(&info, &disk, &seed).map_or(Check::Satisfied, Check::Needed))
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let (vm, disk, seed) = self.paths(cx.lab, cx);
        self.vb.install(cx, &self.node, &vm, &disk, &seed)
    }
}
