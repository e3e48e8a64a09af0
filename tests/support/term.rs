//! A real terminal for tests: a tmux server of its own running one command, its screen read
//! and keys typed into it; the server is killed on drop, whatever happens.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::lab_bin;

pub fn tmux(socket: &str, args: &[&str]) -> String {
    let out = Command::new("tmux").arg("-L").arg(socket).args(args).output().expect("tmux: run `bash tests/run.sh`, which installs it");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub struct Term {
    socket: String,
    done: PathBuf,
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).status();
    }
}

impl Term {
    /// Starts `lab ARGS` in a `cols`x`rows` terminal in `dir`; lab's exit status is written to a
    /// file in `dir` when it ends (see `status`).
    pub fn lab(name: &str, cols: u16, rows: u16, dir: &Path, env: &[(&str, &str)], args: &str) -> Self {
        let socket = format!("lab-term-{name}");
        let done = dir.join(format!("exit-{name}-{cols}x{rows}"));
        let exports: String = env.iter().map(|(k, v)| format!("export {k}='{v}'; ")).collect();
        let cmd = format!("cd '{}' && {exports}unset CI; {} {args}; echo \"exit=$?\" > '{}'; sleep 600", dir.display(), lab_bin(), done.display());
        let t = Self { socket, done };
        tmux(&t.socket, &["new-session", "-d", "-s", "t", "-x", &cols.to_string(), "-y", &rows.to_string(), "env", "TERM=xterm-256color", "sh", "-c", &cmd]);
        tmux(&t.socket, &["set-option", "-t", "t", "history-limit", "10000"]);
        t
    }

    /// The visible screen.
    pub fn screen(&self) -> String {
        tmux(&self.socket, &["capture-pane", "-p", "-t", "t"])
    }

    /// The screen with its whole scrollback, wrapped lines joined.
    pub fn scrollback(&self) -> String {
        tmux(&self.socket, &["capture-pane", "-p", "-J", "-S", "-", "-t", "t"])
    }

    /// Types `text` and presses Enter.
    pub fn type_line(&self, text: &str) {
        tmux(&self.socket, &["send-keys", "-t", "t", "-l", text]);
        tmux(&self.socket, &["send-keys", "-t", "t", "Enter"]);
    }

    /// Waits until the scrollback satisfies `ok`, failing with the screen after `limit`.
    pub fn wait_for(&self, what: &str, limit: Duration, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.scrollback();
            if ok(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "waited {limit:?} for {what}; the terminal shows:\n{s}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// lab's exit status line (`exit=N`) once it has ended, if it has.
    pub fn status(&self) -> Option<String> {
        std::fs::read_to_string(&self.done).ok().map(|s| s.trim().to_string())
    }
}
