//! QEMU snapshots: internal snapshots of each node's qcow2 disk (`qemu-img snapshot`), taken and
//! applied while the nodes are halted. Each node's step looks at its own disk first (`qemu-img
//! info` lists its snapshots), so a run cut short is finished by the next.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::proc::{Cmd, Runner, System};
use crate::provider::qemu::argv;
use crate::provider::qemu::files::Files;
use crate::spec::Lab;
use crate::steps::{Check, Cx, Head, Stage, Step, Steps};
use crate::ui::Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Save,
    Restore,
    Delete,
}

struct DiskSnapshot {
    node: String,
    name: String,
    op: Op,
    head: Head,
}

fn one(node: &str, name: &str, op: Op) -> Box<dyn Step> {
    let (id, goal) = match op {
        Op::Save => ("snapshot_saved", format!("the node's disk holds snapshot {name:?}")),
        Op::Restore => ("snapshot_restored", format!("the node's disk is snapshot {name:?}'s")),
        Op::Delete => ("snapshot_deleted", format!("snapshot {name:?} removed from the node's disk")),
    };
    Box::new(DiskSnapshot { node: node.to_string(), name: name.to_string(), op, head: Head::node(id, Stage::Machines, node, goal) })
}

pub fn save(lab: &Lab, name: &str) -> Steps<'static> {
    lab.nodes.iter().map(|n| one(&n.name, name, Op::Save)).collect()
}
pub fn restore(lab: &Lab, name: &str) -> Steps<'static> {
    lab.nodes.iter().map(|n| one(&n.name, name, Op::Restore)).collect()
}
pub fn delete(lab: &Lab, name: &str) -> Steps<'static> {
    lab.nodes.iter().map(|n| one(&n.name, name, Op::Delete)).collect()
}

#[derive(Deserialize)]
struct Info {
    #[serde(default)]
    snapshots: Vec<SnapshotInfo>,
}

#[derive(Deserialize)]
struct SnapshotInfo {
    name: String,
    #[serde(rename = "date-sec", default)]
    date_sec: u64,
}

/// What `qemu-img info --output=json` says of a disk's snapshots: (name, when), oldest first.
pub fn parse_snapshots(json: &str) -> Result<Vec<(String, u64)>> {
    let info: Info = serde_json::from_str(json).map_err(|e| Error::Internal(format!("reading qemu-img info: {e}")))?;
    let mut v: Vec<(String, u64)> = info.snapshots.into_iter().map(|s| (s.name, s.date_sec)).collect();
    v.sort_by_key(|(_, t)| *t);
    Ok(v)
}

/// The snapshots on `disk`, oldest first (none when there is no disk).
pub fn on_disk(disk: &Path) -> Result<Vec<String>> {
    if !disk.is_file() {
        return Ok(Vec::new());
    }
    let out = qemu_img(argv::info(disk))?;
    Ok(parse_snapshots(&out)?.into_iter().map(|(n, _)| n).collect())
}

fn qemu_img(args: Vec<String>) -> Result<String> {
    let text = format!("qemu-img {}", args.join(" "));
    let out = System.run(&Cmd::new("qemu-img").args(args))?;
    if out.success() { Ok(out.stdout) } else { Err(Error::Command { argv: text, status: format!("{:?}", out.code), stderr: out.stderr.trim().into() }) }
}

impl Step for DiskSnapshot {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let f = Files::new(cx.sd, &self.node);
        if !f.disk.is_file() {
            return Err(Error::node_hint(&self.node, "it has no disk", "run `lab up` first"));
        }
        let has = on_disk(&f.disk)?.contains(&self.name);
        Ok(match (self.op, has) {
            (Op::Save, true) | (Op::Delete, false) => Check::Satisfied,
            (Op::Save, false) => Check::Needed("its disk has no such snapshot yet".into()),
            (Op::Delete, true) => Check::Needed("its disk holds it".into()),
            (Op::Restore, true) => Check::Needed(format!("the disk goes back to snapshot {:?}, whatever it holds now", self.name)),
            (Op::Restore, false) => {
                return Err(Error::node_hint(&self.node, format!("its disk has no snapshot {:?}", self.name), "`lab snapshot list` shows the lab's snapshots"));
            }
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let f = Files::new(cx.sd, &self.node);
        let op = match self.op {
            Op::Save => 'c',
            Op::Restore => 'a',
            Op::Delete => 'd',
        };
        qemu_img(argv::snapshot(op, Some(&self.name), &f.disk))?;
        Ok(Outcome::Applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What QEMU 7.2's `qemu-img info --output=json -U` printed for an overlay with two snapshots.
    #[test]
    fn snapshots_are_read_from_qemu_img_info_oldest_first() {
        let json = r#"{
    "snapshots": [
        {"icount": 0, "vm-clock-nsec": 0, "name": "later", "date-sec": 1796657000, "date-nsec": 1, "vm-clock-sec": 0, "id": "2", "vm-state-size": 0},
        {"icount": 0, "vm-clock-nsec": 0, "name": "before-class", "date-sec": 1796656000, "date-nsec": 1, "vm-clock-sec": 0, "id": "1", "vm-state-size": 0}
    ],
    "virtual-size": 21474836480,
    "filename": "/l/.lab/s/qemu/master/disk.qcow2",
    "cluster-size": 65536,
    "format": "qcow2",
    "backing-filename": "/root/.cache/lab/sha256-ab",
    "full-backing-filename": "/root/.cache/lab/sha256-ab",
    "backing-filename-format": "qcow2",
    "dirty-flag": false
}"#;
        let names: Vec<String> = parse_snapshots(json).unwrap_or_default().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["before-class", "later"]);
        assert_eq!(parse_snapshots(r#"{"virtual-size": 1, "format": "qcow2"}"#).map(|v| v.len()).ok(), Some(0));
    }
}
