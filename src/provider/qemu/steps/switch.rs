//! lab's switch (the lab network without root, `qemu::switch`): running before the nodes start,
//! ended with its folder when the nodes halt or the lab goes.

use crate::error::Result;
use crate::provider::qemu::{files, switch};
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

/// The switch's processes for this lab now.
fn pids(cx: &Cx<'_>) -> Vec<u32> {
    switch::ours(&switch::dir(cx.sd), &files::processes())
}

pub struct Running {
    head: Head,
}

pub fn running() -> Box<dyn Step> {
    Box::new(Running { head: Head::host("switch_running", Stage::Machines, "lab's network switch runs (the lab network without root)") })
}

impl Step for Running {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let dir = switch::dir(cx.sd);
        Ok(if pids(cx).is_empty() {
            Check::Needed("it does not run".into())
        } else if !dir.join(switch::SWITCH_SOCK).exists() {
            Check::Needed(format!("its socket is missing from {}", dir.display()))
        } else {
            Check::Satisfied
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let dir = switch::dir(cx.sd);
        // One without its socket (removed by hand) no longer passes frames: a new one.
        switch::stop_processes(&pids(cx));
        switch::start(&dir)?;
        Ok(Outcome::Applied)
    }
}

pub struct Stopped {
    head: Head,
}

/// After the nodes (`lab halt`, `lab destroy`): no switch process, no folder.
pub fn stopped() -> Box<dyn Step> {
    Box::new(Stopped { head: Head::host("switch_stopped", Stage::Machines, "lab's network switch ended, its folder removed") })
}

impl Step for Stopped {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let dir = switch::dir(cx.sd);
        Ok(if !pids(cx).is_empty() {
            Check::Needed("it runs".into())
        } else if dir.exists() {
            Check::Needed(format!("{} is left", dir.display()))
        } else {
            Check::Satisfied
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        switch::stop(&switch::dir(cx.sd), &pids(cx))?;
        Ok(Outcome::Applied)
    }
}
