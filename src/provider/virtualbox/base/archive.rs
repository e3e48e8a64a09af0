//! A base as one file to share (`lab base export|import`): lab's own archive (a tar) whose
//! first member, `lab-base.json`, says what the base is, so a wrong architecture or a damaged
//! copy is refused before VirtualBox sees anything; then VirtualBox's own OVA.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::{GROUP, Record, SNAPSHOT, folder, hex, mark, records, root, vm_folder};
use crate::error::{Error, Result};
use crate::provider::virtualbox::driver::{Arch, Driver};

/// What an exported base says about itself (`lab-base.json`, the first member of the file).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exported {
    /// 2 (1: an export without its closing digest, made by an older lab).
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
/// The last member: the SHA-256 of every byte before it, so a change anywhere (the header
/// included) is found before anything of the file is used.
const EXPORT_SUM: &str = "lab-base.sha256";
const FORMAT: u32 = 2;

/// The closing member and the archive's end, exactly as `export` writes them for `digest`.
fn closing(digest: &str) -> Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_data(&mut sum_header(digest), EXPORT_SUM, digest.as_bytes()).map_err(|e| Error::Internal(e.to_string()))?;
    tar.into_inner().map_err(|e| Error::Internal(e.to_string()))
}

fn sum_header(digest: &str) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(digest.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    h
}

/// Every byte of `file` against the digest it closes with.
fn check_whole(file: &Path) -> Result<()> {
    let len = std::fs::metadata(file).map_err(|e| Error::io(format!("reading {}", file.display()), e))?.len();
    let tail = closing(&"0".repeat(64))?.len() as u64;
    if len < tail {
        return Err(damaged(file, "it is cut short"));
    }
    let mut f = std::fs::File::open(file).map_err(|e| Error::io(format!("opening {}", file.display()), e))?;
    let mut h = sha2::Sha256::new();
    let mut left = len - tail;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        std::io::Read::read_exact(&mut f, &mut buf[..want]).map_err(|e| damaged(file, &e.to_string()))?;
        h.update(&buf[..want]);
        left -= want as u64;
    }
    let mut end = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut end).map_err(|e| damaged(file, &e.to_string()))?;
    if end != closing(&hex(&h.finalize()))? {
        return Err(damaged(file, "its bytes do not match the SHA-256 it closes with (a byte changed, or the copy is incomplete)"));
    }
    Ok(())
}

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
        format: FORMAT,
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
        std::io::Write::flush(tar.get_mut()).map_err(|e| Error::io(format!("writing {}", partial.display()), e))?;
        let (digest, _) = sha256_of(&partial)?;
        tar.append_data(&mut sum_header(&digest), EXPORT_SUM, digest.as_bytes()).map_err(|e| Error::io(format!("writing {}", partial.display()), e))?;
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
    if !(1..=FORMAT).contains(&info.format) {
        return Err(Error::Preflight {
            problem: format!("{} is a base export of format {} and this lab reads formats 1 to {FORMAT}", file.display(), info.format),
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
    if info.format >= 2 {
        note(&format!("checking every byte of {}", file.display()));
        check_whole(file)?;
    } else {
        note(&format!("{} was exported by an older lab: only its disk image can be checked", file.display()));
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
