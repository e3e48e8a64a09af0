//! Sandbox snapshots: copies of each node's upper layer, made while the nodes are halted. A
//! snapshot is written beside its final name and renamed when every node is in it, so a
//! half-made one is never listed.

use crate::error::{Error, Result};
use crate::fsx;
use crate::provider::sandbox::{copy_tree, snapshot_dir};
use crate::spec::Lab;
use crate::steps::{Check, Cx, Head, Stage, Step, Steps};
use crate::ui::Outcome;

/// What a sandbox snapshot step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// The half-made copy of an earlier try is gone; a new one is begun.
    Begin,
    /// One node's upper layer is in the half-made copy.
    Copy,
    /// The copy has its final name.
    Keep,
    /// One node's disk is the snapshot's again.
    Restore,
    /// The snapshot is gone.
    Delete,
}

struct SandboxSnapshot {
    /// The node whose disk the step copies (none: the snapshot as a whole).
    node: String,
    name: String,
    op: Op,
    head: Head,
}

fn one(node: Option<&str>, name: &str, op: Op) -> Box<dyn Step> {
    let (id, stage, goal) = match op {
        Op::Begin => ("snapshot_begun", Stage::Host, format!("an empty copy of snapshot {name:?} begun")),
        Op::Copy => ("snapshot_saved", Stage::Machines, "the node's disk copied into the snapshot".into()),
        Op::Keep => ("snapshot_kept", Stage::Cleanup, format!("snapshot {name:?} complete")),
        Op::Restore => ("snapshot_restored", Stage::Machines, format!("the node's disk is snapshot {name:?}'s")),
        Op::Delete => ("snapshot_deleted", Stage::Machines, format!("snapshot {name:?} removed")),
    };
    let head = match node {
        Some(n) => Head::node(id, stage, n, goal),
        None => Head::host(id, stage, goal),
    };
    Box::new(SandboxSnapshot { node: node.unwrap_or_default().to_string(), name: name.to_string(), op, head })
}

pub fn save(lab: &Lab, name: &str) -> Steps<'static> {
    let mut steps = vec![one(None, name, Op::Begin)];
    steps.extend(lab.nodes.iter().map(|n| one(Some(&n.name), name, Op::Copy)));
    steps.push(one(None, name, Op::Keep));
    steps
}

pub fn restore(lab: &Lab, name: &str) -> Steps<'static> {
    lab.nodes.iter().map(|n| one(Some(&n.name), name, Op::Restore)).collect()
}

pub fn delete(name: &str) -> Steps<'static> {
    vec![one(None, name, Op::Delete)]
}

impl Step for SandboxSnapshot {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let dir = snapshot_dir(cx.sd, &self.name);
        Ok(match self.op {
            Op::Begin => Check::Needed("a snapshot is copied anew from the halted nodes".into()),
            Op::Copy => Check::Needed(format!("the copy of {} is begun", self.node)),
            Op::Keep => Check::Needed("every node is in the copy".into()),
            // A disk is not compared with its snapshot: restoring puts it back whatever it holds.
            Op::Restore => Check::Needed(format!("the disk goes back to snapshot {:?}, whatever it holds now", self.name)),
            Op::Delete if dir.exists() => Check::Needed(format!("snapshot {:?} exists", self.name)),
            Op::Delete => Check::Satisfied,
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let dir = snapshot_dir(cx.sd, &self.name);
        let partial = dir.with_extension("partial");
        match self.op {
            Op::Begin => {
                let _ = std::fs::remove_dir_all(&partial);
                fsx::private_dir(&partial)?;
            }
            Op::Copy => copy_tree(&cx.sd.node_dir(&self.node).join("upper"), &partial.join(&self.node))?,
            Op::Keep => std::fs::rename(&partial, &dir).map_err(|e| Error::io(format!("saving snapshot {}", self.name), e))?,
            Op::Restore => {
                let node_dir = cx.sd.node_dir(&self.node);
                for d in ["upper", "work"] {
                    let p = node_dir.join(d);
                    if p.exists() {
                        std::fs::remove_dir_all(&p).map_err(|e| Error::io(format!("removing {}", p.display()), e))?;
                    }
                }
                copy_tree(&dir.join(&self.node), &node_dir.join("upper"))?;
            }
            Op::Delete => std::fs::remove_dir_all(&dir).map_err(|e| Error::io(format!("removing {}", dir.display()), e))?,
        }
        Ok(Outcome::Applied)
    }
}
