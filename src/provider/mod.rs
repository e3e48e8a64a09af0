//! Where a lab's machines come from. One [`Provider`] per kind, chosen once from the lab file;
//! commands never match on the kind. A new hypervisor is one new module implementing the trait
//! plus its line in [`for_lab`].

pub mod existing;
#[cfg(target_os = "linux")]
pub mod sandbox;
pub mod virtualbox;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::error::{Error, Result};
use crate::plan::Step;
use crate::remote::Target;
use crate::runner::StepCx;
use crate::spec::{Lab, Node, ProviderKind};
use crate::state::{HostKey, Keys, State, StateDir};
use crate::ui::{Outcome, Reporter};

/// A machine as its provider sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub node: String,
    /// `running`, `halted`, `not created`, `existing`, or the hypervisor's own word
    /// (`poweroff`, `aborted`, ...).
    pub state: String,
    /// Whether lab should try SSH to it.
    pub reachable: bool,
}

/// What a provider can do.
pub trait Provider: Send + Sync {
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

    /// The host keys the nodes must present. Providers that build machines generate them
    /// (`create`); `existing` reads them from known_hosts or from what was recorded.
    fn host_keys(&self, cx: &StepCx<'_>, create_only: bool) -> Result<BTreeMap<String, HostKey>>;

    /// The host keys of a built lab, for commands that only use it (never creates any).
    fn known_host_keys(&self, lab: &Lab, sd: &StateDir) -> Result<BTreeMap<String, HostKey>>;

    /// The steps that bring the machines up, until each can be reached over SSH.
    fn plan(&self, lab: &Lab) -> Vec<Step>;

    /// Performs one of the steps `plan` listed.
    fn apply(&self, cx: &StepCx<'_>, step: &Step) -> Result<Outcome>;

    /// How to reach `node` as the lab user.
    fn target(&self, lab: &Lab, sd: &StateDir, keys: &Keys, node: &Node) -> Result<Target> {
        let host = keys.hosts.get(&node.name).ok_or_else(|| Error::node_hint(&node.name, "no host key is known for it", "run `lab up` first"))?;
        Ok(Target {
            node: node.name.clone(),
            addr: SocketAddr::from((node.ip, lab.ssh_port())),
            user: lab.user.clone(),
            key: sd.client_key_path(),
            host_keys: host.keys.clone(),
        })
    }

    /// Whether lab must record every change it makes on the nodes, to undo exactly those (the
    /// machines are not lab's: `existing`).
    fn tracks_changes(&self) -> bool {
        false
    }

    /// Stops the machines and keeps their disks.
    fn halt(&self, lab: &Lab, sd: &StateDir, reporter: &dyn Reporter) -> Result<()>;

    /// Each node's machine, observed now.
    fn status(&self, lab: &Lab, sd: &StateDir) -> Result<Vec<Machine>>;

    /// What `destroy` would remove, found by lab's marks (also without state), one line each.
    fn leftovers(&self, lab: &Lab, sd: &StateDir, state: Option<&State>) -> Result<Vec<String>>;

    /// Saves the disks of every node as snapshot `name` (the nodes are halted first, unless
    /// `live`). Providers without snapshots refuse.
    fn snapshot_save(&self, _lab: &Lab, _sd: &StateDir, _name: &str, _live: bool) -> Result<()> {
        Err(self.no_snapshots())
    }

    /// Puts every node's disks back to snapshot `name` (the nodes are halted).
    fn snapshot_restore(&self, _lab: &Lab, _sd: &StateDir, _name: &str) -> Result<()> {
        Err(self.no_snapshots())
    }

    fn snapshot_delete(&self, _lab: &Lab, _sd: &StateDir, _name: &str) -> Result<()> {
        Err(self.no_snapshots())
    }

    /// The lab's snapshots, oldest first.
    fn snapshot_list(&self, _lab: &Lab, _sd: &StateDir) -> Result<Vec<String>> {
        Err(self.no_snapshots())
    }

    fn no_snapshots(&self) -> Error {
        Error::Unsupported {
            what: format!("the {} provider's machines are not lab's: lab cannot snapshot them", self.name()),
            hint: "snapshot them with the tools that made them (your hypervisor or cloud); `lab snapshot` works with the virtualbox and sandbox providers"
                .into(),
        }
    }

    /// Removes everything the lab created outside `.lab/` (and only that).
    fn destroy(&self, lab: &Lab, sd: &StateDir, state: Option<&State>, reporter: &dyn Reporter, rt: &tokio::runtime::Handle) -> Result<()>;
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
    }
}

/// A provider this build of lab does not have (the sandbox off Linux). Validation refuses such
/// labs first; this is the safety net.
#[cfg(not(target_os = "linux"))]
struct Unavailable(&'static str);

#[cfg(not(target_os = "linux"))]
impl Provider for Unavailable {
    fn name(&self) -> &'static str {
        self.0
    }
    fn available(&self, _: &Lab) -> Result<()> {
        self.preflight_err()
    }
    fn host_keys(&self, _: &StepCx<'_>, _: bool) -> Result<BTreeMap<String, HostKey>> {
        self.preflight_err()
    }
    fn known_host_keys(&self, _: &Lab, _: &StateDir) -> Result<BTreeMap<String, HostKey>> {
        self.preflight_err()
    }
    fn plan(&self, _: &Lab) -> Vec<Step> {
        Vec::new()
    }
    fn apply(&self, _: &StepCx<'_>, _: &Step) -> Result<Outcome> {
        self.preflight_err()
    }
    fn halt(&self, _: &Lab, _: &StateDir, _: &dyn Reporter) -> Result<()> {
        self.preflight_err()
    }
    fn status(&self, _: &Lab, _: &StateDir) -> Result<Vec<Machine>> {
        self.preflight_err()
    }
    fn leftovers(&self, _: &Lab, _: &StateDir, _: Option<&State>) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    fn destroy(&self, _: &Lab, _: &StateDir, _: Option<&State>, _: &dyn Reporter, _: &tokio::runtime::Handle) -> Result<()> {
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
impl Unavailable {
    fn preflight_err<T>(&self) -> Result<T> {
        Err(Error::Preflight { problem: format!("the {} provider needs Linux", self.0), fix: "use `provider: virtualbox` on this computer".into() })
    }
}
