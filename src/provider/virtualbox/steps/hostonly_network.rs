//! A host-only interface holds the lab's host address, with no DHCP server on it.

use crate::error::Result;
use crate::provider::virtualbox::VirtualBox;
use crate::spec::Lab;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct HostonlyNetwork<'a> {
    vb: &'a VirtualBox,
    head: Head,
}

pub fn step<'a>(vb: &'a VirtualBox, lab: &Lab) -> Box<dyn Step + 'a> {
    Box::new(HostonlyNetwork {
        vb,
        head: Head::host(
            "hostonly_network",
            Stage::Machines,
            format!("a host-only interface holds {}/{}, no DHCP server on it", lab.network.host, lab.network.cidr.prefix()),
        ),
    })
}

impl Step for HostonlyNetwork<'_> {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        Ok(self.vb.hostonly_needed(cx)?.map_or(Check::Satisfied, Check::Needed))
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let (name, outcome) = self.vb.ensure_hostonly(cx)?;
        self.vb.hostonly.set(name);
        Ok(outcome)
    }
}
