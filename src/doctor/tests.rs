//! Each check against what real hosts print: a working host, and each failure with its fix.

use std::path::{Path, PathBuf};

use super::checks::*;
use super::signals::{Signals, mac_memory, meminfo};
use super::{Level, blocks};
use crate::provider::virtualbox::driver::HostOs;
use crate::spec::{Arch, HostFacts, Lab, parse};

fn host(os: HostOs) -> Signals {
    Signals {
        os,
        arch: Arch::X86_64,
        wsl: false,
        vboxmanage: Some(PathBuf::from("/usr/bin/VBoxManage")),
        vbox_version: Some("7.2.4r170995\n".into()),
        linux_modules: None,
        cpuinfo_flags: None,
        mac_hv_support: None,
        mac_kexts: None,
        windows: None,
        mem_total_mib: Some(16_000),
        mem_available_mib: Some(12_000),
        disk_path: PathBuf::from("/home/ana/lab"),
        disk_free_mib: Some(200_000),
        cache_dir: PathBuf::from("/home/ana/.cache/lab"),
        cache_writable: Ok(()),
        networks_conf: None,
        taken: Vec::new(),
        addresses_checked: false,
        provider: None,
        qemu: None,
        ssh: Vec::new(),
        downloads: Vec::new(),
    }
}

fn vbox_lab() -> Lab {
    parse(Path::new("lab.yaml"), include_str!("../../labs/spark.yaml"), &HostFacts::default()).expect("valid")
}

// What Linux hosts print (Ubuntu 24.04 with Oracle's package; a VM without nested VT-x).
const MODULES_VBOX: &str = "vboxnetadp 28672 0 - Live 0x0000000000000000 (OE)\nvboxnetflt 32768 0 - Live 0x0000000000000000 (OE)\nvboxdrv 696320 2 vboxnetadp,vboxnetflt, Live 0x0000000000000000 (OE)\nkvm_intel 487424 0 - Live 0x0000000000000000\nkvm 1409024 1 kvm_intel, Live 0x0000000000000000\n";
const MODULES_KVM_BUSY: &str = "kvm_intel 487424 4 - Live 0x0000000000000000\nkvm 1409024 1 kvm_intel, Live 0x0000000000000000\n";
const FLAGS_VMX: &str = "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf tsc_known_freq pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch";
const FLAGS_NONE: &str = "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology cpuid tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm";
/// VirtualBox's own VBoxManage wrapper (VBox.sh) when vboxdrv is not loaded.
const VERSION_NO_DRIVER: &str = "WARNING: The vboxdrv kernel module is not loaded. Either there is no module\n         available for the current kernel (6.8.0-45-generic) or it failed to\n         load. Please recompile the kernel module and install it by\n\n           sudo /sbin/vboxconfig\n\n         You will not be able to start VMs until this problem is fixed.\n7.0.20r163906\n";
const MEMINFO: &str = "MemTotal:       16315236 kB\nMemFree:         1093308 kB\nMemAvailable:    9873216 kB\nBuffers:          413604 kB\n";

// What macOS prints (`sysctl -n kern.hv_support`, `kmutil showloaded --list-only`, `vm_stat`).
const KEXTS_VBOX: &str =
    "  188    0 0xffffff7f83a5c000 0x6b000    0x6b000    org.virtualbox.kext.VBoxDrv (7.0.14) 4A3F37D0-61C2-3E0B-9D4B-0F5C1E2B7A11 <8 6 5 3 1>\n";
const KEXTS_NONE: &str = "  140    0 0xffffff7f82e12000 0x8000     0x8000     com.apple.driver.AppleMobileFileIntegrity (1.0.5) 0E1B... <7 6 5 3 2 1>\n";
const VM_STAT: &str = "Mach Virtual Memory Statistics: (page size of 16384 bytes)\nPages free:                                4096.\nPages active:                             400000.\nPages inactive:                           122880.\nPages speculative:                          1024.\nPages throttled:                               0.\n";

// What PowerShell prints for `signals::WINDOWS_QUERY`.
const WIN_OK: &str = "HypervisorPresent=False\r\nVirtualizationFirmwareEnabled=True\r\nVBoxSup=Running\r\nTotalVisibleMemorySize=16600260\r\nFreePhysicalMemory=9123456\r\nDiskFree=120034566144\r\n";
const WIN_HYPERV: &str = "HypervisorPresent=True\r\nVirtualizationFirmwareEnabled=False\r\nVBoxSup=Running\r\n";
const WIN_FIRMWARE_OFF: &str = "HypervisorPresent=False\r\nVirtualizationFirmwareEnabled=False\r\nVBoxSup=Running\r\n";
const WIN_DRIVER_STOPPED: &str = "HypervisorPresent=False\r\nVirtualizationFirmwareEnabled=True\r\nVBoxSup=Stopped\r\n";

#[test]
fn a_working_linux_host_passes() {
    let s = Signals { linux_modules: Some(MODULES_VBOX.into()), cpuinfo_flags: Some(FLAGS_VMX.into()), ..host(HostOs::Linux) };
    let lab = vbox_lab();
    let f = all(&s, Some(&lab));
    assert!(!blocks(&f), "{f:?}");
    assert!(f.iter().all(|x| x.level == Level::Ok), "{f:?}");
}

#[test]
fn linux_failures_name_their_fixes() {
    let lab = vbox_lab();
    let s = Signals {
        vbox_version: Some(VERSION_NO_DRIVER.into()),
        linux_modules: Some(String::new()),
        cpuinfo_flags: Some(FLAGS_VMX.into()),
        ..host(HostOs::Linux)
    };
    let k = kernel_driver(&s, Some(&lab));
    assert_eq!(k.level, Level::Problem);
    assert!(k.fix.as_deref().is_some_and(|f| f.contains("sudo /sbin/vboxconfig") && f.contains("mokutil")), "{k:?}");
    let s = Signals { cpuinfo_flags: Some(FLAGS_NONE.into()), ..host(HostOs::Linux) };
    let v = virtualization(&s, Some(&lab));
    assert_eq!(v.level, Level::Problem);
    assert!(v.fix.as_deref().is_some_and(|f| f.contains("firmware setup") && f.contains("SVM")), "{v:?}");
    let s = Signals { cpuinfo_flags: Some(FLAGS_VMX.into()), linux_modules: Some(MODULES_KVM_BUSY.into()), ..host(HostOs::Linux) };
    let v = virtualization(&s, Some(&lab));
    assert_eq!(v.level, Level::Warning);
    assert!(v.fix.as_deref().is_some_and(|f| f.contains("modprobe -r kvm_intel")), "{v:?}");
    assert_eq!(meminfo(MEMINFO), (Some(15932), Some(9641)));
}

#[test]
fn virtualbox_missing_old_or_newer_than_known() {
    let lab = vbox_lab();
    let missing = virtualbox(&Signals { vboxmanage: None, ..host(HostOs::Windows) }, Some(&lab));
    assert_eq!(missing.level, Level::Problem);
    assert!(missing.fix.as_deref().is_some_and(|f| f.contains("VirtualBox 7.2 for Windows hosts")), "{missing:?}");
    let mac = virtualbox(&Signals { vboxmanage: None, ..host(HostOs::Macos) }, Some(&lab));
    assert!(mac.fix.as_deref().is_some_and(|f| f.contains("brew install --cask virtualbox")), "{mac:?}");
    let old = virtualbox(&Signals { vbox_version: Some("6.0.24r137005\n".into()), ..host(HostOs::Linux) }, Some(&lab));
    assert_eq!(old.level, Level::Problem);
    let newer = virtualbox(&Signals { vbox_version: Some("7.3.0r171000\n".into()), ..host(HostOs::Linux) }, Some(&lab));
    assert_eq!(newer.level, Level::Warning, "a newer minor is a warning, never a refusal");
    assert!(newer.found.contains("7.2"), "{newer:?}");
    let sandbox = parse(Path::new("lab.yaml"), include_str!("../../labs/sandbox.yaml"), &HostFacts::default()).expect("valid");
    assert_eq!(virtualbox(&Signals { vboxmanage: None, ..host(HostOs::Linux) }, Some(&sandbox)).level, Level::Ok, "not needed");
}

#[test]
fn macos_intel_and_apple_silicon() {
    let lab = vbox_lab();
    let intel = Signals { mac_hv_support: Some("1\n".into()), mac_kexts: Some(KEXTS_VBOX.into()), ..host(HostOs::Macos) };
    assert!(all(&intel, Some(&lab)).iter().all(|f| f.level == Level::Ok));
    let unapproved = Signals { mac_kexts: Some(KEXTS_NONE.into()), ..intel.clone() };
    let k = kernel_driver(&unapproved, Some(&lab));
    assert_eq!(k.level, Level::Problem);
    assert!(k.fix.as_deref().is_some_and(|f| f.contains("Privacy & Security")), "{k:?}");
    assert_eq!(virtualization(&Signals { mac_hv_support: Some("0\n".into()), ..intel.clone() }, Some(&lab)).level, Level::Problem);
    // Apple Silicon with the x86 image the lab file names (spark.yaml's default on x86).
    let arm = Signals { arch: Arch::Aarch64, mac_hv_support: Some("1\n".into()), ..host(HostOs::Macos) };
    assert_eq!(kernel_driver(&arm, Some(&lab)).level, Level::Ok, "no kext on Apple Silicon");
    let a = architecture(&arm, Some(&lab));
    assert_eq!(a.level, Level::Problem);
    assert!(a.found.contains("aarch64") && a.fix.as_deref().is_some_and(|f| f.contains("remove `image:`")), "{a:?}");
    assert_eq!(mac_memory("17179869184\n", VM_STAT), (Some(16384), Some(2000)));
}

#[test]
fn windows_hyperv_firmware_and_driver() {
    let lab = vbox_lab();
    let ok = Signals { windows: Some(WIN_OK.into()), ..host(HostOs::Windows) };
    assert!(all(&ok, Some(&lab)).iter().all(|f| f.level == Level::Ok), "{:?}", all(&ok, Some(&lab)));
    let hv = virtualization(&Signals { windows: Some(WIN_HYPERV.into()), ..host(HostOs::Windows) }, Some(&lab));
    assert_eq!(hv.level, Level::Warning, "Windows reads the firmware flag as False while its hypervisor runs: not a firmware problem");
    assert!(hv.fix.as_deref().is_some_and(|f| f.contains("bcdedit /set hypervisorlaunchtype off")), "{hv:?}");
    let fw = virtualization(&Signals { windows: Some(WIN_FIRMWARE_OFF.into()), ..host(HostOs::Windows) }, Some(&lab));
    assert_eq!(fw.level, Level::Problem);
    assert!(fw.fix.as_deref().is_some_and(|f| f.contains("UEFI Firmware Settings")), "{fw:?}");
    assert_eq!(kernel_driver(&Signals { windows: Some(WIN_DRIVER_STOPPED.into()), ..host(HostOs::Windows) }, Some(&lab)).level, Level::Problem);
    // Wine: no PowerShell. Nothing is held against the lab for it.
    let wine = Signals { windows: None, mem_total_mib: None, mem_available_mib: None, disk_free_mib: None, ..host(HostOs::Windows) };
    let f = all(&wine, Some(&lab));
    assert!(!blocks(&f), "{f:?}");
    for c in ["virtualization", "kernel_driver", "memory", "disk"] {
        assert!(f.iter().any(|x| x.check == c && x.level == Level::Unknown), "{c}: {f:?}");
    }
}

#[test]
fn memory_disk_cache_range_and_addresses_name_what_is_wrong() {
    let lab = vbox_lab();
    let small = Signals { mem_total_mib: Some(4096), mem_available_mib: Some(3000), ..host(HostOs::Linux) };
    let m = memory(&small, Some(&lab));
    assert_eq!(m.level, Level::Problem);
    assert!(m.found.contains("7680 MiB (master 3584, node1 2048, node2 2048)") && m.found.contains("4096 MiB in all"), "{m:?}");
    let busy = Signals { mem_total_mib: Some(16000), mem_available_mib: Some(5000), ..host(HostOs::Linux) };
    assert_eq!(memory(&busy, Some(&lab)).level, Level::Warning);
    let full = Signals { disk_free_mib: Some(1500), ..host(HostOs::Linux) };
    assert_eq!(disk(&full, Some(&lab)).level, Level::Problem);
    assert_eq!(blocking(&full, &lab).len(), 1, "lab up stops on a full drive");
    let ro = Signals { cache_writable: Err("Permission denied (os error 13)".into()), ..host(HostOs::Linux) };
    assert!(cache(&ro).fix.as_deref().is_some_and(|f| f.contains("LAB_CACHE_DIR")));
    assert_eq!(blocking(&ro, &lab).len(), 1);
    let other_net = include_str!("../../labs/spark.yaml").replace("192.168.56.", "10.9.8.");
    let lab10 = parse(Path::new("lab.yaml"), &other_net, &HostFacts { networks_conf: Some("* 10.0.0.0/8\n".into()), ..HostFacts::default() }).expect("valid");
    let r = hostonly_range(&host(HostOs::Linux), Some(&lab10));
    assert_eq!(r.level, Level::Problem);
    assert!(r.fix.as_deref().is_some_and(|f| f.contains("* 10.9.8.0/24") && f.contains("/etc/vbox/networks.conf")), "{r:?}");
    assert_eq!(hostonly_range(&Signals { networks_conf: Some("* 10.0.0.0/8\n".into()), ..host(HostOs::Linux) }, Some(&lab10)).level, Level::Ok);
    let taken = Signals { taken: vec![("node1".into(), "192.168.56.11".parse().expect("ip"))], addresses_checked: true, ..host(HostOs::Linux) };
    let a = addresses(&taken, Some(&lab));
    assert_eq!(a.level, Level::Problem);
    assert!(a.found.contains("192.168.56.11 (node1)"), "{a:?}");
}

#[test]
fn the_default_lab_fits_a_16_gb_laptop_and_a_vm_too_small_for_its_jvms_is_named() {
    let laptop = Signals { mem_total_mib: Some(16 * 1024), mem_available_mib: Some(11 * 1024), ..host(HostOs::Windows) };
    let lab = vbox_lab();
    let fits = memory(&laptop, Some(&lab));
    assert_eq!(fits.level, Level::Ok, "{fits:?}");
    // Every template's VMs hold what Spark's JVMs in them may take.
    for t in crate::spec::templates::ALL.iter().filter(|t| t.name != "sandbox") {
        let l = parse(Path::new("lab.yaml"), t.text, &HostFacts::default()).expect("valid");
        assert_eq!(memory(&laptop, Some(&l)).level, Level::Ok, "{}: {:?}", t.name, memory(&laptop, Some(&l)));
    }
    let small = parse(Path::new("lab.yaml"), &include_str!("../../labs/spark.yaml").replace("    memory: 3584\n", ""), &HostFacts::default()).expect("valid");
    let m = memory(&laptop, Some(&small));
    assert_eq!(m.level, Level::Warning);
    assert!(m.found.contains("master (2048 MiB; Spark's JVMs may take 3072 MiB"), "{m:?}");
    // Sandbox nodes share this computer: their JVMs against what is free.
    let sandbox = parse(Path::new("lab.yaml"), include_str!("../../labs/sandbox.yaml"), &HostFacts::default()).expect("valid");
    let busy = Signals { mem_total_mib: Some(8192), mem_available_mib: Some(2000), ..host(HostOs::Linux) };
    let s = memory(&busy, Some(&sandbox));
    assert_eq!(s.level, Level::Warning, "{s:?}");
    assert!(s.found.contains("may take 4864 MiB") && s.found.contains("2000 MiB are free"), "{s:?}");
}
