//! The `existing` provider on machines the test builds itself, outside lab: namespaces with an
//! overlay root, an `admin` account with the test's key and sudo, and sshd with a host key the
//! test generated.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::support::Lab;

static NEXT: AtomicU32 = AtomicU32::new(0);

const BOOT: &str = r#"set -eu
D=$1; IP=$2; NAME=$3
mount --make-rprivate /
mount -t overlay outside -o lowerdir=/,upperdir=$D/up,workdir=$D/work $D/root
R=$D/root
mount -t proc proc $R/proc; mount --rbind /dev $R/dev; mount -t sysfs sysfs $R/sys
mount -t tmpfs tmpfs $R/tmp; mount -t tmpfs tmpfs $R/run; mkdir -p $R/run/sshd
hostname $NAME; echo $NAME > $R/etc/hostname
printf '127.0.0.1 localhost\n' > $R/etc/hosts
chroot $R sh -c 'id -u admin >/dev/null 2>&1 || useradd -m -s /bin/bash admin; usermod -p "*" admin'
chroot $R install -d -m 700 -o admin -g admin /home/admin/.ssh
cp $D/../admin.pub $R/home/admin/.ssh/authorized_keys; chroot $R chown admin:admin /home/admin/.ssh/authorized_keys
echo 'admin ALL=(ALL) NOPASSWD: ALL' > $R/etc/sudoers.d/admin
H=""
for k in $D/hostkey*; do
  case $k in *.pub) continue ;; esac
  cp $k $R/etc/ssh/outside_$(basename $k); chmod 600 $R/etc/ssh/outside_$(basename $k); H="$H -h /etc/ssh/outside_$(basename $k)"
done
exec chroot $R /usr/sbin/sshd -D -e -o ListenAddress=$IP $H -o UsePAM=no -o PasswordAuthentication=no -o PermitRootLogin=no
"#;

/// Machines that lab did not create.
pub struct Outside {
    dir: tempfile::TempDir,
    pub tag: String,
    pub net: String,
    pub nodes: Vec<(String, String)>,
}

fn sh(cmd: &str) {
    let ok = Command::new("sh").args(["-c", cmd]).status().expect("sh").success();
    assert!(ok, "failed: {cmd}");
}

impl Outside {
    pub fn new(workers: usize) -> Self {
        Self::with_host_keys(workers, &["ed25519"], false)
    }

    /// Machines whose sshd has host keys of these types (the first is `hostkey`, the others
    /// `hostkey_<type>`), the same on every machine when `shared` (clones made without new
    /// keys). With more than the one ed25519 key, `known_hosts` is what `ssh-keyscan` writes.
    pub fn with_host_keys(workers: usize, types: &[&str], shared: bool) -> Self {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let tag = format!("ex{}{n}", std::process::id() % 10_000);
        let net = format!("10.{}.{}", 150 + n, std::process::id() % 250);
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().to_path_buf();
        sh(&format!("ssh-keygen -q -t ed25519 -N '' -f {}/admin", d.display()));
        sh(&format!("ip link add {tag} type bridge && ip addr add {net}.1/24 dev {tag} && ip link set {tag} up"));
        let mut nodes = vec![("master".to_string(), format!("{net}.10"))];
        for w in 1..=workers {
            nodes.push((format!("node{w}"), format!("{net}.{}", 10 + w)));
        }
        let me = Self { dir, tag, net, nodes };
        let mut known = String::new();
        for (i, (name, ip)) in me.nodes.iter().enumerate() {
            let nd = d.join(name);
            for sub in ["up", "work", "root"] {
                std::fs::create_dir_all(nd.join(sub)).expect("mkdir");
            }
            for (j, t) in types.iter().enumerate() {
                let file = if j == 0 { "hostkey".to_string() } else { format!("hostkey_{t}") };
                if shared && i > 0 {
                    for suffix in ["", ".pub"] {
                        std::fs::copy(d.join(&me.nodes[0].0).join(format!("{file}{suffix}")), nd.join(format!("{file}{suffix}"))).expect("copy key");
                    }
                } else {
                    sh(&format!("ssh-keygen -q -t {t} -N '' -f {}/{file}", nd.display()));
                }
            }
            let ns = format!("{}-{name}", me.tag);
            sh(&format!(
                "ip netns add {ns} && ip link add {t}v{i} type veth peer name eth0 netns {ns} && ip link set {t}v{i} master {t} && ip link set {t}v{i} up \
                 && ip -n {ns} addr add {ip}/24 dev eth0 && ip -n {ns} link set eth0 up && ip -n {ns} link set lo up",
                t = me.tag
            ));
            std::fs::write(nd.join("boot.sh"), BOOT).expect("boot");
            let mut child = Command::new("setsid")
                .args(["ip", "netns", "exec", &ns, "unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child", "sh"])
                .arg(nd.join("boot.sh"))
                .args([nd.to_str().expect("utf-8"), ip, name])
                .stdout(std::fs::File::create(nd.join("log")).expect("log"))
                .stderr(std::process::Stdio::null())
                .stdin(std::process::Stdio::null())
                .spawn()
                .expect("start node");
            // Reaped when it ends (the test kills it in Drop).
            std::thread::spawn(move || child.wait());
            let public = std::fs::read_to_string(nd.join("hostkey.pub")).expect("pub");
            known.push_str(&format!("{ip} {}\n", public.split_whitespace().take(2).collect::<Vec<_>>().join(" ")));
        }
        for (_, ip) in &me.nodes {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while std::net::TcpStream::connect((ip.as_str(), 22)).is_err() {
                assert!(std::time::Instant::now() < deadline, "outside node {ip} did not start");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        if types != ["ed25519"] {
            // As people make it: every key of every machine, as ssh-keyscan writes them.
            let ips: Vec<&str> = me.nodes.iter().map(|(_, ip)| ip.as_str()).collect();
            let scan = Command::new("ssh-keyscan").args(["-T", "5"]).args(&ips).output().expect("ssh-keyscan");
            known = String::from_utf8_lossy(&scan.stdout).into_owned();
            for t in types {
                let name = if *t == "ecdsa" { "ecdsa-sha2-nistp256".to_string() } else { format!("ssh-{t}") };
                assert!(known.contains(&name), "ssh-keyscan found no {name} key:\n{known}");
            }
        }
        std::fs::write(d.join("known_hosts"), known).expect("known_hosts");
        me
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn lab_file(&self, known_hosts: bool, extra: &str) -> PathBuf {
        let nodes: String =
            self.nodes.iter().map(|(n, ip)| format!("  - {{name: {n}, role: {}, ip: {ip}}}\n", if n == "master" { "master" } else { "worker" })).collect();
        let known = if known_hosts { format!("  known_hosts: {}/known_hosts\n", self.path().display()) } else { String::new() };
        let text = format!(
            "name: {}\nprovider: existing\nnetwork:\n  cidr: {}.0/24\nnodes:\n{nodes}existing:\n  login: admin\n  identity_file: {}/admin\n{known}{extra}",
            self.tag,
            self.net,
            self.path().display()
        );
        let labdir = self.path().join("lab");
        std::fs::create_dir_all(&labdir).expect("mkdir");
        std::fs::write(labdir.join("lab.yaml"), text).expect("lab.yaml");
        labdir
    }

    pub fn as_admin(&self, ip: &str, cmd: &str) -> std::process::Output {
        Command::new("ssh")
            .args(["-i", &format!("{}/admin", self.path().display()), "-o", &format!("UserKnownHostsFile={}/known_hosts", self.path().display())])
            .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", &format!("admin@{ip}"), cmd])
            .output()
            .expect("ssh")
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        for (name, _) in &self.nodes {
            let ns = format!("{}-{name}", self.tag);
            let pids = Command::new("ip").args(["netns", "pids", &ns]).output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
            for p in pids.split_whitespace() {
                let _ = Command::new("kill").args(["-9", p]).status();
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
            let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        }
        let _ = Command::new("ip").args(["link", "del", &self.tag]).status();
    }
}

fn fingerprint_of(m: &Outside, node: &str) -> String {
    let fp = Command::new("ssh-keygen").args(["-lf", &format!("{}/{node}/hostkey.pub", m.path().display())]).output().expect("ssh-keygen");
    String::from_utf8_lossy(&fp.stdout).split_whitespace().nth(1).expect("fingerprint").to_string()
}

/// Host keys as most servers have them: RSA (alone, or with ECDSA and Ed25519), the same on
/// every machine or each its own, `known_hosts` from `ssh-keyscan`; every node logged into at
/// once (`lab up` as the lab's login, then `lab run` and `lab ssh` as the lab user), 20 rounds:
/// every login works.
#[test]
fn rsa_host_keys_log_in_every_time() {
    for (types, shared) in [(&["rsa"][..], true), (&["rsa", "ecdsa", "ed25519"][..], true), (&["rsa", "ecdsa", "ed25519"][..], false), (&["rsa"][..], false)] {
        let m = Outside::with_host_keys(2, types, shared);
        let dir = m.lab_file(true, "java:\n  version: 17\n  install: package\nspark:\n  version: 3.5.7\n  url: http://127.0.0.1:9/spark-3.5.7-bin-hadoop3.tgz\n  checksum_url: http://127.0.0.1:9/x.sha512\n");
        for round in 1..=20 {
            let out = Lab::new(&dir).args(["up", "--no-provision"]).run();
            assert_eq!(out.code, 0, "{types:?} shared={shared}, round {round}: {}", out.stderr);
            let out = Lab::new(&dir).args(["run", "--", "hostname"]).run();
            assert_eq!(out.code, 0, "{types:?} shared={shared}, round {round}: lab run: {}", out.stderr);
            let out = Lab::new(&dir).args(["ssh", "node2", "--", "hostname"]).run();
            assert_eq!(out.stdout, "node2\n", "{types:?} shared={shared}, round {round}: lab ssh: {}", out.stderr);
        }
        Lab::new(&dir).args(["destroy", "--yes"]).run().ok();
    }
}

#[test]
fn host_keys_are_never_learned_silently() {
    let m = Outside::new(1);
    let dir = m.lab_file(false, "java:\n  version: 17\n  install: package\nspark:\n  version: 3.5.7\n  url: http://127.0.0.1:9/spark-3.5.7-bin-hadoop3.tgz\n  checksum_url: http://127.0.0.1:9/x.sha512\n");
    let fps = [fingerprint_of(&m, "master"), fingerprint_of(&m, "node1")];
    let out = Lab::new(&dir).args(["up", "--no-provision"]).run().expect_code(1);
    assert!(out.stderr.contains("no host key is known") && out.stderr.contains("--accept-host-keys"), "{}", out.stderr);

    // On a terminal, lab asks before it records, showing what it would record; "no" records
    // nothing.
    let term = crate::support::term::Term::lab(&format!("{}-n", m.tag), 160, 30, &dir, &[], "up --no-provision --accept-host-keys");
    let screen = term.wait_for("the question", Duration::from_secs(60), |s| s.contains("Record host key"));
    assert!(fps.iter().any(|fp| screen.contains(&format!("Record host key {fp}"))), "{screen}");
    term.type_line("n");
    // Each node is its own question.
    term.wait_for("the second question", Duration::from_secs(60), |s| s.matches("Record host key").count() >= 2);
    term.type_line("n");
    let screen = term.wait_for("lab to end", Duration::from_secs(60), |_| term.status().is_some());
    assert_ne!(term.status().as_deref(), Some("exit=0"), "{screen}");
    assert!(screen.contains("was not recorded"), "{screen}");
    drop(term);
    Lab::new(&dir).args(["ssh", "master", "--", "true"]).run().expect_code(1);
    // "yes" to both records both, and lab goes on.
    let term = crate::support::term::Term::lab(&format!("{}-y", m.tag), 160, 30, &dir, &[], "up --no-provision --accept-host-keys");
    for i in 1..=2 {
        term.wait_for(&format!("question {i}"), Duration::from_secs(60), |s| s.matches("Record host key").count() >= i);
        term.type_line("y");
    }
    let screen = term.wait_for("lab to end", Duration::from_secs(120), |_| term.status().is_some());
    assert_eq!(term.status().as_deref(), Some("exit=0"), "{screen}");
    drop(term);
    assert_eq!(Lab::new(&dir).args(["ssh", "node1", "--", "id -un; hostname"]).run().ok().stdout, "spark\nnode1\n");
    Lab::new(&dir).args(["destroy", "--yes"]).run().ok();

    // Without a terminal, the flag is the answer, and the fingerprints are shown even with -q or
    // --json: a record of what was trusted.
    for quiet in ["-q", "--json"] {
        let out = Lab::new(&dir).args([quiet, "up", "--no-provision", "--accept-host-keys"]).run().ok();
        for fp in &fps {
            assert!(out.stderr.contains(fp.as_str()), "{quiet}: the recorded key's fingerprint is not shown:\n{}", out.stderr);
        }
        assert_eq!(Lab::new(&dir).args(["ssh", "node1", "--", "id -un; hostname"]).run().ok().stdout, "spark\nnode1\n");
        Lab::new(&dir).args(["destroy", "--yes"]).run().ok();
    }
}

#[test]
fn provisions_machines_it_did_not_create_and_leaves_them_running() {
    let _one_cluster_at_a_time = crate::support::heavy();
    let m = Outside::new(2);
    let f = crate::support::fixtures();
    let served = tempfile::tempdir().expect("tmp");
    for name in ["spark-3.5.7-bin-hadoop3.tgz", "spark-3.5.7-bin-hadoop3.tgz.sha512"] {
        std::fs::hard_link(f.join(name), served.path().join(name)).expect("link");
    }
    let server = crate::support::http::FileServer::start(served.path());
    let software = format!(
        "java:\n  version: 17\n  install: package\nspark:\n  version: 3.5.7\n  url: {}\n  checksum_url: {}\n  worker_cores: 1\n  worker_memory: 512m\nverify:\n  spark_shell: false\n",
        server.url("spark-3.5.7-bin-hadoop3.tgz"),
        server.url("spark-3.5.7-bin-hadoop3.tgz.sha512")
    );
    // The account is theirs and meant for the lab: the lab file says lab may take it.
    let dir = m.lab_file(true, &format!("  take_account: true\n{software}"));
    // What the owners had before lab came: Debian's own loopback line for the host name, their
    // own `java` in /usr/local/bin, their own /opt/spark folder, and the account lab is told to
    // use, with their own key in it.
    let own_key = std::fs::read_to_string(m.path().join("admin.pub")).expect("admin.pub");
    let before = "grep -n . /etc/hosts; cat /usr/local/bin/java; ls -l --time-style=+ /opt/spark; cat /opt/spark/notes.txt; cat ~spark/.ssh/authorized_keys; id -u spark";
    let mut was = Vec::new();
    for (name, ip) in &m.nodes {
        let setup = format!(
            "set -e; echo '127.0.1.1 {name}.example.org {name}' | sudo tee -a /etc/hosts >/dev/null; \
             printf '#!/bin/sh\\necho my own java\\n' | sudo tee /usr/local/bin/java >/dev/null; sudo chmod 755 /usr/local/bin/java; \
             sudo mkdir -p /opt/spark; echo 'my notes' | sudo tee /opt/spark/notes.txt >/dev/null; \
             sudo useradd -m -s /bin/bash spark; echo spark:their-own-password | sudo chpasswd; sudo install -d -m 700 -o spark -g spark ~spark/.ssh; \
             echo '{}' | sudo tee ~spark/.ssh/authorized_keys >/dev/null; sudo chown spark:spark ~spark/.ssh/authorized_keys; sudo chmod 600 ~spark/.ssh/authorized_keys",
            own_key.trim()
        );
        let out = m.as_admin(ip, &setup);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out = m.as_admin(ip, &format!("sudo sh -c '{before}'"));
        was.push(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let cache = tempfile::tempdir().expect("cache");
    let c = cache.path().to_str().expect("utf-8");
    let plan = crate::support::planned(Lab::new(&dir).args(["--json", "up", "--dry-run"]));
    let out = Lab::new(&dir).env("LAB_CACHE_DIR", c).args(["-v", "up"]).run().ok();
    crate::support::assert_plan_is_what_ran(&plan, &out.stderr);
    let v = Lab::new(&dir).args(["--json", "verify"]).run();
    assert_eq!(v.code, 0, "{}\n{}", v.stdout, v.stderr);
    let status = Lab::new(&dir).args(["status"]).run().ok();
    assert!(status.stdout.contains("Master running") && status.stdout.contains("Worker running"), "{}", status.stdout);
    // While the lab stands, the master's name resolves to its lab address, not the loopback.
    let hosts = m.as_admin(&m.nodes[0].1, "getent ahostsv4 master | head -n 1");
    assert!(String::from_utf8_lossy(&hosts.stdout).starts_with(&m.nodes[0].1), "{}", String::from_utf8_lossy(&hosts.stdout));
    // Machines that are not lab's have no lab snapshots: refused, saying why.
    let snap = Lab::new(&dir).args(["snapshot", "save", "x"]).run();
    assert_eq!(snap.code, 2, "{}", snap.stderr);
    assert!(snap.stderr.contains("existing provider's machines are not lab's"), "{}", snap.stderr);
    Lab::new(&dir).args(["destroy", "--yes"]).run().ok();
    // The machines still run, and hold exactly what their owners had: lab's files are gone,
    // what it replaced is back, the account it did not create is still there with only its
    // owner's key.
    for ((name, ip), was) in m.nodes.iter().zip(&was) {
        let out = m.as_admin(ip, &format!("sudo sh -c '{before}'"));
        assert_eq!(&String::from_utf8_lossy(&out.stdout), was, "{name} is not as lab found it");
        let out = m.as_admin(
            ip,
            "ls /opt; ls /etc/profile.d; ls /usr/local/bin; ls /etc/sudoers.d; ps -eo pid,user,args | grep '[o]rg.apache.spark' || echo no-spark-running",
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!text.contains("spark-3.5.7") && !text.contains("lab-") && !text.contains(".lab-orig") && text.contains("no-spark-running"), "{name}: {text}");
    }
    assert!(!dir.join(".lab").exists());
}

#[test]
fn an_existing_system_account_is_never_taken() {
    let m = Outside::new(1);
    let dir = m.lab_file(
        true,
        "user: www-data\njava:\n  version: 17\n  install: package\nspark:\n  version: 3.5.7\n  url: http://127.0.0.1:9/spark-3.5.7-bin-hadoop3.tgz\n  checksum_url: http://127.0.0.1:9/s.sha512\n",
    );
    let out = Lab::new(&dir).args(["up", "--no-provision"]).run().expect_code(1);
    assert!(out.stderr.contains("www-data") && out.stderr.contains("system account"), "{}", out.stderr);
    let after = m.as_admin(&m.nodes[0].1, "sudo ls /etc/sudoers.d; sudo ls -a ~www-data");
    let text = String::from_utf8_lossy(&after.stdout).into_owned();
    assert!(!text.contains("lab") && !text.contains(".ssh"), "lab changed the system account's machine: {text}");
    // A person's account is taken only when the lab file says so (existing.take_account).
    m.as_admin(&m.nodes[0].1, "sudo useradd -m -s /bin/bash alice");
    let dir = m.lab_file(true, "user: alice\njava:\n  version: 17\n  install: package\nspark:\n  version: 3.5.7\n  url: http://127.0.0.1:9/spark-3.5.7-bin-hadoop3.tgz\n  checksum_url: http://127.0.0.1:9/s.sha512\n");
    let out = Lab::new(&dir).args(["up", "--no-provision"]).run().expect_code(1);
    assert!(out.stderr.contains("`user: alice` names an account that already exists") && out.stderr.contains("take_account: true"), "{}", out.stderr);
    let after = m.as_admin(&m.nodes[0].1, "sudo ls /etc/sudoers.d; sudo ls -a ~alice");
    let text = String::from_utf8_lossy(&after.stdout).into_owned();
    assert!(!text.contains("lab") && !text.contains(".ssh"), "lab changed alice's account: {text}");
}
