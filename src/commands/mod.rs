//! One file per command. Every command gets the same context (the lab, its state folder, its
//! provider, the printer, a runtime when it needs one) and returns its exit status; nothing
//! below `main` ends the process.

mod base;
mod completions;
mod copy;
mod destroy;
mod doctor;
mod fetch;
mod halt;
mod init;
mod kickstart;
mod logs;
mod provision;
mod run;
mod shells;
mod snapshot;
mod ssh;
mod ssh_config;
mod status;
mod submit;
mod ui;
mod up;
mod validate;
mod verify;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::cli::{Cli, Command, Global};
use crate::error::{Error, Result};
use crate::provider::{self, Provider};
use crate::remote::Session;
use crate::spec::{self, Lab, Node};
use crate::state::{Keys, StateDir};
use crate::ui::Printer;

pub const LAB_FILE: &str = "lab.yaml";

/// Sessions by node, and for the nodes that could not be reached, why and after how long.
pub type Connected = (HashMap<String, Arc<Session>>, HashMap<String, (String, f64)>);

/// Runs the command the user asked for; returns the process's exit status.
pub fn run(cli: Cli, printer: &Printer) -> Result<i32> {
    let cx = Cx { global: &cli.global, printer };
    match cli.command {
        Command::Completions { shell } => completions::run(shell),
        Command::Init { template, force, list } => init::run(&cx, &template, force, list),
        Command::Validate => validate::run(&cx.lab()?),
        Command::Doctor { online } => doctor::run(&cx, online),
        Command::Up { dry_run, no_provision, accept_host_keys, recreate, offline } => {
            let lab = cx.lab()?;
            if offline && !dry_run {
                crate::download::set_offline(true);
                fetch::offline_check(&lab, !no_provision)?;
            }
            up::run(&lab, dry_run, !no_provision, accept_host_keys, &recreate)
        }
        Command::Kickstart { node, base, iso, seed, show_secrets } => {
            kickstart::run(&cx.lab()?, node.as_deref(), base, iso.as_deref(), seed.as_deref(), show_secrets)
        }
        Command::SshConfig => ssh_config::run(&cx.lab()?),
        Command::Destroy { yes } => destroy::run(&cx.lab()?, yes),
        Command::Ssh { node, command } => ssh::run(&cx.lab()?, &node, &command),
        Command::Verify => verify::run(&cx.lab()?),
        Command::Status => status::run(&cx.lab()?),
        Command::Halt => halt::run(&cx.lab()?),
        Command::Fetch { into, base } => fetch::run(&cx.lab()?, into.as_deref(), base),
        Command::Provision => provision::run(&cx.lab()?),
        Command::Run { nodes, master, workers, command } => run::run(&cx.lab()?, &nodes, master, workers, &command),
        Command::Copy { src, dst } => copy::run(&cx.lab()?, &src, &dst),
        Command::Submit { app, class, conf, args } => submit::run(&cx.lab()?, &app, class.as_deref(), &conf, &args),
        Command::SparkShell => shells::run(&cx.lab()?, shells::Shell::Scala),
        Command::Pyspark => shells::run(&cx.lab()?, shells::Shell::Python),
        Command::Logs { node, follow, daemon, lines } => logs::run(&cx.lab()?, &node, follow, daemon, lines),
        Command::Ui { open, forward } => ui::run(&cx.lab()?, open, forward),
        Command::Snapshot { command } => snapshot::run(&cx.lab()?, &command),
        Command::Base { command } => base::run(printer, &command),
        Command::QemuSwitch { dir } => qemu_switch(&dir),
    }
}

/// `lab qemu-switch DIR`: the switch of a qemu lab's network, run by `lab up` (not by people).
fn qemu_switch(dir: &Path) -> Result<i32> {
    #[cfg(unix)]
    return provider::qemu::switch::run(dir);
    #[cfg(not(unix))]
    return Err(Error::Unsupported { what: format!("lab's network switch ({})", dir.display()), hint: "the qemu provider runs on Linux and macOS".into() });
}

/// What every command starts from.
pub struct Cx<'a> {
    pub global: &'a Global,
    pub printer: &'a Printer,
}

impl<'a> Cx<'a> {
    /// Finds, reads and validates the lab file.
    pub fn lab(&self) -> Result<LabCx<'a>> {
        let file = find_lab_file(self.global.file.as_deref())?;
        // Report the path as the user would write it, relative to the current folder when possible.
        let shown = std::env::current_dir().ok().and_then(|cwd| file.strip_prefix(&cwd).ok().map(Path::to_path_buf)).unwrap_or_else(|| file.clone());
        let text = std::fs::read_to_string(&file).map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
        let mut lab = spec::parse(&shown, &text, &crate::host::facts()).map_err(|diagnostics| Error::Spec { file: shown.clone(), diagnostics })?;
        lab.file = file;
        let sd = StateDir::for_lab(&lab);
        let provider = provider::for_lab(&lab);
        Ok(LabCx { lab, sd, provider, printer: self.printer, rt: OnceLock::new() })
    }
}

/// The lab file: `-f PATH`, else `lab.yaml` in the current folder or the nearest one above it
/// (as Vagrant finds its Vagrantfile).
pub fn find_lab_file(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        if !p.is_file() {
            return Err(Error::Usage(format!("{} does not exist or is not a file", p.display())));
        }
        return std::path::absolute(p).map_err(|e| Error::io(format!("resolving {}", p.display()), e));
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io("reading the current folder", e))?;
    let mut dir: Option<&Path> = Some(&cwd);
    while let Some(d) = dir {
        let candidate = d.join(LAB_FILE);
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = d.parent();
    }
    Err(Error::NoLabFile { start: cwd })
}

/// A command's context once the lab file is read.
pub struct LabCx<'a> {
    pub lab: Lab,
    pub sd: StateDir,
    pub provider: Box<dyn Provider>,
    pub printer: &'a Printer,
    rt: OnceLock<tokio::runtime::Runtime>,
}

impl LabCx<'_> {
    /// The async runtime, started on first use.
    pub fn rt(&self) -> Result<&tokio::runtime::Runtime> {
        if let Some(rt) = self.rt.get() {
            return Ok(rt);
        }
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().map_err(|e| Error::io("starting the async runtime", e))?;
        Ok(self.rt.get_or_init(|| rt))
    }

    pub fn node(&self, name: &str) -> Result<&Node> {
        self.lab.node(name).ok_or_else(|| Error::UnknownNode {
            lab: self.lab.name.clone(),
            name: name.to_string(),
            known: self.lab.nodes.iter().map(|n| n.name.clone()).collect(),
        })
    }

    /// A session to `node` as the lab user with its pinned host key: every command's way in.
    pub async fn session(&self, keys: &Keys, node: &Node, timeout: Duration) -> Result<Session> {
        let t = self.provider.target(&self.lab, &self.sd, keys, node)?;
        Session::connect(&t, timeout).await
    }

    /// The keys of a lab built here (never creates any).
    pub fn keys(&self) -> Result<Keys> {
        let client = self.sd.client_key(&self.lab)?;
        let hosts = self.provider.known_host_keys(&self.lab, &self.sd)?;
        Ok(Keys { client, hosts })
    }

    /// One SSH session per node, opened in parallel; the nodes that could not be reached, with
    /// why and how long it took.
    pub fn connect_all(&self, keys: &Keys, timeout: Duration) -> Result<Connected> {
        let rt = self.rt()?;
        let attempts = rt.block_on(futures_util::future::join_all(self.lab.nodes.iter().map(|n| async move {
            let start = Instant::now();
            let r = self.session(keys, n, timeout).await;
            (n.name.clone(), r, start.elapsed().as_secs_f64())
        })));
        let mut sessions = HashMap::new();
        let mut errors = HashMap::new();
        for (name, r, secs) in attempts {
            match r {
                Ok(s) => {
                    sessions.insert(name, Arc::new(s));
                }
                Err(e) => {
                    errors.insert(name, (e.to_string(), secs));
                }
            }
        }
        Ok((sessions, errors))
    }

    /// Closes sessions opened by `connect_all`.
    pub fn close(&self, sessions: HashMap<String, Arc<Session>>) {
        if let Ok(rt) = self.rt() {
            rt.block_on(async {
                for (_, s) in sessions {
                    if let Ok(s) = Arc::try_unwrap(s) {
                        s.close().await;
                    }
                }
            });
        }
    }
}
