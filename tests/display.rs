//! What a student sees: `lab up` in a real terminal (tmux) at 80x24 and 120x30, its screen and
//! scrollback captured at the end: no line twice, no unfinished bar left behind, every node's
//! results, the summary. And a VirtualBox install through the stand-in shows its phases while
//! it waits.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::sandbox::SandboxLab;
use crate::support::http::FileServer;
use crate::support::term::Term;
use crate::support::{digest_in, fixtures};

/// Runs `lab ARGS` in a `cols`x`rows` terminal until it ends; returns its exit status line and
/// the screen with its whole scrollback, and calls `during` every half second meanwhile.
fn in_terminal(name: &str, cols: u16, rows: u16, dir: &Path, env: &[(&str, &str)], args: &str, mut during: impl FnMut(&str)) -> (String, String) {
    let term = Term::lab(name, cols, rows, dir, env, args);
    let deadline = Instant::now() + Duration::from_secs(400);
    while term.status().is_none() {
        assert!(Instant::now() < deadline, "lab did not finish; the screen:\n{}", term.screen());
        during(&term.screen());
        std::thread::sleep(Duration::from_millis(500));
    }
    (term.status().unwrap_or_default(), term.scrollback())
}

/// No line twice, nothing that looks like a transfer bar or a spinner row left behind.
fn assert_clean(screen: &str) {
    let lines: Vec<&str> = screen.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).collect();
    let mut seen = std::collections::HashSet::new();
    for l in &lines {
        assert!(seen.insert(*l), "the line {l:?} appears twice:\n{screen}");
        assert!(!(l.contains("[=") || l.contains("=>") || l.contains("MiB/") || l.contains("KiB/")), "an unfinished bar was left behind: {l:?}\n{screen}");
        assert!(!"⠁⠂⠄⡀⢀⠠⠐⠈⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏".chars().any(|c| l.starts_with(c)), "a spinner row was left behind: {l:?}\n{screen}");
    }
}

#[test]
fn lab_up_leaves_a_clean_screen_at_80x24_and_120x30() {
    let _one_cluster_at_a_time = crate::support::heavy();
    let f = fixtures();
    let served = tempfile::tempdir().expect("tmp");
    for name in ["jdk-17-lab.tar.gz", "spark-3.5.7-bin-hadoop3.tgz", "spark-3.5.7-bin-hadoop3.tgz.sha512"] {
        std::fs::hard_link(f.join(name), served.path().join(name)).or_else(|_| std::fs::copy(f.join(name), served.path().join(name)).map(drop)).expect("link");
    }
    let server = FileServer::start(served.path());
    let software = format!(
        "java:\n  version: 17\n  install: tarball\n  url: {}\n  sha256: {}\nspark:\n  version: 3.5.7\n  url: {}\n  checksum_url: {}\n  worker_cores: 1\n  worker_memory: 512m\n  history: false\n",
        server.url("jdk-17-lab.tar.gz"),
        digest_in(&f.join("jdk-17-lab.tar.gz.sha256")),
        server.url("spark-3.5.7-bin-hadoop3.tgz"),
        server.url("spark-3.5.7-bin-hadoop3.tgz.sha512"),
    );
    for (cols, rows) in [(80, 24), (120, 30)] {
        let lab = SandboxLab::with(2, |_| software.clone());
        let cache = tempfile::tempdir().expect("cache");
        let env = [("LAB_CACHE_DIR", cache.path().to_str().expect("utf-8")), ("NO_PROXY", "127.0.0.1")];
        let mut saw_bar = false;
        let (status, screen) = in_terminal(&lab.name, cols, rows, lab.dir.path(), &env, "up", |s| saw_bar |= s.contains("MiB/") || s.contains("KiB/"));
        assert_eq!(status.trim(), "exit=0", "{screen}");
        assert!(saw_bar, "no transfer bar was ever shown while the JDK and Spark were pushed");
        assert_clean(&screen);
        for n in ["master", "node1", "node2"] {
            for step in ["hosts_file", "java_installed", "spark_installed"] {
                assert!(screen.contains(&format!("{n}: {step}: done")), "{n}'s {step} result is missing ({cols}x{rows}):\n{screen}");
            }
        }
        assert!(screen.contains(&format!("lab \"{}\" is up", lab.name)) && screen.contains("next: `lab verify`"), "no summary:\n{screen}");
        assert!(screen.contains(&format!("web UI http://{}:8080", lab.ip(10))), "{screen}");
        assert!(!screen.contains('\x1b'), "escape codes in the captured text");
    }
}

#[test]
fn a_virtualbox_install_shows_its_phases_while_it_waits() {
    let lab = crate::vbox::VboxLab::new("60", 6);
    let mut env = lab.env();
    env.push(("LAB_BOOT_KEYS_DELAY".into(), "2".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut phases = Vec::new();
    let mut usual = false;
    let (status, screen) = in_terminal("vb60", 100, 30, lab.dir.as_path(), &env, "up --no-provision", |s| {
        for p in ["booting the installer", "installing", "first boot"] {
            if s.contains(p) && !phases.contains(&p) {
                phases.push(p);
            }
        }
        usual |= s.contains("of about");
    });
    assert_eq!(status.trim(), "exit=0", "{screen}");
    assert!(phases.contains(&"booting the installer") && phases.contains(&"installing"), "the install's phases were not shown: {phases:?}\n{screen}");
    assert!(usual, "the time an install usually takes was never shown");
    assert_clean(&screen);
    for n in ["master", "node1", "node2"] {
        assert!(screen.contains(&format!("{n}: os_installed: done")), "{screen}");
    }
}
