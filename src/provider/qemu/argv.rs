//! The command lines lab runs for QEMU, built by pure functions from typed inputs: nothing here
//! runs anything (the steps do, through `proc`). What each argument means, and why, is QEMU's
//! (docs/system/invocation, `qemu-system-x86_64 -help`) and Lima's choices (pkg/driver/qemu).

use std::path::Path;

use crate::spec::Arch;

/// How QEMU runs the guest's instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Linux's KVM.
    Kvm,
    /// macOS's Hypervisor.framework.
    Hvf,
    /// Software emulation, one host thread for every vCPU: under QEMU 7.2's multi-threaded TCG
    /// the JVM crashes (seen in the Spark master and spark-shell's launcher), so lab never asks
    /// for it.
    Tcg,
}

impl Accel {
    pub fn word(self) -> &'static str {
        match self {
            Self::Kvm => "kvm",
            Self::Hvf => "hvf",
            Self::Tcg => "tcg",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "kvm" => Some(Self::Kvm),
            "hvf" => Some(Self::Hvf),
            "tcg" | "software" | "emulation" => Some(Self::Tcg),
            _ => None,
        }
    }
    /// `-accel ...`.
    fn arg(self) -> &'static str {
        match self {
            Self::Kvm => "kvm",
            Self::Hvf => "hvf",
            Self::Tcg => "tcg,thread=single",
        }
    }
}

/// Where a node's second NIC (the lab network) is plugged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabNic {
    /// A tap device (made by QEMU as root, plugged into the lab's bridge by lab).
    Tap(String),
    /// lab's switch (no root; Linux and macOS): QEMU binds `local` and sends every frame to `switch` (net/dgram.c
    /// in QEMU 7.2 and later).
    #[cfg_attr(not(unix), allow(dead_code))]
    Switch { local: std::path::PathBuf, switch: std::path::PathBuf },
}

/// Everything one node's QEMU is started with.
#[derive(Debug, Clone)]
pub struct VmSpec<'a> {
    /// Guest architecture (this computer's).
    pub arch: Arch,
    pub accel: Accel,
    /// `lab-<lab>-<node>`: QEMU's name for it (`ps`, window titles).
    pub name: &'a str,
    pub cpus: u32,
    pub memory_mib: u32,
    pub disk: &'a Path,
    pub seed: &'a Path,
    pub pidfile: &'a Path,
    pub qmp: &'a Path,
    pub serial: &'a Path,
    /// UEFI firmware (aarch64 `virt` boots only through it).
    pub firmware: Option<&'a Path>,
    /// NIC1, QEMU's user network: the guest's way out (and DHCP), `restrict=on` when the lab
    /// says `internet: false`.
    pub nat_mac: String,
    pub internet: bool,
    /// The port on 127.0.0.1 QEMU forwards to the guest's SSH (lab's switch network).
    pub ssh_forward: Option<u16>,
    pub lab_mac: String,
    pub lab_nic: LabNic,
}

fn p(path: &Path) -> String {
    // QEMU splits option values at commas; a doubled comma is a literal one.
    path.display().to_string().replace(',', ",,")
}

/// Where QEMU's packages put edk2's firmware for aarch64 guests, in the order lab looks: QEMU's
/// own file name (Homebrew on Apple Silicon and Intel, Debian's qemu-efi-aarch64 via qemu-system-
/// data), then the distributions' AAVMF and edk2 packages.
pub const AARCH64_FIRMWARE: &[&str] = &[
    "/opt/homebrew/share/qemu/edk2-aarch64-code.fd",
    "/usr/local/share/qemu/edk2-aarch64-code.fd",
    "/usr/share/qemu/edk2-aarch64-code.fd",
    "/usr/share/AAVMF/AAVMF_CODE.fd",
    "/usr/share/edk2/aarch64/QEMU_EFI-pflash.raw",
];

/// The QEMU program for `arch`.
pub fn program(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "qemu-system-x86_64",
        Arch::Aarch64 => "qemu-system-aarch64",
    }
}

/// `qemu-system-* ...` that starts the node detached, its pid in `pidfile`.
pub fn run(s: &VmSpec<'_>) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |xs: &[&str]| a.extend(xs.iter().map(|x| x.to_string()));
    push(&["-name", &format!("{},process={}", s.name, s.name)]);
    match s.arch {
        // `vmport=off` under emulation: VMware's backdoor port costs every I/O access a check.
        Arch::X86_64 if s.accel == Accel::Tcg => push(&["-machine", "q35,vmport=off"]),
        Arch::X86_64 => push(&["-machine", "q35"]),
        // `virt` has no firmware of its own: edk2 as a read-only pflash.
        Arch::Aarch64 => push(&["-machine", "virt,highmem=on"]),
    }
    push(&["-accel", s.accel.arg()]);
    // The host's CPU where accelerated; emulated, `max` (EL10 needs x86-64-v3, which `qemu64`
    // lacks and `max` has from QEMU 7.2).
    push(&["-cpu", if s.accel == Accel::Tcg { "max" } else { "host" }]);
    push(&["-smp", &s.cpus.to_string(), "-m", &format!("{}M", s.memory_mib)]);
    if let Some(fw) = s.firmware {
        push(&["-drive", &format!("if=pflash,format=raw,readonly=on,file={}", p(fw))]);
    }
    push(&["-nodefaults", "-display", "none", "-no-user-config"]);
    push(&["-drive", &format!("file={},if=virtio,format=qcow2,discard=on", p(s.disk))]);
    // The NoCloud seed as a CD on virtio-scsi, where cloud-init finds it by its label.
    push(&["-device", "virtio-scsi-pci,id=scsi0"]);
    push(&["-drive", &format!("file={},if=none,id=seed,format=raw,readonly=on,media=cdrom", p(s.seed))]);
    push(&["-device", "scsi-cd,drive=seed,bus=scsi0.0"]);
    let restrict = if s.internet { "off" } else { "on" };
    // `restrict=on` cuts the guest off from everything but QEMU's own DHCP and DNS; forwards
    // from this computer's loopback still reach it.
    let forward = s.ssh_forward.map(|port| format!(",hostfwd=tcp:127.0.0.1:{port}-:22")).unwrap_or_default();
    push(&["-netdev", &format!("user,id=nat,restrict={restrict}{forward}")]);
    push(&["-device", &format!("virtio-net-pci,netdev=nat,mac={}", s.nat_mac)]);
    match &s.lab_nic {
        LabNic::Tap(tap) => push(&["-netdev", &format!("tap,id=lab,ifname={tap},script=no,downscript=no")]),
        LabNic::Switch { local, switch } => {
            push(&["-netdev", &format!("dgram,id=lab,local.type=unix,local.path={},remote.type=unix,remote.path={}", p(local), p(switch))]);
        }
    }
    push(&["-device", &format!("virtio-net-pci,netdev=lab,mac={}", s.lab_mac)]);
    push(&["-device", "virtio-rng-pci"]);
    push(&["-chardev", &format!("file,id=serial,path={},append=on", p(s.serial))]);
    push(&["-serial", "chardev:serial"]);
    push(&["-qmp", &format!("unix:{},server=on,wait=off", p(s.qmp))]);
    push(&["-pidfile", &p(s.pidfile)]);
    push(&["-daemonize"]);
    a
}

/// `qemu-img create` of a node's disk: a qcow2 overlay on the cloud image (a linked clone), as
/// large as the lab asks (the guest grows its file system to it: cloud-init's growpart).
pub fn overlay(base: &Path, disk: &Path, size_gib: u32) -> Vec<String> {
    ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"]
        .iter()
        .map(|s| s.to_string())
        .chain([base.display().to_string(), disk.display().to_string(), format!("{size_gib}G")])
        .collect()
}

/// `qemu-img info` of a disk, as JSON (its backing file among the rest).
pub fn info(disk: &Path) -> Vec<String> {
    vec!["info".into(), "--output=json".into(), "-U".into(), disk.display().to_string()]
}

/// `qemu-img snapshot`: `-c` creates, `-a` applies, `-d` deletes, `-l` lists.
pub fn snapshot(op: char, name: Option<&str>, disk: &Path) -> Vec<String> {
    let mut a = vec!["snapshot".to_string(), format!("-{op}")];
    a.extend(name.map(str::to_string));
    a.push(disk.display().to_string());
    a
}

#[cfg(test)]
mod tests;
