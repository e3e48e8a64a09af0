//! What lab made in VirtualBox for a lab, as typed records in `state.json` (`made`): each node's
//! VM (name, UUID chosen before it was registered, how it was made, its MACs, whether it ever
//! booted as lab's node), the host-only interface lab created, the interfaces whose DHCP server
//! lab turned off, and the base the lab's clones use. Labs built before these records existed
//! wrote `kind:name` keys into `resources`; they are read once and written back as records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::state::{State, StateDir};

/// How a node's VM was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Made {
    /// Installed from the ISO with its kickstart disc (`install: per-node`).
    PerNode,
    /// A linked clone of the base with a seed disc (`install: base`).
    Base,
}

impl Made {
    /// The lab file's word for it (`install:`).
    pub fn word(self) -> &'static str {
        match self {
            Self::PerNode => "per-node",
            Self::Base => "base",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "per-node" => Some(Self::PerNode),
            "base" => Some(Self::Base),
            _ => None,
        }
    }
}

/// A node's VM as lab made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmRecord {
    pub name: String,
    /// Chosen by lab and written here before VirtualBox registers the VM.
    pub uuid: String,
    pub made: Made,
    /// NIC1 (NAT) and NIC2 (host-only), as VirtualBox writes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macs: Option<(String, String)>,
    /// The VM answered SSH as lab's node once: from then on its disk may hold the user's work.
    #[serde(default)]
    pub booted: bool,
}

/// The host-only interface lab asked VirtualBox to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// Its name (`None` while VirtualBox makes it: see `before`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The address lab gave it, `ip/mask` (lab removes it only while it still holds that).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub addr: String,
    /// The interfaces there were before lab asked for one, until the new one's name is written:
    /// a run killed in between still knows which interface is lab's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Vec<String>>,
}

/// Everything lab made in VirtualBox for one lab.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Records {
    /// By node.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vms: BTreeMap<String, VmRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkRecord>,
    /// Interfaces lab did not make whose DHCP server it turned off (`destroy` turns it on).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dhcp_disabled: Vec<String>,
    /// The base the lab's nodes are clones of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
}

impl Records {
    /// The records in `state` (none: nothing recorded).
    pub fn of(state: Option<&State>) -> Self {
        let Some(st) = state else { return Self::default() };
        let mut r: Self = st.made_as();
        r.take_legacy(&st.resources);
        r
    }

    /// The records as `state.json` holds them now.
    pub fn load(sd: &StateDir) -> Result<Self> {
        Ok(Self::of(sd.load()?.as_ref()))
    }

    /// Changes the records and writes them at once (an interrupted run still knows).
    pub fn update(sd: &StateDir, f: impl FnOnce(&mut Self)) -> Result<()> {
        let mut written = Ok(());
        sd.update(|st| {
            let mut r = Self::of(Some(st));
            f(&mut r);
            written = st.set_made(&r);
            if written.is_ok() {
                st.resources.retain(|k, _| !legacy(k));
            }
        })?;
        written
    }

    /// Whether lab recorded anything it made in VirtualBox.
    pub fn any(&self) -> bool {
        *self != Self::default()
    }

    /// The UUID lab chose for `node`'s VM.
    pub fn uuid(&self, node: &str) -> Option<&str> {
        self.vms.get(node).map(|v| v.uuid.as_str())
    }

    /// Whether `node`'s VM ever answered SSH as lab's node.
    pub fn booted(&self, node: &str) -> bool {
        self.vms.get(node).is_some_and(|v| v.booted)
    }

    /// The interface lab created, when it has its name.
    pub fn hostonly(&self) -> Option<&str> {
        self.network.as_ref().and_then(|n| n.name.as_deref())
    }

    /// Reads the `kind:name` keys labs wrote before these records.
    fn take_legacy(&mut self, resources: &BTreeMap<String, String>) {
        for (k, v) in resources {
            let node_of = |prefix: &str| k.strip_prefix(prefix).map(str::to_string);
            if let Some(node) = node_of("vmuuid:") {
                let name = resources.get(&["vm:", &node].concat()).cloned().unwrap_or_default();
                let made = resources.get(&["install:", &node].concat()).and_then(|m| Made::parse(m)).unwrap_or(Made::PerNode);
                let macs = resources.get(&["mac:", &node].concat()).and_then(|m| m.split_once(',')).map(|(a, b)| (a.to_string(), b.to_string()));
                let booted = resources.contains_key(&["booted:", &node].concat());
                self.vms.entry(node).or_insert(VmRecord { name, uuid: v.clone(), made, macs, booted });
            } else if let Some(ifname) = node_of("dhcp_disabled:") {
                if !self.dhcp_disabled.contains(&ifname) {
                    self.dhcp_disabled.push(ifname);
                }
            } else if k == "base" {
                self.base.get_or_insert_with(|| v.clone());
            }
        }
        if self.network.is_none() && (resources.contains_key("hostonlyif") || resources.contains_key("hostonlyif_before")) {
            self.network = Some(NetworkRecord {
                name: resources.get("hostonlyif").cloned(),
                addr: resources.get("hostonlyif_addr").cloned().unwrap_or_default(),
                before: resources.get("hostonlyif_before").map(|b| b.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()),
            });
        }
    }
}

/// A key of the records before they were typed.
fn legacy(key: &str) -> bool {
    ["vm:", "vmuuid:", "install:", "mac:", "booted:", "dhcp_disabled:"].iter().any(|p| key.starts_with(p))
        || matches!(key, "hostonlyif" | "hostonlyif_addr" | "hostonlyif_before" | "base")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_of_labs_built_before_are_read_as_records_and_written_back_typed() {
        let mut st = State::default();
        for (k, v) in [
            ("vm:master", "lab-spark-master"),
            ("vmuuid:master", "0b0e5d5c-2d4a-4a47-9a3f-8d1e3f0c9a11"),
            ("install:master", "base"),
            ("mac:master", "080027AAAAAA,080027BBBBBB"),
            ("booted:master", "yes"),
            ("vm:node1", "lab-spark-node1"),
            ("vmuuid:node1", "1b0e5d5c-2d4a-4a47-9a3f-8d1e3f0c9a11"),
            ("install:node1", "base"),
            ("hostonlyif", "vboxnet0"),
            ("hostonlyif_addr", "192.168.56.1/255.255.255.0"),
            ("dhcp_disabled:vboxnet3", "1"),
            ("base", "lab-base-centos-stream-9-x86_64-6ab4d69e31"),
            ("snapshot-spark:before", "running"),
        ] {
            st.resources.insert(k.into(), v.into());
        }
        let r = Records::of(Some(&st));
        let master = &r.vms["master"];
        assert_eq!((master.name.as_str(), master.made, master.booted), ("lab-spark-master", Made::Base, true));
        assert_eq!(master.macs, Some(("080027AAAAAA".into(), "080027BBBBBB".into())));
        assert!(!r.booted("node1"));
        assert_eq!(r.hostonly(), Some("vboxnet0"));
        assert_eq!(r.network.as_ref().map(|n| n.addr.as_str()), Some("192.168.56.1/255.255.255.0"));
        assert_eq!(r.dhcp_disabled, ["vboxnet3"]);
        assert_eq!(r.base.as_deref(), Some("lab-base-centos-stream-9-x86_64-6ab4d69e31"));

        // Written back: typed, the old keys gone, other keys kept.
        let dir = tempfile::tempdir().expect("tmp");
        let lab = crate::spec::parse(&dir.path().join("lab.yaml"), include_str!("../../../labs/spark.yaml"), &crate::spec::HostFacts::default()).expect("lab");
        let sd = StateDir::for_lab(&lab);
        std::fs::create_dir_all(sd.path()).expect("dir");
        sd.save(&State { version: crate::state::STATE_VERSION, lab: lab.name.clone(), provider: "virtualbox".into(), ..st }).expect("save");
        Records::update(&sd, |r| r.vms.get_mut("node1").expect("node1").booted = true).expect("update");
        let after = sd.load().expect("load").expect("state");
        assert_eq!(after.resources.keys().collect::<Vec<_>>(), ["snapshot-spark:before"]);
        let typed = Records::of(Some(&after));
        assert!(typed.booted("node1") && typed.booted("master"));
        assert_eq!(typed.hostonly(), Some("vboxnet0"));
        assert_eq!(after.made["vms"]["node1"]["made"], "base");
    }
}
