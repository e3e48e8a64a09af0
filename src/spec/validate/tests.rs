//! One test per validation rule: a valid lab, changed in one place, must fail naming the field.

use std::path::Path;

use crate::spec::{Diagnostic, HostFacts, Lab, ProviderKind, Role, Version, parse};

const BASE: &str = "\
name: t
provider: virtualbox
image: centos-stream-9
network:
  cidr: 192.168.56.0/24
  host: 192.168.56.1
user: spark
nodes:
  - name: master
    role: master
    ip: 192.168.56.10
  - name: node1
    role: worker
    ip: 192.168.56.11
java:
  version: 17
  install: package
spark:
  version: 3.5.8
  url: https://archive.apache.org/dist/spark/spark-3.5.8/spark-3.5.8-bin-hadoop3.tgz
  checksum_url: https://archive.apache.org/dist/spark/spark-3.5.8/spark-3.5.8-bin-hadoop3.tgz.sha512
";

fn ok(text: &str) -> Lab {
    parse(Path::new("lab.yaml"), text, &HostFacts::default()).unwrap_or_else(|d| panic!("expected valid, got {d:#?}"))
}

fn errs_with(text: &str, facts: &HostFacts) -> Vec<Diagnostic> {
    match parse(Path::new("lab.yaml"), text, facts) {
        Ok(_) => panic!("expected problems in:\n{text}"),
        Err(d) => d,
    }
}

fn errs(text: &str) -> Vec<Diagnostic> {
    errs_with(text, &HostFacts::default())
}

/// Asserts one of the problems is at `field` on `line` and mentions `words`; every problem must
/// carry a hint.
fn has(diags: &[Diagnostic], field: &str, line: usize, words: &str) {
    assert!(diags.iter().all(|d| d.hint.is_some()), "a problem without a hint: {diags:?}");
    assert!(
        diags.iter().any(|d| d.path.to_string() == field && d.pos.line == line && d.message.contains(words)),
        "no problem at {field} line {line} containing {words:?} in:\n{}",
        diags.iter().map(|d| format!("  {}:{} {} {} [{:?}]", d.pos.line, d.pos.col, d.path, d.message, d.hint)).collect::<Vec<_>>().join("\n")
    );
}

fn replace(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replacen(from, to, 1)
}

#[test]
fn base_is_valid_with_defaults() {
    let lab = ok(BASE);
    assert_eq!(lab.provider, ProviderKind::Virtualbox);
    assert_eq!(lab.nodes.len(), 2);
    assert_eq!(lab.nodes[0].cpus, 2);
    assert_eq!(lab.nodes[0].memory_mib, 2048);
    assert_eq!(lab.locale.timezone, "Etc/UTC");
    assert!(lab.verify.spark_shell);
    assert_eq!(lab.spark.version, Version(3, 5, 8));
    assert!(!crate::spark::uses_slaves_file(lab.spark.version));
}

#[test]
fn yaml_syntax_error_has_its_line() {
    let d = errs(&replace("  host: 192.168.56.1", "  host: [192.168.56.1"));
    assert_eq!(d.len(), 1);
    assert!(d[0].message.starts_with("YAML syntax"), "{d:?}");
    assert!(d[0].pos.line >= 6, "{d:?}");
}

#[test]
fn empty_file() {
    has(&errs(""), "(top level)", 1, "empty");
}

#[test]
fn unknown_top_level_field_with_suggestion() {
    let d = errs(&format!("{BASE}workerz: 2\n"));
    has(&d, "workerz", 22, "unknown field");
    assert!(d[0].hint.as_deref().unwrap_or("").contains("workers"), "{d:?}");
}

#[test]
fn unknown_nested_field() {
    has(&errs(&replace("    ip: 192.168.56.11", "    ip: 192.168.56.11\n    cpu: 2")), "nodes[1].cpu", 15, "unknown field");
}

#[test]
fn missing_required_fields() {
    has(&errs(&replace("name: t\n", "")), "name", 1, "missing field");
    let d = errs(&replace("    role: worker\n", ""));
    has(&d, "nodes[1]", 12, "missing field `role`");
    let no_java = BASE.split("java:").next().unwrap_or("").to_string() + "spark:" + BASE.split("spark:").nth(1).unwrap_or("");
    has(&errs(&no_java), "java", 1, "missing field");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = replace("name: t", "name: T_").replacen("    ip: 192.168.56.11", "    ip: 192.168.99.11", 1).replacen("  version: 17", "  version: 7", 1);
    let d = errs(&text);
    has(&d, "name", 1, "lowercase");
    has(&d, "nodes[1].ip", 14, "outside");
    has(&d, "java.version", 16, "not a version");
    // Sorted by position.
    assert!(d.windows(2).all(|w| w[0].pos <= w[1].pos));
}

#[test]
fn wrong_types() {
    has(&errs(&replace("  version: 17", "  version: seventeen")), "java.version", 16, "invalid type");
    let d = errs(&replace("  version: 3.5.8", "  version: 3.5"));
    has(&d, "spark.version", 19, "invalid type");
    assert!(d[0].hint.as_deref().unwrap_or("").contains("quote"), "{d:?}");
    has(&errs(&replace("    role: worker", "    role: slave")), "nodes[1].role", 13, "unknown variant");
    has(&errs(&replace("provider: virtualbox", "provider: docker")), "provider", 2, "unknown variant");
    has(&errs(&replace("nodes:\n  - name: master", "nodes: 3\nx:\n  - name: master")), "nodes", 8, "expected a list");
}

#[test]
fn duplicate_node_names_and_addresses() {
    has(&errs(&replace("  - name: node1", "  - name: master")), "nodes[1].name", 12, "duplicate node name");
    has(&errs(&replace("    ip: 192.168.56.11", "    ip: 192.168.56.10")), "nodes[1].ip", 14, "duplicate address");
}

#[test]
fn exactly_one_master_and_a_worker() {
    has(&errs(&replace("    role: worker", "    role: master")), "nodes", 8, "2 nodes have `role: master`");
    has(&errs(&replace("    role: master", "    role: worker")), "nodes", 8, "no node has `role: master`");
    let only_master = BASE.replacen("  - name: node1\n    role: worker\n    ip: 192.168.56.11\n", "", 1);
    has(&errs(&only_master), "nodes", 8, "no node has `role: worker`");
}

#[test]
fn addresses_inside_the_network_and_not_special() {
    has(&errs(&replace("    ip: 192.168.56.11", "    ip: 192.168.57.11")), "nodes[1].ip", 14, "outside");
    has(&errs(&replace("    ip: 192.168.56.11", "    ip: 192.168.56.0")), "nodes[1].ip", 14, "network address");
    has(&errs(&replace("    ip: 192.168.56.11", "    ip: 192.168.56.255")), "nodes[1].ip", 14, "broadcast");
    has(&errs(&replace("    ip: 192.168.56.11", "    ip: 192.168.56.1")), "nodes[1].ip", 14, "host's own address");
    has(&errs(&replace("    ip: 192.168.56.11", "    ip: 192.168.56.300")), "nodes[1].ip", 14, "not an IPv4 address");
    has(&errs(&replace("  host: 192.168.56.1", "  host: 10.0.0.1")), "network.host", 6, "outside");
    has(&errs(&replace("  cidr: 192.168.56.0/24", "  cidr: 192.168.56.7/24")), "network.cidr", 5, "host bits");
    has(&errs(&replace("  cidr: 192.168.56.0/24", "  cidr: 192.168.56.0")), "network.cidr", 5, "CIDR");
}

#[test]
fn host_names_follow_rfc_1123() {
    for bad in ["Node1", "node_1", "-node", "node.lab", "\"node1\\n%post\""] {
        has(&errs(&replace("  - name: node1", &format!("  - name: {bad}"))), "nodes[1].name", 12, "");
    }
    has(&errs(&replace("name: t", "name: my_lab")), "name", 1, "lowercase");
}

#[test]
fn cpu_memory_and_disk_ranges() {
    has(&errs(&replace("    ip: 192.168.56.11", "    ip: 192.168.56.11\n    cpus: 0")), "nodes[1].cpus", 15, "out of range");
    has(&errs(&replace("    ip: 192.168.56.11", "    ip: 192.168.56.11\n    cpus: 1000")), "nodes[1].cpus", 15, "out of range");
    has(&errs(&replace("    ip: 192.168.56.11", "    ip: 192.168.56.11\n    memory: 100")), "nodes[1].memory", 15, "out of range");
    has(&errs(&replace("    ip: 192.168.56.11", "    ip: 192.168.56.11\n    memory: 1024")), "nodes[1].memory", 15, "too little");
    has(&errs(&replace("user: spark", "user: spark\ndefaults:\n  disk: 2")), "defaults.disk", 9, "out of range");
    has(&errs(&replace("    ip: 192.168.56.11", "    ip: 192.168.56.11\n    cpus: -1")), "nodes[1].cpus", 15, "invalid value");
    // The sandbox provider has no VM to install, so less memory is fine there.
    let sandbox = replace("provider: virtualbox\nimage: centos-stream-9", "provider: sandbox").replacen(
        "    ip: 192.168.56.11",
        "    ip: 192.168.56.11\n    memory: 512",
        1,
    );
    assert_eq!(ok(&sandbox).nodes[1].memory_mib, 512);
}

#[test]
fn unknown_image_and_image_outside_virtualbox() {
    let d = errs(&replace("image: centos-stream-9", "image: ubuntu-24.04"));
    has(&d, "image", 3, "unknown image");
    assert!(d[0].hint.as_deref().unwrap_or("").contains("rocky-9"), "{d:?}");
    has(&errs(&replace("provider: virtualbox", "provider: sandbox")), "image", 3, "only by the virtualbox provider");
}

#[test]
fn malformed_checksums() {
    let tarball = replace("  install: package", "  install: tarball\n  url: https://example.org/jdk.tar.gz\n  sha256: abc123");
    has(&errs(&tarball), "java.sha256", 19, "malformed sha256");
    let sha512 = replace(
        "  checksum_url: https://archive.apache.org/dist/spark/spark-3.5.8/spark-3.5.8-bin-hadoop3.tgz.sha512",
        &format!("  sha512: {}", "z".repeat(128)),
    );
    has(&errs(&sha512), "spark.sha512", 21, "not hexadecimal");
    let short = replace(
        "  checksum_url: https://archive.apache.org/dist/spark/spark-3.5.8/spark-3.5.8-bin-hadoop3.tgz.sha512",
        &format!("  sha512: {}", "a".repeat(127)),
    );
    has(&errs(&short), "spark.sha512", 21, "127 hex digits");
    // The old Apache grouped, uppercase format is accepted and normalised.
    let grouped = (0..16).map(|_| "ABCDEF01").collect::<Vec<_>>().join(" ");
    let lab =
        ok(&replace("  checksum_url: https://archive.apache.org/dist/spark/spark-3.5.8/spark-3.5.8-bin-hadoop3.tgz.sha512", &format!("  sha512: {grouped}")));
    assert!(matches!(lab.spark.artifact.checksum, crate::spec::Checksum::Pinned { ref hex, .. } if hex.len() == 128 && hex.starts_with("abcdef01")));
}

#[test]
fn checksum_is_required_and_single() {
    has(
        &errs(&replace("  checksum_url: https://archive.apache.org/dist/spark/spark-3.5.8/spark-3.5.8-bin-hadoop3.tgz.sha512\n", "")),
        "spark.sha512",
        18,
        "missing field",
    );
    let both = format!("{BASE}  sha512: {}\n", "a".repeat(128));
    has(&errs(&both), "spark.checksum_url", 21, "both");
    has(&errs(&replace("  install: package", "  install: tarball")), "java.url", 15, "missing field");
    has(&errs(&replace("  install: package", "  install: package\n  url: https://example.org/jdk.tgz")), "java.url", 18, "only with `install: tarball`");
}

#[test]
fn a_checksum_over_plain_http_is_refused_unless_it_stays_on_this_computer() {
    let plain = replace("  checksum_url: https://archive.apache.org", "  checksum_url: http://archive.apache.org");
    has(&errs(&plain), "spark.checksum_url", 21, "plain http://");
    for here in ["http://127.0.0.1:8080/s.sha512", "http://localhost/s.sha512", "http://[::1]:9/s.sha512"] {
        let text =
            replace("  checksum_url: https://archive.apache.org/dist/spark/spark-3.5.8/spark-3.5.8-bin-hadoop3.tgz.sha512", &format!("  checksum_url: {here}"));
        assert!(ok(&text).spark.artifact.url.starts_with("https://"), "{here}");
    }
    assert!(super::software::plain_http_elsewhere("http://user@127.0.0.1.example.org/x"));
    assert!(!super::software::plain_http_elsewhere("https://example.org/x"));
}

#[test]
fn url_schemes() {
    has(&errs(&replace("  url: https://archive.apache.org", "  url: ftp://archive.apache.org")), "spark.url", 20, "unsupported URL scheme");
    has(
        &errs(&replace("  url: https://archive.apache.org/dist/spark/spark-3.5.8/spark-3.5.8-bin-hadoop3.tgz", "  url: archive.apache.org/spark-3.5.8.tgz")),
        "spark.url",
        20,
        "not a URL",
    );
    let file =
        replace("  url: https://archive.apache.org/dist/spark/spark-3.5.8/spark-3.5.8-bin-hadoop3.tgz", "  url: file:///srv/spark-3.5.8-bin-hadoop3.tgz");
    assert_eq!(ok(&file).spark.artifact.url, "file:///srv/spark-3.5.8-bin-hadoop3.tgz");
    has(&errs(&replace("spark-3.5.8-bin-hadoop3.tgz\n", "spark-3.4.0-bin-hadoop3.tgz\n")), "spark.url", 20, "does not look like Spark 3.5.8");
}

#[test]
fn virtualbox_hostonly_rule_reads_networks_conf() {
    let other = BASE.replace("192.168.56.", "10.20.30.");
    has(&errs(&other), "network.cidr", 5, "VirtualBox refuses");
    let conf = HostFacts { networks_conf: Some("* 10.0.0.0/8\n".into()), ..HostFacts::default() };
    parse(Path::new("lab.yaml"), &other, &conf).expect("allowed by networks.conf");
    let d = errs_with(BASE, &conf);
    has(&d, "network.cidr", 5, "VirtualBox refuses");
    assert!(d[0].hint.as_deref().unwrap_or("").contains("networks.conf"));
    // Other providers have no such rule.
    ok(&other.replace("provider: virtualbox\nimage: centos-stream-9", "provider: sandbox"));
}

#[test]
fn workers_shorthand() {
    let text = BASE.split("nodes:").next().unwrap_or("").to_string() + "workers: 3\njava:" + BASE.split("java:").nth(1).unwrap_or("");
    let lab = ok(&text);
    let names: Vec<_> = lab.nodes.iter().map(|n| (n.name.as_str(), n.ip.to_string(), n.role)).collect();
    assert_eq!(names[0], ("master", "192.168.56.10".to_string(), Role::Master));
    assert_eq!(names[3], ("node3", "192.168.56.13".to_string(), Role::Worker));
    has(&errs(&format!("{BASE}workers: 2\n")), "workers", 22, "both set");
    let zero = text.replace("workers: 3", "workers: 0");
    has(&errs(&zero), "workers", 8, "out of range");
    let overflow = text.replace("workers: 3", "workers: 200").replace("  cidr: 192.168.56.0/24", "  cidr: 192.168.56.0/24\n  start: 192.168.56.100");
    has(&errs(&overflow), "workers", 9, "do not fit");
}

#[test]
fn java_and_spark_versions_must_fit() {
    let old = replace("  version: 3.5.8", "  version: 2.3.2").replace("3.5.8-bin-hadoop3", "2.3.2-bin-hadoop2.7").replace("spark-3.5.8/", "spark-2.3.2/");
    let d = errs(&old);
    has(&d, "java.version", 16, "Spark 2.3.2 does not run on Java 17");
    assert!(crate::spark::uses_slaves_file(ok(&old.replace("  version: 17", "  version: 8")).spark.version));
    has(&errs(&replace("image: centos-stream-9", "image: centos-7")), "java.version", 16, "no Java 17 package");
    has(&errs(&replace("  version: 3.5.8", "  version: 3.5.x")), "spark.version", 19, "not a Spark release number");
}

#[test]
fn spark_worker_settings() {
    has(&errs(&format!("{BASE}  worker_memory: lots\n")), "spark.worker_memory", 22, "memory size");
    has(&errs(&format!("{BASE}  worker_cores: 0\n")), "spark.worker_cores", 22, "out of range");
}

#[test]
fn user_name() {
    has(&errs(&replace("user: spark", "user: root")), "user", 7, "root");
    has(&errs(&replace("user: spark", "user: \"spark\\nrootpw --plaintext x\"")), "user", 7, "not a valid user name");
}

#[test]
fn locale_values_are_safe() {
    has(&errs(&format!("{BASE}locale:\n  timezone: \"UTC\\n%post\\nreboot\"\n")), "locale.timezone", 23, "not a time zone");
    has(&errs(&format!("{BASE}locale:\n  lang: \"en_US; $(id)\"\n")), "locale.lang", 23, "not a locale");
    has(&errs(&format!("{BASE}locale:\n  keyboard: \"us' --foo\"\n")), "locale.keyboard", 23, "not a keyboard");
}

#[test]
fn provider_specific_sections() {
    has(&errs(&format!("{BASE}sandbox:\n  rootfs: /srv/root\n")), "sandbox", 22, "only by the sandbox provider");
    has(&errs(&format!("{BASE}existing:\n  port: 22\n")), "existing", 22, "only by the existing provider");
    let sb = replace("provider: virtualbox\nimage: centos-stream-9", "provider: sandbox");
    has(&errs(&format!("{sb}sandbox:\n  rootfs: srv/root\n")), "sandbox.rootfs", 22, "absolute");
}

#[test]
fn verify_timeout_range() {
    has(&errs(&format!("{BASE}verify:\n  timeout: 0\n")), "verify.timeout", 23, "out of range");
}

#[test]
fn a_jdk_per_architecture_and_images_by_architecture() {
    let per_arch = replace(
        "  version: 17\n  install: package\n",
        "  version: 17\n  install: tarball\n  x86_64:\n    url: https://x/jdk-x64.tar.gz\n    sha256: d8afc263758141a66e0e3aafc321e783f7016696f4eaea067d340a269037d331\n  aarch64:\n    url: https://x/jdk-arm.tar.gz\n    sha256: 83a52172678ec8975164648654869cb2e71d7c748b47aca94b29bbfa10c18e81\n",
    );
    let arm = HostFacts { arch: crate::spec::Arch::Aarch64, ..HostFacts::default() };
    let lab = parse(Path::new("lab.yaml"), &per_arch, &arm).expect("valid on an arm64 host");
    assert_eq!(lab.image.as_ref().map(|i| i.arch), Some(crate::spec::Arch::Aarch64));
    assert!(lab.image.as_ref().is_some_and(|i| i.iso.url.contains("aarch64")));
    let crate::spec::JavaInstall::Tarball(t) = &lab.java.install else { panic!("tarball") };
    assert_eq!(t.needed(lab.machine_arch()).len(), 1);
    assert!(t.needed(lab.machine_arch())[0].1.url.ends_with("jdk-arm.tar.gz"));
    // CentOS 7 has no arm64 ISO: refused on the image line, naming what works there.
    let c7 = per_arch.replace("image: centos-stream-9", "image: centos-7");
    let d = errs_with(&c7, &arm);
    has(&d, "image", 3, "x86_64 only");
    assert!(d.iter().any(|x| x.hint.as_deref().is_some_and(|h| h.contains("centos-stream-9"))), "{d:?}");
    // The sandbox needs Linux.
    let sb = BASE.replace("provider: virtualbox", "provider: sandbox").replace("image: centos-stream-9\n", "");
    has(&errs_with(&sb, &HostFacts { linux: false, ..HostFacts::default() }), "provider", 2, "needs Linux");
}

#[test]
fn install_mode_is_base_where_the_image_has_cloud_init() {
    assert_eq!(ok(BASE).install, crate::spec::InstallMode::Base);
    let el7 = replace("image: centos-stream-9\n", "image: centos-7\n").replace("version: 17\n", "version: 8\n").replace("3.5.8", "2.4.8");
    assert_eq!(ok(&el7).install, crate::spec::InstallMode::PerNode);
    assert_eq!(ok(&replace("user: spark\n", "user: spark\ninstall: per-node\n")).install, crate::spec::InstallMode::PerNode);
    has(&errs(&el7.replace("user: spark\n", "user: spark\ninstall: base\n")), "install", 8, "cannot be a base image");
    has(&errs(&replace("user: spark\n", "user: spark\ninstall: linked\n")), "install", 8, "unknown install mode");
    has(&errs(&replace("    ip: 192.168.56.11\n", "    ip: 192.168.56.11\n    disk: 100\n")), "install", 1, "100 GiB disk");
}

/// Rocky's and AlmaLinux's minimal ISOs carry no cloud-init: a lab that installs from them
/// (`offline: true`) installs per node by default, and asking for a base is refused with the
/// two ways out; their DVDs make bases, and so do their network installs (AppStream on the
/// mirror), the default.
#[test]
fn minimal_isos_install_per_node_and_their_dvds_make_bases() {
    for image in ["rocky-9", "almalinux-9"] {
        let net = ok(&replace("image: centos-stream-9\n", &format!("image: {image}\n")));
        assert_eq!(net.install, crate::spec::InstallMode::Base, "{image}");
        let img = net.image.as_ref().expect("image");
        assert!(img.iso.url.ends_with("-9-latest-x86_64-boot.iso") || img.iso.url.ends_with("-9-latest-aarch64-boot.iso"), "{}", img.iso.url);
        assert_eq!(img.mirror_repos().iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["BaseOS", "AppStream"], "{image}");
        let minimal = replace("image: centos-stream-9\n", &format!("image: {image}\noffline: true\n"));
        assert_eq!(ok(&minimal).install, crate::spec::InstallMode::PerNode, "{image}");
        let d = errs(&minimal.replace("user: spark\n", "user: spark\ninstall: base\n"));
        has(&d, "install", 9, "carries no cloud-init");
        let hint = d[0].hint.clone().unwrap_or_default();
        assert!(hint.contains(&format!("image: {image}-dvd")) && hint.contains("install: per-node") && hint.contains("remove `offline: true`"), "{hint}");
        let dvd = replace("image: centos-stream-9\n", &format!("image: {image}-dvd\n"));
        assert_eq!(ok(&dvd).install, crate::spec::InstallMode::Base, "{image}-dvd");
    }
}

#[test]
fn spark_connect_is_on_where_the_release_carries_it_and_refused_where_it_does_not() {
    let four = BASE.replace("3.5.8", "4.3.0").replace("version: 17\n  install: package", "version: 21\n  install: package");
    let lab = ok(&four);
    assert_eq!(lab.spark.connect, Some(crate::spec::Connect { port: 15002, memory: "1g".into() }));
    assert_eq!(lab.spark.history_port, Some(18080));
    assert_eq!(lab.spark.daemon_memory, "512m");
    let three = ok(BASE);
    assert_eq!(three.spark.connect, None, "Spark 3.5's distribution has no Connect server");
    assert_eq!(three.spark.history_port, Some(18080));
    let asked = errs(&format!("{BASE}  connect: true\n"));
    has(&asked, "spark.connect", 22, "does not carry the Spark Connect server");
    let off = ok(&format!("{four}  connect: false\n  history: false\n"));
    assert_eq!((off.spark.connect, off.spark.history_port), (None, None));
    let clash = errs(&format!("{four}  connect_port: 8080\n  history_port: 8080\n  daemon_memory: lots\n"));
    has(&clash, "spark.connect_port", 22, "port 8080 is not free");
    has(&clash, "spark.history_port", 23, "also connect_port");
    has(&clash, "spark.daemon_memory", 24, "not a memory size");
}

mod no_panic;
mod qemu;
mod security;
