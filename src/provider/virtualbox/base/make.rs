//! Making the base: installed once from the ISO with the base kickstart, or imported from a
//! teacher's export in a `LAB_CACHE_PATH` folder, then its snapshot taken. Labs that need the
//! same base at once take turns on its lock.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{GROUP, Record, SNAPSHOT, Spec, disk, folder, hex, import, mark, root, spec, vm_folder};
use crate::error::{Error, Result};
use crate::identity::new_uuid;
use crate::provider::virtualbox::VirtualBox;
use crate::provider::virtualbox::driver::{Hardware, Medium};
use crate::provider::virtualbox::observe::{Install, install_state};
use crate::provider::virtualbox::records::Records;
use crate::spec::BASE_DISK_GIB;
use crate::steps::Cx;
use crate::ui::{HOST, Outcome};

impl VirtualBox {
    /// Whether the base exists and has its snapshot (then no ISO is needed).
    pub(in crate::provider::virtualbox) fn base_ready(&self, spec: &Spec) -> Result<bool> {
        let d = self.driver()?;
        Ok(d.vm(&spec.name)?.is_some_and(|i| i.description == mark(&spec.fingerprint) && i.snapshots.iter().any(|s| s == SNAPSHOT)))
    }

    /// The base as it is on this computer, and whether this lab is listed among its users.
    pub(in crate::provider::virtualbox) fn base_seen(&self, spec: &Spec, cx: &Cx<'_>) -> Result<super::Seen> {
        let Some(info) = self.driver()?.vm(&spec.name)? else { return Ok(super::Seen::Missing) };
        if info.description != mark(&spec.fingerprint) || !info.snapshots.iter().any(|s| s == SNAPSHOT) {
            return Ok(super::Seen::Unfinished);
        }
        let used = super::listed(&spec.name, cx.sd) && Records::load(cx.sd)?.base.as_deref() == Some(spec.name.as_str());
        Ok(super::Seen::Ready { used })
    }

    /// The base exists, installed, with its snapshot; made (or finished) here when not. Labs
    /// that need the same base at once take turns: the second one waits and then uses it.
    pub(in crate::provider::virtualbox) fn ensure_base(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let d = self.driver()?;
        let spec = spec(cx.lab)?;
        crate::fsx::private_dir(&folder(&spec.name))?;
        let lock_path = folder(&spec.name).join("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(format!("opening {}", lock_path.display()), e))?;
        if lock.try_lock().is_err() {
            cx.reporter.phase(HOST, &format!("waiting for another lab making base {}", spec.name));
            lock.lock().map_err(|e| Error::io(format!("locking {}", lock_path.display()), e))?;
        }
        super::add_user(&spec.name, cx.lab, cx.sd)?;
        Records::update(cx.sd, |r| r.base = Some(spec.name.clone()))?;
        let previous = std::fs::read_to_string(folder(&spec.name).join("base.json")).ok().and_then(|t| serde_json::from_str::<Record>(&t).ok());
        let iso_digest = std::cell::RefCell::new(previous.and_then(|r| r.iso));
        let record = |uuid: &str| -> Result<()> {
            let r = Record {
                name: spec.name.clone(),
                image: spec.image.clone(),
                title: spec.title.clone(),
                arch: spec.arch.name().into(),
                fingerprint: spec.fingerprint.clone(),
                uuid: uuid.into(),
                iso: iso_digest.borrow().clone(),
                kickstart: Some(spec.kickstart.clone()),
            };
            let text = serde_json::to_string_pretty(&r).map_err(|e| Error::Internal(e.to_string()))?;
            crate::fsx::write_atomic(&folder(&spec.name).join("base.json"), text.as_bytes(), crate::fsx::Access::Private)
        };
        let seed = folder(&spec.name).join("oemdrv.iso");
        let disk = disk(&spec);
        let mut outcome = Outcome::Satisfied;
        // The UUID is written before the VM is registered: a VM lab was killed before marking
        // is still known as the base's.
        let recorded = std::fs::read_to_string(folder(&spec.name).join("base.json")).ok().and_then(|t| serde_json::from_str::<Record>(&t).ok()).map(|r| r.uuid);
        let info = match d.vm(&spec.name)? {
            Some(i) if i.description != mark(&spec.fingerprint) && recorded.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(&i.uuid)) => {
                cx.reporter.note(&format!("base {} was never finished (its settings were not written); making it again", spec.name));
                Self::remove_vm(d, &i)?;
                None
            }
            Some(i) if i.description != mark(&spec.fingerprint) => {
                return Err(Error::Preflight {
                    problem: format!("a VM named {} exists and is not the base lab made", spec.name),
                    fix: "rename or remove that VM in VirtualBox".into(),
                });
            }
            Some(i) if i.snapshots.iter().any(|s| s == SNAPSHOT) => {
                record(&i.uuid)?;
                return Ok(Outcome::Satisfied);
            }
            Some(i) if matches!(install_state(&i, &disk, None, &seed), Install::Incomplete(_)) => {
                cx.reporter.note(&format!("base {} is incomplete; making it again", spec.name));
                Self::remove_vm(d, &i)?;
                None
            }
            Some(i) => {
                if !i.state.is_on() {
                    cx.reporter.note(&format!("base {} did not finish its install before (it failed or was stopped); installing it anew", spec.name));
                }
                Some(i)
            }
            None => None,
        };
        let info = match info {
            Some(i) => i,
            None if crate::download::shelf::base_with(&spec.fingerprint).is_some() => {
                // A teacher's export in a LAB_CACHE_PATH folder: imported, not installed.
                let (file, _) = crate::download::shelf::base_with(&spec.fingerprint).ok_or_else(|| Error::Internal("the shelf changed".into()))?;
                cx.reporter.phase(HOST, &format!("base {}: importing it from {}", spec.name, file.display()));
                import(d, &file, &|m| cx.reporter.phase(HOST, m))?;
                return Ok(Outcome::Applied);
            }
            None => {
                outcome = Outcome::Applied;
                let uuid = new_uuid();
                record(&uuid)?;
                let digest = self.create_base(cx, &spec, &uuid, &disk, &seed)?;
                *iso_digest.borrow_mut() = Some(digest);
                d.vm(&spec.name)?.ok_or_else(|| Error::Internal(format!("base {} disappeared", spec.name)))?
            }
        };
        record(&info.uuid)?;
        if self.install(cx, HOST, &spec.name, &disk, &seed)? == Outcome::Applied {
            outcome = Outcome::Applied;
        }
        cx.reporter.phase(HOST, &format!("base {}: taking the snapshot `{SNAPSHOT}`", spec.name));
        let until = Instant::now() + Duration::from_secs(30);
        while d.vm(&spec.name)?.is_some_and(|i| i.state.is_on()) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(200));
        }
        d.remove_nic(&spec.name, 2)?;
        d.take_snapshot(&spec.name, SNAPSHOT, "the OS as lab installed it; each node is a linked clone of this", false)?;
        Ok(outcome)
    }

    /// Makes the base's VM and its discs; returns the ISO's digest (`sha256-<hex>`).
    fn create_base(&self, cx: &Cx<'_>, spec: &Spec, uuid: &str, disk: &Path, seed: &Path) -> Result<String> {
        let d = self.driver()?;
        let iso = self.iso(cx)?;
        let folder = vm_folder(&spec.name);
        if folder.exists() {
            std::fs::remove_dir_all(&folder).map_err(|e| Error::io(format!("removing {}", folder.display()), e))?;
        }
        d.create_vm(&spec.name, uuid, GROUP, &spec.ostype, &root(), spec.arch)?;
        let mac = |n: u8| {
            let h: Vec<u8> = spec.fingerprint.as_bytes().iter().skip(usize::from(n) * 3).take(3).copied().collect();
            format!("080027{}", hex(&h).chars().take(6).collect::<String>().to_uppercase())
        };
        let hw = Hardware {
            cpus: 2,
            memory_mib: 2048,
            mac_nat: mac(0),
            mac_hostonly: mac(1),
            hostonly: self.hostonly_name(cx)?,
            description: mark(&spec.fingerprint),
            arch: spec.arch,
        };
        d.configure(&spec.name, &hw)?;
        let _ = d.delete_medium(disk);
        let _ = std::fs::remove_file(disk);
        d.create_disk(disk, u64::from(BASE_DISK_GIB) * 1024)?;
        d.add_storage(&spec.name, spec.arch)?;
        d.attach(&spec.name, spec.arch, 0, &Medium::Image(disk.to_path_buf()), true)?;
        d.attach(&spec.name, spec.arch, 1, &Medium::Image(iso.path.clone()), false)?;
        let disc = crate::kickstart::oemdrv::build(spec.kickstart.as_bytes(), crate::kickstart::oemdrv::Timestamp::now())?;
        crate::fsx::write_atomic(seed, &disc, crate::fsx::Access::Private)?;
        d.attach(&spec.name, spec.arch, 2, &Medium::Image(seed.to_path_buf()), false)?;
        Ok(iso.digest.clone())
    }
}
