//! Steps: each one thing lab makes true, in a file named for it (`hosts_file.rs`,
//! `java_installed.rs`, ...), and the run context [`Cx`] they share.
//!
//! A step is a trait object, not a variant of one enum: a step is one file plus one line in the
//! plan that lists it (`plan/`), and a provider brings its own steps (`provider/*/steps/`)
//! without a central list to edit; the runner knows only this trait. What a step needs from an
//! earlier one is a typed value with one maker (a [`Slot`] in [`Cx`], filled by the function
//! beside the step that gives it, e.g. `artifacts::spark`): a step that needs the Spark tarball
//! calls that function and gets the artifact, downloaded by the artifacts step or, were that
//! step ever missing from a plan, right then. No step can find a value "not made yet".
//!
//! A node step's observations ride in the node's one probe: [`Step::probes`] gives the shell
//! checks, [`Cx::fact`] runs every planned step's checks of a node in one round trip (again
//! after a step changed the node) and hands each step its own section.

pub mod artifacts;
pub mod cluster_ssh;
#[cfg(test)]
pub mod fake;
pub mod firewall;
pub mod hosts_file;
pub mod java_installed;
pub mod node;
pub mod python_installed;
pub mod shared;
pub mod spark_account;
pub mod spark_daemon;
pub mod spark_defaults;
pub mod spark_env;
pub mod spark_installed;
pub mod ssh_ready;
pub mod state_folder;
pub mod workers_file;
pub mod workers_registered;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use crate::download::Cached;
use crate::error::{Error, Result};
use crate::remote::Session;
use crate::remote::seam::{Remote, Ssh};
use crate::script::{Sh, sh};
use crate::spec::{Lab, Node};
use crate::state::{Change, Keys, StateDir};
use crate::steps::shared::split_sections;
pub use crate::steps::shared::{Fingerprint, Jdks, Machines, Options, PerNode, SECTION, Slot, SparkWeb, Web};
use crate::ui::{Outcome, Reporter};

pub use crate::ui::HOST;

/// The stages of a run, in order. A stage starts when the one before it has ended; inside a
/// stage the steps of one target run in order, and different targets run side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// This computer: state folder, keys, downloads.
    Host,
    /// The provider brings the machines up (or down).
    Machines,
    /// An SSH session to every node, with the pinned host key.
    Connect,
    /// Per node: names, Java, Spark, firewall, configuration.
    Nodes,
    /// The master: workers file, passwordless SSH, the master daemon.
    Cluster,
    /// The workers' daemons.
    Workers,
    /// The cluster as a whole answers.
    Ready,
    /// After the machines: what this computer holds for them (`lab destroy`'s networks).
    Cleanup,
}

impl Stage {
    pub fn title(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Machines => "machines",
            Self::Connect => "ssh",
            Self::Nodes => "software",
            Self::Cluster => "cluster",
            Self::Workers => "workers",
            Self::Ready => "ready",
            Self::Cleanup => "cleanup",
        }
    }
}

/// What a step's check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Already true: the runner reports it and does nothing.
    Satisfied,
    /// Not true, and why (from what was observed): the runner applies the step.
    Needed(String),
    /// Only applying can tell: the step's look and its change are one conversation with the
    /// hypervisor (a VM's settings, an install lab watches). `apply` says whether it changed
    /// anything.
    InApply,
}

/// Where a step makes its truth: this computer, or one node. A type, not a name: a node may be
/// called anything, `host` included.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Host,
    Node(String),
}

impl Target {
    /// How the printer names it: [`HOST`] or the node's name.
    pub fn label(&self) -> &str {
        match self {
            Self::Host => HOST,
            Self::Node(n) => n,
        }
    }

    /// The node, when the target is one.
    pub fn node(&self) -> Option<&str> {
        match self {
            Self::Host => None,
            Self::Node(n) => Some(n),
        }
    }
}

/// What a step is, said once: its stable id (printed by the plan and the progress lines), its
/// stage, its target, and its goal (what `lab up --dry-run` prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub id: &'static str,
    pub stage: Stage,
    pub target: Target,
    pub goal: String,
}

impl Head {
    /// A step on this computer.
    pub fn host(id: &'static str, stage: Stage, goal: impl Into<String>) -> Self {
        Self { id, stage, target: Target::Host, goal: goal.into() }
    }

    /// A step on node `node`.
    pub fn node(id: &'static str, stage: Stage, node: &str, goal: impl Into<String>) -> Self {
        Self { id, stage, target: Target::Node(node.to_string()), goal: goal.into() }
    }
}

/// One thing lab makes true on one target.
pub trait Step: Send + Sync {
    /// What the step is (one value the step owns).
    fn head(&self) -> &Head;
    /// Checks that ride in a node's probe, by node (a step may look at other nodes than its
    /// own: the master's SSH step reads the workers' `authorized_keys`).
    fn probes(&self, _cx: &Cx<'_>) -> Result<Vec<(String, Sh)>> {
        Ok(Vec::new())
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check>;
    /// Makes it true (called when `check` did not find it so).
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome>;
}

/// A plan: the steps of a run, in order.
pub type Steps<'a> = Vec<Box<dyn Step + 'a>>;

/// What every step can use: the lab, its state folder, the provider's side, the printer, the
/// values steps give each other, the nodes' sessions and probes.
pub struct Cx<'a> {
    pub lab: &'a Lab,
    pub sd: &'a StateDir,
    pub machines: &'a dyn Machines,
    pub reporter: &'a dyn Reporter,
    pub rt: tokio::runtime::Handle,
    pub opts: Options,
    /// The run's steps, whose checks make up each node's probe.
    plan: &'a [Box<dyn Step + 'a>],
    /// The lab key and the nodes' host keys ([`Cx::keys`]).
    keys: Slot<Keys>,
    /// Spark and the JDKs in the download cache (`artifacts::spark`, `artifacts::jdks`).
    pub spark: Slot<Cached>,
    pub jdks: Slot<Jdks>,
    /// Each node's JAVA_HOME (`java_installed::home`).
    pub java_homes: PerNode<String>,
    remotes: Mutex<HashMap<String, Arc<dyn Remote>>>,
    /// What each node's probe printed, until a step changes the node.
    facts: Mutex<HashMap<String, Arc<HashMap<String, String>>>>,
    /// Fingerprints as they are now (the recorded ones, updated by this run's steps).
    current: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    /// The master's web answers (a fake in the steps' unit tests).
    pub web: Arc<dyn Web>,
}

impl<'a> Cx<'a> {
    pub fn new(
        lab: &'a Lab,
        sd: &'a StateDir,
        machines: &'a dyn Machines,
        reporter: &'a dyn Reporter,
        rt: tokio::runtime::Handle,
        opts: Options,
        plan: &'a [Box<dyn Step + 'a>],
    ) -> Result<Self> {
        // What earlier runs recorded is a hint: a damaged state file is reported by the steps
        // that need it (`lab destroy` goes on by lab's marks).
        let recorded = match sd.load() {
            Ok(s) => s.unwrap_or_default(),
            Err(Error::BadState { .. }) => crate::state::State::default(),
            Err(e) => return Err(e),
        };
        let web: Arc<dyn Web> = Arc::new(SparkWeb::new(rt.clone()));
        Ok(Self {
            lab,
            sd,
            machines,
            reporter,
            rt,
            opts,
            plan,
            keys: Slot::new(None),
            spark: Slot::new(None),
            jdks: Slot::new(None),
            java_homes: PerNode::new(),
            remotes: Mutex::new(HashMap::new()),
            facts: Mutex::new(HashMap::new()),
            current: Mutex::new(recorded.nodes.iter().map(|(k, v)| (k.clone(), v.steps.clone())).collect()),
            web,
        })
    }

    /// Starts the run with the keys of a lab built before (instead of making them).
    #[must_use]
    pub fn with_keys(self, keys: Option<Keys>) -> Self {
        if let Some(k) = keys {
            self.keys.set(k);
        }
        self
    }

    /// The lab key and every node's host key: given by the command (a lab built before), or
    /// made now (the state folder: `.lab/<name>/` with the lab key, the nodes' host keys and
    /// known_hosts).
    pub fn keys(&self) -> Result<Keys> {
        self.keys.get_or_make(|| {
            let client = self.sd.ensure_client_key(self.lab)?;
            self.sd.same_provider(self.lab)?;
            if !self.sd.path().join("state.json").is_file() {
                self.sd.save(&self.sd.load_or_new()?)?;
            }
            let hosts = self.machines.host_keys(self.lab, self.sd)?;
            self.sd.write_known_hosts(self.lab, &hosts)?;
            Ok(Keys { client, hosts })
        })
    }

    /// The master's `/json/`, from its web UI.
    pub fn master_json(&self) -> Result<crate::spark::MasterJson> {
        if self.machines.reaches_nodes(self.lab, self.sd) {
            return self.web.master_json(self.lab, None);
        }
        let target = self.machines.target(self.lab, self.sd, &self.keys()?, self.lab.master())?;
        self.web.master_json(self.lab, Some(&target))
    }

    /// Runs a future to completion from a step (steps run on plain threads).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    pub fn node(&self, name: &str) -> Result<&'a Node> {
        self.lab.node(name).ok_or_else(|| Error::node(name, "the lab file has no such node"))
    }

    /// The node's session: the one this run opened, else a new one (waiting up to the run's
    /// `ssh_wait` for the node to answer).
    pub fn remote(&self, node: &str) -> Result<Arc<dyn Remote>> {
        if let Some(r) = self.remotes.lock().ok().and_then(|m| m.get(node).cloned()) {
            return Ok(r);
        }
        let n = self.node(node)?;
        let keys = self.keys()?;
        let target = self.machines.target(self.lab, self.sd, &keys, n)?;
        let s = self.block_on(Session::wait(&target, Instant::now() + self.opts.ssh_wait))?;
        let r: Arc<dyn Remote> = Arc::new(Ssh::new(s, self.rt.clone()));
        let mut m = self.remotes.lock().map_err(|_| Error::Internal("sessions lock poisoned".into()))?;
        Ok(m.entry(node.to_string()).or_insert(r).clone())
    }

    /// Replaces the keys (a step recorded a host key the user accepted).
    pub fn set_keys(&self, keys: Keys) {
        self.keys.set(keys);
    }

    /// Whether this run has a session to `node`.
    pub fn connected(&self, node: &str) -> bool {
        self.remotes.lock().is_ok_and(|m| m.contains_key(node))
    }

    /// Uses `r` as `node`'s session (tests: a fake).
    pub fn put_remote(&self, node: &str, r: Arc<dyn Remote>) {
        if let Ok(mut m) = self.remotes.lock() {
            m.insert(node.to_string(), r);
        }
    }

    /// What `node`'s probe printed for step `id`. The probe (every planned step's checks of the
    /// node, one section each) runs once, and again after a step changed the node.
    pub fn fact(&self, node: &str, id: &str) -> Result<String> {
        if let Some(f) = self.facts.lock().ok().and_then(|m| m.get(node).cloned()) {
            return Ok(f.get(id).cloned().unwrap_or_default());
        }
        let mut script = sh("true", &[]);
        for step in self.plan {
            for (n, check) in step.probes(self)? {
                if n == node {
                    script =
                        script.then(&sh("echo {{mark}}; ( {{check}} ) 2>/dev/null", &[("mark", &format!("{SECTION}{}", step.head().id)), ("check", &check)]));
                }
            }
        }
        let out = self.remote(node)?.check(&script)?.stdout;
        let facts = split_sections(&out);
        let got = facts.get(id).cloned().unwrap_or_default();
        if let Ok(mut m) = self.facts.lock() {
            m.insert(node.to_string(), Arc::new(facts));
        }
        Ok(got)
    }

    /// What the probe saw of `node` may be out of date now.
    pub fn forget_facts(&self, node: &str) {
        if let Ok(mut m) = self.facts.lock() {
            m.remove(node);
        }
    }

    /// A fingerprint as it is now: set by this run, else by an earlier one.
    pub fn current(&self, node: &str, fp: Fingerprint) -> Option<String> {
        self.current.lock().ok().and_then(|m| m.get(node).and_then(|n| n.get(fp.key())).cloned())
    }

    /// Records a fingerprint for `node` now (so an interrupted run still knows it).
    pub fn record(&self, node: &str, fp: Fingerprint, value: &str) -> Result<()> {
        let key = fp.key();
        if let Ok(mut m) = self.current.lock() {
            m.entry(node.to_string()).or_default().insert(key.to_string(), value.to_string());
        }
        let ip = self.lab.node(node).map(|n| n.ip.to_string()).unwrap_or_default();
        self.sd.update(|st| {
            let entry = st.nodes.entry(node.to_string()).or_default();
            entry.ip.clone_from(&ip);
            entry.steps.insert(key.to_string(), value.to_string());
        })
    }

    /// Records a change lab made on a node it did not create (providers that track changes),
    /// at once, so an interrupted run still undoes it.
    pub fn track(&self, node: &str, change: Change) -> Result<()> {
        if !self.machines.tracks_changes() {
            return Ok(());
        }
        self.sd.update(|st| {
            let entry = st.nodes.entry(node.to_string()).or_default();
            if !entry.changes.contains(&change) {
                entry.changes.push(change);
            }
        })
    }

    /// Closes every SSH session.
    pub fn close(&self) {
        let all: Vec<Arc<dyn Remote>> = self.remotes.lock().map(|mut m| m.drain().map(|(_, r)| r).collect()).unwrap_or_default();
        for r in all {
            r.close();
        }
    }
}
