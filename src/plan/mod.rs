//! What a command will do, as ordered steps: pure (built from the lab and its provider alone),
//! printed by `lab up --dry-run`, and the very list the runner executes. Each list below is the
//! one place its steps are named: a new step is its file in `steps/` (declared there) plus one
//! line here.

use std::fmt::Write as _;

use serde::Serialize;

use crate::provider::Provider;
use crate::spec::Lab;
use crate::steps::{self, Stage, Step, Steps};

/// What `lab up` does: the host, the provider's machines, SSH, and (unless `provision` is
/// false) the software and the cluster.
pub fn up<'a>(lab: &Lab, provider: &'a dyn Provider, provision: bool) -> Steps<'a> {
    let mut list: Steps<'a> = vec![steps::state_folder::step(lab)];
    if provision {
        list.push(steps::artifacts::step(lab));
    }
    list.extend(provider.plan(lab));
    list.extend(connect(lab));
    if provision {
        list.extend(software(lab));
        list.extend(cluster(lab));
    }
    list
}

/// What brings a lab back after its disks changed under it (`lab snapshot restore`): the
/// machines, SSH, and the cluster (the master's login to the workers, which a node's boot may
/// reset, and the daemons); nothing is installed or configured again.
pub fn resume<'a>(lab: &Lab, provider: &'a dyn Provider) -> Steps<'a> {
    let mut list = up(lab, provider, false);
    list.push(steps::cluster_ssh::step(lab));
    list.extend(daemons(lab));
    list
}

/// What `lab halt` does: the provider stops the machines and keeps their disks.
pub fn halt<'a>(lab: &Lab, provider: &'a dyn Provider) -> Steps<'a> {
    provider.halt(lab)
}

/// What `lab provision` does: the software on running nodes.
pub fn provision(lab: &Lab) -> Steps<'static> {
    let mut list: Steps<'static> = vec![steps::artifacts::step(lab)];
    list.extend(connect(lab));
    list.extend(software(lab));
    list.extend(cluster(lab));
    list
}

fn connect(lab: &Lab) -> Steps<'static> {
    lab.nodes.iter().map(|n| steps::ssh_ready::step(lab, &n.name)).collect()
}

/// Every node's software and configuration.
fn software(lab: &Lab) -> Steps<'static> {
    let mut list: Steps<'static> = Vec::new();
    for n in &lab.nodes {
        list.push(steps::hosts_file::step(lab, &n.name));
        list.push(steps::java_installed::step(lab, &n.name));
        list.push(steps::spark_installed::step(lab, &n.name));
        list.push(steps::firewall::step(lab, &n.name));
        if lab.spark.python {
            list.push(steps::python_installed::step(lab, &n.name));
        }
        list.push(steps::spark_env::step(lab, &n.name));
        list.push(steps::spark_defaults::step(lab, &n.name));
    }
    list
}

/// The cluster: the master's workers file and login to the workers, the daemons, the check
/// that every worker registered.
fn cluster(lab: &Lab) -> Steps<'static> {
    let mut list: Steps<'static> = vec![steps::workers_file::step(lab), steps::cluster_ssh::step(lab)];
    list.extend(daemons(lab));
    list
}

/// The Spark daemons, the check that every worker registered, then what serves users on the
/// master: the history server and the Spark Connect server (where the lab has them).
fn daemons(lab: &Lab) -> Steps<'static> {
    let mut list: Steps<'static> = vec![steps::spark_daemon::master(lab)];
    list.extend(steps::spark_daemon::history(lab));
    list.extend(lab.workers().map(|w| steps::spark_daemon::worker(lab, &w.name)));
    list.push(steps::workers_registered::step(lab));
    list.extend(steps::spark_daemon::connect(lab));
    list
}

/// One line of a plan, as `--dry-run --json` prints it.
#[derive(Debug, Serialize)]
pub struct Line {
    pub stage: Stage,
    pub target: String,
    pub step: &'static str,
    pub goal: String,
}

pub fn lines(steps: &[Box<dyn Step + '_>]) -> Vec<Line> {
    steps.iter().map(|s| Line { stage: s.stage(), target: s.target().to_string(), step: s.id(), goal: s.goal() }).collect()
}

/// The plan as text, one line per step.
pub fn render(steps: &[Box<dyn Step + '_>]) -> String {
    let width = steps.iter().map(|s| s.target().len()).max().unwrap_or(4);
    let mut out = String::new();
    for (i, s) in steps.iter().enumerate() {
        let _ = writeln!(out, "{:>3}. {:<width$}  {:<22} {}", i + 1, s.target(), s.id(), s.goal());
    }
    out
}

#[cfg(test)]
mod tests;
