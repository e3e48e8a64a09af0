//! The `existing` provider: machines that already run sshd, which lab did not create and must
//! leave as it found them. lab logs in as `existing.login` (default: the lab user) with
//! `existing.identity_file` (default: the lab key), makes sure the lab user exists with the lab
//! key and passwordless sudo, and then provisions as on any other provider, recording every
//! change it makes so `destroy` undoes exactly those. Host keys come from `existing.known_hosts`
//! (OpenSSH's whole format), or were recorded on a first connection the user confirmed with
//! `--accept-host-keys`; they are never learned silently.

mod host_key_known;
mod lab_user;
mod node_restored;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::{Machine, MachineState, Provider};
use crate::error::{Error, Result};
use crate::fsx;
use crate::remote::{Target, known_hosts};
use crate::script::sh;
use crate::spec::{Lab, Node};
use crate::state::{Change, HostKey, Keys, State, StateDir};
use crate::steps::{Machines, Steps};

pub struct Existing;

fn recorded_path(sd: &StateDir, node: &str) -> PathBuf {
    sd.host_key_dir(node).join("recorded.pub")
}

/// `existing.known_hosts`, relative to the lab file's folder. Missing or unreadable: an error
/// naming the file.
fn known_hosts_text(lab: &Lab) -> Result<Option<String>> {
    let Some(file) = &lab.existing.known_hosts else { return Ok(None) };
    let path = if file.is_absolute() { file.clone() } else { lab.dir().join(file) };
    std::fs::read_to_string(&path).map(Some).map_err(|e| Error::Preflight {
        problem: format!("existing.known_hosts names {}, which cannot be read: {e}", path.display()),
        fix: format!(
            "create it, for example with `ssh-keyscan {} > {}`, and check the keys it holds",
            lab.nodes.first().map_or_else(String::new, |n| n.ip.to_string()),
            path.display()
        ),
    })
}

/// The host keys known for `node`: from `existing.known_hosts`, else the ones recorded earlier.
fn known_keys(lab: &Lab, sd: &StateDir, node: &Node, known: Option<&str>) -> Result<Vec<String>> {
    if let Some(text) = known {
        let port = lab.existing.port;
        let k = known_hosts::lookup(text, &[&node.name, &node.ip.to_string()], port);
        if !k.revoked.is_empty() && k.keys.is_empty() {
            return Err(Error::Preflight {
                problem: format!("{}'s host key is marked @revoked in existing.known_hosts", node.name),
                fix: "the machine must get a new host key, listed in existing.known_hosts".into(),
            });
        }
        if !k.keys.is_empty() {
            return Ok(k.keys);
        }
    }
    Ok(fsx::read_own(&recorded_path(sd, &node.name))?
        .map(|t| t.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect())
        .unwrap_or_default())
}

fn host_keys_of(lab: &Lab, sd: &StateDir) -> Result<BTreeMap<String, Vec<String>>> {
    let text = known_hosts_text(lab)?;
    let mut out = BTreeMap::new();
    for n in &lab.nodes {
        let keys = known_keys(lab, sd, n, text.as_deref())?;
        if !keys.is_empty() {
            out.insert(n.name.clone(), keys);
        }
    }
    Ok(out)
}

fn as_host_keys(map: &BTreeMap<String, Vec<String>>) -> BTreeMap<String, HostKey> {
    map.iter().map(|(n, keys)| (n.clone(), HostKey { keys: keys.clone(), private_path: None })).collect()
}

fn login_target(lab: &Lab, sd: &StateDir, node: &Node, host_keys: Vec<String>) -> Target {
    Target {
        node: node.name.clone(),
        addr: SocketAddr::from((node.ip, lab.existing.port)),
        user: lab.existing.login.clone().unwrap_or_else(|| lab.user.clone()),
        key: lab.existing.identity_file.clone().map_or_else(|| sd.client_key_path(), |f| if f.is_absolute() { f } else { lab.dir().join(f) }),
        host_keys,
    }
}

fn lab_target(lab: &Lab, sd: &StateDir, node: &Node, host_keys: Vec<String>) -> Target {
    Target { node: node.name.clone(), addr: SocketAddr::from((node.ip, lab.existing.port)), user: lab.user.clone(), key: sd.client_key_path(), host_keys }
}

impl Machines for Existing {
    fn host_keys(&self, lab: &Lab, sd: &StateDir) -> Result<BTreeMap<String, HostKey>> {
        Ok(as_host_keys(&host_keys_of(lab, sd)?))
    }

    fn target(&self, lab: &Lab, sd: &StateDir, _: &Keys, node: &Node) -> Result<Target> {
        let keys =
            host_keys_of(lab, sd)?.remove(&node.name).ok_or_else(|| Error::node_hint(&node.name, "no host key is known for it", "run `lab up` first"))?;
        Ok(lab_target(lab, sd, node, keys))
    }

    fn tracks_changes(&self) -> bool {
        true
    }
}

impl Provider for Existing {
    fn name(&self) -> &'static str {
        "existing"
    }

    fn available(&self, lab: &Lab) -> Result<()> {
        known_hosts_text(lab).map(drop)
    }

    fn halts(&self) -> bool {
        false
    }

    fn known_host_keys(&self, lab: &Lab, sd: &StateDir) -> Result<BTreeMap<String, HostKey>> {
        Ok(as_host_keys(&host_keys_of(lab, sd)?))
    }

    fn plan<'a>(&'a self, lab: &Lab) -> Steps<'a> {
        let mut steps: Steps<'a> = lab.nodes.iter().map(|n| host_key_known::step(lab, n)).collect();
        steps.extend(lab.nodes.iter().map(|n| lab_user::step(lab, n)));
        steps
    }

    fn status(&self, lab: &Lab, _: &StateDir) -> Result<Vec<Machine>> {
        Ok(lab.nodes.iter().map(|n| Machine { node: n.name.clone(), state: MachineState::Existing, reachable: true, note: None }).collect())
    }

    fn leftovers(&self, _: &Lab, _: &StateDir, state: Option<&State>) -> Result<Vec<String>> {
        Ok(state.map(|s| s.nodes.iter().flat_map(|(n, ns)| ns.changes.iter().map(move |c| format!("{n}: {}", describe(c)))).collect()).unwrap_or_default())
    }

    fn destroy<'a>(&'a self, lab: &Lab, sd: &StateDir, state: Option<&State>) -> Result<Steps<'a>> {
        let Some(state) = state else { return Ok(Vec::new()) };
        let keys = host_keys_of(lab, sd)?;
        Ok(lab
            .nodes
            .iter()
            .filter(|n| keys.contains_key(&n.name))
            .map(|n| node_restored::step(n, state.nodes.get(&n.name).map(|s| s.changes.clone()).unwrap_or_default()))
            .collect())
    }
}

/// A change in words.
pub fn describe(c: &Change) -> String {
    match c {
        Change::Created { path } => format!("created {path}"),
        Change::Replaced { path, backup } => format!("replaced {path} (original kept as {backup})"),
        Change::User { name } => format!("created user {name}"),
        Change::Line { path, line } => format!("added a line to {path}: {}", line.chars().take(40).collect::<String>()),
        Change::FirewallSource { cidr } => format!("trusted {cidr} in firewalld"),
        Change::FirewallZone { zone } => format!("made firewalld zone {zone}"),
        Change::Package { name } => format!("installed package {name}"),
    }
}

/// The script that undoes one change (as root).
pub fn undo(c: &Change) -> crate::script::Sh {
    match c {
        Change::Created { path } => sh("rm -rf -- {{p}}", &[("p", path)]),
        Change::Replaced { path, backup } => {
            sh("if [ -e {{b}} ] || [ -L {{b}} ]; then rm -rf -- {{p}} && mv -f -- {{b}} {{p}}; fi", &[("p", path), ("b", backup)])
        }
        Change::User { name } => sh(
            "if id -u {{u}} >/dev/null 2>&1; then pkill -KILL -u {{u}} || true; for i in $(seq 50); do pgrep -u {{u}} >/dev/null || break; sleep 0.1; done; userdel -r {{u}} 2>/dev/null || userdel {{u}}; fi; ! id -u {{u}} >/dev/null 2>&1",
            &[("u", name)],
        ),
        Change::Line { path, line } => sh(
            "if [ -f {{p}} ]; then grep -vxF {{l}} {{p}} > {{p}}.lab-undo; cat {{p}}.lab-undo > {{p}}; rm -f {{p}}.lab-undo; fi",
            &[("p", path), ("l", line)],
        ),
        Change::FirewallSource { cidr } => sh(
            "if command -v firewall-cmd >/dev/null 2>&1 && firewall-cmd --state >/dev/null 2>&1; then firewall-cmd --permanent --zone=trusted --remove-source={{c}} >/dev/null 2>&1; firewall-cmd --reload >/dev/null 2>&1; fi; true",
            &[("c", cidr)],
        ),
        Change::FirewallZone { zone } => sh(
            "if command -v firewall-cmd >/dev/null 2>&1 && firewall-cmd --state >/dev/null 2>&1; then firewall-cmd --permanent --delete-zone={{z}} >/dev/null 2>&1; firewall-cmd --reload >/dev/null 2>&1; fi; true",
            &[("z", zone)],
        ),
        Change::Package { name } => sh(
            "if command -v dnf >/dev/null; then dnf -y -q remove {{n}}; elif command -v yum >/dev/null; then yum -y -q remove {{n}}; elif command -v apt-get >/dev/null; then DEBIAN_FRONTEND=noninteractive apt-get remove -y -q {{n}}; fi",
            &[("n", name)],
        ),
    }
}

// The test runs the scripts in the POSIX sh a node has.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn undo_scripts_quote_and_are_valid_shell() {
        for c in [
            Change::Created { path: "/opt/spark-3.5.7".into() },
            Change::Replaced { path: "/etc/hosts".into(), backup: "/etc/hosts.lab-orig".into() },
            Change::User { name: "spark".into() },
            Change::Line { path: "/home/a b/.ssh/authorized_keys".into(), line: "ssh-ed25519 AAAA lab".into() },
            Change::FirewallSource { cidr: "10.1.2.0/24".into() },
            Change::FirewallZone { zone: "lab".into() },
            Change::Package { name: "java-17-openjdk-devel".into() },
        ] {
            let s = undo(&c);
            let out = std::process::Command::new("sh").args(["-n", "-c", s.as_str()]).output().expect("sh");
            assert!(out.status.success(), "{s}: {}", String::from_utf8_lossy(&out.stderr));
        }
        assert!(undo(&Change::Line { path: "/h/k".into(), line: "a'b".into() }).as_str().contains("'a'\\''b'"));
    }
}
