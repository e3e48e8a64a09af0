//! The Windows build of lab (`lab.exe`, cross-built with mingw-w64) under Wine, driving the
//! `existing` provider against machines the test builds: real SSH from a Windows program, its
//! state in a folder whose path has spaces and non-ASCII letters, as on a student's laptop
//! (`C:\Users\João\Área de Trabalho\`).

use crate::existing::Outside;
use crate::support::Lab;

/// `/tmp/x` as a Windows program sees it under Wine (drive Z: is the Linux root).
fn windows_path(p: &std::path::Path) -> String {
    format!("Z:{}", p.display()).replace('/', "\\")
}

#[test]
fn the_windows_build_runs_a_lab_from_a_folder_with_accents() {
    let m = Outside::new(1);
    let dir = m.path().join("Área de Trabalho").join("lab do João");
    std::fs::create_dir_all(&dir).expect("lab folder");
    let nodes: String =
        m.nodes.iter().map(|(n, ip)| format!("  - {{name: {n}, role: {}, ip: {ip}}}\n", if n == "master" { "master" } else { "worker" })).collect();
    let text = format!(
        "name: {}\nprovider: existing\nnetwork:\n  cidr: {}.0/24\nnodes:\n{nodes}\
         java:\n  version: 17\n  install: package\nspark:\n  version: 3.5.7\n  url: http://127.0.0.1:9/spark-3.5.7-bin-hadoop3.tgz\n  checksum_url: http://127.0.0.1:9/x.sha512\n\
         existing:\n  login: admin\n  identity_file: {}\n  known_hosts: {}\n",
        m.tag,
        m.net,
        windows_path(&m.path().join("admin")),
        windows_path(&m.path().join("known_hosts")),
    );
    std::fs::write(dir.join("lab.yaml"), text).expect("lab.yaml");

    let version = Lab::windows(&dir).args(["--version"]).run().ok();
    assert!(version.stdout.starts_with("lab "), "{}", version.stdout);
    // The sandbox provider is Linux-only, and the Windows build says so with the line.
    let sandbox = m.path().join("sandbox");
    std::fs::create_dir_all(&sandbox).expect("mkdir");
    Lab::windows(&sandbox).args(["init", "sandbox"]).run().ok();
    let out = Lab::windows(&sandbox).args(["validate"]).run().expect_code(2);
    assert!(out.stderr.contains("lab.yaml:") && out.stderr.contains("sandbox provider needs Linux"), "{}", out.stderr);

    let out = Lab::windows(&dir).args(["up", "--no-provision"]).run().ok();
    assert!(out.stderr.contains("master") && out.stderr.contains("node1"), "{}", out.stderr);
    // The state lives beside the lab file, in the accented folder.
    let state = dir.join(".lab").join(&m.tag);
    assert!(state.join("state.json").exists() && state.join("id_ed25519").exists(), "no state in {}", state.display());
    let out = Lab::windows(&dir).args(["ssh", "node1", "--", "id -un; hostname"]).run().ok();
    assert_eq!(out.stdout.replace("\r\n", "\n"), "spark\nnode1\n");
    // `lab ssh NODE -- CMD` exits with the command's status.
    assert_eq!(Lab::windows(&dir).args(["ssh", "master", "--", "exit 7"]).run().code, 7);
    let cfg = Lab::windows(&dir).args(["ssh-config"]).run().ok();
    assert!(cfg.stdout.contains(&format!("Host lab-{}-node1", m.tag)) && cfg.stdout.contains("IdentityFile"), "{}", cfg.stdout);
    Lab::windows(&dir).args(["destroy", "--yes"]).run().ok();
    // The account lab made is gone again, and so is the lab's folder.
    let after = m.as_admin(&m.nodes[1].1, "id spark || echo no-spark-user");
    assert!(String::from_utf8_lossy(&after.stdout).contains("no-spark-user"), "{}", String::from_utf8_lossy(&after.stdout));
    assert!(!dir.join(".lab").exists());
}

/// `lab doctor` from the Windows build: its Windows checks run against Wine's answers (no
/// PowerShell there), and it says what it could not tell instead of failing.
#[test]
fn the_windows_build_runs_doctor_and_says_what_it_could_not_tell() {
    let dir = crate::support::lab_dir(include_str!("../labs/spark.yaml"));
    let out = Lab::windows(dir.path()).args(["doctor"]).env("VBOXMANAGE", "Z:\\nonexistent\\VBoxManage.exe").run();
    assert_eq!(out.code, 1, "VirtualBox is not installed under Wine\n{}\n{}", out.stdout, out.stderr);
    let text = out.stdout.replace("\r\n", "\n");
    assert!(text.contains("PROBLEM  virtualbox") && text.contains("VirtualBox 7.2 for Windows hosts"), "{text}");
    assert!(text.contains("unknown  memory"), "{text}");
    assert!(out.stderr.contains("could not be answered here"), "{}", out.stderr);
    let json = Lab::windows(dir.path()).args(["doctor", "--json"]).env("VBOXMANAGE", "Z:\\nonexistent\\VBoxManage.exe").run();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["ok"], false);
}
