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
}

pub fn sh(cmd: &str) -> bool {
    Command::new("sh").args(["-c", cmd]).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn disk_path(vm: &Vm) -> Option<String> {
    vm.controllers.iter().flat_map(|c| c.attachments.values()).find(|a| a.kind == "hdd").map(|a| a.medium.clone())
}

fn read_disk(path: &str) -> Disk {
    fs::read_to_string(path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
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
    let installer = dvds(vm).iter().any(|p| fs::read(p).ok().is_some_and(|d| crate::iso::label(&d).as_deref() != Some("OEMDRV")));
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
    let files = post_files(&ks);
    for (path, body) in &files {
        if path.ends_with("/authorized_keys") {
            disk.keys.extend(body.lines().map(str::to_string));
        }
    }
    // The installed system: %post's files land on the disk (the guest's upper layer).
    let upper = Path::new(&vm.folder).join("guest/up");
    for (path, body) in &files {
        let target = upper.join(path.trim_start_matches('/'));
        if let Some(d) = target.parent() {
            let _ = fs::create_dir_all(d);
        }
        let _ = fs::write(&target, body);
    }
    if let Some(disk_file) = disk_path(&vm) {
        let _ = fs::write(disk_file, serde_json::to_string(&disk).unwrap_or_default());
    }
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
    let disk = read_disk(&disk_file);
    let ns = netns(&vm);
    let hostonly = vm.nics.values().find(|n| n.kind == "hostonly" || n.kind == "hostonlynet").cloned().unwrap_or_default();
    sh(&format!("ip netns add {ns}"));
    let veth = format!("vbx{}", short(&vm));
    sh(&format!("ip link add {veth} type veth peer name eth0 netns {ns} && ip link set {veth} master {bridge} && ip link set {veth} up"));
    sh(&format!("ip -n {ns} link set lo up && ip -n {ns} link set eth0 up"));
    if !disk.ip.is_empty() && disk.mac == hostonly.mac {
        sh(&format!("ip -n {ns} addr add {}/{} dev eth0", disk.ip, disk.prefix));
    }
    let g = PathBuf::from(&vm.folder).join("guest");
    for d in ["up", "work", "root"] {
        let _ = fs::create_dir_all(g.join(d));
    }
    let user = if disk.user.is_empty() { "nobody".to_string() } else { disk.user.clone() };
    let keys = g.join("keys");
    let _ = fs::write(&keys, disk.keys.join("\n") + "\n");
    // Paths are quoted: lab folders have spaces and accents (`Área de Trabalho`).
    let q = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
    let script = format!(
        "set -eu\nR={r}\nmount --make-rprivate /\nmount -t overlay vm -o lowerdir=/,upperdir={u},workdir={w} \"$R\"\n\
         mount -t proc proc \"$R/proc\"; mount --rbind /dev \"$R/dev\"; mount -t sysfs sysfs \"$R/sys\"\n\
         mount -t tmpfs tmpfs \"$R/tmp\"; mount -t tmpfs tmpfs \"$R/run\"; mkdir -p \"$R/run/sshd\"\n\
         hostname {h}; echo {h} > \"$R/etc/hostname\"\n\
         chroot \"$R\" sh -c 'id -u {user} >/dev/null 2>&1 || useradd -m {user}; usermod -p \"*\" {user}'\n\
         chroot \"$R\" install -d -m 700 -o {user} -g {user} /home/{user}/.ssh\n\
         cp {k} \"$R/home/{user}/.ssh/authorized_keys\"; chroot \"$R\" chown {user}:{user} /home/{user}/.ssh/authorized_keys; chmod 600 \"$R/home/{user}/.ssh/authorized_keys\"\n\
         [ -f \"$R/etc/ssh/ssh_host_ed25519_key\" ] && chmod 600 \"$R/etc/ssh/ssh_host_ed25519_key\"\n\
         exec chroot \"$R\" /usr/sbin/sshd -D -e -o UsePAM=no -o PasswordAuthentication=no -o PermitRootLogin=no -o ListenAddress={ip} -h /etc/ssh/ssh_host_ed25519_key\n",
        r = q(&g.join("root")),
        u = q(&g.join("up")).replace(',', "\\,"),
        w = q(&g.join("work")).replace(',', "\\,"),
        h = if disk.hostname.is_empty() { "localhost" } else { &disk.hostname },
        k = q(&keys),
        ip = if disk.ip.is_empty() { "127.0.0.1" } else { &disk.ip },
    );
    let boot = g.join("boot.sh");
    let _ = fs::write(&boot, script);
    let err = Command::new("ip").args(["netns", "exec", &ns, "unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child", "sh"]).arg(&boot).exec();
    eprintln!("guest failed to start: {err}");
}
