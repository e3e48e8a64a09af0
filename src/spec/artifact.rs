//! What lab fetches and for which processor: artifacts with their checksums, architectures.
//! A leaf of the spec: the image catalog and the lab file both use it.

use std::fmt;

/// A CPU architecture, of this computer or of the lab's machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Arch {
    #[default]
    X86_64,
    Aarch64,
}

impl Arch {
    /// What lab itself was built for.
    pub fn current() -> Self {
        if cfg!(target_arch = "aarch64") { Self::Aarch64 } else { Self::X86_64 }
    }

    /// The name lab files and `uname -m` use.
    pub fn name(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Aarch64 => "aarch64",
        }
    }
    /// From `uname -m` (or a lab file key).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "x86_64" | "amd64" | "x64" => Some(Self::X86_64),
            "aarch64" | "arm64" => Some(Self::Aarch64),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChecksumAlgo {
    Sha256,
    Sha512,
}

impl fmt::Display for ChecksumAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        })
    }
}

/// How a download is verified before use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// A digest written in the lab file or the image catalog (lowercase hex).
    Pinned { algo: ChecksumAlgo, hex: String },
    /// A checksum file published next to the download.
    File { algo: ChecksumAlgo, url: String },
}

/// Something lab downloads once on the host and pushes to the nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub url: String,
    pub checksum: Checksum,
}

impl Artifact {
    /// The file name at the end of the URL.
    pub fn file_name(&self) -> &str {
        self.url.rsplit('/').next().unwrap_or(&self.url)
    }
}
