//! Which accelerator QEMU uses here, and why: KVM where `/dev/kvm` runs an ordinary guest, HVF on
//! macOS, software emulation otherwise; `LAB_QEMU_ACCEL` chooses by hand. The decision is pure
//! (from [`Facts`]); only the KVM probe runs anything, bounded: some kernels offer a `/dev/kvm`
//! that opens but cannot run an ordinary guest (a PVM host kernel: the guest hangs while booting,
//! `-cpu host` aborts on MSR 0x10a), and lab must not hang on one.

use std::time::Duration;

use super::argv::Accel;
use crate::error::{Error, Result};

pub const ENV: &str = "LAB_QEMU_ACCEL";
/// How long the KVM probe's guest may take to say it ran.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);
const SLOWER: &str = "in software emulation the guests run about 10 to 20 times slower (a first boot takes minutes, Spark's jobs too)";

/// What the choice is made from.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub chosen: Option<String>,
    pub macos: bool,
    pub hv_support: bool,
    pub kvm_device: bool,
    pub kvm_usable_by_me: bool,
    /// The host kernel's KVM is PVM (`/sys/module/kvm_pvm`).
    pub kvm_pvm: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub accel: Accel,
    pub why: String,
}

impl Facts {
    pub fn here() -> Self {
        let macos = cfg!(target_os = "macos");
        let hv_support = macos
            && std::process::Command::new("sysctl").args(["-n", "kern.hv_support"]).output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "1");
        let kvm = std::path::Path::new("/dev/kvm");
        Self {
            chosen: std::env::var(ENV).ok().filter(|v| !v.trim().is_empty()),
            macos,
            hv_support,
            kvm_device: cfg!(target_os = "linux") && kvm.exists(),
            kvm_usable_by_me: std::fs::OpenOptions::new().read(true).write(true).open(kvm).is_ok(),
            kvm_pvm: std::path::Path::new("/sys/module/kvm_pvm").exists(),
        }
    }
}

/// The accelerator, from the facts and (only when everything else says KVM) the probe's word.
pub fn decide(f: &Facts, probe: impl FnOnce() -> std::result::Result<(), String>) -> Result<Choice> {
    let tcg = |why: String| Ok(Choice { accel: Accel::Tcg, why: format!("{why}; {SLOWER}") });
    if let Some(v) = &f.chosen {
        let accel = Accel::parse(v).ok_or_else(|| Error::Preflight {
            problem: format!("{ENV}={v} names no accelerator"),
            fix: format!("set {ENV} to kvm, hvf or tcg, or unset it to let lab choose"),
        })?;
        return Ok(Choice { accel, why: format!("chosen by {ENV}") });
    }
    if f.macos {
        return if f.hv_support {
            Ok(Choice { accel: Accel::Hvf, why: "macOS's Hypervisor.framework".into() })
        } else {
            tcg("this Mac offers no Hypervisor.framework (kern.hv_support is not 1)".into())
        };
    }
    if !f.kvm_device {
        return tcg("this computer has no /dev/kvm (virtualization off in the firmware, or the kvm module not loaded)".into());
    }
    if !f.kvm_usable_by_me {
        return tcg("/dev/kvm is not open to this user (add yourself to the `kvm` group, then log in again)".into());
    }
    if f.kvm_pvm {
        return tcg("this kernel's KVM is PVM (module kvm_pvm): it runs only PVM-aware guest kernels, and an ordinary guest hangs while booting".into());
    }
    match probe() {
        Ok(()) => Ok(Choice { accel: Accel::Kvm, why: "KVM ran a test guest".into() }),
        Err(e) => tcg(format!("KVM could not run a test guest ({e})")),
    }
}

/// A boot sector that writes 0x31 to QEMU's `isa-debug-exit` port: QEMU then exits with
/// (0x31 << 1) | 1 = 99. Any other ending (an error, a hang cut off by the timeout) means KVM
/// cannot run an ordinary guest here.
fn boot_sector() -> Vec<u8> {
    // mov al, 0x31; out 0xf4, al; hlt; jmp $-1
    let mut s = vec![0xb0, 0x31, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd];
    s.resize(510, 0);
    s.extend([0x55, 0xaa]);
    s
}

/// Runs the probe guest under KVM with the CPU lab's nodes get (`-cpu host`), bounded.
pub fn probe_kvm(program: &str) -> std::result::Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let disk = dir.path().join("probe.img");
    std::fs::write(&disk, boot_sector()).map_err(|e| e.to_string())?;
    let cmd = crate::proc::Cmd::new(program)
        .args([
            "-machine".to_string(),
            "q35".into(),
            "-accel".into(),
            "kvm".into(),
            "-cpu".into(),
            "host".into(),
            "-nodefaults".into(),
            "-display".into(),
            "none".into(),
            "-no-user-config".into(),
            "-device".into(),
            "isa-debug-exit,iobase=0xf4,iosize=0x04".into(),
            "-drive".into(),
            format!("file={},format=raw,if=ide", disk.display()),
        ])
        .timeout(PROBE_TIMEOUT);
    match crate::proc::Runner::run(&crate::proc::System, &cmd) {
        Ok(out) if out.code == Some(99) => Ok(()),
        Ok(out) => {
            let said = out.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
            Err(if said.is_empty() { format!("it exited with {:?}", out.code) } else { said })
        }
        Err(e) => Err(format!("it did not finish in {} s: {e}", PROBE_TIMEOUT.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux() -> Facts {
        Facts { kvm_device: true, kvm_usable_by_me: true, ..Facts::default() }
    }

    #[test]
    fn kvm_only_when_its_test_guest_ran() {
        assert_eq!(decide(&linux(), || Ok(())).map(|c| c.accel).ok(), Some(Accel::Kvm));
        let c = decide(&linux(), || Err("qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0".into())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.accel, Accel::Tcg);
        assert!(c.why.contains("MSR 0x10a") && c.why.contains("slower"), "{}", c.why);
    }

    #[test]
    fn a_pvm_kvm_is_not_probed_and_the_reason_says_so() {
        let f = Facts { kvm_pvm: true, ..linux() };
        let c = decide(&f, || panic!("probed a PVM host")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.accel, Accel::Tcg);
        assert!(c.why.contains("PVM"), "{}", c.why);
    }

    #[test]
    fn no_device_or_no_access_says_what_to_do() {
        let none = decide(&Facts::default(), || panic!("probed")).unwrap_or_else(|e| panic!("{e}"));
        assert!(none.why.contains("no /dev/kvm"), "{}", none.why);
        let denied = decide(&Facts { kvm_usable_by_me: false, ..linux() }, || panic!("probed")).unwrap_or_else(|e| panic!("{e}"));
        assert!(denied.why.contains("kvm` group"), "{}", denied.why);
    }

    #[test]
    fn macs_use_hvf_and_the_environment_chooses_by_hand() {
        let mac = Facts { macos: true, hv_support: true, ..Facts::default() };
        assert_eq!(decide(&mac, || panic!("probed")).map(|c| c.accel).ok(), Some(Accel::Hvf));
        let by_hand = Facts { chosen: Some("TCG".into()), ..linux() };
        assert_eq!(decide(&by_hand, || panic!("probed")).map(|c| (c.accel, c.why)).ok(), Some((Accel::Tcg, format!("chosen by {ENV}"))));
        let bad = Facts { chosen: Some("fast".into()), ..linux() };
        assert!(
            decide(&bad, || Ok(())).is_err_and(|e| e.to_string().contains("LAB_QEMU_ACCEL=fast") && e.hint().is_some_and(|h| h.contains("kvm, hvf or tcg")))
        );
    }

    #[test]
    fn the_probe_sector_is_a_boot_sector() {
        let s = boot_sector();
        assert_eq!((s.len(), s[510], s[511]), (512, 0x55, 0xaa));
    }
}
