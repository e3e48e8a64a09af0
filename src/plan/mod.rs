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

/// What brings a lab back after its disks changed under it (`lab snapshot restore`, `save`):
/// the machines and SSH, then, when the cluster ran (`spark`), the master's login to the
/// workers (which a node's boot may reset) and the daemons; nothing is installed or configured
/// again.
pub fn resume<'a>(lab: &Lab, provider: &'a dyn Provider, spark: bool) -> Steps<'a> {
    let mut list = up(lab, provider, false);
    if spark {
        list.push(steps::cluster_ssh::step(lab));
        list.extend(daemons(lab));
    }
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
        list.push(steps::spark_account::step(lab, &n.name));
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
    steps
        .iter()
        .map(|s| {
            let h = s.head();
            Line { stage: h.stage, target: h.target.label().to_string(), step: h.id, goal: h.goal.clone() }
        })
        .collect()
}

/// The plan as text, one line per step.
pub fn render(steps: &[Box<dyn Step + '_>]) -> String {
    let width = steps.iter().map(|s| s.head().target.label().len()).max().unwrap_or(4);
    let mut out = String::new();
    for (i, s) in steps.iter().enumerate() {
        let h = s.head();
        let _ = writeln!(out, "{:>3}. {:<width$}  {:<22} {}", i + 1, h.target.label(), h.id, h.goal);
    }
    out
}

#[cfg(test)]
mod tests;

/// Something `lab up` downloads, and about how much: what `--dry-run` states.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Download {
    pub what: String,
    /// Where it comes from (a URL, or the mirror a network install reads).
    pub from: String,
    /// About how many MiB (published sizes, rounded up; a "latest" ISO moves a little).
    pub mib: u64,
    /// Fetched by this computer (into the download cache), or by the installer in a VM.
    pub by_host: bool,
    /// When it is needed at all.
    pub when: String,
}

/// Approximate sizes of what lab fetches that the lab file gives no size for: Apache's
/// `spark-X-bin-hadoop3.tgz` per line, a JDK tarball (Temurin's, per major version).
fn spark_mib(v: &crate::spec::Version) -> u64 {
    match v.0 {
        0..=2 => 230,
        3 => 400,
        _ => 560,
    }
}

fn jdk_mib(version: u32) -> u64 {
    if version <= 8 { 105 } else { 200 }
}

/// What a file a lab downloads is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    Iso,
    /// The qemu provider's disk image (a cloud image, or the lab's own).
    Image,
    Jdk,
    Spark,
}

impl ArtifactKind {
    /// The lab file's section that names the file (`iso`, `java`, `spark`).
    pub fn key(self) -> &'static str {
        match self {
            ArtifactKind::Iso => "iso",
            ArtifactKind::Image => "qemu.image",
            ArtifactKind::Jdk => "java",
            ArtifactKind::Spark => "spark",
        }
    }
}

impl std::fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            ArtifactKind::Iso => "ISO",
            ArtifactKind::Image => "image",
            ArtifactKind::Jdk => "JDK",
            ArtifactKind::Spark => "Spark",
        })
    }
}

/// What a lab downloads on this computer: the ISO (VirtualBox) or the disk image (QEMU), the
/// JDK tarball(s), Spark. `lab fetch` fetches these; `downloads` states them.
pub fn artifacts(lab: &Lab) -> Vec<(ArtifactKind, crate::spec::Artifact)> {
    let mut wanted = Vec::new();
    if let Some(image) = &lab.qemu.image {
        wanted.push((ArtifactKind::Image, image.clone()));
    } else if let (Some(img), crate::spec::ProviderKind::Virtualbox) = (&lab.image, lab.provider) {
        wanted.push((ArtifactKind::Iso, img.iso.clone()));
    }
    if let crate::spec::JavaInstall::Tarball(t) = &lab.java.install {
        for (_, a) in t.needed(lab.machine_arch()) {
            wanted.push((ArtifactKind::Jdk, a.clone()));
        }
    }
    wanted.push((ArtifactKind::Spark, lab.spark.artifact.clone()));
    wanted
}

/// What `lab up` of `lab` downloads on an empty cache, host side and (as the image states it)
/// what a network install fetches from the mirror.
pub fn downloads(lab: &Lab) -> Vec<Download> {
    use crate::spec::images::Source;
    let base = lab.install == crate::spec::InstallMode::Base;
    let mut out = Vec::new();
    for (what, a) in artifacts(lab) {
        match (what, &lab.image) {
            (ArtifactKind::Iso, Some(img)) => {
                let kind = if matches!(img.source, Source::Network { .. }) { "boot ISO" } else { "ISO" };
                let when = if base { "only while the base is made" } else { "while the nodes install" };
                out.push(Download {
                    what: format!("{} {kind} ({})", img.title, img.arch.name()),
                    from: a.url.clone(),
                    mib: img.size_mib,
                    by_host: true,
                    when: when.into(),
                });
                if let Source::Network { repos, packages_mib } = &img.source {
                    let installs = if base { 1 } else { lab.nodes.len() as u64 };
                    out.push(Download {
                        what: format!("packages of the network install ({})", repos.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")),
                        from: repos.first().map(|(_, u)| u.clone()).unwrap_or_default(),
                        mib: packages_mib * installs,
                        by_host: false,
                        when: if base { "once, by the base's installer".into() } else { format!("by each of the {installs} installs") },
                    });
                }
            }
            (ArtifactKind::Jdk, _) => {
                out.push(Download {
                    what: format!("JDK {} ({})", lab.java.version, a.file_name()),
                    from: a.url.clone(),
                    mib: jdk_mib(lab.java.version),
                    by_host: true,
                    when: "once".into(),
                });
            }
            (ArtifactKind::Iso, None) => {}
            (ArtifactKind::Image, _) => out.push(Download {
                what: format!("{} ({})", lab.qemu.title, lab.host_arch.name()),
                from: a.url.clone(),
                mib: lab.qemu.size_mib.unwrap_or(0),
                by_host: true,
                when: "once: every node's disk is an overlay on it".into(),
            }),
            (ArtifactKind::Spark, _) => out.push(Download {
                what: format!("Spark {} ({})", lab.spark.version, a.file_name()),
                from: a.url.clone(),
                mib: spark_mib(&lab.spark.version),
                by_host: true,
                when: "once".into(),
            }),
        }
    }
    out
}

/// The downloads as `lab up --dry-run` prints them, ending with the line the benchmark reads:
/// `downloads: about N MB in all (host H MB, network install I MB)`.
pub fn render_downloads(list: &[Download]) -> String {
    let mb = |mib: u64| mib * 1_048_576 / 1_000_000;
    let mut s = String::from("Downloads on an empty cache (already cached files are not fetched again):\n");
    for d in list {
        let _ = writeln!(s, "  {:<5} {:>6} MB  {}  ({}; {})", if d.by_host { "host" } else { "vm" }, mb(d.mib), d.what, d.from, d.when);
    }
    let host: u64 = list.iter().filter(|d| d.by_host).map(|d| d.mib).sum();
    let vm: u64 = list.iter().filter(|d| !d.by_host).map(|d| d.mib).sum();
    let _ = write!(s, "downloads: about {} MB in all (host {} MB, network install {} MB)", mb(host + vm), mb(host), mb(vm));
    s
}
