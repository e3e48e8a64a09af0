//! `lab doctor` for a qemu lab: QEMU's programs and version, the accelerator it will use and
//! why (the KVM probe runs here, bounded), and the firmware aarch64 guests need.

use std::path::PathBuf;

use super::Finding;
use super::signals::Signals;

/// What the qemu provider needs of this computer.
#[derive(Debug, Clone)]
pub struct QemuSignals {
    pub program: String,
    /// The first line `qemu-system-* --version` printed.
    pub version: Option<String>,
    pub qemu_img: bool,
    /// The accelerator QEMU will use and why, or why none could be chosen.
    pub accel: Result<(String, String), String>,
    /// aarch64: the edk2 firmware found, or what to install.
    pub firmware: Result<Option<PathBuf>, (String, String)>,
    /// The lab network new nodes get (`LAB_QEMU_NETWORK`, else by root), or why none.
    pub net: Result<crate::provider::qemu::net::Net, (String, String)>,
}

impl QemuSignals {
    pub fn here(lab: &crate::spec::Lab) -> Self {
        use crate::provider::qemu::{accel, argv};
        let program = argv::program(lab.host_arch).to_string();
        let version = crate::proc::find_program(&program).and_then(|p| {
            let cmd = crate::proc::Cmd::new(p).args(["--version"]).timeout(std::time::Duration::from_secs(20));
            crate::proc::Runner::run(&crate::proc::System, &cmd).ok().and_then(|o| o.stdout.lines().next().map(|l| l.trim().to_string()))
        });
        let accel = if version.is_some() {
            accel::decide(&accel::Facts::here(), || accel::probe_kvm(&program)).map(|c| (c.accel.word().to_string(), c.why)).map_err(|e| e.to_string())
        } else {
            Err(format!("{program} is not installed"))
        };
        let firmware = crate::provider::qemu::firmware(lab.host_arch).map_err(|e| (e.to_string(), e.hint().unwrap_or_default()));
        let net = crate::provider::qemu::Qemu::new().net().map_err(|e| (e.to_string(), e.hint().unwrap_or_default()));
        Self { qemu_img: crate::proc::find_program("qemu-img").is_some(), program, version, accel, firmware, net }
    }
}

/// QEMU's programs and the accelerator it will use, with why (a qemu lab only).
pub fn findings(s: &Signals) -> Vec<Finding> {
    let Some(q) = &s.qemu else { return Vec::new() };
    let install =
        "install QEMU: apt-get install qemu-system-x86 qemu-utils (Debian, Ubuntu), dnf install qemu-kvm qemu-img (Fedora, EL), brew install qemu (macOS)";
    let programs = match (&q.version, q.qemu_img) {
        (Some(v), true) => Finding::ok("qemu", format!("{v} ({}), qemu-img", q.program)),
        (Some(v), false) => Finding::problem("qemu", format!("{v}, but no qemu-img (it makes the nodes' disks)"), install),
        (None, _) => Finding::problem("qemu", format!("{} is not installed", q.program), install),
    };
    let accel = match &q.accel {
        Ok((word, why)) if word == "tcg" => Finding::warning(
            "accelerator",
            format!("tcg, {why}"),
            "lab still works; on a computer whose /dev/kvm runs guests (or a Mac) the nodes run at full speed",
        ),
        Ok((word, why)) => Finding::ok("accelerator", format!("{word}: {why}")),
        Err(e) => Finding::problem("accelerator", e.clone(), format!("set {} to kvm, hvf or tcg, or install QEMU", crate::provider::qemu::accel::ENV)),
    };
    let firmware = match &q.firmware {
        Ok(Some(p)) => Finding::ok("firmware", format!("edk2 for aarch64 guests: {}", p.display())),
        Ok(None) => Finding::ok("firmware", "not needed (x86_64 guests boot with QEMU's SeaBIOS)"),
        Err((problem, fix)) => Finding::problem("firmware", problem.clone(), fix.clone()),
    };
    let net = match &q.net {
        Ok(n) => Finding::ok("network", format!("{}: {}", n.word(), n.describe())),
        Err((problem, fix)) => Finding::problem("network", problem.clone(), fix.clone()),
    };
    vec![programs, accel, firmware, net]
}
