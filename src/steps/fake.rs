//! The steps' unit tests' node: a [`Remote`] that records every script (and its input) and
//! answers from a table, and a [`World`] that makes a run context over it for a lab file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::remote::Output;
use crate::remote::seam::Remote;
use crate::script::Sh;
use crate::spec::{HostFacts, Lab, parse};
use crate::state::{HostKey, Keys, StateDir};
use crate::steps::{Cx, Machines, Options, Step};

/// The master's web UI as a test answers it: each call asks the closure.
pub struct FakeWeb<F>(pub F);

impl<F: Fn() -> Result<crate::spark::MasterJson> + Send + Sync> crate::steps::Web for FakeWeb<F> {
    fn master_json(&self, _: &Lab, _: Option<&crate::remote::Target>) -> Result<crate::spark::MasterJson> {
        (self.0)()
    }
}

/// A node that answers scripts from a table: the last rule whose text the script contains
/// wins; anything else exits 0 with no output.
pub struct FakeRemote {
    node: String,
    rules: Mutex<Vec<(String, Output)>>,
    ran: Mutex<Vec<(String, Vec<u8>)>>,
    pub uploads: Mutex<Vec<String>>,
}

impl FakeRemote {
    pub fn new(node: &str) -> Arc<Self> {
        Arc::new(Self { node: node.into(), rules: Mutex::new(Vec::new()), ran: Mutex::new(Vec::new()), uploads: Mutex::new(Vec::new()) })
    }

    /// Scripts containing `text` exit `status` printing `stdout`.
    pub fn answer(&self, text: &str, status: u32, stdout: &str) {
        self.rules
            .lock()
            .expect("rules")
            .push((text.into(), Output { status, stdout: stdout.into(), stderr: if status == 0 { String::new() } else { "failed".into() } }));
    }

    /// The node's probe prints these sections (step id, what its check printed).
    pub fn probe(&self, sections: &[(&str, &str)]) {
        let out: String = sections.iter().map(|(id, text)| format!("@@lab-section@@ {id}\n{text}")).collect();
        self.answer("@@lab-section@@", 0, &out);
    }

    /// Every script run, in order, as the node's shell sees it (sudo's wrapping taken off).
    pub fn scripts(&self) -> Vec<String> {
        self.ran.lock().expect("ran").iter().map(|(s, _)| plain(s)).collect()
    }

    /// The last script and its input.
    pub fn last(&self) -> (String, Vec<u8>) {
        self.ran.lock().expect("ran").last().map(|(s, i)| (plain(s), i.clone())).expect("a script ran")
    }

    /// Whether a script was run as root (through sudo).
    pub fn ran_as_root(&self, text: &str) -> bool {
        self.ran.lock().expect("ran").iter().any(|(s, _)| s.starts_with("sudo -n sh -c ") && plain(s).contains(text))
    }
}

/// A script without `Sh::sudo`'s wrapping: `sudo -n sh -c '<lock>' '<script>'`.
fn plain(s: &str) -> String {
    let Some(rest) = s.strip_prefix("sudo -n sh -c ") else { return s.to_string() };
    let words = shell_words(rest);
    words.get(1).cloned().unwrap_or_else(|| s.to_string())
}

/// Splits single-quoted shell words (what `script::quote` writes).
fn shell_words(s: &str) -> Vec<String> {
    let (mut words, mut cur, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            '\\' if !quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ' ' if !quoted => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
}

impl Remote for FakeRemote {
    fn node(&self) -> &str {
        &self.node
    }
    fn exec_input(&self, script: &Sh, input: &[u8]) -> Result<Output> {
        self.ran.lock().expect("ran").push((script.as_str().to_string(), input.to_vec()));
        let text = plain(script.as_str());
        let rules = self.rules.lock().expect("rules");
        Ok(rules.iter().rev().find(|(t, _)| text.contains(t.as_str())).map(|(_, o)| o.clone()).unwrap_or_default())
    }
    fn upload(&self, local: &Path, _digest: &str, progress: &mut (dyn FnMut(u64) + Send)) -> Result<String> {
        progress(1);
        self.uploads.lock().expect("uploads").push(local.display().to_string());
        Ok("/tmp/lab-upload.TEST".into())
    }
}

/// A provider's side for tests: host keys as given; `tracking` like `existing`.
pub struct FakeMachines {
    pub tracking: bool,
}

impl Machines for FakeMachines {
    fn host_keys(&self, lab: &Lab, _: &StateDir) -> Result<BTreeMap<String, HostKey>> {
        Ok(lab
            .nodes
            .iter()
            .map(|n| (n.name.clone(), HostKey { keys: vec![format!("ssh-ed25519 AAAAC3Nza{} {}", n.name, n.name)], private_path: None }))
            .collect())
    }
    fn tracks_changes(&self) -> bool {
        self.tracking
    }
}

/// A lab in a temporary folder, and run contexts over fake nodes.
pub struct World {
    pub lab: Lab,
    pub sd: StateDir,
    pub machines: FakeMachines,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl World {
    /// The sandbox template's lab (master, node1, node2).
    pub fn sandbox() -> Self {
        Self::with(include_str!("../../labs/sandbox.yaml"), false)
    }

    /// The sandbox lab on Spark 3.5.8: no Spark Connect, no Java modules to check.
    pub fn sandbox_3_5() -> Self {
        let text = include_str!("../../labs/sandbox.yaml").replace("4.3.0", "3.5.8").replace("  connect_memory: 768m\n", "");
        Self::with(&text, false)
    }

    /// A lab from `text`; `tracking`: the provider records every change (like `existing`).
    pub fn with(text: &str, tracking: bool) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let lab = parse(&dir.path().join("lab.yaml"), text, &HostFacts::default()).expect("valid lab");
        let sd = StateDir::for_lab(&lab);
        sd.create().expect("state folder");
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        Self { lab, sd, machines: FakeMachines { tracking }, rt, _dir: dir }
    }

    /// A run context for `plan`, with fake keys.
    pub fn cx<'a>(&'a self, plan: &'a [Box<dyn Step + 'a>]) -> Cx<'a> {
        let client = crate::state::keys::ensure_key(&self.sd.client_key_path(), "lab-test").expect("key");
        let hosts = self.machines.host_keys(&self.lab, &self.sd).expect("host keys");
        Cx::new(&self.lab, &self.sd, &self.machines, &crate::ui::Silent, self.rt.handle().clone(), Options::default(), plan)
            .expect("cx")
            .with_keys(Some(Keys { client, hosts }))
    }

    /// A run context that has no keys yet (the state folder's step makes them).
    pub fn cx_without_keys<'a>(&'a self, plan: &'a [Box<dyn Step + 'a>]) -> Cx<'a> {
        Cx::new(&self.lab, &self.sd, &self.machines, &crate::ui::Silent, self.rt.handle().clone(), Options::default(), plan).expect("cx")
    }

    /// `node`'s fake session in `cx`.
    pub fn remote(&self, cx: &Cx<'_>, node: &str) -> Arc<FakeRemote> {
        let r = FakeRemote::new(node);
        cx.put_remote(node, r.clone());
        r
    }
}

#[test]
fn sudo_wrapping_comes_off() {
    let s = crate::script::sh("printf '%s' {{x}} > /etc/a", &[("x", &"it's")]).sudo();
    assert_eq!(plain(s.as_str()), "printf '%s' 'it'\\''s' > /etc/a");
}
