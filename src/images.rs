//! The OS image catalog: one YAML file per image in `images/`, built into the binary.

use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::labfile::yaml::Document;
use crate::labfile::{Artifact, Checksum, ChecksumAlgo, FieldPath, checks};
pub use crate::provider::virtualbox::driver::Arch;

/// The files of `images/`, in the order `lab` lists them.
const SOURCES: &[(&str, &str)] = &[
    ("centos-stream-9.yaml", include_str!("../images/centos-stream-9.yaml")),
    ("rocky-9.yaml", include_str!("../images/rocky-9.yaml")),
    ("almalinux-9.yaml", include_str!("../images/almalinux-9.yaml")),
    ("centos-stream-10.yaml", include_str!("../images/centos-stream-10.yaml")),
    ("centos-7.yaml", include_str!("../images/centos-7.yaml")),
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
    /// The pykickstart syntax version for `ksvalidator -v`.
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    name: String,
    title: String,
    iso: RawIso,
    ostype: String,
    kickstart: Family,
    offline: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIso {
    url: String,
    sha256: Option<String>,
    checksum_url: Option<String>,
    algorithm: Option<String>,
    size_mib: u64,
}

fn parse(file: &str, text: &str) -> Result<Image, String> {
    let doc = Document::parse(Path::new(file), text).map_err(|d| d.to_string())?;
    let raw: RawImage = doc.get(&FieldPath::root()).map_err(|d| d.to_string())?.ok_or("empty image file")?;
    checks::url(&raw.iso.url)?;
    let checksum = match (raw.iso.sha256, raw.iso.checksum_url) {
        (Some(h), None) => Checksum::Pinned { algo: ChecksumAlgo::Sha256, hex: checks::hex_digest(&h, 64)? },
        (None, Some(u)) => {
            checks::url(&u)?;
            let algo = match raw.iso.algorithm.as_deref() {
                Some("sha256") | None => ChecksumAlgo::Sha256,
                Some("sha512") => ChecksumAlgo::Sha512,
                Some(other) => return Err(format!("{file}: unknown algorithm {other}")),
            };
            Checksum::File { algo, url: u }
        }
        _ => return Err(format!("{file}: give exactly one of iso.sha256 and iso.checksum_url")),
    };
    Ok(Image {
        name: raw.name,
        title: raw.title,
        arch: Arch::X86_64,
        iso: Artifact { url: raw.iso.url, checksum },
        size_mib: raw.iso.size_mib,
        ostype: raw.ostype,
        kickstart: raw.kickstart,
        offline: raw.offline,
    })
}

/// Every image of the catalog. The catalog is part of the binary, so a broken file is a bug
/// caught by the unit tests, never a user's problem.
pub fn all() -> &'static [Image] {
    static CATALOG: OnceLock<Vec<Image>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        SOURCES
            .iter()
            .filter_map(|(file, text)| match parse(file, text) {
                Ok(img) => Some(img),
                Err(e) => {
                    debug_assert!(false, "broken image catalog entry: {e}");
                    None
                }
            })
            .collect()
    })
}

pub fn find(name: &str) -> Option<Image> {
    all().iter().find(|i| i.name == name).cloned()
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|i| i.name.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_parses_and_names_match_files() {
        for (file, text) in SOURCES {
            let img = parse(file, text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(format!("{}.yaml", img.name), *file);
        }
        assert_eq!(all().len(), SOURCES.len());
    }

    #[test]
    fn families() {
        assert_eq!(find("centos-7").map(|i| i.kickstart), Some(Family::El7));
        assert_eq!(find("centos-stream-9").map(|i| i.kickstart), Some(Family::El9));
        assert_eq!(find("centos-stream-10").map(|i| i.kickstart), Some(Family::El10));
        assert!(find("windows-11").is_none());
    }
}
