//! Each VirtualBox step's check against the in-process VBoxManage: what it finds needed, and
//! why, before anything is changed; satisfied once applied.

use super::*;
use crate::provider::virtualbox::steps::{base_image, hostonly_network, iso_downloaded, network_released, vm_halted, vm_running};

fn needed(cx: &Cx<'_>, step: &dyn Step) -> String {
    match step.check(cx).expect("check") {
        Check::Needed(why) => why,
        other => panic!("{} was {other:?}", step.head().id),
    }
}

#[test]
fn the_host_only_step_says_what_it_misses_and_is_satisfied_once_made() {
    let w = world();
    let cx = w.cx();
    let step = hostonly_network::step(&w.vb, &w.lab);
    assert_eq!(needed(&cx, step.as_ref()), "no host-only interface holds 192.168.56.1/255.255.255.0");
    assert_eq!(w.fake.calls("hostonlyif create"), 0, "the check changed nothing");
    assert_eq!(step.apply(&cx).expect("apply"), Outcome::Applied);
    assert_eq!(step.check(&cx).expect("check"), Check::Satisfied);
    // Someone's DHCP server turned on again on the interface.
    w.fake.world.lock().expect("lock").hostonly[0].3 = true;
    assert!(needed(&cx, step.as_ref()).contains("its DHCP server is on"));
    // Someone's interface already holding the address is used as it is.
    let w = world();
    let cx = w.cx();
    w.fake.world.lock().expect("lock").hostonly.push(("vboxnet7".into(), "192.168.56.1".into(), "255.255.255.0".into(), false));
    assert_eq!(hostonly_network::step(&w.vb, &w.lab).check(&cx).expect("check"), Check::Satisfied);
}

#[test]
fn the_running_and_halted_steps_read_the_vm_s_state_and_lab_s_records() {
    let w = world();
    installed(&w);
    let cx = w.cx();
    let running = vm_running::step(&w.vb, w.master(), false);
    assert_eq!(needed(&cx, running.as_ref()), "VM lab-spark-master is poweroff");
    let halted = vm_halted::step(&w.vb, w.master());
    assert_eq!(halted.check(&cx).expect("check"), Check::Satisfied);
    w.vb.driver().expect("d").start("lab-spark-master").expect("start");
    assert_eq!(needed(&cx, halted.as_ref()), "VM lab-spark-master is running");
    assert_eq!(running.check(&cx).expect("check"), Check::Satisfied, "running, and booted as lab's node before");
    booted(&w, false);
    assert_eq!(needed(&cx, running.as_ref()), "VM lab-spark-master runs; lab has not yet seen it answer SSH as its node");
}

#[test]
fn destroy_s_network_step_says_what_lab_still_holds() {
    let w = world();
    let cx = w.cx();
    w.vb.ensure_hostonly(&cx).expect("hostonly");
    let state = w.sd.load().expect("load");
    let step = network_released::step(&w.vb, state.as_ref());
    assert_eq!(needed(&cx, step.as_ref()), "the host-only interface lab made, vboxnet0, is still there");
    assert_eq!(step.apply(&cx).expect("apply"), Outcome::Applied);
    assert_eq!(step.check(&cx).expect("check"), Check::Satisfied, "a second destroy has nothing to do");
    assert!(w.fake.world.lock().expect("lock").hostonly.is_empty());
}

#[test]
fn the_base_step_needs_a_base_this_computer_lacks() {
    let w = world();
    let cx = w.cx();
    let spec = base::spec(&w.lab).expect("spec");
    let step = base_image::step(&w.vb, &spec);
    assert_eq!(needed(&cx, step.as_ref()), format!("base {} does not exist on this computer", spec.name));
    assert_eq!(w.fake.calls("createvm"), 0, "the check made nothing");
}

#[test]
fn the_removal_step_needs_a_vm_that_exists_and_not_one_that_is_gone() {
    let w = world();
    installed(&w);
    let cx = w.cx();
    let state = w.sd.load().expect("load");
    let plan = w.vb.destroy(&w.lab, &w.sd, state.as_ref()).expect("plan");
    let removed = plan.iter().find(|s| s.head().id == "removed").expect("the VM's removal");
    assert_eq!(needed(&cx, removed.as_ref()), "VM lab-spark-master exists");
    assert_eq!(removed.apply(&cx).expect("apply"), Outcome::Applied);
    assert_eq!(removed.check(&cx).expect("check"), Check::Satisfied);
}

#[test]
fn the_snapshot_steps_need_what_the_vm_lacks_or_has() {
    let w = world();
    installed(&w);
    let cx = w.cx();
    let snaps: &dyn crate::provider::Snapshots = &w.vb;
    fn master<'a>(steps: crate::steps::Steps<'a>, nodes: usize) -> Box<dyn Step + 'a> {
        assert_eq!(steps.len(), nodes, "one step per node's VM");
        steps.into_iter().find(|s| s.head().target.node() == Some("master")).expect("the master's")
    }
    let n = w.lab.nodes.len();
    let save = master(snaps.save(&w.lab, "clean", false).expect("plan"), n);
    assert_eq!(needed(&cx, save.as_ref()), "no such snapshot yet");
    assert_eq!(save.apply(&cx).expect("take"), Outcome::Applied);
    assert_eq!(save.check(&cx).expect("check"), Check::Satisfied, "taken once");
    let restore = master(snaps.restore(&w.lab, "clean").expect("plan"), n);
    assert!(needed(&cx, restore.as_ref()).contains("whatever they hold now"));
    let delete = master(snaps.delete(&w.lab, "clean").expect("plan"), n);
    assert_eq!(needed(&cx, delete.as_ref()), "the snapshot exists");
    assert_eq!(delete.apply(&cx).expect("delete"), Outcome::Applied);
    assert_eq!(delete.check(&cx).expect("check"), Check::Satisfied);
}

#[test]
fn the_iso_is_not_needed_once_the_base_is_ready() {
    let w = world();
    let cx = w.cx();
    let spec = base::spec(&w.lab).expect("spec");
    let img = w.lab.image.clone().expect("image");
    let step = iso_downloaded::step(&w.vb, &img, true);
    // No base here: the downloader looks at the cache as it goes.
    assert_eq!(step.check(&cx).expect("check"), Check::InApply);
    let d = w.vb.driver().expect("d");
    d.create_vm(&spec.name, "22222222-2222-4333-8444-555555555555", "/lab-bases", "RedHat_64", &base::root(), driver::Arch::X86_64).expect("base vm");
    let mut hw = w.vb.hardware(&cx, w.master()).expect("hw");
    hw.description = base::mark(&spec.fingerprint);
    d.configure(&spec.name, &hw).expect("mark");
    d.take_snapshot(&spec.name, base::SNAPSHOT, "installed", false).expect("snapshot");
    assert_eq!(step.check(&cx).expect("check"), Check::Satisfied);
    assert_eq!(
        base_image::step(&w.vb, &spec).check(&cx).expect("check"),
        Check::Needed(format!("base {} is ready; this lab is not yet listed among its users", spec.name))
    );
}
