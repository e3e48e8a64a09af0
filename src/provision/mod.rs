//! Spark provisioning over SSH, the same on every provider: each step checks the node in one
//! round trip, then changes only what differs, and reports whether it did anything. On machines
//! lab did not create, every change is recorded (with a backup of what it replaced) so `destroy`
//! undoes exactly that.

mod cluster_ssh;
mod daemons;
mod firewall;
mod hosts;
mod java;
mod python;
mod spark;

use std::path::Path;
use std::sync::Arc;

pub use daemons::master_json;

use crate::error::{Error, Result};
use crate::plan::{Step, ids};
use crate::remote::Session;
use crate::runner::StepCx;
use crate::script::sh;
use crate::spec::Node;
use crate::state::Change;
use crate::ui::Outcome;

/// Whether a step identifier belongs to provisioning.
pub fn owns(id: &str) -> bool {
    matches!(
        id,
        ids::HOSTS_FILE
            | ids::JAVA
            | ids::PYTHON
            | ids::SPARK
            | ids::FIREWALL
            | ids::SPARK_ENV
            | ids::WORKERS_FILE
            | ids::CLUSTER_SSH
            | ids::MASTER
            | ids::WORKER
            | ids::CLUSTER_READY
    )
}

/// The checks of every provisioning step of a node, in one script whose output is split into
/// one section per step: when nothing has to change, a node costs one round trip.
fn probe(n: &NodeCx<'_>) -> crate::script::Sh {
    let sections = [
        (ids::HOSTS_FILE, hosts::check()),
        (ids::JAVA, java::check(n)),
        (ids::SPARK, spark::check(n.cx.lab)),
        (ids::FIREWALL, firewall::check()),
        (ids::PYTHON, python::check()),
        (ids::SPARK_ENV, spark::env_check(n.cx.lab)),
        (ids::WORKERS_FILE, spark::workers_check(n.cx.lab)),
        (ids::CLUSTER_SSH, cluster_ssh::check()),
        (ids::MASTER, daemons::check(n.node, &n.cx.lab.user)),
    ];
    let mut script = sh("true", &[]);
    for (id, check) in sections {
        script = script.then(&sh("echo {{mark}}; ( {{check}} ) 2>/dev/null", &[("mark", &format!("{SECTION}{id}")), ("check", &check)]));
    }
    script
}

/// Starts each section of the probe's output.
const SECTION: &str = "@@lab-section@@ ";

/// The probe's output, by section.
pub type Facts = std::collections::HashMap<String, String>;

fn split_facts(out: &str) -> Facts {
    let mut facts = Facts::new();
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

/// Runs one provisioning step on its node.
pub fn apply(cx: &StepCx<'_>, step: &Step) -> Result<Outcome> {
    let node = cx.lab.node(&step.target).ok_or_else(|| Error::Internal(format!("no node {}", step.target)))?;
    let n = NodeCx { cx, node, s: cx.session(&node.name)? };
    let outcome = match step.id {
        ids::HOSTS_FILE => hosts::ensure(&n),
        ids::JAVA => java::ensure(&n),
        ids::SPARK => spark::install(&n),
        ids::FIREWALL => firewall::ensure(&n),
        ids::PYTHON => python::ensure(&n),
        ids::SPARK_ENV => spark::env(&n),
        ids::WORKERS_FILE => spark::workers_file(&n),
        ids::CLUSTER_SSH => cluster_ssh::ensure(&n),
        ids::MASTER | ids::WORKER => daemons::running(&n),
        ids::CLUSTER_READY => daemons::registered(&n),
        other => Err(Error::Internal(format!("provisioning has no step {other}"))),
    };
    if !matches!(outcome, Ok(Outcome::Satisfied)) {
        // What the probe saw of this node may be out of date now.
        cx.forget_facts(&node.name);
    }
    outcome
}

/// A step on one node: the run, the node, its session.
pub struct NodeCx<'a> {
    pub cx: &'a StepCx<'a>,
    pub node: &'a Node,
    pub s: Arc<Session>,
}

/// Who owns a file lab writes.
#[derive(Debug, Clone)]
pub struct Owner {
    pub user: String,
    pub group: String,
}

impl Owner {
    pub fn root() -> Self {
        Self { user: "root".into(), group: "root".into() }
    }
    pub fn user(name: &str) -> Self {
        Self { user: name.into(), group: name.into() }
    }
}

/// The name a replaced file's original is kept under, beside it.
pub fn backup_of(path: &str) -> String {
    format!("{path}.lab-orig")
}

impl NodeCx<'_> {
    pub fn run<F: std::future::Future>(&self, f: F) -> F::Output {
        self.cx.block_on(f)
    }

    pub fn name(&self) -> &str {
        &self.node.name
    }

    pub fn track(&self, change: Change) -> Result<()> {
        self.cx.track(&self.node.name, change)
    }

    /// What the node's probe printed for step `id` (the probe runs once, on first use).
    pub fn fact(&self, id: &str) -> Result<String> {
        if let Some(f) = self.cx.facts(&self.node.name) {
            return Ok(f.get(id).cloned().unwrap_or_default());
        }
        let out = self.run(self.s.check(&probe(self)))?.stdout;
        let facts = split_facts(&out);
        let got = facts.get(id).cloned().unwrap_or_default();
        self.cx.set_facts(&self.node.name, facts);
        Ok(got)
    }

    /// `put_file` unless `fact` (the file's `stat -c %a:%U:%G` line, then its content, from the
    /// probe) shows it holds `content` with `mode` and `owner` already.
    pub fn put_file_unless(&self, fact: &str, path: &str, content: &str, mode: u32, owner: &Owner) -> Result<Outcome> {
        let want = format!("{mode:o}:{}:{}\n", owner.user, owner.group);
        if fact.strip_prefix(want.as_str()) == Some(content) {
            return Ok(Outcome::Satisfied);
        }
        self.put_file(path, content, mode, owner)
    }

    /// Makes `path` hold exactly `content` with `mode` and `owner`, in one round trip: the
    /// content goes to a temporary file next to the target, which replaces it only if anything
    /// differs (rename, so readers see the old file or the new one). The first time lab
    /// replaces a file it did not write, the original is kept beside it and the change is
    /// recorded.
    pub fn put_file(&self, path: &str, content: &str, mode: u32, owner: &Owner) -> Result<Outcome> {
        let tracking = self.cx.provider.tracks_changes();
        let script = sh(
            "set -e; p={{p}}; b={{b}}; d=$(dirname \"$p\"); mkdir -p \"$d\"; t=$(mktemp \"$d/.lab.XXXXXX\"); cat > \"$t\"; \
             if [ -f \"$p\" ] && cmp -s \"$t\" \"$p\" && [ \"$(stat -c %a:%U:%G \"$p\")\" = {{want}} ]; then rm -f \"$t\"; echo same; \
             else chmod {{mode}} \"$t\"; chown {{owner}} \"$t\"; \
               if [ {{track}} = yes ] && [ -e \"$p\" ] && [ ! -e \"$b\" ]; then cp -a \"$p\" \"$b\"; r=replaced; elif [ -e \"$p\" ]; then r=changed; else r=created; fi; \
               mv -f \"$t\" \"$p\"; echo \"$r\"; fi",
            &[
                ("p", &path),
                ("b", &backup_of(path)),
                ("want", &format!("{mode:o}:{}:{}", owner.user, owner.group)),
                ("mode", &format!("{mode:o}")),
                ("owner", &format!("{}:{}", owner.user, owner.group)),
                ("track", &if tracking { "yes" } else { "no" }),
            ],
        );
        let out = self.run(self.s.exec_input(&script.sudo(), content.as_bytes()))?;
        let outcome = match (out.status, out.stdout.trim()) {
            (0, "same") => Outcome::Satisfied,
            (0, "replaced") => {
                self.track(Change::Replaced { path: path.to_string(), backup: backup_of(path) })?;
                Outcome::Applied
            }
            (0, "created") => {
                self.track(Change::Created { path: path.to_string() })?;
                Outcome::Applied
            }
            (0, "changed") => Outcome::Applied,
            _ => {
                return Err(Error::node_hint(
                    self.name(),
                    format!("writing {path} failed: {}", out.stderr.trim()),
                    "the lab user needs passwordless sudo on the node",
                ));
            }
        };
        Ok(outcome)
    }

    /// Pushes a verified tarball from the cache and unpacks it into `dir` (a new folder, then a
    /// rename), owned by the lab user. The bytes are checked against their checksum as they go.
    pub fn unpack(&self, tarball: &crate::download::Cached, dir: &str) -> Result<()> {
        let label = Path::new(dir).file_name().and_then(|n| n.to_str()).unwrap_or(dir).to_string();
        let total = std::fs::metadata(&tarball.path).map(|m| m.len()).ok();
        let reporter = self.cx.reporter;
        let node = self.node.name.clone();
        let remote = self.run(self.s.upload_verified(&tarball.path, &tarball.digest, &mut |done| reporter.progress(&node, &label, done, total)))?;
        let user = &self.cx.lab.user;
        // On machines lab did not create, a folder lab did not make is kept, never removed.
        let keep = self.cx.provider.tracks_changes() && !self.made(dir);
        let script = sh(
            "set -e; rm -rf {{d}}.lab-new; mkdir -p {{d}}.lab-new; tar xzf {{tmp}} -C {{d}}.lab-new --strip-components=1 --no-same-owner; \
             if [ -e {{d}} ] && [ {{keep}} = yes ] && [ ! -e {{b}} ]; then mv {{d}} {{b}}; echo replaced; elif [ -e {{d}} ]; then rm -rf {{d}}; else echo created; fi; \
             mv {{d}}.lab-new {{d}}; rm -f {{tmp}}; chown -R {{owner}} {{d}}",
            &[("d", &dir), ("b", &backup_of(dir)), ("keep", &if keep { "yes" } else { "no" }), ("tmp", &remote), ("owner", &format!("{user}:{user}"))],
        );
        match self.run(self.s.sudo_check(&script)) {
            Ok(out) => {
                match out.stdout.trim() {
                    "replaced" => self.track(Change::Replaced { path: dir.to_string(), backup: backup_of(dir) })?,
                    "created" => self.track(Change::Created { path: dir.to_string() })?,
                    _ => {}
                }
                Ok(())
            }
            Err(e) => {
                let _ = self.run(self.s.exec(&sh("rm -f {{t}}", &[("t", &remote)])));
                Err(e)
            }
        }
    }

    /// Whether lab recorded creating `path` on this node.
    pub fn made(&self, path: &str) -> bool {
        self.cx
            .sd
            .load()
            .ok()
            .flatten()
            .is_some_and(|st| st.nodes.get(&self.node.name).is_some_and(|n| n.changes.contains(&Change::Created { path: path.to_string() })))
    }
}
