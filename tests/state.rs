//! The lab's state folder, its keys and its lock, seen from outside.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use crate::support::{Lab, lab_dir};
use crate::vbox::standin;

/// lab with the VBoxManage stand-in and a world of its own (no VM, no host-only interface).
fn with_standin(dir: &std::path::Path, world: &std::path::Path) -> Lab {
    Lab::new(dir).env("VBOXMANAGE", standin().to_str().expect("utf-8")).env("VBOXSTANDIN_HOME", world.to_str().expect("utf-8"))
}

#[test]
fn a_second_mutating_command_fails_at_once_naming_the_holder() {
    let dir = lab_dir(include_str!("../labs/spark.yaml"));
    let state = dir.path().join(".lab/spark");
    std::fs::create_dir_all(&state).expect("mkdir");
    // Stand in for a `lab up` that is still running: hold the lock the way lab does.
    let mut lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(state.join("lock")).expect("lock file");
    lock.lock().expect("take the lock");
    lock.set_len(0).expect("truncate");
    writeln!(lock, "pid 424242 (lab up)").expect("write");
    let world = tempfile::tempdir().expect("tmp");
    let start = std::time::Instant::now();
    let out = with_standin(dir.path(), world.path()).args(["up"]).run().expect_code(1);
    assert!(start.elapsed().as_secs() < 5, "lab waited for the lock instead of failing at once");
    assert!(out.stderr.contains("busy") && out.stderr.contains("pid 424242 (lab up)"), "{}", out.stderr);
    for args in [vec!["destroy", "--yes"], vec!["kickstart", "node1"]] {
        let out = Lab::new(dir.path()).args(&args).run().expect_code(1);
        assert!(out.stderr.contains("pid 424242"), "lab {args:?}: {}", out.stderr);
    }
    drop(lock);
    // Released: the next command proceeds (and stops only at the downloads, which tests keep on
    // this machine).
    let out = with_standin(dir.path(), world.path()).args(["up"]).run().expect_code(1);
    assert!(!out.stderr.contains("busy") && out.stderr.contains("download"), "{}", out.stderr);
}

#[test]
fn state_folder_and_keys_are_private() {
    let dir = lab_dir(include_str!("../labs/spark.yaml"));
    Lab::new(dir.path()).args(["kickstart", "master"]).run().ok();
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    let state = dir.path().join(".lab/spark");
    assert_eq!(mode(&dir.path().join(".lab")), 0o700);
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join("id_ed25519")), 0o600);
    for n in ["master", "node1", "node2"] {
        assert_eq!(mode(&state.join(format!("hostkeys/{n}/ssh_host_ed25519_key"))), 0o600);
    }
    let known = std::fs::read_to_string(state.join("known_hosts")).expect("known_hosts");
    assert_eq!(known.lines().count(), 3, "{known}");
}

#[test]
fn a_damaged_state_file_is_reported_not_ignored() {
    let dir = lab_dir(include_str!("../labs/spark.yaml"));
    let state = dir.path().join(".lab/spark");
    std::fs::create_dir_all(&state).expect("mkdir");
    std::fs::write(state.join("state.json"), "{ not json").expect("write");
    let world = tempfile::tempdir().expect("tmp");
    let out = with_standin(dir.path(), world.path()).args(["up"]).run().expect_code(1);
    assert!(out.stderr.contains("damaged") && out.stderr.contains("state.json"), "{}", out.stderr);
}
