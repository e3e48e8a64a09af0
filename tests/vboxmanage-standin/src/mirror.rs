//! A network install's package source, as Anaconda and dnf use it: the kickstart's
//! `url --url=U` is the base repository and each `repo --name=N --baseurl=B` another
//! (pykickstart's Url and Repo commands; Anaconda's payload sources, pyanaconda/modules/
//! payloads/source/url/). dnf reads each repository's `repodata/repomd.xml`, from it the
//! location of its `primary` metadata, and from that where each package lives
//! (`<location href="Packages/o/openssh-server-....rpm"/>`); then it downloads the packages of
//! the transaction (Anaconda's DNFManager.download_packages; a failed download is
//! PayloadInstallationError "Failed to download the following packages: ...", which stops a
//! non-interactive install and runs `%onerror`). A repository whose metadata cannot be loaded
//! is dnf's "Failed to download metadata for repo" (Anaconda cannot set up its source; the
//! non-interactive install stops the same way).
//!
//! Simplifications, stated: only `http://` (the tests' mirror is on 127.0.0.1); the primary
//! metadata is read uncompressed (real repositories gzip or zstd it); only the packages the
//! kickstart names are fetched, not the environment group's hundreds.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One repository of the install: its name and base URL (ending in `/`).
#[derive(Debug, Clone)]
pub struct Repo {
    pub name: String,
    pub url: String,
}

/// The kickstart's repositories: `url` first (named "anaconda", as Anaconda names its base
/// source), then each `repo`. Empty for an install from media (`cdrom`).
pub fn repos(ks: &str) -> Vec<Repo> {
    let slash = |u: &str| if u.ends_with('/') { u.to_string() } else { format!("{u}/") };
    let mut out = Vec::new();
    for line in ks.lines().map(str::trim) {
        let opt = |name: &str| line.split_whitespace().find_map(|w| w.strip_prefix(&format!("--{name}=")).map(str::to_string));
        if line.starts_with("url ")
            && let Some(u) = opt("url")
        {
            out.insert(0, Repo { name: "anaconda".into(), url: slash(&u) });
        } else if line.starts_with("repo ")
            && let (Some(n), Some(u)) = (opt("name"), opt("baseurl"))
        {
            out.push(Repo { name: n, url: slash(&u) });
        }
    }
    out
}

/// An HTTP GET as librepo's curl does it; `Err` is curl's words for a connection that failed.
pub fn get(url: &str) -> Result<(u16, Vec<u8>), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("Curl error (1): Unsupported protocol for {url}"))?;
    let (hostport, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let addr = if hostport.contains(':') { hostport.to_string() } else { format!("{hostport}:80") };
    let sock = addr.parse().map_err(|_| format!("Curl error (6): Couldn't resolve host name for {url}"))?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_secs(10)).map_err(|e| {
        let (host, port) = addr.rsplit_once(':').unwrap_or((&addr, "80"));
        format!("Curl error (7): Couldn't connect to server for {url} [Failed to connect to {host} port {port}: {e}]")
    })?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    write!(s, "GET {path} HTTP/1.0\r\nHost: {hostport}\r\nUser-Agent: libdnf (CentOS Stream 9; generic; Linux.x86_64)\r\n\r\n")
        .map_err(|e| format!("Curl error (55): {e}"))?;
    // The body ends at Content-Length (a server may keep the connection open), else at EOF.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    let broken = |e: std::io::Error| format!("Curl error (56): Failure when receiving data from the peer for {url} [{e}]");
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
            let length = head
                .lines()
                .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.trim().parse::<usize>().ok()));
            while length.is_none_or(|n| buf.len() - end - 4 < n) {
                let n = s.read(&mut chunk).map_err(broken)?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            if let Some(n) = length
                && buf.len() - end - 4 < n
            {
                return Err(format!("Curl error (18): Transferred a partial file for {url}"));
            }
            return Ok((code, buf[end + 4..].to_vec()));
        }
        let n = s.read(&mut chunk).map_err(broken)?;
        if n == 0 {
            return Err(format!("Curl error (52): Empty reply from server for {url}"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Fetches `url`, with librepo's words for anything but 200.
fn fetch(url: &str) -> Result<Vec<u8>, String> {
    match get(url)? {
        (200, body) => Ok(body),
        (code, _) => Err(format!("Status code: {code} for {url} (IP: 127.0.0.1)")),
    }
}

/// The `href` of each `<location .../>` after `<data type="primary">` in repomd.xml, or every
/// package's `(name, href)` in primary.xml.
fn attr(tag: &str, name: &str) -> Option<String> {
    let i = tag.find(&format!("{name}=\""))? + name.len() + 2;
    Some(tag[i..].split('"').next()?.to_string())
}

/// A repository's packages, `name -> href`, from its metadata.
pub fn packages(repo: &Repo, log: &mut String) -> Result<Vec<(String, String)>, String> {
    let repomd_url = format!("{}repodata/repomd.xml", repo.url);
    log.push_str(&format!("DEBUG:dnf:repo: downloading from remote: {}\n", repo.name));
    let repomd = fetch(&repomd_url).map_err(|e| format!("Failed to download metadata for repo '{}': Cannot download repomd.xml: {e}", repo.name))?;
    let text = String::from_utf8_lossy(&repomd);
    let primary = text
        .split("<data ")
        .find(|d| d.starts_with("type=\"primary\""))
        .and_then(|d| d.split("<location ").nth(1))
        .and_then(|l| attr(l, "href"))
        .ok_or_else(|| format!("Failed to download metadata for repo '{}': repomd.xml has no primary metadata", repo.name))?;
    let body = fetch(&format!("{}{primary}", repo.url)).map_err(|e| format!("Failed to download metadata for repo '{}': {e}", repo.name))?;
    let text = String::from_utf8_lossy(&body);
    let mut out = Vec::new();
    for p in text.split("<package ").skip(1) {
        let name = p.split("<name>").nth(1).and_then(|n| n.split("</name>").next()).map(str::to_string);
        let href = p.split("<location ").nth(1).and_then(|l| attr(l, "href"));
        if let (Some(n), Some(h)) = (name, href) {
            out.push((n, h));
        }
    }
    log.push_str(&format!("DEBUG:dnf:{}: {} packages in the metadata\n", repo.name, out.len()));
    Ok(out)
}

/// Downloads one package (`href` in `repo`), as dnf does before the transaction.
pub fn download(repo: &Repo, href: &str) -> Result<usize, String> {
    let url = format!("{}{href}", repo.url);
    fetch(&url).map(|b| b.len()).map_err(|e| format!("Cannot download {href}: All mirrors were tried; Last error: {e}"))
}
