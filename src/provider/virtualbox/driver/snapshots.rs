//! Linked clones, snapshots and media.

use std::path::Path;
use std::time::Duration;

use super::{Driver, s};
use crate::error::Result;

/// An appliance of a few GB written or read: minutes on a laptop's disk.
const APPLIANCE_TIMEOUT: Duration = Duration::from_secs(2 * 3600);

impl Driver {
    /// A linked clone of `base` at its snapshot `snapshot`: a differencing disk on the
    /// snapshot's, registered with the UUID lab chose (and recorded first).
    pub fn clone_linked(&self, base: &str, snapshot: &str, name: &str, uuid: &str, group: &str, basefolder: &Path) -> Result<()> {
        self.run_retry(&self.argv_clone_linked(base, snapshot, name, uuid, group, basefolder)).map(drop)
    }

    pub fn argv_clone_linked(&self, base: &str, snapshot: &str, name: &str, uuid: &str, group: &str, basefolder: &Path) -> Vec<String> {
        let mut v = s(&["clonevm", base, "--snapshot", snapshot, "--options", "link", "--name", name, "--uuid", uuid, "--groups", group, "--basefolder"]);
        v.push(basefolder.display().to_string());
        v.push("--register".into());
        v
    }

    /// Writes the VM (its current state: a base's is its snapshot's) as an OVA: OVF 1.0, a
    /// manifest of SHA-256 digests VirtualBox checks on import, no MAC addresses (each import
    /// gets its own). `VBoxManage export` (VBoxManageAppliance.cpp, handleExportAppliance).
    pub fn export_ova(&self, vm: &str, ova: &Path) -> Result<()> {
        let mut v = s(&["export", vm, "--output"]);
        v.push(ova.display().to_string());
        v.extend(s(&["--ovf10", "--options", "manifest,nomacs"]));
        self.run_within(&v, APPLIANCE_TIMEOUT).map(drop)
    }

    /// Imports an OVA as the VM `name` in `group` under `basefolder` with `description`; the
    /// disk stays VMDK (VirtualBox's default for imports). VirtualBox checks the OVA's manifest
    /// ("Digest mismatch") before it registers anything.
    pub fn import_ova(&self, ova: &Path, name: &str, group: &str, basefolder: &Path, description: &str) -> Result<()> {
        let mut v = s(&["import"]);
        v.push(ova.display().to_string());
        v.extend(s(&["--vsys", "0", "--vmname", name, "--group", group, "--description", description, "--basefolder"]));
        v.push(basefolder.display().to_string());
        self.run_within(&v, APPLIANCE_TIMEOUT).map(drop)
    }

    /// Turns the VM's first serial port off (an imported base carries no host's file path).
    pub fn serial_off(&self, vm: &str) -> Result<()> {
        self.run_retry(&s(&["modifyvm", vm, "--uart1", "off"])).map(drop)
    }

    /// Takes the VM's NIC `n` out (a base keeps no lab's host-only network).
    pub fn remove_nic(&self, vm: &str, n: u32) -> Result<()> {
        self.run_retry(&[s(&["modifyvm", vm]), vec![format!("--nic{n}"), "none".into()]].concat()).map(drop)
    }

    /// Takes a snapshot of every disk of the VM (`live`: while it runs, without pausing it).
    pub fn take_snapshot(&self, vm: &str, name: &str, description: &str, live: bool) -> Result<()> {
        let mut v = s(&["snapshot", vm, "take", name, "--description", description]);
        if live {
            v.push("--live".into());
        }
        self.run_retry(&v).map(drop)
    }

    /// Puts the VM back to its snapshot `name` (the VM must not run).
    pub fn restore_snapshot(&self, vm: &str, name: &str) -> Result<()> {
        self.run_retry(&s(&["snapshot", vm, "restore", name])).map(drop)
    }

    /// Deletes the snapshot `name`, merging its disks into what came after it.
    pub fn delete_snapshot(&self, vm: &str, name: &str) -> Result<()> {
        self.run_retry(&s(&["snapshot", vm, "delete", name])).map(drop)
    }

    /// Forgets a disk image (and deletes its file).
    pub fn delete_medium(&self, path: &Path) -> Result<()> {
        self.run(&["closemedium".to_string(), "disk".into(), path.display().to_string(), "--delete".into()]).map(drop)
    }
}
