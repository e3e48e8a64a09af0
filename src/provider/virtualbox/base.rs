//! Base images: the OS installed once per (image, architecture, base kickstart) into a VM that
//! lab keeps for every lab on this computer, under the cache (`<cache>/bases/<name>/`), marked
//! `lab-base:<fingerprint>`, with a snapshot `installed` that every node's linked clone starts
//! from. Which labs use a base is written beside it (`labs/`, one file per lab folder), so
//! `lab destroy` of one lab never removes a base another uses, and `lab base prune` removes
//! those no lab uses.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::driver::{Driver, Hardware, Medium};
use super::*;
use crate::spec::BASE_DISK_GIB;
use crate::spec::Checksum;

/// The snapshot clones are made from.
pub const SNAPSHOT: &str = "installed";
const GROUP: &str = "/lab-bases";

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

/// What an exported base says about itself (`lab-base.json`, the first member of the file).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exported {
    /// 1.
    pub format: u32,
    pub name: String,
    pub image: String,
    pub title: String,
    pub arch: String,
    pub fingerprint: String,
    #[serde(default)]
    pub iso: Option<String>,
    #[serde(default)]
    pub kickstart: Option<String>,
    /// The OVA member's name, size and SHA-256.
    pub ova: String,
    pub ova_size: u64,
    pub ova_sha256: String,
    /// The lab that exported it.
    pub made_by: String,
}

const EXPORT_INFO: &str = "lab-base.json";
const EXPORT_OVA: &str = "base.ova";

/// Where a file's problem is reported: it names the file and says what to do.
fn damaged(file: &Path, why: &str) -> Error {
    Error::Preflight {
        problem: format!("{} is not a whole lab base export: {why}", file.display()),
        fix: "copy the file again from where it came from (or export the base again with `lab base export`)".into(),
    }
}

/// Writes base `name` into `file`: lab's own archive (a tar) holding `lab-base.json` (what the
/// base is: its fingerprint, image, architecture, ISO and kickstart, and the SHA-256 of what
/// follows) and `base.ova`, VirtualBox's own export of the base (OVF 1.0 with a manifest, a
/// streamOptimized VMDK: imports on VirtualBox of any host OS). Returns the SHA-256 and size
/// of the whole file.
pub fn export(d: &Driver, name: &str, file: &Path, note: &dyn Fn(&str)) -> Result<(String, u64)> {
    let record = records().into_iter().find(|r| r.name == name).ok_or_else(|| Error::Usage(format!("no base named {name:?}; `lab base list` shows them")))?;
    let ready = d.vm(name)?.is_some_and(|i| i.description == mark(&record.fingerprint) && i.snapshots.iter().any(|s| s == SNAPSHOT));
    if !ready {
        return Err(Error::Preflight {
            problem: format!("base {name} is not finished (no VM with lab's mark and its snapshot `{SNAPSHOT}`)"),
            fix: "run `lab up` of a lab that uses it, then export it".into(),
        });
    }
    let parent = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    let work =
        tempfile::Builder::new().prefix(".lab-export-").tempdir_in(parent).map_err(|e| Error::io(format!("a work folder in {}", parent.display()), e))?;
    let ova = work.path().join(EXPORT_OVA);
    note(&format!("exporting base {name} with VirtualBox (minutes for a few GB)"));
    d.export_ova(name, &ova)?;
    let (ova_sha256, ova_size) = sha256_of(&ova)?;
    let info = Exported {
        format: 1,
        name: record.name.clone(),
        image: record.image.clone(),
        title: record.title.clone(),
        arch: record.arch.clone(),
        fingerprint: record.fingerprint.clone(),
        iso: record.iso.clone(),
        kickstart: record.kickstart.clone(),
        ova: EXPORT_OVA.into(),
        ova_size,
        ova_sha256,
        made_by: format!("lab {}", env!("CARGO_PKG_VERSION")),
    };
    let partial = work.path().join("export.partial");
    {
        let out = std::fs::File::create(&partial).map_err(|e| Error::io(format!("creating {}", partial.display()), e))?;
        let mut tar = tar::Builder::new(std::io::BufWriter::new(out));
        let json = serde_json::to_vec_pretty(&info).map_err(|e| Error::Internal(e.to_string()))?;
        let mut h = tar::Header::new_gnu();
        h.set_size(json.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, EXPORT_INFO, json.as_slice()).map_err(|e| Error::io(format!("writing {}", partial.display()), e))?;
        tar.append_path_with_name(&ova, EXPORT_OVA).map_err(|e| Error::io(format!("writing {}", partial.display()), e))?;
        let w = tar.into_inner().map_err(|e| Error::io(format!("writing {}", partial.display()), e))?;
        w.into_inner()
            .map_err(|e| Error::io(format!("writing {}", partial.display()), e.into_error()))?
            .sync_all()
            .map_err(|e| Error::io(format!("writing {}", partial.display()), e))?;
    }
    let _ = std::fs::remove_file(&ova);
    let whole = sha256_of(&partial)?;
    std::fs::rename(&partial, file).map_err(|e| Error::io(format!("writing {}", file.display()), e))?;
    Ok(whole)
}

/// The file's SHA-256 (the downloader's hashing) and size.
fn sha256_of(path: &Path) -> Result<(String, u64)> {
    let hex = crate::download::hash_file(path, &crate::spec::ChecksumAlgo::Sha256)?;
    let size = std::fs::metadata(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?.len();
    Ok((hex, size))
}

/// What `file` says it holds (its first member), without reading the rest.
pub fn peek(file: &Path) -> Result<Exported> {
    let f = std::fs::File::open(file).map_err(|e| Error::io(format!("opening {}", file.display()), e))?;
    let mut archive = tar::Archive::new(f);
    let mut entries = archive.entries().map_err(|e| damaged(file, &e.to_string()))?;
    let mut first = entries.next().ok_or_else(|| damaged(file, "it is empty"))?.map_err(|e| damaged(file, &e.to_string()))?;
    if first.path().map_err(|e| damaged(file, &e.to_string()))?.to_string_lossy() != EXPORT_INFO {
        return Err(damaged(file, &format!("it does not start with {EXPORT_INFO} (is it a file `lab base export` wrote?)")));
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut first, &mut text).map_err(|e| damaged(file, &e.to_string()))?;
    let info: Exported = serde_json::from_str(&text).map_err(|e| damaged(file, &format!("{EXPORT_INFO}: {e}")))?;
    if info.format != 1 {
        return Err(Error::Preflight {
            problem: format!("{} is a base export of format {} and this lab reads format 1", file.display(), info.format),
            fix: "update lab on this computer".into(),
        });
    }
    Ok(info)
}

/// Registers the base in `file` on this computer: checks its architecture against what this
/// VirtualBox runs and every byte of its disk image against the checksum it carries, then
/// imports it with VirtualBox, marks it and takes its snapshot, so that every lab whose base
/// has that fingerprint clones it. Returns its name (`false`: it was here already).
pub fn import(d: &Driver, file: &Path, note: &dyn Fn(&str)) -> Result<(String, bool)> {
    let info = peek(file)?;
    let arch = Arch::parse(&info.arch).ok_or_else(|| damaged(file, &format!("unknown architecture {:?}", info.arch)))?;
    if !d.runs(arch) {
        let here = d.host_arch.name();
        return Err(Error::Preflight {
            problem: format!(
                "{} holds a base for {} machines ({}), and VirtualBox on this computer runs only {here} machines: an {} base cannot boot here",
                file.display(),
                arch.name(),
                info.title,
                arch.name()
            ),
            fix: format!("use a base exported from a {here} computer, or let `lab up` install one here"),
        });
    }
    let expected = format!("lab-base-{}-{}-{}", info.image, arch.name(), info.fingerprint.get(..10).unwrap_or(""));
    if info.name != expected || info.fingerprint.len() != 64 {
        return Err(damaged(file, &format!("its name {:?} does not match its fingerprint", info.name)));
    }
    let name = info.name.clone();
    if d.vm(&name)?.is_some_and(|i| i.description == mark(&info.fingerprint) && i.snapshots.iter().any(|s| s == SNAPSHOT)) {
        return Ok((name, false));
    }
    if let Some(other) = d.vm(&name)? {
        if other.description != mark(&info.fingerprint) {
            return Err(Error::Preflight {
                problem: format!("a VM named {name} exists and is not the base lab made"),
                fix: "rename or remove that VM in VirtualBox".into(),
            });
        }
        // Imported and marked, but lab stopped before its snapshot: finish it. A base being
        // installed here (never imported) is not snapshotted half-made.
        if !folder(&name).join("importing").exists() {
            return Err(Error::Preflight {
                problem: format!("base {name} is on this computer, unfinished (an install that stopped)"),
                fix: format!("`lab up` of a lab that uses it finishes it; or remove it in VirtualBox ({name}) and import again"),
            });
        }
        d.serial_off(&name)?;
        d.take_snapshot(&name, SNAPSHOT, "the OS as lab installed it; each node is a linked clone of this", false)?;
        write_record(&info, &other.uuid)?;
        let _ = std::fs::remove_file(folder(&name).join("importing"));
        return Ok((name, true));
    }
    crate::fsx::private_dir(&folder(&name))?;
    let ova = folder(&name).join("import.ova");
    note(&format!("checking {} ({} MB)", file.display(), info.ova_size / 1_000_000));
    {
        let f = std::fs::File::open(file).map_err(|e| Error::io(format!("opening {}", file.display()), e))?;
        let mut archive = tar::Archive::new(f);
        let mut found = false;
        for entry in archive.entries().map_err(|e| damaged(file, &e.to_string()))? {
            let mut entry = entry.map_err(|e| damaged(file, &e.to_string()))?;
            if entry.path().map_err(|e| damaged(file, &e.to_string()))?.to_string_lossy() != info.ova {
                continue;
            }
            let mut out = std::fs::File::create(&ova).map_err(|e| Error::io(format!("creating {}", ova.display()), e))?;
            let mut h = sha2::Sha256::new();
            let mut buf = vec![0u8; 1 << 20];
            let mut n = 0u64;
            loop {
                let k = std::io::Read::read(&mut entry, &mut buf).map_err(|e| damaged(file, &e.to_string()))?;
                if k == 0 {
                    break;
                }
                h.update(&buf[..k]);
                std::io::Write::write_all(&mut out, &buf[..k]).map_err(|e| Error::io(format!("writing {}", ova.display()), e))?;
                n += k as u64;
            }
            let got = hex(&h.finalize());
            if n != info.ova_size || got != info.ova_sha256 {
                let _ = std::fs::remove_file(&ova);
                return Err(damaged(
                    file,
                    &format!("its disk image's SHA-256 is {got} ({n} bytes), and the file says {} ({} bytes)", info.ova_sha256, info.ova_size),
                ));
            }
            found = true;
            break;
        }
        if !found {
            return Err(damaged(file, &format!("it has no {}", info.ova)));
        }
    }
    // A folder left by an import that never registered (lab's own, under its cache).
    let stale = vm_folder(&name);
    if stale.exists() {
        std::fs::remove_dir_all(&stale).map_err(|e| Error::io(format!("removing {}", stale.display()), e))?;
    }
    note(&format!("importing base {name} with VirtualBox"));
    crate::fsx::write_atomic(&folder(&name).join("importing"), file.display().to_string().as_bytes(), crate::fsx::Access::Private)?;
    let imported = d.import_ova(&ova, &name, GROUP, &root(), &mark(&info.fingerprint));
    let _ = std::fs::remove_file(&ova);
    imported?;
    let vm = d.vm(&name)?.ok_or_else(|| Error::Internal(format!("VirtualBox imported {name} and does not list it")))?;
    d.serial_off(&name)?;
    d.take_snapshot(&name, SNAPSHOT, "the OS as lab installed it; each node is a linked clone of this", false)?;
    write_record(&info, &vm.uuid)?;
    let _ = std::fs::remove_file(folder(&name).join("importing"));
    Ok((name, true))
}

fn write_record(info: &Exported, uuid: &str) -> Result<()> {
    let r = Record {
        name: info.name.clone(),
        image: info.image.clone(),
        title: info.title.clone(),
        arch: info.arch.clone(),
        fingerprint: info.fingerprint.clone(),
        uuid: uuid.into(),
        iso: info.iso.clone(),
        kickstart: info.kickstart.clone(),
    };
    let text = serde_json::to_string_pretty(&r).map_err(|e| Error::Internal(e.to_string()))?;
    crate::fsx::write_atomic(&folder(&info.name).join("base.json"), text.as_bytes(), crate::fsx::Access::Private)
}

/// A lab that uses a base: `labs/<hash>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub lab: String,
    /// The lab's state folder (its mark).
    pub state: String,
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

fn user_file(name: &str, sd: &StateDir) -> PathBuf {
    folder(name).join("labs").join(format!("{}.json", crate::hash::fnv_hex(&sd.mark())))
}

/// Notes that the lab in `sd` uses the base.
pub fn add_user(name: &str, lab: &Lab, sd: &StateDir) -> Result<()> {
    let path = user_file(name, sd);
    crate::fsx::private_dir(path.parent().unwrap_or(Path::new(".")))?;
    let text = serde_json::to_string_pretty(&User { lab: lab.name.clone(), state: sd.mark() }).map_err(|e| Error::Internal(e.to_string()))?;
    crate::fsx::write_atomic(&path, text.as_bytes(), crate::fsx::Access::Private)
}

pub fn remove_user(name: &str, sd: &StateDir) {
    let _ = std::fs::remove_file(user_file(name, sd));
}

/// The labs that use a base now: those whose state folder still exists and still names it.
pub fn users(name: &str) -> Vec<User> {
    let Ok(entries) = std::fs::read_dir(folder(name).join("labs")) else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str::<User>(&t).ok())
        .filter(|u| {
            let state = Path::new(u.state.trim_start_matches("lab:")).join("state.json");
            std::fs::read_to_string(state).is_ok_and(|t| t.contains(&format!("\"{name}\"")))
        })
        .collect()
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
pub fn remove(d: &Driver, name: &str) -> Result<()> {
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
    std::fs::remove_dir_all(folder(name))
        .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
        .map_err(|e| Error::io(format!("removing {}", folder(name).display()), e))
}

impl VirtualBox {
    /// Whether the base exists and has its snapshot (then no ISO is needed).
    pub(super) fn base_ready(&self, spec: &Spec) -> Result<bool> {
        let d = self.driver()?;
        Ok(d.vm(&spec.name)?.is_some_and(|i| i.description == mark(&spec.fingerprint) && i.snapshots.iter().any(|s| s == SNAPSHOT)))
    }

    /// The base exists, installed, with its snapshot; made (or finished) here when not. Labs
    /// that need the same base at once take turns: the second one waits and then uses it.
    pub(super) fn ensure_base(&self, cx: &Cx<'_>) -> Result<Outcome> {
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
        add_user(&spec.name, cx.lab, cx.sd)?;
        cx.sd.record("base", &spec.name)?;
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
            other => other,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lab(text: &str) -> Lab {
        crate::spec::parse(Path::new("lab.yaml"), text, &crate::spec::HostFacts::default()).expect("valid")
    }

    #[test]
    fn a_base_is_named_by_what_it_holds_and_holds_the_jdk_when_java_is_a_package() {
        let tarball = include_str!("../../../labs/spark.yaml");
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
