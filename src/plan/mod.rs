//! What a command will do, as ordered steps: pure (built from the lab and its provider alone),
//! printed by `lab up --dry-run`, and the very list the runner executes. Each list below is the
//! one place its steps are named: a new step is its file in `steps/` plus one line here.

use std::fmt::Write as _;

use serde::Serialize;

use crate::provider::Provider;
use crate::spec::Lab;
use crate::steps::{
    Stage, Step, Steps, artifacts, cluster_ssh, firewall, hosts_file, java_installed, python_installed, spark_daemon, spark_env, spark_installed, ssh_ready,
    state_folder, workers_file, workers_registered,
};

/// What `lab up` does: the host, the provider's machines, SSH, and (unless `provision` is
/// false) the software and the cluster.
pub fn up<'a>(lab: &Lab, provider: &'a dyn Provider, provision: bool) -> Steps<'a> {
    let mut steps: Steps<'a> = vec![state_folder::step(lab)];
    if provision {
        steps.push(artifacts::step(lab));
    }
    steps.extend(provider.plan(lab));
    steps.extend(connect(lab));
    if provision {
        steps.extend(software(lab));
        steps.extend(cluster(lab));
    }
    steps
}

/// What brings a lab back after its disks changed under it (`lab snapshot restore`): the
/// machines, SSH, and the cluster (the master's login to the workers, which a node's boot may
/// reset, and the daemons); nothing is installed or configured again.
pub fn resume<'a>(lab: &Lab, provider: &'a dyn Provider) -> Steps<'a> {
    let mut steps = up(lab, provider, false);
    steps.push(cluster_ssh::step(lab));
    steps.extend(daemons(lab));
    steps
}

/// What `lab halt` does: the provider stops the machines and keeps their disks.
pub fn halt<'a>(lab: &Lab, provider: &'a dyn Provider) -> Steps<'a> {
    provider.halt(lab)
}

/// What `lab provision` does: the software on running nodes.
pub fn provision(lab: &Lab) -> Steps<'static> {
    let mut steps: Steps<'static> = vec![artifacts::step(lab)];
    steps.extend(connect(lab));
    steps.extend(software(lab));
    steps.extend(cluster(lab));
    steps
}

fn connect(lab: &Lab) -> Steps<'static> {
    lab.nodes.iter().map(|n| ssh_ready::step(lab, &n.name)).collect()
}

/// Every node's software and configuration.
fn software(lab: &Lab) -> Steps<'static> {
    let mut steps: Steps<'static> = Vec::new();
    for n in &lab.nodes {
        steps.push(hosts_file::step(lab, &n.name));
        steps.push(java_installed::step(lab, &n.name));
        steps.push(spark_installed::step(lab, &n.name));
        steps.push(firewall::step(lab, &n.name));
        if lab.spark.python {
            steps.push(python_installed::step(lab, &n.name));
        }
        steps.push(spark_env::step(lab, &n.name));
    }
    steps
}

/// The cluster: the master's workers file and login to the workers, the daemons, the check
/// that every worker registered.
fn cluster(lab: &Lab) -> Steps<'static> {
    let mut steps: Steps<'static> = vec![workers_file::step(lab), cluster_ssh::step(lab)];
    steps.extend(daemons(lab));
    steps
}

/// The Spark daemons, and the check that every worker registered.
fn daemons(lab: &Lab) -> Steps<'static> {
    let mut steps: Steps<'static> = vec![spark_daemon::master(lab)];
    steps.extend(lab.workers().map(|w| spark_daemon::worker(lab, &w.name)));
    steps.push(workers_registered::step(lab));
    steps
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
