//! What `lab up` would do, as ordered, named steps. Pure: built from the lab alone, printable with
//! `lab up --dry-run`. Each step is later executed as "check, then converge", so a step whose
//! check passes does nothing.

use std::fmt::Write as _;

use crate::spec::{JavaInstall, Lab, Provider};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `host` or a node name.
    pub target: String,
    /// Stable name of the step, for state fingerprints and messages.
    pub name: &'static str,
    /// What the step makes true.
    pub goal: String,
}

fn step(target: &str, name: &'static str, goal: impl Into<String>) -> Step {
    Step { target: target.to_string(), name, goal: goal.into() }
}

/// The steps of `lab up` for `lab`, in order. Steps of different nodes with the same name run
/// in parallel.
pub fn up(lab: &Lab, provision: bool) -> Vec<Step> {
    let mut steps = vec![step("host", "state", format!(".lab/{} holds the lab key and one SSH host key per node", lab.name))];
    match lab.provider {
        Provider::Virtualbox => {
            if let Some(img) = &lab.image {
                steps.push(step("host", "iso_downloaded", format!("{} ISO in the download cache, checksum verified", img.title)));
            }
            steps.push(step("host", "hostonly_network", format!("a host-only interface holds {}/{}", lab.network.host, lab.network.cidr.prefix())));
            for n in &lab.nodes {
                let vm = format!("lab-{}-{}", lab.name, n.name);
                steps.push(step(&n.name, "vm_created", format!("VM {vm}: {} CPU, {} MiB, {} GiB disk, NAT + host-only NIC", n.cpus, n.memory_mib, n.disk_gib)));
                steps.push(step(&n.name, "os_installed", format!("kickstart install: host name {}, {} on the host-only NIC", n.name, n.ip)));
                steps.push(step(&n.name, "vm_running", "booted from disk"));
            }
        }
        Provider::Sandbox => {
            steps.push(step("host", "bridge", format!("a bridge holds {}/{}", lab.network.host, lab.network.cidr.prefix())));
            for n in &lab.nodes {
                steps.push(step(&n.name, "node_running", format!("namespaces, overlay root and sshd at {}", n.ip)));
            }
        }
        Provider::Existing => {}
    }
    for n in &lab.nodes {
        steps.push(step(&n.name, "ssh_ready", format!("{}@{} answers SSH with the pinned host key", lab.user, n.ip)));
    }
    if !provision {
        return steps;
    }
    let java = match &lab.java.install {
        JavaInstall::Package => format!("Java {} from the distribution's JDK package", lab.java.version),
        JavaInstall::Tarball(a) => format!("Java {} from {}", lab.java.version, a.file_name()),
    };
    let spark_dl = format!("Spark {} ({}) in the download cache, checksum verified", lab.spark.version, lab.spark.artifact.file_name());
    steps.push(step("host", "spark_downloaded", spark_dl));
    let workers_file = if lab.spark.uses_slaves_file() { "conf/slaves" } else { "conf/workers" };
    for n in &lab.nodes {
        steps.push(step(&n.name, "hosts_file", "/etc/hosts maps every node name to its lab address"));
        steps.push(step(&n.name, "java_installed", java.clone()));
        steps.push(step(&n.name, "spark_installed", format!("{} with /opt/spark pointing at it, conf/spark-env.sh", lab.spark.install_dir())));
    }
    let m = lab.master();
    steps.push(step(&m.name, "workers_file", format!("{workers_file} lists {}", lab.workers().map(|w| w.name.as_str()).collect::<Vec<_>>().join(", "))));
    steps.push(step(&m.name, "cluster_ssh", format!("{} on {} logs in to every worker without a password", lab.user, m.name)));
    steps.push(step(&m.name, "spark_master_running", format!("Spark master at spark://{}:7077, web UI http://{}:8080", m.name, m.ip)));
    for w in lab.workers() {
        steps.push(step(&w.name, "spark_worker_running", "Spark worker registered with the master"));
    }
    steps
}

/// The plan as text, one line per step, grouped by target.
pub fn render(steps: &[Step]) -> String {
    let width = steps.iter().map(|s| s.target.len()).max().unwrap_or(4);
    let mut out = String::new();
    for (i, s) in steps.iter().enumerate() {
        let _ = writeln!(out, "{:>3}. {:<width$}  {:<22} {}", i + 1, s.target, s.name, s.goal);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{HostFacts, parse};
    use std::path::Path;

    #[test]
    fn course_lab_plan_covers_every_node_and_uses_slaves_for_spark_2() {
        let lab = parse(Path::new("course-2018.yaml"), include_str!("../labs/course-2018.yaml"), &HostFacts::default()).expect("valid");
        let steps = up(&lab, true);
        for n in ["master", "node1", "node2"] {
            assert!(steps.iter().any(|s| s.target == n && s.name == "vm_created"), "{n}");
        }
        let text = render(&steps);
        assert!(text.contains("conf/slaves lists node1, node2"), "{text}");
        assert!(text.contains("lab-course-2018-master"), "{text}");
    }

    #[test]
    fn no_provision_stops_at_ssh() {
        let lab = parse(Path::new("sandbox.yaml"), include_str!("../labs/sandbox.yaml"), &HostFacts::default()).expect("valid");
        let steps = up(&lab, false);
        assert_eq!(steps.last().map(|s| s.name), Some("ssh_ready"));
        assert!(!steps.iter().any(|s| s.name.starts_with("spark")));
    }
}
