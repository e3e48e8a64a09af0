//! The OS image catalog: one YAML file per image in `images/`, built into the binary. Each image
//! lists its ISO per architecture; a lab gets the one for the architecture this computer's
//! VirtualBox runs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;

pub use crate::spec::artifact::Arch;
use crate::spec::artifact::{Artifact, Checksum, ChecksumAlgo};
use crate::spec::checks;
use crate::spec::diag::FieldPath;
use crate::spec::yaml::Document;

/// The files of `images/`, in the order `lab` lists them.
const SOURCES: &[(&str, &str)] = &[
    ("centos-stream-9.yaml", include_str!("../../images/centos-stream-9.yaml")),
    ("rocky-9.yaml", include_str!("../../images/rocky-9.yaml")),
    ("almalinux-9.yaml", include_str!("../../images/almalinux-9.yaml")),
    ("rocky-9-dvd.yaml", include_str!("../../images/rocky-9-dvd.yaml")),
    ("almalinux-9-dvd.yaml", include_str!("../../images/almalinux-9-dvd.yaml")),
    ("centos-stream-10.yaml", include_str!("../../images/centos-stream-10.yaml")),
    ("centos-7.yaml", include_str!("../../images/centos-7.yaml")),
];

/// Kickstart template family (see `kickstart/`).
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    El7,
    El9,
    El10,
}

impl Family {
    /// The distribution package that ships a JDK with `jps` for Java `version`, if the family has one.
    pub fn java_package(self, version: u32) -> Option<String> {
        let name = |v: &str| Some(format!("java-{v}-openjdk-devel"));
        match (self, version) {
            (Self::El7 | Self::El9, 8) => name("1.8.0"),
            (Self::El7 | Self::El9, 11) => name("11"),
            (Self::El9, 17 | 21) | (Self::El10, 21 | 25) => name(&version.to_string()),
            _ => None,
        }
    }
}

/// An image for one architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub name: String,
    pub title: String,
    /// The guest architecture the ISO installs.
    pub arch: Arch,
    pub iso: Artifact,
    pub size_mib: u64,
    /// VirtualBox `--ostype`.
    pub ostype: String,
    pub kickstart: Family,
    /// True when the ISO holds every package the install needs.
    pub offline: bool,
    /// The package repositories on the ISO (as its `.treeinfo` names them).
    pub repositories: Vec<String>,
    /// Which of the packages lab relies on the ISO carries.
    pub carries: Vec<Carried>,
    /// The image's network install, when it has one: a boot ISO (the installer only) and the
    /// distribution's repositories the packages come from.
    pub network: Option<NetInstall>,
    /// Where this lab installs from: the ISO's own repositories, or a network install (then
    /// `iso` is the boot ISO and `repositories` the mirror's).
    pub source: Source,
    /// The distribution's cloud image for this architecture (qcow2 with cloud-init), for the
    /// qemu provider.
    pub cloud: Option<CloudImage>,
}

/// A distribution's cloud image: booted as it is, its identity from lab's seed disc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudImage {
    pub image: Artifact,
    pub size_mib: u64,
}

/// A network install as the image file states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetInstall {
    /// The boot ISO: Anaconda and no packages.
    pub iso: Artifact,
    pub size_mib: u64,
    /// The mirror's root; each repository lives at `repo_path` below it.
    pub mirror: String,
    /// `{repo}` and `{arch}` are replaced: `BaseOS/x86_64/os/`.
    pub repo_path: String,
    /// What a minimal install with cloud-init and a JDK fetches from the mirror (dnf's "Total
    /// download size", rounded up).
    pub packages_mib: u64,
    /// The mirror's repositories and what they carry, where they differ from the image's ISO
    /// (a minimal ISO has `minimal` + BaseOS; the mirror has BaseOS + AppStream).
    pub repositories: Vec<String>,
    pub carries: Vec<Carried>,
}

/// Where the installer takes its packages from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The install ISO's own repositories (a DVD): no network while installing.
    Media,
    /// The distribution's mirror: `(name, URL)` of each repository, the first the base one
    /// (the kickstart's `url`, the others `repo` lines); about `packages_mib` fetched per install.
    Network { repos: Vec<(String, String)>, packages_mib: u64 },
}

/// A package lab relies on that an ISO may or may not carry.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Carried {
    /// cloud-init (AppStream on EL9/EL10): what gives each clone of a base its identity.
    CloudInit,
    /// The distribution's OpenJDK packages (AppStream).
    Jdk,
    /// python3 (BaseOS on EL9/EL10), for PySpark.
    Python3,
}

impl Image {
    /// The ISO carries `what`: a kickstart may ask for it without the network.
    pub fn carries(&self, what: Carried) -> bool {
        self.carries.contains(&what)
    }

    /// Only an ISO that carries cloud-init can make a base: its clones take their identity from
    /// a seed disc at first boot.
    pub fn can_make_base(&self) -> bool {
        self.kickstart != Family::El7 && self.carries(Carried::CloudInit)
    }

    /// This image installing over the network from `mirror` (the image's own when `None`): the
    /// boot ISO instead of the DVD. `None` when the image has no network install.
    pub fn over_network(&self, mirror: Option<&str>) -> Option<Self> {
        let net = self.network.as_ref()?;
        let root = mirror.unwrap_or(&net.mirror);
        let root = if root.ends_with('/') { root.to_string() } else { format!("{root}/") };
        let repos =
            net.repositories.iter().map(|r| (r.clone(), format!("{root}{}", net.repo_path.replace("{repo}", r).replace("{arch}", self.arch.name())))).collect();
        Some(Self {
            iso: net.iso.clone(),
            size_mib: net.size_mib,
            repositories: net.repositories.clone(),
            carries: net.carries.clone(),
            offline: false,
            source: Source::Network { repos, packages_mib: net.packages_mib },
            ..self.clone()
        })
    }

    /// The repositories' URLs of a network install (empty for an install from media).
    pub fn mirror_repos(&self) -> &[(String, String)] {
        match &self.source {
            Source::Network { repos, .. } => repos,
            Source::Media => &[],
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    name: String,
    title: String,
    iso: BTreeMap<String, RawIso>,
    kickstart: Family,
    offline: bool,
    repositories: Vec<String>,
    carries: Vec<Carried>,
    network: Option<RawNetwork>,
    cloud: Option<BTreeMap<String, RawCloud>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCloud {
    url: String,
    sha256: Option<String>,
    checksum_url: Option<String>,
    algorithm: Option<String>,
    size_mib: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    mirror: String,
    repo_path: String,
    packages_mib: u64,
    iso: BTreeMap<String, RawIso>,
    repositories: Option<Vec<String>>,
    carries: Option<Vec<Carried>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIso {
    url: String,
    sha256: Option<String>,
    checksum_url: Option<String>,
    algorithm: Option<String>,
    size_mib: u64,
    ostype: String,
}

/// A download of an image file for `arch`: its URL and exactly one of a pinned SHA-256 and a
/// checksum file.
fn artifact_of(file: &str, arch: Arch, url: &str, sha256: Option<&str>, checksum_url: Option<&str>, algorithm: Option<&str>) -> Result<Artifact, String> {
    checks::url(url)?;
    let checksum = match (sha256, checksum_url) {
        (Some(h), None) => Checksum::Pinned { algo: ChecksumAlgo::Sha256, hex: checks::hex_digest(h, 64)? },
        (None, Some(u)) => {
            checks::url(u)?;
            let algo = match algorithm {
                Some("sha256") | None => ChecksumAlgo::Sha256,
                Some("sha512") => ChecksumAlgo::Sha512,
                Some(other) => return Err(format!("{file}: unknown algorithm {other}")),
            };
            Checksum::File { algo, url: u.to_string() }
        }
        _ => return Err(format!("{file}: give exactly one of sha256 and checksum_url for {}", arch.name())),
    };
    Ok(Artifact { url: url.to_string(), checksum })
}

fn parse(file: &str, text: &str) -> Result<Vec<Image>, String> {
    let doc = Document::parse(Path::new(file), text).map_err(|d| d.to_string())?;
    let raw: RawImage = doc.get(&FieldPath::root()).map_err(|d| d.to_string())?.ok_or("empty image file")?;
    let mut out = Vec::new();
    let artifact = |arch: Arch, iso: &RawIso| artifact_of(file, arch, &iso.url, iso.sha256.as_deref(), iso.checksum_url.as_deref(), iso.algorithm.as_deref());
    let cloud = |arch: Arch| -> Result<Option<CloudImage>, String> {
        let Some(c) = raw.cloud.as_ref().and_then(|m| m.get(arch.name())) else { return Ok(None) };
        let image = artifact_of(file, arch, &c.url, c.sha256.as_deref(), c.checksum_url.as_deref(), c.algorithm.as_deref())?;
        Ok(Some(CloudImage { image, size_mib: c.size_mib }))
    };
    for arch in raw.cloud.iter().flat_map(|m| m.keys()) {
        if !raw.iso.contains_key(arch) {
            return Err(format!("{file}: a cloud image for {arch}, which has no ISO"));
        }
    }
    for (arch, iso) in &raw.iso {
        let arch = Arch::parse(arch).ok_or_else(|| format!("{file}: unknown architecture {arch}"))?;
        let network = match &raw.network {
            Some(n) => {
                checks::url(&n.mirror)?;
                let boot = n.iso.get(arch.name()).ok_or_else(|| format!("{file}: the network install has no boot ISO for {}", arch.name()))?;
                Some(NetInstall {
                    iso: artifact(arch, boot)?,
                    size_mib: boot.size_mib,
                    mirror: n.mirror.clone(),
                    repo_path: n.repo_path.clone(),
                    packages_mib: n.packages_mib,
                    repositories: n.repositories.clone().unwrap_or_else(|| raw.repositories.clone()),
                    carries: n.carries.clone().unwrap_or_else(|| raw.carries.clone()),
                })
            }
            None => None,
        };
        out.push(Image {
            name: raw.name.clone(),
            title: raw.title.clone(),
            arch,
            iso: artifact(arch, iso)?,
            size_mib: iso.size_mib,
            ostype: iso.ostype.clone(),
            kickstart: raw.kickstart,
            offline: raw.offline,
            repositories: raw.repositories.clone(),
            carries: raw.carries.clone(),
            network,
            source: Source::Media,
            cloud: cloud(arch)?,
        });
    }
    Ok(out)
}

/// Every image of the catalog, for every architecture. The catalog is part of the binary, so a
/// broken file is a bug caught by the unit tests, never a user's problem.
pub fn all() -> &'static [Image] {
    static CATALOG: OnceLock<Vec<Image>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        SOURCES
            .iter()
            .flat_map(|(file, text)| match parse(file, text) {
                Ok(imgs) => imgs,
                Err(e) => {
                    debug_assert!(false, "broken image catalog entry: {e}");
                    Vec::new()
                }
            })
            .collect()
    })
}

/// The image `name` for machines of `arch`; `Err` lists the architectures it has (empty: no
/// such image).
pub fn find(name: &str, arch: Arch) -> Result<Image, Vec<Arch>> {
    let found: Vec<&Image> = all().iter().filter(|i| i.name == name).collect();
    found.iter().find(|i| i.arch == arch).map(|i| (*i).clone()).ok_or_else(|| found.iter().map(|i| i.arch).collect())
}

/// Image names, each once, in catalog order.
pub fn names() -> Vec<&'static str> {
    let mut v: Vec<&str> = Vec::new();
    for i in all() {
        if !v.contains(&i.name.as_str()) {
            v.push(&i.name);
        }
    }
    v
}

/// The images that exist for `arch`.
pub fn names_for(arch: Arch) -> Vec<&'static str> {
    names().into_iter().filter(|n| all().iter().any(|i| i.name == *n && i.arch == arch)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_parses_and_names_match_files() {
        for (file, text) in SOURCES {
            let imgs = parse(file, text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(!imgs.is_empty());
            for img in imgs {
                assert_eq!(format!("{}.yaml", img.name), *file);
                assert!(img.iso.url.contains(img.arch.name()), "{file}: the {} ISO's URL names another architecture: {}", img.arch.name(), img.iso.url);
            }
        }
        assert_eq!(names().len(), SOURCES.len());
    }

    #[test]
    fn families_and_architectures() {
        assert_eq!(find("centos-7", Arch::X86_64).map(|i| i.kickstart), Ok(Family::El7));
        assert_eq!(find("centos-stream-9", Arch::X86_64).map(|i| i.kickstart), Ok(Family::El9));
        assert_eq!(find("centos-stream-10", Arch::X86_64).map(|i| i.kickstart), Ok(Family::El10));
        assert_eq!(find("windows-11", Arch::X86_64), Err(vec![]));
        for name in ["centos-stream-9", "centos-stream-10", "rocky-9", "almalinux-9"] {
            let arm = find(name, Arch::Aarch64).unwrap_or_else(|_| panic!("{name} has no aarch64 ISO"));
            assert!(arm.ostype.ends_with("_arm64"), "{name}: {}", arm.ostype);
        }
        assert_eq!(find("centos-7", Arch::Aarch64), Err(vec![Arch::X86_64]), "CentOS 7 has no aarch64 ISO for VirtualBox");
        assert!(!names_for(Arch::Aarch64).contains(&"centos-7"));
    }

    /// What each ISO carries, as the distributions build them: a DVD has BaseOS and AppStream
    /// (cloud-init, the JDKs); Rocky's minimal ISO has only `minimal` and BaseOS; CentOS 7's
    /// Minimal ISO has neither cloud-init nor a JDK.
    #[test]
    fn only_isos_that_carry_cloud_init_make_bases() {
        let base = |n: &str| find(n, Arch::X86_64).map(|i| i.can_make_base()).unwrap_or_else(|_| panic!("{n}"));
        for n in ["centos-stream-9", "centos-stream-10", "rocky-9-dvd", "almalinux-9-dvd"] {
            assert!(base(n), "{n}");
            assert!(find(n, Arch::X86_64).is_ok_and(|i| i.carries(Carried::Jdk) && i.repositories.iter().any(|r| r == "AppStream")), "{n}");
        }
        for n in ["rocky-9", "almalinux-9", "centos-7"] {
            assert!(!base(n), "{n}");
            assert!(find(n, Arch::X86_64).is_ok_and(|i| !i.carries(Carried::Jdk)), "{n}");
        }
    }
}
