//! The command line as a user meets it: help, init, validate, lookup, exit codes.

use crate::support::{Lab, lab_dir, repo};

const COMMANDS: &[&str] = &[
    "up",
    "halt",
    "provision",
    "ssh",
    "ssh-config",
    "verify",
    "status",
    "destroy",
    "validate",
    "init",
    "fetch",
    "kickstart",
    "run",
    "copy",
    "submit",
    "spark-shell",
    "pyspark",
    "logs",
    "ui",
    "completions",
];

#[test]
fn help_lists_every_command_with_examples() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Lab::new(dir.path()).args(["--help"]).run().ok();
    for c in COMMANDS {
        assert!(out.stdout.contains(&format!("\n  {c} ")), "`lab --help` does not list {c}:\n{}", out.stdout);
    }
    assert!(out.stdout.contains("Examples:"), "{}", out.stdout);
    for c in COMMANDS {
        let out = Lab::new(dir.path()).args(["help", c]).run().ok();
        assert!(out.stdout.contains("Example"), "`lab help {c}` has no example:\n{}", out.stdout);
        assert!(out.stdout.contains(&format!("lab {c}")), "`lab help {c}` shows no use of it:\n{}", out.stdout);
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    Lab::new(dir.path()).args(["frobnicate"]).run().expect_code(2);
    Lab::new(dir.path()).args(["up", "--no-such-flag"]).run().expect_code(2);
}

#[test]
fn completions_are_generated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Lab::new(dir.path()).args(["completions", "bash"]).run().ok();
    for c in COMMANDS {
        assert!(out.stdout.contains(&format!(" {c} ")) || out.stdout.contains(&format!("__{}", c.replace('-', "__"))), "no completion for {c}");
    }
    assert!(out.stdout.contains("complete") && out.stdout.contains("--workers") && out.stdout.contains("--class"), "{}", out.stdout);
}

#[test]
fn every_lab_in_labs_validates() {
    for entry in std::fs::read_dir(repo().join("labs")).expect("labs/") {
        let path = entry.expect("entry").path();
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Lab::new(dir.path()).args(["-f", path.to_str().expect("utf-8"), "validate"]).run().ok();
        assert!(out.stdout.contains(": ok: "), "{}", out.stdout);
        let json = Lab::new(dir.path()).args(["-f", path.to_str().expect("utf-8"), "--json", "validate"]).run().ok();
        let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
        assert_eq!(v["valid"], true);
        assert_eq!(v["nodes"].as_array().map(Vec::len), Some(3));
    }
}

#[test]
fn init_writes_each_template_and_refuses_to_overwrite() {
    let list = Lab::new(&repo()).args(["init", "--list"]).run().ok();
    for t in ["spark", "spark-3.5", "course-2018", "sandbox"] {
        assert!(list.stdout.contains(t), "{}", list.stdout);
        let dir = tempfile::tempdir().expect("tempdir");
        Lab::new(dir.path()).args(["init", t]).run().ok();
        let written = std::fs::read_to_string(dir.path().join("lab.yaml")).expect("lab.yaml");
        let original = std::fs::read_to_string(repo().join(format!("labs/{t}.yaml"))).expect("template");
        assert_eq!(written, original, "lab init {t} must write labs/{t}.yaml");
        if t == "spark" {
            assert!(written.contains("version: 4.3.0") && written.contains("connect: true"), "the default lab is Spark 4.x with Spark Connect");
        }
        Lab::new(dir.path()).args(["validate"]).run().ok();
        let again = Lab::new(dir.path()).args(["init", t]).run().expect_code(2);
        assert!(again.stderr.contains("exists already") && again.stderr.contains("--force"), "{}", again.stderr);
        Lab::new(dir.path()).args(["init", t, "--force"]).run().ok();
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Lab::new(dir.path()).args(["init", "kubernetes"]).run().expect_code(2);
    assert!(out.stderr.contains("course-2018"), "{}", out.stderr);
    assert!(!dir.path().join("lab.yaml").exists());
}

#[test]
fn lab_file_is_found_in_parent_folders() {
    let dir = lab_dir(include_str!("../labs/sandbox.yaml"));
    let sub = dir.path().join("notebooks/week1");
    std::fs::create_dir_all(&sub).expect("mkdir");
    let out = Lab::new(&sub).args(["validate"]).run().ok();
    assert!(out.stdout.contains("lab \"sandbox\""), "{}", out.stdout);
}

#[test]
fn missing_lab_file_says_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Lab::new(dir.path()).args(["validate"]).run().expect_code(2);
    assert!(out.stderr.contains("no lab.yaml") && out.stderr.contains("lab init"), "{}", out.stderr);
    let out = Lab::new(dir.path()).args(["-f", "nope.yaml", "up"]).run().expect_code(2);
    assert!(out.stderr.contains("nope.yaml"), "{}", out.stderr);
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let dir = lab_dir(include_str!("../labs/spark.yaml"));
    let out = Lab::new(dir.path()).args(["up", "--dry-run"]).run().ok();
    for needle in ["lab-spark-master", "hostonly_network", "conf/workers lists node1, node2", "spark_worker_running"] {
        assert!(out.stdout.contains(needle), "plan lacks {needle}:\n{}", out.stdout);
    }
    assert!(!dir.path().join(".lab").exists());
    let short = Lab::new(dir.path()).args(["up", "--dry-run", "--no-provision"]).run().ok();
    assert!(!short.stdout.contains("spark_installed"), "{}", short.stdout);
}

#[test]
fn commands_that_cannot_work_here_fail_clearly_never_pretending() {
    let dir = lab_dir(include_str!("../labs/spark.yaml"));
    // Without VirtualBox on this machine, VirtualBox commands say so and what to do.
    for args in [vec!["status"], vec!["halt"]] {
        let out = Lab::new(dir.path()).env("PATH", "/usr/bin:/bin").args(&args).run().expect_code(1);
        assert!(out.stderr.contains("VBoxManage is not installed"), "lab {args:?}: {}", out.stderr);
        assert!(out.stderr.contains("hint:") && out.stderr.contains("provider: sandbox"), "lab {args:?}: {}", out.stderr);
    }
    // Commands that need a built lab say so, instead of trying.
    for args in [vec!["verify"], vec!["provision"], vec!["ssh", "node1", "--", "hostname"]] {
        let out = Lab::new(dir.path()).args(&args).run().expect_code(1);
        assert!(out.stderr.contains("run `lab up` first"), "lab {args:?}: {}", out.stderr);
    }
    let out = Lab::new(dir.path()).args(["ssh", "node9"]).run().expect_code(2);
    assert!(out.stderr.contains("node9") && out.stderr.contains("master, node1, node2"), "{}", out.stderr);
}

#[test]
fn up_without_virtualbox_fails_before_creating_anything() {
    let dir = lab_dir(include_str!("../labs/spark.yaml"));
    let out = Lab::new(dir.path()).env("PATH", "/usr/bin:/bin").args(["up"]).run().expect_code(1);
    assert!(out.stderr.contains("VBoxManage is not installed"), "{}", out.stderr);
    assert!(!dir.path().join(".lab").exists(), "lab up created .lab/ on a computer that cannot run the lab");
    // Nothing was built: commands that need a built lab say so.
    let cfg = Lab::new(dir.path()).args(["ssh-config"]).run().expect_code(1);
    assert!(cfg.stderr.contains("run `lab up` first"), "{}", cfg.stderr);
    // `lab kickstart` makes the keys, and then ssh-config describes the nodes.
    Lab::new(dir.path()).args(["kickstart", "node1"]).run().ok();
    let cfg = Lab::new(dir.path()).args(["ssh-config"]).run().ok();
    assert!(cfg.stdout.contains("Host lab-spark-node1\n  HostName 192.168.56.11\n  Port 22\n  User spark"), "{}", cfg.stdout);
    // Without a terminal, destroy asks for --yes instead of guessing.
    let state = dir.path().join(".lab/spark");
    Lab::new(dir.path()).args(["destroy"]).run().expect_code(2);
    assert!(state.exists());
    Lab::new(dir.path()).env("PATH", "/usr/bin:/bin").args(["destroy", "--yes"]).run().ok();
    assert!(!dir.path().join(".lab").exists());
    let again = Lab::new(dir.path()).args(["destroy", "--yes"]).run().ok();
    assert!(again.stderr.contains("nothing to destroy"), "{}", again.stderr);
}

#[test]
fn offline_up_of_a_network_install_names_the_missing_files_and_the_mirror_before_anything() {
    // The course lab installs CentOS Stream 9 over the network: offline, with an empty cache and
    // no base, lab says so at once, with the two ways out (a teacher's base, or the DVD).
    let dir = lab_dir(include_str!("../labs/spark.yaml"));
    let cache = tempfile::tempdir().expect("cache");
    let cache_path = cache.path().to_str().expect("utf-8");
    let out = Lab::new(dir.path()).env("LAB_CACHE_DIR", cache_path).env("PATH", "/usr/bin:/bin").args(["up", "--offline"]).run().expect_code(1);
    for part in [
        "CentOS-Stream-9-latest-x86_64-boot.iso",
        "spark-4.",
        "installs its packages over the network (from https://",
        "lab fetch --into DIR --base",
        "offline: true",
    ] {
        assert!(out.stderr.contains(part), "missing {part:?} in:\n{}", out.stderr);
    }
    assert!(!dir.path().join(".lab").exists(), "an offline refusal created .lab/");
    // With `offline: true` (the DVD) there is no network install to refuse, only files.
    let text =
        std::fs::read_to_string(dir.path().join("lab.yaml")).expect("lab.yaml").replace("image: centos-stream-9\n", "image: centos-stream-9\noffline: true\n");
    std::fs::write(dir.path().join("lab.yaml"), text).expect("write");
    let out = Lab::new(dir.path()).env("LAB_CACHE_DIR", cache_path).env("PATH", "/usr/bin:/bin").args(["up", "--offline"]).run().expect_code(1);
    assert!(out.stderr.contains("dvd1.iso") && !out.stderr.contains("over the network"), "{}", out.stderr);
}

#[test]
fn json_errors_are_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Lab::new(dir.path()).args(["--json", "status"]).run().expect_code(2);
    let v: serde_json::Value = serde_json::from_str(&out.stderr).expect("stderr is JSON");
    assert_eq!(v["exit_code"], 2);
    assert!(v["hint"].is_string());
}

#[test]
fn colour_only_when_asked_or_on_a_terminal_without_no_color() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = Lab::new(dir.path()).args(["validate"]).run().expect_code(2);
    assert!(!plain.stderr.contains('\x1b'), "escape codes in a pipe: {:?}", plain.stderr);
    let always = Lab::new(dir.path()).args(["--color", "always", "validate"]).run().expect_code(2);
    assert!(always.stderr.contains("\x1b[31merror:"), "{:?}", always.stderr);
    let never = Lab::new(dir.path()).args(["--color", "never", "validate"]).run().expect_code(2);
    assert!(!never.stderr.contains('\x1b'), "{:?}", never.stderr);
}
