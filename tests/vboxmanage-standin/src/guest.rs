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
    let log = fs::OpenOptions::new().create(true).append(true).open(Path::new(&vm.folder).join("guest.log")).expect("guest log");
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
            what = if disk.installed || oemdrv(vm).is_none() { "__guest-idle" } else { "__guest-install" };
            break;
        }
    }
    vm.pid = Some(spawn(vm, what));
    vm.state = "running".into();
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

/// VMs whose process ended (the guest powered itself off) are powered off.
pub fn refresh(world: &mut World) {
    for vm in &mut world.vms {
        if vm.state == "running" && !vm.pid.is_some_and(alive) {
            cleanup(vm);
            vm.state = "poweroff".into();
            vm.pid = None;
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
    vm.state = "poweroff".into();
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

/// The installer: reads ks.cfg, "installs" for a while, writes the result onto the disk and
/// powers the VM off.
pub fn install(uuid: &str) {
    let secs: u64 = std::env::var("VBOXSTANDIN_INSTALL_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2);
    let (vm, ks) = {
        let mut l = lock_world();
        let Some(vm) = find_vm(&mut l.world, uuid).cloned() else { return };
        let ks = oemdrv(&vm).map(|k| String::from_utf8_lossy(&k).into_owned()).unwrap_or_default();
        (vm, ks)
    };
    std::thread::sleep(Duration::from_secs(secs));
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
    let mut l = lock_world();
    if let Some(disk_file) = disk_path(&vm) {
        let _ = fs::write(disk_file, serde_json::to_string(&disk).unwrap_or_default());
    }
    if let Some(v) = find_vm(&mut l.world, uuid)
        && v.pid == Some(i32::try_from(std::process::id()).unwrap_or(0))
    {
        v.state = "poweroff".into();
        v.pid = None;
    }
    save(&l.world);
}

/// The installed system: its own network namespace on the host-only interface (when the MAC
/// the kickstart named is NIC2's), host name, users and sshd, as PID 1 of its own namespaces.
pub fn run(uuid: &str) {
    let vm = {
        let mut l = lock_world();
        let Some(vm) = find_vm(&mut l.world, uuid).cloned() else { return };
        vm
    };
    let Some(disk_file) = disk_path(&vm) else { return idle() };
    let disk = read_disk(&disk_file);
    let ns = netns(&vm);
    let hostonly = vm.nics.values().find(|n| n.kind == "hostonly").cloned().unwrap_or_default();
    sh(&format!("ip netns add {ns}"));
    let veth = format!("vbx{}", short(&vm));
    sh(&format!("ip link add {veth} type veth peer name eth0 netns {ns} && ip link set {veth} master {} && ip link set {veth} up", hostonly.hostonly));
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
    let script = format!(
        "set -eu\nR={r}\nmount --make-rprivate /\nmount -t overlay vm -o lowerdir=/,upperdir={u},workdir={w} $R\n\
         mount -t proc proc $R/proc; mount --rbind /dev $R/dev; mount -t sysfs sysfs $R/sys\n\
         mount -t tmpfs tmpfs $R/tmp; mount -t tmpfs tmpfs $R/run; mkdir -p $R/run/sshd\n\
         hostname {h}; echo {h} > $R/etc/hostname\n\
         chroot $R sh -c 'id -u {user} >/dev/null 2>&1 || useradd -m {user}; usermod -p \"*\" {user}'\n\
         chroot $R install -d -m 700 -o {user} -g {user} /home/{user}/.ssh\n\
         cp {k} $R/home/{user}/.ssh/authorized_keys; chroot $R chown {user}:{user} /home/{user}/.ssh/authorized_keys; chmod 600 $R/home/{user}/.ssh/authorized_keys\n\
         [ -f $R/etc/ssh/ssh_host_ed25519_key ] && chmod 600 $R/etc/ssh/ssh_host_ed25519_key\n\
         exec chroot $R /usr/sbin/sshd -D -e -o UsePAM=no -o PasswordAuthentication=no -o PermitRootLogin=no -o ListenAddress={ip} -h /etc/ssh/ssh_host_ed25519_key\n",
        r = g.join("root").display(),
        u = g.join("up").display(),
        w = g.join("work").display(),
        h = if disk.hostname.is_empty() { "localhost" } else { &disk.hostname },
        k = keys.display(),
        ip = if disk.ip.is_empty() { "127.0.0.1" } else { &disk.ip },
    );
    let boot = g.join("boot.sh");
    let _ = fs::write(&boot, script);
    let err = Command::new("ip").args(["netns", "exec", &ns, "unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child", "sh"]).arg(&boot).exec();
    eprintln!("guest failed to start: {err}");
}
