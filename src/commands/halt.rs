//! `lab halt`: stops the nodes and keeps their disks; `lab up` starts them again.

use super::LabCx;
use crate::error::{Error, Result};

pub fn run(cx: &LabCx<'_>) -> Result<i32> {
    if !cx.provider.halts() {
        return Err(Error::Unsupported {
            what: format!("the {} provider's machines are not lab's to halt", cx.provider.name()),
            hint: "`lab destroy` removes what lab installed and leaves the machines running".into(),
        });
    }
    cx.provider.available(&cx.lab)?;
    let _lock = cx.sd.lock("halt")?;
    super::up::execute_machines(cx, &crate::plan::halt(&cx.lab, cx.provider.as_ref()))?;
    cx.printer.info(&format!("lab {:?}: halted; disks kept (`lab up` starts it again)", cx.lab.name));
    Ok(0)
}
