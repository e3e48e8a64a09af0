//! Each state of a node's VM, from `showvminfo --machinereadable` as VirtualBox 7.0 prints it
//! (lines lab does not read left out), and what lab decides.

use std::path::PathBuf;

use super::*;
use crate::provider::virtualbox::driver::parse_vminfo;

const MARK: &str = "lab:3f1c2a9b8d7e6f50 /srv/course/.lab/spark";
const UUID: &str = "5b7e0f3c-1d2e-4f60-8a9b-0c1d2e3f4a5b";
const DISK: &str = "/srv/course/.lab/spark/vms/lab-spark/lab-spark-node1/lab-spark-node1.vdi";
const ISO: &str = "/home/ana/.cache/lab/CentOS-Stream-9-latest-x86_64-boot.iso";
const OEMDRV: &str = "/srv/course/.lab/spark/nodes/node1/oemdrv.iso";
const SEED: &str = "/srv/course/.lab/spark/nodes/node1/seed-cidata.iso";

/// A VM's `showvminfo`: the state, the three SATA ports, NIC2's interface and the boot order.
fn shown(state: &str, ports: [&str; 3], nic2: &str, boot1: &str, description: &str) -> String {
    format!(
        "name=\"lab-spark-node1\"\nEncryption:     disabled\ngroups=\"/lab-spark\"\nostype=\"Red Hat (64-bit)\"\nUUID=\"{UUID}\"\n\
         CfgFile=\"/srv/course/.lab/spark/vms/lab-spark/lab-spark-node1/lab-spark-node1.vbox\"\ndescription=\"{description}\"\n\
         memory=2048\ncpus=2\nboot1=\"{boot1}\"\nboot2=\"dvd\"\nVMState=\"{state}\"\nVMStateChangeTime=\"2026-12-07T08:01:02.000000000\"\n\
         storagecontrollername0=\"SATA\"\nstoragecontrollertype0=\"IntelAhci\"\nstoragecontrollerportcount0=\"3\"\n\
         \"SATA-0-0\"=\"{}\"\n\"SATA-1-0\"=\"{}\"\n\"SATA-2-0\"=\"{}\"\n\
         nic1=\"nat\"\nmacaddress1=\"0800273A1B2C\"\nnic2=\"hostonly\"\nhostonlyadapter2=\"{nic2}\"\nmacaddress2=\"0800274D5E6F\"\nuart1=\"off\"\n",
        ports[0], ports[1], ports[2]
    )
}

fn want(made: Made) -> Want {
    Want {
        vm: "lab-spark-node1".into(),
        made,
        disk: PathBuf::from(DISK),
        seed: PathBuf::from(if made == Made::Base { SEED } else { OEMDRV }),
        seed_on_disk: true,
        iso: Some(PathBuf::from(ISO)),
        hostonly: Some("vboxnet0".into()),
    }
}

fn record(made: Made, booted: bool) -> VmRecord {
    VmRecord { name: "lab-spark-node1".into(), uuid: UUID.into(), made, macs: None, booted }
}

fn seen(text: &str, marked: bool, rec: Option<&VmRecord>, w: &Want) -> Seen {
    observe(Some(&parse_vminfo(text)), marked, rec, w)
}

#[test]
fn missing_foreign_and_made_the_other_way() {
    let w = want(Made::PerNode);
    assert_eq!(observe(None, false, None, &w), Seen::Missing);
    assert_eq!(decide(&Seen::Missing, &w, false), Ok(Decision::Create("VM lab-spark-node1 does not exist".into())));
    // Someone's VM of that name: no mark, another UUID.
    let theirs = shown("running", [DISK, "emptydrive", "emptydrive"], "vboxnet0", "disk", "my own VM");
    let other = VmRecord { uuid: "00000000-0000-4000-8000-000000000000".into(), ..record(Made::PerNode, false) };
    assert_eq!(seen(&theirs, false, Some(&other), &w), Seen::Foreign);
    assert_eq!(decide(&Seen::Foreign, &w, true), Err(Refusal::Foreign), "--recreate never takes someone else's VM");
    // Lab's by the UUID it recorded even when the mark was never written.
    assert_ne!(seen(&theirs, false, Some(&record(Made::PerNode, false)), &w), Seen::Foreign);
    // A clone where the lab file now says per-node.
    let clone = shown("poweroff", [DISK, SEED, "none"], "vboxnet0", "disk", MARK);
    assert_eq!(seen(&clone, true, Some(&record(Made::Base, true)), &w), Seen::OtherWay(Made::Base));
}

#[test]
fn an_install_from_the_iso_pending_failed_half_made_and_done() {
    let w = want(Made::PerNode);
    let rec = record(Made::PerNode, false);
    // Discs attached, installing: whole (the install step watches it).
    let installing = shown("running", [DISK, ISO, OEMDRV], "vboxnet0", "dvd", MARK);
    assert_eq!(seen(&installing, true, Some(&rec), &w), Seen::Whole { stale_nic: None });
    let info = parse_vminfo(&installing);
    assert_eq!(install_needed(&info, &w.disk, &w.seed), Some("the OS is not installed yet (install discs attached, VM running)".into()));
    // The installer crashed the VM: made again, saying so.
    let aborted = shown("aborted", [DISK, ISO, OEMDRV], "vboxnet0", "dvd", MARK);
    let s = seen(&aborted, true, Some(&rec), &w);
    assert_eq!(s, Seen::Incomplete { why: "its install failed (aborted)".into(), finished: false });
    assert_eq!(decide(&s, &w, false), Ok(Decision::Remake("VM lab-spark-node1 is incomplete (its install failed (aborted))".into())));
    // Created, killed before its discs were attached.
    let bare = shown("poweroff", [DISK, "none", "none"], "vboxnet0", "dvd", "");
    assert!(matches!(seen(&bare, false, Some(&rec), &w), Seen::Incomplete { finished: false, .. }));
    // Installed: both drives emptied, boots from disk.
    let done = shown("poweroff", [DISK, "emptydrive", "emptydrive"], "vboxnet0", "disk", MARK);
    assert_eq!(seen(&done, true, Some(&rec), &w), Seen::Whole { stale_nic: None });
    assert_eq!(install_needed(&parse_vminfo(&done), &w.disk, &w.seed), None);
    // Installed, killed while the second drive was being emptied.
    let half_ejected = shown("poweroff", [DISK, "emptydrive", OEMDRV], "vboxnet0", "dvd", MARK);
    assert_eq!(install_needed(&parse_vminfo(&half_ejected), &w.disk, &w.seed), Some("the install ended; a DVD drive still holds its disc".into()));
}

#[test]
fn an_installed_vm_that_changed_is_never_deleted_unless_asked() {
    let w = want(Made::PerNode);
    // Its description changed by hand after its install: lab stops.
    let changed = shown("poweroff", [DISK, "emptydrive", "emptydrive"], "vboxnet0", "disk", "my notes");
    let s = seen(&changed, false, Some(&record(Made::PerNode, true)), &w);
    assert!(matches!(&s, Seen::Incomplete { finished: true, why } if why.contains("description")), "{s:?}");
    assert!(matches!(decide(&s, &w, false), Err(Refusal::Changed(_))));
    // `--recreate node1`: the user said so.
    assert_eq!(decide(&s, &w, true), Ok(Decision::Remake("--recreate asks for it".into())));
}

#[test]
fn a_clone_whole_without_its_seed_and_on_an_old_network() {
    let w = want(Made::Base);
    let rec = record(Made::Base, false);
    let clone_disk = "/srv/course/.lab/spark/vms/lab-spark/lab-spark-node1/Snapshots/{0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0}.vdi";
    let whole = shown("running", [clone_disk, SEED, "none"], "vboxnet0", "disk", MARK);
    assert_eq!(seen(&whole, true, Some(&rec), &w), Seen::Whole { stale_nic: None });
    assert_eq!(decide(&seen(&whole, true, Some(&rec), &w), &w, false), Ok(Decision::Keep));
    let no_seed = shown("poweroff", [clone_disk, "emptydrive", "none"], "vboxnet0", "disk", MARK);
    assert_eq!(seen(&no_seed, true, Some(&rec), &w), Seen::Incomplete { why: "its seed disc is not attached".into(), finished: false });
    let gone = Want { seed_on_disk: false, ..w.clone() };
    assert!(matches!(seen(&whole, true, Some(&rec), &gone), Seen::Incomplete { .. }), "a seed file deleted from .lab/");
    let no_disk = shown("poweroff", ["none", SEED, "none"], "vboxnet0", "disk", MARK);
    assert_eq!(seen(&no_disk, true, Some(&record(Made::Base, true)), &w), Seen::Incomplete { why: "it has no disk".into(), finished: true });
    // The host-only interface was made anew under another name while the VM was off.
    let moved = shown("poweroff", [clone_disk, SEED, "none"], "vboxnet1", "disk", MARK);
    let s = seen(&moved, true, Some(&rec), &w);
    assert_eq!(s, Seen::Whole { stale_nic: Some("vboxnet1".into()) });
    assert_eq!(decide(&s, &w, false), Ok(Decision::Reconnect("its host-only NIC is on vboxnet1, the lab's network is vboxnet0".into())));
    // A running VM's NIC is not changed under it.
    let running = shown("running", [clone_disk, SEED, "none"], "vboxnet1", "disk", MARK);
    assert_eq!(seen(&running, true, Some(&rec), &w), Seen::Whole { stale_nic: None });
}

#[test]
fn a_vm_runs_once_lab_saw_it_answer_as_its_node() {
    for (state, booted, needed) in [
        ("poweroff", true, Some("VM lab-spark-node1 is poweroff")),
        ("saved", true, Some("VM lab-spark-node1 is saved")),
        ("running", false, Some("VM lab-spark-node1 runs; lab has not yet seen it answer SSH as its node")),
        ("running", true, None),
    ] {
        let info = parse_vminfo(&shown(state, [DISK, "emptydrive", "emptydrive"], "vboxnet0", "disk", MARK));
        assert_eq!(run_needed(&info, booted).as_deref(), needed, "{state}");
    }
}
