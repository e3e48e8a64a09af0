//! A VM lab made (found by its mark or recorded UUID) is gone, with its disk.

use crate::error::Result;
use crate::provider::virtualbox::VirtualBox;
use crate::provider::virtualbox::driver::VmInfo;
use crate::spec::Lab;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct VmRemoved<'a> {
    vb: &'a VirtualBox,
    info: VmInfo,
    head: Head,
}

pub fn step<'a>(vb: &'a VirtualBox, lab: &Lab, info: VmInfo) -> Box<dyn Step + 'a> {
    let node = info.name.strip_prefix(&lab.machine_prefix()).unwrap_or(&info.name).to_string();
    let head = Head::node("removed", Stage::Machines, &node, format!("VM {} and its disk deleted", info.name));
    Box::new(VmRemoved { vb, info, head })
}

impl Step for VmRemoved<'_> {
    fn head(&self) -> &Head {
        &self.head
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
