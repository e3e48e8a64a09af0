//! The node's VM is shut down (its disk kept).

use crate::error::Result;
use crate::provider::qemu::{Qemu, files};
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct VmHalted<'a> {
    q: &'a Qemu,
    node: String,
    head: Head,
}

pub fn step<'a>(q: &'a Qemu, node: &str) -> Box<dyn Step + 'a> {
    Box::new(VmHalted { q, node: node.to_string(), head: Head::node("vm_halted", Stage::Machines, node, "shut down through ACPI, its disk kept") })
}

impl Step for VmHalted<'_> {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        Ok(if files::running(cx.sd).iter().any(|p| p.node == self.node) {
            Check::Needed("it runs".into())
        } else if files::Records::up(cx.sd, &self.node) {
            // Halted, as asked: lab notes it, so `lab status` no longer reports a crash.
            Check::Needed(files::DIED.into())
        } else {
            Check::Satisfied
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let accel = self.q.accel(cx.lab)?.accel;
        super::stop::stop(cx.sd, &self.node, Some(super::halt_deadline(accel)), cx.reporter)?;
        Ok(Outcome::Applied)
    }
}
