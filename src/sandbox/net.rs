//! The host side of a sandbox lab's network, through `ip` (iproute2), the only program this
//! module runs: one bridge per lab holding the host's address, one veth pair and one network
//! namespace per node. Everything lab creates carries its mark in the interface alias.

use std::net::Ipv4Addr;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::proc;
use crate::spec::Ipv4Net;

#[derive(Debug, Clone, Deserialize)]
struct JsonLink {
    ifname: String,
    #[serde(default)]
    ifalias: Option<String>,
    #[serde(default)]
    master: Option<String>,
    #[serde(default)]
    operstate: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct JsonAddrIface {
    ifname: String,
    #[serde(default)]
    addr_info: Vec<JsonAddr>,
}

#[derive(Debug, Clone, Deserialize)]
struct JsonAddr {
    family: String,
    local: String,
    prefixlen: u8,
}

/// An interface as `ip` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    pub name: String,
    pub alias: Option<String>,
    pub master: Option<String>,
    pub up: bool,
    pub v4: Vec<(Ipv4Addr, u8)>,
}

fn ip(args: &[&str]) -> Result<String> {
    proc::run("ip", args)
}

fn parse_ifaces(links: &str, addrs: &str) -> Result<Vec<Iface>> {
    let links: Vec<JsonLink> = serde_json::from_str(links).map_err(|e| Error::Other(format!("reading `ip -j link` output: {e}")))?;
    let addrs: Vec<JsonAddrIface> = serde_json::from_str(addrs).map_err(|e| Error::Other(format!("reading `ip -j addr` output: {e}")))?;
    Ok(links
        .into_iter()
        .map(|l| {
            let v4 = addrs
                .iter()
                .filter(|a| a.ifname == l.ifname)
                .flat_map(|a| a.addr_info.iter())
                .filter(|a| a.family == "inet")
                .filter_map(|a| a.local.parse().ok().map(|ip| (ip, a.prefixlen)))
                .collect();
            Iface { up: l.operstate.as_deref() != Some("DOWN"), name: l.ifname, alias: l.ifalias, master: l.master, v4 }
        })
        .collect())
}

/// The interfaces of the host, or of network namespace `netns`.
pub fn ifaces(netns: Option<&str>) -> Result<Vec<Iface>> {
    let (links, addrs) = match netns {
        None => (ip(&["-j", "link", "show"])?, ip(&["-j", "addr", "show"])?),
        Some(ns) => (ip(&["-n", ns, "-j", "link", "show"])?, ip(&["-n", ns, "-j", "addr", "show"])?),
    };
    parse_ifaces(&links, &addrs)
}

/// Host interfaces other than `ours` holding an address that overlaps `net`.
pub fn conflicts(ifaces: &[Iface], net: &Ipv4Net, ours: &[&str]) -> Vec<String> {
    ifaces
        .iter()
        .filter(|i| !ours.contains(&i.name.as_str()))
        .flat_map(|i| {
            i.v4.iter().filter_map(move |(addr, prefix)| {
                let other = Ipv4Net::new(*addr, *prefix)?;
                let overlap = net.contains(*addr) || other.contains(net.network());
                overlap.then(|| format!("{} has {addr}/{prefix}", i.name))
            })
        })
        .collect()
}

pub fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

pub fn add_netns(name: &str) -> Result<()> {
    ip(&["netns", "add", name]).map(drop)
}

pub fn del_netns(name: &str) -> Result<()> {
    ip(&["netns", "del", name]).map(drop)
}

/// Creates the lab's bridge holding `host/prefix`, marked with `mark`.
pub fn add_bridge(name: &str, mark: &str, host: Ipv4Addr, prefix: u8) -> Result<()> {
    ip(&["link", "add", name, "type", "bridge"])?;
    ip(&["link", "set", name, "alias", mark])?;
    ip(&["addr", "add", &format!("{host}/{prefix}"), "dev", name])?;
    ip(&["link", "set", name, "up"]).map(drop)
}

pub fn ensure_addr(dev: &str, netns: Option<&str>, addr: Ipv4Addr, prefix: u8, have: &[(Ipv4Addr, u8)]) -> Result<bool> {
    if have.contains(&(addr, prefix)) {
        return Ok(false);
    }
    let a = format!("{addr}/{prefix}");
    match netns {
        None => ip(&["addr", "add", &a, "dev", dev])?,
        Some(ns) => ip(&["-n", ns, "addr", "add", &a, "dev", dev])?,
    };
    Ok(true)
}

pub fn set_up(dev: &str, netns: Option<&str>) -> Result<()> {
    match netns {
        None => ip(&["link", "set", dev, "up"]),
        Some(ns) => ip(&["-n", ns, "link", "set", dev, "up"]),
    }
    .map(drop)
}

/// A veth pair: `host_end` on the host in `bridge`, `eth0` inside `netns`.
pub fn add_veth(host_end: &str, mark: &str, netns: &str, bridge: &str) -> Result<()> {
    ip(&["link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", netns])?;
    ip(&["link", "set", host_end, "alias", mark])?;
    ip(&["link", "set", host_end, "master", bridge])?;
    ip(&["link", "set", host_end, "up"]).map(drop)
}

pub fn del_link(name: &str) -> Result<()> {
    ip(&["link", "del", name]).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINKS: &str = r#"[{"ifname":"lo","operstate":"UNKNOWN"},{"ifname":"eth0","operstate":"UP"},
        {"ifname":"lab-x","operstate":"UP","ifalias":"lab:/srv/.lab/x"},{"ifname":"lv-1","master":"lab-x","operstate":"UP"}]"#;
    const ADDRS: &str = r#"[{"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
        {"ifname":"eth0","addr_info":[{"family":"inet","local":"10.0.0.5","prefixlen":16},{"family":"inet6","local":"fe80::1","prefixlen":64}]},
        {"ifname":"lab-x","addr_info":[{"family":"inet","local":"192.168.57.1","prefixlen":24}]},{"ifname":"lv-1","addr_info":[]}]"#;

    #[test]
    fn reads_ip_json() {
        let i = parse_ifaces(LINKS, ADDRS).expect("parses");
        assert_eq!(i.len(), 4);
        assert_eq!(i[2].alias.as_deref(), Some("lab:/srv/.lab/x"));
        assert_eq!(i[3].master.as_deref(), Some("lab-x"));
        assert_eq!(i[1].v4, vec![(Ipv4Addr::new(10, 0, 0, 5), 16)]);
    }

    #[test]
    fn finds_overlapping_addresses_except_ours() {
        let i = parse_ifaces(LINKS, ADDRS).expect("parses");
        let lab: Ipv4Net = "192.168.57.0/24".parse().expect("net");
        assert!(conflicts(&i, &lab, &["lab-x"]).is_empty());
        assert_eq!(conflicts(&i, &lab, &[]), vec!["lab-x has 192.168.57.1/24"]);
        let inside_eth0: Ipv4Net = "10.0.7.0/24".parse().expect("net");
        assert_eq!(conflicts(&i, &inside_eth0, &[]), vec!["eth0 has 10.0.0.5/16"]);
    }
}
