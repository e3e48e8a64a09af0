use super::*;
use crate::spec::{HostFacts, parse};
use std::path::Path;

fn lab(text: &str) -> Lab {
    parse(Path::new("/srv/course/lab.yaml"), text, &HostFacts::default()).expect("valid")
}

#[test]
fn course_lab_plan_covers_every_node_and_uses_slaves_for_spark_2() {
    let lab = lab(include_str!("../../labs/course-2018.yaml"));
    let p = crate::provider::for_lab(&lab);
    let steps = up(&lab, p.as_ref(), true);
    for n in ["master", "node1", "node2"] {
        assert!(steps.iter().any(|s| s.head().target.node() == Some(n) && s.head().id == "vm_created"), "{n}");
    }
    let text = render(&steps);
    assert!(text.contains("conf/workers and conf/slaves list node1, node2"), "{text}");
    assert!(text.contains("lab-course-2018-master"), "{text}");
    let mut stages: Vec<Stage> = steps.iter().map(|s| s.head().stage).collect();
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
    let lab = lab(include_str!("../../labs/sandbox.yaml"));
    let p = crate::provider::for_lab(&lab);
    let steps = up(&lab, p.as_ref(), false);
    assert_eq!(steps.last().map(|s| s.head().id), Some(steps::ssh_ready::ID));
    assert!(!steps.iter().any(|s| s.head().id.starts_with("spark") || s.head().id == steps::artifacts::ID));
}

#[test]
fn resume_starts_the_daemons_only_when_the_cluster_ran() {
    let lab = lab(include_str!("../../labs/sandbox.yaml"));
    let p = crate::provider::for_lab(&lab);
    let machines: Vec<&str> = up(&lab, p.as_ref(), false).iter().map(|s| s.head().id).collect();
    let bare: Vec<&str> = resume(&lab, p.as_ref(), false).iter().map(|s| s.head().id).collect();
    assert_eq!(bare, machines, "the machines and SSH, nothing of Spark");
    let cluster = resume(&lab, p.as_ref(), true);
    let ids: Vec<&str> = cluster.iter().map(|s| s.head().id).collect();
    assert_eq!(&ids[..machines.len()], machines.as_slice());
    assert_eq!(ids[machines.len()], steps::cluster_ssh::ID);
    assert!(ids.contains(&steps::spark_daemon::MASTER) && ids.contains(&steps::spark_daemon::WORKER), "{ids:?}");
    assert!(!ids.iter().any(|i| *i == steps::java_installed::ID || *i == steps::spark_installed::ID), "nothing installed: {ids:?}");
}

/// `lab up --dry-run` still prints every line it printed before steps became types (captured
/// then from the string-dispatched planner), in the same order, with the same words; steps
/// added since may stand between them. The lab files are the ones of then: the 3.5 lab (now
/// `spark-3.5.yaml`) under its old name, the sandbox lab on 3.5.8.
#[test]
fn dry_run_keeps_every_line_it_printed_before_steps_were_types() {
    let spark = include_str!("../../labs/spark-3.5.yaml")
        .replace("name: spark35", "name: spark\noffline: true")
        .replace("    memory: 2560        # the Spark master, the history server and your job's driver\n", "");
    let sandbox = include_str!("../../labs/sandbox.yaml").replace("4.3.0", "3.5.8").replace("  connect_memory: 768m\n", "");
    let mut labs = vec![
        ("spark.yaml", spark.as_str(), include_str!("golden/spark.txt")),
        ("course-2018.yaml", include_str!("../../labs/course-2018.yaml"), include_str!("golden/course-2018.txt")),
    ];
    // The sandbox provider (and so its plan) is Linux's alone.
    if cfg!(target_os = "linux") {
        labs.push(("sandbox.yaml", sandbox.as_str(), include_str!("golden/sandbox.txt")));
    }
    for (file, text, want) in labs {
        let lab = lab(text);
        let p = crate::provider::for_lab(&lab);
        let text = render(&up(&lab, p.as_ref(), true));
        let now: Vec<&str> = text.lines().map(|l| l.split_once(". ").map_or(l, |(_, rest)| rest)).collect();
        let mut at = 0;
        for line in want.lines().map(|l| l.split_once(". ").map_or(l, |(_, rest)| rest)) {
            let found = now[at..].iter().position(|l| *l == line);
            assert!(found.is_some(), "{file}: no longer printed in order: {line:?}\n{text}");
            at += found.unwrap_or(0) + 1;
        }
    }
}

/// A student's first lab: the default lab downloads at most 2.5 GB in all (the boot ISO, Spark,
/// and the packages its network install fetches, once for the base); from the DVD it is about
/// 13 GB, and the dry run says so.
#[test]
fn the_default_lab_states_its_downloads_and_they_are_small() {
    let text = include_str!("../../labs/spark.yaml");
    let total = |l: &Lab| downloads(l).iter().map(|d| d.mib).sum::<u64>() * 1_048_576 / 1_000_000;
    let net = lab(text);
    let list = downloads(&net);
    assert!(list.iter().any(|d| !d.by_host && d.from.starts_with("https://mirror.stream.centos.org/9-stream/BaseOS/")), "{list:?}");
    assert!(list.iter().any(|d| d.by_host && d.from.ends_with("-boot.iso")), "{list:?}");
    assert!(total(&net) <= 2500, "{} MB: {list:?}", total(&net));
    let printed = render_downloads(&list);
    assert!(
        printed.ends_with(&format!(
            "(host {} MB, network install {} MB)",
            list.iter().filter(|d| d.by_host).map(|d| d.mib).sum::<u64>() * 1_048_576 / 1_000_000,
            list.iter().filter(|d| !d.by_host).map(|d| d.mib).sum::<u64>() * 1_048_576 / 1_000_000
        )),
        "{printed}"
    );
    let dvd = lab(&text.replace("# offline: true", "offline: true"));
    assert!(total(&dvd) > 10_000, "the DVD is about 12 GB");
    assert!(downloads(&dvd).iter().all(|d| d.by_host), "an offline install fetches nothing in the VM");
    // Per node, each install fetches its packages.
    let per_node = lab(&text.replace("install: base", "install: per-node"));
    let vm: u64 = downloads(&per_node).iter().filter(|d| !d.by_host).map(|d| d.mib).sum();
    assert_eq!(vm, 3 * downloads(&net).iter().filter(|d| !d.by_host).map(|d| d.mib).sum::<u64>());
}

/// A qemu lab downloads the cloud image (not the ISO), once, and `lab fetch` fetches it.
#[test]
fn a_qemu_lab_downloads_its_cloud_image_and_no_iso() {
    let text = include_str!("../../labs/qemu.yaml");
    let l = lab(text);
    let kinds: Vec<ArtifactKind> = artifacts(&l).iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds.first(), Some(&ArtifactKind::Image), "{kinds:?}");
    assert!(!kinds.contains(&ArtifactKind::Iso), "{kinds:?}");
    let list = downloads(&l);
    let image = list.iter().find(|d| d.from.ends_with(".qcow2")).unwrap_or_else(|| panic!("{list:?}"));
    assert!(image.by_host && image.mib > 300 && image.what.contains("cloud image"), "{image:?}");
    assert!(list.iter().all(|d| d.by_host && !d.from.ends_with(".iso")), "nothing is installed over the network: {list:?}");
}
