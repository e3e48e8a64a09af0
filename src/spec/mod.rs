//! The lab file: what the user wrote, parsed and validated, with no side effects beyond reading.
//!
//! `parse` is pure (text in, [`Lab`] or every problem out); `load` reads the file and the host
//! facts validation depends on (VirtualBox's `networks.conf`).

pub mod artifact;
pub mod checks;
pub mod diag;
pub mod images;
pub mod net;
mod raw;
pub mod templates;
mod validate;
pub mod yaml;

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub use artifact::{Arch, Artifact, Checksum, ChecksumAlgo};
pub use diag::{Diagnostic, FieldPath};
pub use net::Ipv4Net;
pub use raw::{ProviderKind, Role};
pub use validate::BASE_DISK_GIB;

use images::Image;

/// Facts about the host that validation needs; gathered by the caller so `parse` stays pure.
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// Text of `/etc/vbox/networks.conf`, when that file exists.
    pub networks_conf: Option<String>,
    /// This computer's architecture: VirtualBox runs guests of its own architecture only.
    pub arch: Arch,
    /// Whether this computer runs Linux (the sandbox provider needs it).
    pub linux: bool,
}

impl Default for HostFacts {
    fn default() -> Self {
        Self { networks_conf: None, arch: Arch::X86_64, linux: true }
    }
}

/// A validated lab.
#[derive(Debug, Clone)]
pub struct Lab {
    /// The lab file, as given or found.
    pub file: PathBuf,
    pub name: String,
    pub provider: ProviderKind,
    /// The OS image (VirtualBox only).
    pub image: Option<Image>,
    pub network: Network,
    pub user: String,
    pub nodes: Vec<Node>,
    pub java: Java,
    pub spark: Spark,
    pub verify: Verify,
    pub locale: Locale,
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // read by the sandbox provider (Linux only)
    pub sandbox: SandboxOptions,
    pub existing: ExistingOptions,
    pub qemu: QemuOptions,
    /// This computer's architecture when the file was read.
    pub host_arch: Arch,
    /// How VirtualBox VMs get their OS (VirtualBox only).
    pub install: InstallMode,
}

/// How VirtualBox VMs get their OS: once into a base kept for every lab, each node a linked
/// clone of it (`base`, the default where the image has cloud-init), or each VM from the ISO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstallMode {
    Base,
    PerNode,
}

impl Lab {
    /// The folder holding the lab file; `.lab/` lives there.
    pub fn dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }
    pub fn master(&self) -> &Node {
        // Validation guarantees exactly one master.
        self.nodes.iter().find(|n| n.role == Role::Master).unwrap_or(&self.nodes[0])
    }
    pub fn workers(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.role == Role::Worker)
    }
    /// What lab names things of this lab by: `lab-<lab>` (its key's comment, its host-only
    /// interface's hint).
    pub fn tag(&self) -> String {
        format!("lab-{}", self.name)
    }

    /// How the names of the lab's machines begin: `lab-<lab>-`.
    pub fn machine_prefix(&self) -> String {
        format!("{}-", self.tag())
    }

    /// The name of `node`'s machine (VM, namespace): `lab-<lab>-<node>`.
    pub fn machine_name(&self, node: &str) -> String {
        format!("{}{node}", self.machine_prefix())
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }
    /// The architecture of the lab's machines when lab knows it before reaching them: the
    /// image's for VirtualBox, this computer's for the sandbox; `None` for existing machines.
    pub fn machine_arch(&self) -> Option<Arch> {
        match self.provider {
            ProviderKind::Virtualbox => self.image.as_ref().map(|i| i.arch),
            ProviderKind::Sandbox | ProviderKind::Qemu => Some(self.host_arch),
            ProviderKind::Existing => None,
        }
    }

    /// The SSH port of the nodes (22, or `existing.port`).
    pub fn ssh_port(&self) -> u16 {
        if self.provider == ProviderKind::Existing { self.existing.port } else { 22 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub cidr: Ipv4Net,
    /// The host's own address on the lab network (VirtualBox's host-only interface, the sandbox
    /// bridge).
    pub host: Ipv4Addr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub role: Role,
    pub ip: Ipv4Addr,
    pub cpus: u32,
    pub memory_mib: u32,
    pub disk_gib: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JavaInstall {
    /// The distribution's JDK package (the one that ships `jps`).
    Package,
    /// A JDK tarball unpacked under /opt, per architecture.
    Tarball(Tarballs),
}

/// JDK tarballs: one for any architecture (`url` + `sha256`), or one per architecture.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tarballs {
    pub any: Option<Artifact>,
    pub per_arch: std::collections::BTreeMap<Arch, Artifact>,
}

impl Tarballs {
    /// The tarball for machines of `arch`.
    pub fn for_arch(&self, arch: Arch) -> Option<&Artifact> {
        self.per_arch.get(&arch).or(self.any.as_ref())
    }
    /// The tarballs lab needs for machines of `arch` (every one when it is not known).
    pub fn needed(&self, arch: Option<Arch>) -> Vec<(Option<Arch>, &Artifact)> {
        match arch {
            Some(a) => self.for_arch(a).map(|x| (Some(a), x)).into_iter().collect(),
            None => self.per_arch.iter().map(|(a, x)| (Some(*a), x)).chain(self.any.iter().map(|x| (None, x))).collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Java {
    pub version: u32,
    pub install: JavaInstall,
}

/// A release number such as 3.5.8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl std::str::FromStr for Version {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let parts: Vec<u32> = s
            .split('.')
            .map(|p| if p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()) { Err(()) } else { p.parse().map_err(|_| ()) })
            .collect::<Result<_, _>>()?;
        match parts[..] {
            [a, b, c] => Ok(Self(a, b, c)),
            _ => Err(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spark {
    pub version: Version,
    pub artifact: Artifact,
    pub worker_cores: Option<u32>,
    pub worker_memory: Option<String>,
    /// Python 3 on every node, for PySpark.
    pub python: bool,
    /// The Spark Connect server on the master, when the lab runs one.
    pub connect: Option<Connect>,
    /// The history server's port on the master, when the lab runs one.
    pub history_port: Option<u16>,
    /// Heap of each Spark daemon (master, worker, history server), like `512m`.
    pub daemon_memory: String,
}

/// The Spark Connect server on the master: its port and heap (it is the driver of every session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    pub port: u16,
    pub memory: String,
}

impl Spark {
    /// The first release whose distribution carries the Spark Connect server
    /// (`jars/spark-connect_*.jar`, `sbin/start-connect-server.sh`).
    pub const CONNECT_SINCE: Version = Version(4, 0, 0);
    pub const CONNECT_PORT: u16 = 15002;
    pub const HISTORY_PORT: u16 = 18080;
    pub const DAEMON_MEMORY: &str = "512m";
    pub const CONNECT_MEMORY: &str = "1g";
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verify {
    pub spark_shell: bool,
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locale {
    pub lang: String,
    pub keyboard: String,
    pub timezone: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxOptions {
    /// Lower directory of every node's overlay root; `/` when not set.
    pub rootfs: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExistingOptions {
    pub login: Option<String>,
    pub identity_file: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
    pub port: u16,
    /// The lab user may be an account that exists already (`existing.take_account: true`):
    /// lab gives it passwordless sudo and the lab key. Without it, lab refuses such an account.
    pub take_account: bool,
}

/// `qemu:` settings: the cloud image every node's disk is an overlay on, and whether the guests
/// reach beyond this computer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuOptions {
    /// The lab's own image (`qemu.image`), else the catalog image's cloud image for this
    /// computer's architecture; `None` for other providers.
    pub image: Option<Artifact>,
    /// What progress lines call the image (the catalog's title, or the URL's file name).
    pub title: String,
    /// Its size as the catalog states it (a lab's own image: unknown).
    pub size_mib: Option<u64>,
    /// QEMU's user network lets the guests out (`internet: false`: `restrict=on`).
    pub internet: bool,
}

impl Default for QemuOptions {
    fn default() -> Self {
        Self { image: None, title: String::new(), size_mib: None, internet: true }
    }
}

/// Parses and validates a lab file's text. Returns every problem found, sorted by position.
pub fn parse(file: &Path, text: &str, facts: &HostFacts) -> Result<Lab, Vec<Diagnostic>> {
    let doc = yaml::Document::parse(file, text).map_err(|d| vec![d])?;
    validate::lab(&doc, facts)
}
