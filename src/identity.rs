//! Identities lab chooses for a lab's nodes and keeps stable across runs: MAC addresses.

use std::fmt;

use crate::spec::Lab;

/// A MAC address in VirtualBox's range (OUI 08:00:27).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// `080027AABBCC`, the spelling VBoxManage takes.
    pub fn vbox(&self) -> String {
        self.0.iter().map(|b| format!("{b:02X}")).collect()
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|b| format!("{b:02x}")).collect();
        f.write_str(&parts.join(":"))
    }
}

/// The MAC addresses of a node's NIC1 (NAT) and NIC2 (host-only). Derived from the lab and node
/// names, so every run, and every host, chooses the same ones; different nodes of a lab never
/// share one.
pub fn macs(lab: &Lab, node: &str) -> (Mac, Mac) {
    let mut taken: Vec<Mac> = Vec::new();
    let mut result = None;
    for n in &lab.nodes {
        let mut pair = [Mac([0; 6]); 2];
        for (nic, slot) in pair.iter_mut().enumerate() {
            let mut salt = 0u32;
            loop {
                let h = crate::hash::fnv1a(format!("{}/{}/nic{}/{salt}", lab.name, n.name, nic + 1).as_bytes()).to_be_bytes();
                let mac = Mac([0x08, 0x00, 0x27, h[0], h[1], h[2]]);
                if !taken.contains(&mac) {
                    taken.push(mac);
                    *slot = mac;
                    break;
                }
                salt += 1;
            }
        }
        if n.name == node {
            result = Some((pair[0], pair[1]));
        }
    }
    result.unwrap_or_else(|| {
        let h = crate::hash::fnv1a(node.as_bytes()).to_be_bytes();
        (Mac([0x08, 0x00, 0x27, h[0], h[1], h[2]]), Mac([0x08, 0x00, 0x27, h[3], h[4], h[5]]))
    })
}

/// A random version-4 UUID.
pub fn new_uuid() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom_fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn getrandom_fill(b: &mut [u8]) -> std::result::Result<(), rand_core::Error> {
    use rand_core::RngCore;
    rand_core::OsRng.try_fill_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{HostFacts, parse};
    use std::path::Path;

    #[test]
    fn stable_distinct_and_in_virtualbox_range() {
        let lab = parse(Path::new("x"), include_str!("../labs/spark.yaml"), &HostFacts::default()).expect("valid");
        let mut all = Vec::new();
        for n in &lab.nodes {
            let (a, b) = macs(&lab, &n.name);
            assert_eq!(macs(&lab, &n.name), (a, b));
            assert!(a.vbox().starts_with("080027") && b.to_string().starts_with("08:00:27:"));
            all.extend([a, b]);
        }
        let mut dedup = all.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), all.len());
    }
}
