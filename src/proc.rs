//! Running external programs: the one place that starts processes. Callers describe a [`Cmd`];
//! a [`Runner`] runs it with a time limit and hands back its exit status and output. The VBoxManage
//! driver and the sandbox code take a `&dyn Runner`, so their logic is unit-tested against
//! in-process fakes, and every wait on another program is bounded.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long a program may run unless its caller says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// One program invocation.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    pub timeout: Duration,
}

impl Cmd {
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self { program: program.into(), args: Vec::new(), env: Vec::new(), timeout: DEFAULT_TIMEOUT }
    }

    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    #[must_use]
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.env.push((k.as_ref().to_os_string(), v.as_ref().to_os_string()));
        self
    }

    #[must_use]
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// The argv as one line for messages, quoted where needed.
    pub fn text(&self) -> String {
        let name = self.program.file_name().unwrap_or(self.program.as_os_str()).to_string_lossy().into_owned();
        argv_text(&name, &self.args)
    }

    /// The arguments as text (for fakes and tests).
    #[cfg(test)]
    pub fn arg_strings(&self) -> Vec<String> {
        self.args.iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }
}

/// What a program did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// What a program did, as the bytes it wrote: for a caller that knows the program writes in
/// another encoding than UTF-8 (VBoxManage on Windows writes to a pipe in the ANSI code page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawOutput {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl From<Output> for RawOutput {
    fn from(o: Output) -> Self {
        Self { code: o.code, stdout: o.stdout.into_bytes(), stderr: o.stderr.into_bytes() }
    }
}

/// Runs programs. `Err` only when the program could not be started or did not end in time;
/// a non-zero exit is an [`Output`] for the caller to judge.
pub trait Runner: Send + Sync {
    fn run_raw(&self, cmd: &Cmd) -> Result<RawOutput>;

    /// The output as UTF-8 text (what every program but VBoxManage on Windows writes).
    fn run(&self, cmd: &Cmd) -> Result<Output> {
        let raw = self.run_raw(cmd)?;
        Ok(Output { code: raw.code, stdout: String::from_utf8_lossy(&raw.stdout).into_owned(), stderr: String::from_utf8_lossy(&raw.stderr).into_owned() })
    }
}

/// Runs `cmd` and fails unless it exits 0; the error carries the argv and stderr.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the sandbox provider (Linux only) uses it
pub fn check(runner: &dyn Runner, cmd: &Cmd) -> Result<String> {
    let out = runner.run(cmd)?;
    if out.success() {
        return Ok(out.stdout);
    }
    Err(Error::Command {
        argv: cmd.text(),
        status: out.code.map_or_else(|| "killed by a signal".to_string(), |c| format!("exit code {c}")),
        stderr: out.stderr.trim().to_string(),
    })
}

/// The real machine.
pub struct System;

impl Runner for System {
    fn run_raw(&self, cmd: &Cmd) -> Result<RawOutput> {
        let mut c = Command::new(&cmd.program);
        c.args(&cmd.args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in &cmd.env {
            c.env(k, v);
        }
        let mut child = c.spawn().map_err(|e| Error::io(format!("running {}", cmd.text()), e))?;
        // Read both pipes on threads so a chatty program never blocks on a full pipe.
        let mut out_pipe = child.stdout.take();
        let mut err_pipe = child.stderr.take();
        let out_reader = std::thread::spawn(move || {
            let mut b = Vec::new();
            if let Some(p) = out_pipe.as_mut() {
                let _ = p.read_to_end(&mut b);
            }
            b
        });
        let err_reader = std::thread::spawn(move || {
            let mut b = Vec::new();
            if let Some(p) = err_pipe.as_mut() {
                let _ = p.read_to_end(&mut b);
            }
            b
        });
        let deadline = Instant::now() + cmd.timeout;
        let mut pause = Duration::from_millis(1);
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::Timeout { what: format!("`{}`", cmd.text()), after: cmd.timeout });
                }
                Ok(None) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(e) => return Err(Error::io(format!("waiting for {}", cmd.text()), e)),
            }
        };
        let stdout = out_reader.join().unwrap_or_default();
        let stderr = err_reader.join().unwrap_or_default();
        Ok(RawOutput { code: status.code(), stdout, stderr })
    }
}

/// Renders an argv for messages.
pub fn argv_text<S: AsRef<OsStr>>(program: &str, args: &[S]) -> String {
    std::iter::once(program.to_string())
        .chain(args.iter().map(|a| {
            let s = a.as_ref().to_string_lossy();
            if s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
                format!("'{}'", s.replace('\'', "'\\''"))
            } else {
                s.into_owned()
            }
        }))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where a program lives, searching PATH and the usual system folders (sbin is often not on a
/// user's PATH).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the sandbox provider (Linux only) uses it
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"].iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn failure_carries_argv_and_stderr() {
        let cmd = Cmd::new("sh").args(["-c", "echo nope >&2; exit 3"]);
        match check(&System, &cmd) {
            Err(Error::Command { argv, status, stderr }) => {
                assert_eq!(argv, "sh -c 'echo nope >&2; exit 3'");
                assert_eq!(status, "exit code 3");
                assert_eq!(stderr, "nope");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(check(&System, &Cmd::new("sh").args(["-c", "echo yes"])).expect("runs"), "yes\n");
    }

    #[test]
    fn a_program_that_hangs_is_stopped_at_its_deadline() {
        let start = Instant::now();
        let cmd = Cmd::new("sleep").args(["30"]).timeout(Duration::from_millis(300));
        match System.run(&cmd) {
            Err(Error::Timeout { what, .. }) => assert!(what.contains("sleep 30"), "{what}"),
            other => panic!("{other:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
