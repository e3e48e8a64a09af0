//! A VM lab made (found by its mark or recorded UUID) is gone, with its disk.

use crate::error::Result;
use crate::provider::virtualbox::VirtualBox;
use crate::provider::virtualbox::driver::VmInfo;
use crate::spec::Lab;
use crate::steps::{Check, Cx, Stage, Step};
use crate::ui::Outcome;

pub struct VmRemoved<'a> {
    vb: &'a VirtualBox,
    node: String,
    info: VmInfo,
}

pub fn step<'a>(vb: &'a VirtualBox, lab: &Lab, info: VmInfo) -> Box<dyn Step + 'a> {
    let node = info.name.strip_prefix(&lab.machine_prefix()).unwrap_or(&info.name).to_string();
    Box::new(VmRemoved { vb, node, info })
}

impl Step for VmRemoved<'_> {
    fn id(&self) -> &'static str {
        "removed"
    }
    fn stage(&self) -> Stage {
        Stage::Machines
    }
    fn target(&self) -> &str {
        &self.node
    }
    fn goal(&self) -> String {
        format!("VM {} and its disk deleted", self.info.name)
    }
    fn check(&self, _: &Cx<'_>) -> Result<Check> {
        Ok(if self.vb.driver()?.vm(&self.info.uuid)?.is_some() { Check::Needed(format!("VM {} exists", self.info.name)) } else { Check::Satisfied })
    }
    fn apply(&self, _: &Cx<'_>) -> Result<Outcome> {
        let d = self.vb.driver()?;
        let info = d.vm(&self.info.uuid)?.unwrap_or_else(|| self.info.clone());
        VirtualBox::remove_vm(d, &info)?;
        Ok(Outcome::Applied)
    }
}
