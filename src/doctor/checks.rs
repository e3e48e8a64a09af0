//! Each check: what the host reported (in [`Signals`]) and the lab file, in; a [`Finding`] out.
//! No check asks the OS anything.

use crate::doctor::signals::Signals;
use crate::doctor::{Finding, Level};
use crate::provider::virtualbox::driver::{HostOs, OLDEST, Version, install_hint, parse_version};
use crate::spec::{Arch, Lab, ProviderKind, net};

/// The newest VirtualBox lab has been tested against (through the stand-in, from its sources).
pub const NEWEST_KNOWN: Version = Version { major: 7, minor: 2, patch: 99 };

fn needs_virtualbox(lab: Option<&Lab>) -> bool {
    lab.is_none_or(|l| l.provider == ProviderKind::Virtualbox)
}

fn install_virtualbox(os: HostOs) -> String {
    install_hint(os)
}

/// VBoxManage found, and its version: too old is a problem, newer than lab knows a warning.
pub fn virtualbox(s: &Signals, lab: Option<&Lab>) -> Finding {
    const C: &str = "virtualbox";
    if !needs_virtualbox(lab) {
        return Finding::ok(C, "not needed (the lab's provider is not virtualbox)");
    }
    if s.wsl {
        return Finding::problem(
            C,
            "this is Linux under WSL: VirtualBox belongs to the Windows side",
            "run the Windows build of lab (lab.exe) from PowerShell",
        );
    }
    let Some(program) = &s.vboxmanage else {
        return Finding::problem(C, "VBoxManage is not installed (or not on the PATH)", install_virtualbox(s.os));
    };
    let Some(out) = &s.vbox_version else { return Finding::problem(C, format!("{} did not answer `--version`", program.display()), install_virtualbox(s.os)) };
    match parse_version(out) {
        Err(e) => Finding::problem(C, e.to_string(), e.hint().unwrap_or_default()),
        Ok(v) if v < OLDEST => Finding::problem(C, format!("VirtualBox {v} is too old"), install_virtualbox(s.os)),
        Ok(v) if v > NEWEST_KNOWN => Finding::warning(
            C,
            format!("VirtualBox {v} is newer than lab has met ({}.{})", NEWEST_KNOWN.major, NEWEST_KNOWN.minor),
            "lab should work; if a VBoxManage command fails, report it with `lab up -v`'s output",
        ),
        Ok(v) => Finding::ok(C, format!("VirtualBox {v} ({})", program.display())),
    }
}

/// The key=value lines PowerShell printed (`signals::WINDOWS_QUERY`).
pub fn windows_value<'a>(s: &'a Signals, key: &str) -> Option<&'a str> {
    s.windows.as_deref()?.lines().find_map(|l| l.trim().strip_prefix(key)?.strip_prefix('=')).map(str::trim).filter(|v| !v.is_empty())
}

/// VirtualBox's kernel driver: loaded (Linux: VBoxManage says so; macOS Intel: the kext is
/// loaded; Windows: the VBoxSup service runs).
pub fn kernel_driver(s: &Signals, lab: Option<&Lab>) -> Finding {
    const C: &str = "kernel_driver";
    if !needs_virtualbox(lab) || s.vboxmanage.is_none() {
        return Finding::ok(C, "not needed");
    }
    match s.os {
        HostOs::Linux => {
            let warned = s.vbox_version.as_deref().is_some_and(|o| o.lines().any(|l| l.starts_with("WARNING:")));
            let module = s.linux_modules.as_deref().map(|m| m.lines().any(|l| l.starts_with("vboxdrv ")));
            match (warned, module) {
                (true, _) => Finding::problem(
                    C,
                    "VirtualBox's kernel module (vboxdrv) is not loaded",
                    "run `sudo /sbin/vboxconfig`; with Secure Boot on, enroll the key it makes (`sudo mokutil --import /var/lib/shim-signed/mok/MOK.der`, then restart)",
                ),
                (false, Some(true)) => Finding::ok(C, "vboxdrv is loaded"),
                (false, _) => Finding::ok(C, "VBoxManage reports no kernel driver problem"),
            }
        }
        HostOs::Macos if s.arch == Arch::Aarch64 => Finding::ok(C, "VirtualBox on Apple Silicon needs no kernel extension"),
        HostOs::Macos => match s.mac_kexts.as_deref() {
            None => Finding::unknown(C, "the loaded kernel extensions could not be listed"),
            Some(k) if k.contains("org.virtualbox.kext.VBoxDrv") => Finding::ok(C, "VBoxDrv kernel extension loaded"),
            Some(_) => Finding::problem(
                C,
                "VirtualBox's kernel extension (VBoxDrv) is not loaded",
                "open System Settings > Privacy & Security, allow the software from \"Oracle America, Inc.\", then restart the Mac",
            ),
        },
        HostOs::Windows => match windows_value(s, "VBoxSup") {
            None => Finding::unknown(C, "the VBoxSup service could not be asked about (PowerShell did not answer)"),
            Some("Running") => Finding::ok(C, "the VBoxSup service runs"),
            Some(other) => Finding::problem(
                C,
                format!("VirtualBox's driver service VBoxSup is {other}"),
                "reinstall VirtualBox (its installer sets the driver up), then restart Windows",
            ),
        },
    }
}

/// Hardware virtualization: available to VirtualBox, not held by another hypervisor.
pub fn virtualization(s: &Signals, lab: Option<&Lab>) -> Finding {
    const C: &str = "virtualization";
    if !needs_virtualbox(lab) {
        return Finding::ok(C, "not needed");
    }
    match s.os {
        HostOs::Linux => {
            let Some(flags) = s.cpuinfo_flags.as_deref() else { return Finding::unknown(C, "/proc/cpuinfo could not be read") };
            let words: Vec<&str> = flags.split_whitespace().collect();
            if !words.iter().any(|w| *w == "vmx" || *w == "svm") {
                return Finding::problem(
                    C,
                    "the processor shows no VT-x or AMD-V (no vmx/svm flag)",
                    "turn on \"Intel Virtualization Technology\" (VT-x) or \"SVM Mode\" (AMD-V) in the firmware setup (press F2, F10 or Del at power-on; usually under Advanced > CPU Configuration); inside a VM, turn on nested virtualization",
                );
            }
            let kvm_busy = s.linux_modules.as_deref().and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("kvm_intel ") || l.starts_with("kvm_amd "))
                    .and_then(|l| l.split_whitespace().nth(2))
                    .and_then(|n| n.parse::<u32>().ok())
            });
            match kvm_busy {
                Some(n) if n > 0 => Finding::warning(
                    C,
                    "KVM is in use (QEMU, libvirt or GNOME Boxes VMs run): VirtualBox cannot take VT-x while they do",
                    "stop those VMs; or unload KVM: `sudo modprobe -r kvm_intel kvm` (kvm_amd on AMD)",
                ),
                _ => Finding::ok(C, if words.contains(&"vmx") { "VT-x available" } else { "AMD-V available" }),
            }
        }
        HostOs::Macos => match s.mac_hv_support.as_deref().map(str::trim) {
            Some("1") => Finding::ok(C, "the hypervisor is available (kern.hv_support = 1)"),
            Some(_) => Finding::problem(
                C,
                "macOS reports no hardware virtualization (kern.hv_support = 0)",
                "this Mac cannot run VirtualBox VMs; inside a VM, turn on nested virtualization",
            ),
            None => Finding::unknown(C, "`sysctl kern.hv_support` did not answer"),
        },
        HostOs::Windows => {
            let hypervisor = windows_value(s, "HypervisorPresent");
            let firmware = windows_value(s, "VirtualizationFirmwareEnabled");
            match (hypervisor, firmware) {
                (Some("True"), _) => Finding::warning(
                    C,
                    "Windows' own hypervisor runs (Hyper-V, WSL 2, Virtual Machine Platform or Memory integrity): VirtualBox then runs its VMs slowly (the green turtle icon), or not at all",
                    "to give VirtualBox the processor, in an administrator terminal run `bcdedit /set hypervisorlaunchtype off` and restart (WSL 2 and Docker Desktop stop until `bcdedit /set hypervisorlaunchtype auto`)",
                ),
                (_, Some("False")) => Finding::problem(
                    C,
                    "virtualization is turned off in the firmware",
                    "restart into the firmware setup (Settings > System > Recovery > Advanced startup > UEFI Firmware Settings) and turn on \"Intel Virtualization Technology\" or \"SVM Mode\"",
                ),
                (_, Some("True")) => Finding::ok(C, "enabled in the firmware, no other hypervisor runs"),
                _ => Finding::unknown(C, "Windows did not say (PowerShell's Get-CimInstance did not answer)"),
            }
        }
    }
}

/// The computer, VirtualBox and the lab's image are of one architecture.
pub fn architecture(s: &Signals, lab: Option<&Lab>) -> Finding {
    const C: &str = "architecture";
    let Some(lab) = lab.filter(|l| l.provider == ProviderKind::Virtualbox) else { return Finding::ok(C, format!("this computer is {}", s.arch.name())) };
    let image = lab.image.as_ref().map_or(Arch::X86_64, |i| i.arch);
    if image != s.arch {
        return Finding::problem(
            C,
            format!("this computer is {}, the lab's image is {} (VirtualBox runs guests of its own architecture only)", s.arch.name(), image.name()),
            format!("remove `image:` from the lab file (lab then picks the {} image), or name one built for {}", s.arch.name(), s.arch.name()),
        );
    }
    if s.os == HostOs::Macos
        && s.arch == Arch::Aarch64
        && s.vbox_version.as_deref().and_then(|o| parse_version(o).ok()).is_some_and(|v| v < Version { major: 7, minor: 1, patch: 0 })
    {
        return Finding::problem(C, "this VirtualBox cannot run VMs on Apple Silicon", "install VirtualBox 7.1 or later");
    }
    Finding::ok(C, format!("{} computer, {} image", s.arch.name(), image.name()))
}

/// The lab's host-only network is in a range VirtualBox allows (`networks.conf`).
pub fn hostonly_range(s: &Signals, lab: Option<&Lab>) -> Finding {
    const C: &str = "hostonly_range";
    let Some(lab) = lab.filter(|l| l.provider == ProviderKind::Virtualbox) else { return Finding::ok(C, "not needed") };
    if s.os == HostOs::Windows || net::hostonly_allowed(&lab.network.cidr, s.networks_conf.as_deref()) {
        return Finding::ok(C, format!("{} is allowed for host-only networks", lab.network.cidr));
    }
    Finding::problem(
        C,
        format!("VirtualBox does not allow {} for host-only networks", lab.network.cidr),
        format!("add the line `* {}` to /etc/vbox/networks.conf (as root), or use 192.168.56.0/24", lab.network.cidr),
    )
}

/// The VMs' memory, summed, against what this computer has.
pub fn memory(s: &Signals, lab: Option<&Lab>) -> Finding {
    const C: &str = "memory";
    let Some(lab) = lab else { return Finding::ok(C, "not needed (no lab)") };
    match lab.provider {
        ProviderKind::Virtualbox | ProviderKind::Qemu => vm_memory(s, lab),
        // The nodes' JVMs share this computer's memory.
        ProviderKind::Sandbox => {
            let sum: u64 = lab.nodes.iter().map(|n| crate::spark::heap_mib(lab, n)).sum();
            let asks = format!("Spark's JVMs on the nodes may take {sum} MiB");
            match s.mem_available_mib {
                Some(free) if sum > free => Finding::warning(
                    C,
                    format!("{asks}; {free} MiB are free now"),
                    "close other programs first, or lower spark.worker_memory, daemon_memory or connect_memory",
                ),
                Some(_) => Finding::ok(C, asks),
                None => Finding::unknown(C, format!("{asks}; this computer's memory could not be read")),
            }
        }
        ProviderKind::Existing => Finding::ok(C, "not checked (your machines' memory is theirs)"),
    }
}

/// The VMs' memory against this computer's, and each VM's against what Spark's JVMs in it may take.
fn vm_memory(s: &Signals, lab: &Lab) -> Finding {
    const C: &str = "memory";
    let tight: Vec<String> = lab
        .nodes
        .iter()
        .filter(|n| crate::spark::heap_mib(lab, n) + crate::spark::OS_MIB > u64::from(n.memory_mib))
        .map(|n| {
            format!("{} ({} MiB; Spark's JVMs may take {} MiB and the OS needs {})", n.name, n.memory_mib, crate::spark::heap_mib(lab, n), crate::spark::OS_MIB)
        })
        .collect();
    let host = host_memory(s, lab);
    if tight.is_empty() || host.level == Level::Problem {
        return host;
    }
    Finding::warning(
        C,
        format!("too little memory in {}", tight.join(", ")),
        "raise that node's `memory`, or lower spark.worker_memory, daemon_memory or connect_memory",
    )
}

fn host_memory(s: &Signals, lab: &Lab) -> Finding {
    const C: &str = "memory";
    let sum: u64 = lab.nodes.iter().map(|n| u64::from(n.memory_mib)).sum();
    let each = lab.nodes.iter().map(|n| format!("{} {}", n.name, n.memory_mib)).collect::<Vec<_>>().join(", ");
    let asks = format!("the lab's VMs ask for {sum} MiB ({each})");
    let fix = "lower `defaults.memory` (or a node's `memory`) in the lab file, or use fewer workers";
    match (s.mem_total_mib, s.mem_available_mib) {
        (Some(total), _) if sum > total * 3 / 4 => Finding::problem(C, format!("{asks}; this computer has {total} MiB in all, and needs some for itself"), fix),
        (_, Some(free)) if sum > free => Finding::warning(C, format!("{asks}; {free} MiB are free now"), format!("close other programs first; or {fix}")),
        (Some(_), _) | (_, Some(_)) => Finding::ok(C, asks),
        (None, None) => Finding::unknown(C, format!("{asks}; this computer's memory could not be read")),
    }
}

/// Free space where the lab keeps its disks and the cache, against what the lab needs.
pub fn disk(s: &Signals, lab: Option<&Lab>) -> Finding {
    const C: &str = "disk";
    let Some(free) = s.disk_free_mib else { return Finding::unknown(C, format!("the free space of {} could not be read", s.disk_path.display())) };
    let Some(lab) = lab else { return Finding::ok(C, format!("{free} MiB free in {}", s.disk_path.display())) };
    let downloads = 1024 + lab.image.as_ref().filter(|_| lab.provider == ProviderKind::Virtualbox).map_or(0, |i| i.size_mib);
    let vms = if lab.provider == ProviderKind::Virtualbox { lab.nodes.iter().map(|n| u64::from(n.disk_gib) * 1024).sum() } else { 0 };
    // An installed node takes about 3 GiB at first; its disk grows up to its size as it is used.
    let first = if lab.provider == ProviderKind::Virtualbox { 3072 * lab.nodes.len() as u64 } else { 0 };
    if free < downloads + first {
        Finding::problem(
            C,
            format!(
                "{free} MiB free in {}; the lab needs about {} MiB to start (downloads {downloads}, installed nodes {first})",
                s.disk_path.display(),
                downloads + first
            ),
            "free space on that drive, or move the lab folder (and LAB_CACHE_DIR) to a drive with room",
        )
    } else if free < downloads + vms {
        Finding::warning(
            C,
            format!("{free} MiB free in {}; the VMs' disks may grow to {vms} MiB", s.disk_path.display()),
            "lower the nodes' `disk` in the lab file, or free space before the disks fill",
        )
    } else {
        Finding::ok(C, format!("{free} MiB free in {}", s.disk_path.display()))
    }
}

/// The download cache can be written.
pub fn cache(s: &Signals) -> Finding {
    const C: &str = "cache";
    match &s.cache_writable {
        Ok(()) => Finding::ok(C, format!("{} is writable", s.cache_dir.display())),
        Err(e) => {
            Finding::problem(C, format!("{} cannot be written: {e}", s.cache_dir.display()), "set LAB_CACHE_DIR to a folder you can write on a drive with room")
        }
    }
}

/// The addresses of nodes not made yet are free (another machine there would be taken for a node).
pub fn addresses(s: &Signals, lab: Option<&Lab>) -> Finding {
    const C: &str = "addresses";
    let Some(lab) = lab.filter(|l| l.provider != ProviderKind::Existing) else { return Finding::ok(C, "not needed") };
    if !s.taken.is_empty() {
        let list = s.taken.iter().map(|(n, ip)| format!("{ip} ({n})")).collect::<Vec<_>>().join(", ");
        return Finding::problem(
            C,
            format!("already in use on this computer's network: {list}"),
            format!("choose another `network.cidr` for lab {:?}, or stop what holds those addresses", lab.name),
        );
    }
    Finding::ok(C, if s.addresses_checked { "the nodes' addresses are free" } else { "no network holds the lab's addresses yet" })
}

/// Machines lab did not make answer SSH with the key lab has for them.
pub fn ssh(s: &Signals, lab: Option<&Lab>) -> Vec<Finding> {
    if !lab.is_some_and(|l| l.provider == ProviderKind::Existing) {
        return Vec::new();
    }
    s.ssh
        .iter()
        .map(|(node, r)| match r {
            Ok(()) => Finding::ok("ssh", format!("{node} answers with its known host key")),
            Err(e) => Finding::problem("ssh", format!("{node}: {e}"), "check the address, existing.login / existing.identity_file, and existing.known_hosts"),
        })
        .collect()
}

/// With `--online`: the lab's downloads answer.
pub fn downloads(s: &Signals) -> Vec<Finding> {
    s.downloads
        .iter()
        .map(|(url, r)| match r {
            Ok(()) => Finding::ok("download", url.clone()),
            Err(e) => {
                Finding::problem("download", format!("{url}: {e}"), "check the network (a proxy? HTTPS_PROXY), or fill the cache from a computer that has it")
            }
        })
        .collect()
}

/// Every check, in the order they are shown.
pub fn all(s: &Signals, lab: Option<&Lab>) -> Vec<Finding> {
    let mut out = vec![
        virtualbox(s, lab),
        kernel_driver(s, lab),
        virtualization(s, lab),
        architecture(s, lab),
        hostonly_range(s, lab),
        memory(s, lab),
        disk(s, lab),
        cache(s),
        addresses(s, lab),
    ];
    if let Some(p) = &s.provider {
        out.push(match p {
            Ok(()) => Finding::ok("provider", "this computer can run the lab's provider"),
            Err((problem, fix)) => Finding::problem("provider", problem.clone(), fix.clone()),
        });
    }
    out.extend(super::qemu::findings(s));
    out.extend(ssh(s, lab));
    out.extend(downloads(s));
    out
}

/// Below this, nothing lab does fits (a Spark release alone is 400 MB, its unpacked copy more).
pub const DISK_FLOOR_MIB: u64 = 2048;

/// The drive is nearly full: `lab up` stops here (the estimate of [`disk`] counts downloads the
/// cache may already hold, so only `lab doctor` shows it).
pub fn disk_floor(s: &Signals) -> Finding {
    const C: &str = "disk";
    match s.disk_free_mib {
        Some(free) if free < DISK_FLOOR_MIB => Finding::problem(
            C,
            format!("only {free} MiB free in {}", s.disk_path.display()),
            "free space on that drive, or move the lab folder (and LAB_CACHE_DIR) to a drive with room",
        ),
        Some(free) => Finding::ok(C, format!("{free} MiB free in {}", s.disk_path.display())),
        None => Finding::unknown(C, format!("the free space of {} could not be read", s.disk_path.display())),
    }
}

/// The checks `lab up` stops on before it creates or downloads anything, with the words
/// `lab doctor` uses: VirtualBox there and new enough, its driver loaded, one architecture, the
/// host-only range allowed, room on the drive, a writable cache. (Memory and VT-x are warnings
/// for VirtualBox to decide: it may still start the VMs; the addresses are the providers'
/// own preflight.)
pub fn blocking(s: &Signals, lab: &Lab) -> Vec<Finding> {
    let lab = Some(lab);
    [virtualbox(s, lab), kernel_driver(s, lab), architecture(s, lab), hostonly_range(s, lab), disk_floor(s), cache(s)]
        .into_iter()
        .filter(|f| f.level == Level::Problem)
        .collect()
}
