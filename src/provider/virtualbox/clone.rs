//! Nodes as linked clones of the base: a differencing disk on the base's snapshot (seconds,
//! megabytes), the node's own CPUs, memory, MAC addresses and host-only network, and its seed
//! disc (cloud-init NoCloud) in the first DVD drive, which gives it its identity at first boot.

use super::*;

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

    /// A linked clone of the base for `node`, with its seed disc.
    pub(super) fn create_clone(&self, cx: &Cx<'_>, node: &Node) -> Result<()> {
        let d = self.driver()?;
        let lab = cx.lab;
        let vm = lab.machine_name(&node.name);
        let spec = base::spec(lab)?;
        let folder = Self::vm_folder(lab, cx.sd, &vm);
        if folder.exists() {
            std::fs::remove_dir_all(&folder).map_err(|e| Error::io(format!("removing {}", folder.display()), e))?;
        }
        let uuid = new_uuid();
        cx.sd.forget(&format!("booted:{}", node.name))?;
        cx.sd.record(&format!("vm:{}", node.name), &vm)?;
        cx.sd.record(&format!("vmuuid:{}", node.name), &uuid)?;
        cx.sd.record(&format!("install:{}", node.name), "base")?;
        d.clone_linked(&spec.name, base::SNAPSHOT, &vm, &uuid, &group(lab), &Self::basefolder(cx.sd))?;
        let hw = self.hardware(cx, node)?;
        cx.sd.record(&format!("mac:{}", node.name), &format!("{},{}", hw.mac_nat, hw.mac_hostonly))?;
        d.configure(&vm, &hw)?;
        let keys = cx.keys()?;
        // A new instance for every new VM: cloud-init sets up each clone once.
        let instance = format!("{}-{}", lab.machine_name(&node.name), &uuid[..8]);
        let disc = seed::build(lab, node, &keys, &instance)?;
        let path = Self::cloud_seed_path(cx.sd, &node.name);
        crate::fsx::private_dir(cx.sd.node_dir(&node.name).as_path())?;
        crate::fsx::write_atomic(&path, &disc, crate::fsx::Access::Private)?;
        d.attach(&vm, hw.arch, 1, &Medium::Image(path), false)?;
        d.boot_from_disk(&vm)?;
        Ok(())
    }

    /// The clone exists, is lab's, has a disk and its seed disc; anything half-made is made again.
    pub(super) fn ensure_clone(&self, cx: &Cx<'_>, node: &Node) -> Result<Outcome> {
        let d = self.driver()?;
        let vm = cx.lab.machine_name(&node.name);
        let state = cx.sd.load()?;
        let Some(info) = d.vm(&vm)? else {
            self.create_clone(cx, node)?;
            return Ok(Outcome::Applied);
        };
        Self::check_ours(cx, &info, state.as_ref(), node, "base")?;
        if Self::recreate_asked(cx, &node.name) {
            cx.reporter.note(&format!("{}: making VM {vm} anew (--recreate)", node.name));
            Self::remove_vm(d, &info)?;
            self.create_clone(cx, node)?;
            return Ok(Outcome::Applied);
        }
        let seed = Self::cloud_seed_path(cx.sd, &node.name);
        let why = if info.sata.is_none() || !matches!(info.port(0), Medium::Image(_)) {
            Some("it has no disk".to_string())
        } else if !cx.sd.marks(&info.description) {
            Some("its description is not lab's mark (its settings were never written, or were changed)".into())
        } else if info.port(1) != Medium::Image(seed.clone()) || !seed.is_file() {
            Some("its seed disc is not attached".into())
        } else {
            None
        };
        if let Some(why) = why {
            if Self::finished(state.as_ref(), &node.name) {
                return Err(Self::changed(&node.name, &vm, &why));
            }
            cx.reporter.note(&format!("{}: VM {vm} is incomplete ({why}); making it again", node.name));
            Self::remove_vm(d, &info)?;
            self.create_clone(cx, node)?;
            return Ok(Outcome::Applied);
        }
        let want = self.hostonly_name(cx)?;
        if info.nics.get(&2).is_some_and(|n| n.hostonly != want) && !info.state.is_on() {
            d.configure(&vm, &self.hardware(cx, node)?)?;
            return Ok(Outcome::Applied);
        }
        Ok(Outcome::Satisfied)
    }
}
