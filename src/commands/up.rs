//! `lab up`: the plan, and the runner that executes it; at the end, a short summary of the lab.

use std::time::{Duration, Instant};

use serde_json::json;

use super::LabCx;
use crate::error::Result;
use crate::plan;
use crate::runner::{self, Summary};
use crate::spark;
use crate::state::Keys;
use crate::steps::{Cx, Options, Step};
use crate::ui::{Color, Reporter};

pub fn run(cx: &LabCx<'_>, dry_run: bool, provision: bool, accept_host_keys: bool, recreate: &[String]) -> Result<i32> {
    if let Some(unknown) = recreate.iter().find(|n| !cx.lab.nodes.iter().any(|node| &node.name == *n)) {
        let names: Vec<&str> = cx.lab.nodes.iter().map(|n| n.name.as_str()).collect();
        return Err(crate::error::Error::Usage(format!("--recreate {unknown}: the lab has no node {unknown} (its nodes: {})", names.join(", "))));
    }
    let steps = plan::up(&cx.lab, cx.provider.as_ref(), provision);
    if dry_run {
        if cx.printer.is_json() {
            cx.printer.json(&json!(plan::lines(&steps)));
        } else {
            cx.printer.out(&plan::render(&steps));
            if provision {
                cx.printer.out(&format!("\n{}", plan::render_downloads(&plan::downloads(&cx.lab))));
            }
        }
        return Ok(0);
    }
    // Before anything is created or downloaded: can this computer run this lab?
    cx.sd.check()?;
    // Can this computer drive the machines at all (root for the sandbox, VBoxManage)? Then
    // doctor's blocking checks, with its words; then the provider's own.
    cx.provider.available(&cx.lab)?;
    if let Some(f) = crate::doctor::checks::blocking(&crate::doctor::signals::Signals::for_up(&cx.lab), &cx.lab).into_iter().next() {
        return Err(crate::error::Error::Preflight { problem: f.found, fix: f.fix.unwrap_or_default() });
    }
    cx.provider.preflight(&cx.lab)?;
    for w in cx.provider.warnings(&cx.lab) {
        cx.printer.always(&format!("warning: {w}"));
    }
    let _lock = cx.sd.lock("up")?;
    let start = Instant::now();
    let opts = Options { accept_host_keys, ssh_wait: Duration::from_secs(60), recreate: recreate.to_vec() };
    let summary = execute_with(cx, &steps, opts, None)?;
    print_summary(cx, &summary, start.elapsed(), provision);
    Ok(0)
}

/// Runs `steps` on a lab built before (its keys exist) through the one runner, with this
/// command's context.
pub fn execute(cx: &LabCx<'_>, steps: &[Box<dyn Step + '_>], accept_host_keys: bool, ssh_wait: Duration) -> Result<Summary> {
    execute_with(cx, steps, Options { accept_host_keys, ssh_wait, recreate: Vec::new() }, Some(cx.keys()?))
}

/// Runs steps that touch only the machines (`lab halt`): no keys are read or made.
pub fn execute_machines(cx: &LabCx<'_>, steps: &[Box<dyn Step + '_>]) -> Result<Summary> {
    execute_with(cx, steps, Options::default(), None)
}

fn execute_with(cx: &LabCx<'_>, steps: &[Box<dyn Step + '_>], opts: Options, keys: Option<Keys>) -> Result<Summary> {
    let rt = cx.rt()?;
    let scx = Cx::new(&cx.lab, &cx.sd, cx.provider.as_ref(), cx.printer, rt.handle().clone(), opts, steps)?.with_keys(keys);
    let r = runner::run(&scx, steps);
    scx.close();
    cx.printer.finish();
    r
}

fn print_summary(cx: &LabCx<'_>, summary: &Summary, took: Duration, provision: bool) {
    let lab = &cx.lab;
    let p = cx.printer.paint();
    let m = lab.master();
    if !provision {
        cx.printer.info(&format!("lab {:?}: every node answers SSH ({} nodes); not provisioned (--no-provision)", lab.name, lab.nodes.len()));
        return;
    }
    let changed = if summary.applied == 0 { "nothing to do".to_string() } else { format!("{} steps applied", summary.applied) };
    let mut out = format!("{} lab {:?} is up ({changed}, {:.1}s)\n", p.paint(Color::Green, "✓"), lab.name, took.as_secs_f64());
    let width = lab.nodes.iter().map(|n| n.name.len()).max().unwrap_or(6);
    for n in &lab.nodes {
        let role = if n.role == crate::spec::Role::Master {
            let ui = if cx.provider.reaches_nodes(lab, &cx.sd) { spark::master_ui(lab) } else { "through `lab ui --forward`".into() };
            format!("master  {}  web UI {ui}", spark::master_url(lab))
        } else {
            "worker".to_string()
        };
        out.push_str(&format!("  {:<width$}  {:<15} {role}\n", n.name, n.ip));
    }
    let times: Vec<String> = summary.stages.iter().map(|(s, d)| format!("{} {:.1}s", s.title(), d.as_secs_f64())).collect();
    out.push_str(&format!("  time: {}\n", times.join(", ")));
    let worker = lab.workers().next().map_or(m.name.as_str(), |w| w.name.as_str());
    out.push_str(&format!("next: `lab verify` (prove it works), `lab ssh {worker}`, `lab status`"));
    cx.printer.info(&out);
}
