//! `lab ssh` through russh against real sshd nodes.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::sandbox::SandboxLab;

#[test]
fn commands_return_their_output_and_status() {
    let lab = SandboxLab::new(1);
    lab.lab().args(["up", "--no-provision"]).run().ok();
    let out = lab.lab().args(["ssh", "node1", "--", "hostname"]).run().ok();
    assert_eq!(out.stdout, "node1\n");
    lab.lab().args(["ssh", "node1", "--", "false"]).run().expect_code(1);
    lab.lab().args(["ssh", "node1", "--", "exit 42"]).run().expect_code(42);
    let quoted = lab.lab().args(["ssh", "master", "--", "printf", "%s|", "a b", "$HOME"]).run().ok();
    assert_eq!(quoted.stdout, "a b|$HOME|", "arguments must arrive as written");
    let err = lab.lab().args(["ssh", "master", "--", "echo oops >&2"]).run().ok();
    assert_eq!(err.stderr, "oops\n");
}

#[test]
fn a_node_presenting_another_host_key_is_refused() {
    let lab = SandboxLab::new(1);
    lab.lab().args(["up", "--no-provision"]).run().ok();
    // lab's record of node1's key changes (to master's); the node keeps presenting its own.
    let keys = lab.state().join("hostkeys/node1");
    let saved = lab.dir.path().join("saved-node1-key");
    std::fs::rename(&keys, &saved).expect("move key");
    std::fs::create_dir_all(&keys).expect("mkdir");
    for f in ["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"] {
        std::fs::copy(lab.state().join("hostkeys/master").join(f), keys.join(f)).expect("copy master's key");
    }
    let out = lab.lab().args(["ssh", "node1", "--", "hostname"]).run().expect_code(1);
    assert!(out.stderr.contains("host key mismatch") && out.stderr.contains("SHA256:") && out.stderr.contains("refuses"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "a command ran on a node with the wrong key: {}", out.stdout);
    std::fs::remove_dir_all(&keys).expect("remove new key");
    std::fs::rename(&saved, &keys).expect("restore key");
    assert_eq!(lab.lab().args(["ssh", "node1", "--", "hostname"]).run().ok().stdout, "node1\n");
}

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("tmux: run `bash tests/run.sh`, which installs it");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn interactive_shell_through_a_pseudo_terminal() {
    let lab = SandboxLab::new(1);
    lab.lab().args(["up", "--no-provision"]).run().ok();
    let session = format!("lab-test-{}", lab.name);
    let socket = format!("lab-test-{}", lab.name);
    let done = lab.dir.path().join("exit-status");
    let cmd = format!("cd {} && {} ssh node1; echo \"exit=$?\" > {}", lab.dir.path().display(), crate::support::lab_bin(), done.display());
    tmux(&["-L", &socket, "new-session", "-d", "-s", &session, "-x", "120", "-y", "30", &cmd]);
    struct Kill(String);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Command::new("tmux").args(["-L", &self.0, "kill-server"]).status();
        }
    }
    let _kill = Kill(socket.clone());
    let wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let screen = tmux(&["-L", &socket, "capture-pane", "-p", "-t", &session]);
            if screen.contains(needle) {
                return screen;
            }
            assert!(Instant::now() < deadline, "never saw {needle:?}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for("$");
    tmux(&["-L", &socket, "send-keys", "-t", &session, "echo \"on $(hostname) cols=$(tput cols)\"", "Enter"]);
    wait_for("on node1 cols=120");
    tmux(&["-L", &socket, "resize-window", "-t", &session, "-x", "100", "-y", "30"]);
    std::thread::sleep(Duration::from_millis(300));
    tmux(&["-L", &socket, "send-keys", "-t", &session, "echo \"now $(tput cols)\"", "Enter"]);
    wait_for("now 100");
    tmux(&["-L", &socket, "send-keys", "-t", &session, "exit 3", "Enter"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done.exists() {
        assert!(Instant::now() < deadline, "the shell did not end");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(std::fs::read_to_string(&done).expect("status").trim(), "exit=3");
}
