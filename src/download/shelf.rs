//! Extra, read-only cache folders (`LAB_CACHE_PATH`): a USB stick or a share a teacher filled
//! with `lab fetch --into DIR`. Each holds the files under their own names and a manifest,
//! `lab-cache.json`, with each file's URL, checksum and size (and, for exported bases, their
//! fingerprint). The manifest never decides a checksum: lab looks there for a file with the
//! digest it already has (pinned in the lab file, or read from the checksum URL), checks the
//! file against it, and copies it into its own cache (a stick can be unplugged afterwards).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The manifest's file name in a shelf folder.
pub const MANIFEST: &str = "lab-cache.json";

/// One downloaded file in a shelf.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// The file's name in the folder.
    pub file: String,
    pub url: String,
    /// The published checksum file it was verified against, when not pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_url: Option<String>,
    /// `sha256` or `sha512`.
    pub algo: String,
    pub digest: String,
    pub size: u64,
}

/// An exported base image in a shelf (`lab base export`'s file).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BaseEntry {
    pub file: String,
    pub name: String,
    pub fingerprint: String,
    pub arch: String,
    pub image: String,
    pub sha256: String,
    pub size: u64,
}

/// `lab-cache.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(default)]
    pub files: Vec<Entry>,
    #[serde(default)]
    pub bases: Vec<BaseEntry>,
}

impl Manifest {
    /// The manifest of `dir`; empty when it has none.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST);
        match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| Error::Preflight {
                problem: format!("{} is not a manifest lab can read: {e}", path.display()),
                fix: "fill the folder again with `lab fetch --into`".into(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::Internal(e.to_string()))?;
        crate::fsx::write_atomic(&dir.join(MANIFEST), text.as_bytes(), crate::fsx::Access::Public)
    }

    /// Adds or replaces the entry for the same file name.
    pub fn put(&mut self, e: Entry) {
        self.files.retain(|x| x.file != e.file);
        self.files.push(e);
        self.files.sort_by(|a, b| a.file.cmp(&b.file));
    }

    pub fn put_base(&mut self, e: BaseEntry) {
        self.bases.retain(|x| x.file != e.file && x.fingerprint != e.fingerprint);
        self.bases.push(e);
        self.bases.sort_by(|a, b| a.file.cmp(&b.file));
    }
}

/// The shelf folders: `LAB_CACHE_PATH`, separated as `PATH` is on this system (`;` on
/// Windows, `:` elsewhere).
pub fn dirs() -> Vec<PathBuf> {
    std::env::var_os("LAB_CACHE_PATH").map(|v| std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()).collect()).unwrap_or_default()
}

/// Every shelf's manifest with its folder (a folder without one holds nothing for lab).
fn shelves(dirs: &[PathBuf]) -> Vec<(PathBuf, Manifest)> {
    dirs.iter().filter_map(|d| Manifest::read(d).ok().map(|m| (d.clone(), m))).collect()
}

/// Files in the shelves of `dirs` with this checksum, as paths.
pub fn with_digest(dirs: &[PathBuf], algo: &str, digest: &str) -> Vec<PathBuf> {
    shelves(dirs).into_iter().flat_map(|(d, m)| m.files.into_iter().filter(|e| e.algo == algo && e.digest == digest).map(move |e| d.join(e.file))).collect()
}

/// An exported base with `fingerprint` in the shelves of `LAB_CACHE_PATH`.
pub fn base_with(fingerprint: &str) -> Option<(PathBuf, BaseEntry)> {
    shelves(&dirs()).into_iter().find_map(|(d, m)| m.bases.into_iter().find(|b| b.fingerprint == fingerprint).map(|b| (d.join(&b.file), b)))
}
