//! Kickstart files for unattended installs, rendered per node from the templates in
//! `kickstart/` (one per OS family), and the OEMDRV image that carries them to the installer.

pub mod oemdrv;

use minijinja::{Environment, UndefinedBehavior, context};

use crate::error::{Error, Result};
use crate::identity;
use crate::spec::images::{Carried, Family};
use crate::spec::{JavaInstall, Lab, Node, checks};
use crate::state::Keys;

const TEMPLATES: &[(&str, &str)] = &[
    ("el9.ks.j2", include_str!("../../kickstart/el9.ks.j2")),
    ("el10.ks.j2", include_str!("../../kickstart/el10.ks.j2")),
    ("el7.ks.j2", include_str!("../../kickstart/el7.ks.j2")),
    ("post-common.sh.j2", include_str!("../../kickstart/post-common.sh.j2")),
    ("base.ks.j2", include_str!("../../kickstart/base.ks.j2")),
    ("report.ks.j2", include_str!("../../kickstart/report.ks.j2")),
    ("packages-check.sh.j2", include_str!("../../kickstart/packages-check.sh.j2")),
];

fn template_name(f: Family) -> &'static str {
    match f {
        Family::El7 => "el7.ks.j2",
        Family::El9 => "el9.ks.j2",
        Family::El10 => "el10.ks.j2",
    }
}

/// A value that is pasted into kickstart text must be one line of safe characters. The lab
/// file's validation already guarantees this; checking again here keeps a future caller from
/// smuggling kickstart commands or shell into `%post`.
fn one_safe_line(what: &str, v: &str, extra: &[char]) -> std::result::Result<(), String> {
    let ok = v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '@' | '+' | '=') || extra.contains(&c));
    if v.is_empty() || !ok {
        return Err(format!("refusing to put {what} {v:?} into a kickstart: unexpected characters"));
    }
    Ok(())
}

/// Renders the kickstart for `node`. `keys` are the lab's keys (`StateDir::ensure_keys`); the
/// node's private host key is read from its file.
pub fn render(lab: &Lab, node: &Node, keys: &Keys) -> Result<String> {
    if lab.image.is_none() {
        return Err(Error::Kickstart(format!("lab {:?} does not use the virtualbox provider; kickstarts are for VirtualBox images", lab.name)));
    }
    let host = keys.hosts.get(&node.name).ok_or_else(|| Error::Kickstart(format!("no host key for node {}", node.name)))?;
    let path = host.private_path.as_ref().ok_or_else(|| Error::Kickstart(format!("lab has no private host key for node {}", node.name)))?;
    let host_private = std::fs::read_to_string(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    render_with(lab, node, &keys.client.public_line, host_private.trim_end(), host.public()).map_err(Error::Kickstart)
}

/// The kickstart as shown to people: the private host key replaced by a note.
pub fn redact(text: &str) -> String {
    const BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
    const END: &str = "-----END OPENSSH PRIVATE KEY-----";
    match (text.find(BEGIN), text.find(END)) {
        (Some(b), Some(e)) if e > b => {
            format!("{}(the node's private SSH host key; `lab kickstart NODE --show-secrets` shows it){}", &text[..b], &text[e + END.len()..])
        }
        _ => text.to_string(),
    }
}

fn environment() -> std::result::Result<Environment<'static>, String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    for (name, text) in TEMPLATES {
        env.add_template(name, text).map_err(|e| format!("kickstart template {name}: {e}"))?;
    }
    Ok(env)
}

/// The JDK package the install puts in, when Java comes from the distribution and the ISO
/// carries it (otherwise provisioning installs it from the network).
fn java_package(lab: &Lab) -> std::result::Result<Option<String>, String> {
    let image = lab.image.as_ref().ok_or("kickstarts are for VirtualBox images")?;
    match lab.java.install {
        JavaInstall::Package if !image.carries(Carried::Jdk) => Ok(None),
        JavaInstall::Package => {
            Ok(Some(image.kickstart.java_package(lab.java.version).ok_or_else(|| format!("{} has no Java {} package", image.title, lab.java.version))?))
        }
        JavaInstall::Tarball(_) => Ok(None),
    }
}

/// The packages (not groups) a kickstart installs: each must be on the ISO, and `%post` checks
/// that each is installed.
fn packages(family: Family, base: bool, java_package: Option<String>) -> Vec<String> {
    let mut v: Vec<String> = ["openssh-server", "tar", "which"].iter().map(|s| (*s).to_string()).collect();
    if family != Family::El7 {
        v.push("procps-ng".into());
    }
    if base {
        v.push("cloud-init".into());
    }
    v.extend(java_package);
    v
}

/// The kickstart of the lab's base image: the OS, cloud-init, the JDK when Java comes from the
/// distribution's package (so it is installed once), and nothing of any lab or node. Only the
/// families whose DVD carries cloud-init have one.
pub fn render_base(lab: &Lab) -> std::result::Result<String, String> {
    let image = lab.image.as_ref().ok_or("kickstarts are for VirtualBox images")?;
    let version = match image.kickstart {
        Family::El9 => "RHEL9",
        Family::El10 => "RHEL10",
        Family::El7 => return Err(format!("{} has no base image: its ISO has no cloud-init; use `install: per-node`", image.title)),
    };
    if !image.can_make_base() {
        return Err(format!("{} has no base image: its ISO carries no cloud-init; use `install: per-node`", image.title));
    }
    checks::lang(&lab.locale.lang)?;
    checks::keyboard(&lab.locale.keyboard)?;
    checks::timezone(&lab.locale.timezone)?;
    let tmpl = environment()?;
    let tmpl = tmpl.get_template("base.ks.j2").map_err(|e| e.to_string())?;
    tmpl.render(context! {
        version => version,
        image => context! { title => image.title },
        arch => image.arch.name(),
        locale => context! { lang => lab.locale.lang, keyboard => lab.locale.keyboard, timezone => lab.locale.timezone },
        packages => packages(image.kickstart, true, java_package(lab)?),
        repos => image.mirror_repos(),
    })
    .map_err(|e| format!("rendering the base kickstart: {e}"))
}

/// Renders with explicit key material (tests use fixed keys).
pub fn render_with(lab: &Lab, node: &Node, client_public: &str, host_private: &str, host_public: &str) -> std::result::Result<String, String> {
    let image = lab.image.as_ref().ok_or("kickstarts are for VirtualBox images")?;
    checks::hostname(&node.name)?;
    checks::username(&lab.user)?;
    checks::lang(&lab.locale.lang)?;
    checks::keyboard(&lab.locale.keyboard)?;
    checks::timezone(&lab.locale.timezone)?;
    for n in &lab.nodes {
        checks::hostname(&n.name)?;
    }
    for (what, v) in [("public key", client_public), ("host public key", host_public)] {
        one_safe_line(what, v, &[' '])?;
    }
    if !host_private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----") || host_private.lines().any(|l| l.starts_with("LAB_EOF")) {
        return Err("the host key is not an OpenSSH private key".into());
    }
    let java_package = java_package(lab)?;
    let (nat_mac, hostonly_mac) = identity::macs(lab, &node.name);
    let env = environment()?;
    let tmpl = env.get_template(template_name(image.kickstart)).map_err(|e| e.to_string())?;
    tmpl.render(context! {
        lab => context! { name => lab.name },
        image => context! { title => image.title },
        node => context! { name => node.name, ip => node.ip.to_string() },
        netmask => lab.network.cidr.netmask().to_string(),
        firewall => {
            let r = crate::steps::firewall::rules(lab, node, None);
            context! { zone => crate::steps::firewall::ZONE, sources => r.sources, ports => r.ports }
        },
        user => lab.user,
        locale => context! { lang => lab.locale.lang, keyboard => lab.locale.keyboard, timezone => lab.locale.timezone },
        nat_mac => nat_mac.to_string(),
        hostonly_mac => hostonly_mac.to_string(),
        client_public => client_public,
        host_private => host_private,
        host_public => host_public,
        // The here-document adds the final newline.
        hosts_file => crate::files::hosts_file(lab).trim_end_matches('\n'),
        packages => packages(image.kickstart, false, java_package),
        repos => image.mirror_repos(),
    })
    .map_err(|e| format!("rendering the kickstart: {e}"))
}

#[cfg(test)]
mod tests;
