//! The only code that knows VBoxManage: where it lives, its version, the argv of every
//! operation (with the differences between 6.1, 7.0, 7.1 and 7.2, host systems and guest
//! architectures in one place), how it reports errors and which are worth another try, and how
//! to read its output. It speaks lab's vocabulary ([`VmInfo`], [`VmState`], [`HostOnly`]); no
//! VBoxManage string appears outside this file.
//!
//! VBoxManage is translated since 7.0, and a language chosen in the GUI wins over the
//! environment, so the driver reads machine-readable output and error codes, never English
//! sentences; list outputs are read by position when their labels are not English.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
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

pub use crate::labfile::Arch;

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

/// A VM's state, from `VMState` (every spelling VirtualBox prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmState {
    PowerOff,
    Running,
    Paused,
    Saved,
    /// The VM process died (`aborted`, `aborted-saved`).
    Aborted,
    /// `gurumeditation`: the VM hit a fatal error and is stuck.
    Stuck,
    /// On its way somewhere: starting, stopping, saving, restoring, snapshotting, ...
    Transitional(String),
    Other(String),
}

impl VmState {
    fn parse(s: &str) -> Self {
        match s {
            "poweroff" => Self::PowerOff,
            "running" => Self::Running,
            "paused" => Self::Paused,
            "saved" => Self::Saved,
            "aborted" | "aborted-saved" => Self::Aborted,
            "gurumeditation" => Self::Stuck,
            "starting"
            | "stopping"
            | "saving"
            | "restoring"
            | "settingup"
            | "snapshotting"
            | "onlinesnapshotting"
            | "livesnapshotting"
            | "deletingsnapshot"
            | "deletingsnapshotlive"
            | "deletingsnapshotlivepaused"
            | "restoringsnapshot"
            | "teleporting"
            | "teleportingin"
            | "teleportingpausedvm" => Self::Transitional(s.to_string()),
            other => Self::Other(other.to_string()),
        }
    }

    /// The word shown to users.
    pub fn word(&self) -> &str {
        match self {
            Self::PowerOff => "poweroff",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Saved => "saved",
            Self::Aborted => "aborted",
            Self::Stuck => "gurumeditation",
            Self::Transitional(s) | Self::Other(s) => s,
        }
    }

    /// The VM's process runs (it holds the session lock).
    pub fn is_on(&self) -> bool {
        matches!(self, Self::Running | Self::Paused | Self::Stuck | Self::Transitional(_))
    }
}

/// What a storage slot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Medium {
    /// No device at that port.
    None,
    /// A DVD drive with no disc.
    Empty,
    Image(PathBuf),
}

/// A network adapter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nic {
    /// `nat`, `hostonly`, `hostonlynetwork`, ...
    pub kind: String,
    /// The host-only interface or network it is attached to.
    pub hostonly: String,
    pub mac: String,
}

/// A registered VM, as `showvminfo --machinereadable` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmInfo {
    pub name: String,
    pub uuid: String,
    pub state: VmState,
    pub description: String,
    pub cfg_file: PathBuf,
    pub arch: Arch,
    /// The ports of lab's storage controller (`SATA`, or `VirtIO` on arm64), absent when there
    /// is no such controller.
    pub sata: Option<BTreeMap<u32, Medium>>,
    pub nics: BTreeMap<u32, Nic>,
    /// Snapshot names, in tree order.
    pub snapshots: Vec<String>,
    pub current_snapshot: Option<String>,
}

impl VmInfo {
    pub fn port(&self, port: u32) -> Medium {
        self.sata.as_ref().and_then(|p| p.get(&port).cloned()).unwrap_or(Medium::None)
    }
    /// The VM's own folder (where `Logs/VBox.log` is).
    pub fn folder(&self) -> PathBuf {
        self.cfg_file.parent().map(Path::to_path_buf).unwrap_or_default()
    }
    pub fn log(&self) -> PathBuf {
        self.folder().join("Logs").join("VBox.log")
    }
}

/// A host-only interface (Linux, Windows, macOS before 7.0) or host-only network (macOS 7.x).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostOnly {
    pub name: String,
    pub ip: Option<Ipv4Addr>,
    pub mask: Option<Ipv4Addr>,
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
    pub arch: Arch,
}

/// A failure of one VBoxManage call, classified by its error code (never its words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth another try (a session lock, a VM in a transitional state).
    Transient,
    /// Not found (`VBOX_E_OBJECT_NOT_FOUND`).
    NotFound,
    Final,
}

/// Classifies VBoxManage's stderr by the codes it carries.
pub fn classify(stderr: &str) -> Failure {
    if stderr.contains("VBOX_E_OBJECT_NOT_FOUND") {
        Failure::NotFound
    } else if stderr.contains("VBOX_E_INVALID_OBJECT_STATE") || stderr.contains("VBOX_E_INVALID_VM_STATE") {
        Failure::Transient
    } else {
        Failure::Final
    }
}

/// What to tell the user about a VBoxManage error (codes, not sentences, decide).
pub fn hint_for(stderr: &str) -> Option<String> {
    let h = if stderr.contains("VERR_VM_DRIVER_NOT_INSTALLED") || stderr.contains("/dev/vboxnetctl") || stderr.contains("-1908") {
        "VirtualBox's kernel modules are not loaded: run `sudo /sbin/vboxconfig` (sign them first under Secure Boot)"
    } else if stderr.contains("VERR_VMX_NO_VMX")
        || stderr.contains("VERR_SVM")
        || stderr.contains("VERR_NEM_NOT_AVAILABLE")
        || stderr.contains("VERR_VMX_IN_VMX_ROOT_MODE")
    {
        "hardware virtualization is unavailable: enable VT-x/AMD-V in the firmware, turn off Hyper-V/WSL2 (Windows) or unload KVM (Linux); or use `provider: sandbox` on Linux"
    } else if stderr.contains("VBOX_E_PLATFORM_ARCH_NOT_SUPPORTED") {
        "this VM's architecture cannot run on this computer (an x86 VM on an Apple Silicon Mac): run `lab destroy`, then `lab up` again, which chooses the image for this computer"
    } else if stderr.contains("E_ACCESSDENIED") {
        "VirtualBox refuses this host-only address: use 192.168.56.0/21, or allow the range in /etc/vbox/networks.conf (`* 10.0.0.0/8`)"
    } else if stderr.contains("VERR_NO_TRANSLATION") {
        "VBoxManage could not read a non-ASCII path under this locale: install a UTF-8 locale (C.UTF-8 or en_US.UTF-8)"
    } else if stderr.contains("VBOX_E_INVALID_OBJECT_STATE") {
        "another program (the VirtualBox GUI, or a VM still shutting down) holds the VM: close it and run the command again"
    } else if stderr.contains("VBOX_E_FILE_ERROR") || stderr.contains("VERR_ALREADY_EXISTS") {
        "a VM or VM folder with that name exists already: remove it in VirtualBox (or its folder), or rename the lab"
    } else if stderr.contains("VERR_INTNET_FLT_IF_NOT_FOUND") || stderr.contains("VERR_INTERNAL_ERROR") {
        "the host-only interface is missing or broken: run `lab up` again (lab recreates it); if it keeps failing, reinstall VirtualBox's network drivers"
    } else {
        return None;
    };
    Some(h.to_string())
}

/// Reads `VBoxManage --version`: the last line that starts with a digit. Warning lines about the
/// kernel driver mean VMs cannot start.
pub fn parse_version(out: &str) -> Result<Version> {
    if out.lines().any(|l| l.starts_with("WARNING:")) {
        return Err(Error::Preflight {
            problem: "VirtualBox's kernel driver is not loaded".into(),
            fix: "run `sudo /sbin/vboxconfig` (under Secure Boot, sign the modules first), then try again".into(),
        });
    }
    let line = out.lines().rev().map(str::trim).find(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit())).unwrap_or("");
    let numeric: String = line.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let parts: Vec<u32> = numeric.split('.').filter_map(|p| p.parse().ok()).collect();
    match parts[..] {
        [major, minor, patch, ..] => Ok(Version { major, minor, patch }),
        _ => {
            Err(Error::Preflight { problem: format!("cannot read the VirtualBox version from {out:?}"), fix: "check that `VBoxManage --version` works".into() })
        }
    }
}

/// Where VBoxManage is: `$VBOXMANAGE`, PATH, the Windows installer's variables and folders, the
/// macOS application bundle.
pub fn find(env: &dyn Fn(&str) -> Option<String>, exists: &dyn Fn(&Path) -> bool, host: HostOs) -> Option<PathBuf> {
    if let Some(p) = env("VBOXMANAGE").map(PathBuf::from).filter(|p| exists(p)) {
        return Some(p);
    }
    let (exe, sep) = if host == HostOs::Windows { ("VBoxManage.exe", ';') } else { ("VBoxManage", ':') };
    let path = env("PATH").unwrap_or_default();
    for dir in path.split(sep).filter(|d| !d.is_empty()) {
        for name in [exe, "vboxmanage"] {
            let p = Path::new(dir).join(name);
            if exists(&p) {
                return Some(p);
            }
        }
    }
    match host {
        HostOs::Windows => {
            let mut dirs: Vec<String> = Vec::new();
            for var in ["VBOX_MSI_INSTALL_PATH", "VBOX_INSTALL_PATH"] {
                if let Some(v) = env(var) {
                    dirs.extend(v.split(';').filter(|d| !d.is_empty()).map(str::to_string));
                }
            }
            for var in ["ProgramFiles", "ProgramW6432", "ProgramFiles(x86)"] {
                if let Some(v) = env(var) {
                    dirs.push(format!("{v}\\Oracle\\VirtualBox"));
                }
            }
            dirs.push("C:\\Program Files\\Oracle\\VirtualBox".into());
            dirs.into_iter().map(|d| PathBuf::from(format!("{}\\{exe}", d.trim_end_matches('\\')))).find(|p| exists(p))
        }
        HostOs::Macos => ["/Applications/VirtualBox.app/Contents/MacOS/VBoxManage", "/usr/local/bin/VBoxManage", "/opt/homebrew/bin/VBoxManage"]
            .iter()
            .map(PathBuf::from)
            .find(|p| exists(p)),
        HostOs::Linux => ["/usr/bin/VBoxManage", "/usr/lib/virtualbox/VBoxManage", "/opt/VirtualBox/VBoxManage"].iter().map(PathBuf::from).find(|p| exists(p)),
    }
}

/// The UTF-8 locale VBoxManage runs under: with `C`/`POSIX` it cannot take non-ASCII arguments
/// (`VERR_NO_TRANSLATION`), and student folders are named `Área de Trabalho`.
pub fn utf8_locale(host: HostOs, exists: &dyn Fn(&Path) -> bool) -> &'static str {
    match host {
        HostOs::Macos => "en_US.UTF-8",
        HostOs::Windows => "C.UTF-8",
        HostOs::Linux => {
            let c = ["/usr/lib/locale/C.utf8", "/usr/lib/locale/C.UTF-8", "/usr/lib64/locale/C.utf8"];
            if c.iter().any(|p| exists(Path::new(p))) || !exists(Path::new("/usr/lib/locale/locale-archive")) { "C.UTF-8" } else { "en_US.UTF-8" }
        }
    }
}

/// Splits `showvminfo --machinereadable` into keys and values (quotes removed, `\\` and `\"`
/// unescaped; lines without `=` skipped).
pub fn parse_machinereadable(text: &str) -> BTreeMap<String, String> {
    let unquote = |s: &str| -> String {
        let s = s.trim();
        let inner = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s);
        inner.replace("\\\"", "\"").replace("\\\\", "\\")
    };
    let mut out = BTreeMap::new();
    for line in text.lines() {
        // Keys may be quoted and contain '='; split after a closing quote when there is one.
        let split = match line.strip_prefix('"') {
            Some(rest) => rest.find("\"=").map(|i| i + 2),
            None => line.find('='),
        };
        if let Some(i) = split {
            out.insert(unquote(&line[..i]), unquote(&line[i + 1..]));
        }
    }
    out
}

fn vm_info(m: &BTreeMap<String, String>) -> VmInfo {
    let get = |k: &str| m.get(k).cloned().unwrap_or_default();
    let mut sata = None;
    for i in 0..8 {
        let name = m.get(&format!("storagecontrollername{i}")).cloned().unwrap_or_default();
        if name == "SATA" || name == "VirtIO" {
            let count: u32 = m.get(&format!("storagecontrollerportcount{i}")).and_then(|c| c.parse().ok()).unwrap_or(0);
            let mut ports = BTreeMap::new();
            for p in 0..count.max(3) {
                let medium = match m.get(&format!("{name}-{p}-0")).map(String::as_str) {
                    None | Some("none") => Medium::None,
                    Some("emptydrive") => Medium::Empty,
                    Some(path) => Medium::Image(PathBuf::from(path)),
                };
                ports.insert(p, medium);
            }
            sata = Some(ports);
        }
    }
    let mut nics = BTreeMap::new();
    for n in 1..=8u32 {
        let kind = get(&format!("nic{n}"));
        if kind.is_empty() || kind == "none" {
            continue;
        }
        let hostonly = m.get(&format!("hostonlyadapter{n}")).or_else(|| m.get(&format!("hostonly-network{n}"))).cloned().unwrap_or_default();
        nics.insert(n, Nic { kind, hostonly, mac: get(&format!("macaddress{n}")) });
    }
    let mut snapshots: Vec<(String, String)> = m.iter().filter(|(k, _)| k.starts_with("SnapshotName")).map(|(k, v)| (k.clone(), v.clone())).collect();
    snapshots.sort();
    VmInfo {
        name: get("name"),
        uuid: get("UUID"),
        state: VmState::parse(&get("VMState")),
        description: get("description"),
        cfg_file: PathBuf::from(get("CfgFile")),
        arch: if get("platformArchitecture").eq_ignore_ascii_case("arm") || get("platformArchitecture").eq_ignore_ascii_case("ARM") {
            Arch::Aarch64
        } else {
            Arch::X86_64
        },
        sata,
        nics,
        snapshots: snapshots.into_iter().map(|(_, v)| v).collect(),
        current_snapshot: m.get("CurrentSnapshotName").cloned(),
    }
}

/// `list vms`: `"name" {uuid}` lines.
pub fn parse_list_vms(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix('"')?;
            let (name, rest) = rest.rsplit_once("\" {")?;
            Some((name.to_string(), rest.trim_end_matches('}').to_string()))
        })
        .collect()
}

/// The blocks of a `list` output (blank-line separated), each as its values in order. Labels
/// are translated under other languages, so values are taken by position (the label is what
/// stands before the first `:`).
fn blocks(text: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut cur: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        cur.push(line.split_once(':').map_or("", |(_, v)| v).trim().to_string());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `list hostonlyifs` (Name, GUID, DHCP, IPAddress, NetworkMask, ...) or, with `nets`,
/// `list hostonlynets` (Name, GUID, State, NetworkMask, LowerIP, UpperIP, ...).
pub fn parse_hostonly(text: &str, nets: bool) -> Vec<HostOnly> {
    blocks(text)
        .into_iter()
        .filter(|b| !b.is_empty())
        .map(|b| {
            let at = |i: usize| b.get(i).and_then(|v| v.parse::<Ipv4Addr>().ok());
            if nets { HostOnly { name: b[0].clone(), ip: at(4), mask: at(3) } } else { HostOnly { name: b[0].clone(), ip: at(3), mask: at(4) } }
        })
        .collect()
}

/// `list dhcpservers`: per network name, whether its server is enabled (`None` when the answer
/// is in a language lab cannot read).
pub fn parse_dhcp(text: &str) -> BTreeMap<String, Option<bool>> {
    blocks(text)
        .into_iter()
        .filter(|b| !b.is_empty())
        .map(|b| {
            let enabled = b.iter().skip(1).find_map(|v| match v.as_str() {
                "Yes" => Some(Some(true)),
                "No" => Some(Some(false)),
                _ => None,
            });
            (b[0].clone(), enabled.flatten())
        })
        .collect()
}

/// Runs VBoxManage for one installed version.
#[derive(Clone)]
pub struct Driver {
    runner: Arc<dyn Runner>,
    pub program: PathBuf,
    pub version: Version,
    pub host: HostOs,
    pub host_arch: Arch,
    locale: &'static str,
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
        let program = find(&env, &|p: &Path| p.is_file(), host).ok_or_else(|| Error::Preflight {
            problem: "VBoxManage is not installed (or not on the PATH)".into(),
            fix: format!("install {SUPPORTED} from virtualbox.org (or set VBOXMANAGE to its VBoxManage); on Linux without VirtualBox, `provider: sandbox` builds the same lab with namespaces"),
        })?;
        let locale = utf8_locale(host, &|p: &Path| p.exists());
        let out = runner.run(&Cmd::new(&program).args(["--version"]).env("LC_ALL", locale).env("LANG", locale).timeout(Duration::from_secs(60)))?;
        let version = parse_version(&out.stdout)?;
        if version < OLDEST {
            return Err(Error::Preflight { problem: format!("VirtualBox {version} is too old"), fix: format!("install {SUPPORTED}") });
        }
        Ok(Self { runner, program, version, host, host_arch: Arch::current(), locale })
    }

    /// A driver for a given version and host, running through `runner` (tests).
    #[cfg(test)]
    pub fn with(runner: Arc<dyn Runner>, version: Version, host: HostOs, host_arch: Arch) -> Self {
        Self { runner, program: PathBuf::from("VBoxManage"), version, host, host_arch, locale: "C.UTF-8" }
    }

    fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.version.major, self.version.minor) >= (major, minor)
    }

    /// macOS with VirtualBox 7 has host-only *networks*, not interfaces.
    pub fn uses_hostonlynet(&self) -> bool {
        self.host == HostOs::Macos && self.at_least(7, 0)
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

    /// Runs one call under a UTF-8 locale. A `VBoxManage: error:` line is a failure even with
    /// exit 0.
    pub fn run(&self, args: &[String]) -> Result<String> {
        let cmd = Cmd::new(&self.program).args(args).env("LC_ALL", self.locale).env("LANG", self.locale).timeout(CALL_TIMEOUT);
        let out = self.runner.run(&cmd).map_err(|e| match e {
            Error::Timeout { after, .. } => Error::Timeout { what: format!("`{}`", crate::proc::argv_text("VBoxManage", args)), after },
            other => other,
        })?;
        let stdout = out.stdout.replace("\r\n", "\n");
        let stderr = out.stderr.replace("\r\n", "\n");
        let has_error_line = stderr.lines().any(|l| l.starts_with("VBoxManage") && l.contains(": error:"));
        if out.success() && !has_error_line {
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
            Ok(text) => Ok(Some(vm_info(&parse_machinereadable(&text)))),
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
                v.extend(s(&["--boot1", "disk", "--boot2", "dvd", "--boot3", "none", "--boot4", "none"]));
                v.extend(s(&["--graphicscontroller", "vmsvga", "--vram", "16", "--mouse", "ps2", "--usb", "off"]));
            }
            Arch::Aarch64 => {
                v.extend(s(&["--chipset", "armv8virtual", "--firmware", "efi", "--rtcuseutc", "on"]));
                v.extend(s(&["--boot1", "disk", "--boot2", "dvd", "--boot3", "none", "--boot4", "none"]));
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
        self.run(&self.argv_createvm(name, uuid, group, ostype, basefolder, arch)).map(drop)
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

    pub fn start(&self, vm: &str) -> Result<()> {
        self.run_retry(&s(&["startvm", vm, "--type", "headless"])).map(drop)
    }

    pub fn resume(&self, vm: &str) -> Result<()> {
        self.run_retry(&s(&["controlvm", vm, "resume"])).map(drop)
    }

    /// Presses the ACPI power button (the guest shuts down by itself).
    pub fn acpi_power_button(&self, vm: &str) -> Result<()> {
        self.run(&s(&["controlvm", vm, "acpipowerbutton"])).map(drop)
    }

    /// Pulls the plug.
    pub fn power_off(&self, vm: &str) -> Result<()> {
        self.run_retry(&s(&["controlvm", vm, "poweroff"])).map(drop)
    }

    /// Types PC scancodes (hex bytes) on the VM's keyboard.
    pub fn type_scancodes(&self, vm: &str, codes: &[&str]) -> Result<()> {
        let mut v = s(&["controlvm", vm, "keyboardputscancode"]);
        v.extend(codes.iter().map(|c| (*c).to_string()));
        self.run(&v).map(drop)
    }

    /// Unregisters the VM and deletes its files and disks.
    pub fn delete_vm(&self, vm: &str) -> Result<()> {
        self.run_retry(&s(&["unregistervm", vm, "--delete"])).map(drop)
    }

    /// Forgets a disk image (and deletes its file).
    pub fn delete_medium(&self, path: &Path) -> Result<()> {
        self.run(&["closemedium".to_string(), "disk".into(), path.display().to_string(), "--delete".into()]).map(drop)
    }

    /// Makes a host-only interface (or network) holding `ip/mask`. Returns its name. The name is
    /// found by comparing the lists before and after, never by reading a sentence.
    pub fn create_hostonly(&self, ip: Ipv4Addr, mask: Ipv4Addr, name_hint: &str) -> Result<String> {
        if self.uses_hostonlynet() {
            let (ip, mask) = (ip.to_string(), mask.to_string());
            self.run_retry(&s(&["hostonlynet", "add", "--name", name_hint, "--netmask", &mask, "--lower-ip", &ip, "--upper-ip", &ip, "--enable"]))?;
            return Ok(name_hint.to_string());
        }
        let before: Vec<String> = self.hostonly()?.into_iter().map(|h| h.name).collect();
        self.run_retry(&s(&["hostonlyif", "create"]))?;
        let name = self.hostonly()?.into_iter().map(|h| h.name).find(|n| !before.contains(n)).ok_or_else(|| Error::VBox {
            argv: "VBoxManage hostonlyif create".into(),
            stderr: "no new host-only interface appeared".into(),
            hint: None,
        })?;
        self.run_retry(&s(&["hostonlyif", "ipconfig", &name, "--ip", &ip.to_string(), "--netmask", &mask.to_string()]))?;
        Ok(name)
    }

    pub fn remove_hostonly(&self, name: &str) -> Result<()> {
        if self.uses_hostonlynet() {
            self.run_retry(&s(&["hostonlynet", "remove", "--name", name])).map(drop)
        } else {
            self.run_retry(&s(&["hostonlyif", "remove", name])).map(drop)
        }
    }

    pub fn set_dhcp(&self, ifname: &str, enabled: bool) -> Result<()> {
        self.run_retry(&s(&["dhcpserver", "modify", "--ifname", ifname, if enabled { "--enable" } else { "--disable" }])).map(drop)
    }
}

#[cfg(test)]
#[path = "driver/tests.rs"]
mod tests;
