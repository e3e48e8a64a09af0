//! Real guests: the qemu provider boots a master and a worker from a Debian cloud image the
//! tests build from Debian's packages (tests/tools/make_guest_image.sh: kernel, systemd,
//! cloud-init, sshd, a partition table and a boot loader; nothing of lab's), in software
//! emulation. Real cloud-init takes lab's seed, real sshd presents the pinned key, Java and Spark
//! come from the fixtures over SSH (Spark 4 with Spark Connect; the history server and verify's
//! Spark job are left out for CI's time: each costs minutes under emulation, sandbox nodes prove
//! both, and the real guests proved them on Spark 3.5 before), and the guests reach nothing
//! beyond this test's own hosts (QEMU's user network with `restrict=on`: `internet: false`).
//! The lab runs on the network lab makes without root (`LAB_QEMU_NETWORK=switch`: lab's switch
//! for the lab network, SSH through forwards on 127.0.0.1, the web UIs and Spark Connect through
//! lab's SSH), the one Mac users and Linux users without root get; `LAB_TEST_QEMU_NETWORK=bridge`
//! runs it on the bridge and taps lab makes as root instead. Building the image needs root.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sandbox::SandboxLab;
use crate::support::http::FileServer;
use crate::support::{digest_in, fixtures};

/// Spark's 4.x line, with its Spark Connect server (lab's default), reached through an SSH
/// forward as a student's notebook reaches it.
const SPARK: &str = "4.3.0";

/// How the test image's cloud-init renders the network: NetworkManager, as the EL9 cloud images
/// lab's users boot do (`LAB_TEST_GUEST_RENDERER=eni` for ifupdown, as Debian's own images do:
/// lab's seed is the same for both).
fn renderer() -> String {
    std::env::var("LAB_TEST_GUEST_RENDERER").unwrap_or_else(|_| "networkmanager".into())
}

/// The lab network the test's lab runs on: `switch` (no root), or `bridge`.
fn network() -> String {
    std::env::var("LAB_TEST_QEMU_NETWORK").unwrap_or_else(|_| "switch".into())
}

/// The test image, built (once per recipe, kept outside the clone) by the recipe script.
fn guest_image() -> PathBuf {
    let script = crate::support::repo().join("tests/tools/make_guest_image.sh");
    let out = Command::new("bash").arg(&script).arg(renderer()).output().expect("bash");
    assert!(
        out.status.success(),
        "building the guest image failed (run `sudo bash {}` to see why; it needs root, debootstrap and Debian's mirror):\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).lines().last().expect("the image's path").trim());
    assert!(path.is_file(), "{} was not made", path.display());
    path
}

fn link(from: &Path, to: &Path) {
    std::fs::hard_link(from, to).or_else(|_| std::os::unix::fs::symlink(from, to)).expect("link fixture");
}

/// A qemu lab: the sandbox test lab's name, subnet and clean-up, with its own lab file; every
/// QEMU process started from its folder is ended even when the test fails.
struct QemuLab {
    lab: SandboxLab,
}

impl QemuLab {
    /// `lab ...` on the network without root.
    fn lab(&self) -> crate::support::Lab {
        self.lab.lab().env("LAB_QEMU_NETWORK", &network())
    }

    /// `cmd` on `node` through OpenSSH with `lab ssh-config`'s lines (the forward on 127.0.0.1,
    /// the pinned host key).
    fn ssh(&self, node: &str, cmd: &str) -> crate::support::Output {
        let config = self.lab.dir.path().join("ssh_config");
        std::fs::write(&config, self.lab().args(["ssh-config"]).run().ok().stdout).expect("ssh_config");
        let out = Command::new("ssh")
            .args(["-F", config.to_str().expect("utf-8"), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR"])
            .arg(format!("lab-{}-{node}", self.lab.name))
            .arg(cmd)
            .output()
            .expect("ssh");
        crate::support::Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            argv: vec!["ssh".into(), node.into(), cmd.into()],
        }
    }
}

/// This machine's processes whose command line contains each of `words`.
fn processes(words: &[&str]) -> Vec<String> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let cmdline = String::from_utf8_lossy(&std::fs::read(e.path().join("cmdline")).unwrap_or_default()).replace('\0', " ");
            words.iter().all(|w| cmdline.contains(w))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

impl Drop for QemuLab {
    fn drop(&mut self) {
        let _ = self.lab().args(["destroy", "--yes"]).run();
        let dir = self.lab.dir.path().display().to_string();
        // Only this test runs QEMUs and lab's switch (one cluster at a time).
        for pid in processes(&["qemu-system", &dir]).into_iter().chain(processes(&[" qemu-switch "])) {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
    }
}

#[test]
fn a_master_and_a_worker_boot_for_real_provision_verify_halt_boot_again_and_snapshot() {
    let image = guest_image();
    let _one_cluster_at_a_time = crate::support::heavy();
    let served = tempfile::tempdir().expect("tempdir");
    link(&image, &served.path().join("guest.qcow2"));
    let f = fixtures();
    for name in [format!("spark-{SPARK}-bin-hadoop3.tgz"), format!("spark-{SPARK}-bin-hadoop3.tgz.sha512"), "jdk-17-lab.tar.gz".into()] {
        link(&f.join(&name), &served.path().join(&name));
    }
    let server = FileServer::start(served.path());
    let cache = tempfile::tempdir().expect("cache");
    let q = QemuLab { lab: SandboxLab::with(1, |_| String::new()) };
    let lab = &q.lab;
    let text = format!(
        "name: {name}\nprovider: qemu\nqemu:\n  image:\n    url: {img}\n    sha256: {sum}\n  internet: false\nnetwork:\n  cidr: {net}.0/24\n  host: {net}.1\nuser: spark\n\
         defaults:\n  cpus: 1\n  memory: 3072\n{nodes}java:\n  version: 17\n  install: tarball\n  url: {jdk}\n  sha256: {jdk_sum}\n\
         spark:\n  version: \"{SPARK}\"\n  url: {spark}\n  checksum_url: {spark}.sha512\n  worker_cores: 1\n  worker_memory: 512m\n  history: false\nverify:\n  spark_shell: false\nlocale:\n  timezone: America/Sao_Paulo\n",
        name = lab.name,
        img = server.url("guest.qcow2"),
        sum = digest_in(&image.with_extension("qcow2.sha256")),
        net = lab.net,
        nodes = crate::sandbox::nodes_yaml(&lab.net, 1),
        jdk = server.url("jdk-17-lab.tar.gz"),
        jdk_sum = digest_in(&f.join("jdk-17-lab.tar.gz.sha256")),
        spark = server.url(&format!("spark-{SPARK}-bin-hadoop3.tgz")),
    );
    std::fs::write(lab.dir.path().join("lab.yaml"), text).expect("lab.yaml");
    let cache_env = cache.path().to_str().expect("utf-8").to_string();

    let doctor = q.lab().args(["doctor"]).run();
    assert!(doctor.stdout.contains("qemu") && doctor.stdout.contains("accelerator"), "{}", doctor.stdout);
    let switch = network() == "switch";
    let said = if switch { "switch: lab's switch (no root)" } else { "bridge: a bridge and taps (root)" };
    assert!(doctor.stdout.contains(said), "{}", doctor.stdout);
    let ui = if switch { "through `lab ui --forward`".to_string() } else { format!("http://{}:8080", lab.ip(10)) };

    let up = q.lab().env("LAB_CACHE_DIR", &cache_env).args(["up"]).run().ok();
    eprintln!("{}", up.stderr.lines().rev().take(4).collect::<Vec<_>>().join("\n"));
    assert!(up.stderr.contains(&format!("web UI {ui}")), "{}", up.stderr);
    // On the switch, no bridge, no tap: nothing of the lab's on this computer's own networks.
    let links = String::from_utf8_lossy(&Command::new("ip").args(["-o", "link"]).output().expect("ip").stdout).into_owned();
    assert_eq!(links.contains(&format!("lab:{}", lab.dir.path().display())), !switch, "{links}");
    assert_eq!(processes(&[" qemu-switch "]).len(), usize::from(switch), "lab's switch runs once, and only on its network");
    // `lab ssh-config` says where SSH answers (the forward on the switch): OpenSSH reaches each
    // node there with the pinned key.
    let config = q.lab().args(["ssh-config"]).run().ok().stdout;
    let host = if switch { "127.0.0.1".to_string() } else { lab.ip(10) };
    assert!(config.contains(&format!("HostName {host}")), "{config}");
    // Each node: its name from the seed, the pinned host key (the ssh client checks it),
    // cloud-init finished, /etc/hosts ending with a newline, the lab's time zone (São Paulo's
    // clocks are 3 hours behind UTC), one cloud-init instance.
    for name in ["master", "node1"] {
        let out = q.ssh(name, "hostname; cloud-init status --long; tail -c 1 /etc/hosts | od -An -tx1; date +%z; ls /var/lib/cloud/instances | wc -l").ok();
        let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
        assert_eq!(lines.first(), Some(&name), "{}", out.stdout);
        assert!(lines.contains(&"status: done"), "cloud-init on {name}:\n{}", out.stdout);
        assert!(lines.contains(&"0a"), "/etc/hosts on {name} does not end with a newline:\n{}", out.stdout);
        assert!(lines.contains(&"-0300"), "{name} is not on the lab's time zone:\n{}", out.stdout);
        assert_eq!(lines.last(), Some(&"1"), "{}", out.stdout);
    }
    // cloud-init rendered NIC2 for the image's own network stack (NetworkManager's keyfile, as
    // on EL9).
    if renderer() == "networkmanager" {
        let nm = q.ssh("node1", "sudo ls /etc/NetworkManager/system-connections/").ok();
        assert!(nm.stdout.contains("cloud-init"), "no NetworkManager connection from cloud-init: {}", nm.stdout);
    }
    // The nodes reach each other at their static addresses (through lab's switch), and nothing
    // beyond.
    let reach = q.ssh("node1", &format!("exec 3<>/dev/tcp/{}/22 && head -c 4 <&3", lab.ip(10))).ok();
    assert_eq!(reach.stdout, "SSH-", "{}", up.stderr);
    let out = q.ssh("node1", "timeout 5 bash -c 'exec 3<>/dev/tcp/10.0.2.2/22' 2>/dev/null && echo out || echo cut").ok();
    assert_eq!(out.stdout.trim(), "cut", "a guest reached this computer through QEMU's user network");

    // Verify: the master's UI read through lab's SSH, Spark Connect through its forward.
    let verify = q.lab().args(["--json", "verify"]).run();
    let v: serde_json::Value = serde_json::from_str(&verify.stdout).unwrap_or_else(|e| panic!("verify --json: {e}\n{}\n{}", verify.stdout, verify.stderr));
    assert_eq!(verify.code, 0, "{v:#}\n{}", verify.stderr);
    let checks = v["checks"].as_array().expect("checks");
    for id in ["spark_connect", "master_ui", "master_ssh", "jps"] {
        assert!(checks.iter().any(|c| c["check"] == id && c["ok"] == true), "no passing {id}: {v:#}");
    }
    let status = q.lab().args(["status"]).run().ok();
    assert!(status.stdout.contains(&format!("master web UI:  {ui}")), "{}", status.stdout);

    // Halt: each guest powers off through ACPI (its console says so), no QEMU left, and lab's
    // switch ends with them.
    let key_before = std::fs::read_to_string(lab.state().join("known_hosts")).expect("known_hosts");
    q.lab().args(["ssh", "node1", "--", "echo kept > /home/spark/precious"]).run().ok();
    q.lab().args(["halt"]).run().ok();
    for node in ["master", "node1"] {
        let serial = std::fs::read_to_string(lab.state().join("qemu").join(node).join("serial.log")).expect("serial log");
        assert!(serial.contains("reboot: Power down"), "{node} did not power off through ACPI:\n{}", &serial[serial.len().saturating_sub(2000)..]);
    }
    assert!(processes(&[" qemu-switch "]).is_empty(), "lab's switch outlived the halted nodes");
    let status = q.lab().args(["status"]).run().ok();
    assert_eq!(status.stdout.matches("halted").count(), 2, "{}", status.stdout);
    // A snapshot of the halted nodes' disks (they stay halted).
    q.lab().args(["snapshot", "save", "working"]).run().ok();
    assert_eq!(q.lab().args(["snapshot", "list"]).run().ok().stdout, "working\n");

    // Up again: the same machines boot, the same host keys, still one cloud-init instance.
    q.lab().env("LAB_CACHE_DIR", &cache_env).args(["up", "--no-provision"]).run().ok();
    assert_eq!(std::fs::read_to_string(lab.state().join("known_hosts")).expect("known_hosts"), key_before);
    for name in ["master", "node1"] {
        assert_eq!(q.ssh(name, "ls /var/lib/cloud/instances | wc -l").ok().stdout.trim(), "1");
    }

    // The snapshot restored (the nodes halted, their disks put back, booted again): a file
    // made after it is gone, one removed after it is back.
    q.lab().args(["ssh", "node1", "--", "rm /home/spark/precious; touch /home/spark/junk"]).run().ok();
    q.lab().args(["snapshot", "restore", "working"]).run().ok();
    let back = q.lab().args(["ssh", "node1", "--", "cat /home/spark/precious; test ! -e /home/spark/junk && echo no-junk"]).run().ok();
    assert_eq!(back.stdout, "kept\nno-junk\n");

    // A QEMU that dies shows as a stopped node with its console's last lines.
    for node in ["master", "node1"] {
        let pid = std::fs::read_to_string(lab.state().join("qemu").join(node).join("qemu.pid")).expect("the pid file");
        Command::new("kill").args(["-9", pid.trim()]).status().expect("kill");
    }
    std::thread::sleep(std::time::Duration::from_secs(1));
    let status = q.lab().args(["status"]).run().ok();
    assert!(status.stdout.contains("stopped") && status.stdout.contains("node1: its QEMU ended without lab stopping it"), "{}", status.stdout);
    assert!(status.stdout.contains("login:") || status.stdout.contains("Debian"), "no console lines:\n{}", status.stdout);
    // Destroy, with the switch still running (nothing stopped it): no QEMU, disk, switch or
    // forward left (SandboxLab's drop checks every trace too).
    assert_eq!(processes(&[" qemu-switch "]).len(), usize::from(switch), "lab's switch runs");
    q.lab().args(["destroy", "--yes"]).run().ok();
    assert!(!lab.state().exists());
    assert!(processes(&["qemu-system", &lab.dir.path().display().to_string()]).is_empty(), "a QEMU outlived destroy");
    assert!(processes(&[" qemu-switch "]).is_empty(), "lab's switch outlived destroy");
    assert!(
        std::fs::read_dir(std::env::temp_dir()).expect("tmp").flatten().all(|e| !e.file_name().to_string_lossy().starts_with("lab-net-")),
        "a switch folder is left"
    );
    let links = String::from_utf8_lossy(&Command::new("ip").args(["-o", "link"]).output().expect("ip").stdout).into_owned();
    assert!(!links.contains(&format!("lab:{}", lab.dir.path().display())), "a bridge or tap is left: {links}");
}
