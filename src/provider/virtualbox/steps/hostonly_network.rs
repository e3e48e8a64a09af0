//! A host-only interface holds the lab's host address, with no DHCP server on it.

use crate::error::Result;
use crate::provider::virtualbox::VirtualBox;
use crate::spec::Lab;
use crate::steps::{Check, Cx, HOST, Stage, Step};
use crate::ui::Outcome;

pub struct HostonlyNetwork<'a> {
    vb: &'a VirtualBox,
    goal: String,
}

pub fn step<'a>(vb: &'a VirtualBox, lab: &Lab) -> Box<dyn Step + 'a> {
    Box::new(HostonlyNetwork { vb, goal: format!("a host-only interface holds {}/{}, no DHCP server on it", lab.network.host, lab.network.cidr.prefix()) })
}

impl Step for HostonlyNetwork<'_> {
    fn id(&self) -> &'static str {
        "hostonly_network"
    }
    fn stage(&self) -> Stage {
        Stage::Machines
    }
    fn target(&self) -> &str {
        HOST
    }
    fn goal(&self) -> String {
        self.goal.clone()
    }
    fn check(&self, _: &Cx<'_>) -> Result<Check> {
        Ok(Check::InApply)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let (name, outcome) = self.vb.ensure_hostonly(cx)?;
        self.vb.hostonly.set(name);
        Ok(outcome)
    }
}
