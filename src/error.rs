//! Every failure `lab` reports, with the context to understand it, a hint saying what to do, and
//! its exit code. Rendered in one place (`ui::Printer::error`); mapped to exit codes here.

use std::path::PathBuf;
use std::time::Duration;

use crate::spec::diag::Diagnostic;

/// Exit codes: 0 ok or nothing to do, 1 a failure while doing the work, 2 a usage or lab-file
/// problem (nothing was touched).
pub const EXIT_FAILURE: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{} has {} problem{}", file.display(), diagnostics.len(), if diagnostics.len() == 1 { "" } else { "s" })]
    Spec { file: PathBuf, diagnostics: Vec<Diagnostic> },

    #[error("no lab.yaml in {} or any folder above it", start.display())]
    NoLabFile { start: PathBuf },

    #[error("{0}")]
    Usage(String),

    /// The command cannot work with this lab's provider (`lab halt` on existing machines).
    #[error("{what}")]
    Unsupported { what: String, hint: String },

    #[error("no node named {name:?} in lab {lab:?}")]
    UnknownNode { lab: String, name: String, known: Vec<String> },

    #[error("{} exists already", file.display())]
    Exists { file: PathBuf },

    #[error("no lab template named {name:?}")]
    UnknownTemplate { name: String, known: Vec<String> },

    /// A command that needs a built lab, on a lab that was never built here.
    #[error("lab {lab:?} has not been built here")]
    NotBuilt { lab: String },

    #[error("lab {lab:?} was built with the {built} provider; the lab file now says {now}")]
    ProviderChanged { lab: String, built: String, now: String },

    #[error("lab {lab:?} is busy: {holder}")]
    Locked { lab: String, holder: String, lock: PathBuf },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("the state file {} is damaged: {reason}", path.display())]
    BadState { path: PathBuf, reason: String },

    /// A path lab must own is a symbolic link (or otherwise not what lab wrote).
    #[error("{} is a symbolic link; lab does not follow links in its state folder", path.display())]
    Symlink { path: PathBuf },

    /// An external program failed.
    #[error("`{argv}` failed ({status}){}", if stderr.is_empty() { String::new() } else { format!(": {stderr}") })]
    Command { argv: String, status: String, stderr: String },

    /// A bounded wait ran out.
    #[error("{what} did not finish within {}", human(*after))]
    Timeout { what: String, after: Duration },

    /// Something on this machine stops the work; `fix` says what to run or change.
    #[error("{problem}")]
    Preflight { problem: String, fix: String },

    /// A node did not come up, answer, or do what it was asked.
    #[error("node {node}: {problem}")]
    Node { node: String, problem: String, hint: Option<String> },

    /// A node presented another SSH host key than the one lab pinned for it.
    #[error("node {node}: host key mismatch at {addr}: the node presented {presented} ({algorithm}), but lab pinned {pinned} for it")]
    HostKey { node: String, addr: String, presented: String, algorithm: String, pinned: String },

    /// A VBoxManage call failed.
    #[error("`{argv}` failed: {stderr}")]
    VBox { argv: String, stderr: String, hint: Option<String> },

    #[error("downloading {url}: {problem}")]
    Download { url: String, problem: String },

    #[error("checksum mismatch for {url}: expected {algo} {expected}, got {got}; the file was deleted")]
    Checksum { url: String, algo: String, expected: String, got: String },

    #[error("{failed} of {total} checks failed: {}", names.join(", "))]
    VerifyFailed { failed: usize, total: usize, names: Vec<String> },

    /// A kickstart could not be made from the lab.
    #[error("kickstart: {0}")]
    Kickstart(String),

    /// The user answered no, or pressed Ctrl-C.
    #[error("{0}")]
    Cancelled(String),

    /// A bug in lab: an invariant did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 120 {
        format!("{} min", s / 60)
    } else if s >= 1 {
        format!("{s} s")
    } else {
        format!("{} ms", d.as_millis())
    }
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }

    pub fn node(node: &str, problem: impl Into<String>) -> Self {
        Self::Node { node: node.to_string(), problem: problem.into(), hint: None }
    }

    pub fn node_hint(node: &str, problem: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::Node { node: node.to_string(), problem: problem.into(), hint: Some(hint.into()) }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Spec { .. }
            | Self::NoLabFile { .. }
            | Self::Usage(_)
            | Self::Unsupported { .. }
            | Self::UnknownNode { .. }
            | Self::Exists { .. }
            | Self::UnknownTemplate { .. } => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Spec { .. } => "fix the lines above and run `lab validate` again; nothing was changed".into(),
            Self::NoLabFile { .. } => "run `lab init` to write a lab.yaml here, or point at one with `lab -f path/to/lab.yaml`".into(),
            Self::Usage(_) => "see `lab help`".into(),
            Self::Unsupported { hint, .. } => hint.clone(),
            Self::UnknownNode { known, .. } => format!("the lab's nodes are: {}", known.join(", ")),
            Self::Exists { .. } => "pass --force to overwrite it".into(),
            Self::UnknownTemplate { known, .. } => format!("templates: {}", known.join(", ")),
            Self::NotBuilt { .. } => "run `lab up` first".into(),
            Self::ProviderChanged { built, .. } => {
                format!("destroy it with the lab file it was built with (provider: {built}), then build it anew")
            }
            Self::Locked { lock, .. } => format!(
                "wait for it to finish; if that process is gone, the lock is released by itself (lock file: {})",
                lock.display()
            ),
            Self::BadState { path, .. } => format!(
                "move {} aside and run the command again; `lab destroy` still finds what lab created by its marks",
                path.display()
            ),
            Self::Symlink { .. } => "replace the link with a real folder (or remove it) and run the command again".into(),
            Self::Command { .. } => "run it again with -v to see every command lab runs".into(),
            Self::Timeout { .. } => "run the command again; it continues where it stopped".into(),
            Self::Preflight { fix, .. } => fix.clone(),
            Self::Node { hint, .. } | Self::VBox { hint, .. } => return hint.clone(),
            Self::HostKey { .. } => "the machine at that address is not the node lab built (it was rebuilt outside lab, or another host took its address); lab refuses to log in. If you rebuilt it, run `lab destroy` and `lab up`".into(),
            Self::Download { .. } => "check the URL and your network, then run again; finished downloads are kept in the cache".into(),
            Self::Checksum { .. } => "run again to download it anew; if it fails again, the URL serves another file than its checksum describes".into(),
            Self::VerifyFailed { .. } => "`lab up` restarts what is missing; `lab ssh NODE` shows the node".into(),
            Self::Io { .. } | Self::Kickstart(_) | Self::Cancelled(_) => return None,
            Self::Internal(_) => "this is a bug in lab; please report it with the output of `lab -v`".into(),
        })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_problems_exit_2_and_work_failures_exit_1() {
        assert_eq!(Error::Usage("x".into()).exit_code(), EXIT_USAGE);
        assert_eq!(Error::NotBuilt { lab: "x".into() }.exit_code(), EXIT_FAILURE);
        assert_eq!(Error::Timeout { what: "`ip link`".into(), after: Duration::from_secs(30) }.to_string(), "`ip link` did not finish within 30 s");
        assert!(Error::NotBuilt { lab: "x".into() }.hint().is_some_and(|h| h.contains("lab up")));
    }
}
