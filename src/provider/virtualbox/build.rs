//! Making a node's VM, the one way for both kinds: installed from the ISO (disk, the OS ISO and
//! the kickstart's OEMDRV disc, booted from the DVD) or a linked clone of the base (a
//! differencing disk on the base's snapshot, seconds and megabytes, with its cloud-init seed
//! disc, booted from its disk). Both get the node's CPUs, memory, MACs and host-only NIC, and
//! lab's mark; the UUID is chosen and recorded before VirtualBox registers the VM.

use std::path::PathBuf;

use super::driver::{Hardware, Medium};
use super::records::{Made, Records, VmRecord};
use super::{VirtualBox, base, group};
use crate::error::{Error, Result};
use crate::identity::new_uuid;
use crate::seed;
use crate::spec::Node;
use crate::state::StateDir;
use crate::steps::Cx;

impl VirtualBox {
    pub(super) fn cloud_seed_path(sd: &StateDir, node: &str) -> PathBuf {
        sd.node_dir(node).join("seed-cidata.iso")
    }

    pub(super) fn hardware(&self, cx: &Cx<'_>, node: &Node) -> Result<Hardware> {
        let (nat, host_only) = crate::identity::macs(cx.lab, &node.name);
        Ok(Hardware {
            cpus: node.cpus,
            memory_mib: node.memory_mib,
            mac_nat: nat.vbox(),
            mac_hostonly: host_only.vbox(),
            hostonly: self.hostonly_name(cx)?,
            description: cx.sd.vm_mark(),
            arch: Self::image_arch(cx.lab),
        })
    }

    /// Makes the node's VM (`made`: from the ISO, or as a clone of the base).
    pub(super) fn create(&self, cx: &Cx<'_>, node: &Node, made: Made) -> Result<()> {
        let d = self.driver()?;
        let lab = cx.lab;
        let vm = lab.machine_name(&node.name);
        let image = lab.image.as_ref().ok_or_else(|| Error::Internal("a virtualbox lab without an image".into()))?;
        // The ISO first: nothing is made when it cannot be had.
        let iso = if made == Made::PerNode { Some(self.iso(cx)?) } else { None };
        let folder = Self::vm_folder(lab, cx.sd, &vm);
        if folder.exists() {
            // A folder without a registered VM: left by an interrupted create, inside lab's state.
            std::fs::remove_dir_all(&folder).map_err(|e| Error::io(format!("removing {}", folder.display()), e))?;
        }
        let uuid = new_uuid();
        Records::update(cx.sd, |r| {
            r.vms.insert(node.name.clone(), VmRecord { name: vm.clone(), uuid: uuid.clone(), made, macs: None, booted: false });
        })?;
        match made {
            Made::PerNode => d.create_vm(&vm, &uuid, &group(lab), &image.ostype, &Self::basefolder(cx.sd), image.arch)?,
            Made::Base => {
                let spec = base::spec(lab)?;
                d.clone_linked(&spec.name, base::SNAPSHOT, &vm, &uuid, &group(lab), &Self::basefolder(cx.sd))?;
            }
        }
        let hw = self.hardware(cx, node)?;
        Records::update(cx.sd, |r| {
            if let Some(v) = r.vms.get_mut(&node.name) {
                v.macs = Some((hw.mac_nat.clone(), hw.mac_hostonly.clone()));
            }
        })?;
        d.configure(&vm, &hw)?;
        let keys = cx.keys()?;
        crate::fsx::private_dir(cx.sd.node_dir(&node.name).as_path())?;
        match (made, iso) {
            (Made::PerNode, Some(iso)) => {
                let disk = Self::disk_path(lab, cx.sd, &vm);
                // A disk left registered by an interrupted create would make createmedium fail.
                let _ = d.delete_medium(&disk);
                let _ = std::fs::remove_file(&disk);
                d.create_disk(&disk, u64::from(node.disk_gib) * 1024)?;
                d.add_storage(&vm, image.arch)?;
                d.attach(&vm, image.arch, 0, &Medium::Image(disk), true)?;
                d.attach(&vm, image.arch, 1, &Medium::Image(iso.path.clone()), false)?;
                let ks = crate::kickstart::render(lab, node, &keys)?;
                let disc = crate::kickstart::oemdrv::build(ks.as_bytes(), crate::kickstart::oemdrv::Timestamp::now())?;
                let path = Self::seed_path(cx.sd, &node.name);
                crate::fsx::write_atomic(&path, &disc, crate::fsx::Access::Private)?;
                d.attach(&vm, image.arch, 2, &Medium::Image(path), false)?;
            }
            _ => {
                // A new instance for every new VM: cloud-init sets up each clone once.
                let instance = format!("{vm}-{}", &uuid[..8]);
                let disc = seed::build(lab, node, &keys, &instance)?;
                let path = Self::cloud_seed_path(cx.sd, &node.name);
                crate::fsx::write_atomic(&path, &disc, crate::fsx::Access::Private)?;
                d.attach(&vm, hw.arch, 1, &Medium::Image(path), false)?;
                d.boot_from_disk(&vm)?;
            }
        }
        Ok(())
    }
}
