//! Passwordless SSH from the master to every worker for the lab user (what `start-all.sh` needs):
//! a key pair on the master, its public key in each worker's `authorized_keys` (modes 700/600,
//! SELinux labels restored), and the master's `known_hosts` seeded with the workers' real host
//! keys, so no first connection is ever trusted blindly.

use std::sync::Arc;

use futures_util::future::join_all;

use super::{NodeCx, Owner};
use crate::error::{Error, Result};
use crate::files;
use crate::remote::Session;
use crate::script::{Sh, sh};
use crate::state::Change;
use crate::ui::Outcome;

/// The lab user's home, public key (if any), known_hosts and authorized_keys.
pub fn check() -> Sh {
    sh(
        "printf 'home=%s\\n' \"$HOME\"; cat ~/.ssh/id_ed25519.pub 2>/dev/null; echo ---; cat ~/.ssh/known_hosts 2>/dev/null; echo ---; cat ~/.ssh/authorized_keys 2>/dev/null; true",
        &[],
    )
}

/// The known_hosts the master must have: every node's pinned keys.
fn desired_known(n: &NodeCx<'_>, current: &str) -> Result<String> {
    let keys = n.cx.keys()?;
    let entries: Vec<(String, String)> =
        n.cx.lab
            .nodes
            .iter()
            .filter_map(|x| keys.hosts.get(&x.name).map(|k| (format!("{},{}", x.name, x.ip), k.keys.clone())))
            .flat_map(|(h, ks)| ks.into_iter().map(move |k| (h.clone(), k)))
            .collect();
    Ok(files::known_hosts(current, &entries))
}

/// Nothing to do: the master has its key, every worker trusts it, known_hosts is right. Read
/// from the probes, without another round trip.
fn already(n: &NodeCx<'_>) -> Result<bool> {
    let fact = n.fact(crate::plan::ids::CLUSTER_SSH)?;
    let mut parts = fact.splitn(3, "---\n");
    let head = parts.next().unwrap_or("");
    let known = parts.next().unwrap_or("");
    let Some(key) = head.lines().find(|l| l.starts_with("ssh-ed25519 ")).map(str::trim) else { return Ok(false) };
    if desired_known(n, known)? != known {
        return Ok(false);
    }
    for w in n.cx.lab.workers() {
        let wn = NodeCx { cx: n.cx, node: w, s: n.cx.session(&w.name)? };
        let f = wn.fact(crate::plan::ids::CLUSTER_SSH)?;
        let authorized = f.splitn(3, "---\n").nth(2).unwrap_or("");
        if !authorized.lines().any(|l| l.trim() == key) {
            return Ok(false);
        }
    }
    Ok(true)
}

pub fn ensure(n: &NodeCx<'_>) -> Result<Outcome> {
    if already(n)? {
        return Ok(Outcome::Satisfied);
    }
    let lab = n.cx.lab;
    let user = &lab.user;
    let keygen = sh(
        "set -e; umask 077; mkdir -p ~/.ssh; chmod 700 ~/.ssh; \
         if [ ! -f ~/.ssh/id_ed25519 ]; then ssh-keygen -q -t ed25519 -N '' -C {{comment}} -f ~/.ssh/id_ed25519; echo generated; fi; \
         printf 'home=%s\\n' \"$HOME\"; cat ~/.ssh/id_ed25519.pub; echo ---; cat ~/.ssh/known_hosts 2>/dev/null || true",
        &[("comment", &format!("{user}@{}", n.name()))],
    );
    let out = n.run(n.s.check(&keygen))?.stdout;
    let (head, known_now) = out.split_once("---\n").unwrap_or((out.as_str(), ""));
    let mut outcome = Outcome::Satisfied;
    let home = head.lines().find_map(|l| l.strip_prefix("home=")).unwrap_or("").to_string();
    if head.lines().any(|l| l == "generated") {
        outcome = Outcome::Applied;
        n.track(Change::Created { path: format!("{home}/.ssh/id_ed25519") })?;
        n.track(Change::Created { path: format!("{home}/.ssh/id_ed25519.pub") })?;
    }
    let master_key = head.lines().find(|l| l.starts_with("ssh-ed25519 ")).unwrap_or("").trim().to_string();
    if master_key.is_empty() {
        return Err(Error::node(n.name(), format!("the master's key pair could not be read: {head:?}")));
    }
    let workers: Vec<(String, Arc<Session>)> = lab.workers().map(|w| Ok::<_, Error>((w.name.clone(), n.cx.session(&w.name)?))).collect::<Result<_>>()?;
    let results = n.run(join_all(workers.iter().map(|(w, s)| {
        let key = master_key.clone();
        async move {
            let script = sh(
                "set -e; umask 077; mkdir -p ~/.ssh; chmod 700 ~/.ssh; f=~/.ssh/authorized_keys; if [ -f \"$f\" ]; then e=1; else e=0; fi; \
                 if ! grep -qxF {{key}} \"$f\" 2>/dev/null; then printf '%s\\n' {{key}} >> \"$f\"; chmod 600 \"$f\"; \
                   command -v restorecon >/dev/null && restorecon -R ~/.ssh || true; echo \"added $e $HOME\"; fi",
                &[("key", &key)],
            );
            let out = s.check(&script).await?;
            Ok::<_, Error>((w.clone(), out.stdout.trim().to_string()))
        }
    })));
    for r in results {
        let (w, said) = r?;
        let mut words = said.split_whitespace();
        if words.next() == Some("added") {
            outcome = Outcome::Applied;
            n.cx.forget_facts(&w);
            let existed = words.next() == Some("1");
            let file = format!("{}/.ssh/authorized_keys", words.next().unwrap_or("~"));
            n.cx.track(&w, if existed { Change::Line { path: file, line: master_key.clone() } } else { Change::Created { path: file } })?;
        }
    }
    let known = desired_known(n, known_now)?;
    if known != known_now && n.put_file(&format!("{home}/.ssh/known_hosts"), &known, 0o644, &Owner::user(user))? == Outcome::Applied {
        outcome = Outcome::Applied;
    }
    Ok(outcome)
}
