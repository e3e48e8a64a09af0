//! One SSH session to the node as the lab user, with the pinned host key, kept for the run
//! ([`Cx::remote`] opens it; this step opens it first, waiting for the node to answer).

use crate::error::Result;
use crate::spec::Lab;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub const ID: &str = "ssh_ready";

pub struct SshReady {
    node: String,
    head: Head,
}

pub fn step(lab: &Lab, node: &str) -> Box<dyn Step> {
    let ip = lab.node(node).map(|n| n.ip.to_string()).unwrap_or_default();
    Box::new(SshReady { node: node.to_string(), head: Head::node(ID, Stage::Connect, node, format!("{}@{ip} answers SSH with the pinned host key", lab.user)) })
}

impl Step for SshReady {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        // Cannot look first without a session: opening it (the pinned host key checked) is both
        // the look and the act.
        Ok(if cx.connected(&self.node) { Check::Satisfied } else { Check::InApply })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        cx.remote(&self.node)?;
        Ok(Outcome::Satisfied)
    }
}
