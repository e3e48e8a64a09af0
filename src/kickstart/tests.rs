use std::path::Path;

use super::*;
use crate::spec::{HostFacts, parse};

const CLIENT: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF1olcpEunI8nEDHJEIHO/HTJABkd8bHFecSIjIDX2RJ lab-spark";
const HOST_PUB: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOCch6LldDJRBN335LAX0NYYW1gySJU1QV8goN7W9hRL node1@lab-spark";
const HOST_PRIV: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";

fn lab(text: &str) -> Lab {
    parse(Path::new("lab.yaml"), text, &HostFacts::default()).expect("valid")
}

fn spark_lab() -> Lab {
    lab(include_str!("../../labs/spark.yaml"))
}

fn render_node(l: &Lab, node: &str) -> Result<String, String> {
    let n = l.node(node).expect("node").clone();
    render_with(l, &n, CLIENT, HOST_PRIV, HOST_PUB)
}

#[test]
fn el9_kickstart_carries_the_node_identity() {
    let ks = render_node(&spark_lab(), "node1").expect("renders");
    assert!(ks.starts_with("#version=RHEL9\n"), "{ks}");
    assert!(ks.contains("network --hostname=node1\n"));
    assert!(ks.contains("--bootproto=static --ip=192.168.56.11 --netmask=255.255.255.0 --nodefroute"));
    assert!(ks.contains(&format!("sshkey --username=spark \"{CLIENT}\"")));
    assert!(ks.contains("rootpw --lock\n"));
    assert!(ks.contains("\npoweroff\n"));
    assert!(ks.contains("192.168.56.12   node2\n"));
    assert!(ks.contains(HOST_PRIV));
    assert!(ks.contains("firewall-offline-cmd --new-zone=lab\n"), "{ks}");
    assert!(ks.contains("firewall-offline-cmd --zone=lab --add-source=192.168.56.1 --add-source=192.168.56.10 --add-source=192.168.56.11 --add-source=192.168.56.12 --add-port=22/tcp --add-port=7078/tcp --add-port=7200-7216/tcp --add-port=8081/tcp\n"), "{ks}");
    assert!(!ks.contains("trusted"), "{ks}");
    // The default lab installs over the network, and its Java (a package) with the OS.
    assert!(ks.contains("\nurl --url=https://mirror.stream.centos.org/9-stream/BaseOS/x86_64/os/\n"), "{ks}");
    assert!(ks.contains("\nrepo --name=AppStream --baseurl=https://mirror.stream.centos.org/9-stream/AppStream/x86_64/os/\n"), "{ks}");
    assert!(!ks.contains("\ncdrom\n"), "{ks}");
    assert!(ks.contains("\njava-21-openjdk-devel\n"), "{ks}");
    let offline = lab(&include_str!("../../labs/spark.yaml").replace("# offline: true", "offline: true"));
    let dvd = render_node(&offline, "node1").expect("renders");
    assert!(dvd.contains("\ncdrom\n") && !dvd.contains("\nurl ") && !dvd.contains("\nrepo "), "{dvd}");
    // CentOS Stream 10 installs over the network too, from its own tree.
    let ten = lab(&include_str!("../../labs/spark.yaml").replace("image: centos-stream-9", "image: centos-stream-10"));
    let ks = render_node(&ten, "node1").expect("renders");
    assert!(ks.starts_with("#version=RHEL10\n"), "{ks}");
    assert!(ks.contains("\nurl --url=https://mirror.stream.centos.org/10-stream/BaseOS/x86_64/os/\n"), "{ks}");
    assert!(ks.contains("\nrepo --name=AppStream --baseurl=https://mirror.stream.centos.org/10-stream/AppStream/x86_64/os/\n"), "{ks}");
    assert!(ten.image.as_ref().is_some_and(|i| i.iso.url.ends_with("CentOS-Stream-10-latest-x86_64-boot.iso")), "{:?}", ten.image);
}

#[test]
fn el7_writes_authorized_keys_and_leaves_package_java_to_provisioning() {
    let text = include_str!("../../labs/course-2018.yaml").replace("  install: tarball", "  install: package");
    let text: String = text.lines().filter(|l| !l.starts_with("  url: https://github.com") && !l.starts_with("  sha256:")).collect::<Vec<_>>().join("\n");
    let ks = render_node(&lab(&text), "master").expect("renders");
    assert!(ks.starts_with("#version=RHEL7\n"));
    assert!(!ks.contains("\nsshkey "));
    assert!(ks.contains("/home/spark/.ssh/authorized_keys"));
    // CentOS 7's Minimal ISO carries no JDK: asking for one would stop the install.
    assert!(!ks.contains("openjdk"), "{ks}");
    assert!(ks.contains("%packages\n") && !ks.contains("--ignoremissing"), "{ks}");
}

/// A package the ISO lacks stops the install with its name: no `--ignoremissing`, a `%post`
/// check of every package, and the installer's words on the serial port.
#[test]
fn kickstarts_fail_fast_and_report_on_the_serial_port() {
    let lab = spark_lab();
    let ks = render_node(&lab, "master").expect("renders");
    assert!(!ks.contains("--ignoremissing"));
    assert!(ks.contains("for p in openssh-server tar which procps-ng java-21-openjdk-devel; do"), "{ks}");
    assert!(ks.contains("%onerror\n") && ks.contains("> \"$t\"") && ks.contains("/tmp/packaging.log"), "{ks}");
    let base = render_base(&lab).expect("base");
    assert!(base.contains("\ncloud-init\n") && base.contains("services --enabled=sshd\n") && !base.contains("cloud-init-local"), "{base}");
    let mut rocky = lab.clone();
    rocky.image = crate::spec::images::find("rocky-9", crate::spec::Arch::X86_64).ok();
    assert!(render_base(&rocky).is_err_and(|e| e.contains("cloud-init")));
    assert!(!render_node(&rocky, "master").expect("rocky").contains("openjdk"), "the minimal ISO has no JDK");
}

#[test]
fn el10_differs_from_el9_only_in_its_header() {
    // Both from their DVDs, as the catalog has them (`find`); a lab takes the network install.
    let mut el9 = spark_lab();
    el9.image = crate::spec::images::find("centos-stream-9", crate::spec::Arch::X86_64).ok();
    let mut el10 = el9.clone();
    el10.image = crate::spec::images::find("centos-stream-10", crate::spec::Arch::X86_64).ok();
    let (a, b) = (render_node(&el9, "master").expect("el9"), render_node(&el10, "master").expect("el10"));
    assert!(b.starts_with("#version=RHEL10\n"));
    assert_eq!(a.replace("RHEL9", "").replace("CentOS Stream 9", ""), b.replace("RHEL10", "").replace("CentOS Stream 10", ""));
}

#[test]
fn same_input_same_output() {
    let l = spark_lab();
    assert_eq!(render_node(&l, "master"), render_node(&l, "master"));
}

#[test]
fn hostile_values_are_refused_even_past_validation() {
    let good = spark_lab();
    let mut l = good.clone();
    l.nodes[1].name = "node1\n%post\nreboot".into();
    assert!(render_node(&l, "node1\n%post\nreboot").is_err());
    let mut l = good.clone();
    l.user = "spark\nrootpw --plaintext x".into();
    assert!(render_node(&l, "master").is_err());
    let mut l = good.clone();
    l.locale.timezone = "UTC\n%post".into();
    assert!(render_node(&l, "master").is_err());
    let n = good.node("master").expect("master").clone();
    assert!(render_with(&good, &n, "ssh-ed25519 AAAA x\n%post", HOST_PRIV, HOST_PUB).is_err());
    assert!(render_with(&good, &n, "ssh-ed25519 AAAA $(reboot)", HOST_PRIV, HOST_PUB).is_err());
    assert!(render_with(&good, &n, CLIENT, "-----BEGIN OPENSSH PRIVATE KEY-----\nLAB_EOF_HOSTKEY\nreboot", HOST_PUB).is_err());
}

#[test]
fn no_kickstart_without_an_image() {
    let l = lab(include_str!("../../labs/sandbox.yaml"));
    assert!(render_node(&l, "master").is_err());
}

#[test]
fn printed_kickstarts_hide_the_private_host_key() {
    let ks = render_node(&spark_lab(), "node1").expect("renders");
    let shown = redact(&ks);
    assert!(!shown.contains("b3BlbnNzaC1rZXktdjEAAAAA"), "{shown}");
    assert!(shown.contains("--show-secrets"));
    assert!(shown.contains(HOST_PUB), "the public key stays");
}

#[test]
fn the_base_kickstart_holds_nothing_of_a_lab_or_node() {
    let l = spark_lab();
    let ks = render_base(&l).expect("renders");
    assert!(ks.starts_with("#version=RHEL9\n"), "{ks}");
    assert!(ks.contains("\ncloud-init\n"));
    assert!(ks.contains("datasource_list: [NoCloud, None]"));
    assert!(ks.contains("\npoweroff\n"));
    for other in ["spark", "node1", "master", "192.168.56", "sshkey", "user --name"] {
        assert!(!ks.to_lowercase().contains(other), "the base kickstart names {other:?}:\n{ks}");
    }
    let mut el7 = l.clone();
    el7.image = crate::spec::images::find("centos-7", crate::spec::Arch::X86_64).ok();
    assert!(render_base(&el7).is_err_and(|e| e.contains("per-node")));
}
