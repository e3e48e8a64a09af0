//! A machine lab did not make has a known host key: from `existing.known_hosts`, or recorded
//! once from what it presents when the user said so (`--accept-host-keys`, confirmed on a
//! terminal).

use std::io::IsTerminal;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::fsx::{self, Access};
use crate::provider::Provider;
use crate::provider::existing::{Existing, known_hosts_text, known_keys, login_target, recorded_path};
use crate::remote::fingerprint;
use crate::spec::{Lab, Node};
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct HostKeyKnown {
    node: String,
    head: Head,
}

pub fn step(_: &Lab, n: &Node) -> Box<dyn Step> {
    Box::new(HostKeyKnown {
        node: n.name.clone(),
        head: Head::node(
            "host_key_known",
            Stage::Machines,
            &n.name,
            format!("{}'s host key is known (existing.known_hosts, or recorded with --accept-host-keys)", n.ip),
        ),
    })
}

impl Step for HostKeyKnown {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let text = known_hosts_text(cx.lab)?;
        Ok(if known_keys(cx.lab, cx.sd, cx.node(&self.node)?, text.as_deref())?.is_empty() {
            Check::Needed("no host key is known".into())
        } else {
            Check::Satisfied
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let o = Existing::record_host_key(cx, cx.node(&self.node)?)?;
        if o == Outcome::Applied {
            // Later steps connect with the key just recorded.
            let mut keys = cx.keys()?;
            keys.hosts = Existing.known_host_keys(cx.lab, cx.sd)?;
            cx.sd.write_known_hosts(cx.lab, &keys.hosts)?;
            cx.set_keys(keys);
        }
        Ok(o)
    }
}

impl Existing {
    /// Records the host keys of a node that has none yet, when the user said so (and, on a
    /// terminal, confirmed the fingerprints).
    fn record_host_key(cx: &Cx<'_>, node: &Node) -> Result<Outcome> {
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
}
