//! The sandbox's seam to `ip` (iproute2), the only module that runs it: one bridge per lab
//! holding the host's address, one veth pair and one network namespace per node, and the node
//! processes started inside those namespaces. Everything lab creates carries its mark: in the
//! alias of each interface, and in the alias of the loopback interface inside each namespace.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::proc::{self, Cmd, Runner};
use crate::spec::Ipv4Net;

/// `ip` never needs long; a hung call is an error, not a hang.
const IP_TIMEOUT: Duration = Duration::from_secs(30);

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

/// `ip` on this machine, through a [`Runner`].
pub struct Ip<'r> {
    runner: &'r dyn Runner,
}

fn parse_ifaces(links: &str, addrs: &str) -> Result<Vec<Iface>> {
    let bad =
        |what: &str, e: serde_json::Error| Error::Command { argv: format!("ip -j {what} show"), status: "unreadable output".into(), stderr: e.to_string() };
    let links: Vec<JsonLink> = serde_json::from_str(links).map_err(|e| bad("link", e))?;
    let addrs: Vec<JsonAddrIface> = serde_json::from_str(addrs).map_err(|e| bad("addr", e))?;
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

impl<'r> Ip<'r> {
    pub fn new(runner: &'r dyn Runner) -> Self {
        Self { runner }
    }

    fn ip(&self, args: &[&str]) -> Result<String> {
        proc::check(self.runner, &Cmd::new("ip").args(args).env("LC_ALL", "C").timeout(IP_TIMEOUT))
    }

    fn in_ns(&self, ns: Option<&str>, args: &[&str]) -> Result<String> {
        match ns {
            None => self.ip(args),
            Some(ns) => {
                let mut v = vec!["-n", ns];
                v.extend_from_slice(args);
                self.ip(&v)
            }
        }
    }

    /// The interfaces of the host, or of network namespace `ns`.
    pub fn ifaces(&self, ns: Option<&str>) -> Result<Vec<Iface>> {
        let links = self.in_ns(ns, &["-j", "link", "show"])?;
        let addrs = self.in_ns(ns, &["-j", "addr", "show"])?;
        parse_ifaces(&links, &addrs)
    }

    /// The network namespaces of this machine.
    pub fn namespaces(&self) -> Result<Vec<String>> {
        Ok(self.ip(&["netns", "list"])?.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect())
    }

    pub fn netns_exists(&self, name: &str) -> bool {
        Path::new("/run/netns").join(name).exists()
    }

    /// The mark of namespace `name` (the alias of its loopback interface), if any.
    pub fn netns_mark(&self, name: &str) -> Result<Option<String>> {
        Ok(self.ifaces(Some(name))?.into_iter().find(|i| i.name == "lo").and_then(|i| i.alias))
    }

    /// Creates a namespace carrying `mark`.
    pub fn add_netns(&self, name: &str, mark: &str) -> Result<()> {
        self.ip(&["netns", "add", name])?;
        self.ip(&["-n", name, "link", "set", "lo", "alias", mark])?;
        self.ip(&["-n", name, "link", "set", "lo", "up"]).map(drop)
    }

    pub fn del_netns(&self, name: &str) -> Result<()> {
        self.ip(&["netns", "del", name]).map(drop)
    }

    /// Creates the lab's bridge holding `host/prefix`, marked with `mark`.
    pub fn add_bridge(&self, name: &str, mark: &str, host: Ipv4Addr, prefix: u8) -> Result<()> {
        self.ip(&["link", "add", name, "type", "bridge"])?;
        self.ip(&["link", "set", name, "alias", mark])?;
        self.ip(&["addr", "add", &format!("{host}/{prefix}"), "dev", name])?;
        self.ip(&["link", "set", name, "up"]).map(drop)
    }

    /// Adds `addr/prefix` to `dev` unless `have` holds it. Returns whether it did.
    pub fn ensure_addr(&self, dev: &str, ns: Option<&str>, addr: Ipv4Addr, prefix: u8, have: &[(Ipv4Addr, u8)]) -> Result<bool> {
        if have.contains(&(addr, prefix)) {
            return Ok(false);
        }
        self.in_ns(ns, &["addr", "add", &format!("{addr}/{prefix}"), "dev", dev])?;
        Ok(true)
    }

    pub fn set_up(&self, dev: &str, ns: Option<&str>) -> Result<()> {
        self.in_ns(ns, &["link", "set", dev, "up"]).map(drop)
    }

    /// Writes lab's mark into `dev`'s alias.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub fn set_alias(&self, dev: &str, mark: &str) -> Result<()> {
        self.ip(&["link", "set", dev, "alias", mark]).map(drop)
    }

    /// Plugs `dev` into `bridge` and brings it up.
    pub fn plug(&self, dev: &str, bridge: &str) -> Result<()> {
        self.ip(&["link", "set", dev, "master", bridge])?;
        self.set_up(dev, None)
    }

    /// A veth pair: `host_end` on the host in `bridge`, `eth0` inside `ns`.
    pub fn add_veth(&self, host_end: &str, mark: &str, ns: &str, bridge: &str) -> Result<()> {
        self.ip(&["link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", ns])?;
        self.ip(&["link", "set", host_end, "alias", mark])?;
        self.plug(host_end, bridge)
    }

    pub fn del_link(&self, name: &str) -> Result<()> {
        self.ip(&["link", "del", name]).map(drop)
    }
}

/// Starts `argv` inside namespace `ns` in a session of its own, detached from lab (it outlives
/// lab), with its output appended to `log`.
pub fn spawn_in(ns: &str, argv: &[&std::ffi::OsStr], log: &Path) -> Result<()> {
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(|e| Error::io(format!("opening {}", log.display()), e))?;
    let err = out.try_clone().map_err(|e| Error::io("duplicating a file handle", e))?;
    let mut child = std::process::Command::new("setsid")
        .args(["ip", "netns", "exec", ns])
        .args(argv)
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| Error::io("starting a node with setsid and ip netns exec", e))?;
    // Reap it in the background should it end while lab still runs (it normally outlives lab).
    std::thread::spawn(move || child.wait());
    Ok(())
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

    /// `ip` as a fake: answers `link show` and `addr show` from fixed JSON and records changes.
    struct FakeIp {
        calls: std::sync::Mutex<Vec<String>>,
    }

    impl Runner for FakeIp {
        fn run_raw(&self, cmd: &Cmd) -> Result<proc::RawOutput> {
            let args = cmd.arg_strings().join(" ");
            self.calls.lock().expect("lock").push(args.clone());
            let stdout = if args.ends_with("link show") {
                LINKS.to_string()
            } else if args.ends_with("addr show") {
                ADDRS.to_string()
            } else {
                String::new()
            };
            Ok(proc::Output { code: Some(0), stdout, stderr: String::new() }.into())
        }
    }

    #[test]
    fn adds_an_address_only_when_missing_and_marks_what_it_makes() {
        let fake = FakeIp { calls: std::sync::Mutex::new(Vec::new()) };
        let ip = Ip::new(&fake);
        let have = ip.ifaces(None).expect("ifaces");
        let bridge = have.iter().find(|i| i.name == "lab-x").expect("bridge");
        assert!(!ip.ensure_addr("lab-x", None, Ipv4Addr::new(192, 168, 57, 1), 24, &bridge.v4).expect("ok"));
        assert!(ip.ensure_addr("lab-x", None, Ipv4Addr::new(192, 168, 57, 2), 24, &bridge.v4).expect("ok"));
        ip.add_netns("lab-x-node1-abc", "lab:/srv/.lab/x").expect("netns");
        let calls = fake.calls.lock().expect("lock").clone();
        assert!(calls.contains(&"addr add 192.168.57.2/24 dev lab-x".to_string()), "{calls:?}");
        assert!(!calls.iter().any(|c| c.contains("192.168.57.1/24")), "{calls:?}");
        assert!(calls.contains(&"-n lab-x-node1-abc link set lo alias lab:/srv/.lab/x".to_string()), "{calls:?}");
    }
}
