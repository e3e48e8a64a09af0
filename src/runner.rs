//! The one step runner: executes a plan stage by stage (targets of a stage side by side, the
//! steps of one target in order), reports each step's start, outcome and time, and dispatches
//! each step to the code that owns its identifier. Only planned steps run.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::download::{Cached, Downloader};
use crate::error::{Error, Result};
use crate::plan::{Stage, Step, ids};
use crate::provider::Provider;
use crate::remote::Session;
use crate::spec::{JavaInstall, Lab};
use crate::state::{Keys, StateDir};
use crate::ui::{Outcome, Reporter};

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

/// Artifacts in the host's cache, for steps that push them to nodes.
#[derive(Debug, Clone, Default)]
pub struct Artifacts {
    pub spark: Option<Cached>,
    /// JDK tarballs by architecture (`None`: the one for any architecture).
    pub jdk: BTreeMap<Option<crate::spec::Arch>, Cached>,
    pub iso: Option<Cached>,
}

/// What every step can use: the lab, its state folder, the provider, SSH sessions, artifacts.
pub struct StepCx<'a> {
    pub lab: &'a Lab,
    pub sd: &'a StateDir,
    pub provider: &'a dyn Provider,
    pub reporter: &'a dyn Reporter,
    pub rt: tokio::runtime::Handle,
    pub opts: Options,
    keys: RwLock<Option<Keys>>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    pub artifacts: Mutex<Artifacts>,
    /// Fingerprints as they are now (the recorded ones, updated by this run's steps).
    current: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    /// What each node's probe printed, until a step changes the node.
    facts: Mutex<HashMap<String, Arc<crate::provision::Facts>>>,
}

impl<'a> StepCx<'a> {
    pub fn new(
        lab: &'a Lab,
        sd: &'a StateDir,
        provider: &'a dyn Provider,
        reporter: &'a dyn Reporter,
        rt: tokio::runtime::Handle,
        opts: Options,
    ) -> Result<Self> {
        let recorded = match sd.load() {
            Ok(s) => s.unwrap_or_default(),
            Err(e @ Error::Symlink { .. }) => return Err(e),
            Err(e) => return Err(e),
        };
        Ok(Self {
            lab,
            sd,
            provider,
            reporter,
            rt,
            opts,
            keys: RwLock::new(None),
            sessions: Mutex::new(HashMap::new()),
            artifacts: Mutex::new(Artifacts::default()),
            current: Mutex::new(recorded.nodes.iter().map(|(k, v)| (k.clone(), v.steps.clone())).collect()),
            facts: Mutex::new(HashMap::new()),
        })
    }

    /// Runs a future to completion from a step (steps run on plain threads).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    pub fn keys(&self) -> Result<Keys> {
        self.keys
            .read()
            .map_err(|_| Error::Internal("keys lock poisoned".into()))?
            .clone()
            .ok_or_else(|| Error::Internal("the keys were not loaded before a step that needs them".into()))
    }

    pub fn set_keys(&self, k: Keys) -> Result<()> {
        *self.keys.write().map_err(|_| Error::Internal("keys lock poisoned".into()))? = Some(k);
        Ok(())
    }

    pub fn session(&self, node: &str) -> Result<Arc<Session>> {
        self.sessions
            .lock()
            .map_err(|_| Error::Internal("sessions lock poisoned".into()))?
            .get(node)
            .cloned()
            .ok_or_else(|| Error::Internal(format!("no SSH session to {node}")))
    }

    pub fn has_session(&self, node: &str) -> bool {
        self.sessions.lock().is_ok_and(|s| s.contains_key(node))
    }

    pub fn put_session(&self, node: &str, s: Session) {
        if let Ok(mut m) = self.sessions.lock() {
            m.insert(node.to_string(), Arc::new(s));
        }
    }

    pub fn facts(&self, node: &str) -> Option<Arc<crate::provision::Facts>> {
        self.facts.lock().ok().and_then(|m| m.get(node).cloned())
    }

    pub fn set_facts(&self, node: &str, facts: crate::provision::Facts) {
        if let Ok(mut m) = self.facts.lock() {
            m.insert(node.to_string(), Arc::new(facts));
        }
    }

    pub fn forget_facts(&self, node: &str) {
        if let Ok(mut m) = self.facts.lock() {
            m.remove(node);
        }
    }

    /// A fingerprint as it is now: set by this run, else by an earlier one.
    pub fn current(&self, node: &str, key: &str) -> Option<String> {
        self.current.lock().ok().and_then(|m| m.get(node).and_then(|n| n.get(key)).cloned())
    }

    /// Records a fingerprint for `node` now (so an interrupted run still knows it).
    pub fn record(&self, node: &str, key: &str, value: &str) -> Result<()> {
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
    pub fn track(&self, node: &str, change: crate::state::Change) -> Result<()> {
        if !self.provider.tracks_changes() {
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
        let sessions: Vec<Arc<Session>> = self.sessions.lock().map(|mut m| m.drain().map(|(_, s)| s).collect()).unwrap_or_default();
        self.rt.block_on(async {
            for s in sessions {
                if let Ok(s) = Arc::try_unwrap(s) {
                    s.close().await;
                }
            }
        });
    }
}

/// How a run went: the time each stage took.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub stages: Vec<(Stage, Duration)>,
    pub applied: usize,
    pub satisfied: usize,
}

/// Runs `steps` in order of their stages. A failed step stops its target; the stage's other
/// targets finish, then the run stops with the first failure.
pub fn run(cx: &StepCx<'_>, steps: &[Step]) -> Result<Summary> {
    let mut summary = Summary::default();
    let mut i = 0;
    while i < steps.len() {
        let stage = steps[i].stage;
        let end = steps[i..].iter().position(|s| s.stage != stage).map_or(steps.len(), |p| i + p);
        let started = Instant::now();
        // This computer's steps of a stage come first (the nodes' steps use what they make).
        let host: Vec<&Step> = steps[i..end].iter().filter(|s| s.target == crate::plan::HOST).collect();
        if !host.is_empty() {
            match run_target(cx, &host) {
                Ok(outcomes) => {
                    summary.applied += outcomes.iter().filter(|o| **o == Outcome::Applied).count();
                    summary.satisfied += outcomes.iter().filter(|o| **o == Outcome::Satisfied).count();
                }
                Err(e) => {
                    summary.stages.push((stage, started.elapsed()));
                    return Err(e);
                }
            }
        }
        let mut targets: Vec<(&str, Vec<&Step>)> = Vec::new();
        for s in steps[i..end].iter().filter(|s| s.target != crate::plan::HOST) {
            match targets.iter_mut().find(|(t, _)| *t == s.target) {
                Some((_, v)) => v.push(s),
                None => targets.push((&s.target, vec![s])),
            }
        }
        let results: Vec<Result<Vec<Outcome>>> = if targets.is_empty() {
            Vec::new()
        } else if targets.len() == 1 {
            vec![run_target(cx, &targets[0].1)]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = targets.iter().map(|(_, list)| scope.spawn(|| run_target(cx, list))).collect();
                handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Error::Internal("a step panicked".into())))).collect()
            })
        };
        let mut first_error = None;
        for r in results {
            match r {
                Ok(outcomes) => {
                    summary.applied += outcomes.iter().filter(|o| **o == Outcome::Applied).count();
                    summary.satisfied += outcomes.iter().filter(|o| **o == Outcome::Satisfied).count();
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        summary.stages.push((stage, started.elapsed()));
        if let Some(e) = first_error {
            return Err(e);
        }
        i = end;
    }
    Ok(summary)
}

fn run_target(cx: &StepCx<'_>, steps: &[&Step]) -> Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    for s in steps {
        let start = Instant::now();
        cx.reporter.step_start(&s.target, s.id);
        match apply(cx, s) {
            Ok(o) => {
                cx.reporter.step_done(&s.target, s.id, &o, start.elapsed());
                outcomes.push(o);
            }
            Err(e) => {
                cx.reporter.step_failed(&s.target, s.id, &e, start.elapsed());
                return Err(e);
            }
        }
    }
    Ok(outcomes)
}

/// Dispatches a step to the code that owns its identifier.
fn apply(cx: &StepCx<'_>, step: &Step) -> Result<Outcome> {
    match step.id {
        ids::STATE => state(cx),
        ids::ARTIFACTS => artifacts(cx),
        ids::SSH_READY => ssh_ready(cx, &step.target),
        id if crate::provision::owns(id) => crate::provision::apply(cx, step),
        _ => cx.provider.apply(cx, step),
    }
}

/// `.lab/<name>/` with the lab's client key and each node's host key.
fn state(cx: &StepCx<'_>) -> Result<Outcome> {
    let existed = cx.sd.client_key_path().is_file() && cx.sd.path().join("state.json").is_file();
    let client = cx.sd.ensure_client_key(cx.lab)?;
    cx.sd.same_provider(cx.lab)?;
    if !cx.sd.path().join("state.json").is_file() {
        cx.sd.save(&cx.sd.load_or_new()?)?;
    }
    let hosts = cx.provider.host_keys(cx, false)?;
    cx.sd.write_known_hosts(cx.lab, &hosts)?;
    cx.set_keys(Keys { client, hosts })?;
    Ok(if existed { Outcome::Satisfied } else { Outcome::Applied })
}

/// Spark (and a JDK tarball) in the download cache. Downloads only what is missing.
fn artifacts(cx: &StepCx<'_>) -> Result<Outcome> {
    let lab = cx.lab;
    let dl = Downloader::new(cx.reporter)?;
    let mut fetched = false;
    let spark = cx.block_on(dl.fetch(&lab.spark.artifact, &mut fetched))?;
    let mut jdk = BTreeMap::new();
    if let JavaInstall::Tarball(t) = &lab.java.install {
        for (arch, a) in t.needed(lab.machine_arch()) {
            jdk.insert(arch, cx.block_on(dl.fetch(a, &mut fetched))?);
        }
    }
    if let Ok(mut a) = cx.artifacts.lock() {
        a.spark = Some(spark);
        a.jdk = jdk;
    }
    Ok(if fetched { Outcome::Applied } else { Outcome::Satisfied })
}

/// One SSH session to the node as the lab user, with the pinned host key, kept for the run.
fn ssh_ready(cx: &StepCx<'_>, node: &str) -> Result<Outcome> {
    if cx.has_session(node) {
        return Ok(Outcome::Satisfied);
    }
    let n = cx.lab.node(node).ok_or_else(|| Error::Internal(format!("no node {node}")))?;
    let keys = cx.keys()?;
    let target = cx.provider.target(cx.lab, cx.sd, &keys, n)?;
    let s = cx.block_on(Session::wait(&target, Instant::now() + cx.opts.ssh_wait))?;
    cx.put_session(node, s);
    Ok(Outcome::Satisfied)
}
