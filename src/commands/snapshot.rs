//! `lab snapshot save|restore|list|delete`: every node's disks at once. Save halts the nodes
//! (unless `--live`, VirtualBox only), saves, and starts them again; restore halts them, puts
//! the disks back and starts the cluster as it was (daemons too), installing nothing. What runs
//! again is what ran: the Spark daemons only when the master's ran when the snapshot was taken
//! (a lab brought up with `--no-provision` has none to start).

use serde_json::json;

use super::LabCx;
use crate::cli::SnapshotCmd;
use crate::error::{Error, Result};
use crate::plan;
use crate::provider::MachineState;

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) && !name.starts_with('.');
    if ok { Ok(()) } else { Err(Error::Usage(format!("snapshot name {name:?}: use letters, digits, '-', '_' and '.', like `before-upgrade`"))) }
}

fn running(cx: &LabCx<'_>) -> Result<bool> {
    Ok(cx.provider.status(&cx.lab, &cx.sd)?.iter().any(|m| m.reachable || m.state == MachineState::Running))
}

/// Starts the machines again, and the Spark daemons when `spark` (they ran before).
fn resume(cx: &LabCx<'_>, spark: bool) -> Result<()> {
    let steps = plan::resume(&cx.lab, cx.provider.as_ref(), spark);
    super::up::execute(cx, &steps, false, std::time::Duration::from_secs(60)).map(drop)
}

/// Whether the master's Spark daemon runs now (observed on the master; unreachable or not
/// installed counts as not running).
fn spark_running(cx: &LabCx<'_>) -> bool {
    let (Ok(keys), Ok(rt)) = (cx.keys(), cx.rt()) else { return false };
    rt.block_on(super::status::probe(cx, &keys, cx.lab.master())).1.first().and_then(|d| d.1) == Some(0)
}

/// The state key that says whether the cluster ran when snapshot `name` was taken.
fn spark_key(name: &str) -> String {
    format!("snapshot-spark:{name}")
}

pub fn run(cx: &LabCx<'_>, cmd: &SnapshotCmd) -> Result<i32> {
    cx.provider.available(&cx.lab)?;
    if let SnapshotCmd::List = cmd {
        let names = cx.provider.snapshots()?.list(&cx.lab, &cx.sd)?;
        if cx.printer.is_json() {
            cx.printer.json(&json!({"lab": cx.lab.name, "snapshots": names}));
        } else if names.is_empty() {
            cx.printer.info(&format!("lab {:?} has no snapshots (`lab snapshot save NAME` takes one)", cx.lab.name));
        } else {
            cx.printer.out(&names.join("\n"));
        }
        return Ok(0);
    }
    let _lock = cx.sd.lock("snapshot")?;
    let existing = cx.provider.snapshots()?.list(&cx.lab, &cx.sd)?;
    let lab = &cx.lab.name;
    match cmd {
        SnapshotCmd::Save { name, live } => {
            check_name(name)?;
            if existing.contains(name) {
                return Err(Error::Usage(format!(
                    "lab {lab:?} already has a snapshot {name:?}; delete it first (`lab snapshot delete {name}`) or choose another name"
                )));
            }
            if cx.provider.status(&cx.lab, &cx.sd)?.iter().all(|m| m.state == MachineState::NotCreated) {
                return Err(Error::Usage(format!("lab {lab:?} has no machines to snapshot yet; `lab up` builds them")));
            }
            let was_running = running(cx)?;
            let spark = was_running && spark_running(cx);
            if was_running && !live {
                super::up::execute_machines(cx, &plan::halt(&cx.lab, cx.provider.as_ref()))?;
            }
            let saved = cx.provider.snapshots()?.save(&cx.lab, name, *live).and_then(|steps| super::up::execute_machines(cx, &steps));
            if saved.is_ok() {
                cx.sd.record(&spark_key(name), if spark { "running" } else { "stopped" })?;
            }
            if was_running && !live {
                resume(cx, spark)?;
            }
            saved?;
            cx.printer.finish();
            cx.printer.info(&format!("snapshot {name:?} of lab {lab:?} saved ({} nodes); `lab snapshot restore {name}` goes back to it", cx.lab.nodes.len()));
        }
        SnapshotCmd::Restore { name } => {
            if !existing.contains(name) {
                return Err(Error::Usage(format!("lab {lab:?} has no snapshot {name:?}; `lab snapshot list` shows those it has")));
            }
            // Snapshots taken before lab noted this ran their cluster, as lab then assumed.
            let spark = cx.sd.load()?.and_then(|s| s.resources.get(&spark_key(name)).cloned()).is_none_or(|v| v == "running");
            super::up::execute_machines(cx, &plan::halt(&cx.lab, cx.provider.as_ref()))?;
            super::up::execute_machines(cx, &cx.provider.snapshots()?.restore(&cx.lab, name)?)?;
            resume(cx, spark)?;
            let what = if spark { "its cluster running" } else { "its machines running (no Spark daemons ran when it was taken)" };
            cx.printer.info(&format!("lab {lab:?} is back at snapshot {name:?}, {what}"));
        }
        SnapshotCmd::Delete { name } => {
            if !existing.contains(name) {
                return Err(Error::Usage(format!("lab {lab:?} has no snapshot {name:?}; `lab snapshot list` shows those it has")));
            }
            super::up::execute_machines(cx, &cx.provider.snapshots()?.delete(&cx.lab, name)?)?;
            cx.sd.forget(&spark_key(name))?;
            cx.printer.info(&format!("snapshot {name:?} of lab {lab:?} deleted"));
        }
        SnapshotCmd::List => {}
    }
    Ok(0)
}
