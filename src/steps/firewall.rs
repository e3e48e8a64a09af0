//! firewalld, where it runs: a zone of lab's own (`lab`) whose sources are the lab's nodes and
//! this computer's lab address, opening SSH and the ports Spark listens on at this node (pinned,
//! `spark::ports`). Anyone else on the network, however wide the lab's CIDR, meets the
//! interface's zone (SSH only). The kickstart writes the same zone (`rules`) at install time.
//! A lab made before this trusted the whole CIDR in firewalld's `trusted` zone; that goes.

use std::net::Ipv4Addr;

use crate::error::{Error, Result};
use crate::script::{Sh, sh};
use crate::spark;
use crate::spec::{Lab, Node, ProviderKind};
use crate::state::Change;
use crate::steps::node::NodeCx;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub const ID: &str = "firewall";
/// firewalld's zone lab owns (names are at most 17 characters).
pub const ZONE: &str = "lab";

/// What the lab zone holds on one node: its sources (addresses) and ports (`7077/tcp`,
/// `7100-7116/tcp`), each sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub sources: Vec<String>,
    pub ports: Vec<String>,
}

/// The lab zone of `node`: every node and `network.host`, plus `client` (where lab's own SSH
/// comes from, as the node sees it) when it lies inside the lab network, as on `existing`
/// machines where this computer is not `network.host`.
pub fn rules(lab: &Lab, node: &Node, client: Option<Ipv4Addr>) -> Rules {
    let mut sources: Vec<Ipv4Addr> = lab.nodes.iter().map(|n| n.ip).chain([lab.network.host]).collect();
    sources.extend(client.filter(|c| lab.network.cidr.contains(*c)));
    sources.sort_unstable();
    sources.dedup();
    let mut ports = vec![(lab.ssh_port(), lab.ssh_port())];
    ports.extend(spark::ports(lab, node));
    ports.sort_unstable();
    ports.dedup();
    Rules {
        sources: sources.iter().map(ToString::to_string).collect(),
        ports: ports.iter().map(|&(a, b)| if a == b { format!("{a}/tcp") } else { format!("{a}-{b}/tcp") }).collect(),
    }
}

impl Rules {
    /// The same entries, whatever their order.
    fn same(&self, other: &Rules) -> bool {
        let set = |v: &[String]| v.iter().cloned().collect::<std::collections::BTreeSet<_>>();
        set(&self.sources) == set(&other.sources) && set(&self.ports) == set(&other.ports)
    }
}

/// What the probe saw of firewalld.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// Not installed or not running: nothing to open.
    Absent,
    /// Running, and `sudo -n` could not read its configuration.
    Unreadable,
    Running {
        client: Option<Ipv4Addr>,
        zone: Option<Rules>,
        legacy: bool,
    },
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

impl Seen {
    fn parse(fact: &str) -> Self {
        let get = |k: &str| fact.lines().find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix('=')));
        match get("state") {
            Some("absent") => Self::Absent,
            Some("running") => Self::Running {
                client: get("client").and_then(|c| c.split_whitespace().next()).and_then(|c| c.parse().ok()),
                zone: get("sources").zip(get("ports")).map(|(s, p)| Rules { sources: words(s), ports: words(p) }),
                legacy: get("legacy") == Some("yes"),
            },
            _ => Self::Unreadable,
        }
    }
}

/// The script (run as root) that makes the lab zone hold exactly `want`: extra entries out,
/// missing ones in, in the permanent configuration, then loaded; with `legacy`, `cidr` leaves
/// the `trusted` zone. Prints `absent` without a running firewalld, else `made=yes|no` (whether
/// it created the zone).
fn converge(want: &Rules, legacy: bool, cidr: &str) -> Sh {
    sh(
        "if ! command -v firewall-cmd >/dev/null 2>&1 || ! firewall-cmd --state >/dev/null 2>&1; then echo absent; exit 0; fi; set -e; \
         f='firewall-cmd --permanent'; z={{zone}}; src={{sources}}; ports={{ports}}; made=no; \
         $f --info-zone=\"$z\" >/dev/null 2>&1 || { $f --new-zone=\"$z\" >/dev/null; made=yes; }; \
         for s in $($f --zone=\"$z\" --list-sources); do case \" $src \" in *\" $s \"*) ;; *) $f --zone=\"$z\" --remove-source=\"$s\" >/dev/null;; esac; done; \
         for s in $src; do $f --zone=\"$z\" --query-source=\"$s\" >/dev/null 2>&1 || $f --zone=\"$z\" --add-source=\"$s\" >/dev/null; done; \
         for p in $($f --zone=\"$z\" --list-ports); do case \" $ports \" in *\" $p \"*) ;; *) $f --zone=\"$z\" --remove-port=\"$p\" >/dev/null;; esac; done; \
         for p in $ports; do $f --zone=\"$z\" --query-port=\"$p\" >/dev/null 2>&1 || $f --zone=\"$z\" --add-port=\"$p\" >/dev/null; done; \
         if [ {{legacy}} = yes ] && $f --zone=trusted --query-source={{cidr}} >/dev/null 2>&1; then $f --zone=trusted --remove-source={{cidr}} >/dev/null; fi; \
         firewall-cmd --reload >/dev/null; echo \"made=$made\"",
        &[
            ("zone", &ZONE),
            ("sources", &want.sources.join(" ")),
            ("ports", &want.ports.join(" ")),
            ("legacy", &if legacy { "yes" } else { "no" }),
            ("cidr", &cidr),
        ],
    )
}

pub struct Firewall {
    node: String,
    head: Head,
}

pub fn step(lab: &Lab, node: &str) -> Box<dyn Step> {
    let goal = format!("firewalld (where it runs): zone {ZONE} opens SSH and Spark's ports to the nodes and {} only", lab.network.host);
    Box::new(Firewall { node: node.to_string(), head: Head::node(ID, Stage::Nodes, node, goal) })
}

impl Firewall {
    /// Whether the CIDR an older lab put in the `trusted` zone is lab's to take out: on
    /// machines lab made, or where lab recorded adding it.
    fn legacy_ours(&self, cx: &Cx<'_>) -> Result<bool> {
        if cx.lab.provider != ProviderKind::Existing {
            return Ok(true);
        }
        let cidr = cx.lab.network.cidr.to_string();
        Ok(cx.sd.load()?.is_some_and(|st| st.nodes.get(&self.node).is_some_and(|n| n.changes.contains(&Change::FirewallSource { cidr: cidr.clone() }))))
    }

    fn want(&self, cx: &Cx<'_>, client: Option<Ipv4Addr>) -> Result<Rules> {
        Ok(rules(cx.lab, cx.node(&self.node)?, client))
    }
}

impl Step for Firewall {
    fn head(&self) -> &Head {
        &self.head
    }
    fn probes(&self, cx: &Cx<'_>) -> Result<Vec<(String, Sh)>> {
        // The zones are root's to read: the lab user asks through `sudo -n` (it never waits
        // for a password). firewall-cmd hangs while firewalld waits on D-Bus: each look is
        // bounded, and a firewalld that does not answer is one apply must converge.
        let probe = sh(
            "if ! command -v firewall-cmd >/dev/null 2>&1; then echo state=absent; exit 0; fi; \
             f='timeout 10 firewall-cmd'; $f --state >/dev/null 2>&1; r=$?; \
             if [ $r = 124 ]; then echo state=unreadable; exit 0; elif [ $r != 0 ]; then echo state=absent; exit 0; fi; \
             f=\"sudo -n $f --permanent\"; if ! $f --get-zones >/dev/null 2>&1; then echo state=unreadable; exit 0; fi; \
             echo state=running; echo \"client=${SSH_CLIENT%% *}\"; \
             if s=$($f --zone={{zone}} --list-sources 2>/dev/null) && p=$($f --zone={{zone}} --list-ports 2>/dev/null); then echo \"sources=$s\"; echo \"ports=$p\"; fi; \
             if $f --zone=trusted --query-source={{cidr}} >/dev/null 2>&1; then echo legacy=yes; fi",
            &[("zone", &ZONE), ("cidr", &cx.lab.network.cidr)],
        );
        Ok(vec![(self.node.clone(), probe)])
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        Ok(match Seen::parse(&cx.fact(&self.node, ID)?) {
            Seen::Absent => Check::Satisfied,
            Seen::Unreadable => Check::Needed("firewalld runs and its zones could not be read without a password".into()),
            Seen::Running { client, zone, legacy } => {
                let want = self.want(cx, client)?;
                if legacy && self.legacy_ours(cx)? {
                    Check::Needed(format!("firewalld's trusted zone opens every port to all of {}", cx.lab.network.cidr))
                } else if zone.is_none() {
                    Check::Needed(format!("no firewalld zone {ZONE}"))
                } else if !zone.as_ref().is_some_and(|z| z.same(&want)) {
                    Check::Needed(format!("zone {ZONE} differs: want sources {} and ports {}", want.sources.join(" "), want.ports.join(" ")))
                } else {
                    Check::Satisfied
                }
            }
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let n = NodeCx::new(cx, &self.node)?;
        let client = match Seen::parse(&cx.fact(&self.node, ID)?) {
            Seen::Running { client, .. } => client,
            _ => None,
        };
        let want = self.want(cx, client)?;
        let legacy = self.legacy_ours(cx)?;
        let script = converge(&want, legacy, &cx.lab.network.cidr.to_string());
        let out = n.s.exec(&script.sudo())?;
        if !out.ok() {
            return Err(Error::node(n.name(), format!("setting firewalld's zone {ZONE} failed: {}", out.stderr.trim())));
        }
        match out.stdout.trim() {
            "absent" => Ok(Outcome::Satisfied),
            made => {
                if made == "made=yes" {
                    n.track(Change::FirewallZone { zone: ZONE.into() })?;
                }
                Ok(Outcome::Applied)
            }
        }
    }
}

#[cfg(test)]
mod tests;
