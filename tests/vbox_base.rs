//! Install once: the first lab makes a base image (one install), every node is a linked clone of
//! it that takes its identity from a seed disc; a second lab on the same computer installs
//! nothing; bases outlive `lab destroy` while a lab uses them; snapshots of a whole lab.

use std::time::{Duration, Instant};

use crate::vbox::VboxLab;

fn base_names(lab: &VboxLab) -> Vec<String> {
    let out = lab.lab().args(["--json", "base", "list"]).run().ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    v.as_array().into_iter().flatten().map(|b| format!("{} {}", b["name"].as_str().unwrap_or(""), b["labs"].as_array().map_or(0, Vec::len))).collect()
}

#[test]
fn the_os_is_installed_once_and_each_node_is_a_linked_clone() {
    let _one_cluster_at_a_time = crate::support::heavy();
    let a = VboxLab::new("71", 6).with_base();
    let plan = a.lab().args(["up", "--dry-run"]).run().ok();
    assert!(plan.stdout.contains("base lab-base-centos-stream-9-x86_64-") && plan.stdout.contains("linked clone of the base"), "{}", plan.stdout);
    let first = a.lab().args(["up", "--no-provision"]).run().ok();
    assert_eq!(a.calls("createvm"), 1, "one install, for the base:\n{}", first.stderr);
    assert_eq!(a.calls("clonevm"), 3);
    assert_eq!(a.calls("startvm lab-base"), 1);
    for n in ["master", "node1", "node2"] {
        assert_eq!(a.lab().args(["ssh", n, "--", "hostname"]).run().ok().stdout, format!("{n}\n"), "the seed disc named {n}");
    }
    let names = base_names(&a);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].ends_with(" 1"), "one lab uses the base: {names:?}");
    let base = names[0].split(' ').next().expect("name").to_string();

    // A second lab on this computer clones the same base: no install, seconds.
    let b = VboxLab::new("72", 6).with_base().sharing(&a);
    let start = Instant::now();
    let second = b.lab().args(["up", "--no-provision"]).run().ok();
    let took = start.elapsed();
    assert_eq!(b.calls("createvm"), 1, "the second lab installed again:\n{}", second.stderr);
    assert_eq!(b.calls("clonevm"), 6);
    assert!(took < Duration::from_secs(60), "the second lab's VM phase took {took:?}");
    assert_eq!(b.lab().args(["ssh", "node2", "--", "hostname"]).run().ok().stdout, "node2\n");
    assert!(base_names(&a).contains(&format!("{base} 2")), "{:?}", base_names(&a));
    // Nodes made as clones are not silently made again another way.
    let file = b.dir.join("lab.yaml");
    let text = std::fs::read_to_string(&file).expect("lab.yaml");
    std::fs::write(&file, format!("{text}install: per-node\n")).expect("lab.yaml");
    let switched = b.lab().args(["up", "--no-provision"]).run();
    assert_eq!(switched.code, 1, "{}", switched.stderr);
    assert!(switched.stderr.contains("was made with `install: base`"), "{}", switched.stderr);
    std::fs::write(&file, text).expect("lab.yaml");

    // Three linked nodes take far less room than their base.
    let du = |p: &std::path::Path| -> u64 {
        let out = std::process::Command::new("du").args(["-sb"]).arg(p).output().expect("du");
        String::from_utf8_lossy(&out.stdout).split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0)
    };
    let nodes = du(&b.dir.join(".lab"));
    let base_size = du(&b.cache_dir().join("bases"));
    assert!(nodes * 10 < base_size, "3 linked clones take {nodes} bytes, the base {base_size}");

    // A base another lab uses is never removed.
    a.lab().args(["destroy", "--yes"]).run().ok();
    assert!(base_names(&b).contains(&format!("{base} 1")), "{:?}", base_names(&b));
    let refused = b.lab().args(["base", "rm", &base]).run();
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("used by vb72"), "{}", refused.stderr);
    b.lab().args(["base", "prune"]).run().ok();
    assert_eq!(base_names(&b).len(), 1);
    assert_eq!(b.lab().args(["ssh", "master", "--", "hostname"]).run().ok().stdout, "master\n");

    // With no lab left, prune removes it, and VirtualBox holds nothing.
    b.lab().args(["destroy", "--yes"]).run().ok();
    assert!(base_names(&b).contains(&format!("{base} 0")), "{:?}", base_names(&b));
    b.lab().args(["base", "prune"]).run().ok();
    assert!(base_names(&b).is_empty());
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

#[test]
fn a_snapshot_brings_back_the_cluster_as_it_was() {
    let _one_cluster_at_a_time = crate::support::heavy();
    let lab = VboxLab::build("73", 4, 1, None, "").with_base();
    lab.lab().args(["up"]).run().ok();
    lab.lab().args(["ssh", "node1", "--", "echo kept > /home/spark/precious"]).run().ok();
    let saved = lab.lab().args(["snapshot", "save", "working"]).run().ok();
    assert!(saved.stderr.contains("saved"), "{}", saved.stderr);
    // Saved with the nodes halted; they run again afterwards.
    assert_eq!(lab.lab().args(["ssh", "node1", "--", "cat /home/spark/precious"]).run().ok().stdout, "kept\n");
    let dup = lab.lab().args(["snapshot", "save", "working"]).run();
    assert_eq!(dup.code, 2, "{}", dup.stderr);

    // Break it: the file goes, Spark's worker stops.
    lab.lab().args(["ssh", "node1", "--", "rm /home/spark/precious; touch /home/spark/junk; sudo pkill -f 'deploy[.]worker[.]Worker'"]).run().ok();
    lab.lab().args(["snapshot", "restore", "working"]).run().ok();
    assert_eq!(
        lab.lab().args(["ssh", "node1", "--", "cat /home/spark/precious; ls /home/spark/junk 2>&1 || true"]).run().ok().stdout.lines().next(),
        Some("kept")
    );
    let junk = lab.lab().args(["ssh", "node1", "--", "test -e /home/spark/junk"]).run();
    assert_eq!(junk.code, 1, "a file made after the snapshot survived the restore");
    // The worker killed after the save runs again (`lab verify` proves the whole cluster after
    // the live restore below; one verify is enough for both).
    let status = lab.lab().args(["--json", "status"]).run().ok();
    let v: serde_json::Value = serde_json::from_str(&status.stdout).expect("status --json");
    assert_eq!(v["nodes"][1]["daemons"]["Worker"], true, "{v}");

    // A live snapshot: taken without halting; restoring it boots the nodes from it.
    let before = lab.calls("controlvm lab-vb73-node1 acpipowerbutton");
    lab.lab().args(["snapshot", "save", "hot", "--live"]).run().ok();
    assert_eq!(lab.calls("controlvm lab-vb73-node1 acpipowerbutton"), before, "--live halted the nodes");
    lab.lab().args(["ssh", "node1", "--", "rm /home/spark/precious"]).run().ok();
    lab.lab().args(["snapshot", "restore", "hot"]).run().ok();
    assert_eq!(lab.lab().args(["ssh", "node1", "--", "cat /home/spark/precious"]).run().ok().stdout, "kept\n");
    let v = lab.lab().args(["--json", "verify"]).run();
    assert_eq!(v.code, 0, "{}\n{}", v.stdout, v.stderr);

    let list = lab.lab().args(["snapshot", "list"]).run().ok();
    assert_eq!(list.stdout, "working\nhot\n");
    lab.lab().args(["snapshot", "delete", "hot"]).run().ok();
    lab.lab().args(["snapshot", "delete", "working"]).run().ok();
    let listed: serde_json::Value = serde_json::from_str(&lab.lab().args(["--json", "snapshot", "list"]).run().ok().stdout).expect("json");
    assert_eq!(listed, serde_json::json!({"lab": "vb73", "snapshots": []}));
    assert_eq!(lab.lab().args(["ssh", "node1", "--", "cat /home/spark/precious"]).run().ok().stdout, "kept\n");
    lab.lab().args(["destroy", "--yes"]).run().ok();
    lab.lab().args(["base", "prune"]).run().ok();
    assert!(lab.leftovers().is_empty(), "{:?}", lab.leftovers());
}

/// The default lab installs over the network: a boot ISO and the packages from the
/// distribution's mirror. A mirror that fails a package stops the install at once with the
/// installer's words naming the mirror and the package (not at the install's timeout); with
/// the mirror mended, `lab up` installs the base from it.
#[test]
fn a_network_install_takes_its_packages_from_the_mirror_and_names_a_failing_one() {
    let _one_cluster_at_a_time = crate::support::heavy();
    let (a, mirror) = VboxLab::new("73", 3).with_base().with_network_install();
    let plan = a.lab().args(["up", "--dry-run"]).run().ok();
    assert!(plan.stdout.contains("packages of the network install (BaseOS, AppStream)") && plan.stdout.contains(&mirror), "{}", plan.stdout);
    let rpm = "mirror/AppStream/x86_64/os/Packages/c/cloud-init-1.0-1.el9.x86_64.rpm";
    let kept = std::fs::read(a.served_path(rpm)).expect("rpm");
    std::fs::remove_file(a.served_path(rpm)).expect("rm");
    let start = Instant::now();
    let failed = a.lab().args(["up", "--no-provision"]).run();
    let took = start.elapsed();
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(failed.stderr.contains("Failed to download the following packages"), "{}", failed.stderr);
    assert!(failed.stderr.contains(&format!("{mirror}AppStream/x86_64/os/Packages/c/cloud-init-1.0-1.el9.x86_64.rpm")), "{}", failed.stderr);
    assert!(failed.stderr.contains("`mirror:` another copy"), "{}", failed.stderr);
    assert!(took < Duration::from_secs(120), "the failing mirror was reported after {took:?}");

    // A new user gives up: destroy says the base failed, prune removes it, and nothing lab
    // made is left (the host-only interface went with the base that still used it).
    let destroyed = a.lab().args(["destroy", "--yes"]).run().ok();
    assert!(destroyed.stderr.contains("failed: its install did not finish"), "{}", destroyed.stderr);
    assert!(destroyed.stderr.contains("goes with the base"), "{}", destroyed.stderr);
    let pruned = a.lab().args(["base", "prune"]).run().ok();
    assert!(pruned.stderr.contains("removed") || pruned.stdout.contains("removed"), "{}{}", pruned.stdout, pruned.stderr);
    assert!(a.leftovers().is_empty(), "{:?}", a.leftovers());

    std::fs::write(a.served_path(rpm), kept).expect("rpm back");
    let up = a.lab().args(["up", "--no-provision"]).run().ok();
    assert!(up.stderr.contains("installing over the network"), "{}", up.stderr);
    assert_eq!(a.served("mirror/BaseOS/x86_64/os/repodata/repomd.xml"), 2, "each install read the metadata once");
    assert!(a.served("mirror/BaseOS/x86_64/os/Packages/o/openssh-server-1.0-1.el9.x86_64.rpm") >= 1);
    assert!(a.served(rpm) >= 1);
    assert_eq!(a.calls("clonevm"), 3);
    assert_eq!(a.lab().args(["ssh", "node1", "--", "hostname"]).run().ok().stdout, "node1\n");
    a.lab().args(["destroy", "--yes"]).run().ok();
    a.lab().args(["base", "prune"]).run().ok();
    assert!(a.leftovers().is_empty(), "{:?}", a.leftovers());
}

/// A classroom shares one base: made by one lab, exported to one file, removed from this
/// computer (and the download cache emptied), imported from the file; a second lab then makes
/// its nodes from it with no ISO (none is served any more) and no install. A damaged copy of
/// the file is refused naming it; a base of another architecture is refused saying why.
#[test]
fn an_exported_base_is_imported_and_cloned_with_no_iso_and_no_install() {
    let _one_cluster_at_a_time = crate::support::heavy();
    let a = VboxLab::new("74", 3).with_base();
    a.lab().args(["up", "--no-provision"]).run().ok();
    let base = base_names(&a)[0].split(' ').next().expect("name").to_string();
    let file = a.dir.join("classroom base.labbase");
    let exported = a.lab().args(["base", "export", &base]).args([file.to_str().expect("utf-8")]).run().ok();
    assert!(exported.stdout.contains("sha256 "), "{}", exported.stdout);
    a.lab().args(["destroy", "--yes"]).run().ok();
    a.lab().args(["base", "rm", &base]).run().ok();
    std::fs::remove_dir_all(a.cache_dir()).expect("empty the cache");
    std::fs::create_dir_all(a.cache_dir()).expect("cache");
    assert!(base_names(&a).is_empty());

    // A copy damaged in its disk image: refused, naming the file; nothing registered.
    let mut bytes = std::fs::read(&file).expect("export");
    let at = bytes.len() - 4096;
    bytes[at] ^= 0xff;
    let bad = a.dir.join("damaged.labbase");
    std::fs::write(&bad, &bytes).expect("write");
    let refused = a.lab().args(["base", "import"]).args([bad.to_str().expect("utf-8")]).run();
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains(&bad.display().to_string()) && refused.stderr.contains("not a whole lab base export"), "{}", refused.stderr);
    // One byte of its header changed (a letter of the title; still valid JSON): refused too.
    let mut bytes = std::fs::read(&file).expect("export");
    let at = bytes.windows(7).position(|w| w == b"\"title\"").expect("the header's title") + 12;
    bytes[at] ^= 0x01;
    std::fs::write(&bad, &bytes).expect("write");
    let refused = a.lab().args(["base", "import"]).args([bad.to_str().expect("utf-8")]).run();
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("do not match the SHA-256 it closes with"), "{}", refused.stderr);
    // The same base said to be for arm64 machines: refused before anything is read or made.
    let arm = a.dir.join("arm64.labbase");
    {
        let mut out = tar::Builder::new(std::fs::File::create(&arm).expect("arm"));
        let mut archive = tar::Archive::new(std::fs::File::open(&file).expect("export"));
        for e in archive.entries().expect("entries") {
            let mut e = e.expect("entry");
            let name = e.path().expect("path").to_string_lossy().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).expect("read");
            if name == "lab-base.json" {
                data = String::from_utf8(data).expect("utf-8").replace("\"x86_64\"", "\"aarch64\"").replace("-x86_64-", "-aarch64-").into_bytes();
            }
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_cksum();
            out.append_data(&mut h, &name, data.as_slice()).expect("append");
        }
        out.finish().expect("finish");
    }
    let refused = a.lab().args(["base", "import"]).args([arm.to_str().expect("utf-8")]).run();
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("for aarch64 machines") && refused.stderr.contains("runs only x86_64 machines"), "{}", refused.stderr);
    assert_eq!(a.calls("import"), 0, "nothing reached VirtualBox");

    let imported = a.lab().args(["base", "import"]).args([file.to_str().expect("utf-8")]).run().ok();
    assert!(imported.stdout.contains(&format!("base {base} imported")), "{}", imported.stdout);
    assert_eq!(base_names(&a), vec![format!("{base} 0")]);

    // A second lab with the same base: no ISO to be had, none needed; no install.
    let b = VboxLab::new("75", 3).with_base().sharing(&a);
    std::fs::remove_file(b.served_path("CentOS-Stream-9-latest-x86_64-dvd1.iso")).expect("no ISO served");
    let (createvm, startvm_base) = (a.calls("createvm"), a.calls("startvm lab-base"));
    b.lab().args(["up", "--no-provision"]).run().ok();
    assert_eq!(a.calls("createvm"), createvm, "no VM was installed");
    assert_eq!(a.calls("startvm lab-base"), startvm_base, "the base was not booted");
    assert_eq!(a.calls("clonevm"), 6);
    assert_eq!(b.lab().args(["ssh", "node2", "--", "hostname"]).run().ok().stdout, "node2\n");
    b.lab().args(["destroy", "--yes"]).run().ok();
    b.lab().args(["base", "prune"]).run().ok();
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}
