//! Hard disks as VirtualBox keeps them: a registry of media, each either a base image or a
//! differencing image on top of a parent, and what uses them: `clonevm` (full: the chain copied
//! into one new image, as long as copying the disk takes; linked: a new differencing image on a
//! snapshot's, in a moment) and `snapshot take|restore|delete|list`.
//!
//! A stand-in disk is a file whose first line is JSON (what the installer or cloud-init wrote;
//! a child's keys override its parent's) followed by the OS's bytes (`$VBOXSTANDIN_OS_MB`, so
//! sizes on disk compare like VirtualBox's), and a folder `<disk>.layer` holding the files the
//! guest wrote: the guest's root is an overlay of the chain's layers over the host's `/`.
//! A saved state (a snapshot taken while running) keeps the disks, not the processes: the VM
//! boots its disk when started from it.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Args, Vm, World, com_error, exit, find_vm, lock_world, locked, new_uuid, not_found, save, session_busy, syntax, tr};

const PROGRESS: &str = "0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%";

#[derive(Serialize, Deserialize, Default, Clone, Debug)]
pub struct Snapshot {
    pub name: String,
    pub uuid: String,
    pub parent: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Attachment key (`<controller>/<port>-<device>`) -> the disk as it was.
    pub media: BTreeMap<String, String>,
    /// Taken while the VM ran: restoring it gives a saved state.
    pub online: bool,
}

/// The folder of files a disk's guest wrote.
pub fn layer(disk: &str) -> PathBuf {
    PathBuf::from(format!("{disk}.layer"))
}

/// The disk's own JSON (its first line).
fn own(disk: &str) -> Map<String, Value> {
    let mut line = String::new();
    if let Ok(mut f) = fs::File::open(disk) {
        let mut buf = vec![0u8; 64 * 1024];
        let n = f.read(&mut buf).unwrap_or(0);
        line = String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("").to_string();
    }
    serde_json::from_str::<Value>(&line).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default()
}

/// Rewrites the disk's JSON, keeping its bytes.
pub fn write_own(disk: &str, fields: &Map<String, Value>) {
    let rest = fs::read(disk).ok().map(|b| b.iter().position(|&c| c == b'\n').map_or_else(Vec::new, |i| b[i + 1..].to_vec())).unwrap_or_default();
    let mut out = serde_json::to_vec(fields).unwrap_or_default();
    out.push(b'\n');
    out.extend_from_slice(&rest);
    let _ = fs::write(disk, out);
}

/// Appends the OS's bytes (an install writes them).
pub fn fill(disk: &str) {
    let mb: usize = std::env::var("VBOXSTANDIN_OS_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(4);
    if let Ok(mut f) = fs::OpenOptions::new().append(true).open(disk) {
        let chunk: Vec<u8> = (0..1024 * 1024u32).map(|i| u8::try_from(i.wrapping_mul(2_654_435_761) >> 24).unwrap_or(0)).collect();
        for _ in 0..mb {
            let _ = f.write_all(&chunk);
        }
    }
}

/// The disk and its ancestors, the disk first: a differencing image names its parent in its
/// header, as a VDI does.
pub fn chain(disk: &str) -> Vec<String> {
    let mut out = vec![disk.to_string()];
    while let Some(p) = own(out.last().map_or("", String::as_str)).get("parent").and_then(Value::as_str).map(str::to_string) {
        if out.contains(&p) {
            break;
        }
        out.push(p);
    }
    out
}

/// What the guest sees on the disk: its ancestors' JSON, overridden by each child's.
pub fn merged(disk: &str) -> Map<String, Value> {
    let mut m = Map::new();
    for d in chain(disk).iter().rev() {
        m.extend(own(d));
    }
    m.remove("parent");
    m
}

fn children(world: &World, disk: &str) -> Vec<String> {
    world.parents.iter().filter(|(_, p)| *p == disk).map(|(c, _)| c.clone()).collect()
}

fn progress() {
    errln!("{PROGRESS}");
}

fn secs(var: &str, default: f64) -> Duration {
    Duration::from_secs_f64(std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default))
}

/// A new differencing disk on `parent`, registered.
fn new_child(world: &mut World, parent: &str, folder: &Path) -> String {
    let uuid = new_uuid(world);
    let path = folder.join("Snapshots").join(format!("{{{uuid}}}.vdi")).display().to_string();
    let _ = fs::create_dir_all(folder.join("Snapshots"));
    let _ = fs::write(&path, format!("{}\n", serde_json::json!({"parent": parent})));
    let _ = fs::create_dir_all(layer(&path));
    world.disks.insert(path.clone(), uuid);
    world.parents.insert(path.clone(), parent.to_string());
    path
}

/// Removes a disk lab no longer reaches (file, layer, registry).
fn drop_disk(world: &mut World, disk: &str) {
    let _ = fs::remove_file(disk);
    let _ = fs::remove_dir_all(layer(disk));
    world.disks.remove(disk);
    world.parents.remove(disk);
}

fn is_whiteout(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_char_device())
}

/// Copies `from` onto `to` as an overlay upper layer over it would show: a whiteout in `from`
/// removes what `to` has; with `keep`, what `to` has wins.
pub fn overlay_copy(from: &Path, to: &Path, keep: bool) {
    let Ok(entries) = fs::read_dir(from) else { return };
    let _ = fs::create_dir_all(to);
    for e in entries.flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let src_dir = fs::symlink_metadata(&src).is_ok_and(|m| m.is_dir());
        let dst_exists = fs::symlink_metadata(&dst).is_ok();
        if keep && dst_exists {
            if src_dir && fs::symlink_metadata(&dst).is_ok_and(|m| m.is_dir()) {
                overlay_copy(&src, &dst, keep);
            }
            continue;
        }
        if src_dir && !is_whiteout(&src) && fs::symlink_metadata(&dst).is_ok_and(|m| m.is_dir()) {
            overlay_copy(&src, &dst, keep);
            continue;
        }
        if dst_exists {
            let _ = fs::remove_dir_all(&dst).or_else(|_| fs::remove_file(&dst));
        }
        crate::guest::sh(&format!("cp -a '{}' '{}'", src.display().to_string().replace('\'', "'\\''"), dst.display().to_string().replace('\'', "'\\''")));
    }
}

pub fn vm_disks(vm: &Vm) -> Vec<(String, String)> {
    vm.controllers
        .iter()
        .flat_map(|c| c.attachments.iter().filter(|(_, a)| a.kind == "hdd").map(move |(k, a)| (format!("{}/{k}", c.name), a.medium.clone())))
        .collect()
}

pub fn attach(vm: &mut Vm, key: &str, disk: &str) {
    let Some((ctl, port)) = key.split_once('/') else { return };
    if let Some(c) = vm.controllers.iter_mut().find(|c| c.name == ctl)
        && let Some(a) = c.attachments.get_mut(port)
    {
        a.medium = disk.to_string();
    }
}

/// Every disk a VM's snapshots and current state use.
pub fn owned_by(vm: &Vm) -> Vec<String> {
    let mut out: Vec<String> = vm_disks(vm).into_iter().map(|(_, d)| d).collect();
    out.extend(vm.snapshots.iter().flat_map(|s| s.media.values().cloned()));
    out.sort();
    out.dedup();
    out
}

/// `unregistervm --delete`: refused while another VM's disk is a child of one of these; then
/// every disk the VM owns goes.
pub fn delete_all(world: &mut World, vm: &Vm) {
    let mine = owned_by(vm);
    for d in &mine {
        let foreign: Vec<String> = children(world, d).into_iter().filter(|c| !mine.contains(c)).collect();
        if !foreign.is_empty() {
            com_error(
                &format!("Cannot close medium '{d}' because it has {} child media", foreign.len()),
                "VBOX_E_OBJECT_IN_USE",
                "0x80bb000c",
                "MediumWrap",
                "IMedium",
                "DeleteStorage(pProgress.asOutParam())",
            );
        }
    }
    for d in mine {
        drop_disk(world, &d);
    }
}

/// `closemedium` of a disk with children is refused.
pub fn refuse_close_with_children(world: &World, disk: &str) {
    let n = children(world, disk).len();
    if n > 0 {
        com_error(
            &format!("Cannot close medium '{disk}' because it has {n} child media"),
            "VBOX_E_OBJECT_IN_USE",
            "0x80bb000c",
            "MediumWrap",
            "IMedium",
            "Close()",
        );
    }
}

/// `clonevm <vm> [--snapshot S] [--options link,...] [--name N] [--basefolder B] [--groups G]
/// [--uuid U] [--register] [--mode machine]`.
pub fn clonevm(rest: &[String]) {
    let Some(src) = rest.first() else { syntax("VM name or UUID required") };
    let a: Args = crate::parse(&rest[1..], &["--register"]);
    let options: Vec<String> =
        a.opts.iter().filter(|(k, _)| k == "--options").flat_map(|(_, v)| v.split(',').map(|o| o.trim().to_lowercase()).collect::<Vec<_>>()).collect();
    for o in &options {
        if !["link", "keepallmacs", "keepnatmacs", "keepdisknames", "keephwuuids"].contains(&o.as_str()) {
            syntax(&format!("Invalid clone options '{o}'"));
        }
    }
    let link = options.iter().any(|o| o == "link");
    let mut l = lock_world();
    crate::guest::refresh(&mut l.world);
    let Some(source) = find_vm(&mut l.world, src).cloned() else { not_found(src) };
    let snap = match a.get("--snapshot") {
        Some(s) => Some(source.snapshots.iter().find(|x| x.name == s || x.uuid == s).cloned().unwrap_or_else(|| {
            com_error(
                &format!("Could not find a snapshot named '{s}'"),
                "VBOX_E_OBJECT_NOT_FOUND",
                "0x80bb0001",
                "MachineWrap",
                "IMachine",
                "FindSnapshot(Bstr(pszSnapshotName).raw(), srcSnapshot.asOutParam())",
            )
        })),
        None => None,
    };
    if link && snap.is_none() {
        errln!("VBoxManage: error: Linked clone can only be created from a snapshot");
        exit(1);
    }
    let name = a.get("--name").map_or_else(|| format!("{} Clone", source.name), str::to_string);
    let base = a.get("--basefolder").map_or_else(|| crate::home().join("VirtualBox VMs"), PathBuf::from);
    let group = a.get("--groups").unwrap_or("/").split(',').next().unwrap_or("/").trim_start_matches('/').to_string();
    let folder = if group.is_empty() { base.join(&name) } else { base.join(&group).join(&name) };
    let cfg = folder.join(format!("{name}.vbox"));
    if cfg.exists() || l.world.vms.iter().any(|v| v.name == name) {
        com_error(
            &format!("Machine settings file '{}' already exists", cfg.display()),
            "VBOX_E_FILE_ERROR",
            "0x80bb0004",
            "MachineWrap",
            "IMachine",
            "CreateMachine(Bstr(strSettingsFile).raw(), Bstr(pszTrgName).raw(), ComSafeArrayAsInParam(groups), NULL, Bstr(strEnv).raw(), trgMachine.asOutParam())",
        );
    }
    let uuid = match a.get("--uuid") {
        Some(u) => {
            let u = u.trim_matches(|c| c == '{' || c == '}').to_lowercase();
            if l.world.vms.iter().any(|v| v.uuid == u) {
                com_error(
                    &format!("A machine with UUID {{{u}}} already exists"),
                    "VBOX_E_OBJECT_IN_USE",
                    "0x80bb000c",
                    "VirtualBoxWrap",
                    "IVirtualBox",
                    "RegisterMachine(trgMachine)",
                );
            }
            u
        }
        None => new_uuid(&mut l.world),
    };
    let _ = fs::create_dir_all(&folder);
    let _ = fs::write(&cfg, format!("<?xml version=\"1.0\"?>\n<!-- stand-in settings for {name} (a clone of {}) -->\n", source.name));
    let mut vm = Vm {
        name: name.clone(),
        uuid,
        folder: folder.display().to_string(),
        groups: a.get("--groups").unwrap_or("/").into(),
        state: "poweroff".into(),
        since: crate::now_ms(),
        pid: None,
        snapshots: Vec::new(),
        current_snapshot: None,
        unlock_at: 0,
        ..source.clone()
    };
    vm.other.remove("keys");
    let keep_all = options.iter().any(|o| o == "keepallmacs");
    let keep_nat = keep_all || options.iter().any(|o| o == "keepnatmacs");
    for (n, nic) in &mut vm.nics {
        let keep = keep_all || (keep_nat && nic.kind == "nat");
        if !keep {
            let h = new_uuid(&mut l.world).replace('-', "");
            nic.mac = format!("080027{}", &h[..6].to_uppercase());
            let _ = n;
        }
    }
    for (key, disk) in vm_disks(&source) {
        let from = snap.as_ref().and_then(|s| s.media.get(&key).cloned()).unwrap_or(disk);
        let new = if link {
            new_child(&mut l.world, &from, &folder)
        } else {
            // A full clone: the chain flattened into one new disk, as long as copying it takes.
            let target = folder
                .join(format!("{name}{}.vdi", if key.ends_with("0-0") { String::new() } else { format!("-{}", key.replace(['/', '-'], "")) }))
                .display()
                .to_string();
            let fields = merged(&from);
            let _ = fs::write(&target, "{}\n");
            let size: u64 = chain(&from).iter().map(|d| fs::metadata(d).map(|m| m.len()).unwrap_or(0)).max().unwrap_or(0);
            if let Ok(b) = fs::read(&from) {
                let rest = b.iter().position(|&c| c == b'\n').map_or_else(Vec::new, |i| b[i + 1..].to_vec());
                let mut out = b"{}\n".to_vec();
                out.extend_from_slice(&rest);
                let _ = fs::write(&target, out);
            }
            write_own(&target, &fields);
            for d in chain(&from).iter().rev() {
                overlay_copy(&layer(d), &layer(&target), false);
            }
            let _ = fs::create_dir_all(layer(&target));
            #[allow(clippy::cast_precision_loss)]
            let mb = size as f64 / 1_048_576.0;
            std::thread::sleep(Duration::from_secs_f64(mb / secs("VBOXSTANDIN_DISK_MBPS", 400.0).as_secs_f64().max(1.0)));
            let u = new_uuid(&mut l.world);
            l.world.disks.insert(target.clone(), u);
            target
        };
        attach(&mut vm, &key, &new);
    }
    if link {
        std::thread::sleep(secs("VBOXSTANDIN_LINK_SECONDS", 0.3));
    }
    progress();
    if a.has("--register") {
        l.world.vms.push(vm);
    }
    save(&l.world);
    outln!("{}", tr(&format!("Machine has been successfully cloned as \"{name}\"")));
}

fn no_snapshots() -> ! {
    outln!("{}", tr("This machine does not have any snapshots"));
    exit(1);
}

fn find_snap<'a>(vm: &'a Vm, key: &str) -> &'a Snapshot {
    vm.snapshots.iter().find(|s| s.name == key || s.uuid == key).unwrap_or_else(|| {
        com_error(
            &format!("Could not find a snapshot named '{key}'"),
            "VBOX_E_OBJECT_NOT_FOUND",
            "0x80bb0001",
            "MachineWrap",
            "IMachine",
            "FindSnapshot(Bstr(a->argv[2]).raw(), pSnapshot.asOutParam())",
        )
    })
}

/// `snapshot <vm> take|restore|restorecurrent|delete|list ...`.
pub fn snapshot(rest: &[String]) {
    let (Some(vmname), Some(op)) = (rest.first(), rest.get(1)) else { syntax("Not enough parameters") };
    let mut l = lock_world();
    crate::guest::refresh(&mut l.world);
    let Some(vm) = find_vm(&mut l.world, vmname).cloned() else { not_found(vmname) };
    match op.as_str() {
        "list" => {
            list(&vm, rest[2..].iter().any(|a| a == "--machinereadable"));
            return;
        }
        "take" => take(&mut l.world, vm, &rest[2..]),
        "restore" | "restorecurrent" => {
            let key = if op == "restorecurrent" {
                vm.current_snapshot.clone().unwrap_or_else(|| no_snapshots())
            } else {
                rest.get(2).cloned().unwrap_or_else(|| syntax("Missing snapshot name"))
            };
            restore(&mut l.world, vm, &key);
        }
        "delete" => {
            let Some(key) = rest.get(2) else { syntax("Missing snapshot name") };
            delete(&mut l.world, vm, key);
        }
        other => syntax(&format!("Invalid parameter '{other}'")),
    }
    save(&l.world);
}

fn put_back(world: &mut World, vm: Vm) {
    if let Some(v) = world.vms.iter_mut().find(|v| v.uuid == vm.uuid) {
        *v = vm;
    }
}

fn take(world: &mut World, mut vm: Vm, args: &[String]) {
    let a: Args = crate::parse(args, &["--live", "--pause"]);
    let Some(name) = a.pos.first().cloned() else { syntax("Missing snapshot name") };
    if session_busy(&vm) {
        locked(&vm.name);
    }
    let online = matches!(vm.state.as_str(), "running" | "paused");
    let uuid = match a.get("--uuid") {
        Some(u) => u.trim_matches(|c| c == '{' || c == '}').to_lowercase(),
        None => new_uuid(world),
    };
    let folder = PathBuf::from(&vm.folder);
    let mut media = BTreeMap::new();
    for (key, disk) in vm_disks(&vm) {
        if online {
            // The running guest keeps writing its disk: the snapshot gets a copy of it.
            let copy = folder.join("Snapshots").join(format!("{{{}}}.vdi", new_uuid(world))).display().to_string();
            let _ = fs::create_dir_all(folder.join("Snapshots"));
            let _ = fs::copy(&disk, &copy);
            let _ = fs::create_dir_all(layer(&copy));
            crate::guest::sh(&format!("cp -a '{}/.' '{}/'", layer(&disk).display(), layer(&copy).display()));
            if let Some(p) = world.parents.get(&disk).cloned() {
                world.parents.insert(copy.clone(), p);
            }
            let u = new_uuid(world);
            world.disks.insert(copy.clone(), u);
            media.insert(key, copy);
        } else {
            let child = new_child(world, &disk, &folder);
            attach(&mut vm, &key, &child);
            media.insert(key, disk);
        }
    }
    vm.snapshots.push(Snapshot {
        name,
        uuid: uuid.clone(),
        parent: vm.current_snapshot.clone(),
        description: a.get("--description").unwrap_or("").into(),
        media,
        online,
    });
    vm.current_snapshot = Some(uuid.clone());
    put_back(world, vm);
    progress();
    outln!("Snapshot taken. UUID: {uuid}");
}

fn restore(world: &mut World, mut vm: Vm, key: &str) {
    if matches!(vm.state.as_str(), "running" | "paused" | "gurumeditation" | "stopping") {
        com_error(
            &format!("Cannot delete the current state of the running machine (machine state: {})", crate::guest::long_state(&vm.state)),
            "VBOX_E_INVALID_VM_STATE",
            "0x80bb0002",
            "SessionMachine",
            "IMachine",
            "RestoreSnapshot(pSnapshot, pProgress.asOutParam())",
        );
    }
    if session_busy(&vm) {
        locked(&vm.name);
    }
    let snap = find_snap(&vm, key).clone();
    let frozen: Vec<String> = vm.snapshots.iter().flat_map(|s| s.media.values().cloned()).collect();
    let folder = PathBuf::from(&vm.folder);
    for (key, disk) in vm_disks(&vm) {
        let Some(from) = snap.media.get(&key) else { continue };
        if !frozen.contains(&disk) && children(world, &disk).is_empty() {
            drop_disk(world, &disk);
        }
        let child = new_child(world, from, &folder);
        attach(&mut vm, &key, &child);
    }
    outln!("{}", tr(&format!("Restoring snapshot '{}' ({})", snap.name, snap.uuid)));
    vm.current_snapshot = Some(snap.uuid.clone());
    vm.enter(if snap.online { "saved" } else { "poweroff" });
    put_back(world, vm);
    progress();
}

fn delete(world: &mut World, mut vm: Vm, key: &str) {
    if session_busy(&vm) {
        locked(&vm.name);
    }
    let snap = find_snap(&vm, key).clone();
    if vm.snapshots.iter().filter(|s| s.parent.as_deref() == Some(snap.uuid.as_str())).count() > 1 {
        com_error(
            &format!("Snapshot '{}' has more than one child snapshot", snap.name),
            "VBOX_E_INVALID_OBJECT_STATE",
            "0x80bb0007",
            "SessionMachine",
            "IMachine",
            "DeleteSnapshot(bstrSnapGuid.raw(), pProgress.asOutParam())",
        );
    }
    let others: Vec<String> = vm.snapshots.iter().filter(|s| s.uuid != snap.uuid).flat_map(|s| s.media.values().cloned()).collect();
    let current: Vec<String> = vm_disks(&vm).into_iter().map(|(_, d)| d).collect();
    for disk in snap.media.values() {
        if others.contains(disk) || current.contains(disk) {
            continue;
        }
        let kids = children(world, disk);
        if kids.len() > 1 {
            com_error(
                &format!("Medium '{disk}' has more than one child medium ({})", kids.len()),
                "VBOX_E_INVALID_OBJECT_STATE",
                "0x80bb0007",
                "MediumWrap",
                "IMedium",
                "DeleteSnapshot(bstrSnapGuid.raw(), pProgress.asOutParam())",
            );
        }
        if let Some(child) = kids.first() {
            // Merged into its child: the child gets what it showed through from its parent.
            overlay_copy(&layer(disk), &layer(child), true);
            let mut fields = own(disk);
            fields.extend(own(child));
            match world.parents.get(disk).cloned() {
                Some(p) => {
                    fields.insert("parent".into(), Value::String(p.clone()));
                    world.parents.insert(child.clone(), p)
                }
                None => {
                    fields.remove("parent");
                    world.parents.remove(child)
                }
            };
            write_own(child, &fields);
            if let (Ok(b), Ok(c)) = (fs::read(disk), fs::read(child)) {
                // The child now holds the bytes its parent held.
                let body = |x: &[u8]| x.iter().position(|&ch| ch == b'\n').map_or_else(Vec::new, |i| x[i + 1..].to_vec());
                let mut out = c[..c.iter().position(|&ch| ch == b'\n').map_or(c.len(), |i| i + 1)].to_vec();
                let (pb, cb) = (body(&b), body(&c));
                out.extend_from_slice(if cb.len() >= pb.len() { &cb } else { &pb });
                let _ = fs::write(child, out);
            }
        }
        drop_disk(world, disk);
    }
    for s in &mut vm.snapshots {
        if s.parent.as_deref() == Some(snap.uuid.as_str()) {
            s.parent.clone_from(&snap.parent);
        }
    }
    vm.snapshots.retain(|s| s.uuid != snap.uuid);
    if vm.current_snapshot.as_deref() == Some(snap.uuid.as_str()) {
        vm.current_snapshot.clone_from(&snap.parent);
    }
    put_back(world, vm);
    progress();
}

fn list(vm: &Vm, machine: bool) {
    if vm.snapshots.is_empty() {
        no_snapshots();
    }
    out!("{}", tree(vm, machine));
}

/// The snapshot tree as `snapshot list` prints it (and, machine-readable, `showvminfo`).
pub fn tree(vm: &Vm, machine: bool) -> String {
    fn walk(vm: &Vm, parent: Option<&str>, suffix: &str, depth: usize, machine: bool, out: &mut String, current_node: &mut String) {
        for (i, s) in vm.snapshots.iter().filter(|s| s.parent.as_deref() == parent).enumerate() {
            // The root is `SnapshotName`; the children of `X` are `X-1`, `X-2`, ...
            let sfx = if parent.is_none() { if i == 0 { String::new() } else { format!("-{i}") } } else { format!("{suffix}-{}", i + 1) };
            let cur = vm.current_snapshot.as_deref() == Some(s.uuid.as_str());
            if machine {
                out.push_str(&format!("SnapshotName{sfx}=\"{}\"\nSnapshotUUID{sfx}=\"{}\"\n", s.name, s.uuid));
                if !s.description.is_empty() {
                    out.push_str(&format!("SnapshotDescription{sfx}=\"{}\"\n", s.description));
                }
                if cur {
                    *current_node = format!("SnapshotName{sfx}");
                }
            } else {
                out.push_str(&format!("{}Name: {} (UUID: {}){}\n", "   ".repeat(depth + 1), s.name, s.uuid, if cur { " *" } else { "" }));
            }
            walk(vm, Some(&s.uuid), &sfx, depth + 1, machine, out, current_node);
        }
    }
    let mut out = String::new();
    let mut node = String::new();
    walk(vm, None, "", 0, machine, &mut out, &mut node);
    if machine && let Some(c) = vm.snapshots.iter().find(|s| Some(s.uuid.as_str()) == vm.current_snapshot.as_deref()) {
        out.push_str(&format!("CurrentSnapshotName=\"{}\"\nCurrentSnapshotUUID=\"{}\"\nCurrentSnapshotNode=\"{node}\"\n", c.name, c.uuid));
    }
    out
}
