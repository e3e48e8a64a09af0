//! From a parsed document to a [`Lab`], collecting every problem instead of stopping at the first.

use serde::de::DeserializeOwned;

use super::yaml::Document;
use super::{Diagnostic, FieldPath, HostFacts, InstallMode, JavaInstall, Lab, ProviderKind, Verify, checks, raw};
use crate::spec::images;

mod image;
mod network;
mod options;
mod software;

use image::image;
use network::{network, nodes};
use options::{existing, locale, sandbox};
use software::{java, java_spark_compat, spark, worker_resources};

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
        ProviderKind::Sandbox | ProviderKind::Qemu => Some(facts.arch),
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

    let install = install(&mut c, provider, image.as_ref(), nodes.as_deref());

    let verify: raw::Verify = c.get(&root.key("verify")).unwrap_or_default();
    let verify = Verify { spark_shell: verify.spark_shell.unwrap_or(true), timeout_secs: verify.timeout.unwrap_or(300) };
    if verify.timeout_secs == 0 || verify.timeout_secs > 3600 {
        c.error(&root.key("verify").key("timeout"), format!("timeout {} s is out of range", verify.timeout_secs), Some("use 1 to 3600 seconds"));
    }

    let locale = locale(&mut c);
    let sandbox = sandbox(&mut c, provider);
    let existing = existing(&mut c, provider, &user);
    let qemu = image::qemu(&mut c, provider, image.as_ref(), facts.arch);

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
            qemu,
            host_arch: facts.arch,
            install,
        });
    }
    let mut diags = c.diags;
    diags.sort_by_key(|a| a.pos);
    diags.dedup();
    Err(diags)
}

/// The largest disk a base image has (its clones' disks are its own size; dynamic, so only
/// what is written takes room).
pub const BASE_DISK_GIB: u32 = 64;

fn install(c: &mut Check<'_>, provider: ProviderKind, image: Option<&images::Image>, nodes: Option<&[crate::spec::Node]>) -> InstallMode {
    let path = FieldPath::root().key("install");
    let written: Option<String> = c.get(&path);
    // A base needs cloud-init from the ISO (each clone's identity comes from its seed disc).
    let has_base = image.is_some_and(images::Image::can_make_base);
    let mode = match written.as_deref() {
        None if has_base && provider == ProviderKind::Virtualbox => InstallMode::Base,
        None => InstallMode::PerNode,
        Some("base") => InstallMode::Base,
        Some("per-node") => InstallMode::PerNode,
        Some(other) => {
            c.error(&path, format!("unknown install mode {other:?}"), Some("use `base` (the OS installed once, nodes are linked clones) or `per-node`"));
            return InstallMode::PerNode;
        }
    };
    if written.is_some() && provider != ProviderKind::Virtualbox {
        c.error(&path, "`install` is used only by the virtualbox provider", Some("remove it, or set `provider: virtualbox`"));
        return InstallMode::PerNode;
    }
    if mode == InstallMode::Base
        && let Some(img) = image
        && !has_base
    {
        let dvd = format!("{}-dvd", img.name);
        let mut fix = if images::names().contains(&dvd.as_str()) {
            format!("use the image's DVD (`image: {dvd}`, its ISO carries cloud-init), or `install: per-node`")
        } else {
            "use `install: per-node`".to_string()
        };
        if img.network.as_ref().is_some_and(|n| n.carries.contains(&images::Carried::CloudInit)) {
            fix.push_str("; or remove `offline: true`: the network install takes cloud-init from the mirror");
        }
        c.error(
            &path,
            format!(
                "{} cannot be a base image: its ISO ({}) carries no cloud-init to give each clone its identity",
                img.title,
                if img.repositories.is_empty() { "no repositories".to_string() } else { format!("repositories {}", img.repositories.join(", ")) }
            ),
            Some(&fix),
        );
    }
    if mode == InstallMode::Base
        && let Some(big) = nodes.into_iter().flatten().find(|n| n.disk_gib > BASE_DISK_GIB)
    {
        c.error(
            &path,
            format!("node {} asks for a {} GiB disk; clones of a base have its {BASE_DISK_GIB} GiB", big.name, big.disk_gib),
            Some(&format!("use at most {BASE_DISK_GIB} GiB, or `install: per-node`")),
        );
    }
    mode
}

#[cfg(test)]
mod tests;
