//! From a parsed document to a [`Lab`], collecting every problem instead of stopping at the first.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::de::DeserializeOwned;

use super::yaml::Document;
use super::{
    Artifact, Checksum, ChecksumAlgo, Diagnostic, ExistingOptions, FieldPath, HostFacts, Ipv4Net, Java, JavaInstall, Lab, Locale, Network, Node, ProviderKind,
    Role, SandboxOptions, Spark, Verify, Version, checks, net, raw,
};
use crate::images;

pub const DEFAULT_IMAGE: &str = "centos-stream-9";
const DEFAULT_CIDR: &str = "192.168.56.0/24";
const CPUS: (u32, u32) = (1, 64);
const MEMORY_MIB: (u32, u32) = (256, 1_048_576);
const VBOX_MIN_MEMORY_MIB: u32 = 1536;
const DISK_GIB: (u32, u32) = (10, 4096);
const MAX_WORKERS: u32 = 200;
const MAX_LAB_NAME: usize = 32;

struct Check<'d> {
    doc: &'d Document,
    diags: Vec<Diagnostic>,
}

impl Check<'_> {
    fn error(&mut self, path: &FieldPath, message: impl Into<String>, hint: Option<&str>) {
        let mut d = self.doc.diag(path, message);
        if let Some(h) = hint {
            d = d.hint(h);
        }
        self.diags.push(d);
    }

    /// A typed value at `path`, or `None` (absent, or wrong type: then a diagnostic is recorded).
    fn get<T: DeserializeOwned>(&mut self, path: &FieldPath) -> Option<T> {
        match self.doc.get::<T>(path) {
            Ok(v) => v,
            Err(mut d) => {
                d.hint = d.hint.or_else(|| type_hint(&d.message));
                self.diags.push(d);
                None
            }
        }
    }

    fn required<T: DeserializeOwned>(&mut self, path: &FieldPath, hint: &str) -> Option<T> {
        if !self.doc.has(path) {
            self.error(path, "missing field", Some(hint));
            return None;
        }
        self.get(path)
    }

    fn rule(&mut self, path: &FieldPath, result: Result<(), String>, hint: &str) -> bool {
        match result {
            Ok(()) => true,
            Err(e) => {
                self.error(path, e, Some(hint));
                false
            }
        }
    }

    fn range(&mut self, path: &FieldPath, what: &str, v: u32, (lo, hi): (u32, u32)) {
        if v < lo || v > hi {
            self.error(path, format!("{what} {v} is out of range"), Some(&format!("use a value from {lo} to {hi}")));
        }
    }
}

/// Hints for serde's type errors, which say what was wrong but not what to write.
fn type_hint(message: &str) -> Option<String> {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or("");
        let expected: Vec<&str> = rest
            .split("expected one of ")
            .nth(1)
            .or_else(|| rest.split("expected ").nth(1))
            .map(|l| l.split(", ").map(|s| s.trim_matches(|c| c == '`' || c == ' ')).collect())
            .unwrap_or_default();
        return Some(did_you_mean(name, &expected));
    }
    if message.starts_with("unknown variant") {
        return Some("use one of the values listed".into());
    }
    if message.contains("floating point") && message.contains("expected a string") {
        return Some("quote the value, like \"3.5.8\"".into());
    }
    if message.contains("floating point") {
        return Some("write a whole number (Java 1.8 is written 8)".into());
    }
    if message.starts_with("invalid value") {
        return Some("use a whole number in the range the README's lab file reference gives".into());
    }
    if message.starts_with("invalid type") {
        return Some("check the value's type against the lab file reference in the README".into());
    }
    if message.starts_with("missing field") {
        return Some("add the field; the README's lab file reference lists what each section needs".into());
    }
    None
}

fn did_you_mean(name: &str, candidates: &[&str]) -> String {
    let best = candidates.iter().map(|c| (strsim::jaro_winkler(name, c), *c)).filter(|(s, _)| *s > 0.8).max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, c)) => format!("did you mean `{c}`?"),
        None if candidates.is_empty() => "remove it".into(),
        None => format!("remove it, or use one of: {}", candidates.join(", ")),
    }
}

pub fn lab(doc: &Document, facts: &HostFacts) -> Result<Lab, Vec<Diagnostic>> {
    let mut c = Check { doc, diags: Vec::new() };
    let root = FieldPath::root();
    let keys = match doc.keys(&root) {
        Ok(k) => k,
        Err(d) => return Err(vec![d]),
    };
    for k in &keys {
        if !raw::TOP_KEYS.contains(&k.as_str()) {
            let hint = did_you_mean(k, raw::TOP_KEYS);
            c.error(&root.key(k), format!("unknown field `{k}`"), Some(&hint));
        }
    }

    let name: Option<String> = c.required(&root.key("name"), "name the lab, like `name: spark`; it prefixes everything lab creates");
    if let Some(n) = &name
        && c.rule(&root.key("name"), checks::hostname(n), "use lowercase letters, digits and '-', like spark-lab")
        && n.len() > MAX_LAB_NAME
    {
        c.error(&root.key("name"), format!("lab name is {} characters long", n.len()), Some(&format!("use at most {MAX_LAB_NAME}")));
    }

    let provider: ProviderKind = c.get(&root.key("provider")).unwrap_or(ProviderKind::Virtualbox);
    if provider == ProviderKind::Sandbox && !facts.linux {
        c.error(
            &root.key("provider"),
            "the sandbox provider needs Linux (its nodes are Linux namespaces)",
            Some("use `provider: virtualbox` on this computer, or `provider: existing` for machines you have"),
        );
    }

    let image = image(&mut c, provider, facts.arch);
    let network = network(&mut c, provider, facts);
    let user: String = c.get(&root.key("user")).unwrap_or_else(|| "spark".into());
    c.rule(&root.key("user"), checks::username(&user), "the account that runs Spark, like `user: spark`");

    let defaults: raw::Defaults = c.get(&root.key("defaults")).unwrap_or_default();
    let dp = root.key("defaults");
    let def_cpus = defaults.cpus.unwrap_or(2);
    let def_mem = defaults.memory.unwrap_or(2048);
    let def_disk = defaults.disk.unwrap_or(20);
    c.range(&dp.key("cpus"), "cpus", def_cpus, CPUS);
    c.range(&dp.key("memory"), "memory (MiB)", def_mem, MEMORY_MIB);
    c.range(&dp.key("disk"), "disk (GiB)", def_disk, DISK_GIB);

    let nodes = nodes(&mut c, network.as_ref(), (def_cpus, def_mem, def_disk), provider);
    let java = java(&mut c);
    let spark = spark(&mut c);
    let machine_arch = match provider {
        ProviderKind::Virtualbox => image.as_ref().map(|i| i.arch),
        ProviderKind::Sandbox => Some(facts.arch),
        ProviderKind::Existing => None,
    };
    if let (Some(j), Some(arch)) = (&java, machine_arch)
        && let JavaInstall::Tarball(t) = &j.install
        && t.for_arch(arch).is_none()
    {
        c.error(
            &root.key("java"),
            format!("no JDK tarball for {}, the architecture of the lab's machines", arch.name()),
            Some(&format!("add `{}: {{url: ..., sha256: ...}}` under java", arch.name())),
        );
    }
    if let (Some(s), Some(ns)) = (&spark, &nodes) {
        worker_resources(&mut c, s, ns);
    }
    if let (Some(j), Some(s)) = (&java, &spark) {
        java_spark_compat(&mut c, j.version, s.version);
    }
    if let (Some(j), Some(img)) = (&java, &image)
        && matches!(j.install, JavaInstall::Package)
        && img.kickstart.java_package(j.version).is_none()
    {
        c.error(
            &root.key("java").key("version"),
            format!("{} has no Java {} package", img.title, j.version),
            Some("choose a Java version the image packages (EL7: 8, 11; EL9: 8, 11, 17, 21; EL10: 21), or use `install: tarball`"),
        );
    }

    let verify: raw::Verify = c.get(&root.key("verify")).unwrap_or_default();
    let verify = Verify { spark_shell: verify.spark_shell.unwrap_or(true), timeout_secs: verify.timeout.unwrap_or(300) };
    if verify.timeout_secs == 0 || verify.timeout_secs > 3600 {
        c.error(&root.key("verify").key("timeout"), format!("timeout {} s is out of range", verify.timeout_secs), Some("use 1 to 3600 seconds"));
    }

    let locale = locale(&mut c);
    let sandbox = sandbox(&mut c, provider);
    let existing = existing(&mut c, provider);

    if c.diags.is_empty()
        && let (Some(name), Some(network), Some(nodes), Some(java), Some(spark)) = (name, network, nodes, java, spark)
    {
        return Ok(Lab {
            file: doc.file().to_path_buf(),
            name,
            provider,
            image,
            network,
            user,
            nodes,
            java,
            spark,
            verify,
            locale,
            sandbox,
            existing,
            host_arch: facts.arch,
        });
    }
    let mut diags = c.diags;
    diags.sort_by_key(|a| a.pos);
    diags.dedup();
    Err(diags)
}

fn image(c: &mut Check<'_>, provider: ProviderKind, arch: crate::labfile::Arch) -> Option<images::Image> {
    let path = FieldPath::root().key("image");
    let name: Option<String> = c.get(&path);
    if provider != ProviderKind::Virtualbox {
        if name.is_some() {
            c.error(&path, "`image` is used only by the virtualbox provider", Some("remove it, or set `provider: virtualbox`"));
        }
        if c.doc.has(&FieldPath::root().key("iso")) {
            c.error(&FieldPath::root().key("iso"), "`iso` is used only by the virtualbox provider", Some("remove it, or set `provider: virtualbox`"));
        }
        return None;
    }
    let name = name.unwrap_or_else(|| DEFAULT_IMAGE.into());
    match images::find(&name, arch) {
        Ok(mut img) => {
            let ip = FieldPath::root().key("iso");
            if let Some(raw) = c.get::<raw::Iso>(&ip) {
                let ok = url(c, &ip.key("url"), &raw.url);
                let sum = match (&raw.sha256, &raw.checksum_url) {
                    (Some(h), None) => checksum(c, &ip.key("sha256"), h, ChecksumAlgo::Sha256),
                    (None, Some(u)) => url(c, &ip.key("checksum_url"), u).then(|| Checksum::File { algo: ChecksumAlgo::Sha256, url: u.clone() }),
                    _ => {
                        c.error(&ip, "give exactly one of `sha256` and `checksum_url`", Some("the ISO is verified before use, like every download"));
                        None
                    }
                };
                if let (true, Some(checksum)) = (ok, sum) {
                    img.iso = Artifact { url: raw.url, checksum };
                }
            }
            Some(img)
        }
        Err(arches) if arches.is_empty() => {
            let names = images::names().join(", ");
            let hint = format!("use one of the images in images/: {names}");
            c.error(&path, format!("unknown image {name:?}"), Some(&hint));
            None
        }
        Err(arches) => {
            let have: Vec<&str> = arches.iter().map(|a| a.name()).collect();
            let hint = format!("VirtualBox runs only {} guests on this computer; use one of: {}", arch.name(), images::names_for(arch).join(", "));
            c.error(&path, format!("image {name:?} exists for {} only, and this computer is {}", have.join(", "), arch.name()), Some(&hint));
            None
        }
    }
}

/// What each worker offers must fit the smallest worker: a worker told to offer more memory or
/// cores than its node has fails, or overcommits.
fn worker_resources(c: &mut Check<'_>, s: &Spark, nodes: &[Node]) {
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

fn network(c: &mut Check<'_>, provider: ProviderKind, facts: &HostFacts) -> Option<Network> {
    let path = FieldPath::root().key("network");
    let raw: Option<raw::Network> = if c.doc.has(&path) { c.get(&path) } else { Some(raw::Network { cidr: DEFAULT_CIDR.into(), host: None, start: None }) };
    let raw = raw?;
    let cidr_path = path.key("cidr");
    let cidr: Ipv4Net = match raw.cidr.parse() {
        Ok(n) => n,
        Err(e) => {
            c.error(&cidr_path, e, Some("write the network as address/prefix, like 192.168.56.0/24"));
            return None;
        }
    };
    if cidr.has_host_bits() {
        let hint = format!("write the network address: {}/{}", cidr.network(), cidr.prefix());
        c.error(&cidr_path, format!("{cidr} has host bits set"), Some(&hint));
        return None;
    }
    if cidr.prefix() > 29 || cidr.prefix() < 8 {
        c.error(&cidr_path, format!("prefix /{} leaves no room for a lab", cidr.prefix()), Some("use a prefix from /8 to /29, usually /24"));
        return None;
    }
    if provider == ProviderKind::Virtualbox && !net::hostonly_allowed(&cidr, facts.networks_conf.as_deref()) {
        let hint = if facts.networks_conf.is_some() {
            format!("/etc/vbox/networks.conf does not list it; add a line `* {cidr}` there, or use 192.168.56.0/24")
        } else {
            format!(
                "VirtualBox 6.1.28+ allows only 192.168.56.0/21 for host-only networks; use 192.168.56.0/24, or create /etc/vbox/networks.conf with the line `* {cidr}`"
            )
        };
        c.error(&cidr_path, format!("VirtualBox refuses host-only network {cidr}"), Some(&hint));
    }
    let host = match raw.host.as_deref().map(str::parse::<Ipv4Addr>) {
        None => cidr.nth(1)?,
        Some(Ok(ip)) => ip,
        Some(Err(_)) => {
            c.error(&path.key("host"), "not an IPv4 address", Some("the host's address on the lab network, like 192.168.56.1"));
            return None;
        }
    };
    if !address_in(c, &path.key("host"), host, &cidr, None) {
        return None;
    }
    Some(Network { cidr, host })
}

/// Checks that `ip` is a usable host address of `cidr` (and not the host's own address).
fn address_in(c: &mut Check<'_>, path: &FieldPath, ip: Ipv4Addr, cidr: &Ipv4Net, host: Option<Ipv4Addr>) -> bool {
    let hint = format!("use an address from {} to {}", Ipv4Addr::from(u32::from(cidr.network()) + 1), Ipv4Addr::from(u32::from(cidr.broadcast()) - 1));
    if !cidr.contains(ip) {
        c.error(path, format!("{ip} is outside the lab network {cidr}"), Some(&hint));
        false
    } else if ip == cidr.network() {
        c.error(path, format!("{ip} is the network address of {cidr}"), Some(&hint));
        false
    } else if ip == cidr.broadcast() {
        c.error(path, format!("{ip} is the broadcast address of {cidr}"), Some(&hint));
        false
    } else if Some(ip) == host {
        c.error(path, format!("{ip} is the host's own address on the lab network"), Some("give the node another address, or change network.host"));
        false
    } else {
        true
    }
}

fn nodes(c: &mut Check<'_>, network: Option<&Network>, (cpus, memory, disk): (u32, u32, u32), provider: ProviderKind) -> Option<Vec<Node>> {
    let root = FieldPath::root();
    let np = root.key("nodes");
    let wp = root.key("workers");
    let has_nodes = c.doc.has(&np);
    let has_workers = c.doc.has(&wp);
    let mut out: Vec<(FieldPath, Node)> = Vec::new();
    let mut broken = false;
    match (has_nodes, has_workers) {
        (true, true) => {
            c.error(&wp, "`workers` and `nodes` are both set", Some("use `nodes` to list every node, or `workers: N` for a master and N workers"));
            return None;
        }
        (false, false) => {
            c.error(&np, "missing field", Some("list the nodes under `nodes:`, or write `workers: 2` for master, node1 and node2"));
            return None;
        }
        (false, true) => {
            let n: u32 = c.get(&wp)?;
            if n == 0 || n > MAX_WORKERS {
                c.error(&wp, format!("{n} workers is out of range"), Some(&format!("use 1 to {MAX_WORKERS}")));
                return None;
            }
            let net = network?;
            let start_path = root.key("network").key("start");
            let start = match c.get::<String>(&start_path).map(|s| s.parse::<Ipv4Addr>()) {
                None => match net.cidr.nth(10) {
                    Some(ip) => ip,
                    None => {
                        c.error(
                            &wp,
                            format!("the network {} has no room for a master at its 10th address", net.cidr),
                            Some("use a larger network (like /24), or set network.start"),
                        );
                        return None;
                    }
                },
                Some(Ok(ip)) => ip,
                Some(Err(_)) => {
                    c.error(&start_path, "not an IPv4 address", Some("the master's address; workers follow it"));
                    return None;
                }
            };
            let last = u32::from(start).checked_add(n).map(Ipv4Addr::from);
            if !last.is_some_and(|l| net.cidr.contains(l) && l != net.cidr.broadcast()) {
                let room = u32::from(net.cidr.broadcast()).saturating_sub(u32::from(start)).saturating_sub(1);
                c.error(
                    &wp,
                    format!("a master at {start} and {n} workers do not fit in {}", net.cidr),
                    Some(&format!("use at most {room} workers here, a larger network, or an earlier network.start")),
                );
                return None;
            }
            for i in 0..=n {
                let ip = Ipv4Addr::from(u32::from(start).wrapping_add(i));
                let name = if i == 0 { "master".to_string() } else { format!("node{i}") };
                let role = if i == 0 { Role::Master } else { Role::Worker };
                out.push((wp.clone(), Node { name, role, ip, cpus, memory_mib: memory, disk_gib: disk }));
            }
        }
        (true, false) => {
            let len = match c.doc.seq_len(&np) {
                Ok(l) => l,
                Err(d) => {
                    c.diags.push(d);
                    return None;
                }
            };
            for i in 0..len {
                let p = np.index(i);
                let Some(raw) = c.get::<raw::Node>(&p) else {
                    broken = true;
                    continue;
                };
                let ip = match raw.ip.parse::<Ipv4Addr>() {
                    Ok(ip) => ip,
                    Err(_) => {
                        c.error(&p.key("ip"), format!("{:?} is not an IPv4 address", raw.ip), Some("write the node's static address, like 192.168.56.11"));
                        broken = true;
                        continue;
                    }
                };
                if let Some(v) = raw.cpus {
                    c.range(&p.key("cpus"), "cpus", v, CPUS);
                }
                if let Some(v) = raw.memory {
                    c.range(&p.key("memory"), "memory (MiB)", v, MEMORY_MIB);
                }
                if let Some(v) = raw.disk {
                    c.range(&p.key("disk"), "disk (GiB)", v, DISK_GIB);
                }
                out.push((
                    p,
                    Node {
                        name: raw.name,
                        role: raw.role,
                        ip,
                        cpus: raw.cpus.unwrap_or(cpus),
                        memory_mib: raw.memory.unwrap_or(memory),
                        disk_gib: raw.disk.unwrap_or(disk),
                    },
                ));
            }
            if len == 0 {
                c.error(&np, "no nodes", Some("list one master and at least one worker"));
                return None;
            }
        }
    }

    let mut names: HashMap<String, FieldPath> = HashMap::new();
    let mut ips: HashMap<Ipv4Addr, FieldPath> = HashMap::new();
    for (p, n) in &out {
        let name_path = if has_nodes { p.key("name") } else { p.clone() };
        let ip_path = if has_nodes { p.key("ip") } else { p.clone() };
        c.rule(&name_path, checks::hostname(&n.name), "node names are host names: lowercase letters, digits and '-'");
        if let Some(first) = names.insert(n.name.clone(), name_path.clone()) {
            let pos = c.doc.pos(&first);
            c.error(&name_path, format!("duplicate node name {:?} (first used at line {})", n.name, pos.line), Some("give every node its own name"));
        }
        if let Some(first) = ips.insert(n.ip, ip_path.clone()) {
            let pos = c.doc.pos(&first);
            c.error(&ip_path, format!("duplicate address {} (first used at line {})", n.ip, pos.line), Some("give every node its own address"));
        }
        if let Some(net) = network {
            address_in(c, &ip_path, n.ip, &net.cidr, Some(net.host));
        }
        if provider == ProviderKind::Virtualbox && n.memory_mib < VBOX_MIN_MEMORY_MIB {
            let mp = if has_nodes && c.doc.has(&p.key("memory")) { p.key("memory") } else { FieldPath::root().key("defaults").key("memory") };
            c.error(
                &mp,
                format!("{} MiB is too little to install the OS in a VM", n.memory_mib),
                Some(&format!("use at least {VBOX_MIN_MEMORY_MIB} MiB (2048 recommended)")),
            );
        }
    }
    let masters = out.iter().filter(|(_, n)| n.role == Role::Master).count();
    if !broken && masters != 1 {
        let msg = if masters == 0 { "no node has `role: master`".to_string() } else { format!("{masters} nodes have `role: master`") };
        c.error(&np, msg, Some("a lab has exactly one master; give the others `role: worker`"));
    }
    if !broken && !out.iter().any(|(_, n)| n.role == Role::Worker) {
        c.error(&np, "no node has `role: worker`", Some("add at least one node with `role: worker`"));
    }
    if broken { None } else { Some(out.into_iter().map(|(_, n)| n).collect()) }
}

fn checksum(c: &mut Check<'_>, path: &FieldPath, value: &str, algo: ChecksumAlgo) -> Option<Checksum> {
    let len = if algo == ChecksumAlgo::Sha256 { 64 } else { 128 };
    match checks::hex_digest(value, len) {
        Ok(hex) => Some(Checksum::Pinned { algo, hex }),
        Err(e) => {
            c.error(path, format!("malformed {algo} checksum: {e}"), Some(&format!("paste the {len}-digit hex digest published with the download")));
            None
        }
    }
}

fn url(c: &mut Check<'_>, path: &FieldPath, value: &str) -> bool {
    c.rule(path, checks::url(value), "use an https://, http:// or file:// URL")
}

fn java(c: &mut Check<'_>) -> Option<Java> {
    let p = FieldPath::root().key("java");
    let raw: raw::Java = c.required(&p, "add a java section, like `java: {version: 17, install: package}`")?;
    if !(8..=30).contains(&raw.version) {
        c.error(&p.key("version"), format!("Java {} is not a version lab knows", raw.version), Some("use 8, 11, 17 or 21"));
    }
    let per_arch: Vec<(crate::labfile::Arch, &str, raw::Tarball)> =
        [(crate::labfile::Arch::X86_64, "x86_64", raw.x86_64.clone()), (crate::labfile::Arch::Aarch64, "aarch64", raw.aarch64.clone())]
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
            let mut t = crate::labfile::Tarballs::default();
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

fn spark(c: &mut Check<'_>) -> Option<Spark> {
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
    })
}

/// The Java versions each Spark line supports (Spark's documentation for that release).
fn java_spark_compat(c: &mut Check<'_>, java: u32, spark: Version) {
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

fn locale(c: &mut Check<'_>) -> Locale {
    let p = FieldPath::root().key("locale");
    let raw: raw::Locale = c.get(&p).unwrap_or_default();
    let l = Locale {
        lang: raw.lang.unwrap_or_else(|| "en_US.UTF-8".into()),
        keyboard: raw.keyboard.unwrap_or_else(|| "us".into()),
        timezone: raw.timezone.unwrap_or_else(|| "Etc/UTC".into()),
    };
    c.rule(&p.key("lang"), checks::lang(&l.lang), "like en_US.UTF-8");
    c.rule(&p.key("keyboard"), checks::keyboard(&l.keyboard), "like us");
    c.rule(&p.key("timezone"), checks::timezone(&l.timezone), "like Etc/UTC or Europe/Paris");
    l
}

fn sandbox(c: &mut Check<'_>, provider: ProviderKind) -> SandboxOptions {
    let p = FieldPath::root().key("sandbox");
    let Some(raw) = c.get::<raw::Sandbox>(&p) else { return SandboxOptions::default() };
    if provider != ProviderKind::Sandbox {
        c.error(&p, "`sandbox` settings are used only by the sandbox provider", Some("remove them, or set `provider: sandbox`"));
    }
    let rootfs = raw.rootfs.map(PathBuf::from);
    if let Some(r) = &rootfs
        && !r.is_absolute()
    {
        c.error(
            &p.key("rootfs"),
            format!("{} is not an absolute path", r.display()),
            Some("write the full path of a directory holding a Linux root filesystem"),
        );
    }
    SandboxOptions { rootfs }
}

fn existing(c: &mut Check<'_>, provider: ProviderKind) -> ExistingOptions {
    let p = FieldPath::root().key("existing");
    let raw = c.get::<raw::Existing>(&p);
    if raw.is_some() && provider != ProviderKind::Existing {
        c.error(&p, "`existing` settings are used only by the existing provider", Some("remove them, or set `provider: existing`"));
    }
    let raw = raw.unwrap_or_default();
    if let Some(l) = &raw.login
        && l != "root"
    {
        c.rule(&p.key("login"), checks::username(l), "the account lab logs in as; it needs sudo");
    }
    if raw.port == Some(0) {
        c.error(&p.key("port"), "port 0 is not a port", Some("use the SSH port, usually 22"));
    }
    ExistingOptions {
        login: raw.login,
        identity_file: raw.identity_file.map(PathBuf::from),
        known_hosts: raw.known_hosts.map(PathBuf::from),
        port: raw.port.unwrap_or(22),
    }
}

#[cfg(test)]
mod tests;
