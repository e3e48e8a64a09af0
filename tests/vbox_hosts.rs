//! VirtualBox as students' computers really have it, through the stand-in: every supported
//! version, a lab folder under `Área de Trabalho`, an address already taken, lab killed after
//! each VBoxManage call, guests that abort, pause or hit a Guru Meditation while installing,
//! and `.lab/` lost before `destroy`.

use std::process::Command;
use std::time::Duration;

use crate::vbox::VboxLab;

/// `up --no-provision` on a 1-worker lab; the guests answer with their names; the boot menu's
/// plain "Install" entry was picked (no media check); destroy leaves nothing.
fn builds_and_goes_away(lab: &VboxLab) {
    let out = lab.lab().args(["up", "--no-provision"]).run().ok();
    assert!(out.stderr.contains("node1: os_installed: done"), "{}", out.stderr);
    assert_eq!(lab.lab().args(["ssh", "node1", "--", "hostname"]).run().ok().stdout, "node1\n");
    let logs = lab.standin(&["showvminfo", &format!("lab-{}-node1", lab.name), "--machinereadable"]);
    let info = String::from_utf8_lossy(&logs.stdout).into_owned();
    let cfg = info.lines().find_map(|l| l.strip_prefix("CfgFile=\"")).expect("CfgFile").trim_end_matches('"').to_string();
    let vbox_log = std::path::Path::new(&cfg).with_file_name("Logs").join("VBox.log");
    let log = std::fs::read_to_string(&vbox_log).unwrap_or_default();
    assert!(log.contains("\"Install\" chosen") && !log.contains("checking the installation media"), "the boot menu's keys were not typed:\n{log}");
    lab.lab().args(["destroy", "--yes"]).run().ok();
    assert!(lab.leftovers().is_empty(), "{:?}", lab.leftovers());
}

#[test]
fn virtualbox_6_1_builds_the_lab() {
    builds_and_goes_away(&VboxLab::build("v61", 1, 1, Some("6.1.50r161033"), ""));
}

#[test]
fn virtualbox_7_0_builds_the_lab() {
    builds_and_goes_away(&VboxLab::build("v70", 1, 1, Some("7.0.26r168464"), ""));
}

/// 7.2, the current release, all the way: Spark provisioned and verified.
#[test]
fn virtualbox_7_2_builds_and_verifies_the_cluster() {
    let _one_cluster_at_a_time = crate::support::heavy();
    let lab = VboxLab::build("v72", 1, 1, Some("7.2.4r170995"), "");
    lab.lab().args(["up"]).run().ok();
    let v = lab.lab().args(["--json", "verify"]).run();
    assert_eq!(v.code, 0, "{}\n{}", v.stdout, v.stderr);
    lab.lab().args(["destroy", "--yes"]).run().ok();
    assert!(lab.leftovers().is_empty(), "{:?}", lab.leftovers());
}

/// A Brazilian student's desktop folder, and a shell whose locale is C: lab runs VBoxManage
/// under a UTF-8 locale, so the accented path reaches VirtualBox intact.
#[test]
fn a_lab_folder_with_spaces_and_accents() {
    let lab = VboxLab::build("acc", 1, 1, None, "Área de Trabalho/lab do João");
    let out = lab.lab().env("LC_ALL", "C").env("LANG", "C").args(["up", "--no-provision"]).run().ok();
    assert!(out.stderr.contains("node1: os_installed: done"), "{}", out.stderr);
    let vms = String::from_utf8_lossy(&lab.standin(&["showvminfo", &format!("lab-{}-master", lab.name), "--machinereadable"]).stdout).into_owned();
    assert!(vms.contains("Área de Trabalho/lab do João/.lab/"), "{vms}");
    assert_eq!(lab.lab().env("LC_ALL", "C").args(["ssh", "master", "--", "hostname"]).run().ok().stdout, "master\n");
    lab.lab().env("LC_ALL", "C").args(["destroy", "--yes"]).run().ok();
    assert!(lab.leftovers().is_empty(), "{:?}", lab.leftovers());
}

/// VirtualBox in Portuguese (the GUI's language, which VBoxManage follows since 7.0): lab reads
/// only machine-readable output, so nothing changes.
#[test]
fn virtualbox_speaking_portuguese() {
    let lab = VboxLab::build("pt", 1, 1, Some("7.1.4r165100"), "");
    let out = lab.lab().env("VBOXSTANDIN_LANGUAGE", "pt_BR").args(["up", "--no-provision"]).run().ok();
    assert!(out.stderr.contains("node1: os_installed: done"), "{}", out.stderr);
    lab.lab().env("VBOXSTANDIN_LANGUAGE", "pt_BR").args(["destroy", "--yes"]).run().ok();
    assert!(lab.leftovers().is_empty(), "{:?}", lab.leftovers());
}

/// Another machine at a lab address, on a VirtualBox host-only network (a Vagrant box at
/// 192.168.56.10 is the usual one): lab refuses before it creates anything.
#[test]
fn an_address_that_already_answers_ssh_is_refused_and_nothing_is_made() {
    let lab = VboxLab::build("tkn", 1, 1, None, "");
    // The other tool's host-only interface, made through VirtualBox as it would be.
    let out = lab.standin(&["hostonlyif", "create"]);
    let created = String::from_utf8_lossy(&out.stdout).into_owned();
    let ifname = created.split('\'').nth(1).expect("interface name").to_string();
    // The other tool's interface goes when the test ends, pass or fail (after its machine).
    struct Interface<'a>(&'a VboxLab, String);
    impl Drop for Interface<'_> {
        fn drop(&mut self) {
            let _ = self.0.standin(&["hostonlyif", "remove", &self.1]);
        }
    }
    let _interface = Interface(&lab, ifname.clone());
    assert!(lab.standin(&["hostonlyif", "ipconfig", &ifname, "--ip", &lab.ip(1), "--netmask", "255.255.255.0"]).status.success());
    // Its VM: a namespace on that interface with something that speaks SSH at node1's address.
    let ns = format!("lt{}", std::process::id());
    struct Gone(String, Option<std::process::Child>);
    impl Drop for Gone {
        fn drop(&mut self) {
            if let Some(mut server) = self.1.take() {
                let _ = server.kill();
                let _ = server.wait();
            }
            let _ = Command::new("sh").args(["-c", &format!("ip netns pids {0} | xargs -r kill -9; ip netns del {0}; ip link del {0}h", self.0)]).status();
        }
    }
    let mut gone = Gone(ns.clone(), None);
    let ip = lab.ip(11);
    let setup = format!(
        "ip netns add {ns} && ip link add {ns}h type veth peer name eth0 netns {ns} && ip link set {ns}h master {ifname} && ip link set {ns}h up \
         && ip -n {ns} addr add {ip}/24 dev eth0 && ip -n {ns} link set eth0 up && ip -n {ns} link set lo up"
    );
    assert!(Command::new("sh").args(["-c", &setup]).status().expect("sh").success());
    let listener = format!(
        "import socket\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('{ip}', 22)); s.listen(8)\n\
         while True:\n    c, _ = s.accept(); c.sendall(b'SSH-2.0-OpenSSH_9.6 someone-else\\r\\n'); c.close()\n"
    );
    gone.1 = Some(Command::new("ip").args(["netns", "exec", &ns, "python3", "-c", &listener]).spawn().expect("python3"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect_timeout(&format!("{ip}:22").parse().expect("addr"), Duration::from_secs(1)).is_err() {
        assert!(std::time::Instant::now() < deadline, "the other machine did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = lab.lab().args(["up", "--no-provision"]).run();
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains(&format!("another machine already answers SSH at {ip}")), "{}", out.stderr);
    assert_eq!(lab.calls("createvm"), 0, "lab created a VM before refusing");
    assert_eq!(lab.calls("hostonlyif create"), 1, "lab created a host-only interface before refusing");
}

/// lab killed right after its k-th VBoxManage call: the next `lab up` converges with no VM
/// twice, and `destroy` leaves nothing. CI tries a sample of the calls (printed with its seed;
/// `LAB_TEST_SEED=N` repeats it); `bash tests/faults/kill_points.sh` tries every call.
#[test]
fn killed_after_any_vboxmanage_call_the_next_up_converges() {
    const LABS: usize = 3;
    let _alone = crate::vbox::alone();
    let labs: Vec<VboxLab> = (0..LABS).map(|i| VboxLab::build_in(&format!("kil{i}"), 1, 1, None, "")).collect();
    let first = &labs[0];
    first.lab().args(["up", "--no-provision"]).run().ok();
    let full = std::fs::read_to_string(first.world().join("calls.log")).expect("calls").lines().count();
    first.lab().args(["destroy", "--yes"]).run().ok();
    assert!(first.leftovers().is_empty(), "{:?}", first.leftovers());
    kill_at(&labs, full);
}

/// The same with base images: every run makes the base anew (the last one is pruned), so a kill
/// lands in turn on every call that makes a base, snapshots it and clones it.
#[test]
fn killed_after_any_call_while_making_a_base_the_next_up_converges() {
    const LABS: usize = 3;
    let _alone = crate::vbox::alone();
    let labs: Vec<VboxLab> = (0..LABS).map(|i| VboxLab::build_in(&format!("kb{i}"), 1, 1, None, "").with_base()).collect();
    let first = &labs[0];
    first.lab().args(["up", "--no-provision"]).run().ok();
    let full = std::fs::read_to_string(first.world().join("calls.log")).expect("calls").lines().count();
    assert!(first.calls("clonevm") == 2 && first.calls("snapshot") == 1, "not a base run");
    first.lab().args(["destroy", "--yes"]).run().ok();
    first.lab().args(["base", "prune"]).run().ok();
    assert!(first.leftovers().is_empty(), "{:?}", first.leftovers());
    kill_at(&labs, full);
}

/// Kill points for `labs` (which share them, three at a time): a sample of `SAMPLED` calls of
/// a run of `full` calls, or with `LAB_KILL_ALL=1` every call until a run ends before its k.
/// How many calls a run makes depends on how often lab looked at a VM while it waited.
fn kill_at(labs: &[VboxLab], full: usize) {
    const SAMPLED: usize = 9;
    if std::env::var_os("LAB_KILL_ALL").is_some() {
        let n = labs.len();
        std::thread::scope(|s| {
            for (i, lab) in labs.iter().enumerate() {
                s.spawn(move || {
                    for k in (1..).filter(|k| k % n == i) {
                        if !killed_after(lab, k) {
                            assert!(k > full / 2, "a whole run made fewer than {k} calls; the first made {full}");
                            break;
                        }
                    }
                });
            }
        });
        return;
    }
    let seed: u64 = std::env::var("LAB_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1);
    // xorshift64: enough to spread kill points over the run, and repeatable from the seed.
    let mut x = seed.max(1);
    let mut points: Vec<usize> = (0..SAMPLED)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            1 + usize::try_from(x % full as u64).unwrap_or(0)
        })
        .collect();
    points.sort_unstable();
    points.dedup();
    eprintln!("kill points (LAB_TEST_SEED={seed}, {full} calls in a whole run): {points:?}");
    std::thread::scope(|s| {
        for (i, lab) in labs.iter().enumerate() {
            let mine: Vec<usize> = points.iter().copied().skip(i).step_by(labs.len()).collect();
            s.spawn(move || {
                for k in mine {
                    killed_after(lab, k);
                }
            });
        }
    });
}

/// Whether lab was killed (false: the run ended before its k-th call).
fn killed_after(lab: &VboxLab, k: usize) -> bool {
    let _ = std::fs::remove_file(lab.world().join("calls.log"));
    let killed = lab.lab().env("VBOXSTANDIN_KILL_PARENT_AFTER", &k.to_string()).args(["up", "--no-provision"]).run();
    let was_killed = killed.code != 0;
    assert!(killed.code == -1 || killed.code == 0, "lab failed instead of being killed after call {k}:\n{}", killed.stderr);
    let mut out = lab.lab().args(["up", "--no-provision"]).run();
    // Known stand-in fault (not lab's): a guest booted right after a kill sometimes fails to
    // set up its own root ("useradd: cannot create directory"), so sshd never starts. lab then
    // fails naming the node, as it should; the next `lab up` must converge.
    let guest_broke = |l: &VboxLab| {
        ["master", "node1"].iter().any(|n| {
            let log = l.dir.join(format!(".lab/{0}/vms/lab-{0}/lab-{0}-{n}/Logs/VBox.log", l.name));
            std::fs::read_to_string(log).is_ok_and(|t| t.contains("cannot create directory"))
        })
    };
    if out.code != 0 && out.stderr.contains("no SSH at") && guest_broke(lab) {
        for n in ["master", "node1"] {
            let _ = lab.standin(&["controlvm", &format!("lab-{}-{n}", lab.name), "poweroff"]);
        }
        std::thread::sleep(Duration::from_secs(1));
        out = lab.lab().args(["up", "--no-provision"]).run();
    }
    if out.code != 0 {
        let logs: String = ["master", "node1"]
            .iter()
            .map(|n| {
                let log = lab.dir.join(format!(".lab/{0}/vms/lab-{0}/lab-{0}-{n}/Logs/VBox.log", lab.name));
                format!("--- {n}'s VBox.log\n{}\n", std::fs::read_to_string(log).unwrap_or_default())
            })
            .collect();
        let calls = std::fs::read_to_string(lab.world().join("calls.log")).unwrap_or_default();
        panic!("after a kill at call {k}, lab up failed:\n{}\n{logs}--- calls\n{calls}", out.stderr);
    }
    let vms = String::from_utf8_lossy(&lab.standin(&["list", "vms"]).stdout).into_owned();
    let nodes = vms.lines().filter(|l| !l.starts_with("\"lab-base-")).count();
    assert_eq!(nodes, 2, "after a kill at call {k}: {vms}");
    assert_eq!(lab.lab().args(["ssh", "node1", "--", "hostname"]).run().ok().stdout, "node1\n", "after a kill at call {k}");
    let out = lab.lab().args(["destroy", "--yes"]).run();
    assert_eq!(out.code, 0, "after a kill at call {k}, destroy failed:\n{}", out.stderr);
    let pruned = lab.lab().args(["base", "prune"]).run();
    assert_eq!(pruned.code, 0, "after a kill at call {k}, base prune failed:\n{}", pruned.stderr);
    let calls = std::fs::read_to_string(lab.world().join("calls.log")).unwrap_or_default();
    assert!(lab.leftovers().is_empty(), "after a kill at call {k}: {:?}\ncalls:\n{calls}\ndestroy said:\n{}", lab.leftovers(), out.stderr);
    was_killed
}

/// A guest that aborts during the install fails `up` naming the node and VirtualBox's log; the
/// next `up` makes that VM anew; a paused one is resumed; a Guru Meditation is reported, then
/// also made anew.
#[test]
fn guests_that_abort_pause_or_meditate_during_the_install() {
    let lab = VboxLab::build("abt", 2, 1, None, "");
    std::fs::write(lab.world().join("guest-fault"), format!("lab-{0}-node1 aborted\nlab-{0}-master paused\n", lab.name)).expect("fault");
    let out = lab.lab().args(["up", "--no-provision"]).run().expect_code(1);
    assert!(out.stderr.contains("node1") && out.stderr.contains("aborted") && out.stderr.contains("VBox.log"), "{}", out.stderr);
    assert!(out.stderr.contains("master: os_installed: done"), "the paused master was not resumed:\n{}", out.stderr);
    std::fs::write(lab.world().join("guest-fault"), format!("lab-{}-node1 gurumeditation\n", lab.name)).expect("fault");
    let out = lab.lab().args(["up", "--no-provision"]).run().expect_code(1);
    assert!(out.stderr.contains("node1") && out.stderr.contains("gurumeditation"), "{}", out.stderr);
    lab.lab().args(["up", "--no-provision"]).run().ok();
    assert_eq!(lab.calls(&format!("createvm --name lab-{}-node1", lab.name)), 3, "node1 was not made anew after each failed install");
    assert_eq!(lab.lab().args(["ssh", "node1", "--", "hostname"]).run().ok().stdout, "node1\n");
    lab.lab().args(["destroy", "--yes"]).run().ok();
    assert!(lab.leftovers().is_empty(), "{:?}", lab.leftovers());
}

/// `.lab/` deleted by hand: `destroy` finds the VMs by lab's mark, lists them and removes them;
/// the host-only interface, which lab can no longer prove it made, is named with the command
/// that removes it.
#[test]
fn destroy_finds_the_vms_when_the_lab_folder_state_is_gone() {
    let lab = VboxLab::build("gon", 1, 1, None, "");
    lab.lab().args(["up", "--no-provision"]).run().ok();
    std::fs::remove_dir_all(lab.dir.join(".lab")).expect("rm .lab");
    let out = lab.lab().args(["destroy", "--yes"]).run().ok();
    for vm in ["master", "node1"] {
        assert!(out.stderr.contains(&format!("VM lab-{}-{vm}", lab.name)), "{}", out.stderr);
    }
    assert!(out.stderr.contains("hostonlyif remove vboxnet"), "{}", out.stderr);
    let w = lab.world_json();
    assert!(w["vms"].as_array().is_none_or(Vec::is_empty), "{w}");
    assert!(w["disks"].as_object().is_none_or(serde_json::Map::is_empty), "{w}");
}

/// A Portuguese Windows: VBoxManage writes to lab's pipe in code page 1252 (`João` arrives as
/// `4A 6F E3 6F`), names its host-only adapters "VirtualBox Host-Only Ethernet Adapter #N", and
/// the lab sits under `Área de Trabalho`. `up`, `halt`, `up`, `up`: the later runs make, delete
/// and register nothing (lab once read its own disk paths back as `Jo\u{FFFD}o` and made every
/// VM anew after a halt).
#[test]
fn windows_code_page_1252_up_halt_up_up_keeps_every_vm() {
    let lab = VboxLab::build("win", 1, 1, Some("7.1.4r165100"), "Área de Trabalho/lab do João").on_host("windows");
    let out = lab.lab().args(["up", "--no-provision"]).run().ok();
    assert!(out.stderr.contains("node1: os_installed: done"), "{}", out.stderr);
    let raw = lab.standin(&["showvminfo", &format!("lab-{}-node1", lab.name), "--machinereadable"]).stdout;
    assert!(raw.windows(5).any(|w| w == b"Jo\xE3o/") && !raw.windows(3).any(|w| w == "ã".as_bytes()), "the stand-in did not write code page 1252");
    let info = encoding_cp1252(&raw);
    let w = lab.world_json();
    let name = w["hostonlyifs"][0]["name"].as_str().expect("a host-only adapter").to_string();
    assert!(name.starts_with("VirtualBox Host-Only Ethernet Adapter"), "{name}");
    assert!(info.contains(&format!("hostonlyadapter2=\"{name}\"")), "{info}");
    let changes =
        || -> Vec<usize> { ["createvm", "unregistervm", "registervm", "createmedium", "closemedium", "clonevm"].iter().map(|c| lab.calls(c)).collect() };
    let made = changes();
    lab.lab().args(["halt"]).run().ok();
    for round in 1..=2 {
        let out = lab.lab().args(["up", "--no-provision"]).run().ok();
        assert_eq!(changes(), made, "up #{} after halt made, deleted or registered something:\n{}", round + 1, out.stderr);
        assert!(!out.stderr.contains("making it again"), "{}", out.stderr);
    }
    assert_eq!(lab.lab().args(["ssh", "node1", "--", "hostname"]).run().ok().stdout, "node1\n");
    lab.lab().args(["destroy", "--yes"]).run().ok();
    assert!(lab.leftovers().is_empty(), "{:?}", lab.leftovers());
}

/// Code page 1252 read as such (the test's own reading: Latin-1 covers every byte the stand-in
/// writes for these paths).
fn encoding_cp1252(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// macOS builds of VirtualBox 7 have host-only *networks* and make no interfaces: lab asks
/// VirtualBox which it has, makes a network, and `destroy` keeps it while a VM that is not the
/// lab's still uses it.
#[test]
fn macos_host_only_networks() {
    let lab = VboxLab::build("mac", 1, 1, Some("7.1.4r165100"), "").on_host("macos");
    let out = lab.lab().args(["up", "--no-provision"]).run().ok();
    assert!(out.stderr.contains("node1: os_installed: done"), "{}", out.stderr);
    assert_eq!(lab.calls("hostonlyif create"), 0, "lab tried to make a host-only interface on macOS 7");
    assert_eq!(lab.calls("hostonlynet add"), 1);
    let net = lab.world_json()["hostonlynets"][0]["name"].as_str().expect("a host-only network").to_string();
    let info = String::from_utf8_lossy(&lab.standin(&["showvminfo", &format!("lab-{}-node1", lab.name), "--machinereadable"]).stdout).into_owned();
    assert!(info.contains("nic2=\"hostonlynetwork\"") && info.contains(&format!("hostonly-network2=\"{net}\"")), "{info}");
    assert_eq!(lab.lab().args(["ssh", "node1", "--", "hostname"]).run().ok().stdout, "node1\n");

    // Someone else's VM on the lab's network: destroy removes the lab's VMs, not the network.
    let base = lab.world().join("other");
    assert!(lab.standin(&["createvm", "--name", "someone-else", "--basefolder", base.to_str().expect("utf-8"), "--register"]).status.success());
    assert!(lab.standin(&["modifyvm", "someone-else", "--nic1", "hostonlynet", "--host-only-net1", &net]).status.success());
    let out = lab.lab().args(["destroy", "--yes"]).run().ok();
    let remove = format!("VBoxManage hostonlynet remove --name {net}");
    assert!(out.stderr.contains(&format!("{net} kept")) && out.stderr.contains("someone-else") && out.stderr.contains(&remove), "{}", out.stderr);
    assert_eq!(lab.leftovers(), ["VM \"someone-else\"".to_string(), format!("host-only network \"{net}\"")]);
    // Once it is gone, the command lab gave removes the network.
    assert!(lab.standin(&["unregistervm", "someone-else", "--delete"]).status.success());
    assert!(lab.standin(&remove.split(' ').skip(1).collect::<Vec<_>>()).status.success());
    assert!(lab.leftovers().is_empty(), "{:?}", lab.leftovers());
}

/// An ISO without cloud-init (Rocky's minimal ISO carries only `minimal` and BaseOS) cannot
/// make a base: the stand-in's Anaconda stops on the missing package as the real one does, the
/// kickstart's %onerror puts its words on the serial port, and lab reports them in seconds
/// (not at its install timeout), powers the VM off and installs anew on the next `lab up`.
#[test]
fn a_base_from_an_iso_without_cloud_init_fails_in_minutes_naming_the_package() {
    let lab = VboxLab::build("nocl", 1, 1, None, "").with_base().with_install_iso(crate::support::dvd::MINIMAL);
    let t = std::time::Instant::now();
    let out = lab.lab().args(["up", "--no-provision"]).run();
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(t.elapsed() < Duration::from_secs(120), "took {:?}", t.elapsed());
    assert!(out.stderr.contains("the installer stopped with an error") && out.stderr.contains("No match for argument: cloud-init"), "{}", out.stderr);
    assert!(out.stderr.contains("DVD"), "the fix names the DVD: {}", out.stderr);
    let vms = lab.world_json()["vms"].as_array().cloned().unwrap_or_default();
    assert!(!vms.is_empty() && vms.iter().all(|v| v["state"] == "poweroff"), "{vms:?}");
    // Lab saw it fail: the next run installs again (and fails the same way), asking nothing.
    let again = lab.lab().args(["up", "--no-provision"]).run();
    assert!(again.stderr.contains("No match for argument: cloud-init") && !again.stderr.contains("--recreate"), "{}", again.stderr);
    assert!(again.stderr.contains("did not finish its install before") && again.stderr.contains("installing it anew"), "{}", again.stderr);
    // Destroy calls the base failed; the host-only interface lab made goes with the base that
    // still holds it, and prune removes both: nothing lab made is left.
    let d = lab.lab().args(["destroy", "--yes"]).run().ok();
    assert!(d.stderr.contains("failed: its install did not finish"), "{}", d.stderr);
    assert!(d.stderr.contains("goes with the base"), "{}", d.stderr);
    let p = lab.lab().args(["base", "prune"]).run().ok();
    assert!(p.stderr.contains("host-only network") && p.stderr.contains("removed"), "{}", p.stderr);
    assert!(lab.leftovers().is_empty(), "{:?}\n{}\n{}", lab.leftovers(), d.stderr, p.stderr);
}

/// A boot menu that shows after lab's first keys (a slow host): lab types them again until the
/// installer says it started, so the plain "Install" entry is picked and no media check runs.
#[test]
fn a_boot_menu_that_drops_the_first_keys_still_ends_in_a_plain_install() {
    let lab = VboxLab::build("late", 1, 1, None, "");
    // The menu shows 5 s after power-on; lab's first keys come at 2 s.
    let out = lab.lab().env("VBOXSTANDIN_MENU_AT", "5").args(["up", "--no-provision"]).run().ok();
    assert!(out.stderr.contains("node1: os_installed: done"), "{}", out.stderr);
    let info = String::from_utf8_lossy(&lab.standin(&["showvminfo", &format!("lab-{}-node1", lab.name), "--machinereadable"]).stdout).into_owned();
    let cfg = info.lines().find_map(|l| l.strip_prefix("CfgFile=\"")).expect("CfgFile").trim_end_matches('"').to_string();
    let log = std::fs::read_to_string(std::path::Path::new(&cfg).with_file_name("Logs").join("VBox.log")).unwrap_or_default();
    assert!(log.contains("\"Install\" chosen") && !log.contains("checking the installation media"), "{log}");
    assert!(log.contains("running a %pre script"), "{log}");
    lab.lab().args(["destroy", "--yes"]).run().ok();
    assert!(lab.leftovers().is_empty(), "{:?}", lab.leftovers());
}

/// VirtualBox 7.1.4's guest-OS table has no `RedHat9_arm64` (Global.cpp of that time) and
/// `createvm` refuses a type it does not know; 7.1.18 has it. (lab's choice from this list is
/// unit-tested in the driver: lab's architecture is its build's, so an arm64 lab cannot run
/// here.)
#[test]
fn the_stand_in_knows_the_guest_types_of_each_virtualbox() {
    let lab = VboxLab::build("arm", 1, 1, Some("7.1.4r165100"), "").on_host("macos");
    let types = String::from_utf8_lossy(&lab.standin(&["list", "ostypes"]).stdout).into_owned();
    assert!(!types.contains("RedHat9_arm64") && types.contains("Oracle9_arm64"), "{types}");
    let base = lab.world().join("probe");
    let refused = lab.standin(&["createvm", "--name", "probe", "--ostype", "RedHat9_arm64", "--basefolder", base.to_str().expect("utf-8")]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("is not a valid Guest OS type"));
    let newer = VboxLab::build("arm2", 1, 1, Some("7.1.18r172103"), "").on_host("macos");
    let types = String::from_utf8_lossy(&newer.standin(&["list", "ostypes"]).stdout).into_owned();
    assert!(types.contains("RedHat9_arm64"), "{types}");
}
