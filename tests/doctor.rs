//! `lab doctor` on this Linux machine: what passes, and each failure named with its fix.

use std::process::Command;

use crate::existing::Outside;
use crate::sandbox::SandboxLab;
use crate::support::{Lab, lab_dir};

/// A bridge of its own holding an address, removed when dropped (also when the test fails).
struct Holder(String);

impl Holder {
    fn new(name: &str, addr: &str) -> Self {
        for args in [vec!["link", "add", name, "type", "bridge"], vec!["addr", "add", addr, "dev", name], vec!["link", "set", name, "up"]] {
            let ok = Command::new("ip").args(&args).status().expect("ip").success();
            assert!(ok, "ip {args:?}");
        }
        Self(name.to_string())
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

#[test]
fn a_sandbox_lab_passes_until_its_address_is_taken() {
    let lab = SandboxLab::new(1);
    let out = lab.lab().args(["doctor"]).run().ok();
    assert!(out.stdout.contains("ok       provider") && out.stderr.contains("nothing stops lab"), "{}\n{}", out.stdout, out.stderr);
    // --online asks the download hosts (here a closed port on 127.0.0.1): named, with the fix.
    let online = lab.lab().args(["doctor", "--online"]).run().expect_code(1);
    assert!(online.stdout.contains("PROBLEM  download") && online.stdout.contains("http://127.0.0.1:9/spark-3.5.8-bin-hadoop3.tgz"), "{}", online.stdout);
    let _holder = Holder::new(&format!("ltd{}", std::process::id() % 100_000), &format!("{}/24", lab.ip(11)));
    let out = lab.lab().args(["doctor"]).run().expect_code(1);
    assert!(out.stdout.contains("PROBLEM  addresses") && out.stdout.contains(&format!("{} (node1)", lab.ip(11))), "{}", out.stdout);
    assert!(!out.stdout.contains(&format!("{} (master)", lab.ip(10))), "nothing answers at the master's address: {}", out.stdout);
    let json = lab.lab().args(["doctor", "--json"]).run().expect_code(1);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["ok"], false);
    assert!(v["checks"].as_array().expect("checks").iter().any(|c| c["check"] == "addresses" && c["level"] == "problem"), "{v}");
}

#[test]
fn an_existing_lab_passes_when_its_machines_present_their_known_keys() {
    let m = Outside::new(1);
    let dir = m.lab_file(true, "java:\n  version: 17\n  install: package\nspark:\n  version: 3.5.7\n  url: http://127.0.0.1:9/spark-3.5.7-bin-hadoop3.tgz\n  checksum_url: http://127.0.0.1:9/spark-3.5.7-bin-hadoop3.tgz.sha512\n");
    let out = Lab::new(&dir).args(["doctor"]).run().ok();
    for (node, _) in &m.nodes {
        assert!(out.stdout.contains(&format!("ok       ssh             {node} answers with its known host key")), "{}", out.stdout);
    }
    // A machine that presents another key is named.
    std::fs::write(
        m.path().join("known_hosts"),
        format!("{} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm6f8b0u6hbJ7b8WZ4bGZ3b4p5o9P6p1Dq0mZ5m6Xh2\n", m.nodes[0].1),
    )
    .expect("known_hosts");
    let out = Lab::new(&dir).args(["doctor"]).run().expect_code(1);
    assert!(
        out.stdout.contains(&format!("PROBLEM  ssh             {}: presents SHA256:", m.nodes[0].0)) && out.stdout.contains("not the host key lab knows"),
        "{}",
        out.stdout
    );
}

#[test]
fn without_virtualbox_it_says_how_to_install_it_and_names_a_memory_sum_too_large() {
    let total_mib: u64 = std::fs::read_to_string("/proc/meminfo")
        .expect("meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        .expect("MemTotal")
        / 1024;
    let each = (total_mib / 2).clamp(2048, 1_048_576);
    let text = include_str!("../labs/spark.yaml").replace("cidr: 192.168.56.0/24", "cidr: 192.168.61.0/24").replace("host: 192.168.56.1", "host: 192.168.61.1");
    // Every VM the same size: the default's, with the master's own size taken out.
    let text = text.replace("    memory: 3584\n", "").replace("  memory: 2048", &format!("  memory: {each}"));
    let text = text.replace("ip: 192.168.56.", "ip: 192.168.61.");
    let dir = lab_dir(&text);
    let out = Lab::new(dir.path()).args(["doctor"]).env("PATH", "/usr/bin:/bin").env("VBOXMANAGE", "/nonexistent/VBoxManage").run().expect_code(1);
    assert!(out.stdout.contains("PROBLEM  virtualbox") && out.stdout.contains("install VirtualBox 7.2 from https://www.virtualbox.org"), "{}", out.stdout);
    let sum = each * 3;
    assert!(
        out.stdout.contains(&format!(
            "PROBLEM  memory          the lab's VMs ask for {sum} MiB (master {each}, node1 {each}, node2 {each}); this computer has {total_mib} MiB"
        )),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("problem(s) stop lab \"spark\""), "{}", out.stderr);
}

#[test]
fn lab_up_stops_before_anything_exists_with_doctors_words() {
    let lab = SandboxLab::new(1);
    // A cache folder that cannot be made: below a file.
    let cache = lab.dir.path().join("a-file");
    std::fs::write(&cache, "not a folder").expect("file");
    let bad = cache.join("cache");
    let bad = bad.to_str().expect("utf-8");
    let doctor = lab.lab().args(["doctor"]).env("LAB_CACHE_DIR", bad).run().expect_code(1);
    let line = doctor.stdout.lines().find(|l| l.starts_with("PROBLEM  cache")).unwrap_or_else(|| panic!("{}", doctor.stdout)).to_string();
    let words = line.trim_start_matches("PROBLEM  cache").trim();
    let up = lab.lab().args(["up"]).env("LAB_CACHE_DIR", bad).run().expect_code(1);
    assert!(up.stderr.contains(words) && up.stderr.contains("LAB_CACHE_DIR"), "lab doctor said {words:?}; lab up said:\n{}", up.stderr);
    assert!(lab.traces().is_empty(), "lab up made something: {:?}", lab.traces());
    assert!(!lab.state().exists(), "lab up made {}", lab.state().display());
}
