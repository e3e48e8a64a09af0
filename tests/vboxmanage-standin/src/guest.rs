//! The guests: an installer that reads ks.cfg from the OEMDRV disc and writes the result to the
//! disk, an installed system that runs as a Linux network namespace with sshd, and a machine
//! with nothing to boot.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{Vm, World, find_vm, home, lock_world, save};

/// What an installed disk holds (the stand-in's disks are small JSON files).
#[derive(Serialize, Deserialize, Default, Debug)]
pub struct Disk {
    pub installed: bool,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub ip: String,
    #[serde(default)]
    pub prefix: u32,
    #[serde(default)]
    pub mac: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub keys: Vec<String>,
    /// The kickstart installed cloud-init: the system takes its identity from a `cidata` disc.
    #[serde(default)]
    pub cloud_init: bool,
    /// The NoCloud instance whose seed this system applied (cloud-init runs once per instance).
    #[serde(default)]
    pub instance: String,
}

pub fn sh(cmd: &str) -> bool {
    Command::new("sh").args(["-c", cmd]).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn disk_path(vm: &Vm) -> Option<String> {
    vm.controllers.iter().flat_map(|c| c.attachments.values()).find(|a| a.kind == "hdd").map(|a| a.medium.clone())
}

fn read_disk(path: &str) -> Disk {
    serde_json::from_value(serde_json::Value::Object(crate::media::merged(path))).unwrap_or_default()
}

/// A state as `VBoxManage` words it in messages (`Running`, `Paused`, ...).
pub fn long_state(state: &str) -> String {
    let mut c = state.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().collect::<String>() + c.as_str())
}

fn dvds(vm: &Vm) -> Vec<String> {
    vm.controllers.iter().flat_map(|c| c.attachments.values()).filter(|a| a.kind == "dvddrive" && a.medium != "emptydrive").map(|a| a.medium.clone()).collect()
}

fn oemdrv(vm: &Vm) -> Option<Vec<u8>> {
    dvds(vm).into_iter().filter_map(|p| fs::read(p).ok()).find(|d| crate::iso::label(d).as_deref() == Some("OEMDRV")).and_then(|d| crate::iso::ks_cfg(&d))
}

fn short(vm: &Vm) -> String {
    vm.uuid.chars().filter(char::is_ascii_hexdigit).take(8).collect()
}

fn netns(vm: &Vm) -> String {
    format!("vbx-{}", short(vm))
}

/// Starts the VM's process. Like VirtualBox's VM process it outlives the VBoxManage call that
/// started it (its parent exits; init reaps it).
#[allow(clippy::zombie_processes)]
fn spawn(vm: &Vm, what: &str) -> i32 {
    let logs = Path::new(&vm.folder).join("Logs");
    let _ = fs::create_dir_all(&logs);
    let log = fs::OpenOptions::new().create(true).append(true).open(logs.join("VBox.log")).expect("VBox.log");
    let child = Command::new(std::env::current_exe().expect("exe"))
        .args([what, &vm.uuid])
        .env("VBOXSTANDIN_HOME", home())
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("start guest");
    i32::try_from(child.id()).unwrap_or(0)
}

/// Powers the VM on: the firmware tries the boot devices in order.
pub fn boot(vm: &mut Vm) {
    let disk = disk_path(vm).map(|p| read_disk(&p)).unwrap_or_default();
    // The OEMDRV and cidata discs hold files, not a boot loader: the firmware passes over them.
    let installer = dvds(vm).iter().any(|p| fs::read(p).ok().is_some_and(|d| !matches!(crate::iso::label(&d).as_deref(), Some("OEMDRV" | "cidata"))));
    let mut what = "__guest-idle";
    for dev in vm.boot.clone() {
        if dev == "disk" && disk.installed {
            what = "__guest-run";
            break;
        }
        if dev == "dvd" && installer {
            // Anaconda finds ks.cfg on the OEMDRV disc; without one it waits for a person.
            what = if oemdrv(vm).is_none() { "__guest-idle" } else { "__guest-install" };
            break;
        }
    }
    // A serial port in file mode: VirtualBox's DrvRawFile opens its file anew at power-on
    // (RTFILE_O_CREATE_REPLACE), so it holds this boot's output only.
    if let Some(f) = crate::anaconda::serial_file(vm) {
        let _ = fs::write(f, "");
    }
    vm.pid = Some(spawn(vm, what));
    vm.state = String::new();
    vm.enter("running");
}

fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).ok().is_some_and(|s| s.rsplit(')').next().is_some_and(|r| !r.trim_start().starts_with('Z')))
}

fn cleanup(vm: &Vm) {
    let ns = netns(vm);
    if Path::new("/run/netns").join(&ns).exists() {
        let pids = Command::new("ip").args(["netns", "pids", &ns]).output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
        for p in pids.split_whitespace() {
            sh(&format!("kill -9 {p}"));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !Command::new("ip").args(["netns", "pids", &ns]).output().map(|o| o.stdout.is_empty()).unwrap_or(true) {
            std::thread::sleep(Duration::from_millis(50));
        }
        sh(&format!("ip netns del {ns}"));
    }
}

/// VMs whose process ended (the guest powered itself off) are powered off; their session is
/// unlocked a moment later.
pub fn refresh(world: &mut World) {
    for vm in &mut world.vms {
        if matches!(vm.state.as_str(), "running" | "paused" | "gurumeditation") && !vm.pid.is_some_and(alive) {
            cleanup(vm);
            vm.enter("poweroff");
            vm.pid = None;
            vm.unlock_at = crate::now_ms() + crate::unlock_ms();
        }
    }
}

pub fn stop(vm: &mut Vm, hard: bool) {
    if let Some(pid) = vm.pid {
        if hard {
            sh(&format!("kill -KILL {pid}"));
        } else {
            // The ACPI button: the guest's init (sshd) shuts down, and with it the guest.
            sh(&format!("ip netns pids {} | xargs -r kill -TERM; kill -TERM {pid}", netns(vm)));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if alive(pid) {
            sh(&format!("kill -KILL {pid}"));
        }
    }
    cleanup(vm);
    vm.enter("poweroff");
    vm.pid = None;
}

pub fn forget(vm: &Vm) {
    cleanup(vm);
}

pub fn idle() {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Files a %post section writes with `cat > PATH <<'TAG'`.
fn post_files(ks: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = ks.lines();
    while let Some(l) = lines.next() {
        let t = l.trim();
        let Some(rest) = t.strip_prefix("cat > ") else { continue };
        let Some((path, tag)) = rest.split_once(" <<") else { continue };
        let tag = tag.trim().trim_matches('\'').trim_matches('"');
        let mut body = String::new();
        for b in lines.by_ref() {
            if b.trim_end() == tag {
                break;
            }
            body.push_str(b);
            body.push('\n');
        }
        out.insert(path.trim().trim_matches('"').to_string(), body);
    }
    out
}

fn opt<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split_whitespace().find_map(|w| w.strip_prefix(&format!("--{name}=")))
}

fn env_secs(name: &str, default: f64) -> Duration {
    Duration::from_secs_f64(std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default))
}

/// Writes a line to the VM's log (stdout of the VM process is `Logs/VBox.log`).
fn log(line: &str) {
    println!("{:>10} {line}", crate::now_ms());
}

/// The VM's state now, as the world has it.
fn state_of(uuid: &str) -> Option<(String, Vm)> {
    let mut l = lock_world();
    find_vm(&mut l.world, uuid).map(|v| (v.state.clone(), v.clone()))
}

/// Sleeps for `d` of the guest's running time: a paused VM does not advance.
fn run_for(uuid: &str, d: Duration) {
    let mut left = d;
    while !left.is_zero() {
        let tick = left.min(Duration::from_millis(100));
        std::thread::sleep(tick);
        if state_of(uuid).is_some_and(|(s, _)| s == "running") {
            left = left.saturating_sub(tick);
        }
    }
}

/// Sets this VM's state, when this process is still its VM process.
fn set_state(uuid: &str, state: &str, pid_too: bool) {
    let mut l = lock_world();
    if let Some(v) = find_vm(&mut l.world, uuid)
        && v.pid == Some(i32::try_from(std::process::id()).unwrap_or(0))
    {
        v.enter(state);
        if pid_too {
            v.pid = None;
            v.unlock_at = crate::now_ms() + crate::unlock_ms();
        }
    }
    save(&l.world);
}

/// A fault asked for by the test (`$VBOXSTANDIN_HOME/guest-fault`, lines `<vm> <state>`), taken
/// once.
fn take_fault(name: &str) -> Option<String> {
    // Guests installing at once each take their own line: one at a time.
    let _world = lock_world();
    let path = home().join("guest-fault");
    let text = fs::read_to_string(&path).ok()?;
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let i = lines.iter().position(|l| l.split_whitespace().next() == Some(name))?;
    let state = lines.remove(i).split_whitespace().nth(1)?.to_string();
    let _ = fs::write(&path, lines.iter().map(|l| format!("{l}\n")).collect::<String>());
    Some(state)
}

/// The boot menu of the install DVD (isolinux on EL7, GRUB on EL9 and EL10): "Install" first,
/// "Test this media & install" preselected. It shows `$VBOXSTANDIN_MENU_AT` s after power-on
/// (keys typed before are lost) and waits `$VBOXSTANDIN_BOOT_MENU_SECONDS` (60, as the DVDs'
/// timeout) for a choice. Up then Enter picks "Install"; Enter alone, or the timeout, the
/// media check. Returns whether the media is checked.
fn boot_menu(uuid: &str) -> bool {
    std::thread::sleep(env_secs("VBOXSTANDIN_MENU_AT", 1.0));
    {
        let mut l = lock_world();
        if let Some(v) = find_vm(&mut l.world, uuid) {
            v.other.remove("keys");
        }
        save(&l.world);
    }
    log("boot menu: Install / Test this media & install (preselected) / Troubleshooting");
    let deadline = Instant::now() + env_secs("VBOXSTANDIN_BOOT_MENU_SECONDS", 60.0);
    while Instant::now() < deadline {
        let keys = state_of(uuid).and_then(|(_, v)| v.other.get("keys").cloned()).unwrap_or_default();
        if let Some(enter) = keys.find("1c") {
            let up = keys[..enter].contains("e0 48");
            log(if up { "boot menu: \"Install\" chosen" } else { "boot menu: \"Test this media & install\" chosen" });
            return !up;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    log("boot menu: timed out; \"Test this media & install\"");
    true
}

/// The installer: the boot menu, maybe the media check, then reads ks.cfg, "installs" for a
/// while (not while paused), writes the result onto the disk, and ends as the kickstart says:
/// `poweroff` powers the VM off, `reboot` boots it again, nothing waits for a person.
pub fn install(uuid: &str) {
    let secs = env_secs("VBOXSTANDIN_INSTALL_SECONDS", 2.0);
    let Some((_, vm)) = state_of(uuid) else { return };
    let ks = oemdrv(&vm).map(|k| String::from_utf8_lossy(&k).into_owned()).unwrap_or_default();
    if boot_menu(uuid) {
        log("checking the installation media");
        run_for(uuid, env_secs("VBOXSTANDIN_MEDIA_CHECK_SECONDS", 20.0));
    }
    log("anaconda: kickstart from the OEMDRV disc");
    let serial = crate::anaconda::serial_file(&vm);
    let work = Path::new(&vm.folder).join("installer");
    // The repositories on the install DVD, as its .treeinfo names them.
    let variants = dvds(&vm)
        .into_iter()
        .filter_map(|p| fs::read(p).ok())
        .find(|d| !matches!(crate::iso::label(d).as_deref(), Some("OEMDRV" | "cidata")))
        .and_then(|d| crate::anaconda::variants(&d))
        .unwrap_or_default();
    let media_line = if crate::mirror::repos(&ks).is_empty() {
        format!("INFO:anaconda.modules.payloads.source.cdrom: repositories on the install media: {}\n", variants.join(", "))
    } else {
        String::new()
    };
    let mut logs = vec![("anaconda.log", media_line), ("packaging.log", String::new())];
    for body in crate::anaconda::scripts(&ks, "%pre") {
        log("anaconda: running a %pre script");
        crate::anaconda::run_script(&work, &body, &logs, serial.as_deref());
    }
    // %packages: each name must be in a repository of the media unless --ignoremissing (dnf's
    // MarkingErrors, which Anaconda's dnf_manager raises as MissingSpecsError; non-interactive,
    // pyanaconda/errors.py ErrorHandler.cb raises NonInteractiveError and the install stops).
    let mut ignore_missing = false;
    let mut wanted = Vec::new();
    let mut in_packages = false;
    for line in ks.lines().map(str::trim) {
        if line.starts_with("%packages") {
            in_packages = true;
            ignore_missing = line.split_whitespace().any(|w| w == "--ignoremissing");
        } else if line == "%end" {
            in_packages = false;
        } else if in_packages && !line.is_empty() && !line.starts_with(['@', '-', '#']) {
            wanted.push(line.to_string());
        }
    }
    // A network install (`url`, `repo`): the packages are those the mirror's metadata lists;
    // from media, those of the ISO's repositories.
    let repos = crate::mirror::repos(&ks);
    let mut listed: Vec<(crate::mirror::Repo, Vec<(String, String)>)> = Vec::new();
    for r in &repos {
        log(&format!("anaconda: loading the metadata of repository {} from {}", r.name, r.url));
        logs[0].1 += &format!("INFO:anaconda.modules.payloads.payload.dnf.dnf_manager:Adding the '{}' repository: {}\n", r.name, r.url);
        match crate::mirror::packages(r, &mut logs[1].1) {
            Ok(p) => listed.push((r.clone(), p)),
            Err(e) => {
                logs[0].1 += &format!(
                    "ERROR:anaconda.modules.payloads.payload.dnf.dnf_manager:{e}\nERROR:anaconda:Non interactive installation failed: Error setting up software source: {e}\n"
                );
                install_failed(&ks, &work, &logs, serial.as_deref(), &e);
            }
        }
    }
    let carried = |p: &str| {
        if repos.is_empty() { variants.iter().any(|v| crate::anaconda::carries(v, p)) } else { listed.iter().any(|(_, ps)| ps.iter().any(|(n, _)| n == p)) }
    };
    let (packages, missing): (Vec<String>, Vec<String>) = wanted.into_iter().partition(|p| carried(p));
    for m in &missing {
        logs[1].1 += &format!("DEBUG:dnf:No match for argument: {m}\n");
    }
    if !missing.is_empty() && !ignore_missing {
        logs[0].1 += &format!(
            "ERROR:anaconda.modules.payloads.payload.dnf.dnf_manager:Failed to apply specs!\nProblems in request:\nmissing packages: {}\n\
             ERROR:anaconda:Non interactive installation failed: Some packages, groups or modules are missing.\n",
            missing.join(", ")
        );
        install_failed(&ks, &work, &logs, serial.as_deref(), &format!("missing packages: {}", missing.join(", ")));
    }
    // dnf downloads the transaction's packages before installing any.
    let mut fetched = 0usize;
    for p in &packages {
        let Some((repo, href)) = listed.iter().find_map(|(r, ps)| ps.iter().find(|(n, _)| n == p).map(|(_, h)| (r, h))) else { continue };
        match crate::mirror::download(repo, href) {
            Ok(n) => {
                fetched += n;
                logs[1].1 += &format!("DEBUG:dnf:downloaded {href} from {}\n", repo.url);
            }
            Err(e) => {
                logs[1].1 += &format!("ERROR:dnf.librepo:{e}\n");
                logs[0].1 += &format!(
                    "ERROR:anaconda.modules.payloads.payload.dnf.dnf_manager:Failed to download the following packages: {e}\n\
                     ERROR:anaconda:Non interactive installation failed: Failed to download the following packages: {e}\n"
                );
                install_failed(&ks, &work, &logs, serial.as_deref(), &format!("Failed to download the following packages: {e}"));
            }
        }
    }
    if !repos.is_empty() {
        log(&format!("anaconda: downloaded {} packages ({fetched} bytes) from the network", packages.len()));
    }
    // A disk that holds a system is wiped only when the kickstart says so; otherwise Anaconda
    // asks a person what to do with it.
    let installed = disk_path(&vm).is_some_and(|p| read_disk(&p).installed);
    let wipes = ks.lines().map(str::trim).any(|l| l.starts_with("clearpart") && l.contains("--all"));
    if installed && !wipes {
        log("anaconda: the disk holds partitions and the kickstart has no `clearpart --all`; waiting for a person");
        idle();
    }
    run_for(uuid, secs / 2);
    match take_fault(&vm.name).as_deref() {
        Some("aborted") => {
            log("!!! the VM process died (aborted)");
            set_state(uuid, "aborted", true);
            std::process::exit(1);
        }
        Some("gurumeditation") => {
            log("!!! Guru Meditation -2701 (VERR_VMM_RING0_ASSERTION)");
            set_state(uuid, "gurumeditation", false);
            idle();
        }
        Some("paused") => {
            log("VM paused (out of disk space on the host)");
            set_state(uuid, "paused", false);
        }
        _ => {}
    }
    run_for(uuid, secs - secs / 2);
    // `services --enabled`: each unit must exist on the installed system
    // (pyanaconda/core/util.py enable_service: "Error enabling service %s").
    let units: Vec<&str> = packages.iter().flat_map(|p| crate::anaconda::units(p).iter().copied()).chain(crate::anaconda::CORE_UNITS.iter().copied()).collect();
    for line in ks.lines().map(str::trim).filter(|l| l.starts_with("services ")) {
        for unit in opt(line, "enabled").unwrap_or("").split(',').filter(|u| !u.is_empty()) {
            if !units.contains(&unit) {
                logs[0].1 += &format!(
                    "ERROR:anaconda:Error enabling service {unit}\nERROR:anaconda:Non interactive installation failed: Error enabling service {unit}\n"
                );
                install_failed(&ks, &work, &logs, serial.as_deref(), &format!("Error enabling service {unit}"));
            }
        }
    }
    let mut disk = Disk { installed: true, ..Disk::default() };
    for line in ks.lines().map(str::trim) {
        if line.starts_with("network ") {
            if let Some(h) = opt(line, "hostname") {
                disk.hostname = h.to_string();
            }
            if opt(line, "bootproto") == Some("static") {
                disk.ip = opt(line, "ip").unwrap_or("").to_string();
                disk.prefix = opt(line, "netmask").unwrap_or("255.255.255.0").split('.').filter_map(|x| x.parse::<u8>().ok()).map(u8::count_ones).sum();
                disk.mac = opt(line, "device").unwrap_or("").replace(':', "").to_uppercase();
            }
        }
        if line.starts_with("user ") {
            disk.user = opt(line, "name").unwrap_or("").to_string();
        }
        if line.starts_with("sshkey ")
            && let Some(k) = line.split('"').nth(1)
        {
            disk.keys.push(k.to_string());
        }
    }
    // cloud-init is there only if the media had it (`--ignoremissing` drops it silently).
    disk.cloud_init = packages.iter().any(|p| p == "cloud-init");
    let files = post_files(&ks);
    for (path, body) in &files {
        if path.ends_with("/authorized_keys") {
            disk.keys.extend(body.lines().map(str::to_string));
        }
    }
    let Some(disk_file) = disk_path(&vm) else { return };
    // The installed system: %post's files land on the disk (the guest's upper layer).
    let upper = crate::media::layer(&disk_file);
    let _ = fs::remove_dir_all(&upper);
    for (path, body) in &files {
        let target = upper.join(path.trim_start_matches('/'));
        if let Some(d) = target.parent() {
            let _ = fs::create_dir_all(d);
        }
        let _ = fs::write(&target, body);
    }
    let _ = fs::write(&disk_file, serde_json::to_string(&disk).unwrap_or_default() + "\n");
    crate::media::fill(&disk_file);
    let ends: Vec<&str> = ks.lines().map(str::trim).filter(|l| matches!(*l, "poweroff" | "reboot" | "halt" | "shutdown")).collect();
    match ends.last().copied() {
        Some("poweroff") => {
            log("installation complete; powering off");
            set_state(uuid, "poweroff", true);
        }
        Some("reboot") => {
            log("installation complete; rebooting");
            let mut l = lock_world();
            if let Some(v) = find_vm(&mut l.world, uuid) {
                boot(v);
            }
            save(&l.world);
        }
        _ => {
            log("installation complete; press ENTER to quit");
            idle();
        }
    }
}

/// A non-interactive install that stops: Anaconda runs the kickstart's `%onerror` scripts
/// (pyanaconda's exception handling, `run_errorhandler` / ipmi_abort) and then waits; the VM
/// keeps running with the error on its screen.
fn install_failed(ks: &str, work: &Path, logs: &[(&str, String)], serial: Option<&Path>, why: &str) -> ! {
    log(&format!("anaconda: Non interactive installation failed: {why}"));
    for body in crate::anaconda::scripts(ks, "%onerror") {
        log("anaconda: running an %onerror script");
        crate::anaconda::run_script(work, body.as_str(), logs, serial);
    }
    log("anaconda: the installation was stopped due to an error; waiting for a person");
    idle();
    unreachable!()
}

/// cloud-init's NoCloud source: a disc labelled `cidata` whose instance this system has not
/// seen gives it its host name, user and key, SSH host key, files and the address of the NIC
/// whose MAC its network-config names; what it applied is written to the VM's own disk (a
/// linked clone's differencing image), so the next boot needs no disc.
fn cloud_init(vm: &Vm, disk_file: &str, disk: &mut Disk) {
    if !disk.cloud_init {
        return;
    }
    let Some(seed) = dvds(vm).into_iter().filter_map(|p| fs::read(p).ok()).find(|d| crate::iso::label(d).as_deref() == Some("cidata")) else {
        log("cloud-init: no NoCloud seed; nothing to do");
        return;
    };
    let yaml =
        |name: &str| -> serde_yaml::Value { crate::iso::file(&seed, name).and_then(|b| serde_yaml::from_slice(&b).ok()).unwrap_or(serde_yaml::Value::Null) };
    let (meta, user, network) = (yaml("meta-data"), yaml("user-data"), yaml("network-config"));
    let instance = meta["instance-id"].as_str().unwrap_or("").to_string();
    if instance.is_empty() || instance == disk.instance {
        log(&format!("cloud-init: instance {instance:?} already set up"));
        return;
    }
    log(&format!("cloud-init: NoCloud seed, instance {instance}"));
    let mut own = serde_json::Map::new();
    own.insert("instance".into(), instance.clone().into());
    if let Some(h) = meta["local-hostname"].as_str() {
        own.insert("hostname".into(), h.into());
    }
    if let Some(u) = user["users"].get(0) {
        own.insert("user".into(), u["name"].as_str().unwrap_or("").into());
        let keys: Vec<serde_json::Value> = u["ssh_authorized_keys"].as_sequence().into_iter().flatten().filter_map(|k| k.as_str()).map(Into::into).collect();
        own.insert("keys".into(), keys.into());
    }
    let layer = crate::media::layer(disk_file);
    let mut files: Vec<(String, String, u32)> = Vec::new();
    if let (Some(private), Some(public)) = (user["ssh_keys"]["ed25519_private"].as_str(), user["ssh_keys"]["ed25519_public"].as_str()) {
        files.push(("/etc/ssh/ssh_host_ed25519_key".into(), private.to_string(), 0o600));
        files.push(("/etc/ssh/ssh_host_ed25519_key.pub".into(), format!("{public}\n"), 0o644));
    }
    // cloud-init's users module: the user's sudo rule, in the file cloud-init writes it to.
    if let Some(u) = user["users"].get(0)
        && let (Some(name), Some(rule)) = (u["name"].as_str(), u["sudo"].as_str())
    {
        files.push(("/etc/sudoers.d/90-cloud-init-users".into(), format!("# Created by cloud-init\n{name} {rule}\n"), 0o440));
    }
    for f in user["write_files"].as_sequence().into_iter().flatten() {
        if let (Some(path), Some(content)) = (f["path"].as_str(), f["content"].as_str()) {
            files.push((path.into(), content.into(), 0o644));
        }
    }
    for (path, content, mode) in files {
        let target = layer.join(path.trim_start_matches('/'));
        if let Some(d) = target.parent() {
            let _ = fs::create_dir_all(d);
        }
        let _ = fs::write(&target, content);
        let _ = fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(mode));
    }
    let hostonly = vm.nics.values().find(|n| n.kind == "hostonly" || n.kind == "hostonlynet").map(|n| n.mac.to_uppercase()).unwrap_or_default();
    for eth in network["ethernets"].as_mapping().into_iter().flat_map(|m| m.values()) {
        let mac = eth["match"]["macaddress"].as_str().unwrap_or("").replace(':', "").to_uppercase();
        if let Some(addr) = eth["addresses"].get(0).and_then(|a| a.as_str())
            && let Some((ip, prefix)) = addr.split_once('/')
        {
            own.insert("ip".into(), ip.into());
            own.insert("prefix".into(), prefix.parse::<u32>().unwrap_or(24).into());
            own.insert("mac".into(), mac.clone().into());
            if mac != hostonly {
                log(&format!("cloud-init: no NIC has MAC {mac}; {ip} stays unconfigured"));
            }
        }
    }
    let mut fields = serde_json::Map::new();
    if let Ok(t) = fs::read_to_string(disk_file)
        && let Ok(serde_json::Value::Object(m)) = serde_json::from_str(t.lines().next().unwrap_or(""))
    {
        fields = m;
    }
    fields.extend(own);
    crate::media::write_own(disk_file, &fields);
    *disk = read_disk(disk_file);
}

/// The installed system: its own network namespace on the host-only interface (when the MAC
/// the kickstart named is NIC2's), host name, users and sshd, as PID 1 of its own namespaces.
pub fn run(uuid: &str) {
    let (vm, bridge) = {
        let mut l = lock_world();
        let Some(vm) = find_vm(&mut l.world, uuid).cloned() else { return };
        let net = vm.nics.values().find(|n| n.kind == "hostonly" || n.kind == "hostonlynet").map(|n| n.hostonly.clone()).unwrap_or_default();
        let bridge = crate::bridge_of(&l.world, &net).unwrap_or(net);
        (vm, bridge)
    };
    let Some(disk_file) = disk_path(&vm) else { return idle() };
    let mut disk = read_disk(&disk_file);
    cloud_init(&vm, &disk_file, &mut disk);
    let ns = netns(&vm);
    let hostonly = vm.nics.values().find(|n| n.kind == "hostonly" || n.kind == "hostonlynet").cloned().unwrap_or_default();
    // What a guest of this VM killed a moment ago may still hold (a process slow to die keeps
    // its namespace, and with it the veth pair, alive): the new boot must not meet it.
    cleanup(&vm);
    let veth = format!("vbx{}", short(&vm));
    sh(&format!("ip link del {veth}"));
    sh(&format!("ip netns add {ns}"));
    sh(&format!("ip link add {veth} type veth peer name eth0 netns {ns} && ip link set {veth} master {bridge} && ip link set {veth} up"));
    sh(&format!("ip -n {ns} link set lo up && ip -n {ns} link set eth0 up"));
    if !disk.ip.is_empty() && disk.mac == hostonly.mac {
        sh(&format!("ip -n {ns} addr add {}/{} dev eth0", disk.ip, disk.prefix));
    }
    let g = PathBuf::from(&vm.folder).join("guest");
    let upper = crate::media::layer(&disk_file);
    let _ = fs::create_dir_all(&upper);
    // A workdir left by a guest that was killed can hold a stale work/ of the overlay.
    let _ = fs::remove_dir_all(g.join("work"));
    for d in ["work", "root"] {
        let _ = fs::create_dir_all(g.join(d));
    }
    let esc = |p: &Path| p.display().to_string().replace('\\', "\\\\").replace(',', "\\,").replace(':', "\\:");
    // The parents' layers (a linked clone's base) are read through a tmpfs copy: overlayfs
    // refuses lower layers nested in one another (its `/` and a folder under it).
    let parents: Vec<PathBuf> = crate::media::chain(&disk_file).iter().skip(1).rev().map(|d| crate::media::layer(d)).collect();
    let below = g.join("lower");
    let _ = fs::create_dir_all(&below);
    let user = if disk.user.is_empty() { "nobody".to_string() } else { disk.user.clone() };
    let keys = g.join("keys");
    let _ = fs::write(&keys, disk.keys.join("\n") + "\n");
    // Paths are quoted: lab folders have spaces and accents (`Área de Trabalho`).
    let q = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
    // A guest killed inside useradd leaves its lock files on the disk, naming a PID that the
    // next boot (whose PIDs count up the same way) gives to its own useradd: they are stale
    // at boot, whatever they say.
    let script = format!(
        "set -eu\nR={r}\nmount --make-rprivate /\n{copy}mount -t overlay vm -o lowerdir={lower},upperdir={u},workdir={w} \"$R\"\n\
         mount -t proc proc \"$R/proc\"; mount --rbind /dev \"$R/dev\"; mount -t sysfs sysfs \"$R/sys\"\n\
         mount -t tmpfs tmpfs \"$R/tmp\"; mount -t tmpfs tmpfs \"$R/run\"; mkdir -p \"$R/run/sshd\"\n\
         hostname {h}; echo {h} > \"$R/etc/hostname\"\n\
         rm -f \"$R\"/etc/*.lock \"$R/etc/.pwd.lock\"\n\
         chroot \"$R\" sh -c 'id -u {user} >/dev/null 2>&1 || useradd -m {user}; usermod -p \"*\" {user}'\n\
         chroot \"$R\" install -d -m 700 -o {user} -g {user} /home/{user}/.ssh\n\
         cp {k} \"$R/home/{user}/.ssh/authorized_keys\"; chroot \"$R\" chown {user}:{user} /home/{user}/.ssh/authorized_keys; chmod 600 \"$R/home/{user}/.ssh/authorized_keys\"\n\
         [ -f \"$R/etc/ssh/ssh_host_ed25519_key\" ] && chmod 600 \"$R/etc/ssh/ssh_host_ed25519_key\"\n\
         exec chroot \"$R\" /usr/sbin/sshd -D -e -o UsePAM=no -o PasswordAuthentication=no -o PermitRootLogin=no -o ListenAddress={ip} -h /etc/ssh/ssh_host_ed25519_key\n",
        r = q(&g.join("root")),
        copy = if parents.is_empty() {
            String::new()
        } else {
            format!(
                "mount -t tmpfs lower {b}\n{}",
                parents.iter().map(|p| format!("[ -d {p} ] && cp -a {p}/. {b}/\n", p = q(p), b = q(&below))).collect::<String>(),
                b = q(&below)
            )
        },
        lower = if parents.is_empty() { "/".to_string() } else { format!("{}:/", q(Path::new(&esc(&below)))) },
        u = q(Path::new(&esc(&upper))),
        w = q(Path::new(&esc(&g.join("work")))),
        h = if disk.hostname.is_empty() { "localhost" } else { &disk.hostname },
        k = q(&keys),
        ip = if disk.ip.is_empty() { "127.0.0.1" } else { &disk.ip },
    );
    let boot = g.join("boot.sh");
    let _ = fs::write(&boot, script);
    let err = Command::new("ip").args(["netns", "exec", &ns, "unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child", "sh"]).arg(&boot).exec();
    eprintln!("guest failed to start: {err}");
}
