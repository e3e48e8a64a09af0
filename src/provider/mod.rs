//! Where a lab's machines come from. One [`Provider`] per kind, chosen once from the lab file;
//! commands never match on the kind. A new hypervisor is one new module implementing the trait
//! plus its line in [`for_lab`].

pub mod existing;
pub mod qemu;
#[cfg(target_os = "linux")]
pub mod sandbox;
pub mod virtualbox;

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::spec::{Lab, ProviderKind};
use crate::state::{HostKey, State, StateDir};
use crate::steps::{Machines, Steps};

/// What a machine is doing, as its provider sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachineState {
    Running,
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the sandbox's
    Halted,
    NotCreated,
    /// Not lab's machine (`existing`): running as far as lab knows.
    Existing,
    /// The hypervisor's own word (`poweroff`, `aborted`, `saved`, ...).
    Other(String),
}

impl MachineState {
    pub fn word(&self) -> &str {
        match self {
            Self::Running => "running",
            Self::Halted => "halted",
            Self::NotCreated => "not created",
            Self::Existing => "existing",
            Self::Other(w) => w,
        }
    }
}

/// A machine as its provider sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub node: String,
    pub state: MachineState,
    /// Whether lab should try SSH to it.
    pub reachable: bool,
    /// What the provider has to say about it (a machine that stopped on its own: its console's
    /// last lines).
    pub note: Option<String>,
}

/// Snapshots of every node's disks at once (providers whose machines are lab's).
pub trait Snapshots {
    /// The steps that save every node's disks as snapshot `name` (the nodes are halted first,
    /// unless `live`).
    fn save<'a>(&'a self, lab: &Lab, name: &str, live: bool) -> Result<Steps<'a>>;
    /// The steps that put every node's disks back to snapshot `name` (the nodes are halted).
    fn restore<'a>(&'a self, lab: &Lab, name: &str) -> Result<Steps<'a>>;
    fn delete<'a>(&'a self, lab: &Lab, name: &str) -> Result<Steps<'a>>;
    /// The lab's snapshots, oldest first.
    fn list(&self, lab: &Lab, sd: &StateDir) -> Result<Vec<String>>;
}

/// What a provider can do beyond what steps need of it ([`Machines`]: host keys, where a node
/// is reached, whether changes are tracked).
pub trait Provider: Machines {
    /// The name in the lab file.
    fn name(&self) -> &'static str;

    /// Checks that this computer can drive the lab's machines at all (root, VBoxManage), for
    /// every command that touches them.
    fn available(&self, lab: &Lab) -> Result<()>;

    /// Checks, before `lab up` creates or downloads anything, that it can succeed here
    /// (`available`, and more: architectures, addresses already taken).
    fn preflight(&self, lab: &Lab) -> Result<()> {
        self.available(lab)
    }

    /// Things the user should know before `lab up` goes on (it still does).
    fn warnings(&self, _lab: &Lab) -> Vec<String> {
        Vec::new()
    }

    /// Whether `lab halt` means anything for these machines.
    fn halts(&self) -> bool {
        true
    }

    /// The host keys of a built lab, for commands that only use it (never creates any).
    fn known_host_keys(&self, lab: &Lab, sd: &StateDir) -> Result<BTreeMap<String, HostKey>>;

    /// The steps that bring the machines up, until each can be reached over SSH.
    fn plan<'a>(&'a self, lab: &Lab) -> Steps<'a>;

    /// The steps that stop the machines and keep their disks (none where `halts` is false).
    fn halt<'a>(&'a self, _lab: &Lab) -> Steps<'a> {
        Vec::new()
    }

    /// Each node's machine, observed now.
    fn status(&self, lab: &Lab, sd: &StateDir) -> Result<Vec<Machine>>;

    /// What `destroy` would remove, found by lab's marks (also without state), one line each.
    fn leftovers(&self, lab: &Lab, sd: &StateDir, state: Option<&State>) -> Result<Vec<String>>;

    /// The provider's snapshots of every node's disks at once; providers without them refuse.
    fn snapshots(&self) -> Result<&dyn Snapshots> {
        Err(self.no_snapshots())
    }

    fn no_snapshots(&self) -> Error {
        Error::Unsupported {
            what: format!("the {} provider's machines are not lab's: lab cannot snapshot them", self.name()),
            hint: "snapshot them with the tools that made them (your hypervisor or cloud); `lab snapshot` works with the virtualbox and sandbox providers"
                .into(),
        }
    }

    /// The steps that remove everything the lab created outside `.lab/` (and only that), found
    /// now by lab's marks and its state.
    fn destroy<'a>(&'a self, lab: &Lab, sd: &StateDir, state: Option<&State>) -> Result<Steps<'a>>;
}

/// The provider the lab file names.
pub fn for_lab(lab: &Lab) -> Box<dyn Provider> {
    match lab.provider {
        ProviderKind::Virtualbox => Box::new(virtualbox::VirtualBox::new()),
        #[cfg(target_os = "linux")]
        ProviderKind::Sandbox => Box::new(sandbox::Sandbox),
        #[cfg(not(target_os = "linux"))]
        ProviderKind::Sandbox => Box::new(Unavailable("sandbox")),
        ProviderKind::Existing => Box::new(existing::Existing),
        ProviderKind::Qemu => Box::new(qemu::Qemu::new()),
    }
}

/// A provider this build of lab does not have (the sandbox off Linux). Validation refuses such
/// labs first; this is the safety net.
#[cfg(not(target_os = "linux"))]
struct Unavailable(&'static str);

#[cfg(not(target_os = "linux"))]
impl Machines for Unavailable {
    fn host_keys(&self, _: &Lab, _: &StateDir) -> Result<BTreeMap<String, HostKey>> {
        self.preflight_err()
    }
}

#[cfg(not(target_os = "linux"))]
impl Provider for Unavailable {
    fn name(&self) -> &'static str {
        self.0
    }
    fn available(&self, _: &Lab) -> Result<()> {
        self.preflight_err()
    }
    fn known_host_keys(&self, _: &Lab, _: &StateDir) -> Result<BTreeMap<String, HostKey>> {
        self.preflight_err()
    }
    fn plan<'a>(&'a self, _: &Lab) -> Steps<'a> {
        Vec::new()
    }
    fn status(&self, _: &Lab, _: &StateDir) -> Result<Vec<Machine>> {
        self.preflight_err()
    }
    fn leftovers(&self, _: &Lab, _: &StateDir, _: Option<&State>) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    fn destroy<'a>(&'a self, _: &Lab, _: &StateDir, _: Option<&State>) -> Result<Steps<'a>> {
        Ok(Vec::new())
    }
}

#[cfg(not(target_os = "linux"))]
impl Unavailable {
    fn preflight_err<T>(&self) -> Result<T> {
        Err(Error::Preflight { problem: format!("the {} provider needs Linux", self.0), fix: "use `provider: virtualbox` on this computer".into() })
    }
}
