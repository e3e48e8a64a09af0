//! The seam over a node's SSH session that steps use: run a script (with input), push a file.
//! [`Ssh`] is the real one; the steps' unit tests use a fake that records every script and
//! answers from a table, so no sshd is needed to test what a step runs.

use std::path::Path;
use std::sync::Mutex;

use super::{Output, Session};
use crate::error::{Error, Result};
use crate::script::Sh;

/// Commands on one node, blocking (steps run on plain threads).
pub trait Remote: Send + Sync {
    /// The node's name, for errors.
    fn node(&self) -> &str;

    /// Runs `script`, with `input` on its standard input, and collects its output.
    fn exec_input(&self, script: &Sh, input: &[u8]) -> Result<Output>;

    /// Streams `local` to a new private file on the node, verified against `digest` as it goes;
    /// returns the remote path.
    fn upload(&self, local: &Path, digest: &str, progress: &mut (dyn FnMut(u64) + Send)) -> Result<String>;

    /// Ends the session (later calls fail).
    fn close(&self) {}

    /// Runs `script` and collects its output.
    fn exec(&self, script: &Sh) -> Result<Output> {
        self.exec_input(script, &[])
    }

    /// Runs `script` and fails unless it exits 0; the error carries its stderr.
    fn check(&self, script: &Sh) -> Result<Output> {
        let out = self.exec(script)?;
        if out.ok() {
            return Ok(out);
        }
        let first = script.as_str().lines().next().unwrap_or("");
        Err(Error::node(self.node(), format!("`{first}` exited {}: {}", out.status, out.stderr.trim())))
    }

    /// Runs `script` as root through sudo and fails unless it exits 0.
    fn sudo_check(&self, script: &Sh) -> Result<Output> {
        self.check(&script.sudo())
    }
}

/// A node's SSH session, driven from a plain thread through the run's tokio runtime.
pub struct Ssh {
    node: String,
    session: Mutex<Option<std::sync::Arc<Session>>>,
    rt: tokio::runtime::Handle,
}

impl Ssh {
    pub fn new(session: Session, rt: tokio::runtime::Handle) -> Self {
        Self { node: session.target.node.clone(), session: Mutex::new(Some(std::sync::Arc::new(session))), rt }
    }

    fn session(&self) -> Result<std::sync::Arc<Session>> {
        self.session.lock().ok().and_then(|s| s.clone()).ok_or_else(|| Error::node(&self.node, "the SSH session was closed"))
    }
}

impl Remote for Ssh {
    fn node(&self) -> &str {
        &self.node
    }

    fn exec_input(&self, script: &Sh, input: &[u8]) -> Result<Output> {
        let s = self.session()?;
        if input.is_empty() { self.rt.block_on(s.exec(script)) } else { self.rt.block_on(s.exec_input(script, input)) }
    }

    fn upload(&self, local: &Path, digest: &str, progress: &mut (dyn FnMut(u64) + Send)) -> Result<String> {
        let s = self.session()?;
        self.rt.block_on(s.upload_verified(local, digest, progress))
    }

    fn close(&self) {
        let taken = self.session.lock().ok().and_then(|mut s| s.take());
        if let Some(s) = taken.and_then(|s| std::sync::Arc::try_unwrap(s).ok()) {
            self.rt.block_on(s.close());
        }
    }
}
