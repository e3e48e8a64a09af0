//! `lab doctor`: what stands between this computer and a working lab, each with its fix.

use serde_json::json;

use super::Cx;
use crate::doctor::signals::{LabParts, Signals};
use crate::doctor::{Level, blocks, checks, render};
use crate::error::{Error, Result};

pub fn run(cx: &Cx<'_>, online: bool) -> Result<i32> {
    let labcx = match cx.lab() {
        Ok(l) => Some(l),
        // Without a lab file, the checks of this computer alone.
        Err(Error::NoLabFile { .. }) => None,
        Err(e) => return Err(e),
    };
    let parts = match &labcx {
        Some(l) => Some(LabParts { lab: &l.lab, sd: &l.sd, provider: l.provider.as_ref(), rt: l.rt()? }),
        None => None,
    };
    let signals = Signals::gather(parts.as_ref(), online);
    let lab = labcx.as_ref().map(|l| &l.lab);
    let findings = checks::all(&signals, lab);
    let ok = !blocks(&findings);
    if cx.printer.is_json() {
        cx.printer.json(&json!({"lab": lab.map(|l| l.name.clone()), "ok": ok, "checks": findings}));
    } else {
        cx.printer.out(render(&findings).trim_end());
        let unknown = findings.iter().filter(|f| f.level == Level::Unknown).count();
        let problems = findings.iter().filter(|f| f.level == Level::Problem).count();
        let what = lab.map_or_else(|| "this computer".to_string(), |l| format!("lab {:?}", l.name));
        let verdict = if ok { format!("nothing stops {what}") } else { format!("{problems} problem(s) stop {what}: fix them, then run `lab doctor` again") };
        let unsure = if unknown > 0 { format!(" ({unknown} check(s) could not be answered here)") } else { String::new() };
        cx.printer.info(&format!("{verdict}{unsure}"));
    }
    Ok(if ok { 0 } else { 1 })
}
