//! The only code that knows VBoxManage: where it lives, its version, the argv of every
//! operation (with the differences between 6.1, 7.0, 7.1 and 7.2, host systems and guest
//! architectures in one place), how it reports errors and which are worth another try, and how
//! to read its output. It speaks lab's vocabulary ([`VmInfo`], [`VmState`], [`HostOnly`]); no
//! VBoxManage string appears outside this module (`driver.rs` and `driver/`).
//!
//! VBoxManage is translated since 7.0, and a language chosen in the GUI wins over the
//! environment, so the driver reads machine-readable output and error codes, never English
//! sentences; list outputs are read by position when their labels are not English.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::proc::{Cmd, Runner};

/// A VirtualBox release, from `VBoxManage --version` (`7.1.4r165100`, `7.0.20_Ubuntur163906`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The oldest VirtualBox lab drives.
pub const OLDEST: Version = Version { major: 6, minor: 1, patch: 0 };
/// What to tell a user who must install VirtualBox.
pub const SUPPORTED: &str = "VirtualBox 6.1 or later (7.2 is the current release)";

/// The operating system VirtualBox runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostOs {
    Linux,
    Macos,
    Windows,
}

impl HostOs {
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Self::Macos
        } else if cfg!(windows) {
            Self::Windows
        } else {
            Self::Linux
        }
    }
}

pub use crate::spec::Arch;

/// How to install VirtualBox on this kind of computer (`lab doctor` and every command that
/// finds no VBoxManage say the same).
pub fn install_hint(host: HostOs) -> String {
    match host {
        HostOs::Windows => "install VirtualBox 7.2 for Windows hosts from https://www.virtualbox.org/wiki/Downloads (with its default options), then open a new terminal (or set VBOXMANAGE to its VBoxManage.exe)".into(),
        HostOs::Macos => "install VirtualBox 7.2 for macOS from https://www.virtualbox.org/wiki/Downloads (Apple Silicon needs 7.1 or later), or `brew install --cask virtualbox`".into(),
        HostOs::Linux => "install VirtualBox 7.2 from https://www.virtualbox.org/wiki/Linux_Downloads (Oracle's package for your distribution, or set VBOXMANAGE to its VBoxManage); or, without VirtualBox, `provider: sandbox` builds the same lab with namespaces".into(),
    }
}

/// The storage controller of a VM of `arch`: its name, bus and type. AHCI (SATA) on x86;
/// VirtIO SCSI on arm64, whose EFI firmware boots from it.
pub fn controller(arch: Arch) -> (&'static str, &'static str, &'static str) {
    match arch {
        Arch::X86_64 => ("SATA", "sata", "IntelAhci"),
        Arch::Aarch64 => ("VirtIO", "virtio", "VirtIO"),
    }
}

/// VirtualBox's word for an architecture (`--platform-architecture`).
fn platform(a: Arch) -> &'static str {
    match a {
        Arch::X86_64 => "x86",
        Arch::Aarch64 => "arm",
    }
}

mod host;
mod hostonly;
mod lifecycle;
mod output;
mod snapshots;

pub use host::{Failure, ansi_codepage, classify, decode, find, hint_for, output_encoding, parse_version, utf8_locale, wsl_problem};
pub use output::*;
/// Runs VBoxManage for one installed version.
#[derive(Clone)]
pub struct Driver {
    runner: Arc<dyn Runner>,
    pub program: PathBuf,
    pub version: Version,
    pub host_arch: Arch,
    locale: &'static str,
    /// What VBoxManage's output is written in (the ANSI code page on Windows).
    encoding: &'static encoding_rs::Encoding,
    /// Host-only *networks* instead of interfaces (macOS builds of 7.x).
    hostonlynet: bool,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Driver({}, {})", self.program.display(), self.version)
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_string()).collect()
}

const CALL_TIMEOUT: Duration = Duration::from_secs(300);

impl Driver {
    /// Finds VBoxManage on this computer and reads its version.
    pub fn detect(runner: Arc<dyn Runner>) -> Result<Self> {
        let host = HostOs::current();
        let env = |k: &str| std::env::var(k).ok();
        if host == HostOs::Linux
            && let Some(e) = wsl_problem(&std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default(), &env)
        {
            return Err(e);
        }
        let program = find(&env, &|p: &Path| p.is_file(), host)
            .ok_or_else(|| Error::Preflight { problem: "VBoxManage is not installed (or not on the PATH)".into(), fix: install_hint(host) })?;
        let locale = utf8_locale(host, &|p: &Path| p.exists());
        let encoding = output_encoding(host, env("LAB_VBOXMANAGE_CODEPAGE").as_deref(), &ansi_codepage);
        let out = runner.run_raw(&Cmd::new(&program).args(["--version"]).env("LC_ALL", locale).env("LANG", locale).timeout(Duration::from_secs(60)))?;
        let version = parse_version(&decode(&out.stdout, encoding))?;
        if version < OLDEST {
            return Err(Error::Preflight { problem: format!("VirtualBox {version} is too old"), fix: format!("install {SUPPORTED}") });
        }
        // Only macOS builds of 7.x have host-only networks (and no longer make interfaces): asked
        // of VirtualBox itself, by the exit status of the command that lists them.
        let hostonlynet = version.major >= 7
            && runner
                .run_raw(&Cmd::new(&program).args(["list", "hostonlynets"]).env("LC_ALL", locale).env("LANG", locale).timeout(CALL_TIMEOUT))
                .is_ok_and(|o| o.code == Some(0) && !decode(&o.stderr, encoding).contains("VBoxManage: error:"));
        Ok(Self { runner, program, version, host_arch: crate::host::arch(), locale, encoding, hostonlynet })
    }

    /// A driver for a given version and host, running through `runner` (tests).
    #[cfg(test)]
    pub fn with(runner: Arc<dyn Runner>, version: Version, host: HostOs, host_arch: Arch) -> Self {
        let hostonlynet = host == HostOs::Macos && version.major >= 7;
        Self { runner, program: PathBuf::from("VBoxManage"), version, host_arch, locale: "C.UTF-8", encoding: encoding_rs::UTF_8, hostonlynet }
    }

    fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.version.major, self.version.minor) >= (major, minor)
    }

    /// macOS with VirtualBox 7 has host-only *networks*, not interfaces.
    pub fn uses_hostonlynet(&self) -> bool {
        self.hostonlynet
    }

    /// Whether this VirtualBox can run guests of `arch` here: an arm64 Mac runs arm64 guests
    /// from 7.1; x86 hosts run x86 guests.
    pub fn runs(&self, arch: Arch) -> bool {
        match (self.host_arch, arch) {
            (Arch::X86_64, Arch::X86_64) => true,
            (Arch::Aarch64, Arch::Aarch64) => self.at_least(7, 1),
            _ => false,
        }
    }

    /// The same driver reading VBoxManage's output in another encoding (tests).
    #[cfg(test)]
    pub fn reading(mut self, encoding: &'static encoding_rs::Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Runs one call under a UTF-8 locale and decodes what it wrote in the encoding VBoxManage
    /// writes to a pipe on this host (the only place lab decodes VBoxManage's bytes). A
    /// `VBoxManage: error:` line is a failure even with exit 0.
    pub fn run(&self, args: &[String]) -> Result<String> {
        self.run_within(args, CALL_TIMEOUT)
    }

    /// `run` for a call that may take long (an appliance's export or import: gigabytes).
    pub fn run_within(&self, args: &[String], timeout: Duration) -> Result<String> {
        let cmd = Cmd::new(&self.program).args(args).env("LC_ALL", self.locale).env("LANG", self.locale).timeout(timeout);
        let out = self.runner.run_raw(&cmd).map_err(|e| match e {
            Error::Timeout { after, .. } => Error::Timeout { what: format!("`{}`", crate::proc::argv_text("VBoxManage", args)), after },
            other => other,
        })?;
        let stdout = decode(&out.stdout, self.encoding);
        let stderr = decode(&out.stderr, self.encoding);
        let has_error_line = stderr.lines().any(|l| l.starts_with("VBoxManage") && l.contains(": error:"));
        if out.code == Some(0) && !has_error_line {
            return Ok(stdout);
        }
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(": error:")).collect();
        Err(Error::VBox {
            argv: crate::proc::argv_text("VBoxManage", args),
            stderr: if errors.is_empty() { stderr.trim().to_string() } else { errors.join("\n") },
            hint: hint_for(&stderr),
        })
    }

    /// Runs a call that is safe to repeat, retrying transient failures with backoff (a session
    /// lock lingers for a moment after a VM powers off).
    pub fn run_retry(&self, args: &[String]) -> Result<String> {
        let mut pause = Duration::from_millis(500);
        let mut tries = 0;
        loop {
            match self.run(args) {
                Err(Error::VBox { stderr, .. }) if classify(&stderr) == Failure::Transient && tries < 8 => {
                    tries += 1;
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(8));
                }
                other => return other,
            }
        }
    }

    // ---- reading ----

    pub fn list_vms(&self) -> Result<Vec<(String, String)>> {
        Ok(parse_list_vms(&self.run_retry(&s(&["list", "vms"]))?))
    }

    /// The VM's settings and state, or `None` when no such VM is registered.
    pub fn vm(&self, vm: &str) -> Result<Option<VmInfo>> {
        match self.run_retry(&s(&["showvminfo", vm, "--machinereadable"])) {
            Ok(text) => Ok(Some(parse_vminfo(&text))),
            Err(Error::VBox { stderr, .. }) if classify(&stderr) == Failure::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every host-only interface (or, on macOS with 7.x, host-only network).
    pub fn hostonly(&self) -> Result<Vec<HostOnly>> {
        let nets = self.uses_hostonlynet();
        Ok(parse_hostonly(&self.run_retry(&s(&["list", if nets { "hostonlynets" } else { "hostonlyifs" }]))?, nets))
    }

    /// Whether the DHCP server of interface `name` is enabled (`None`: none, or unreadable).
    pub fn dhcp_enabled(&self, name: &str) -> Result<Option<bool>> {
        if self.uses_hostonlynet() {
            return Ok(None);
        }
        let servers = parse_dhcp(&self.run_retry(&s(&["list", "dhcpservers"]))?);
        Ok(servers.get(&format!("HostInterfaceNetworking-{name}")).copied().flatten())
    }

    // ---- argv ----

    pub fn argv_createvm(&self, name: &str, uuid: &str, group: &str, ostype: &str, basefolder: &Path, arch: Arch) -> Vec<String> {
        let mut v = s(&["createvm", "--name", name, "--uuid", uuid, "--groups", group, "--ostype", ostype, "--basefolder"]);
        v.push(basefolder.display().to_string());
        v.push("--register".into());
        if self.at_least(7, 1) {
            v.extend(s(&["--platform-architecture", platform(arch)]));
        }
        v
    }

    /// One `modifyvm` with everything, in the old option spellings that 6.1 to 7.2 all accept.
    /// arm64 guests (VirtualBox 7.1+): EFI only, the ARMv8 virtual chipset, USB input, no x86
    /// settings (I/O APIC, BIOS); e1000 NICs and the AHCI controller exist there too.
    pub fn argv_modifyvm(&self, vm: &str, hw: &Hardware) -> Vec<String> {
        let mut v = s(&["modifyvm", vm]);
        v.extend(["--memory".into(), hw.memory_mib.to_string(), "--cpus".into(), hw.cpus.to_string()]);
        match hw.arch {
            Arch::X86_64 => {
                v.extend(s(&["--ioapic", "on", "--firmware", "bios", "--rtcuseutc", "on"]));
                v.extend(s(&["--boot1", "dvd", "--boot2", "disk", "--boot3", "none", "--boot4", "none"]));
                v.extend(s(&["--graphicscontroller", "vmsvga", "--vram", "16", "--mouse", "ps2", "--usb", "off"]));
            }
            Arch::Aarch64 => {
                v.extend(s(&["--chipset", "armv8virtual", "--firmware", "efi", "--rtcuseutc", "on"]));
                v.extend(s(&["--boot1", "dvd", "--boot2", "disk", "--boot3", "none", "--boot4", "none"]));
                v.extend(s(&["--graphicscontroller", "qemuramfb", "--vram", "16", "--mouse", "usbtablet", "--keyboard", "usb", "--usbxhci", "on"]));
            }
        }
        if self.at_least(7, 0) {
            v.extend(s(&["--audio-enabled", "off"]));
        } else {
            v.extend(s(&["--audio", "none"]));
        }
        v.extend(s(&["--nic1", "nat", "--nictype1", "82540EM", "--cableconnected1", "on", "--macaddress1", &hw.mac_nat]));
        if self.uses_hostonlynet() {
            v.extend(s(&["--nic2", "hostonlynet", "--host-only-net2", &hw.hostonly]));
        } else {
            v.extend(s(&["--nic2", "hostonly", "--hostonlyadapter2", &hw.hostonly]));
        }
        v.extend(s(&["--nictype2", "82540EM", "--cableconnected2", "on", "--macaddress2", &hw.mac_hostonly]));
        v.extend(s(&["--description", &hw.description]));
        v
    }

    pub fn argv_createdisk(&self, path: &Path, size_mib: u64) -> Vec<String> {
        let mut v = s(&["createmedium", "disk", "--filename"]);
        v.push(path.display().to_string());
        v.extend(["--size".into(), size_mib.to_string()]);
        v.extend(s(&["--format", "VDI", "--variant", "Standard"]));
        v
    }

    pub fn argv_storagectl(&self, vm: &str, arch: Arch) -> Vec<String> {
        let (name, bus, kind) = controller(arch);
        s(&["storagectl", vm, "--name", name, "--add", bus, "--controller", kind, "--portcount", "3", "--bootable", "on"])
    }

    /// Port 0: the disk. Port 1: the OS ISO (VirtualBox's EFI does not boot ISOs on high ports).
    /// Port 2: the kickstart or seed disc.
    pub fn argv_attach(&self, vm: &str, arch: Arch, port: u32, medium: &Medium, disk: bool) -> Vec<String> {
        let m = match medium {
            Medium::None => "none".to_string(),
            Medium::Empty => "emptydrive".to_string(),
            Medium::Image(p) => p.display().to_string(),
        };
        let (name, _, _) = controller(arch);
        let port = port.to_string();
        s(&["storageattach", vm, "--storagectl", name, "--port", &port, "--device", "0", "--type", if disk { "hdd" } else { "dvddrive" }, "--medium", &m])
    }

    // ---- doing ----

    /// Registers a VM with `uuid` (chosen by lab and recorded first, so a VM lab registered but
    /// had not marked yet is still recognised as lab's).
    pub fn create_vm(&self, name: &str, uuid: &str, group: &str, ostype: &str, basefolder: &Path, arch: Arch) -> Result<()> {
        let ostype = self.guest_type(ostype)?;
        self.run(&self.argv_createvm(name, uuid, group, &ostype, basefolder, arch)).map(drop)
    }

    /// The guest OS type `createvm` gets: the image's where this VirtualBox has it, else the
    /// nearest one it has (`createvm` refuses a type it does not know, and 7.1.4 has no
    /// `RedHat9_arm64`). Asked of VirtualBox itself (`list ostypes`).
    pub fn guest_type(&self, wanted: &str) -> Result<String> {
        let out = self.run_retry(&s(&["list", "ostypes"]))?;
        Ok(pick_ostype(wanted, &parse_ostypes(&out)))
    }

    pub fn configure(&self, vm: &str, hw: &Hardware) -> Result<()> {
        self.run_retry(&self.argv_modifyvm(vm, hw)).map(drop)
    }

    pub fn create_disk(&self, path: &Path, size_mib: u64) -> Result<()> {
        self.run(&self.argv_createdisk(path, size_mib)).map(drop)
    }

    pub fn add_storage(&self, vm: &str, arch: Arch) -> Result<()> {
        self.run_retry(&self.argv_storagectl(vm, arch)).map(drop)
    }

    pub fn attach(&self, vm: &str, arch: Arch, port: u32, medium: &Medium, disk: bool) -> Result<()> {
        self.run_retry(&self.argv_attach(vm, arch, port, medium, disk)).map(drop)
    }
}

#[cfg(test)]
#[path = "driver/tests.rs"]
mod tests;
