//! Passwordless SSH from the master to every worker for the lab user (what `start-all.sh` needs):
//! a key pair on the master, its public key in each worker's `authorized_keys` (modes 700/600,
//! SELinux labels restored), and the master's `known_hosts` seeded with the workers' real host
//! keys, so no first connection is ever trusted blindly.

use crate::error::{Error, Result};
use crate::files;
use crate::script::{Sh, sh};
use crate::spec::Lab;
use crate::state::Change;
use crate::steps::node::{NodeCx, Owner};
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub const ID: &str = "cluster_ssh";

pub struct ClusterSsh {
    node: String,
    head: Head,
}

pub fn step(lab: &Lab) -> Box<dyn Step> {
    let m = lab.master();
    Box::new(ClusterSsh {
        node: m.name.clone(),
        head: Head::node(ID, Stage::Cluster, &m.name, format!("{} on {} logs in to every worker without a password", lab.user, m.name)),
    })
}

/// The known_hosts the master must have: every node's pinned keys.
fn desired_known(cx: &Cx<'_>, current: &str) -> Result<String> {
    let keys = cx.keys()?;
    let entries: Vec<(String, String)> = cx
        .lab
        .nodes
        .iter()
        .filter_map(|x| keys.hosts.get(&x.name).map(|k| (format!("{},{}", x.name, x.ip), k.keys.clone())))
        .flat_map(|(h, ks)| ks.into_iter().map(move |k| (h.clone(), k)))
        .collect();
    Ok(files::known_hosts(current, &entries))
}

impl ClusterSsh {
    /// Why it is not so yet, from the probes of the master and the workers (none: it is).
    fn wrong(&self, cx: &Cx<'_>) -> Result<Option<String>> {
        let fact = cx.fact(&self.node, ID)?;
        let mut parts = fact.splitn(3, "---\n");
        let head = parts.next().unwrap_or("");
        let known = parts.next().unwrap_or("");
        let Some(key) = head.lines().find(|l| l.starts_with("ssh-ed25519 ")).map(str::trim) else { return Ok(Some("the master has no key pair".into())) };
        if desired_known(cx, known)? != known {
            return Ok(Some("the master's known_hosts lacks the nodes' keys".into()));
        }
        for w in cx.lab.workers() {
            let f = cx.fact(&w.name, ID)?;
            let authorized = f.splitn(3, "---\n").nth(2).unwrap_or("");
            if !authorized.lines().any(|l| l.trim() == key) {
                return Ok(Some(format!("{} does not trust the master's key", w.name)));
            }
        }
        Ok(None)
    }
}

impl Step for ClusterSsh {
    fn head(&self) -> &Head {
        &self.head
    }
    fn probes(&self, cx: &Cx<'_>) -> Result<Vec<(String, Sh)>> {
        // The lab user's home, public key (if any), known_hosts and authorized_keys, on every node.
        let check = sh(
            "printf 'home=%s\\n' \"$HOME\"; cat ~/.ssh/id_ed25519.pub 2>/dev/null; echo ---; cat ~/.ssh/known_hosts 2>/dev/null; echo ---; cat ~/.ssh/authorized_keys 2>/dev/null; true",
            &[],
        );
        Ok(cx.lab.nodes.iter().map(|n| (n.name.clone(), check.clone())).collect())
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        Ok(self.wrong(cx)?.map_or(Check::Satisfied, Check::Needed))
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let n = NodeCx::new(cx, &self.node)?;
        let user = &cx.lab.user;
        let keygen = sh(
            "set -e; umask 077; mkdir -p ~/.ssh; chmod 700 ~/.ssh; \
             if [ ! -f ~/.ssh/id_ed25519 ]; then ssh-keygen -q -t ed25519 -N '' -C {{comment}} -f ~/.ssh/id_ed25519; echo generated; fi; \
             printf 'home=%s\\n' \"$HOME\"; cat ~/.ssh/id_ed25519.pub; echo ---; cat ~/.ssh/known_hosts 2>/dev/null || true",
            &[("comment", &format!("{user}@{}", n.name()))],
        );
        let out = n.s.check(&keygen)?.stdout;
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
        let authorize = sh(
            "set -e; umask 077; mkdir -p ~/.ssh; chmod 700 ~/.ssh; f=~/.ssh/authorized_keys; if [ -f \"$f\" ]; then e=1; else e=0; fi; \
             if ! grep -qxF {{key}} \"$f\" 2>/dev/null; then printf '%s\\n' {{key}} >> \"$f\"; chmod 600 \"$f\"; \
               command -v restorecon >/dev/null && restorecon -R ~/.ssh || true; echo \"added $e $HOME\"; fi",
            &[("key", &master_key)],
        );
        let workers: Vec<String> = cx.lab.workers().map(|w| w.name.clone()).collect();
        let results: Vec<Result<(String, String)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = workers.iter().map(|w| scope.spawn(|| Ok((w.clone(), cx.remote(w)?.check(&authorize)?.stdout.trim().to_string())))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Error::Internal("a worker's SSH setup panicked".into())))).collect()
        });
        for r in results {
            let (w, said) = r?;
            let mut words = said.split_whitespace();
            if words.next() == Some("added") {
                outcome = Outcome::Applied;
                cx.forget_facts(&w);
                let existed = words.next() == Some("1");
                let file = format!("{}/.ssh/authorized_keys", words.next().unwrap_or("~"));
                cx.track(&w, if existed { Change::Line { path: file, line: master_key.clone() } } else { Change::Created { path: file } })?;
            }
        }
        let known = desired_known(cx, known_now)?;
        if known != known_now && n.put_file(&format!("{home}/.ssh/known_hosts"), &known, 0o644, &Owner::user(user))? == Outcome::Applied {
            outcome = Outcome::Applied;
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::fake::World;

    const KEY: &str = "ssh-ed25519 AAAAmaster spark@master";

    #[test]
    fn satisfied_when_every_worker_trusts_the_masters_key_and_known_hosts_is_right() {
        let w = World::sandbox();
        let plan = vec![step(&w.lab)];
        let cx = w.cx(&plan);
        let known = desired_known(&cx, "").expect("known");
        let master = w.remote(&cx, "master");
        master.probe(&[(ID, &format!("home=/home/spark\n{KEY}\n---\n{known}---\n"))]);
        let workers = [w.remote(&cx, "node1"), w.remote(&cx, "node2")];
        for r in &workers {
            r.probe(&[(ID, &format!("home=/home/spark\n---\n---\n{KEY}\n"))]);
        }
        assert_eq!(plan[0].check(&cx).expect("check"), Check::Satisfied);
        assert!(known.contains("master,192.168.57.10 ssh-ed25519 AAAAC3Nzamaster"), "{known}");
    }

    #[test]
    fn a_worker_without_the_key_gets_it_and_the_masters_known_hosts_is_written() {
        let w = World::with(include_str!("../../labs/sandbox.yaml"), true);
        let plan = vec![step(&w.lab)];
        let cx = w.cx(&plan);
        let master = w.remote(&cx, "master");
        master.probe(&[(ID, "home=/home/spark\n---\n---\n")]);
        let (node1, node2) = (w.remote(&cx, "node1"), w.remote(&cx, "node2"));
        node1.probe(&[(ID, &format!("home=/home/spark\n---\n---\n{KEY}\n"))]);
        node2.probe(&[(ID, "home=/home/spark\n---\n---\n")]);
        assert!(matches!(plan[0].check(&cx).expect("check"), Check::Needed(ref why) if why.contains("key pair")));
        master.answer("ssh-keygen", 0, &format!("generated\nhome=/home/spark\n{KEY}\n---\n"));
        master.answer("mktemp", 0, "created\n");
        node2.answer("authorized_keys", 0, "added 0 /home/spark\n");
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        let (script, input) = master.last();
        assert!(script.contains("/home/spark/.ssh/known_hosts"), "{script}");
        assert!(String::from_utf8(input).expect("utf-8").contains("node2,192.168.57.12 ssh-ed25519 AAAAC3Nzanode2"));
        for n in [&node1, &node2] {
            assert!(n.scripts().iter().any(|s| s.contains("grep -qxF 'ssh-ed25519 AAAAmaster spark@master'")), "{:?}", n.scripts());
        }
        let st = w.sd.load().expect("load").expect("state");
        assert!(st.nodes["node2"].changes.contains(&Change::Created { path: "/home/spark/.ssh/authorized_keys".into() }));
        assert!(st.nodes["master"].changes.contains(&Change::Created { path: "/home/spark/.ssh/id_ed25519".into() }));
        assert!(st.nodes.get("node1").is_none_or(|n| n.changes.is_empty()), "node1 had the key: nothing changed there");
    }
}
