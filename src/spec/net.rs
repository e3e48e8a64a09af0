//! IPv4 networks, and VirtualBox's rule for which host-only networks it accepts.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 network written as `address/prefix`; the address must be the network address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Self> {
        (prefix <= 32).then_some(Self { addr, prefix })
    }
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
    fn mask_bits(&self) -> u32 {
        if self.prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(self.prefix)) }
    }
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask_bits())
    }
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask_bits())
    }
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network()) | !self.mask_bits())
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask_bits() == u32::from(self.network())
    }
    /// True when every address of `other` lies in `self`.
    pub fn covers(&self, other: &Ipv4Net) -> bool {
        self.prefix <= other.prefix && self.contains(other.network())
    }
    /// The address `n` places after the network address, if it is still inside the network.
    pub fn nth(&self, n: u32) -> Option<Ipv4Addr> {
        let ip = u32::from(self.network()).checked_add(n)?;
        let ip = Ipv4Addr::from(ip);
        self.contains(ip).then_some(ip)
    }
    /// True when `addr` was written with host bits set (`192.168.56.1/24`).
    pub fn has_host_bits(&self) -> bool {
        self.addr != self.network()
    }
}

impl FromStr for Ipv4Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, p) = s.split_once('/').ok_or_else(|| format!("{s:?} is not in CIDR form, like 192.168.56.0/24"))?;
        let addr: Ipv4Addr = a.parse().map_err(|_| format!("{a:?} is not an IPv4 address"))?;
        let prefix: u8 = p.parse().map_err(|_| format!("{p:?} is not a prefix length (0 to 32)"))?;
        Self::new(addr, prefix).ok_or_else(|| format!("prefix length {prefix} is over 32"))
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The ranges VirtualBox (6.1.28 and later, on Linux, macOS and Solaris hosts) lets host-only
/// networks use: `192.168.56.0/21` unless `/etc/vbox/networks.conf` says otherwise.
pub fn default_hostonly_ranges() -> Vec<Ipv4Net> {
    vec![Ipv4Net { addr: Ipv4Addr::new(192, 168, 56, 0), prefix: 21 }]
}

/// Reads the ranges out of an `/etc/vbox/networks.conf` text: lines starting with `*` list
/// networks, `#` starts a comment, IPv6 ranges are skipped (labs are IPv4).
pub fn parse_networks_conf(text: &str) -> Vec<Ipv4Net> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| l.trim().strip_prefix('*'))
        .flat_map(|rest| rest.split_whitespace().filter_map(|w| w.parse::<Ipv4Net>().ok()).collect::<Vec<_>>())
        .collect()
}

/// Whether VirtualBox would accept `net` for a host-only network. `networks_conf` is the text of
/// `/etc/vbox/networks.conf` when the file exists.
pub fn hostonly_allowed(net: &Ipv4Net, networks_conf: Option<&str>) -> bool {
    let ranges = networks_conf.map_or_else(default_hostonly_ranges, parse_networks_conf);
    ranges.iter().any(|r| r.covers(net))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().expect("valid")
    }

    #[test]
    fn arithmetic() {
        let n = net("192.168.56.0/24");
        assert_eq!(n.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(n.broadcast(), Ipv4Addr::new(192, 168, 56, 255));
        assert!(n.contains(Ipv4Addr::new(192, 168, 56, 10)));
        assert!(!n.contains(Ipv4Addr::new(192, 168, 57, 10)));
        assert_eq!(n.nth(10), Some(Ipv4Addr::new(192, 168, 56, 10)));
        assert_eq!(n.nth(256), None);
        assert!(net("192.168.56.1/24").has_host_bits());
    }

    #[test]
    fn parse_errors() {
        assert!("192.168.56.0".parse::<Ipv4Net>().is_err());
        assert!("192.168.56.0/33".parse::<Ipv4Net>().is_err());
        assert!("300.1.1.0/24".parse::<Ipv4Net>().is_err());
    }

    #[test]
    fn virtualbox_hostonly_rule() {
        assert!(hostonly_allowed(&net("192.168.56.0/24"), None));
        assert!(hostonly_allowed(&net("192.168.63.0/24"), None));
        assert!(!hostonly_allowed(&net("192.168.64.0/24"), None));
        assert!(!hostonly_allowed(&net("10.0.0.0/24"), None));
        let conf = "# lab\n* 10.0.0.0/8 192.168.0.0/16\n* 2001::/64\n";
        assert!(hostonly_allowed(&net("10.20.0.0/24"), Some(conf)));
        assert!(hostonly_allowed(&net("192.168.99.0/24"), Some(conf)));
        assert!(!hostonly_allowed(&net("172.16.0.0/24"), Some(conf)));
        // A file that exists replaces the default ranges.
        assert!(!hostonly_allowed(&net("192.168.56.0/24"), Some("* 10.0.0.0/8\n")));
    }
}
