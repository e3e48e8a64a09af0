//! The sandbox provider end to end: real namespaces, bridges, overlay roots and sshd, reached
//! with the system's OpenSSH client pinned to the host keys lab generated. Needs root.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::support::{Lab, Output};

static NEXT: AtomicU32 = AtomicU32::new(0);

fn require_root() {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2).map(str::to_string)));
    assert_eq!(uid.as_deref(), Some("0"), "sandbox tests need root: run `sudo bash tests/run.sh`");
    assert!(Path::new("/usr/sbin/sshd").exists(), "sandbox tests need sshd: run `bash tests/run.sh`, which installs openssh-server");
}

/// A sandbox lab in a temporary folder with a name and subnet no other test uses. Dropping it
/// destroys the lab and then removes by hand anything that survived, so a failing test leaves
/// nothing behind.
pub struct SandboxLab {
    pub dir: tempfile::TempDir,
    pub name: String,
    pub net: String,
    /// Held while the lab lives: no other test process takes the same subnet.
    _net_lock: std::fs::File,
}

/// A /24 no other test (in this process or another) holds and no interface on this machine
/// uses, reserved by a lock file that is released when the test ends, even by a crash.
fn reserve_net(seed: u32) -> (String, std::fs::File) {
    let dir = std::env::temp_dir().join("lab-test-nets");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let used = run("ip", &["-4", "-o", "addr", "show"]);
    for i in 0..50 * 250 {
        let k = (seed + i) % (50 * 250);
        let net = format!("10.{}.{}", 200 + k / 250, k % 250);
        if used.contains(&format!(" {net}.")) {
            continue;
        }
        let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(&net)).expect("lock file");
        if f.try_lock().is_ok() {
            return (net, f);
        }
    }
    panic!("no free 10.200-249.x.0/24 subnet for a sandbox test");
}

/// The `nodes:` section for a master at .10 and `workers` workers at .11, .12, ...
pub fn nodes_yaml(net: &str, workers: usize) -> String {
    let mut nodes = format!("nodes:\n  - name: master\n    role: master\n    ip: {net}.10\n");
    for w in 1..=workers {
        nodes.push_str(&format!("  - name: node{w}\n    role: worker\n    ip: {net}.{}\n", 10 + w));
    }
    nodes
}

impl SandboxLab {
    pub fn new(workers: usize) -> Self {
        Self::with(workers, |_| {
            "java:\n  version: 17\n  install: package\nspark:\n  version: 3.5.8\n  url: http://127.0.0.1:9/spark-3.5.8-bin-hadoop3.tgz\n  checksum_url: http://127.0.0.1:9/spark-3.5.8-bin-hadoop3.tgz.sha512\n".to_string()
        })
    }

    /// A lab with `workers` workers; `software` writes its java and spark sections.
    pub fn with(workers: usize, software: impl FnOnce(&str) -> String) -> Self {
        require_root();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let name = format!("t{}-{n}", pid % 100_000);
        let (net, _net_lock) = reserve_net(pid.wrapping_mul(7919).wrapping_add(n * 251));
        let dir = tempfile::tempdir().expect("tempdir");
        let lab = Self { dir, name, net, _net_lock };
        lab.write(workers, &software(&lab.net));
        lab
    }

    /// Rewrites the lab file with `workers` workers and the given java/spark sections.
    pub fn write(&self, workers: usize, software: &str) {
        let text = format!(
            "name: {}\nprovider: sandbox\nnetwork:\n  cidr: {net}.0/24\n  host: {net}.1\nuser: spark\n{}{software}",
            self.name,
            nodes_yaml(&self.net, workers),
            net = self.net,
        );
        std::fs::write(self.dir.path().join("lab.yaml"), text).expect("lab.yaml");
    }

    pub fn lab(&self) -> Lab {
        Lab::new(self.dir.path())
    }

    pub fn ip(&self, host: u8) -> String {
        format!("{}.{host}", self.net)
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join(".lab").join(&self.name)
    }

    /// Runs `cmd` on the node at `.host` as the lab user with the system ssh client, checking
    /// the node's host key against the lab's known_hosts (StrictHostKeyChecking=yes).
    pub fn ssh(&self, host: u8, cmd: &str) -> Output {
        self.ssh_as("spark", host, cmd)
    }

    pub fn ssh_as(&self, user: &str, host: u8, cmd: &str) -> Output {
        let st = self.state();
        let out = Command::new("ssh")
            .args(["-i", st.join("id_ed25519").to_str().expect("utf-8")])
            .args(["-o", &format!("UserKnownHostsFile={}", st.join("known_hosts").display())])
            .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"])
            .arg(format!("{user}@{}", self.ip(host)))
            .arg(cmd)
            .output()
            .expect("ssh client (openssh-client)");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            argv: vec!["ssh".into(), cmd.into()],
        }
    }

    /// What of this lab exists on the machine, as one line per thing (empty: nothing).
    pub fn traces(&self) -> Vec<String> {
        traces_of(&self.name, &self.dir.path().display().to_string())
    }
}

fn run(prog: &str, args: &[&str]) -> String {
    Command::new(prog).args(args).output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

/// Namespaces, links, mounts and processes that belong to lab `name` living in `dir`.
pub fn traces_of(name: &str, dir: &str) -> Vec<String> {
    let mut t = Vec::new();
    let prefix = format!("lab-{name}-");
    for l in run("ip", &["netns", "list"]).lines() {
        if l.starts_with(&prefix) {
            t.push(format!("netns {l}"));
        }
    }
    for l in run("ip", &["-o", "link", "show"]).lines() {
        if l.contains(&format!("lab-{name}:")) || l.contains(&format!("lab-{name}@")) || l.contains(&format!("alias lab:{dir}")) {
            t.push(format!("link {l}"));
        }
    }
    for l in std::fs::read_to_string("/proc/mounts").unwrap_or_default().lines() {
        if l.contains(dir) {
            t.push(format!("mount {l}"));
        }
    }
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(dir) && e.file_name() != std::process::id().to_string().as_str() {
                t.push(format!("process {} {cmdline}", e.file_name().to_string_lossy()));
            }
        }
    }
    t
}

impl Drop for SandboxLab {
    fn drop(&mut self) {
        let _ = self.lab().args(["destroy", "--yes"]).run();
        // Whatever survived (a bug, or a test that failed half-way): remove it by hand.
        let prefix = format!("lab-{}-", self.name);
        for ns in run("ip", &["netns", "list"]).lines().filter_map(|l| l.split_whitespace().next()).filter(|n| n.starts_with(&prefix)) {
            for pid in run("ip", &["netns", "pids", ns]).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let dir = self.dir.path().display().to_string();
        for l in run("ip", &["-o", "link", "show"]).lines().filter(|l| l.contains(&format!("alias lab:{dir}"))) {
            if let Some(name) = l.split(": ").nth(1).and_then(|n| n.split('@').next()) {
                let _ = Command::new("ip").args(["link", "del", name]).status();
            }
        }
        let left = self.traces();
        if !left.is_empty() && !std::thread::panicking() {
            panic!("lab {} left traces that the test had to remove by hand:\n{}", self.name, left.join("\n"));
        }
    }
}

#[test]
fn three_nodes_come_up_fast_isolated_and_pinned() {
    let lab = SandboxLab::new(2);
    let plan = crate::support::planned(lab.lab().args(["--json", "up", "--dry-run", "--no-provision"]));
    let start = Instant::now();
    let out = lab.lab().args(["-v", "up", "--no-provision"]).run().ok();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "a 3-node sandbox lab took {took:?}");
    crate::support::assert_plan_is_what_ran(&plan, &out.stderr);
    for (host, name) in [(10, "master"), (11, "node1"), (12, "node2")] {
        let out = lab.ssh(host, "hostname").ok();
        assert_eq!(out.stdout.trim(), name);
    }
    // Files: written under /opt on node1, seen neither on node2 nor on the host.
    let file = format!("/opt/lab-test-{}", lab.name);
    lab.ssh(11, &format!("sudo -n touch {file} && test -e {file}")).ok();
    lab.ssh(12, &format!("test ! -e {file}")).ok();
    assert!(!Path::new(&file).exists(), "{file} leaked to the host");
    // Processes: node2's are invisible on node1.
    lab.ssh(12, "nohup sleep 7777 >/dev/null 2>&1 &").ok();
    let ps2 = lab.ssh(12, "ps -eo args").ok();
    assert!(ps2.stdout.contains("sleep 7777"), "{}", ps2.stdout);
    let ps1 = lab.ssh(11, "ps -eo args").ok();
    assert!(!ps1.stdout.contains("sleep 7777"), "node1 sees node2's processes:\n{}", ps1.stdout);
    assert!(ps1.stdout.lines().count() < 15, "node1 sees too many processes:\n{}", ps1.stdout);
    // Network: node1 reaches node2 by address, and nothing outside the lab network.
    let reach = lab.ssh(11, &format!("exec 3<>/dev/tcp/{}/22 && head -c 4 <&3", lab.ip(12))).ok();
    assert_eq!(reach.stdout, "SSH-");
    let outside = lab.ssh(11, "ip route get 192.0.2.1 2>&1; ip route get 127.1.2.3 >/dev/null 2>&1 && echo loopback-only-local").ok();
    assert!(outside.stdout.contains("unreachable"), "node1 has a route out of the lab network:\n{}", outside.stdout);
    // Root may not log in; the lab user has passwordless sudo.
    let root = lab.ssh_as("root", 11, "true");
    assert_ne!(root.code, 0, "root logged in over SSH");
    assert_eq!(lab.ssh(11, "sudo -n id -u").ok().stdout.trim(), "0");
    // A host key that is not the one lab generated is refused by the client.
    let known = lab.state().join("known_hosts");
    let text = std::fs::read_to_string(&known).expect("known_hosts");
    let node2_key = text.lines().find(|l| l.starts_with("node2,")).expect("node2 line").split_once(' ').expect("key").1.to_string();
    let swapped: String =
        text.lines().map(|l| if l.starts_with("node1,") { format!("node1,{} {node2_key}", lab.ip(11)) } else { l.to_string() }).collect::<Vec<_>>().join("\n");
    std::fs::write(&known, swapped + "\n").expect("write");
    let refused = lab.ssh(11, "hostname");
    assert_ne!(refused.code, 0, "a wrong host key was accepted");
    assert!(refused.stderr.contains("HOST IDENTIFICATION HAS CHANGED") || refused.stderr.contains("Host key verification failed"), "{}", refused.stderr);
    std::fs::write(&known, text).expect("restore");
    // Status is observed, not remembered.
    let status = lab.lab().args(["--json", "status"]).run().ok();
    let v: serde_json::Value = serde_json::from_str(&status.stdout).expect("json");
    assert!(v["nodes"].as_array().expect("nodes").iter().all(|n| n["state"] == "running" && n["ssh"] == true), "{v}");
}

#[test]
fn halt_keeps_disks_and_a_second_up_changes_nothing() {
    let lab = SandboxLab::new(2);
    lab.lab().args(["up", "--no-provision"]).run().ok();
    lab.ssh(11, "echo kept | sudo -n tee /opt/kept >/dev/null").ok();
    // The node's people point the files lab writes at boot (as this computer's root) at files of
    // this computer: the next boot writes inside the node, never through their links.
    let decoys: Vec<std::path::PathBuf> = ["keys", "hostname", "sshd"].iter().map(|n| lab.dir.path().join(format!("decoy-{n}"))).collect();
    for d in &decoys {
        std::fs::write(d, "untouched\n").expect("decoy");
    }
    lab.ssh(
        11,
        &format!(
            "ln -sf {} ~/.ssh/authorized_keys.new && mv -f ~/.ssh/authorized_keys.new ~/.ssh/authorized_keys; sudo ln -sf {} /etc/hostname; sudo ln -sf {} /etc/ssh/lab_sshd_config",
            decoys[0].display(),
            decoys[1].display(),
            decoys[2].display()
        ),
    )
    .ok();
    lab.lab().args(["halt"]).run().ok();
    let status = lab.lab().args(["--json", "status"]).run().ok();
    let v: serde_json::Value = serde_json::from_str(&status.stdout).expect("json");
    assert!(v["nodes"].as_array().expect("nodes").iter().all(|n| n["state"] == "halted" && n["ssh"] == false), "{v}");
    assert!(lab.traces().iter().all(|t| !t.starts_with("process")), "processes survived halt: {:?}", lab.traces());
    lab.lab().args(["up", "--no-provision"]).run().ok();
    assert_eq!(lab.ssh(11, "cat /opt/kept").ok().stdout.trim(), "kept");
    for d in &decoys {
        assert_eq!(std::fs::read_to_string(d).expect("decoy"), "untouched\n", "{} was written through a node's link", d.display());
    }
    assert_eq!(lab.ssh(11, "hostname; test -L ~/.ssh/authorized_keys || echo a-file").ok().stdout, "node1\na-file\n");
    // Nothing to do: nothing done, quickly, and no file rewritten.
    let state_file = lab.state().join("state.json");
    let mtime = std::fs::metadata(&state_file).expect("state").modified().expect("mtime");
    let start = Instant::now();
    let again = lab.lab().args(["up", "--no-provision"]).run().ok();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(1), "a no-op `lab up` took {took:?}");
    assert!(!again.stderr.contains(": done"), "a no-op `lab up` did something:\n{}", again.stderr);
    assert_eq!(std::fs::metadata(&state_file).expect("state").modified().expect("mtime"), mtime);
}

/// A lab brought up with `--no-provision` has no Spark: a snapshot of it saves and restores
/// the machines and starts nothing that never ran.
#[test]
fn snapshots_of_an_unprovisioned_lab_start_only_what_ran() {
    let lab = SandboxLab::new(1);
    lab.lab().args(["up", "--no-provision"]).run().ok();
    lab.ssh(11, "echo kept | sudo -n tee /opt/kept >/dev/null").ok();
    let saved = lab.lab().args(["snapshot", "save", "bare"]).run().ok();
    assert!(!saved.stderr.contains("spark_master"), "{}", saved.stderr);
    lab.ssh(11, "sudo -n rm /opt/kept").ok();
    let restored = lab.lab().args(["snapshot", "restore", "bare"]).run().ok();
    assert!(!restored.stderr.contains("spark_master") && restored.stderr.contains("no Spark daemons ran"), "{}", restored.stderr);
    assert_eq!(lab.ssh(11, "cat /opt/kept").ok().stdout.trim(), "kept");
    let status = lab.lab().args(["--json", "status"]).run().ok();
    let v: serde_json::Value = serde_json::from_str(&status.stdout).expect("json");
    assert!(v["nodes"].as_array().expect("nodes").iter().all(|n| n["ssh"] == true && n["spark"] != true), "{v}");
    assert_eq!(lab.lab().args(["snapshot", "list"]).run().ok().stdout, "bare\n");
    // Sandbox snapshots are taken of halted nodes: `--live` is refused, saying what to do.
    let live = lab.lab().args(["snapshot", "save", "hot", "--live"]).run();
    assert_eq!(live.code, 2, "{}", live.stderr);
    assert!(live.stderr.contains("leave out --live"), "{}", live.stderr);
    lab.lab().args(["snapshot", "delete", "bare"]).run().ok();
    assert_eq!(lab.lab().args(["snapshot", "list"]).run().ok().stdout, "");
    lab.lab().args(["destroy", "--yes"]).run().ok();
}

#[test]
fn two_labs_side_by_side_are_destroyed_independently() {
    let a = SandboxLab::new(1);
    let b = SandboxLab::new(1);
    a.lab().args(["up", "--no-provision"]).run().ok();
    b.lab().args(["up", "--no-provision"]).run().ok();
    assert_eq!(a.ssh(11, "hostname").ok().stdout.trim(), "node1");
    assert_eq!(b.ssh(11, "hostname").ok().stdout.trim(), "node1");
    a.lab().args(["destroy", "--yes"]).run().ok();
    assert!(a.traces().is_empty(), "{:?}", a.traces());
    assert!(!a.dir.path().join(".lab").exists());
    assert_eq!(b.ssh(10, "hostname").ok().stdout.trim(), "master", "destroying one lab hurt the other");
    b.lab().args(["destroy", "--yes"]).run().ok();
    assert!(b.traces().is_empty(), "{:?}", b.traces());
    // Twice is a no-op.
    let again = b.lab().args(["destroy", "--yes"]).run().ok();
    assert!(again.stderr.contains("nothing to destroy"), "{}", again.stderr);
}

#[test]
fn a_damaged_state_file_does_not_stop_destroy() {
    let lab = SandboxLab::new(1);
    lab.lab().args(["up", "--no-provision"]).run().ok();
    let bridge = bridge_of(&lab);
    std::fs::write(lab.state().join("state.json"), "{ not json").expect("write");
    let out = lab.lab().args(["destroy", "--yes"]).run().ok();
    assert!(out.stderr.contains("damaged") && out.stderr.contains("by its marks"), "{}", out.stderr);
    assert!(out.stderr.contains(&bridge), "destroy did not show what it would remove:\n{}", out.stderr);
    assert!(lab.traces().is_empty(), "{:?}", lab.traces());
    assert!(!lab.dir.path().join(".lab").exists());
}

#[test]
fn a_test_that_fails_half_way_still_leaves_nothing() {
    let (name, dir) = {
        let lab = SandboxLab::new(1);
        let name = lab.name.clone();
        let dir = lab.dir.path().display().to_string();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            lab.lab().args(["up", "--no-provision"]).run().ok();
            panic!("simulated failure half-way through a test");
        }));
        assert!(result.is_err());
        (name, dir)
    };
    assert!(traces_of(&name, &dir).is_empty(), "{:?}", traces_of(&name, &dir));
}

/// The bridge `lab up` would use, as `lab up --dry-run` names it.
fn bridge_of(lab: &SandboxLab) -> String {
    let plan = lab.lab().args(["up", "--dry-run"]).run().ok();
    let line = plan.stdout.lines().find(|l| l.contains(" bridge ")).unwrap_or_else(|| panic!("no bridge step in:\n{}", plan.stdout));
    line.split_whitespace().find(|w| w.starts_with("lab-")).expect("bridge name").to_string()
}

#[test]
fn refuses_a_bridge_it_does_not_own_and_a_subnet_in_use() {
    let lab = SandboxLab::new(1);
    let bridge = bridge_of(&lab);
    assert!(bridge.len() <= 15 && bridge.starts_with("lab-"), "{bridge}");
    assert!(Command::new("ip").args(["link", "add", &bridge, "type", "bridge"]).status().expect("ip").success());
    let out = lab.lab().args(["up", "--no-provision"]).run().expect_code(1);
    assert!(out.stderr.contains("lab does not own it") && out.stderr.contains(&format!("ip link del {bridge}")), "{}", out.stderr);
    let _ = Command::new("ip").args(["link", "del", &bridge]).status();

    let dummy = format!("ld{}", std::process::id() % 100_000);
    assert!(Command::new("ip").args(["link", "add", &dummy, "type", "bridge"]).status().expect("ip").success());
    let _ = Command::new("ip").args(["addr", "add", &format!("{}/24", lab.ip(200)), "dev", &dummy]).status();
    let out = lab.lab().args(["up", "--no-provision"]).run();
    let _ = Command::new("ip").args(["link", "del", &dummy]).status();
    let out = out.expect_code(1);
    assert!(out.stderr.contains("already in use on this machine") && out.stderr.contains(&dummy), "{}", out.stderr);
}

#[test]
fn refuses_to_run_without_root_and_says_how() {
    let lab = SandboxLab::new(1);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(lab.dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", crate::support::lab_bin(), "up"])
        .current_dir(lab.dir.path())
        .output()
        .expect("setpriv (util-linux)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("needs root") && stderr.contains("sudo lab up"), "{stderr}");
    assert!(!lab.dir.path().join(".lab").exists());
}
