use super::*;
use crate::spec::{HostFacts, parse};
use crate::state::Keys;

/// The qemu template's lab in a folder of its own, its state folder made.
fn world() -> (tempfile::TempDir, Lab, StateDir, Qemu) {
    let dir = tempfile::tempdir().expect("tmp");
    let lab = parse(&dir.path().join("lab.yaml"), include_str!("../../../labs/qemu.yaml"), &HostFacts::default()).expect("valid");
    let sd = StateDir::for_lab(&lab);
    sd.ensure_client_key(&lab).expect("the state folder");
    (dir, lab, sd, Qemu::new())
}

#[test]
fn off_the_lab_network_ssh_goes_to_the_recorded_forward_and_the_uis_through_ssh() {
    let (_dir, lab, sd, q) = world();
    let keys = Keys { client: sd.ensure_client_key(&lab).expect("key"), hosts: sd.ensure_host_keys(&lab).expect("host keys") };
    let rec = |ssh_port| files::VmRecord { instance: "i".into(), image: "d".into(), booted: true, up: true, ssh_port };
    files::Records::update(&sd, |r| {
        r.net = Some(net::Net::Switch);
        r.vms.insert("master".into(), rec(Some(40022)));
        r.vms.insert("node1".into(), rec(None));
    })
    .expect("records");
    let master = q.target(&lab, &sd, &keys, lab.master()).expect("target");
    assert_eq!(master.addr, SocketAddr::from((Ipv4Addr::LOCALHOST, 40022)));
    assert_eq!(master.host_keys, keys.hosts["master"].keys, "the pinned key, wherever the node is reached");
    let node1 = lab.node("node1").expect("node1");
    assert_eq!(q.target(&lab, &sd, &keys, node1).expect("target").addr, SocketAddr::from((node1.ip, 22)));
    assert!(!q.reaches_nodes(&lab, &sd), "on lab's switch this computer is off the lab network");
    files::Records::update(&sd, |r| r.net = Some(net::Net::Bridge)).expect("records");
    assert!(q.reaches_nodes(&lab, &sd), "a bridge puts this computer on it");
}

/// A node whose QEMU ended without lab (no process, its record still `up`): `lab halt` notes it
/// halted, so `lab status` stops calling it a crash; the switch's step then ends nothing.
#[test]
fn halting_a_node_whose_qemu_died_notes_it_halted() {
    let (_dir, lab, sd, q) = world();
    // (Decided here, so no KVM probe runs: the test needs no QEMU.)
    q.accel.set(accel::Choice { accel: argv::Accel::Tcg, why: "the test says so".into() });
    files::Records::update(&sd, |r| {
        r.vms.insert("master".into(), files::VmRecord { instance: "i".into(), image: "d".into(), booted: true, up: true, ssh_port: Some(40022) });
    })
    .expect("records");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let steps = q.halt(&lab);
    let cx = crate::steps::Cx::new(&lab, &sd, &q, &crate::ui::Silent, rt.handle().clone(), crate::steps::Options::default(), &steps).expect("cx");
    let master = steps.iter().find(|s| s.head().target.node() == Some("master")).expect("the master's step");
    assert_eq!(master.check(&cx).expect("check"), crate::steps::Check::Needed(files::DIED.into()));
    crate::runner::run(&cx, &steps).expect("halt");
    assert!(!files::Records::up(&sd, "master"), "still recorded as running");
    let m = q.status(&lab, &sd).expect("status").into_iter().find(|m| m.node == "master").expect("master");
    assert_eq!(m.note, None, "{m:?}");
    assert!(steps.iter().all(|s| s.check(&cx).is_ok_and(|c| c == crate::steps::Check::Satisfied)), "a second halt has something to do");
}
