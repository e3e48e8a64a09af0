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
    fn check(&self, _: &Cx<'_>) -> Result<Check> {
        // Labs sharing a base take turns on it: looking is part of making it.
        Ok(Check::InApply)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        self.vb.ensure_base(cx)
    }
}
