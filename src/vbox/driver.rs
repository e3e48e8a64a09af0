//! The only code that knows VBoxManage: where it lives, its version, the argv of every
//! operation (with the differences between 6.1, 7.0 and 7.1 in one place), how it reports
//! errors, and which failures are worth another try.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::error::{Error, Result};

/// A VirtualBox release, from `VBoxManage --version` (`7.1.4r165100`, `7.0.20_Ubuntur163906`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

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
        } else if cfg!(target_os = "windows") {
            Self::Windows
        } else {
            Self::Linux
        }
    }
}

/// Reads `--version` output. A `WARNING:` about the kernel driver is fatal: no VM can start.
pub fn parse_version(out: &str) -> Result<Version> {
    if out.contains("vboxdrv") || out.contains("kernel module") || out.contains("Please install") {
        return Err(Error::Preflight {
            problem: "VirtualBox's kernel driver is not loaded (VBoxManage --version warns about it)".into(),
            fix: "run `sudo /sbin/vboxconfig` (under Secure Boot, sign the modules first), then try again".into(),
        });
    }
    let line = out.lines().rev().map(str::trim).find(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit())).unwrap_or("");
    let numeric: String = line.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let parts: Vec<u32> = numeric.split('.').filter_map(|p| p.parse().ok()).collect();
    match parts[..] {
        [major, minor, patch, ..] => Ok(Version { major, minor, patch }),
        _ => Err(Error::Preflight { problem: format!("cannot read the VirtualBox version from {out:?}"), fix: "check that `VBoxManage --version` works".into() }),
    }
}

/// Where VBoxManage is: `$VBOXMANAGE`, PATH, the Windows installer's variables, the macOS app.
pub fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VBOXMANAGE").map(PathBuf::from).filter(|p| p.is_file()) {
        return Some(p);
    }
    let exe = if cfg!(windows) { "VBoxManage.exe" } else { "VBoxManage" };
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in [exe, "vboxmanage"] {
            if dir.join(name).is_file() {
                return Some(dir.join(name));
            }
        }
    }
    for var in ["VBOX_MSI_INSTALL_PATH", "VBOX_INSTALL_PATH"] {
        if let Some(v) = std::env::var_os(var) {
            for dir in v.to_string_lossy().split(';').filter(|d| !d.is_empty()) {
                let p = Path::new(dir).join(exe);
                if p.is_file() {
                    return Some(p);
                }
            }
        }
    }
    let mac = Path::new("/Applications/VirtualBox.app/Contents/MacOS/VBoxManage");
    mac.is_file().then(|| mac.to_path_buf())
}

/// What a VM is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hardware {
    pub cpus: u32,
    pub memory_mib: u32,
    /// `080027AABBCC` for NIC1 (NAT) and NIC2 (host-only).
    pub mac_nat: String,
    pub mac_hostonly: String,
    /// The host-only interface (or, on macOS with 7.x, host-only network).
    pub hostonly: String,
    pub description: String,
}

/// A failure of one VBoxManage call, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth another try (a session lock, a VM in a transitional state).
    Transient,
    /// Not found (`VBOX_E_OBJECT_NOT_FOUND`).
    NotFound,
    Final,
}

/// Classifies VBoxManage's stderr.
pub fn classify(stderr: &str) -> Failure {
    if stderr.contains("VBOX_E_OBJECT_NOT_FOUND") || stderr.contains("Could not find a registered machine") {
        Failure::NotFound
    } else if stderr.contains("VBOX_E_INVALID_OBJECT_STATE") || stderr.contains("is already locked") || stderr.contains("Invalid machine state: Stopping") || stderr.contains("Invalid machine state: Starting") {
        Failure::Transient
    } else {
        Failure::Final
    }
}

/// What to tell the user about a VBoxManage error.
pub fn hint_for(stderr: &str) -> Option<String> {
    let h = if stderr.contains("VERR_VM_DRIVER_NOT_INSTALLED") || stderr.contains("/dev/vboxnetctl") || stderr.contains("rc=-1908") {
        "VirtualBox's kernel modules are not loaded: run `sudo /sbin/vboxconfig` (sign them first under Secure Boot)"
    } else if stderr.contains("VERR_VMX_NO_VMX") || stderr.contains("VERR_SVM") || stderr.contains("VERR_NEM_NOT_AVAILABLE") || stderr.contains("VERR_VMX_IN_VMX_ROOT_MODE") {
        "hardware virtualization is unavailable: enable VT-x/AMD-V in the firmware, turn off Hyper-V/WSL2 (Windows) or unload KVM (Linux); or use `provider: sandbox` on Linux"
    } else if stderr.contains("E_ACCESSDENIED") {
        "VirtualBox refuses this host-only address: use 192.168.56.0/21, or allow the range in /etc/vbox/networks.conf (`* 10.0.0.0/8`)"
    } else if stderr.contains("is already locked") || stderr.contains("VBOX_E_INVALID_OBJECT_STATE") {
        "another program (the VirtualBox GUI, or a VM still shutting down) holds the VM: close it and run the command again"
    } else if stderr.contains("already exists") || stderr.contains("VERR_ALREADY_EXISTS") {
        "a VM or VM folder with that name exists already: remove it in VirtualBox (or its folder), or rename the lab"
    } else if stderr.contains("Host-only adapters are no longer supported") {
        "VirtualBox 7 on macOS uses host-only networks: run `lab destroy` and `lab up` again"
    } else {
        return None;
    };
    Some(h.to_string())
}

/// Splits `showvminfo --machinereadable` into keys and values (quotes removed, `\\` and `\"`
/// unescaped; lines without `=` skipped).
pub fn parse_machinereadable(text: &str) -> BTreeMap<String, String> {
    let unquote = |s: &str| -> String {
        let s = s.trim();
        let inner = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s);
        inner.replace("\\\"", "\"").replace("\\\\", "\\")
    };
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (unquote(k), unquote(v))).collect()
}

/// `list vms`: `"name" {uuid}` lines.
pub fn parse_list_vms(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix('"')?;
            let (name, rest) = rest.rsplit_once("\" {")?;
            Some((name.to_string(), rest.trim_end_matches('}').to_string()))
        })
        .collect()
}

/// One record of `list hostonlyifs` (or `hostonlynets`), by its `Name:`.
pub fn parse_blocks(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut out: Vec<BTreeMap<String, String>> = Vec::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let (k, v) = (k.trim().to_string(), v.trim().to_string());
        if k == "Name" {
            out.push(BTreeMap::new());
        }
        if let Some(last) = out.last_mut() {
            last.insert(k, v);
        }
    }
    out
}

/// Builds and runs VBoxManage invocations for one installed version.
#[derive(Debug, Clone)]
pub struct Driver {
    pub program: PathBuf,
    pub version: Version,
    pub host: HostOs,
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_string()).collect()
}

impl Driver {
    /// Finds VBoxManage and reads its version.
    pub fn detect() -> Result<Self> {
        let program = find().ok_or_else(|| Error::Preflight {
            problem: "VBoxManage is not installed (or not on the PATH)".into(),
            fix: "install VirtualBox 6.1, 7.0 or 7.1 from virtualbox.org; on Linux without VirtualBox, `provider: sandbox` builds the same lab with namespaces".into(),
        })?;
        let out = Command::new(&program).arg("--version").env("LANG", "C").env("LC_ALL", "C").stdin(Stdio::null()).output()
            .map_err(|e| Error::io(format!("running {} --version", program.display()), e))?;
        let version = parse_version(&String::from_utf8_lossy(&out.stdout))?;
        if version < (Version { major: 6, minor: 1, patch: 0 }) {
            return Err(Error::Preflight { problem: format!("VirtualBox {}.{}.{} is too old", version.major, version.minor, version.patch), fix: "install VirtualBox 6.1, 7.0 or 7.1".into() });
        }
        Ok(Self { program, version, host: HostOs::current() })
    }

    #[cfg(test)]
    pub fn for_version(version: Version, host: HostOs) -> Self {
        Self { program: PathBuf::from("VBoxManage"), version, host }
    }

    fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.version.major, self.version.minor) >= (major, minor)
    }

    /// macOS with VirtualBox 7 has host-only *networks*, not interfaces.
    pub fn uses_hostonlynet(&self) -> bool {
        self.host == HostOs::Macos && self.at_least(7, 0)
    }

    pub fn argv_createvm(&self, name: &str, group: &str, ostype: &str, basefolder: &Path) -> Vec<String> {
        let mut v = s(&["createvm", "--name", name, "--groups", group, "--ostype", ostype, "--basefolder"]);
        v.push(basefolder.display().to_string());
        v.push("--register".into());
        if self.at_least(7, 1) {
            v.extend(s(&["--platform-architecture", "x86"]));
        }
        v
    }

    /// One `modifyvm` with everything: old option spellings, which 6.1 to 7.1 all accept.
    pub fn argv_modifyvm(&self, vm: &str, hw: &Hardware) -> Vec<String> {
        let mut v = s(&["modifyvm", vm]);
        v.extend(["--memory".into(), hw.memory_mib.to_string(), "--cpus".into(), hw.cpus.to_string()]);
        v.extend(s(&["--ioapic", "on", "--firmware", "bios", "--rtcuseutc", "on"]));
        v.extend(s(&["--boot1", "disk", "--boot2", "dvd", "--boot3", "none", "--boot4", "none"]));
        v.extend(s(&["--graphicscontroller", "vmsvga", "--vram", "16", "--mouse", "ps2", "--usb", "off"]));
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

    pub fn argv_storagectl(&self, vm: &str) -> Vec<String> {
        s(&["storagectl", vm, "--name", "SATA", "--add", "sata", "--controller", "IntelAhci", "--portcount", "3", "--bootable", "on"])
    }

    /// Port 0: the disk. Port 1: the OS ISO (VirtualBox's EFI does not boot ISOs on high ports).
    /// Port 2: the OEMDRV kickstart disc. `medium`: a path, `emptydrive` or `none`.
    pub fn argv_attach(&self, vm: &str, port: u32, kind: &str, medium: &str) -> Vec<String> {
        s(&["storageattach", vm, "--storagectl", "SATA", "--port", &port.to_string(), "--device", "0", "--type", kind, "--medium", medium])
    }

    pub fn argv_startvm(&self, vm: &str) -> Vec<String> {
        s(&["startvm", vm, "--type", "headless"])
    }

    pub fn argv_controlvm(&self, vm: &str, action: &str) -> Vec<String> {
        s(&["controlvm", vm, action])
    }

    pub fn argv_showvminfo(&self, vm: &str) -> Vec<String> {
        s(&["showvminfo", vm, "--machinereadable"])
    }

    pub fn argv_unregister(&self, vm: &str) -> Vec<String> {
        s(&["unregistervm", vm, "--delete"])
    }

    pub fn argv_hostonly_create(&self) -> Vec<String> {
        s(&["hostonlyif", "create"])
    }

    pub fn argv_hostonly_ipconfig(&self, name: &str, ip: &str, mask: &str) -> Vec<String> {
        s(&["hostonlyif", "ipconfig", name, "--ip", ip, "--netmask", mask])
    }

    pub fn argv_hostonly_remove(&self, name: &str) -> Vec<String> {
        s(&["hostonlyif", "remove", name])
    }

    /// macOS + 7.x: a host-only network whose lower address is the host's.
    pub fn argv_hostonlynet_add(&self, name: &str, mask: &str, lower: &str, upper: &str) -> Vec<String> {
        s(&["hostonlynet", "add", "--name", name, "--netmask", mask, "--lower-ip", lower, "--upper-ip", upper, "--enable"])
    }

    pub fn argv_dhcp_disable(&self, ifname: &str) -> Vec<String> {
        s(&["dhcpserver", "modify", "--ifname", ifname, "--disable"])
    }

    /// Runs one call with `LANG=C`. A `VBoxManage: error:` line is a failure even with exit 0.
    pub fn run(&self, args: &[String]) -> Result<String> {
        let out = Command::new(&self.program)
            .args(args)
            .env("LANG", "C")
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::io(format!("running {}", self.program.display()), e))?;
        let stdout = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
        let stderr = String::from_utf8_lossy(&out.stderr).replace("\r\n", "\n");
        let has_error_line = stderr.lines().any(|l| l.starts_with("VBoxManage") && l.contains(": error:"));
        if out.status.success() && !has_error_line {
            return Ok(stdout);
        }
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(": error:")).collect();
        Err(Error::VBox {
            argv: crate::proc::argv_text("VBoxManage", args),
            stderr: if errors.is_empty() { stderr.trim().to_string() } else { errors.join("\n") },
            hint: hint_for(&stderr),
        })
    }

    /// Runs a call that is safe to repeat, retrying transient failures with backoff.
    pub fn run_retry(&self, args: &[String]) -> Result<String> {
        let mut pause = Duration::from_millis(500);
        let mut tries = 0;
        loop {
            match self.run(args) {
                Err(Error::VBox { stderr, .. }) if classify(&stderr) == Failure::Transient && tries < 6 => {
                    tries += 1;
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(8));
                }
                other => return other,
            }
        }
    }

    pub fn list_vms(&self) -> Result<Vec<(String, String)>> {
        Ok(parse_list_vms(&self.run_retry(&s(&["list", "vms"]))?))
    }

    /// The VM's settings and state, or `None` when no such VM is registered.
    pub fn vm_info(&self, vm: &str) -> Result<Option<BTreeMap<String, String>>> {
        match self.run_retry(&self.argv_showvminfo(vm)) {
            Ok(text) => Ok(Some(parse_machinereadable(&text))),
            Err(Error::VBox { stderr, .. }) if classify(&stderr) == Failure::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn hostonly_ifs(&self) -> Result<Vec<BTreeMap<String, String>>> {
        let what = if self.uses_hostonlynet() { "hostonlynets" } else { "hostonlyifs" };
        Ok(parse_blocks(&self.run_retry(&s(&["list", what]))?))
    }

    pub fn dhcp_servers(&self) -> Result<Vec<BTreeMap<String, String>>> {
        let text = self.run_retry(&s(&["list", "dhcpservers"]))?;
        let mut out: Vec<BTreeMap<String, String>> = Vec::new();
        for line in text.lines() {
            let Some((k, v)) = line.split_once(':') else { continue };
            if k.trim() == "NetworkName" {
                out.push(BTreeMap::new());
            }
            if let Some(last) = out.last_mut() {
                last.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "driver/tests.rs"]
mod tests;
