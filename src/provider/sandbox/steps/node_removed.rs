//! A node is gone: its processes, its veth, its namespace (only one carrying the lab's mark),
//! its folder under `.lab/`.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::proc::System;
use crate::provider::sandbox::net::Ip;
use crate::provider::sandbox::{Names, node};
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct NodeRemoved {
    node: String,
    head: Head,
}

pub fn step(node: &str) -> Box<dyn Step> {
    Box::new(NodeRemoved { node: node.to_string(), head: Head::node("removed", Stage::Machines, node, "the node's namespace, veth and folder are gone") })
}

impl Step for NodeRemoved {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, _: &Cx<'_>) -> Result<Check> {
        // Cannot look first: the node's processes, namespace and folder are found by lab's
        // marks as they are removed, whatever a killed run left.
        Ok(Check::InApply)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let (names, ip, n) = (Names::new(cx.lab, cx.sd), Ip::new(&System), &self.node);
        let ns = names.netns(n);
        let mut done = false;
        let ours = ip.netns_exists(&ns) && ip.netns_mark(&ns)?.as_deref() == Some(names.mark.as_str());
        if ip.netns_exists(&ns) && !ours {
            cx.reporter.note(&format!("{n}: namespace {ns} does not carry this lab's mark; left alone"));
        }
        if ours && !node::processes(&ns).0.is_empty() {
            node::stop(&ns, Duration::from_secs(2))?;
            done = true;
        }
        let veth = names.veth(n);
        if ip.ifaces(None)?.iter().any(|i| i.name == veth && i.alias.as_deref() == Some(names.mark.as_str())) {
            ip.del_link(&veth)?;
            done = true;
        }
        if ours {
            ip.del_netns(&ns)?;
            done = true;
        }
        let dir = cx.sd.node_dir(n);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(format!("removing {}", dir.display()), e))?;
            done = true;
        }
        Ok(if done { Outcome::Applied } else { Outcome::Satisfied })
    }
}
