//! The base: the OS installed once for every lab that uses the same image, with its snapshot.

use crate::error::Result;
use crate::provider::virtualbox::{VirtualBox, base};
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct BaseImage<'a> {
    vb: &'a VirtualBox,
    head: Head,
}

pub fn step<'a>(vb: &'a VirtualBox, b: &base::Spec) -> Box<dyn Step + 'a> {
    Box::new(BaseImage {
        vb,
        head: Head::host("base_image", Stage::Machines, format!("base {}: {} installed once for every lab, snapshot `{}`", b.name, b.title, base::SNAPSHOT)),
    })
}

impl Step for BaseImage<'_> {
    fn head(&self) -> &Head {
        &self.head
    }
    /// Labs sharing a base take turns on it: a base not ready is looked at again, under its
    /// lock, by apply (another lab may be making it now).
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let spec = base::spec(cx.lab)?;
        Ok(match self.vb.base_seen(&spec, cx)? {
            base::Seen::Ready { used: true } => Check::Satisfied,
            base::Seen::Ready { used: false } => Check::Needed(format!("base {} is ready; this lab is not yet listed among its users", spec.name)),
            base::Seen::Missing => Check::Needed(format!("base {} does not exist on this computer", spec.name)),
            base::Seen::Unfinished => Check::Needed(format!("base {} did not finish its install (it failed or was stopped): it installs anew", spec.name)),
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        self.vb.ensure_base(cx)
    }
}
