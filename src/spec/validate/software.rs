//! Java and Spark: versions that suit each other, downloads and their checksums, what workers offer.

use super::Check;
use crate::spec::{Artifact, Checksum, ChecksumAlgo, Connect, FieldPath, Java, JavaInstall, Node, Role, Spark, Version, checks, raw};

/// What each worker offers must fit the smallest worker: a worker told to offer more memory or
/// cores than its node has fails, or overcommits.
pub(super) fn worker_resources(c: &mut Check<'_>, s: &Spark, nodes: &[Node]) {
    let p = FieldPath::root().key("spark");
    let Some(small) = nodes.iter().filter(|n| n.role == Role::Worker).min_by_key(|n| n.memory_mib) else { return };
    if let Some(m) = &s.worker_memory
        && let Some(mib) = checks::memory_mib(m)
        && mib > u64::from(small.memory_mib)
    {
        c.error(
            &p.key("worker_memory"),
            format!("{m} is more than worker {} has ({} MiB)", small.name, small.memory_mib),
            Some(&format!("use at most {}m (leave room for the OS: {}m is a good value)", small.memory_mib, small.memory_mib.saturating_sub(512).max(256))),
        );
    }
    if let Some(cores) = s.worker_cores
        && let Some(few) = nodes.iter().filter(|n| n.role == Role::Worker).min_by_key(|n| n.cpus)
        && cores > few.cpus
    {
        c.error(
            &p.key("worker_cores"),
            format!("{cores} cores is more than worker {} has ({})", few.name, few.cpus),
            Some(&format!("use at most {}", few.cpus)),
        );
    }
}

pub(super) fn checksum(c: &mut Check<'_>, path: &FieldPath, value: &str, algo: ChecksumAlgo) -> Option<Checksum> {
    let len = if algo == ChecksumAlgo::Sha256 { 64 } else { 128 };
    match checks::hex_digest(value, len) {
        Ok(hex) => Some(Checksum::Pinned { algo, hex }),
        Err(e) => {
            c.error(path, format!("malformed {algo} checksum: {e}"), Some(&format!("paste the {len}-digit hex digest published with the download")));
            None
        }
    }
}

/// A plain `http://` URL to another computer (this computer's loopback addresses excepted:
/// nothing on the network sits between).
pub(super) fn plain_http_elsewhere(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') { host.split(']').next().unwrap_or("").trim_start_matches('[') } else { host.split(':').next().unwrap_or("") };
    !(host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()))
}

pub(super) fn url(c: &mut Check<'_>, path: &FieldPath, value: &str) -> bool {
    c.rule(path, checks::url(value), "use an https://, http:// or file:// URL")
}

pub(super) fn java(c: &mut Check<'_>) -> Option<Java> {
    let p = FieldPath::root().key("java");
    let raw: raw::Java = c.required(&p, "add a java section, like `java: {version: 17, install: package}`")?;
    if !(8..=30).contains(&raw.version) {
        c.error(&p.key("version"), format!("Java {} is not a version lab knows", raw.version), Some("use 8, 11, 17 or 21"));
    }
    let per_arch: Vec<(crate::spec::Arch, &str, raw::Tarball)> =
        [(crate::spec::Arch::X86_64, "x86_64", raw.x86_64.clone()), (crate::spec::Arch::Aarch64, "aarch64", raw.aarch64.clone())]
            .into_iter()
            .filter_map(|(a, k, t)| t.map(|t| (a, k, t)))
            .collect();
    let install = match raw.install {
        raw::JavaInstall::Package => {
            for (k, set) in [("url", raw.url.is_some()), ("sha256", raw.sha256.is_some()), ("x86_64", raw.x86_64.is_some()), ("aarch64", raw.aarch64.is_some())]
            {
                if set {
                    c.error(&p.key(k), format!("`{k}` is used only with `install: tarball`"), Some("remove it, or set `install: tarball`"));
                }
            }
            JavaInstall::Package
        }
        raw::JavaInstall::Tarball => {
            let mut t = crate::spec::Tarballs::default();
            let mut ok = true;
            match (&raw.url, &raw.sha256) {
                (Some(u), Some(s)) => {
                    let u_ok = url(c, &p.key("url"), u);
                    match checksum(c, &p.key("sha256"), s, ChecksumAlgo::Sha256) {
                        Some(sum) if u_ok => t.any = Some(Artifact { url: u.clone(), checksum: sum }),
                        _ => ok = false,
                    }
                }
                (None, None) if !per_arch.is_empty() => {}
                (u, s) => {
                    if u.is_none() {
                        c.error(
                            &p.key("url"),
                            "missing field",
                            Some("a JDK tarball URL, like a Temurin .tar.gz (or one per architecture: `x86_64: {url: ..., sha256: ...}`)"),
                        );
                    }
                    if s.is_none() {
                        c.error(&p.key("sha256"), "missing field", Some("the tarball's SHA-256; lab never installs an unverified download"));
                    }
                    ok = false;
                }
            }
            for (arch, key, tb) in per_arch {
                let ap = p.key(key);
                let u_ok = url(c, &ap.key("url"), &tb.url);
                match checksum(c, &ap.key("sha256"), &tb.sha256, ChecksumAlgo::Sha256) {
                    Some(sum) if u_ok => {
                        t.per_arch.insert(arch, Artifact { url: tb.url, checksum: sum });
                    }
                    _ => ok = false,
                }
            }
            if !ok {
                return None;
            }
            JavaInstall::Tarball(t)
        }
    };
    Some(Java { version: raw.version, install })
}

pub(super) fn spark(c: &mut Check<'_>) -> Option<Spark> {
    let p = FieldPath::root().key("spark");
    let raw: raw::Spark = c.required(&p, "add a spark section with version, url and sha512")?;
    let version: Option<Version> = raw.version.parse().ok();
    if version.is_none() {
        c.error(&p.key("version"), format!("{:?} is not a Spark release number", raw.version), Some("write it as major.minor.patch, like \"3.5.8\""));
    }
    let url_ok = url(c, &p.key("url"), &raw.url);
    let sum = match (&raw.sha512, &raw.checksum_url) {
        (Some(_), Some(_)) => {
            c.error(&p.key("checksum_url"), "both `sha512` and `checksum_url` are set", Some("keep one: a pinned sha512 is best"));
            None
        }
        (None, None) => {
            c.error(&p.key("sha512"), "missing field", Some("pin the tarball's SHA-512 (from its .sha512 file), or set `checksum_url`"));
            None
        }
        (Some(h), None) => checksum(c, &p.key("sha512"), h, ChecksumAlgo::Sha512),
        (None, Some(u)) if plain_http_elsewhere(u) => {
            c.error(
                &p.key("checksum_url"),
                "a checksum read over plain http:// proves nothing: whoever sits on the way can serve another tarball and its checksum",
                Some("use an https:// checksum_url, or pin `sha512:` (the tarball's .sha512 file) in the lab file"),
            );
            None
        }
        (None, Some(u)) => url(c, &p.key("checksum_url"), u).then(|| Checksum::File { algo: ChecksumAlgo::Sha512, url: u.clone() }),
    };
    if let Some(v) = raw.worker_cores {
        c.range(&p.key("worker_cores"), "worker_cores", v, (1, 1024));
    }
    if let Some(m) = &raw.worker_memory {
        c.rule(&p.key("worker_memory"), checks::memory_size(m), "write it like 1g or 512m");
    }
    if let (Some(v), Some(file)) = (version, raw.url.rsplit('/').next())
        && !file.contains(&v.to_string())
        && url_ok
    {
        c.error(&p.key("url"), format!("the file {file:?} does not look like Spark {v}"), Some("check that url and version name the same release"));
    }
    for (key, value) in [("connect_memory", &raw.connect_memory), ("daemon_memory", &raw.daemon_memory)] {
        if let Some(m) = value {
            c.rule(&p.key(key), checks::memory_size(m), "write it like 1g or 512m");
        }
    }
    let connect = version.and_then(|v| connect(c, &raw, v));
    let history_port = raw.history.unwrap_or(true).then(|| raw.history_port.unwrap_or(Spark::HISTORY_PORT));
    ports(c, connect.as_ref().map(|x| x.port), history_port);
    let checksum = sum?;
    if !url_ok {
        return None;
    }
    Some(Spark {
        version: version?,
        artifact: Artifact { url: raw.url, checksum },
        worker_cores: raw.worker_cores,
        worker_memory: raw.worker_memory,
        python: raw.python.unwrap_or(true),
        connect,
        history_port,
        daemon_memory: raw.daemon_memory.unwrap_or_else(|| Spark::DAEMON_MEMORY.into()),
    })
}

/// The Spark Connect server: on by default where the release carries it (4.0 and later); asked
/// for on an older release, the file is wrong, and says why.
fn connect(c: &mut Check<'_>, raw: &raw::Spark, v: Version) -> Option<Connect> {
    let p = FieldPath::root().key("spark");
    let carried = v >= Spark::CONNECT_SINCE;
    if raw.connect == Some(true) && !carried {
        c.error(
            &p.key("connect"),
            format!("Spark {v}'s distribution does not carry the Spark Connect server (it ships with Spark 4.0 and later)"),
            Some("use Spark 4.x (`lab init spark` writes a 4.x lab), or remove `connect: true`"),
        );
        return None;
    }
    if !raw.connect.unwrap_or(carried) {
        return None;
    }
    Some(Connect { port: raw.connect_port.unwrap_or(Spark::CONNECT_PORT), memory: raw.connect_memory.clone().unwrap_or_else(|| Spark::CONNECT_MEMORY.into()) })
}

/// The master's ports lab chooses must not be Spark's own or each other.
fn ports(c: &mut Check<'_>, connect: Option<u16>, history: Option<u16>) {
    let p = FieldPath::root().key("spark");
    // SSH, and the master's and workers' ports lab gives Spark (`spark.rs`).
    let taken = [22, 7077, 8080, 8081];
    for (key, port) in [("connect_port", connect), ("history_port", history)] {
        if let Some(port) = port
            && (port < 1024 || taken.contains(&port))
        {
            c.error(&p.key(key), format!("port {port} is not free for it"), Some("use a port from 1024 to 65535 other than 7077, 8080 and 8081"));
        }
    }
    if let (Some(a), Some(b)) = (connect, history)
        && a == b
    {
        c.error(&p.key("history_port"), format!("port {b} is also connect_port"), Some("give the history server its own port (18080)"));
    }
}

/// The Java versions each Spark line supports (Spark's documentation for that release).
pub(super) fn java_spark_compat(c: &mut Check<'_>, java: u32, spark: Version) {
    let supported: &[u32] = match spark {
        Version(2, _, _) => &[8],
        Version(3, 0..=2, _) => &[8, 11],
        Version(3, _, _) => &[8, 11, 17],
        Version(4, _, _) => &[17, 21],
        _ => return,
    };
    if !supported.contains(&java) {
        let list: Vec<String> = supported.iter().map(u32::to_string).collect();
        c.error(
            &FieldPath::root().key("java").key("version"),
            format!("Spark {spark} does not run on Java {java}"),
            Some(&format!("Spark {}.{} supports Java {}", spark.0, spark.1, list.join(", "))),
        );
    }
}
