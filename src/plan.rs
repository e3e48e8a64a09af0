//! What `lab up` will do, as ordered, named steps: pure (built from the lab and its provider
//! alone), printed by `lab up --dry-run`, and the very list the runner executes. Each step is
//! "check, then converge", so a step whose check passes does nothing.
//!
//! Steps are grouped in stages. A stage starts when the one before it has ended; inside a stage
//! the steps of one target run in order, and different targets run side by side.

use std::fmt::Write as _;

use serde::Serialize;

use crate::provider::Provider;
use crate::spark;
use crate::spec::{JavaInstall, Lab};

/// The stages of `lab up`, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// This computer: state folder, keys, downloads.
    Host,
    /// The provider brings the machines up.
    Machines,
    /// An SSH session to every node, with the pinned host key.
    Connect,
    /// Per node: names, Java, Spark, firewall, configuration.
    Nodes,
    /// The master: workers file, passwordless SSH, the master daemon.
    Cluster,
    /// The workers' daemons.
    Workers,
    /// The cluster as a whole answers.
    Ready,
}

impl Stage {
    pub fn title(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Machines => "machines",
            Self::Connect => "ssh",
            Self::Nodes => "software",
            Self::Cluster => "cluster",
            Self::Workers => "workers",
            Self::Ready => "ready",
        }
    }
}

/// `host`, for steps that run on this computer.
pub const HOST: &str = "host";

/// One step: what it makes true, on which target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub stage: Stage,
    /// `host` or a node name.
    pub target: String,
    /// Stable identifier, shared by the planner and the executor.
    #[serde(rename = "step")]
    pub id: &'static str,
    /// What the step makes true.
    pub goal: String,
}

impl Step {
    pub fn new(stage: Stage, target: &str, id: &'static str, goal: impl Into<String>) -> Self {
        Self { stage, target: target.to_string(), id, goal: goal.into() }
    }
}

/// The identifiers of the steps this module plans (providers name their own).
pub mod ids {
    pub const STATE: &str = "state";
    pub const ARTIFACTS: &str = "artifacts";
    pub const SSH_READY: &str = "ssh_ready";
    pub const HOSTS_FILE: &str = "hosts_file";
    pub const JAVA: &str = "java_installed";
    pub const SPARK: &str = "spark_installed";
    pub const FIREWALL: &str = "firewall";
    pub const PYTHON: &str = "python_installed";
    pub const SPARK_ENV: &str = "spark_env";
    pub const WORKERS_FILE: &str = "workers_file";
    pub const CLUSTER_SSH: &str = "cluster_ssh";
    pub const MASTER: &str = "spark_master_running";
    pub const WORKER: &str = "spark_worker_running";
    pub const CLUSTER_READY: &str = "workers_registered";
}

/// What `lab up` does: the host, the provider's machines, SSH, and (unless `provision` is
/// false) the software and the cluster.
pub fn up(lab: &Lab, provider: &dyn Provider, provision: bool) -> Vec<Step> {
    let mut steps = vec![Step::new(Stage::Host, HOST, ids::STATE, format!(".lab/{} holds the lab key and each node's SSH host key", lab.name))];
    if provision {
        steps.push(artifacts(lab));
    }
    steps.extend(provider.plan(lab));
    steps.extend(connect(lab));
    if provision {
        steps.extend(software(lab));
    }
    steps
}

/// What brings a lab back after its disks changed under it (`lab snapshot restore`): the
/// machines, SSH (the master's login to the workers, which a node's boot may reset), and the
/// Spark daemons; nothing is installed or configured again.
pub fn resume(lab: &Lab, provider: &dyn Provider) -> Vec<Step> {
    let mut steps = up(lab, provider, false);
    steps.extend(software(lab).into_iter().filter(|s| [ids::CLUSTER_SSH, ids::MASTER, ids::WORKER, ids::CLUSTER_READY].contains(&s.id)));
    steps
}

/// What `lab provision` does: the software on running nodes.
pub fn provision(lab: &Lab) -> Vec<Step> {
    let mut steps = vec![artifacts(lab)];
    steps.extend(connect(lab));
    steps.extend(software(lab));
    steps
}

fn artifacts(lab: &Lab) -> Step {
    let jdk = match &lab.java.install {
        JavaInstall::Tarball(t) => match t.needed(lab.machine_arch()).as_slice() {
            [] => String::new(),
            [(_, a)] => format!(", the JDK ({})", a.file_name()),
            many => format!(", the JDKs ({})", many.iter().map(|(_, a)| a.file_name()).collect::<Vec<_>>().join(", ")),
        },
        JavaInstall::Package => String::new(),
    };
    Step::new(
        Stage::Host,
        HOST,
        ids::ARTIFACTS,
        format!("Spark {} ({}){jdk} in the download cache, checksums verified", lab.spark.version, lab.spark.artifact.file_name()),
    )
}

fn connect(lab: &Lab) -> Vec<Step> {
    lab.nodes
        .iter()
        .map(|n| Step::new(Stage::Connect, &n.name, ids::SSH_READY, format!("{}@{} answers SSH with the pinned host key", lab.user, n.ip)))
        .collect()
}

fn software(lab: &Lab) -> Vec<Step> {
    let java = match &lab.java.install {
        JavaInstall::Package => format!("Java {} from the distribution's JDK package", lab.java.version),
        JavaInstall::Tarball(t) => {
            format!("Java {} from {}", lab.java.version, t.needed(lab.machine_arch()).iter().map(|(_, a)| a.file_name()).collect::<Vec<_>>().join(" or "))
        }
    };
    let v = lab.spark.version;
    let mut steps = Vec::new();
    for n in &lab.nodes {
        steps.push(Step::new(Stage::Nodes, &n.name, ids::HOSTS_FILE, "/etc/hosts maps every node name to its lab address"));
        steps.push(Step::new(Stage::Nodes, &n.name, ids::JAVA, java.clone()));
        steps.push(Step::new(Stage::Nodes, &n.name, ids::SPARK, format!("{} with {} pointing at it", spark::install_dir(v), spark::HOME)));
        steps.push(Step::new(Stage::Nodes, &n.name, ids::FIREWALL, format!("firewalld (where it runs) trusts {}", lab.network.cidr)));
        if lab.spark.python {
            steps.push(Step::new(Stage::Nodes, &n.name, ids::PYTHON, "python3 for PySpark (the distribution's package)"));
        }
        steps.push(Step::new(Stage::Nodes, &n.name, ids::SPARK_ENV, format!("conf/spark-env.sh: JAVA_HOME, the master, SPARK_LOCAL_IP {}", n.ip)));
    }
    let m = lab.master();
    let workers: Vec<&str> = lab.workers().map(|w| w.name.as_str()).collect();
    let files = spark::workers_files(v);
    let verb = if files.len() == 1 { "lists" } else { "list" };
    steps.push(Step::new(Stage::Cluster, &m.name, ids::WORKERS_FILE, format!("{} {verb} {}", files.join(" and "), workers.join(", "))));
    steps.push(Step::new(Stage::Cluster, &m.name, ids::CLUSTER_SSH, format!("{} on {} logs in to every worker without a password", lab.user, m.name)));
    steps.push(Step::new(Stage::Cluster, &m.name, ids::MASTER, format!("Spark master at {}, web UI {}", spark::master_url(lab), spark::master_ui(lab))));
    for w in lab.workers() {
        steps.push(Step::new(Stage::Workers, &w.name, ids::WORKER, "Spark worker running"));
    }
    steps.push(Step::new(Stage::Ready, &m.name, ids::CLUSTER_READY, format!("the master lists exactly the {} workers as ALIVE", workers.len())));
    steps
}

/// The plan as text, one line per step.
pub fn render(steps: &[Step]) -> String {
    let width = steps.iter().map(|s| s.target.len()).max().unwrap_or(4);
    let mut out = String::new();
    for (i, s) in steps.iter().enumerate() {
        let _ = writeln!(out, "{:>3}. {:<width$}  {:<22} {}", i + 1, s.target, s.id, s.goal);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{HostFacts, parse};
    use std::path::Path;

    fn lab(text: &str) -> Lab {
        parse(Path::new("lab.yaml"), text, &HostFacts::default()).expect("valid")
    }

    #[test]
    fn course_lab_plan_covers_every_node_and_uses_slaves_for_spark_2() {
        let lab = lab(include_str!("../labs/course-2018.yaml"));
        let p = crate::provider::for_lab(&lab);
        let steps = up(&lab, p.as_ref(), true);
        for n in ["master", "node1", "node2"] {
            assert!(steps.iter().any(|s| s.target == n && s.id == "vm_created"), "{n}");
        }
        let text = render(&steps);
        assert!(text.contains("conf/workers and conf/slaves list node1, node2"), "{text}");
        assert!(text.contains("lab-course-2018-master"), "{text}");
        let mut stages: Vec<Stage> = steps.iter().map(|s| s.stage).collect();
        let sorted = {
            let mut v = stages.clone();
            v.sort();
            v
        };
        assert_eq!(stages, sorted, "steps are listed stage by stage");
        stages.dedup();
        assert_eq!(stages.len(), 7);
    }

    #[test]
    fn no_provision_stops_at_ssh() {
        let lab = lab(include_str!("../labs/sandbox.yaml"));
        let p = crate::provider::for_lab(&lab);
        let steps = up(&lab, p.as_ref(), false);
        assert_eq!(steps.last().map(|s| s.id), Some(ids::SSH_READY));
        assert!(!steps.iter().any(|s| s.id.starts_with("spark") || s.id == ids::ARTIFACTS));
    }
}
