//! The node's VM is gone: its QEMU ended, its disk, seed, logs and record removed (only what is
//! in the lab's own folder; the cloud image stays in the download cache for other labs).

use crate::error::{Error, Result};
use crate::provider::qemu::files::{self, Files, Records};
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct VmRemoved {
    node: String,
    head: Head,
}

pub fn step(node: &str) -> Box<dyn Step> {
    Box::new(VmRemoved { node: node.to_string(), head: Head::node("removed", Stage::Machines, node, "no QEMU, disk or seed left") })
}

impl Step for VmRemoved {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let f = Files::new(cx.sd, &self.node);
        Ok(if files::running(cx.sd).iter().any(|p| p.node == self.node) {
            Check::Needed("its QEMU runs".into())
        } else if f.dir.exists() {
            Check::Needed(format!("{} holds its disk", f.dir.display()))
        } else if Records::load(cx.sd)?.vms.contains_key(&self.node) {
            Check::Needed("lab still records it".into())
        } else {
            Check::Satisfied
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        super::stop::stop(cx.sd, &self.node, None, cx.reporter)?;
        let f = Files::new(cx.sd, &self.node);
        if f.dir.exists() {
            std::fs::remove_dir_all(&f.dir).map_err(|e| Error::io(format!("removing {}", f.dir.display()), e))?;
        }
        let _ = std::fs::remove_file(&f.qmp);
        Records::update(cx.sd, |r| {
            r.vms.remove(&self.node);
        })?;
        Ok(Outcome::Applied)
    }
}
