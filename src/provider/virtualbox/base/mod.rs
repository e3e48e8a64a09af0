//! Base images: the OS installed once per (image, architecture, base kickstart) into a VM that
//! lab keeps for every lab on this computer, under the cache (`<cache>/bases/<name>/`), marked
//! `lab-base:<fingerprint>`, with a snapshot `installed` that every node's linked clone starts
//! from. Which labs use a base is written beside it (`labs/`, one file per lab folder), so
//! `lab destroy` of one lab never removes a base another uses, and `lab base prune` removes
//! those no lab uses.

mod archive;
mod make;
mod users;

pub use archive::{export, import};
pub use users::{User, add_user, listed, remove_user, users};

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::driver::{Arch, Driver};
use super::records::NetworkRecord;
use super::{VirtualBox, hostonly};
use crate::error::{Error, Result};
use crate::spec::{BASE_DISK_GIB, Checksum, Lab};

/// The snapshot clones are made from.
pub const SNAPSHOT: &str = "installed";
const GROUP: &str = "/lab-bases";

/// The base a lab needs, as lab finds it on this computer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// No VM of its name.
    Missing,
    /// Its VM without its snapshot: an install that failed or was stopped.
    Unfinished,
    /// Installed, with its snapshot; `used`: this lab is listed among its users.
    Ready { used: bool },
}

/// A base as a lab file asks for it.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub fingerprint: String,
    pub kickstart: String,
    pub title: String,
    pub image: String,
    pub arch: Arch,
    pub ostype: String,
}

/// What lab writes beside a base: `base.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub image: String,
    pub title: String,
    pub arch: String,
    pub fingerprint: String,
    pub uuid: String,
    /// The ISO it was installed from: `sha256-<hex>` as verified, when lab made it here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iso: Option<String>,
    /// The base kickstart it was installed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kickstart: Option<String>,
}

pub fn root() -> PathBuf {
    crate::download::cache_dir().join("bases")
}

pub fn folder(name: &str) -> PathBuf {
    root().join(name)
}

pub fn mark(fingerprint: &str) -> String {
    format!("lab-base:{fingerprint}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The base `lab` needs: its name carries the image, the architecture and the first characters
/// of the fingerprint (the base kickstart, the ISO, the disk size).
pub fn spec(lab: &Lab) -> Result<Spec> {
    let image = lab.image.as_ref().ok_or_else(|| Error::Internal("a virtualbox lab without an image".into()))?;
    let kickstart = crate::kickstart::render_base(lab).map_err(Error::Kickstart)?;
    let iso = match &image.iso.checksum {
        Checksum::Pinned { hex, .. } => hex.clone(),
        Checksum::File { url, .. } => url.clone(),
    };
    let mut h = sha2::Sha256::new();
    // A pinned ISO is known by its digest wherever it is downloaded from; a moving one
    // ("latest", checked against a published file) by its address.
    for part in [kickstart.as_str(), image.name.as_str(), image.arch.name(), iso.as_str(), &BASE_DISK_GIB.to_string()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let fingerprint = hex(&h.finalize());
    Ok(Spec {
        name: format!("lab-base-{}-{}-{}", image.name, image.arch.name(), &fingerprint[..10]),
        fingerprint,
        kickstart,
        title: image.title.clone(),
        image: image.name.clone(),
        arch: image.arch,
        ostype: image.ostype.clone(),
    })
}

fn disk(spec: &Spec) -> PathBuf {
    // `createvm --groups /lab-bases --basefolder <root>` puts the VM in `<root>/lab-bases/<vm>/`.
    root().join(GROUP.trim_start_matches('/')).join(&spec.name).join(format!("{}.vdi", spec.name))
}

fn vm_folder(name: &str) -> PathBuf {
    root().join(GROUP.trim_start_matches('/')).join(name)
}

/// Every base this computer has (their records), by name.
pub fn records() -> Vec<Record> {
    let Ok(entries) = std::fs::read_dir(root()) else { return Vec::new() };
    let mut out: Vec<Record> =
        entries.flatten().filter_map(|e| std::fs::read_to_string(e.path().join("base.json")).ok()).filter_map(|t| serde_json::from_str(&t).ok()).collect();
    out.sort_by(|a: &Record, b| a.name.cmp(&b.name));
    out
}

/// Bytes the base's files take (its VM folder: disk, snapshot disks, settings).
pub fn size(name: &str) -> u64 {
    fn walk(p: &Path) -> u64 {
        let Ok(m) = std::fs::symlink_metadata(p) else { return 0 };
        if m.is_dir() { std::fs::read_dir(p).map(|es| es.flatten().map(|e| walk(&e.path())).sum()).unwrap_or(0) } else { m.len() }
    }
    walk(&vm_folder(name))
}

/// Removes a base: its VM (refused by VirtualBox while a clone still uses its disk) and folder.
/// Returns what became of a host-only interface the base held (`None`: it held none).
pub fn remove(d: &Driver, name: &str) -> Result<Option<String>> {
    let network = network_of(name);
    if let Some(info) = d.vm(name)? {
        if !info.description.starts_with("lab-base:") {
            return Err(Error::Preflight {
                problem: format!("VM {name} is not a lab base (no lab mark)"),
                fix: "remove it in VirtualBox yourself if you mean to".into(),
            });
        }
        VirtualBox::remove_vm(d, &info)?;
    }
    let _ = std::fs::remove_dir_all(vm_folder(name));
    // The interface a lab handed to the base goes with the last VM that uses it.
    let released = match network.as_ref().and_then(|n| n.name.as_deref().map(|i| (i, n.addr.as_str()))) {
        Some((ifname, addr)) => match hostonly::release(d, ifname, addr)? {
            hostonly::Released::Removed => Some(format!("host-only network {ifname} removed")),
            hostonly::Released::Used(users) => {
                let others: Vec<String> = users.into_iter().filter(|u| u.starts_with(PREFIX)).collect();
                for o in &others {
                    if let Some(n) = &network {
                        hand_network(o, n)?;
                    }
                }
                Some(format!("host-only network {ifname} kept: still used"))
            }
            hostonly::Released::Gone | hostonly::Released::Moved(_) => None,
        },
        None => None,
    };
    std::fs::remove_dir_all(folder(name))
        .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
        .map_err(|e| Error::io(format!("removing {}", folder(name).display()), e))?;
    Ok(released)
}

/// Names of base VMs begin so.
pub const PREFIX: &str = "lab-base-";

/// The host-only interface a lab created and left to the base, which still used it: removed
/// with the base.
pub fn hand_network(name: &str, net: &NetworkRecord) -> Result<()> {
    crate::fsx::private_dir(&folder(name))?;
    let text = serde_json::to_string_pretty(net).map_err(|e| Error::Internal(e.to_string()))?;
    crate::fsx::write_atomic(&folder(name).join("network.json"), text.as_bytes(), crate::fsx::Access::Private)
}

fn network_of(name: &str) -> Option<NetworkRecord> {
    std::fs::read_to_string(folder(name).join("network.json")).ok().and_then(|t| serde_json::from_str(&t).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab(text: &str) -> Lab {
        crate::spec::parse(Path::new("lab.yaml"), text, &crate::spec::HostFacts::default()).expect("valid")
    }

    #[test]
    fn a_base_is_named_by_what_it_holds_and_holds_the_jdk_when_java_is_a_package() {
        let tarball = include_str!("../../../../labs/spark.yaml");
        let a = spec(&lab(tarball)).expect("spec");
        assert!(a.name.starts_with("lab-base-centos-stream-9-x86_64-"), "{}", a.name);
        assert!(a.kickstart.contains("\njava-21-openjdk-devel\n"), "{}", a.kickstart);
        // Another lab with the same OS and locale shares the base, whatever its name or network.
        let other = tarball.replace("name: spark\n", "name: other\n").replace("192.168.56.", "192.168.57.");
        assert_eq!(spec(&lab(&other)).expect("spec").name, a.name);
        // The JDK from the distribution's package is installed once, in the base: another base.
        let start = tarball.find("java:\n").expect("java section");
        let end = tarball[start..].find("\nspark:").map_or(tarball.len(), |e| start + e + 1);
        let package = format!("{}java:\n  version: 17\n  install: package\n{}", &tarball[..start], &tarball[end..]);
        let b = spec(&lab(&package)).expect("spec");
        assert!(b.kickstart.contains("\njava-17-openjdk-devel\n"), "{}", b.kickstart);
        assert_ne!(a.fingerprint, b.fingerprint);
        assert_ne!(a.name, b.name);
        let de = tarball.replace("keyboard: us", "keyboard: de");
        if de != tarball {
            assert_ne!(spec(&lab(&de)).expect("spec").name, a.name, "the keyboard is part of the install");
        }
    }
}
