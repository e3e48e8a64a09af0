//! Digests: a checksum file read for one file's digest, a file hashed, and the stamp that says
//! a cache file was verified (its size and time, so it is not hashed again on every run).

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256, Sha512};

use crate::error::{Error, Result};
use crate::spec::{Artifact, ChecksumAlgo, checks};

/// Reads the digest for `file_name` out of a checksum file. Understands GNU (`HEX  NAME`),
/// BSD (`SHA256 (NAME) = HEX`, also inside PGP clear-signed CHECKSUM files) and Apache's old
/// `gpg --print-md` layout (`NAME: HEX HEX ...` over several lines); falls back to the only
/// digest in the file.
pub fn parse_checksum_file(text: &str, file_name: &str, algo: &ChecksumAlgo) -> Option<String> {
    let len = if *algo == ChecksumAlgo::Sha256 { 64 } else { 128 };
    let is_digest = |s: &str| checks::hex_digest(s, len).ok();
    // BSD style.
    for line in text.lines() {
        if let Some((lhs, rhs)) = line.split_once(") = ")
            && lhs.split_once(" (").is_some_and(|(_, name)| name == file_name)
            && let Some(d) = is_digest(rhs.trim())
        {
            return Some(d);
        }
    }
    // GNU style.
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        if let (Some(hex), Some(name)) = (parts.next(), parts.next())
            && name.trim_start_matches('*') == file_name
            && let Some(d) = is_digest(hex)
        {
            return Some(d);
        }
    }
    // Apache's old multi-line layout: everything after "NAME:".
    if let Some(idx) = text.find(&format!("{file_name}:")) {
        let rest = &text[idx + file_name.len() + 1..];
        let hex: String = rest.chars().take_while(|c| c.is_ascii_hexdigit() || c.is_whitespace()).collect();
        if let Some(d) = is_digest(&hex) {
            return Some(d);
        }
    }
    // A file holding a single digest.
    let found: Vec<String> = text.split(|c: char| !c.is_ascii_hexdigit()).filter_map(is_digest).collect();
    if found.len() == 1 { found.into_iter().next() } else { None }
}

pub fn hash_file(path: &Path, algo: &ChecksumAlgo) -> Result<String> {
    let mut f = File::open(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut sha256 = Sha256::new();
    let mut sha512 = Sha512::new();
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        match algo {
            ChecksumAlgo::Sha256 => sha256.update(&buf[..n]),
            ChecksumAlgo::Sha512 => sha512.update(&buf[..n]),
        }
    }
    Ok(match algo {
        ChecksumAlgo::Sha256 => format!("{:x}", sha256.finalize()),
        ChecksumAlgo::Sha512 => format!("{:x}", sha512.finalize()),
    })
}

/// Where the size and time of a verified cache file are recorded.
pub(super) fn stamp_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".verified");
    PathBuf::from(p)
}

pub(super) fn identity(meta: &fs::Metadata) -> String {
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    format!("{} {mtime}\n", meta.len())
}

/// Records that `path` was just verified.
pub(super) fn stamp(path: &Path) {
    if let Ok(meta) = fs::metadata(path) {
        let _ = crate::fsx::write_atomic(&stamp_path(path), identity(&meta).as_bytes(), crate::fsx::Access::Public);
    }
}

/// Where a checksum read from `url` for `artifact` is kept in the cache.
pub(super) fn sums_key(url: &str, artifact: &Artifact) -> String {
    format!("{:x}", Sha256::digest(format!("{url}\n{}", artifact.file_name()).as_bytes()))
}
