//! Every failure `lab` reports, with the context to understand it, a hint saying what to do, and
//! its exit code. Rendered in one place (`ui::Printer::error`).

use std::path::PathBuf;

use crate::spec::Diagnostic;

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

    #[error("no node named {name:?} in lab {lab:?}")]
    UnknownNode { lab: String, name: String, known: Vec<String> },

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

    #[error("{file} exists already")]
    Exists { file: PathBuf },

    #[error("no lab template named {name:?}")]
    UnknownTemplate { name: String, known: Vec<String> },

    /// An external program failed.
    #[error("`{argv}` failed ({status}){}", if stderr.is_empty() { String::new() } else { format!(": {stderr}") })]
    Command { argv: String, status: String, stderr: String },

    /// Something on this machine stops the work; `fix` says what to run or change.
    #[error("{problem}")]
    Preflight { problem: String, fix: String },

    /// A node did not come up or answer in time.
    #[error("node {node}: {problem}")]
    Node { node: String, problem: String, hint: Option<String> },

    /// A VBoxManage call failed.
    #[error("`{argv}` failed: {stderr}")]
    VBox { argv: String, stderr: String, hint: Option<String> },

    #[error("{failed} of {total} checks failed: {}", names.join(", "))]
    VerifyFailed { failed: usize, total: usize, names: Vec<String> },

    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Spec { .. }
            | Self::NoLabFile { .. }
            | Self::Usage(_)
            | Self::UnknownNode { .. }
            | Self::Exists { .. }
            | Self::UnknownTemplate { .. } => EXIT_USAGE,
            Self::Locked { .. }
            | Self::Io { .. }
            | Self::BadState { .. }
            | Self::Command { .. }
            | Self::Preflight { .. }
            | Self::Node { .. }
            | Self::VerifyFailed { .. }
            | Self::VBox { .. }
            | Self::Other(_) => EXIT_FAILURE,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Spec { .. } => Some("fix the lines above and run `lab validate` again; nothing was changed".into()),
            Self::NoLabFile { .. } => {
                Some("run `lab init` to write a lab.yaml here, or point at one with `lab -f path/to/lab.yaml`".into())
            }
            Self::Usage(_) => Some("see `lab help`".into()),
            Self::UnknownNode { known, .. } => Some(format!("the lab's nodes are: {}", known.join(", "))),
            Self::Locked { lock, .. } => Some(format!(
                "wait for it to finish; if that process is gone, the lock is released by itself (lock file: {})",
                lock.display()
            )),
            Self::Io { .. } => None,
            Self::BadState { path, .. } => Some(format!(
                "move {} aside and run the command again; lab rebuilds what it can from what exists",
                path.display()
            )),
            Self::Exists { .. } => Some("pass --force to overwrite it".into()),
            Self::UnknownTemplate { known, .. } => Some(format!("templates: {}", known.join(", "))),
            Self::Command { .. } => Some("run it again with -v to see every command lab runs".into()),
            Self::Preflight { fix, .. } => Some(fix.clone()),
            Self::Node { hint, .. } => hint.clone(),
            Self::VerifyFailed { .. } => Some("`lab up` restarts what is missing; `lab ssh NODE` shows the node".into()),
            Self::VBox { hint, .. } => hint.clone(),
            Self::Other(_) => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
