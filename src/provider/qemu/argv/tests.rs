use std::path::{Path, PathBuf};

use super::*;

/// A node's files in `dir`, written with `/` on every system (as on the Linux and macOS hosts
/// the provider runs on; Windows' own joins would add a backslash).
fn files(dir: &str) -> [PathBuf; 5] {
    ["disk.qcow2", "seed.iso", "qemu.pid", "qmp.sock", "serial.log"].map(|f| PathBuf::from(format!("{dir}/{f}")))
}

fn spec<'a>(arch: Arch, accel: Accel, f: &'a [PathBuf; 5], fw: Option<&'a Path>) -> VmSpec<'a> {
    VmSpec {
        arch,
        accel,
        name: "lab-spark-master",
        cpus: 2,
        memory_mib: 3072,
        disk: &f[0],
        seed: &f[1],
        pidfile: &f[2],
        qmp: &f[3],
        serial: &f[4],
        firmware: fw,
        nat_mac: "08:00:27:aa:bb:cc".into(),
        internet: false,
        ssh_forward: None,
        lab_mac: "08:00:27:dd:ee:ff".into(),
        lab_nic: LabNic::Tap("lq-0123456789ab".into()),
    }
}

fn after<'a>(argv: &'a [String], flag: &str) -> Vec<&'a str> {
    argv.windows(2).filter(|w| w[0] == flag).map(|w| w[1].as_str()).collect()
}

#[test]
fn linux_under_emulation_is_single_threaded_tcg_with_the_max_cpu() {
    let f = files("/l/.lab/spark/qemu/master");
    let s = spec(Arch::X86_64, Accel::Tcg, &f, None);
    let a = run(&s);
    assert_eq!(after(&a, "-accel"), ["tcg,thread=single"]);
    assert_eq!(after(&a, "-cpu"), ["max"]);
    assert_eq!(after(&a, "-machine"), ["q35,vmport=off"]);
    assert_eq!(after(&a, "-smp"), ["2"]);
    assert_eq!(after(&a, "-m"), ["3072M"]);
    assert_eq!(after(&a, "-pidfile"), ["/l/.lab/spark/qemu/master/qemu.pid"]);
    assert!(a.contains(&"-daemonize".to_string()));
}

#[test]
fn kvm_gets_the_hosts_cpu() {
    let f = files("/l");
    let s = spec(Arch::X86_64, Accel::Kvm, &f, None);
    let a = run(&s);
    assert_eq!((after(&a, "-accel"), after(&a, "-cpu"), after(&a, "-machine")), (vec!["kvm"], vec!["host"], vec!["q35"]));
}

#[test]
fn the_nics_carry_labs_macs_and_the_way_out_is_cut_when_asked() {
    let f = files("/l");
    let s = spec(Arch::X86_64, Accel::Tcg, &f, None);
    let a = run(&s);
    assert_eq!(after(&a, "-netdev"), ["user,id=nat,restrict=on", "tap,id=lab,ifname=lq-0123456789ab,script=no,downscript=no"]);
    let devices = after(&a, "-device");
    assert!(devices.contains(&"virtio-net-pci,netdev=nat,mac=08:00:27:aa:bb:cc"), "{devices:?}");
    assert!(devices.contains(&"virtio-net-pci,netdev=lab,mac=08:00:27:dd:ee:ff"), "{devices:?}");
    let f = files("/l");
    let open = spec(Arch::X86_64, Accel::Tcg, &f, None);
    let open = VmSpec { internet: true, ..open };
    assert_eq!(after(&run(&open), "-netdev")[0], "user,id=nat,restrict=off");
}

#[test]
fn the_seed_is_a_read_only_cd_and_commas_in_paths_are_escaped() {
    let f = files("/home/ana/aula,2026/.lab/s/qemu/master");
    let s = spec(Arch::X86_64, Accel::Tcg, &f, None);
    let a = run(&s);
    let drives = after(&a, "-drive");
    assert_eq!(drives[0], "file=/home/ana/aula,,2026/.lab/s/qemu/master/disk.qcow2,if=virtio,format=qcow2,discard=on");
    assert_eq!(drives[1], "file=/home/ana/aula,,2026/.lab/s/qemu/master/seed.iso,if=none,id=seed,format=raw,readonly=on,media=cdrom");
    assert!(after(&a, "-device").contains(&"scsi-cd,drive=seed,bus=scsi0.0"));
    assert_eq!(after(&a, "-qmp"), ["unix:/home/ana/aula,,2026/.lab/s/qemu/master/qmp.sock,server=on,wait=off"]);
}

/// Apple Silicon: `virt` with edk2 as read-only pflash, HVF with the host's CPU.
#[test]
fn apple_silicon_boots_virt_through_edk2_under_hvf() {
    let fw = Path::new("/opt/homebrew/share/qemu/edk2-aarch64-code.fd");
    let f = files("/Users/joao/lab/.lab/s/qemu/master");
    let s = spec(Arch::Aarch64, Accel::Hvf, &f, Some(fw));
    let a = run(&s);
    assert_eq!(program(Arch::Aarch64), "qemu-system-aarch64");
    assert_eq!(after(&a, "-machine"), ["virt,highmem=on"]);
    assert_eq!((after(&a, "-accel"), after(&a, "-cpu")), (vec!["hvf"], vec!["host"]));
    assert_eq!(after(&a, "-drive")[0], "if=pflash,format=raw,readonly=on,file=/opt/homebrew/share/qemu/edk2-aarch64-code.fd");
}

#[test]
fn a_nodes_disk_is_an_overlay_on_the_image_of_the_size_asked() {
    assert_eq!(
        overlay(Path::new("/c/sha256-ab"), Path::new("/l/disk.qcow2"), 20),
        ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", "/c/sha256-ab", "/l/disk.qcow2", "20G"]
    );
    assert_eq!(snapshot('c', Some("before"), Path::new("/l/disk.qcow2")), ["snapshot", "-c", "before", "/l/disk.qcow2"]);
    assert_eq!(info(Path::new("/l/d.qcow2")), ["info", "--output=json", "-U", "/l/d.qcow2"]);
}

#[test]
fn without_root_the_lab_nic_is_on_labs_switch_and_ssh_is_forwarded_from_the_loopback() {
    let f = files("/l/.lab/spark/qemu/master");
    let mut s = spec(Arch::X86_64, Accel::Tcg, &f, None);
    s.lab_nic = LabNic::Switch { local: PathBuf::from("/l/.lab/spark/qemu/net/master.sock"), switch: PathBuf::from("/l/.lab/spark/qemu/net/switch.sock") };
    s.ssh_forward = Some(40022);
    let a = run(&s);
    let netdevs = after(&a, "-netdev");
    assert_eq!(netdevs[0], "user,id=nat,restrict=on,hostfwd=tcp:127.0.0.1:40022-:22");
    assert_eq!(
        netdevs[1],
        "dgram,id=lab,local.type=unix,local.path=/l/.lab/spark/qemu/net/master.sock,remote.type=unix,remote.path=/l/.lab/spark/qemu/net/switch.sock"
    );
    assert!(after(&a, "-device").contains(&"virtio-net-pci,netdev=lab,mac=08:00:27:dd:ee:ff"), "{a:?}");
}
