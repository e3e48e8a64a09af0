//! The node's disk (a qcow2 overlay on the cloud image) and its seed disc (the NoCloud identity
//! with a cloud-init instance id lab keeps for the disk's life).

use crate::error::{Error, Result};
use crate::fsx::{self, Access};
use crate::proc::{Cmd, Runner, System};
use crate::provider::qemu::files::{Files, Records, VmRecord};
use crate::provider::qemu::{Qemu, argv};
use crate::spec::Node;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct DiskReady<'a> {
    q: &'a Qemu,
    node: String,
    head: Head,
}

pub fn step<'a>(q: &'a Qemu, n: &Node) -> Box<dyn Step + 'a> {
    Box::new(DiskReady {
        q,
        node: n.name.clone(),
        head: Head::node("disk_ready", Stage::Machines, &n.name, format!("a {} GiB overlay on the cloud image, and its seed disc", n.disk_gib)),
    })
}

impl Step for DiskReady<'_> {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let f = Files::new(cx.sd, &self.node);
        let recorded = Records::load(cx.sd)?.vms.contains_key(&self.node);
        Ok(match (f.disk.is_file(), f.seed.is_file(), recorded) {
            (true, true, true) => Check::Satisfied,
            (false, _, _) => Check::Needed("no disk yet".into()),
            (true, false, _) => Check::Needed("its seed disc is missing".into()),
            (true, true, false) => Check::Needed("lab has no record of its disk".into()),
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let node = cx.node(&self.node)?;
        let f = Files::new(cx.sd, &self.node);
        fsx::private_dir(&f.dir)?;
        let mut record = Records::load(cx.sd)?.vms.get(&self.node).cloned();
        if !f.disk.is_file() {
            let image = self.q.image(cx)?;
            let tmp = f.dir.join("disk.qcow2.tmp");
            let _ = std::fs::remove_file(&tmp);
            let out = System.run(&Cmd::new("qemu-img").args(argv::overlay(&image.path, &tmp, node.disk_gib)))?;
            if !out.success() {
                return Err(Error::Command {
                    argv: format!("qemu-img create ... {}", tmp.display()),
                    status: format!("{:?}", out.code),
                    stderr: out.stderr.trim().into(),
                });
            }
            std::fs::rename(&tmp, &f.disk).map_err(|e| Error::io(format!("renaming {}", tmp.display()), e))?;
            // A new disk is a new instance: cloud-init runs its first-boot modules on it.
            record = Some(VmRecord { instance: new_instance(), image: image.digest.clone(), booted: false, up: false, ssh_port: None });
        }
        // A disk lab kept without its record (the state file lost): the same disk, a new
        // instance to cloud-init, so it takes the seed's identity again.
        let record = record.unwrap_or_else(|| VmRecord { instance: new_instance(), image: String::new(), booted: false, up: false, ssh_port: None });
        let keys = cx.keys()?;
        let seed = crate::seed::build(cx.lab, node, &keys, &record.instance)?;
        fsx::write_atomic(&f.seed, &seed, Access::Private)?;
        Records::update(cx.sd, |r| {
            r.vms.insert(self.node.clone(), record);
        })?;
        Ok(Outcome::Applied)
    }
}

fn new_instance() -> String {
    format!("lab-{}", crate::identity::new_uuid())
}
