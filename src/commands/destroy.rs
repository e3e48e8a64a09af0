//! `lab destroy`: removes everything the lab created, and nothing else. What it will remove is
//! found by lab's marks as well as by its state, so a lab whose `.lab/` is gone or damaged is
//! still removed; the list is shown before anything goes.

use std::io::IsTerminal;

use super::LabCx;
use crate::error::{Error, Result};
use crate::ui::Reporter;

pub fn run(cx: &LabCx<'_>, yes: bool) -> Result<i32> {
    let lab = &cx.lab;
    cx.sd.check()?;
    let state = match cx.sd.load() {
        Ok(s) => s,
        Err(e @ Error::BadState { .. }) => {
            cx.printer.always(&format!("warning: {e}; lab looks for what it created by its marks instead"));
            None
        }
        Err(e) => return Err(e),
    };
    if let Some(st) = &state
        && st.provider != lab.provider.name()
    {
        return Err(Error::ProviderChanged { lab: lab.name.clone(), built: st.provider.clone(), now: lab.provider.name().to_string() });
    }
    let leftovers = cx.provider.leftovers(lab, &cx.sd, state.as_ref()).unwrap_or_default();
    if !cx.sd.exists() && leftovers.is_empty() {
        cx.printer.info(&format!("lab {:?}: nothing to destroy", lab.name));
        return Ok(0);
    }
    let mut what: Vec<String> = leftovers;
    if cx.sd.exists() {
        what.push(format!("{} (keys, state, disks)", cx.sd.path().display()));
    }
    cx.printer.info(&format!("lab {:?} will remove:\n  {}", lab.name, what.join("\n  ")));
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::Usage("lab destroy asks for confirmation; pass --yes when there is no terminal".into()));
        }
        let answer = cx.printer.ask(&format!("Destroy lab {:?}? [y/N] ", lab.name));
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            cx.printer.info("nothing removed");
            return Ok(0);
        }
    }
    let _lock = if cx.sd.exists() { Some(cx.sd.lock("destroy")?) } else { None };
    let steps = cx.provider.destroy(lab, &cx.sd, state.as_ref())?;
    super::up::execute_machines(cx, &steps)?;
    drop(_lock);
    cx.sd.remove()?;
    cx.printer.info(&format!("lab {:?}: removed {}", lab.name, cx.sd.path().display()));
    Ok(0)
}
