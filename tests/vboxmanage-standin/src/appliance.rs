//! Appliances: `export` and `import`, as VBoxManageAppliance.cpp drives IAppliance
//! (Main/src-server/ApplianceImplExport.cpp and ApplianceImplImport.cpp).
//!
//! - The file must end in `.ovf` or `.ova` ("Appliance file must have .ovf or .ova extension",
//!   both ways). An OVA is a tar: the OVF descriptor first, then the manifest (`.mf`), then
//!   each disk (`<vm>-disk00N.vmdk`).
//! - `--options manifest` (or `--manifest`) writes the manifest: SHA-1 digests for OVF 0.9 and
//!   1.0, SHA-256 for 2.0 ("As of OVF 2.0 we have to use SHA-256 in the manifest"), one line
//!   per file, `SHA1(name)= hex`. On import every file's digest is compared with it before
//!   anything is registered: "Digest mismatch (VERR_MANIFEST_DIGEST_MISMATCH): ..."
//!   (Appliance::i_verifyManifestFile); an OVA without a manifest is not checked.
//! - `nomacs` leaves the MAC addresses out; the import then makes new ones (`keepallmacs` /
//!   `keepnatmacs` keep them).
//! - The descriptor carries VirtualBox's own settings of the machine (`<vbox:Machine>`), which
//!   an import into VirtualBox restores (controllers, ports, platform); the stand-in writes
//!   its own machine record there as JSON. The platform architecture is part of it: an x86
//!   machine imported on an ARM host (or the reverse) is refused, as starting it would be.
//! - An import makes the VM `--vmname` in `--basefolder`/`--group`, with `--description`, its
//!   disks converted to VMDK beside its settings (VDI with `--options importtovdi`), state
//!   powered off, no snapshots.
//!
//! The stand-in's disk inside an OVA (its ".vmdk") is a tar of its own: `disk.json` (what the
//! chain of the VM's disk holds, merged), `os.bin` (the OS's bytes) and `layer.tar` (the files
//! the guest wrote).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha1::Digest as _;

use crate::{Args, Vm, exit, find_vm, lock_world, not_found, save, syntax, tr};

fn digest(sha256: bool, data: &[u8]) -> String {
    let bytes: Vec<u8> = if sha256 { sha2::Sha256::digest(data).to_vec() } else { sha1::Sha1::digest(data).to_vec() };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn file_error(msg: &str) -> ! {
    errln!("VBoxManage: error: {}", tr(msg));
    errln!("VBoxManage: error: Details: code VBOX_E_FILE_ERROR (0x80bb0004), component ApplianceWrap, interface IAppliance");
    exit(1)
}

fn appliance_extension(path: &str) {
    let l = path.to_lowercase();
    if !l.ends_with(".ova") && !l.ends_with(".ovf") {
        file_error("Appliance file must have .ovf or .ova extension");
    }
}

fn q(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

/// The VM's disk as one stand-in "VMDK": its chain flattened.
fn disk_image(disk: &str, work: &Path) -> Vec<u8> {
    let layer = work.join("layer");
    let _ = fs::remove_dir_all(&layer);
    let _ = fs::create_dir_all(&layer);
    for d in crate::media::chain(disk).iter().rev() {
        crate::media::overlay_copy(&crate::media::layer(d), &layer, false);
    }
    let layer_tar = work.join("layer.tar");
    crate::guest::sh(&format!("tar -C {} -cf {} .", q(&layer), q(&layer_tar)));
    let os: Vec<u8> = crate::media::chain(disk)
        .iter()
        .filter_map(|d| fs::read(d).ok())
        .map(|b| b.iter().position(|&c| c == b'\n').map_or_else(Vec::new, |i| b[i + 1..].to_vec()))
        .max_by_key(Vec::len)
        .unwrap_or_default();
    let mut b = tar::Builder::new(Vec::new());
    let mut put = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        let _ = b.append_data(&mut h, name, data);
    };
    put("disk.json", serde_json::to_string(&crate::media::merged(disk)).unwrap_or_default().as_bytes());
    put("os.bin", &os);
    put("layer.tar", &fs::read(&layer_tar).unwrap_or_default());
    b.into_inner().unwrap_or_default()
}

pub fn export(rest: &[String]) {
    let Some(vm_name) = rest.first().filter(|a| !a.starts_with('-')) else { syntax("At least one machine must be specified") };
    let a: Args = crate::parse(&rest[1..], &["--manifest", "--ovf09", "--ovf10", "--ovf20", "--legacy09", "--opc10"]);
    let Some(out) = a.get("--output").or_else(|| a.get("-o")).map(str::to_string) else { syntax("Missing --output argument with export command") };
    let options: Vec<String> =
        a.opts.iter().filter(|(k, _)| k == "--options").flat_map(|(_, v)| v.split(',').map(|o| o.trim().to_lowercase()).collect::<Vec<_>>()).collect();
    for o in &options {
        if !["manifest", "iso", "nomacs", "nomacsbutnat"].contains(&o.as_str()) {
            syntax(&format!("Invalid export options '{o}'"));
        }
    }
    let manifest = a.has("--manifest") || options.iter().any(|o| o == "manifest");
    let ovf20 = a.has("--ovf20");
    appliance_extension(&out);
    if !out.to_lowercase().ends_with(".ova") {
        syntax("the stand-in writes OVA files only");
    }
    let mut l = lock_world();
    crate::guest::refresh(&mut l.world);
    let Some(vm) = find_vm(&mut l.world, vm_name).cloned() else { not_found(vm_name) };
    drop(l);
    let out_path = PathBuf::from(&out);
    let stem = out_path.file_stem().map_or_else(|| "appliance".to_string(), |s| s.to_string_lossy().into_owned());
    let work = PathBuf::from(format!("{out}.standin-work"));
    let _ = fs::create_dir_all(&work);
    let mut record = vm.clone();
    record.uuid.clear();
    record.folder.clear();
    record.snapshots.clear();
    record.current_snapshot = None;
    record.pid = None;
    record.state = "poweroff".into();
    if options.iter().any(|o| o == "nomacs" || o == "nomacsbutnat") {
        for nic in record.nics.values_mut() {
            if options.iter().any(|o| o == "nomacs") || nic.kind != "nat" {
                nic.mac.clear();
            }
        }
    }
    let mut disks = Vec::new();
    for (i, (key, disk)) in crate::media::vm_disks(&vm).into_iter().enumerate() {
        let name = format!("{stem}-disk{:03}.vmdk", i + 1);
        disks.push((key, name.clone(), disk_image(&disk, &work)));
    }
    let mut ovf = format!(
        "<?xml version=\"1.0\"?>\n<Envelope ovf:version=\"{}\" xml:lang=\"en-US\" xmlns=\"http://schemas.dmtf.org/ovf/envelope/{}\" xmlns:vbox=\"http://www.virtualbox.org/ovf/machine\">\n  <References>\n",
        if ovf20 { "2.0" } else { "1.0" },
        if ovf20 { "2" } else { "1" }
    );
    for (_, name, _) in &disks {
        ovf += &format!("    <File ovf:id=\"{name}\" ovf:href=\"{name}\"/>\n");
    }
    ovf += &format!(
        "  </References>\n  <VirtualSystem ovf:id=\"{}\">\n    <OperatingSystemSection><vbox:OSType>{}</vbox:OSType></OperatingSystemSection>\n",
        vm.name, vm.ostype
    );
    for (key, name, _) in &disks {
        ovf += &format!("    <vbox:Disk attachment=\"{key}\" href=\"{name}\"/>\n");
    }
    ovf += &format!(
        "    <vbox:Machine>{}</vbox:Machine>\n  </VirtualSystem>\n</Envelope>\n",
        serde_json::to_string(&record).unwrap_or_default().replace('&', "&amp;").replace('<', "&lt;")
    );
    let mut files: Vec<(String, Vec<u8>)> = vec![(format!("{stem}.ovf"), ovf.into_bytes())];
    let disk_files: Vec<(String, Vec<u8>)> = disks.into_iter().map(|(_, n, d)| (n, d)).collect();
    if manifest {
        let mut mf = String::new();
        for (n, d) in files.iter().chain(disk_files.iter()) {
            mf += &format!("{}({n})= {}\n", if ovf20 { "SHA256" } else { "SHA1" }, digest(ovf20, d));
        }
        files.push((format!("{stem}.mf"), mf.into_bytes()));
    }
    files.extend(disk_files);
    let mut b = tar::Builder::new(Vec::new());
    for (n, d) in &files {
        let mut h = tar::Header::new_ustar();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        let _ = b.append_data(&mut h, n, d.as_slice());
    }
    let _ = fs::remove_dir_all(&work);
    if fs::write(&out_path, b.into_inner().unwrap_or_default()).is_err() {
        file_error(&format!("Could not create OVA file '{out}'"));
    }
    errln!("0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%");
    outln!("{}", tr("Successfully exported 1 machine(s)."));
}

pub fn import(rest: &[String]) {
    let Some(file) = rest.first().filter(|a| !a.starts_with('-')) else { syntax("Missing arguments to import command.") };
    let a: Args = crate::parse(&rest[1..], &["--dry-run", "-n"]);
    appliance_extension(file);
    let Ok(data) = fs::read(file) else { file_error(&format!("Could not open the file '{file}'")) };
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    let mut archive = tar::Archive::new(data.as_slice());
    let Ok(entries) = archive.entries() else { file_error(&format!("Error reading OVA '{file}' (VERR_TAR_BAD_HEADER)")) };
    for e in entries {
        let Ok(mut e) = e else { file_error(&format!("Error reading OVA '{file}' (VERR_TAR_UNEXPECTED_EOS)")) };
        let name = e.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let mut body = Vec::new();
        if e.read_to_end(&mut body).is_err() {
            file_error(&format!("Error reading OVA '{file}' (VERR_TAR_UNEXPECTED_EOS)"));
        }
        members.push((name, body));
    }
    let Some((ovf_name, ovf)) = members.first().filter(|(n, _)| n.to_lowercase().ends_with(".ovf")).cloned() else {
        file_error(&format!("First file in the OVA '{file}' is not an OVF descriptor"))
    };
    // The manifest: every file it names must have that digest.
    if let Some((_, mf)) = members.iter().find(|(n, _)| n.to_lowercase().ends_with(".mf")) {
        for line in String::from_utf8_lossy(mf).lines() {
            let Some((lhs, want)) = line.split_once(")= ") else { continue };
            let Some((algo, name)) = lhs.split_once('(') else { continue };
            let sha256 = algo.eq_ignore_ascii_case("SHA256");
            let got = members.iter().find(|(n, _)| n == name).map(|(_, d)| digest(sha256, d));
            if got.as_deref() != Some(want.trim()) {
                errln!(
                    "VBoxManage: error: {}",
                    tr(&format!(
                        "Digest mismatch (VERR_MANIFEST_DIGEST_MISMATCH): Attribute '{algo}' on '{name}' does not match ('{}' vs. '{}')",
                        want.trim(),
                        got.unwrap_or_default()
                    ))
                );
                errln!("VBoxManage: error: Details: code VBOX_E_IPRT_ERROR (0x80bb0005), component ApplianceWrap, interface IAppliance");
                exit(1);
            }
        }
    }
    let ovf = String::from_utf8_lossy(&ovf).into_owned();
    let machine = ovf.split("<vbox:Machine>").nth(1).and_then(|m| m.split("</vbox:Machine>").next()).unwrap_or("").replace("&lt;", "<").replace("&amp;", "&");
    let Ok(mut vm) = serde_json::from_str::<Vm>(&machine) else { file_error(&format!("Error reading '{ovf_name}': no VirtualBox machine in the OVF")) };
    let host_arch = std::env::var("VBOXSTANDIN_HOST_ARCH").unwrap_or_else(|_| "x86".into());
    if !vm.arch.is_empty() && vm.arch.to_lowercase() != host_arch.to_lowercase() {
        file_error(&format!("Cannot import a machine of platform architecture {} on {host_arch}", vm.arch));
    }
    let name = a.get("--vmname").map_or_else(|| vm.name.clone(), str::to_string);
    let base = a.get("--basefolder").map_or_else(|| crate::home().join("VirtualBox VMs"), PathBuf::from);
    let group = a.get("--group").unwrap_or("/").trim_start_matches('/').to_string();
    let folder = if group.is_empty() { base.join(&name) } else { base.join(&group).join(&name) };
    if a.has("--dry-run") || a.has("-n") {
        outln!("{}", tr(&format!("Disks:\n  vmname: {name}")));
        exit(0);
    }
    let mut l = lock_world();
    if l.world.vms.iter().any(|v| v.name == name) || folder.join(format!("{name}.vbox")).exists() {
        file_error(&format!("Machine settings file '{}' already exists", folder.join(format!("{name}.vbox")).display()));
    }
    let _ = fs::create_dir_all(&folder);
    let _ = fs::write(folder.join(format!("{name}.vbox")), format!("<?xml version=\"1.0\"?>\n<!-- stand-in settings for {name} (imported from {file}) -->\n"));
    vm.name = name.clone();
    vm.uuid = crate::new_uuid(&mut l.world);
    vm.folder = folder.display().to_string();
    vm.groups = if group.is_empty() { "/".into() } else { format!("/{group}") };
    vm.state = "poweroff".into();
    vm.since = crate::now_ms();
    if let Some(d) = a.get("--description") {
        vm.description = d.to_string();
    }
    let options: Vec<String> =
        a.opts.iter().filter(|(k, _)| k == "--options").flat_map(|(_, v)| v.split(',').map(|o| o.trim().to_lowercase()).collect::<Vec<_>>()).collect();
    let keep_all = options.iter().any(|o| o == "keepallmacs");
    let keep_nat = keep_all || options.iter().any(|o| o == "keepnatmacs");
    for nic in vm.nics.values_mut() {
        if nic.mac.is_empty() || !(keep_all || (keep_nat && nic.kind == "nat")) {
            let h = crate::new_uuid(&mut l.world).replace('-', "");
            nic.mac = format!("080027{}", &h[..6].to_uppercase());
        }
    }
    // Disks: each attachment gets its converted image beside the settings.
    let ext = if options.iter().any(|o| o == "importtovdi") { "vdi" } else { "vmdk" };
    for c in &mut vm.controllers {
        c.attachments.retain(|_, at| at.kind != "hdd");
    }
    for line in ovf.lines().filter(|l| l.trim_start().starts_with("<vbox:Disk ")) {
        let attr = |k: &str| line.split(&format!("{k}=\"")).nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_string();
        let (key, href) = (attr("attachment"), attr("href"));
        let Some((_, image)) = members.iter().find(|(n, _)| *n == href) else { file_error(&format!("The file '{href}' the OVF names is not in the OVA")) };
        let target = folder.join(format!("{}.{ext}", Path::new(&href).file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned())));
        let target_s = target.display().to_string();
        let mut inner = tar::Archive::new(image.as_slice());
        let mut fields = String::new();
        let mut os = Vec::new();
        let mut layer_tar = Vec::new();
        if let Ok(es) = inner.entries() {
            for e in es.flatten() {
                let mut e = e;
                let n = e.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
                let mut body = Vec::new();
                let _ = e.read_to_end(&mut body);
                match n.as_str() {
                    "disk.json" => fields = String::from_utf8_lossy(&body).into_owned(),
                    "os.bin" => os = body,
                    "layer.tar" => layer_tar = body,
                    _ => {}
                }
            }
        }
        let mut out = fields.into_bytes();
        out.push(b'\n');
        out.extend_from_slice(&os);
        let _ = fs::write(&target, out);
        let layer = crate::media::layer(&target_s);
        let _ = fs::create_dir_all(&layer);
        let lt = folder.join(".layer.tar");
        let _ = fs::write(&lt, layer_tar);
        crate::guest::sh(&format!("tar -C {} -xf {}", q(&layer), q(&lt)));
        let _ = fs::remove_file(&lt);
        let u = crate::new_uuid(&mut l.world);
        l.world.disks.insert(target_s.clone(), u);
        if let Some((ctl, port)) = key.split_once('/')
            && let Some(c) = vm.controllers.iter_mut().find(|c| c.name == ctl)
        {
            c.attachments.insert(port.to_string(), crate::Attachment { kind: "hdd".into(), medium: target_s.clone() });
        }
    }
    l.world.vms.push(vm);
    save(&l.world);
    errln!("0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%");
    outln!("{}", tr("Successfully imported the appliance."));
}
