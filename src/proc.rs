//! Running external programs: the one place that builds process invocations, captures their
//! output and turns a failure into an error that carries the argv and stderr.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

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

/// Runs `program args` to completion with `LANG=C`; returns stdout. A non-zero exit is an error
/// carrying the argv and stderr.
pub fn run<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .env("LANG", "C")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("running {}", argv_text(program, args)), e))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Error::Command {
            argv: argv_text(program, args),
            status: out.status.code().map_or_else(|| "killed by a signal".to_string(), |c| format!("exit code {c}")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Where a program lives, searching PATH and the usual system folders (sbin is often not on a
/// user's PATH).
pub fn find_program(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"].iter().map(std::path::PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_carries_argv_and_stderr() {
        match run("sh", &["-c", "echo nope >&2; exit 3"]) {
            Err(Error::Command { argv, status, stderr }) => {
                assert_eq!(argv, "sh -c 'echo nope >&2; exit 3'");
                assert_eq!(status, "exit code 3");
                assert_eq!(stderr, "nope");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(run("sh", &["-c", "echo yes"]).expect("runs"), "yes\n");
    }
}
