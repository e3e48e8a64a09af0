//! The VirtualBox provider end to end through the VBoxManage stand-in (tests/vboxmanage-standin):
//! everything after a VM boots is real (namespaces, sshd, Java, Spark).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::http::FileServer;
use crate::support::{Lab, digest_in, fixtures, repo};

pub fn standin() -> PathBuf {
    let p = repo().join("target/debug/VBoxManage");
    assert!(p.is_file(), "the VBoxManage stand-in is not built: run `cargo build -p vboxmanage-standin` (`bash tests/run.sh` does)");
    p
}

/// A lab folder, the stand-in's world and the fixture server; on drop, everything is removed
/// even if the test failed half-way. Its host-only subnet is one of the eight VirtualBox allows
/// without networks.conf (192.168.56-63.0/24), reserved for the test's life by a lock file so
/// parallel tests (and test processes) never share one.
pub struct VboxLab {
    /// The lab folder.
    pub dir: PathBuf,
    _root: tempfile::TempDir,
    world: tempfile::TempDir,
    _server: FileServer,
    _served: tempfile::TempDir,
    cache: tempfile::TempDir,
    pub name: String,
    pub subnet: u8,
    version: Option<String>,
    /// The host the stand-in plays (`VBOXSTANDIN_HOST`): Linux unless told.
    host: Option<String>,
    _net_lock: std::fs::File,
    _shared: Option<std::sync::RwLockReadGuard<'static, ()>>,
    /// Another lab's stand-in world and cache, when this lab shares them (`sharing`).
    world_at: Option<PathBuf>,
    cache_at: Option<PathBuf>,
}

/// Stand-in worlds of parallel tests share the host's bridges and routes (a fresh vboxnetN
/// holds 192.168.(56+N).1 for a moment, as in VirtualBox); a test that kills lab at every
/// call takes the stand-in for itself (`alone`), the others share it.
static WORLDS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Holds the stand-in for one test alone while it lives.
pub fn alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    WORLDS.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Waits for a free subnet among 192.168.56-63.0/24 and holds it.
fn reserve_subnet() -> (u8, std::fs::File) {
    let dir = std::env::temp_dir().join("lab-test-nets");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let used = String::from_utf8_lossy(&Command::new("ip").args(["-4", "-o", "addr", "show"]).output().expect("ip").stdout).into_owned();
        for s in 56..=63u8 {
            if used.contains(&format!(" 192.168.{s}.")) {
                continue;
            }
            let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(format!("192.168.{s}"))).expect("lock file");
            if f.try_lock().is_ok() {
                return (s, f);
            }
        }
        assert!(Instant::now() < deadline, "no free host-only subnet in 192.168.56.0/21 for 15 minutes");
        std::thread::sleep(Duration::from_millis(500));
    }
}

impl VboxLab {
    pub fn new(tag: &str, install_seconds: u32) -> Self {
        Self::build(tag, install_seconds, 2, None, "")
    }

    /// A lab `vb<tag>` with `workers` workers, the stand-in playing VirtualBox `version`
    /// (default: its own), in the folder `subdir` under a temporary folder.
    pub fn build(tag: &str, install_seconds: u32, workers: usize, version: Option<&str>, subdir: &str) -> Self {
        let shared = WORLDS.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut me = Self::build_in(tag, install_seconds, workers, version, subdir);
        me._shared = Some(shared);
        me
    }

    /// A lab for a test that holds [`alone`].
    pub fn build_in(tag: &str, install_seconds: u32, workers: usize, version: Option<&str>, subdir: &str) -> Self {
        let (subnet, net_lock) = reserve_subnet();
        let f = fixtures();
        let served = tempfile::tempdir().expect("tmp");
        for name in ["jdk-17-lab.tar.gz", "spark-3.5.7-bin-hadoop3.tgz", "spark-3.5.7-bin-hadoop3.tgz.sha512"] {
            std::fs::hard_link(f.join(name), served.path().join(name)).expect("link");
        }
        // The OS DVD: the stand-in's Anaconda reads its repositories from its `.treeinfo`.
        let iso = crate::support::dvd::install_iso("CentOS-Stream-9-BaseOS-x86_64", crate::support::dvd::DVD, 2_000_000);
        std::fs::write(served.path().join("CentOS-Stream-9-latest-x86_64-dvd1.iso"), &iso).expect("iso");
        let iso_sum = {
            use sha2::Digest;
            format!("{:x}", sha2::Sha256::digest(&iso))
        };
        let server = FileServer::start(served.path());
        let root = tempfile::tempdir().expect("tmp");
        let dir = root.path().join(subdir);
        std::fs::create_dir_all(&dir).expect("lab folder");
        let name = format!("vb{tag}");
        let text = format!(
            "name: {name}\nprovider: virtualbox\nimage: centos-stream-9\noffline: true\niso:\n  url: {}\n  sha256: {iso_sum}\nnetwork:\n  cidr: 192.168.{subnet}.0/24\n  host: 192.168.{subnet}.1\nworkers: {workers}\ninstall: per-node\n\
             java:\n  version: 17\n  install: tarball\n  url: {}\n  sha256: {}\nspark:\n  version: 3.5.7\n  url: {}\n  checksum_url: {}\n  worker_cores: 1\n  worker_memory: 512m\n  history: false\n",
            server.url("CentOS-Stream-9-latest-x86_64-dvd1.iso"),
            server.url("jdk-17-lab.tar.gz"),
            digest_in(&f.join("jdk-17-lab.tar.gz.sha256")),
            server.url("spark-3.5.7-bin-hadoop3.tgz"),
            server.url("spark-3.5.7-bin-hadoop3.tgz.sha512"),
        );
        std::fs::write(dir.join("lab.yaml"), text).expect("lab.yaml");
        let me = Self {
            dir,
            _root: root,
            world: tempfile::tempdir().expect("tmp"),
            _server: server,
            _served: served,
            cache: tempfile::tempdir().expect("tmp"),
            name,
            subnet,
            version: version.map(str::to_string),
            host: None,
            _net_lock: net_lock,
            _shared: None,
            world_at: None,
            cache_at: None,
        };
        std::fs::write(me.world.path().join("install-seconds"), install_seconds.to_string()).expect("write");
        me
    }

    /// The lab file leaves the install mode to lab: a base image and linked clones.
    pub fn with_base(self) -> Self {
        let file = self.dir.join("lab.yaml");
        let text = std::fs::read_to_string(&file).expect("lab.yaml").replace("install: per-node\n", "");
        std::fs::write(&file, text).expect("lab.yaml");
        self
    }

    /// The OS ISO carries only these repositories (its `.treeinfo`), e.g. a minimal ISO's.
    pub fn with_install_iso(self, variants: &[&str]) -> Self {
        use sha2::Digest;
        let iso = crate::support::dvd::install_iso("Minimal-9-x86_64", variants, 2_000_000);
        std::fs::write(self._served.path().join("CentOS-Stream-9-latest-x86_64-dvd1.iso"), &iso).expect("iso");
        let file = self.dir.join("lab.yaml");
        let text = std::fs::read_to_string(&file).expect("lab.yaml");
        let old = text.lines().find(|l| l.starts_with("  sha256: ")).expect("the ISO's sha256").to_string();
        let text = text.replacen(&old, &format!("  sha256: {:x}", sha2::Sha256::digest(&iso)), 1);
        std::fs::write(&file, text).expect("lab.yaml");
        self
    }

    /// The lab installs over the network, as the default lab does: a boot ISO (the installer,
    /// no repositories) and the packages from a mirror served here, laid out as the
    /// distribution's (`BaseOS/x86_64/os/`, `AppStream/x86_64/os/`, each with `repodata/` and
    /// `Packages/<letter>/`). Returns the mirror's URL.
    pub fn with_network_install(self) -> (Self, String) {
        use sha2::Digest;
        let served = self._served.path();
        let iso = crate::support::dvd::install_iso("CentOS-Stream-9-BaseOS-x86_64", &[], 1_000_000);
        std::fs::write(served.join("CentOS-Stream-9-latest-x86_64-dvd1.iso"), &iso).expect("boot iso");
        for (repo, pkgs) in [
            ("BaseOS", &["openssh-server", "tar", "which", "procps-ng", "python3", "bash", "rpm"][..]),
            ("AppStream", &["cloud-init", "java-17-openjdk-devel", "java-21-openjdk-devel"][..]),
        ] {
            let root = served.join("mirror").join(repo).join("x86_64/os");
            std::fs::create_dir_all(root.join("repodata")).expect("repodata");
            let mut primary = String::from("<?xml version=\"1.0\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\">\n");
            for p in pkgs {
                let href = format!("Packages/{}/{p}-1.0-1.el9.x86_64.rpm", &p[..1]);
                std::fs::create_dir_all(root.join(&href).parent().expect("dir")).expect("Packages");
                std::fs::write(root.join(&href), format!("an rpm of {p}\n").repeat(100)).expect("rpm");
                primary += &format!("<package type=\"rpm\"><name>{p}</name><arch>x86_64</arch><location href=\"{href}\"/></package>\n");
            }
            primary += "</metadata>\n";
            std::fs::write(root.join("repodata/primary.xml"), primary).expect("primary");
            std::fs::write(
                root.join("repodata/repomd.xml"),
                "<?xml version=\"1.0\"?>\n<repomd><data type=\"primary\"><location href=\"repodata/primary.xml\"/></data></repomd>\n",
            )
            .expect("repomd");
        }
        let mirror = self._server.url("mirror/");
        let file = self.dir.join("lab.yaml");
        let text = std::fs::read_to_string(&file).expect("lab.yaml").replace("offline: true\n", &format!("mirror: {mirror}\n"));
        let old = text.lines().find(|l| l.starts_with("  sha256: ")).expect("the ISO's sha256").to_string();
        let text = text.replacen(&old, &format!("  sha256: {:x}", sha2::Sha256::digest(&iso)), 1);
        std::fs::write(&file, text).expect("lab.yaml");
        (self, mirror)
    }

    /// Requests the lab's file server answered for `path` (below its root).
    pub fn served(&self, path: &str) -> usize {
        self._server.requests(path)
    }

    /// A file the lab's file server serves.
    pub fn served_path(&self, path: &str) -> std::path::PathBuf {
        self._served.path().join(path)
    }

    /// This lab uses `other`'s VirtualBox (stand-in world) and download cache, as a second lab
    /// on the same computer does.
    pub fn sharing(mut self, other: &VboxLab) -> Self {
        self.world_at = Some(other.world().to_path_buf());
        self.cache_at = Some(other.cache_dir().to_path_buf());
        self
    }

    pub fn cache_dir(&self) -> &std::path::Path {
        self.cache_at.as_deref().unwrap_or(self.cache.path())
    }

    /// The stand-in plays VirtualBox on `host` (`windows`, `macos`).
    pub fn on_host(mut self, host: &str) -> Self {
        self.host = Some(host.to_string());
        self
    }

    /// An address of the lab network: `.host`.
    pub fn ip(&self, host: u8) -> String {
        format!("192.168.{}.{host}", self.subnet)
    }

    /// The stand-in, run directly in this lab's world.
    pub fn standin(&self, args: &[&str]) -> std::process::Output {
        let mut c = Command::new(standin());
        c.args(args).env("VBOXSTANDIN_HOME", self.world());
        if let Some(v) = &self.version {
            c.env("VBOXSTANDIN_VERSION", v);
        }
        if let Some(h) = &self.host {
            c.env("VBOXSTANDIN_HOST", h);
        }
        c.output().expect("standin")
    }

    /// The environment lab runs in: the stand-in, its world, a cache of the test's own.
    pub fn env(&self) -> Vec<(String, String)> {
        let secs = std::fs::read_to_string(self.world().join("install-seconds")).unwrap_or_default();
        vec![
            ("VBOXMANAGE".into(), standin().to_str().expect("utf-8").into()),
            ("VBOXSTANDIN_HOME".into(), self.world().to_str().expect("utf-8").into()),
            ("VBOXSTANDIN_INSTALL_SECONDS".into(), secs.trim().into()),
            ("LAB_CACHE_DIR".into(), self.cache_dir().to_str().expect("utf-8").into()),
            ("NO_PROXY".into(), "127.0.0.1".into()),
            // The installer's boot menu shows 1 s after power-on; lab types its keys after 2.
            ("LAB_BOOT_KEYS_DELAY".into(), "2".into()),
            // A regression that leaves a VM waiting fails in minutes, not in lab's hour.
            ("LAB_INSTALL_TIMEOUT".into(), "300".into()),
            ("LAB_BOOT_TIMEOUT".into(), "180".into()),
        ]
        .into_iter()
        .chain(self.version.iter().map(|v| ("VBOXSTANDIN_VERSION".to_string(), v.clone())))
        .chain(self.host.iter().map(|h| ("VBOXSTANDIN_HOST".to_string(), h.clone())))
        // On Windows lab reads the ANSI code page VBoxManage writes in from the system (GetACP's
        // registry value); here lab runs on Linux, so the test tells it the stand-in's (1252).
        .chain(self.host.iter().filter(|h| *h == "windows").map(|_| ("LAB_VBOXMANAGE_CODEPAGE".to_string(), "1252".to_string())))
        .collect()
    }

    pub fn lab(&self) -> Lab {
        self.env().into_iter().fold(Lab::new(&self.dir), |l, (k, v)| l.env(&k, &v))
    }

    pub fn calls(&self, prefix: &str) -> usize {
        std::fs::read_to_string(self.world().join("calls.log")).unwrap_or_default().lines().filter(|l| l.starts_with(prefix)).count()
    }

    pub fn world(&self) -> &std::path::Path {
        self.world_at.as_deref().unwrap_or(self.world.path())
    }

    /// What the stand-in holds, and guests still running: empty when everything is gone.
    pub fn leftovers(&self) -> Vec<String> {
        let w = self.world_json();
        let mut left: Vec<String> = w["vms"].as_array().into_iter().flatten().map(|v| format!("VM {}", v["name"])).collect();
        left.extend(w["hostonlyifs"].as_array().into_iter().flatten().map(|i| format!("host-only interface {}", i["name"])));
        left.extend(w["hostonlynets"].as_array().into_iter().flatten().map(|n| format!("host-only network {}", n["name"])));
        left.extend(w["disks"].as_object().into_iter().flatten().map(|(p, _)| format!("disk {p}")));
        let ns = String::from_utf8_lossy(&Command::new("ip").args(["netns", "list"]).output().expect("ip").stdout).into_owned();
        for vm in w["vms"].as_array().into_iter().flatten() {
            let short: String = vm["uuid"].as_str().unwrap_or("").chars().filter(char::is_ascii_hexdigit).take(8).collect();
            if ns.contains(&format!("vbx-{short}")) {
                left.push(format!("guest vbx-{short}"));
            }
        }
        left
    }

    pub fn world_json(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.world().join("state.json")).unwrap_or_else(|_| "{}".into())).unwrap_or_default()
    }
}

impl Drop for VboxLab {
    fn drop(&mut self) {
        let _ = self.lab().args(["destroy", "--yes"]).run();
        // Whatever the stand-in still holds: guests, their namespaces, host-only bridges.
        let w = self.world_json();
        for vm in w["vms"].as_array().cloned().unwrap_or_default() {
            if let Some(pid) = vm["pid"].as_i64() {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
            let short: String = vm["uuid"].as_str().unwrap_or("").chars().filter(char::is_ascii_hexdigit).take(8).collect();
            let _ = Command::new("sh")
                .args(["-c", &format!("ip netns pids vbx-{short} 2>/dev/null | xargs -r kill -9; sleep 0.3; ip netns del vbx-{short} 2>/dev/null")])
                .status();
        }
        for i in w["hostonlyifs"].as_array().cloned().unwrap_or_default().into_iter().chain(w["hostonlynets"].as_array().cloned().unwrap_or_default()) {
            let bridge = i["bridge"].as_str().filter(|b| !b.is_empty()).or_else(|| i["name"].as_str()).unwrap_or("none");
            let _ = Command::new("ip").args(["link", "del", bridge]).status();
        }
    }
}

#[test]
fn virtualbox_lab_installs_boots_provisions_and_goes_away() {
    let _one_cluster_at_a_time = crate::support::heavy();
    let lab = VboxLab::new("61", 8);
    // The VM phase for 3 nodes with a 10 s install each runs in parallel.
    let start = Instant::now();
    let out = lab.lab().args(["up", "--no-provision"]).run().ok();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(15), "the VM phase took {took:?}:\n{}", out.stderr);
    assert_eq!(lab.calls("createvm"), 3);
    for n in ["master", "node1", "node2"] {
        assert!(out.stderr.contains(&format!("{n}: os_installed: done")), "{}", out.stderr);
    }
    // Then Spark, and proof it works; the plan is what runs.
    let plan = crate::support::planned(lab.lab().args(["--json", "up", "--dry-run"]));
    let full = lab.lab().args(["-v", "up"]).run().ok();
    crate::support::assert_plan_is_what_ran(&plan, &full.stderr);
    let v = lab.lab().args(["--json", "verify"]).run();
    assert_eq!(v.code, 0, "{}\n{}", v.stdout, v.stderr);
    assert_eq!(lab.lab().args(["ssh", "node1", "--", "hostname"]).run().ok().stdout, "node1\n");
    let status = lab.lab().args(["status"]).run().ok();
    assert!(status.stdout.contains("running") && status.stdout.contains("Worker running"), "{}", status.stdout);
    // The drives were emptied after the install, and the VMs carry lab's settings.
    let info = Command::new(standin())
        .args(["showvminfo", "lab-vb61-node1", "--machinereadable"])
        .env("VBOXSTANDIN_HOME", lab.world.path())
        .output()
        .expect("standin");
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    for want in ["\"SATA-1-0\"=\"emptydrive\"", "\"SATA-2-0\"=\"emptydrive\"", "nic2=\"hostonly\"", "groups=\"/lab-vb61\"", "boot1=\"disk\""] {
        assert!(info.contains(want), "{want} missing from:\n{info}");
    }
    // The MAC lab chose for the host-only NIC is recorded, and it is the one the VM has.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lab.dir.as_path().join(".lab/vb61/state.json")).expect("state")).expect("json");
    let macs = &state["made"]["vms"]["node1"]["macs"];
    let hostonly_mac = macs[1].as_str().expect("two recorded MACs");
    assert!(info.contains(&format!("macaddress2=\"{hostonly_mac}\"")), "{macs}\n{info}");

    // Halt keeps the VMs; up boots and re-converges without creating anything.
    lab.lab().args(["halt"]).run().ok();
    let halted = lab.lab().args(["--json", "status"]).run().ok();
    assert!(halted.stdout.contains("\"poweroff\""), "{}", halted.stdout);
    lab.lab().args(["up"]).run().ok();
    assert_eq!(lab.calls("createvm"), 3, "a VM was created again");
    assert_eq!(lab.lab().args(["ssh", "master", "--", "hostname"]).run().ok().stdout, "master\n");

    // Destroy leaves the stand-in with no VM, disk or host-only interface, and no guest of
    // this lab runs (other tests' guests may).
    let guests: Vec<String> = lab.world_json()["vms"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|vm| format!("vbx-{}", vm["uuid"].as_str().unwrap_or("").chars().filter(char::is_ascii_hexdigit).take(8).collect::<String>()))
        .collect();
    assert_eq!(guests.len(), 3);
    lab.lab().args(["destroy", "--yes"]).run().ok();
    let w = lab.world_json();
    assert_eq!(w["vms"].as_array().map(Vec::len), Some(0), "{w}");
    assert_eq!(w["hostonlyifs"].as_array().map(Vec::len), Some(0), "{w}");
    assert!(w["disks"].as_object().is_some_and(serde_json::Map::is_empty), "{w}");
    let ns = String::from_utf8_lossy(&Command::new("ip").args(["netns", "list"]).output().expect("ip").stdout).into_owned();
    assert!(guests.iter().all(|g| !ns.contains(g.as_str())), "guests survived destroy: {guests:?} in\n{ns}");
    assert!(!lab.dir.as_path().join(".lab").exists());
}

#[test]
fn an_interrupted_up_continues_without_recreating_vms() {
    let lab = VboxLab::new("62", 6);
    // VirtualBox sometimes reports a session lock for a moment: lab tries such calls again.
    std::fs::write(lab.world.path().join("fail"), "modifyvm lab-vb62-master\n").expect("fault");
    let mut child = std::process::Command::new(crate::support::lab_bin())
        .args(["up", "--no-provision"])
        .current_dir(lab.dir.as_path())
        .env("VBOXMANAGE", standin())
        .env("VBOXSTANDIN_HOME", lab.world.path())
        .env("VBOXSTANDIN_INSTALL_SECONDS", "6")
        .env("LAB_CACHE_DIR", lab.cache.path())
        .env("NO_PROXY", "127.0.0.1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("lab up");
    // Kill it while the guests install.
    let deadline = Instant::now() + Duration::from_secs(20);
    while lab.calls("createvm") < 3 || lab.calls("startvm") < 3 {
        assert!(Instant::now() < deadline, "the installs did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().expect("kill lab up");
    let _ = child.wait();
    assert_eq!(lab.calls("createvm"), 3);
    // The settings (locked once, so tried again) and the installer's serial port.
    assert_eq!(lab.calls("modifyvm lab-vb62-master --uart1"), 1);
    assert_eq!(lab.calls("modifyvm lab-vb62-master"), 3, "the locked modifyvm was not tried again");
    let out = lab.lab().args(["up", "--no-provision"]).run().ok();
    assert_eq!(lab.calls("createvm"), 3, "VMs were created again:\n{}", out.stderr);
    assert_eq!(lab.lab().args(["ssh", "node2", "--", "hostname"]).run().ok().stdout, "node2\n");

    // A state file from a newer lab: destroy still finds the VMs by their mark, names them, and
    // removes them.
    std::fs::write(lab.dir.as_path().join(".lab/vb62/state.json"), "{\"version\": 99, \"future\": true}").expect("write");
    let out = lab.lab().args(["destroy", "--yes"]).run().ok();
    assert!(out.stderr.contains("version 99") && out.stderr.contains("by its marks"), "{}", out.stderr);
    for vm in ["lab-vb62-master", "lab-vb62-node1", "lab-vb62-node2"] {
        assert!(out.stderr.contains(vm), "destroy did not say it would remove {vm}:\n{}", out.stderr);
    }
    let w = lab.world_json();
    assert!(w["vms"].as_array().is_none_or(Vec::is_empty), "VMs survived: {}", w["vms"]);
    assert!(!lab.dir.as_path().join(".lab").exists());
}

#[test]
fn a_vm_name_lab_did_not_create_is_left_alone() {
    let lab = VboxLab::new("63", 1);
    let env = |c: &mut Command| {
        c.env("VBOXSTANDIN_HOME", lab.world.path());
    };
    let mut c = Command::new(standin());
    c.args(["createvm", "--name", "lab-vb63-node1", "--register", "--basefolder", lab.world.path().to_str().expect("utf-8")]);
    env(&mut c);
    assert!(c.status().expect("standin").success());
    let out = lab.lab().args(["up", "--no-provision"]).run().expect_code(1);
    assert!(out.stderr.contains("lab-vb63-node1") && out.stderr.contains("did not create"), "{}", out.stderr);
    lab.lab().args(["destroy", "--yes"]).run().ok();
    let w = lab.world_json();
    let names: Vec<&str> = w["vms"].as_array().expect("vms").iter().filter_map(|v| v["name"].as_str()).collect();
    assert_eq!(names, vec!["lab-vb63-node1"], "destroy touched a VM without lab's mark");
}

#[test]
fn the_stand_in_refuses_what_vboxmanage_refuses() {
    let world = tempfile::tempdir().expect("tmp");
    let run = |args: &[&str]| {
        let o = Command::new(standin())
            .args(args)
            .env("VBOXSTANDIN_HOME", world.path())
            .env("VBOXSTANDIN_NETWORKS_CONF", world.path().join("none"))
            .output()
            .expect("standin");
        (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let base = world.path().to_str().expect("utf-8").to_string();
    let (c, out, _) = run(&["createvm", "--name", "x", "--basefolder", &base, "--register"]);
    assert_eq!(c, 0);
    assert!(out.starts_with("Virtual machine 'x' is created and registered.\nUUID: "), "{out}");
    let (c, _, err) = run(&["createvm", "--name=x", "--basefolder", &base, "--register"]);
    assert!(c == 1 && err.contains("already exists") && err.contains("VBOX_E_FILE_ERROR"), "{err}");
    let (c, _, err) = run(&["showvminfo", "nope", "--machinereadable"]);
    assert!(c == 1 && err.contains("VBOX_E_OBJECT_NOT_FOUND"), "{err}");
    let (c, _, err) = run(&["storageattach", "x", "--storagectl", "SATA", "--port", "0", "--device", "0", "--type", "hdd", "--medium", "emptydrive"]);
    assert!(c == 1 && err.contains("Could not find a controller named 'SATA'"), "{err}");
    let (c, _, err) = run(&["modifyvm", "x", "--frobnicate", "on"]);
    assert!(c == 2 && err.contains("Unknown option"), "{err}");
    let (c, out, _) = run(&["startvm", "x", "--type", "headless"]);
    assert!(c == 0 && out.contains("VM \"x\" has been successfully started."), "{out}");
    let (c, _, err) = run(&["modifyvm", "x", "--memory", "1024"]);
    assert!(c == 1 && err.contains("is already locked"), "{err}");
    let (c, _, err) = run(&["unregistervm", "x", "--delete"]);
    assert!(c == 1 && err.contains("VBOX_E_INVALID_OBJECT_STATE"), "{err}");
    let (c, _, _) = run(&["controlvm", "x", "poweroff"]);
    assert_eq!(c, 0);
    // Right after a power-off the session is still being unlocked.
    let (c, _, err) = run(&["storagectl", "x", "--name", "SATA", "--add", "sata"]);
    assert!(c == 1 && err.contains("is already locked for a session (or being unlocked)"), "{err}");
    std::thread::sleep(Duration::from_millis(600));
    let (c, _, err) = run(&["controlvm", "x", "poweroff"]);
    assert!(c == 1 && err.contains("is not currently running"), "{err}");
    // The media registry: a disk is registered by createmedium, cannot be created twice, and
    // cannot be closed while attached.
    let disk = format!("{base}/x/d.vdi");
    let (c, out, _) = run(&["createmedium", "disk", "--filename", &disk, "--size", "100"]);
    assert!(c == 0 && out.starts_with("Medium created. UUID: "), "{out}");
    std::fs::remove_file(&disk).expect("rm");
    let (c, _, err) = run(&["createmedium", "disk", "--filename", &disk, "--size", "100"]);
    assert!(c == 1 && err.contains("VBOX_E_OBJECT_IN_USE"), "a registered disk whose file is gone was created again: {err}");
    run(&["closemedium", "disk", &disk]);
    let (c, _, _) = run(&["createmedium", "disk", "--filename", &disk, "--size", "100"]);
    assert_eq!(c, 0);
    assert_eq!(run(&["storagectl", "x", "--name", "SATA", "--add", "sata"]).0, 0);
    assert_eq!(run(&["storageattach", "x", "--storagectl", "SATA", "--port", "0", "--device", "0", "--type", "hdd", "--medium", &disk]).0, 0);
    let (c, _, err) = run(&["closemedium", "disk", &disk, "--delete"]);
    assert!(c == 1 && err.contains("still attached"), "{err}");
    let (c, _, err) = run(&["controlvm", "x", "keyboardputscancode", "zz"]);
    assert!(c == 1 && err.contains("not currently running"), "{err}");
    let (c, _, _) = run(&["unregistervm", "x", "--delete"]);
    assert_eq!(c, 0);
    assert!(!std::path::Path::new(&disk).exists(), "unregistervm --delete left the attached disk");
    let (_, out, _) = run(&["list", "vms"]);
    assert_eq!(out, "");
    let (c, out, _) = run(&["--version"]);
    assert!(c == 0 && out.trim_end().ends_with("r165100"), "{out}");

    // A group is a folder level.
    let (c, out, _) = run(&["createvm", "--name", "g", "--groups", "/lab-g", "--basefolder", &base, "--register"]);
    assert!(c == 0 && out.contains(&format!("{base}/lab-g/g/g.vbox")), "{out}");
    // Non-ASCII arguments need a UTF-8 locale; messages follow the GUI's language.
    let in_locale = |locale: &str, lang: Option<&str>, args: &[&str]| {
        let mut c = Command::new(standin());
        c.args(args).env("VBOXSTANDIN_HOME", world.path()).env("LC_ALL", locale).env("LANG", locale);
        if let Some(l) = lang {
            c.env("VBOXSTANDIN_LANGUAGE", l);
        }
        let o = c.output().expect("standin");
        (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let accented = format!("{base}/Área de Trabalho");
    let (c, _, err) = in_locale("C", None, &["createvm", "--name", "joão", "--basefolder", &accented, "--register"]);
    assert!(c == 1 && err.contains("VERR_NO_TRANSLATION"), "{err}");
    let (c, out, _) = in_locale("C.UTF-8", Some("pt_BR"), &["createvm", "--name", "joão", "--basefolder", &accented, "--register"]);
    assert!(c == 0 && out.contains("foi criada e registrada"), "{out}");
    let (c, _, err) = in_locale("C.UTF-8", Some("pt_BR"), &["showvminfo", "nada", "--machinereadable"]);
    assert!(c == 1 && err.contains("Não foi possível encontrar") && err.contains("VBOX_E_OBJECT_NOT_FOUND"), "{err}");
}

/// The arm64 personality (Apple Silicon, VirtualBox 7.1+): an ARM VM takes the ARM chipset, EFI
/// and USB input, and refuses x86 devices and firmware; each host starts only VMs of its own
/// architecture.
#[test]
fn the_stand_ins_arm64_guests_and_hosts_follow_virtualbox_rules() {
    let world = tempfile::tempdir().expect("tmp");
    let run = |arch: &str, args: &[&str]| {
        let o = Command::new(standin()).args(args).env("VBOXSTANDIN_HOME", world.path()).env("VBOXSTANDIN_HOST_ARCH", arch).output().expect("standin");
        (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let base = world.path().to_str().expect("utf-8").to_string();
    assert_eq!(run("arm", &["createvm", "--name", "a", "--platform-architecture", "arm", "--basefolder", &base, "--register"]).0, 0);
    let arm_settings =
        ["--chipset", "armv8virtual", "--firmware", "efi", "--graphicscontroller", "qemuramfb", "--mouse", "usbtablet", "--keyboard", "usb", "--usbxhci", "on"];
    let (c, err) = run("arm", &[&["modifyvm", "a"][..], &arm_settings].concat());
    assert_eq!(c, 0, "{err}");
    for (option, value) in [("--ioapic", "on"), ("--firmware", "bios"), ("--chipset", "ich9"), ("--graphicscontroller", "vmsvga"), ("--mouse", "ps2")] {
        let (c, err) = run("arm", &["modifyvm", "a", option, value]);
        assert!(c == 1 && err.contains("VBOX_E_PLATFORM_ARCH_NOT_SUPPORTED"), "{option} {value} was taken by an ARM VM: {err}");
    }
    let (c, err) = run("arm", &["storagectl", "a", "--name", "IDE", "--add", "ide"]);
    assert!(c == 1 && err.contains("VBOX_E_PLATFORM_ARCH_NOT_SUPPORTED"), "{err}");
    assert_eq!(run("arm", &["storagectl", "a", "--name", "VirtIO", "--add", "virtio", "--controller", "VirtIO"]).0, 0);
    // An x86 VM refuses the ARM chipset, and an arm64 Mac refuses to start it.
    assert_eq!(run("arm", &["createvm", "--name", "x", "--basefolder", &base, "--register"]).0, 0);
    let (c, err) = run("arm", &["modifyvm", "x", "--chipset", "armv8virtual"]);
    assert!(c == 1 && err.contains("VBOX_E_PLATFORM_ARCH_NOT_SUPPORTED"), "{err}");
    let (c, err) = run("arm", &["startvm", "x", "--type", "headless"]);
    assert!(c == 1 && err.contains("VBOX_E_PLATFORM_ARCH_NOT_SUPPORTED"), "{err}");
    // And an x86 host refuses to start the ARM VM.
    let (c, err) = run("x86", &["startvm", "a", "--type", "headless"]);
    assert!(c == 1 && err.contains("VBOX_E_PLATFORM_ARCH_NOT_SUPPORTED"), "{err}");
    for vm in ["a", "x"] {
        run("arm", &["unregistervm", vm, "--delete"]);
    }
}

/// The stand-in's media and snapshots behave as VirtualBox's: a snapshot freezes the disk and
/// the VM goes on in a differencing image; a linked clone needs a snapshot and is a
/// differencing image of it; a full clone copies the whole chain; a disk another VM's disk
/// grows from cannot go; restoring needs the VM off; no snapshots is said as VirtualBox says it.
#[test]
fn the_stand_ins_clones_and_snapshots_follow_virtualbox() {
    let world = tempfile::tempdir().expect("tmp");
    let run = |args: &[&str]| {
        let o = Command::new(standin()).args(args).env("VBOXSTANDIN_HOME", world.path()).env("VBOXSTANDIN_LINK_SECONDS", "0").output().expect("standin");
        (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let base = world.path().to_str().expect("utf-8").to_string();
    assert_eq!(run(&["createvm", "--name", "b", "--basefolder", &base, "--register"]).0, 0);
    let disk = format!("{base}/b/b.vdi");
    assert_eq!(run(&["createmedium", "disk", "--filename", &disk, "--size", "100"]).0, 0);
    // What an installer would have written: the disk's record and 3 MB of system.
    let mut bytes = b"{\"installed\":true,\"hostname\":\"base\"}\n".to_vec();
    bytes.extend(std::iter::repeat_n(7u8, 3 << 20));
    std::fs::write(&disk, &bytes).expect("disk");
    assert_eq!(run(&["storagectl", "b", "--name", "SATA", "--add", "sata"]).0, 0);
    assert_eq!(run(&["storageattach", "b", "--storagectl", "SATA", "--port", "0", "--device", "0", "--type", "hdd", "--medium", &disk]).0, 0);

    let (c, out, _) = run(&["snapshot", "b", "list"]);
    assert!(c == 1 && out.contains("This machine does not have any snapshots"), "{out}");
    let (c, _, err) = run(&["clonevm", "b", "--options", "link", "--name", "l0", "--register"]);
    assert!(c == 1 && err.contains("Linked clone can only be created from a snapshot"), "{err}");
    let (c, out, _) = run(&["snapshot", "b", "take", "installed"]);
    assert!(c == 0 && out.starts_with("Snapshot taken. UUID: "), "{out}");
    let info = run(&["showvminfo", "b", "--machinereadable"]).1;
    assert!(info.contains("SnapshotName=\"installed\"") && info.contains("CurrentSnapshotName=\"installed\""), "{info}");
    assert!(!info.contains(&format!("\"SATA-0-0\"=\"{disk}\"")), "after a snapshot the VM must write a differencing disk:\n{info}");

    let (c, out, _) = run(&["clonevm", "b", "--snapshot", "installed", "--options", "link", "--name", "l1", "--basefolder", &base, "--register"]);
    assert!(c == 0 && out.contains("Machine has been successfully cloned as \"l1\""), "{out}");
    let (c, _, _) = run(&["clonevm", "b", "--snapshot", "installed", "--name", "f1", "--basefolder", &base, "--register"]);
    assert_eq!(c, 0);
    let attached = |vm: &str| {
        let i = run(&["showvminfo", vm, "--machinereadable"]).1;
        i.lines().find_map(|l| l.strip_prefix("\"SATA-0-0\"=\"")).map(|v| v.trim_end_matches('"').to_string()).expect("a disk")
    };
    let (linked, full) = (attached("l1"), attached("f1"));
    let size = |p: &str| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    assert!(linked.contains("/l1/Snapshots/") && size(&linked) < 4096, "a linked clone is a small differencing disk: {linked} ({} bytes)", size(&linked));
    assert!(size(&full) > 3 << 20, "a full clone copies the disk: {full} ({} bytes)", size(&full));
    let w: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(world.path().join("state.json")).expect("state")).expect("json");
    assert!(w["parents"][&linked].as_str().is_some_and(|p| p == disk), "the linked disk's parent is the snapshot's: {}", w["parents"]);
    // Clones get new MAC addresses.
    let mac = |vm: &str| run(&["showvminfo", vm, "--machinereadable"]).1.lines().find(|l| l.starts_with("macaddress1=")).map(str::to_string);
    assert!(mac("l1").is_none() || mac("l1") != mac("b"));

    // The base's disk has a child in another VM: it cannot be deleted, nor closed.
    let (c, _, err) = run(&["unregistervm", "b", "--delete"]);
    assert!(c == 1 && err.contains("because it has 1 child media"), "{err}");
    let (c, _, err) = run(&["closemedium", "disk", &disk]);
    assert!(c == 1 && err.contains("child media"), "{err}");
    let (c, _, err) = run(&["snapshot", "b", "delete", "installed"]);
    assert!(c == 1 && err.contains("more than one child medium"), "{err}");

    // Restoring needs the VM off; a second snapshot nests under the first.
    assert_eq!(run(&["snapshot", "l1", "take", "s1"]).0, 0);
    assert_eq!(run(&["snapshot", "l1", "take", "s2", "--description", "later"]).0, 0);
    let tree = run(&["snapshot", "l1", "list", "--machinereadable"]).1;
    assert!(
        tree.contains("SnapshotName=\"s1\"") && tree.contains("SnapshotName-1=\"s2\"") && tree.contains("CurrentSnapshotNode=\"SnapshotName-1\""),
        "{tree}"
    );
    assert_eq!(run(&["startvm", "l1", "--type", "headless"]).0, 0);
    let (c, _, err) = run(&["snapshot", "l1", "restore", "s1"]);
    assert!(c == 1 && err.contains("Cannot delete the current state of the running machine"), "{err}");
    assert_eq!(run(&["controlvm", "l1", "poweroff"]).0, 0);
    std::thread::sleep(Duration::from_millis(600));
    let (c, out, _) = run(&["snapshot", "l1", "restore", "s1"]);
    assert!(c == 0 && out.contains("Restoring snapshot 's1'"), "{out}");
    assert_eq!(run(&["snapshot", "l1", "delete", "s2"]).0, 0);
    assert_eq!(
        run(&["snapshot", "l1", "list"]).1.trim(),
        format!("Name: s1 (UUID: {}) *", tree.lines().find_map(|l| l.strip_prefix("SnapshotUUID=\"")).expect("uuid").trim_end_matches('"'))
    );

    // With its clones gone, the base goes, and every disk with it.
    for vm in ["l1", "f1", "b"] {
        let (c, _, err) = run(&["unregistervm", vm, "--delete"]);
        assert_eq!(c, 0, "{vm}: {err}");
    }
    let w: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(world.path().join("state.json")).expect("state")).expect("json");
    assert!(w["disks"].as_object().is_some_and(serde_json::Map::is_empty), "{}", w["disks"]);
    assert!(!std::path::Path::new(&disk).exists());
}
