//! Artifacts (ISO, JDK, Spark) through one downloader: a content-addressed cache shared by all
//! labs, a lock per artifact so two runs never download the same thing twice, resume with HTTP
//! Range, checksum verified before use (a mismatch deletes the file), retries with backoff on
//! transient errors only, and `file://` URLs.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;

use crate::error::{Error, Result};
use crate::spec::{Artifact, Checksum, ChecksumAlgo};
use crate::ui::Reporter;

mod digest;
pub mod shelf;

pub use digest::{hash_file, parse_checksum_file};
use digest::{identity, stamp, stamp_path, sums_key};

/// No network: every file must come from the cache or a shelf (`lab up --offline`).
static OFFLINE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_offline(on: bool) {
    OFFLINE.store(on, std::sync::atomic::Ordering::Relaxed);
}

fn offline_now() -> bool {
    OFFLINE.load(std::sync::atomic::Ordering::Relaxed)
}

fn offline_error(what: &str, url: &str) -> Error {
    Error::Preflight {
        problem: format!("offline (--offline), and {what} is in neither the download cache nor a LAB_CACHE_PATH folder ({url})"),
        fix: "on a computer with network, `lab fetch --into DIR` for this lab file; then set LAB_CACHE_PATH=DIR here (or drop --offline)".into(),
    }
}

/// A verified file in the cache, named after its checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    pub path: PathBuf,
    /// `sha256-<hex>` or `sha512-<hex>`.
    pub digest: String,
}

impl Cached {
    /// The hex digits of the checksum.
    pub fn hex(&self) -> &str {
        self.digest.split_once('-').map_or(self.digest.as_str(), |(_, h)| h)
    }
}

/// How long a download waits for another process downloading the same file.
const LOCK_WAIT: Duration = Duration::from_secs(3600);

const ATTEMPTS: u32 = 4;

/// The cache folder: `$LAB_CACHE_DIR`, else `lab` in the folder each system keeps its users'
/// caches in (the `dirs` crate asks the system): Windows `%LOCALAPPDATA%\lab` (the user's own,
/// on the system drive, whatever folder lab was started from), macOS `~/Library/Caches/lab`,
/// Linux `$XDG_CACHE_HOME/lab` or `~/.cache/lab`.
pub fn cache_dir() -> PathBuf {
    cache_dir_from(std::env::var_os("LAB_CACHE_DIR"), dirs::cache_dir())
}

fn cache_dir_from(named: Option<std::ffi::OsString>, system: Option<PathBuf>) -> PathBuf {
    match (named.filter(|d| !d.is_empty()), system) {
        (Some(d), _) => PathBuf::from(d),
        (None, Some(c)) => c.join("lab"),
        // No home folder at all (a service account): a folder of this user's temporary files.
        (None, None) => std::env::temp_dir().join("lab-cache"),
    }
}

#[derive(Debug)]
enum Failure {
    /// Worth another try (connection reset, timeout, 5xx, 429).
    Transient(String),
    Final(Error),
}

pub struct Downloader<'r> {
    cache: PathBuf,
    reporter: &'r dyn Reporter,
    /// Read-only cache folders looked in before downloading (`LAB_CACHE_PATH`).
    shelves: Vec<PathBuf>,
    /// No network at all (`lab up --offline`).
    offline: bool,
}

impl<'r> Downloader<'r> {
    pub fn new(reporter: &'r dyn Reporter) -> Result<Self> {
        Self::with_cache(cache_dir(), reporter)
    }

    pub fn with_cache(cache: PathBuf, reporter: &'r dyn Reporter) -> Result<Self> {
        for sub in ["", "partial", "sums", "locks"] {
            let d = cache.join(sub);
            fs::create_dir_all(&d).map_err(|e| Error::io(format!("creating the download cache {}", d.display()), e))?;
        }
        Ok(Self { cache, reporter, shelves: shelf::dirs(), offline: offline_now() })
    }

    /// This downloader looking in `dirs` (instead of `LAB_CACHE_PATH`) and, when `offline`,
    /// never on the network.
    #[cfg(test)]
    pub fn shelved(mut self, dirs: Vec<PathBuf>, offline: bool) -> Self {
        self.shelves = dirs;
        self.offline = offline;
        self
    }

    /// The checksum `artifact` must match, when it is known without the network: pinned in the
    /// lab file, or read from its checksum URL on this computer before. Never a shelf's word: a
    /// manifest only says which of its files match a digest lab has (whoever can write the
    /// classroom share must not choose what every student runs).
    pub fn known_digest(&self, artifact: &Artifact) -> Option<(ChecksumAlgo, String)> {
        match &artifact.checksum {
            Checksum::Pinned { algo, hex } => Some((algo.clone(), hex.clone())),
            Checksum::File { algo, url } => {
                fs::read_to_string(self.cache.join("sums").join(sums_key(url, artifact))).ok().map(|d| (algo.clone(), d.trim().to_string()))
            }
        }
    }

    /// Whether `artifact` can be had without the network: its checksum known here
    /// (`known_digest`), and the file in the cache or a shelf.
    pub fn available_offline(&self, artifact: &Artifact) -> bool {
        let Some((algo, digest)) = self.known_digest(artifact) else { return false };
        self.cache.join(format!("{algo}-{digest}")).is_file() || !shelf::with_digest(&self.shelves, &algo.to_string(), &digest).is_empty()
    }

    /// Where the cache keeps the file with this digest (present only once verified).
    pub fn cached_path(&self, algo: &ChecksumAlgo, hex: &str) -> PathBuf {
        self.cache.join(format!("{algo}-{hex}"))
    }

    /// The verified file for `artifact`, downloading it only when the cache lacks it (`fetched`
    /// is set when it did). A checksum read from a checksum file that no longer matches what the
    /// URL serves (a "latest" ISO moved upstream) is fetched again once.
    pub async fn fetch(&self, artifact: &Artifact, fetched: &mut bool) -> Result<Cached> {
        match self.fetch_once(artifact, fetched, false).await {
            Err(Error::Checksum { .. }) if matches!(artifact.checksum, Checksum::File { .. }) => self.fetch_once(artifact, fetched, true).await,
            other => other,
        }
    }

    async fn fetch_once(&self, artifact: &Artifact, fetched: &mut bool, fresh_sum: bool) -> Result<Cached> {
        let (algo, digest) = self.digest(artifact, fresh_sum).await?;
        let name = format!("{algo}-{digest}");
        let final_path = self.cache.join(&name);
        let cached = Cached { path: final_path.clone(), digest: name.clone() };
        if self.still_verified(&final_path, &algo, &digest)? {
            return Ok(cached);
        }
        // One download per artifact at a time, across processes: wait for the other one, saying
        // who it is, for a bounded time.
        let lock_path = self.cache.join("locks").join(format!("{name}.lock"));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(format!("opening {}", lock_path.display()), e))?;
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        let mut told = false;
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    if !told {
                        let holder = fs::read_to_string(&lock_path).unwrap_or_default();
                        self.reporter.note(&format!(
                            "{}: waiting for another download of it ({})",
                            artifact.file_name(),
                            if holder.trim().is_empty() { "another lab process".to_string() } else { holder.trim().to_string() }
                        ));
                        told = true;
                    }
                    if std::time::Instant::now() > deadline {
                        return Err(Error::Timeout { what: format!("waiting for another download of {}", artifact.url), after: LOCK_WAIT });
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("locking the download cache", e)),
            }
        }
        let _ = fs::write(&lock_path, format!("pid {}\n", std::process::id()));
        if self.still_verified(&final_path, &algo, &digest)? {
            return Ok(cached); // another run finished it while we waited
        }
        let partial = self.cache.join("partial").join(&name);
        // A shelf (LAB_CACHE_PATH) that has it: copied in and checked like a download.
        for from in shelf::with_digest(&self.shelves, &algo.to_string(), &digest) {
            self.reporter.note(&format!("{}: taking it from {}", artifact.file_name(), from.display()));
            if let Err(e) = self.copy_local(&from, &partial, artifact.file_name()) {
                self.reporter.note(&format!("{}: cannot read it ({e}); trying elsewhere", from.display()));
                continue;
            }
            if hash_file(&partial, &algo)? == digest {
                fs::rename(&partial, &final_path).map_err(|e| Error::io(format!("moving {} into the cache", partial.display()), e))?;
                stamp(&final_path);
                return Ok(cached);
            }
            let _ = fs::remove_file(&partial);
            self.reporter.note(&format!("{} is damaged (its {algo} is not the manifest's); not using it", from.display()));
        }
        if self.offline {
            return Err(offline_error(artifact.file_name(), &artifact.url));
        }
        *fetched = true;
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            match self.transfer(&artifact.url, &partial).await {
                Ok(()) => {
                    last.clear();
                    break;
                }
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Transient(e)) => {
                    last = e;
                    if attempt < ATTEMPTS {
                        tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt - 1))).await;
                    }
                }
            }
        }
        if !last.is_empty() {
            return Err(Error::Download { url: artifact.url.clone(), problem: format!("failed {ATTEMPTS} times; last error: {last}") });
        }
        let got = hash_file(&partial, &algo)?;
        if got != digest {
            let _ = fs::remove_file(&partial);
            return Err(Error::Checksum { url: artifact.url.clone(), algo: algo.to_string(), expected: digest, got });
        }
        fs::rename(&partial, &final_path).map_err(|e| Error::io(format!("moving {} into the cache", partial.display()), e))?;
        stamp(&final_path);
        drop(lock);
        Ok(cached)
    }

    /// Whether the cached file is there and still what was verified: its size and time are
    /// those recorded when its checksum was last checked; otherwise it is checked again (a
    /// truncated or replaced cache file never reaches a node) and removed when it fails.
    fn still_verified(&self, path: &Path, algo: &ChecksumAlgo, digest: &str) -> Result<bool> {
        let Ok(meta) = fs::metadata(path) else { return Ok(false) };
        if !meta.is_file() {
            return Ok(false);
        }
        if fs::read_to_string(stamp_path(path)).is_ok_and(|s| s == identity(&meta)) {
            return Ok(true);
        }
        self.reporter.note(&format!("{}: checking the cached copy again (it changed since it was verified)", path.display()));
        if hash_file(path, algo)? == digest {
            stamp(path);
            return Ok(true);
        }
        self.reporter.note(&format!("{}: the cached copy is damaged; downloading it again", path.display()));
        let _ = fs::remove_file(path);
        let _ = fs::remove_file(stamp_path(path));
        Ok(false)
    }

    /// The expected digest: pinned, or read from the checksum file (cached by URL, so a second
    /// run needs no network).
    async fn digest(&self, artifact: &Artifact, fresh: bool) -> Result<(ChecksumAlgo, String)> {
        match &artifact.checksum {
            Checksum::Pinned { algo, hex } => Ok((algo.clone(), hex.clone())),
            Checksum::File { algo, url } => {
                let cached = self.cache.join("sums").join(sums_key(url, artifact));
                if !fresh && let Ok(d) = fs::read_to_string(&cached) {
                    return Ok((algo.clone(), d.trim().to_string()));
                }
                if self.offline {
                    return Err(Error::Preflight {
                        problem: format!(
                            "offline (--offline), and the {algo} of {} comes from {url}, which lab has not read on this computer",
                            artifact.file_name()
                        ),
                        fix: format!(
                            "pin it in the lab file (`{algo}: <hex>` instead of `checksum_url`; `lab fetch` prints it), or drop --offline once: only the small checksum file is fetched when a LAB_CACHE_PATH folder has the file"
                        ),
                    });
                }
                let text = self.small_text(url).await?;
                let digest = parse_checksum_file(&text, artifact.file_name(), algo)
                    .ok_or_else(|| Error::Download { url: url.clone(), problem: format!("it has no {algo} checksum for {}", artifact.file_name()) })?;
                crate::fsx::write_atomic(&cached, digest.as_bytes(), crate::fsx::Access::Public)?;
                Ok((algo.clone(), digest))
            }
        }
    }

    async fn small_text(&self, url: &str) -> Result<String> {
        if let Some(path) = url.strip_prefix("file://") {
            return fs::read_to_string(path).map_err(|e| Error::io(format!("reading {path}"), e));
        }
        let client = crate::http::downloads()?;
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            match client.get(url).send().await {
                Ok(r) if r.status().is_success() => {
                    return r.text().await.map_err(|e| Error::Download { url: url.to_string(), problem: e.to_string() });
                }
                Ok(r) if r.status().is_server_error() || r.status().as_u16() == 429 => last = format!("HTTP {}", r.status()),
                Ok(r) => return Err(Error::Download { url: url.to_string(), problem: format!("the server answered HTTP {}", r.status()) }),
                Err(e) => last = e.to_string(),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt - 1))).await;
            }
        }
        Err(Error::Download { url: url.to_string(), problem: format!("failed {ATTEMPTS} times; last error: {last}") })
    }

    /// Brings `partial` to the whole file, resuming from its current length.
    async fn transfer(&self, url: &str, partial: &Path) -> std::result::Result<(), Failure> {
        let name = url.rsplit('/').next().unwrap_or(url).to_string();
        if let Some(path) = url.strip_prefix("file://") {
            return self.copy_local(Path::new(path), partial, &name).map_err(Failure::Final);
        }
        let have = fs::metadata(partial).map(|m| m.len()).unwrap_or(0);
        let client = crate::http::downloads().map_err(Failure::Final)?;
        let mut req = client.get(url);
        if have > 0 {
            req = req.header(reqwest::header::RANGE, format!("bytes={have}-"));
        }
        let resp = req.send().await.map_err(|e| Failure::Transient(format!("{url}: {e}")))?;
        let status = resp.status();
        let (mut file, mut done, total) = match status.as_u16() {
            206 => {
                let total = resp
                    .headers()
                    .get(reqwest::header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.rsplit('/').next())
                    .and_then(|v| v.parse::<u64>().ok());
                let f = OpenOptions::new().append(true).open(partial).map_err(|e| Failure::Final(Error::io(format!("opening {}", partial.display()), e)))?;
                (f, have, total)
            }
            200 => {
                let total = resp.content_length();
                let f = File::create(partial).map_err(|e| Failure::Final(Error::io(format!("creating {}", partial.display()), e)))?;
                (f, 0, total)
            }
            416 if have > 0 => return Ok(()), // nothing left to fetch; the checksum decides
            429 | 500..=599 => return Err(Failure::Transient(format!("{url}: HTTP {status}"))),
            _ => return Err(Failure::Final(Error::Download { url: url.to_string(), problem: format!("the server answered HTTP {status}") })),
        };
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Failure::Transient(format!("{url}: {e}")))?;
            file.write_all(&chunk).map_err(|e| Failure::Final(Error::io(format!("writing {}", partial.display()), e)))?;
            done += chunk.len() as u64;
            self.reporter.progress(crate::ui::HOST, &name, done, total);
        }
        file.sync_all().map_err(|e| Failure::Final(Error::io(format!("writing {}", partial.display()), e)))?;
        if let Some(t) = total
            && done < t
        {
            return Err(Failure::Transient(format!("{url}: the connection ended after {done} of {t} bytes")));
        }
        Ok(())
    }

    /// Copies `from` to `to` with the progress bar a download has (a 12 GB DVD onto a USB stick
    /// takes minutes), then flushes it to the disk, so a stick pulled out after lab finished
    /// holds the whole file.
    pub fn copy_local(&self, from: &Path, to: &Path, name: &str) -> Result<()> {
        let mut src = File::open(from).map_err(|e| Error::io(format!("reading {}", from.display()), e))?;
        let total = src.metadata().map(|m| m.len()).ok();
        let mut dst = File::create(to).map_err(|e| Error::io(format!("creating {}", to.display()), e))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut done = 0u64;
        loop {
            let n = src.read(&mut buf).map_err(|e| Error::io(format!("reading {}", from.display()), e))?;
            if n == 0 {
                break;
            }
            dst.write_all(&buf[..n]).map_err(|e| Error::io(format!("writing {}", to.display()), e))?;
            done += n as u64;
            self.reporter.progress(crate::ui::HOST, name, done, total);
        }
        dst.sync_all().map_err(|e| Error::io(format!("writing {}", to.display()), e))
    }
}

#[cfg(test)]
mod tests;
