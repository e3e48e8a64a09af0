//! The lab file as written: shapes and types only. Meaning and cross-field rules live in
//! `validate`.

use serde::Deserialize;

/// Top-level keys, in the order the reference documents them.
pub const TOP_KEYS: &[&str] = &[
    "name",
    "provider",
    "image",
    "network",
    "user",
    "defaults",
    "nodes",
    "workers",
    "java",
    "spark",
    "verify",
    "locale",
    "sandbox",
    "existing",
    "qemu",
    "iso",
    "install",
    "offline",
    "mirror",
    "insecure_mirror",
];

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Virtualbox,
    Sandbox,
    Existing,
    Qemu,
}

impl ProviderKind {
    /// The name as written in the lab file.
    pub fn name(self) -> &'static str {
        match self {
            Self::Virtualbox => "virtualbox",
            Self::Sandbox => "sandbox",
            Self::Existing => "existing",
            Self::Qemu => "qemu",
        }
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub cidr: String,
    pub host: Option<String>,
    /// First node address for the `workers: N` shorthand (read by path in `validate::nodes`).
    #[allow(dead_code)]
    pub start: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub cpus: Option<u32>,
    pub memory: Option<u32>,
    pub disk: Option<u32>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Master,
    Worker,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub name: String,
    pub role: Role,
    pub ip: String,
    pub cpus: Option<u32>,
    pub memory: Option<u32>,
    pub disk: Option<u32>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum JavaInstall {
    Tarball,
    Package,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Java {
    pub version: u32,
    pub install: JavaInstall,
    pub url: Option<String>,
    pub sha256: Option<String>,
    /// A tarball per architecture (`url` + `sha256` under each).
    pub x86_64: Option<Tarball>,
    pub aarch64: Option<Tarball>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Tarball {
    pub url: String,
    pub sha256: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Spark {
    pub version: String,
    pub url: String,
    pub sha512: Option<String>,
    pub checksum_url: Option<String>,
    pub worker_cores: Option<u32>,
    pub worker_memory: Option<String>,
    /// Provision Python 3 on every node for PySpark (default true).
    pub python: Option<bool>,
    /// The Spark Connect server on the master (default: where the release carries it, 4.0+).
    pub connect: Option<bool>,
    pub connect_port: Option<u16>,
    /// Heap of the Spark Connect server, the driver of every Connect session.
    pub connect_memory: Option<String>,
    /// The history server on the master (default true).
    pub history: Option<bool>,
    pub history_port: Option<u16>,
    /// Heap of each Spark daemon (master, worker, history server).
    pub daemon_memory: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    pub spark_shell: Option<bool>,
    pub timeout: Option<u64>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Locale {
    pub lang: Option<String>,
    pub keyboard: Option<String>,
    pub timezone: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Sandbox {
    pub rootfs: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Existing {
    /// The account lab logs in as on existing machines (it needs sudo).
    pub login: Option<String>,
    pub identity_file: Option<String>,
    pub known_hosts: Option<String>,
    pub port: Option<u16>,
    /// `true`: the lab user may be an account that already exists (lab gives it sudo and a key).
    pub take_account: Option<bool>,
}

/// Another copy of the image's ISO (a local file, a mirror) to use instead of the catalog's.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Iso {
    pub url: String,
    pub sha256: Option<String>,
    pub checksum_url: Option<String>,
}

/// `qemu:` settings.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Qemu {
    /// The lab's own cloud image (instead of the catalog image's).
    pub image: Option<QemuImage>,
    /// Whether the guests reach beyond this computer through QEMU's user network (default true).
    pub internet: Option<bool>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct QemuImage {
    pub url: String,
    pub sha256: Option<String>,
    pub checksum_url: Option<String>,
}
