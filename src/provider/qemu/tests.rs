use super::*;
use crate::spec::{HostFacts, parse};

#[test]
fn off_the_lab_network_ssh_goes_to_the_recorded_forward_and_the_uis_through_ssh() {
    let dir = tempfile::tempdir().expect("tmp");
    let lab = parse(&dir.path().join("lab.yaml"), include_str!("../../../labs/qemu.yaml"), &HostFacts::default()).expect("valid");
    let sd = StateDir::for_lab(&lab);
    let q = Qemu::new();
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
