//! The node's VM is off, its disk kept: the guest is asked to shut down (ACPI power button),
//! and powered off when it has not within `LAB_HALT_TIMEOUT`.

use std::time::{Duration, Instant};

use crate::error::Result;
use crate::provider::virtualbox::records::Records;
use crate::provider::virtualbox::{VirtualBox, halt_timeout, is_ours};
use crate::spec::Node;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct VmHalted<'a> {
    vb: &'a VirtualBox,
    node: String,
    head: Head,
}

pub fn step<'a>(vb: &'a VirtualBox, n: &Node) -> Box<dyn Step + 'a> {
    Box::new(VmHalted { vb, node: n.name.clone(), head: Head::node("halted", Stage::Machines, &n.name, "the VM is off, its disk kept") })
}

impl Step for VmHalted<'_> {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let vm = cx.lab.machine_name(&self.node);
        let Some(info) = self.vb.driver()?.vm(&vm)? else { return Ok(Check::Satisfied) };
        let records = Records::of(cx.sd.load().ok().flatten().as_ref());
        if !is_ours(&info, cx.sd, &records, &self.node) {
            cx.reporter.note(&format!("{}: VM {vm} is not this lab's (no lab mark); left alone", self.node));
            return Ok(Check::Satisfied);
        }
        Ok(if info.state.is_on() { Check::Needed(format!("VM {vm} is {}", info.state.word())) } else { Check::Satisfied })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let d = self.vb.driver()?;
        let vm = cx.lab.machine_name(&self.node);
        let start = Instant::now();
        let _ = d.acpi_power_button(&vm);
        while start.elapsed() < halt_timeout() {
            if d.vm(&vm)?.is_none_or(|i| !i.state.is_on()) {
                return Ok(Outcome::Applied);
            }
            cx.reporter.phase(&self.node, "shutting down");
            std::thread::sleep(Duration::from_millis(500));
        }
        d.power_off(&vm)?;
        cx.reporter.note(&format!("{}: powered off after the ACPI timeout ({} s)", self.node, halt_timeout().as_secs()));
        Ok(Outcome::Applied)
    }
}
