//! What the run context is made of besides the steps: the provider's side ([`Machines`]), the
//! run's options, and [`Slot`], a value one step gives to later ones.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use crate::download::Cached;
use crate::error::{Error, Result};
use crate::remote::Target;
use crate::spec::{Arch, Lab, Node};
use crate::state::{HostKey, Keys, StateDir};

/// What steps need of the provider that made the machines.
pub trait Machines: Send + Sync {
    /// The host keys the nodes must present, made if the provider makes machines.
    fn host_keys(&self, lab: &Lab, sd: &StateDir) -> Result<BTreeMap<String, HostKey>>;

    /// How to reach `node` as the lab user.
    fn target(&self, lab: &Lab, sd: &StateDir, keys: &Keys, node: &Node) -> Result<Target> {
        let host = keys.hosts.get(&node.name).ok_or_else(|| Error::node_hint(&node.name, "no host key is known for it", "run `lab up` first"))?;
        Ok(Target {
            node: node.name.clone(),
            addr: self.ssh_addr(lab, sd, node),
            user: lab.user.clone(),
            key: sd.client_key_path(),
            host_keys: host.keys.clone(),
        })
    }

    /// Where `node`'s SSH answers from this computer: its static address, unless the provider
    /// forwards it (the qemu provider without root).
    fn ssh_addr(&self, lab: &Lab, _sd: &StateDir, node: &Node) -> std::net::SocketAddr {
        std::net::SocketAddr::from((node.ip, lab.ssh_port()))
    }

    /// Whether this computer reaches the nodes at their static addresses (it holds
    /// `network.host` on the lab network). Where it does not (the qemu provider without root),
    /// lab reads the nodes' web UIs through its SSH session to the node.
    fn reaches_nodes(&self, _lab: &Lab, _sd: &StateDir) -> bool {
        true
    }

    /// How many times longer than on ordinary machines lab waits for things on the nodes (a
    /// daemon to listen, workers to register): the qemu provider's guests under software
    /// emulation run a JVM's start 10 to 20 times slower.
    fn patience(&self, _lab: &Lab) -> u32 {
        1
    }

    /// Whether lab must record every change it makes on the nodes, to undo exactly those (the
    /// machines are not lab's: `existing`).
    fn tracks_changes(&self) -> bool {
        false
    }
}

/// The master's web UI, as steps ask it (the one seam for it: step tests answer with a fake).
pub trait Web: Send + Sync {
    /// The master's `/json/`: its status and the workers it lists; at the master's address, or
    /// through the SSH session to `via` (the master, when this computer is off the lab network).
    fn master_json(&self, lab: &Lab, via: Option<&Target>) -> Result<crate::spark::MasterJson>;
}

/// The master's web UI over HTTP from this computer.
pub struct SparkWeb {
    rt: tokio::runtime::Handle,
    /// The local end of the forward to the master's UI, made on first use (its session lives
    /// as long as the forward's task).
    forward: Mutex<Option<std::net::SocketAddr>>,
}

impl SparkWeb {
    pub fn new(rt: tokio::runtime::Handle) -> Self {
        Self { rt, forward: Mutex::new(None) }
    }
}

impl Web for SparkWeb {
    fn master_json(&self, lab: &Lab, via: Option<&Target>) -> Result<crate::spark::MasterJson> {
        let Some(target) = via else { return self.rt.block_on(crate::spark::master_json(lab)) };
        let mut forward = self.forward.lock().map_err(|_| Error::Internal("the web forward's lock poisoned".into()))?;
        let local = match *forward {
            Some(a) => a,
            None => {
                let a = self.rt.block_on(async {
                    let s = std::sync::Arc::new(crate::remote::Session::connect(target, Duration::from_secs(30)).await?);
                    crate::remote::forward::listen(s, 0, &lab.master().ip.to_string(), crate::spark::MASTER_UI_PORT).await
                })?;
                *forward = Some(a);
                a
            }
        };
        drop(forward);
        self.rt.block_on(crate::spark::master_json_at(&format!("http://{local}")))
    }
}

/// A fingerprint one step records for a node (in `state.json`, so later runs see it) and later
/// steps read: declared once, as a constant beside the step that produces it
/// (`spark_installed::RELEASE`, `spark_env::WRITTEN`, ...), never spelled as text elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(&'static str);

impl Fingerprint {
    pub const fn new(key: &'static str) -> Self {
        Self(key)
    }

    /// Its key in `state.json`'s per-node `steps`.
    pub fn key(self) -> &'static str {
        self.0
    }
}

/// Options of the run that steps read.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// existing provider: record host keys the machines present (shown to the user).
    pub accept_host_keys: bool,
    /// How long nodes may take to answer SSH once their machine runs.
    pub ssh_wait: Duration,
    /// Nodes whose machine is made anew (`lab up --recreate NODE`): the only way lab deletes a
    /// machine that finished its install.
    pub recreate: Vec<String>,
}

/// A value one step gives to later ones, made once per run by the function beside the step
/// that gives it (whoever asks first; others wait for it).
pub struct Slot<T>(Mutex<Option<T>>);

impl<T: Clone> Slot<T> {
    pub fn new(v: Option<T>) -> Self {
        Self(Mutex::new(v))
    }
    pub fn get_or_make(&self, make: impl FnOnce() -> Result<T>) -> Result<T> {
        let mut g = self.0.lock().map_err(|_| Error::Internal("a step panicked while making a value".into()))?;
        if let Some(v) = g.as_ref() {
            return Ok(v.clone());
        }
        let v = make()?;
        *g = Some(v.clone());
        Ok(v)
    }
    pub fn set(&self, v: T) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(v);
        }
    }
    pub fn peek(&self) -> Option<T> {
        self.0.lock().ok().and_then(|g| g.clone())
    }
}

/// A value per node that one step gives to later ones (made by the function beside that step).
pub struct PerNode<T>(Mutex<HashMap<String, T>>);

impl<T: Clone> PerNode<T> {
    pub fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
    pub fn get(&self, node: &str) -> Option<T> {
        self.0.lock().ok().and_then(|m| m.get(node).cloned())
    }
    pub fn set(&self, node: &str, v: T) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(node.to_string(), v);
        }
    }
}

/// JDK tarballs in the cache, by architecture (`None`: the one for any architecture).
pub type Jdks = BTreeMap<Option<Arch>, Cached>;

/// Starts each section of a probe's output.
pub const SECTION: &str = "@@lab-section@@ ";

/// A probe's output, by section.
pub fn split_sections(out: &str) -> HashMap<String, String> {
    let mut facts = HashMap::new();
    let mut cur: Option<(String, String)> = None;
    for line in out.split_inclusive('\n') {
        if let Some(id) = line.strip_prefix(SECTION) {
            if let Some((k, v)) = cur.take() {
                facts.insert(k, v);
            }
            cur = Some((id.trim().to_string(), String::new()));
        } else if let Some((_, v)) = cur.as_mut() {
            v.push_str(line);
        }
    }
    if let Some((k, v)) = cur {
        facts.insert(k, v);
    }
    facts
}
