//! The `existing` provider: machines that already run sshd, which lab did not create and must
//! leave as it found them. lab logs in as `existing.login` (default: the lab user) with
//! `existing.identity_file` (default: the lab key), makes sure the lab user exists with the lab
//! key and passwordless sudo, and then provisions as on any other provider, recording every
//! change it makes so `destroy` undoes exactly those. Host keys come from `existing.known_hosts`
//! (OpenSSH's whole format), or were recorded on a first connection the user confirmed with
//! `--accept-host-keys`; they are never learned silently.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{Machine, Provider};
use crate::error::{Error, Result};
use crate::fsx::{self, Access};
use crate::plan::{Stage, Step};
use crate::remote::{Session, Target, fingerprint, known_hosts};
use crate::runner::StepCx;
use crate::script::sh;
use crate::spec::{Lab, Node};
use crate::state::{Change, HostKey, Keys, State, StateDir};
use crate::ui::{Outcome, Reporter};

const HOST_KEY: &str = "host_key_known";
const LAB_USER: &str = "lab_user";

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

impl Existing {
    /// Records the host keys of a node that has none yet, when the user said so (and, on a
    /// terminal, confirmed the fingerprints).
    fn record_host_key(cx: &StepCx<'_>, node: &Node) -> Result<Outcome> {
        let text = known_hosts_text(cx.lab)?;
        if !known_keys(cx.lab, cx.sd, node, text.as_deref())?.is_empty() {
            return Ok(Outcome::Satisfied);
        }
        if !cx.opts.accept_host_keys {
            return Err(Error::Preflight {
                problem: format!("no host key is known for {} ({})", node.name, node.ip),
                fix: "list it in a file named by existing.known_hosts (`ssh-keyscan HOST > known_hosts`), or run `lab up --accept-host-keys` once to record the key the machine presents (its fingerprint is shown)".into(),
            });
        }
        let t = login_target(cx.lab, cx.sd, node, Vec::new());
        let key = cx.block_on(crate::remote::presented_host_key(&t, Duration::from_secs(10)))?;
        let line = format!("{}: {} presents host key {} ({})", node.name, t.addr, fingerprint(&key), key.split_whitespace().next().unwrap_or("?"));
        cx.reporter.always(&line);
        if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() && std::env::var_os("LAB_ASSUME_YES").is_none() {
            let answer = cx.reporter.ask(&format!("Record host key {} for {} ({})? [y/N] ", fingerprint(&key), node.name, t.addr));
            if !matches!(answer.trim(), "y" | "Y" | "yes") {
                return Err(Error::Cancelled(format!("the host key of {} was not recorded", node.name)));
            }
        }
        let path = recorded_path(cx.sd, &node.name);
        fsx::private_dir(cx.sd.host_key_dir(&node.name).as_path())?;
        fsx::write_atomic(&path, format!("{key}\n").as_bytes(), Access::Public)?;
        Ok(Outcome::Applied)
    }

    /// The lab user exists, logs in with the lab key and has passwordless sudo. Checked in one
    /// round trip as the lab user; only when that fails does lab log in as `existing.login`.
    fn ensure_lab_user(cx: &StepCx<'_>, node: &Node) -> Result<Outcome> {
        let keys = host_keys_of(cx.lab, cx.sd)?.remove(&node.name).unwrap_or_default();
        let lab_t = lab_target(cx.lab, cx.sd, node, keys.clone());
        if let Ok(s) = cx.block_on(Session::connect(&lab_t, Duration::from_secs(10))) {
            let ok = cx.block_on(s.exec(&sh("sudo -n true", &[]))).is_ok_and(|o| o.ok());
            if ok {
                cx.put_session(&node.name, s);
                return Ok(Outcome::Satisfied);
            }
            cx.block_on(s.close());
        }
        let t = login_target(cx.lab, cx.sd, node, keys);
        let s = cx.block_on(Session::connect(&t, Duration::from_secs(15))).map_err(|e| match e {
            Error::Node { node, problem, hint: None } => Error::Node {
                node,
                problem,
                hint: Some(format!("lab logs in as {} with {}; set existing.login and existing.identity_file", t.user, t.key.display())),
            },
            other => other,
        })?;
        let public = std::fs::read_to_string(cx.sd.client_key_path().with_extension("pub")).map_err(|e| Error::io("reading the lab's public key", e))?;
        let r = cx.block_on(Self::make_lab_user(cx, node, &s, public.trim()));
        // The lab user must now get in with the lab key; when it cannot, say why if lab can tell.
        let r = r.and_then(|()| match cx.block_on(Session::connect(&lab_t, Duration::from_secs(10))) {
            Ok(lab_s) => {
                cx.put_session(&node.name, lab_s);
                Ok(())
            }
            Err(e) => {
                let user = &cx.lab.user;
                let status = cx.block_on(s.sudo_check(&sh("passwd -S {{u}} 2>/dev/null | cut -d' ' -f2", &[("u", user)]))).map(|o| o.stdout.trim().to_string());
                let hint = if status.as_deref().is_ok_and(|st| st == "L" || st == "LK") {
                    format!(
                        "the account {user} has a locked password (`!` in /etc/shadow), and an sshd without PAM refuses key logins to locked accounts; `sudo usermod -p '*' {user}` on the node keeps password logins impossible and lets keys in"
                    )
                } else {
                    format!("lab added its key to {user}'s authorized_keys; check sshd's AllowUsers/AuthorizedKeysFile on the node")
                };
                Err(Error::node_hint(&node.name, format!("{user} cannot log in with the lab key after lab set it up: {e}"), hint))
            }
        });
        cx.block_on(s.close());
        r?;
        Ok(Outcome::Applied)
    }

    async fn make_lab_user(cx: &StepCx<'_>, node: &Node, s: &Session, public: &str) -> Result<()> {
        let user = &cx.lab.user;
        // A system account (uid below 1000, or no login shell) is never handed sudo and a key,
        // unless lab made it.
        let made_by_lab = cx.sd.load()?.is_some_and(|st| st.nodes.get(&node.name).is_some_and(|n| n.changes.contains(&Change::User { name: user.clone() })));
        let probe = s
            .sudo_check(&sh(
                "if u=$(getent passwd {{user}}); then echo \"exists $(printf '%s' \"$u\" | cut -d: -f3) $(printf '%s' \"$u\" | cut -d: -f7)\"; else useradd -m -s /bin/bash {{user}} && usermod -p '*' {{user}} && echo created; fi",
                &[("user", user)],
            ))
            .await?;
        let answer = probe.stdout.trim().to_string();
        if answer == "created" {
            cx.track(&node.name, Change::User { name: user.clone() })?;
        } else if !made_by_lab {
            let mut words = answer.split_whitespace().skip(1);
            let uid: u32 = words.next().and_then(|u| u.parse().ok()).unwrap_or(0);
            let shell = words.next().unwrap_or("");
            if uid < 1000 || shell.ends_with("nologin") || shell.ends_with("false") {
                return Err(Error::node_hint(
                    &node.name,
                    format!(
                        "`user: {user}` names an existing system account (uid {uid}, shell {shell}); lab gives its user passwordless sudo and a key, so it refuses to take that account"
                    ),
                    "choose another `user:` in the lab file (lab creates it), like `user: spark`",
                ));
            }
        }
        let home = s.sudo_check(&sh("getent passwd {{user}} | cut -d: -f6", &[("user", user)])).await?.stdout.trim().to_string();
        let keys_file = format!("{home}/.ssh/authorized_keys");
        let out = s
            .sudo_check(&sh(
                "install -d -m 0700 -o {{user}} -g {{user}} {{dir}}; f={{file}}; if [ -f \"$f\" ]; then existed=1; else existed=0; fi; \
                 if ! grep -qxF {{key}} \"$f\" 2>/dev/null; then printf '%s\\n' {{key}} >> \"$f\"; chown {{user}}:{{user}} \"$f\"; chmod 600 \"$f\"; echo \"added $existed\"; fi; \
                 command -v restorecon >/dev/null && restorecon -R {{dir}}; true",
                &[("user", user), ("dir", &format!("{home}/.ssh")), ("file", &keys_file), ("key", &public.to_string())],
            ))
            .await?;
        match out.stdout.trim() {
            "added 1" => cx.track(&node.name, Change::Line { path: keys_file, line: public.to_string() })?,
            "added 0" => cx.track(&node.name, Change::Created { path: keys_file })?,
            _ => {}
        }
        let sudoers = format!("/etc/sudoers.d/90-lab-{user}");
        let out = s
            .sudo_check(&sh(
                "f={{file}}; if [ ! -f \"$f\" ]; then printf '%s ALL=(ALL) NOPASSWD: ALL\\n' {{user}} > \"$f.lab-new\" && chmod 0440 \"$f.lab-new\" && visudo -cf \"$f.lab-new\" >/dev/null && mv \"$f.lab-new\" \"$f\" && echo created; fi",
                &[("file", &sudoers), ("user", user)],
            ))
            .await?;
        if out.stdout.trim() == "created" {
            cx.track(&node.name, Change::Created { path: sudoers })?;
        }
        Ok(())
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

    fn host_keys(&self, cx: &StepCx<'_>, _: bool) -> Result<BTreeMap<String, HostKey>> {
        Ok(as_host_keys(&host_keys_of(cx.lab, cx.sd)?))
    }

    fn known_host_keys(&self, lab: &Lab, sd: &StateDir) -> Result<BTreeMap<String, HostKey>> {
        Ok(as_host_keys(&host_keys_of(lab, sd)?))
    }

    fn plan(&self, lab: &Lab) -> Vec<Step> {
        let mut steps = Vec::new();
        for n in &lab.nodes {
            steps.push(Step::new(
                Stage::Machines,
                &n.name,
                HOST_KEY,
                format!("{}'s host key is known (existing.known_hosts, or recorded with --accept-host-keys)", n.ip),
            ));
        }
        let login = lab.existing.login.clone().unwrap_or_else(|| lab.user.clone());
        for n in &lab.nodes {
            steps.push(Step::new(
                Stage::Machines,
                &n.name,
                LAB_USER,
                format!("user {} logs in with the lab key and has passwordless sudo (set up as {login})", lab.user),
            ));
        }
        steps
    }

    fn apply(&self, cx: &StepCx<'_>, step: &Step) -> Result<Outcome> {
        let node = cx.lab.node(&step.target).ok_or_else(|| Error::Internal(format!("no node {}", step.target)))?;
        match step.id {
            HOST_KEY => {
                let o = Self::record_host_key(cx, node)?;
                if o == Outcome::Applied {
                    // Later steps connect with the key just recorded.
                    let mut keys = cx.keys()?;
                    keys.hosts = self.known_host_keys(cx.lab, cx.sd)?;
                    cx.sd.write_known_hosts(cx.lab, &keys.hosts)?;
                    cx.set_keys(keys)?;
                }
                Ok(o)
            }
            LAB_USER => Self::ensure_lab_user(cx, node),
            other => Err(Error::Internal(format!("the existing provider has no step {other}"))),
        }
    }

    fn target(&self, lab: &Lab, sd: &StateDir, _: &Keys, node: &Node) -> Result<Target> {
        let keys =
            host_keys_of(lab, sd)?.remove(&node.name).ok_or_else(|| Error::node_hint(&node.name, "no host key is known for it", "run `lab up` first"))?;
        Ok(lab_target(lab, sd, node, keys))
    }

    fn tracks_changes(&self) -> bool {
        true
    }

    fn halt(&self, _: &Lab, _: &StateDir, _: &dyn Reporter) -> Result<()> {
        Err(Error::Unsupported {
            what: "the existing provider's machines are not lab's to halt".into(),
            hint: "`lab destroy` removes what lab installed and leaves the machines running".into(),
        })
    }

    fn status(&self, lab: &Lab, _: &StateDir) -> Result<Vec<Machine>> {
        Ok(lab.nodes.iter().map(|n| Machine { node: n.name.clone(), state: "existing".into(), reachable: true }).collect())
    }

    fn leftovers(&self, _: &Lab, _: &StateDir, state: Option<&State>) -> Result<Vec<String>> {
        Ok(state.map(|s| s.nodes.iter().flat_map(|(n, ns)| ns.changes.iter().map(move |c| format!("{n}: {}", describe(c)))).collect()).unwrap_or_default())
    }

    fn destroy(&self, lab: &Lab, sd: &StateDir, state: Option<&State>, reporter: &dyn Reporter, rt: &tokio::runtime::Handle) -> Result<()> {
        let Some(state) = state else { return Ok(()) };
        let keys = host_keys_of(lab, sd)?;
        let results = rt.block_on(futures_util::future::join_all(lab.nodes.iter().map(|n| {
            let keys = keys.get(&n.name).cloned().unwrap_or_default();
            let changes = state.nodes.get(&n.name).map(|s| s.changes.clone()).unwrap_or_default();
            async move {
                if keys.is_empty() {
                    return Ok::<_, Error>(());
                }
                let start = Instant::now();
                reporter.step_start(&n.name, "restored");
                let s = Session::connect(&login_target(lab, sd, n, keys), Duration::from_secs(15)).await?;
                s.sudo_check(&crate::spark::stop_all(&lab.user)).await?;
                for c in changes.iter().rev() {
                    s.sudo_check(&undo(c)).await.map_err(|e| {
                        Error::node_hint(&n.name, format!("undoing \"{}\": {e}", describe(c)), "run `lab destroy` again; it undoes what is left")
                    })?;
                    let c = c.clone();
                    sd.update(|st| {
                        if let Some(ns) = st.nodes.get_mut(&n.name) {
                            ns.changes.retain(|x| *x != c);
                        }
                    })?;
                }
                s.close().await;
                reporter.step_done(&n.name, &format!("restored: {} changes undone", changes.len()), &Outcome::Applied, start.elapsed());
                Ok(())
            }
        })));
        results.into_iter().collect::<Result<Vec<_>>>().map(drop)
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
            Change::Package { name: "java-17-openjdk-devel".into() },
        ] {
            let s = undo(&c);
            let out = std::process::Command::new("sh").args(["-n", "-c", s.as_str()]).output().expect("sh");
            assert!(out.status.success(), "{s}: {}", String::from_utf8_lossy(&out.stderr));
        }
        assert!(undo(&Change::Line { path: "/h/k".into(), line: "a'b".into() }).as_str().contains("'a'\\''b'"));
    }
}
