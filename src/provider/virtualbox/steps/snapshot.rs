//! A node's VM has snapshot NAME (`lab snapshot save`), is back at it (`restore`), or no longer
//! has it (`delete`): VirtualBox's own snapshots, one per VM, taken by the one runner.

use crate::error::Result;
use crate::provider::virtualbox::VirtualBox;
use crate::spec::{Lab, Node};
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Save { live: bool },
    Restore,
    Delete,
}

pub struct NodeSnapshot<'a> {
    vb: &'a VirtualBox,
    node: String,
    name: String,
    op: Op,
    head: Head,
}

pub fn steps<'a>(vb: &'a VirtualBox, lab: &Lab, name: &str, op: Op) -> Vec<Box<dyn Step + 'a>> {
    lab.nodes
        .iter()
        .map(|n: &Node| {
            let (id, goal) = match op {
                Op::Save { .. } => ("snapshot_saved", format!("the VM has snapshot {name:?}")),
                Op::Restore => ("snapshot_restored", format!("the VM's disks are back at snapshot {name:?}")),
                Op::Delete => ("snapshot_deleted", format!("the VM has no snapshot {name:?}")),
            };
            Box::new(NodeSnapshot { vb, node: n.name.clone(), name: name.to_string(), op, head: Head::node(id, Stage::Machines, &n.name, goal) })
                as Box<dyn Step + 'a>
        })
        .collect()
}

impl NodeSnapshot<'_> {
    fn has(&self, cx: &Cx<'_>) -> Result<bool> {
        let d = self.vb.driver()?;
        let vm = self.vb.node_vm(d, cx.lab, cx.sd, &self.node)?;
        Ok(d.vm(&vm)?.is_some_and(|i| i.snapshots.contains(&self.name)))
    }
}

impl Step for NodeSnapshot<'_> {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        Ok(match (self.op, self.has(cx)?) {
            (Op::Save { .. }, true) | (Op::Delete, false) => Check::Satisfied,
            (Op::Save { .. }, false) => Check::Needed("no such snapshot yet".into()),
            (Op::Delete, true) => Check::Needed("the snapshot exists".into()),
            // A disk is not compared with its snapshot: restoring puts it back whatever it holds.
            (Op::Restore, _) => Check::Needed(format!("the disks go back to snapshot {:?}, whatever they hold now", self.name)),
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let d = self.vb.driver()?;
        let vm = self.vb.node_vm(d, cx.lab, cx.sd, &self.node)?;
        match self.op {
            Op::Save { live } => d.take_snapshot(&vm, &self.name, &format!("lab snapshot of lab {}", cx.lab.name), live)?,
            Op::Restore => d.restore_snapshot(&vm, &self.name)?,
            Op::Delete => d.delete_snapshot(&vm, &self.name)?,
        }
        Ok(Outcome::Applied)
    }
}
