//! Runs one command: finds and loads the lab file, then does the command's work.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use serde_json::json;

use crate::cli::{Cli, Command};
use crate::error::{Error, Result};
use crate::spec::{self, HostFacts, Lab, Provider};
use crate::state::{STATE_VERSION, State, StateDir};
use crate::ui::Printer;
use crate::{kickstart, plan, sandbox, templates};

pub const LAB_FILE: &str = "lab.yaml";

pub fn run(cli: Cli, printer: &Printer) -> Result<()> {
    let g = cli.global.clone();
    match cli.command {
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "lab", &mut std::io::stdout());
            Ok(())
        }
        Command::Init { template, force, list } => init(g.file.as_deref(), &template, force, list, printer),
        Command::Validate => validate(&load(g.file.as_deref())?, printer),
        Command::Up { dry_run, no_provision, accept_host_keys } => up(&load(g.file.as_deref())?, dry_run, !no_provision, accept_host_keys, printer),
        Command::Kickstart { node, iso } => kickstart_cmd(&load(g.file.as_deref())?, &node, iso.as_deref(), printer),
        Command::SshConfig => ssh_config(&load(g.file.as_deref())?, printer),
        Command::Destroy { yes } => destroy(&load(g.file.as_deref())?, yes, printer),
        Command::Ssh { node, command } => ssh(&load(g.file.as_deref())?, &node, &command),
        Command::Verify => verify(&load(g.file.as_deref())?, printer),
        Command::Status => status(&load(g.file.as_deref())?, printer),
        Command::Halt => halt(&load(g.file.as_deref())?, printer),
        Command::Fetch => fetch(&load(g.file.as_deref())?, printer),
        Command::Provision => provision_cmd(&load(g.file.as_deref())?, printer),
    }
}

pub fn provider_name(p: Provider) -> &'static str {
    match p {
        Provider::Virtualbox => "virtualbox",
        Provider::Sandbox => "sandbox",
        Provider::Existing => "existing",
    }
}

/// The lab file: `-f PATH`, else `lab.yaml` in the current folder or the nearest one above it
/// (as Vagrant finds its Vagrantfile).
pub fn find_lab_file(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        if !p.is_file() {
            return Err(Error::Usage(format!("{} does not exist or is not a file", p.display())));
        }
        return absolute(p);
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

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::io(format!("resolving {}", p.display()), e))
}

/// Finds, reads and validates the lab file.
pub fn load(explicit: Option<&Path>) -> Result<Lab> {
    let file = find_lab_file(explicit)?;
    // Report the path as the user would write it, relative to the current folder when possible.
    let shown = std::env::current_dir().ok().and_then(|cwd| file.strip_prefix(&cwd).ok().map(Path::to_path_buf)).unwrap_or_else(|| file.clone());
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
    let mut lab = spec::parse(&shown, &text, &HostFacts::read()).map_err(|diagnostics| Error::Spec { file: shown.clone(), diagnostics })?;
    lab.file = file;
    Ok(lab)
}

fn node_of<'l>(lab: &'l Lab, name: &str) -> Result<&'l spec::Node> {
    lab.node(name).ok_or_else(|| Error::UnknownNode {
        lab: lab.name.clone(),
        name: name.to_string(),
        known: lab.nodes.iter().map(|n| n.name.clone()).collect(),
    })
}

fn validate(lab: &Lab, printer: &Printer) -> Result<()> {
    let nodes: Vec<_> = lab.nodes.iter().map(|n| json!({
        "name": n.name, "role": format!("{:?}", n.role).to_lowercase(), "ip": n.ip.to_string(),
        "cpus": n.cpus, "memory_mib": n.memory_mib, "disk_gib": n.disk_gib,
    })).collect();
    if printer.is_json() {
        printer.json(&json!({
            "valid": true,
            "file": lab.file.display().to_string(),
            "name": lab.name,
            "provider": provider_name(lab.provider),
            "image": lab.image.as_ref().map(|i| i.name.clone()),
            "network": lab.network.cidr.to_string(),
            "host": lab.network.host.to_string(),
            "user": lab.user,
            "nodes": nodes,
            "java": lab.java.version,
            "spark": lab.spark.version.to_string(),
        }));
        return Ok(());
    }
    let image = lab.image.as_ref().map(|i| format!(", image {}", i.name)).unwrap_or_default();
    printer.out(&format!(
        "{}: ok: lab {:?}, provider {}{image}, {} nodes ({}), Java {}, Spark {}",
        lab.file.display(),
        lab.name,
        provider_name(lab.provider),
        lab.nodes.len(),
        lab.nodes.iter().map(|n| format!("{} {}", n.name, n.ip)).collect::<Vec<_>>().join(", "),
        lab.java.version,
        lab.spark.version,
    ));
    Ok(())
}

fn init(explicit: Option<&Path>, template: &str, force: bool, list: bool, printer: &Printer) -> Result<()> {
    if list {
        for t in templates::ALL {
            printer.out(&format!("{:<12} {}", t.name, t.summary));
        }
        return Ok(());
    }
    let t = templates::find(template).ok_or_else(|| Error::UnknownTemplate {
        name: template.to_string(),
        known: templates::ALL.iter().map(|t| t.name.to_string()).collect(),
    })?;
    let target = explicit.map_or_else(|| PathBuf::from(LAB_FILE), Path::to_path_buf);
    if target.exists() && !force {
        return Err(Error::Exists { file: target });
    }
    std::fs::write(&target, t.text).map_err(|e| Error::io(format!("writing {}", target.display()), e))?;
    printer.info(&format!("wrote {} from the {} template ({})", target.display(), t.name, t.summary));
    printer.info("next: read it, then `lab validate` and `lab up`");
    Ok(())
}

fn up(lab: &Lab, dry_run: bool, provision: bool, accept_host_keys: bool, printer: &Printer) -> Result<()> {
    let steps = plan::up(lab, provision);
    if dry_run {
        if printer.is_json() {
            printer.json(&json!(steps.iter().map(|s| json!({"target": s.target, "step": s.name, "goal": s.goal})).collect::<Vec<_>>()));
        } else {
            printer.out(&plan::render(&steps));
        }
        return Ok(());
    }
    if lab.provider == Provider::Sandbox {
        sandbox::preflight(lab)?;
    }
    let sd = StateDir::for_lab(lab);
    let _lock = sd.lock("up")?;
    let (_, mut keys) = prepare_state(lab, &sd, printer)?;
    if lab.provider == Provider::Virtualbox {
        // Before any download: is VirtualBox there and usable?
        crate::vbox::driver::Driver::detect()?;
    }
    let rt = runtime()?;
    // Downloads first: a bad URL or checksum fails before anything is created.
    let artifacts = if provision { Some(rt.block_on(download_artifacts(lab, printer))?) } else { None };
    match lab.provider {
        Provider::Sandbox => sandbox::up(lab, &sd, &keys, printer)?,
        Provider::Existing => {
            record_created(&sd, rt.block_on(crate::existing::up(lab, &sd, accept_host_keys, printer))?)?;
            keys = sd.ensure_keys(lab)?; // now with the recorded host keys
        }
        Provider::Virtualbox => {
            let img = lab.image.as_ref().ok_or_else(|| Error::Other("no image".into()))?;
            let iso = rt.block_on(async {
                let dl = crate::download::Downloader::new(printer)?;
                dl.fetch(&img.iso).await
            })?;
            record_created(&sd, crate::vbox::up(lab, &sd, &keys, &iso, printer)?)?;
        }
    }
    let Some(artifacts) = artifacts else {
        printer.info(&format!("lab {:?}: every node answers SSH ({} nodes); not provisioned (--no-provision)", lab.name, lab.nodes.len()));
        return Ok(());
    };
    rt.block_on(provision_nodes(lab, &sd, &keys, &artifacts, printer, std::time::Duration::from_secs(60)))?;
    summary(lab, printer);
    Ok(())
}

fn verify(lab: &Lab, printer: &Printer) -> Result<()> {
    let sd = StateDir::for_lab(lab);
    let keys = existing_keys(lab, &sd)?;
    let rt = runtime()?;
    let checks = rt.block_on(async {
        let mut sessions = std::collections::HashMap::new();
        let mut errors = std::collections::HashMap::new();
        let attempts = futures_util::future::join_all(lab.nodes.iter().map(|n| async {
            let start = std::time::Instant::now();
            let r = match crate::remote::Target::for_node(lab, &keys, n) {
                Ok(t) => crate::remote::Session::connect(&t, std::time::Duration::from_secs(10)).await,
                Err(e) => Err(e),
            };
            (n.name.clone(), r, start.elapsed().as_secs_f64())
        }))
        .await;
        for (name, r, secs) in attempts {
            match r {
                Ok(s) => {
                    sessions.insert(name, s);
                }
                Err(e) => {
                    errors.insert(name, (e.to_string(), secs));
                }
            }
        }
        let checks = crate::verify::run(lab, &sessions, &errors).await;
        for (_, s) in sessions {
            s.close().await;
        }
        checks
    });
    let failed: Vec<&crate::verify::Check> = checks.iter().filter(|c| !c.ok).collect();
    if printer.is_json() {
        printer.json(&json!({ "lab": lab.name, "ok": failed.is_empty(), "checks": checks }));
    } else {
        let mut out = String::new();
        for c in &checks {
            let evidence = c.evidence.replace('\n', "\n      ");
            out.push_str(&format!("{} {:<11} {:<14} {:>5.1}s  {}\n", if c.ok { "PASS" } else { "FAIL" }, c.check, c.node, c.seconds, evidence));
        }
        if failed.is_empty() {
            out.push_str(&format!("lab verify: all {} checks passed", checks.len()));
        } else {
            out.push_str(&format!("lab verify: {} of {} checks failed", failed.len(), checks.len()));
        }
        printer.out(&out);
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::VerifyFailed { failed: failed.len(), total: checks.len(), names: failed.iter().map(|c| format!("{} on {}", c.check, c.node)).collect() })
    }
}

fn summary(lab: &Lab, printer: &Printer) {
    let m = lab.master();
    printer.info(&format!(
        "lab {:?} is up: Spark master spark://{}:{} (web UI http://{}:{}), {} workers. Next: `lab verify`",
        lab.name,
        m.name,
        crate::provision::MASTER_PORT,
        m.ip,
        crate::provision::MASTER_UI_PORT,
        lab.workers().count()
    ));
}

fn fetch(lab: &Lab, printer: &Printer) -> Result<()> {
    let rt = runtime()?;
    let paths = rt.block_on(async {
        let dl = crate::download::Downloader::new(printer)?;
        let mut wanted = Vec::new();
        if let Some(img) = &lab.image {
            wanted.push(("ISO", img.iso.clone()));
        }
        if let spec::JavaInstall::Tarball(a) = &lab.java.install {
            wanted.push(("JDK", a.clone()));
        }
        wanted.push(("Spark", lab.spark.artifact.clone()));
        let mut paths = Vec::new();
        for (what, a) in wanted {
            let p = dl.fetch(&a).await?;
            paths.push((what, a.url.clone(), p));
        }
        Ok::<_, Error>(paths)
    })?;
    if printer.is_json() {
        printer.json(&json!(paths.iter().map(|(w, u, p)| json!({"artifact": w, "url": u, "path": p.display().to_string()})).collect::<Vec<_>>()));
    } else {
        for (what, url, path) in &paths {
            printer.out(&format!("{what:<6} {}  ({url})", path.display()));
        }
    }
    Ok(())
}

async fn download_artifacts(lab: &Lab, printer: &Printer) -> Result<crate::provision::Artifacts> {
    let dl = crate::download::Downloader::new(printer)?;
    let task = printer.task("host: downloads (verified, cached)");
    let spark = dl.fetch(&lab.spark.artifact).await?;
    let jdk = match &lab.java.install {
        spec::JavaInstall::Tarball(a) => Some(dl.fetch(a).await?),
        spec::JavaInstall::Package => None,
    };
    task.finish("ready");
    Ok(crate::provision::Artifacts { spark, jdk })
}

/// One SSH session per node, opened in parallel, waiting for nodes that are still starting.
pub async fn connect_all(lab: &Lab, keys: &crate::state::Keys, wait: std::time::Duration) -> Result<std::collections::HashMap<String, crate::remote::Session>> {
    let deadline = std::time::Instant::now() + wait;
    let targets = lab.nodes.iter().map(|n| crate::remote::Target::for_node(lab, keys, n)).collect::<Result<Vec<_>>>()?;
    let sessions = futures_util::future::join_all(targets.iter().map(|t| crate::remote::Session::wait(t, deadline))).await;
    let mut map = std::collections::HashMap::new();
    for (t, s) in targets.iter().zip(sessions) {
        map.insert(t.node.clone(), s?);
    }
    Ok(map)
}

async fn provision_nodes(
    lab: &Lab,
    sd: &StateDir,
    keys: &crate::state::Keys,
    artifacts: &crate::provision::Artifacts,
    printer: &Printer,
    wait: std::time::Duration,
) -> Result<()> {
    let sessions = connect_all(lab, keys, wait).await?;
    let mut state = sd.load()?.unwrap_or_else(|| State { version: STATE_VERSION, lab: lab.name.clone(), provider: provider_name(lab.provider).into(), ..State::default() });
    let recorded = state.nodes.iter().map(|(k, v)| (k.clone(), v.steps.clone())).collect();
    let p = crate::provision::Provisioner { lab, keys, sessions: &sessions, artifacts, reporter: printer, recorded };
    let result = p.run().await;
    if let Ok(fps) = &result {
        let before = state.clone();
        for (node, steps) in fps {
            let entry = state.nodes.entry(node.clone()).or_default();
            if let Some(n) = lab.node(node) {
                entry.ip = n.ip.to_string();
            }
            entry.steps.extend(steps.clone());
        }
        if state != before {
            sd.save(&state)?;
        }
    }
    for (_, s) in sessions {
        s.close().await;
    }
    result.map(drop)
}

fn provision_cmd(lab: &Lab, printer: &Printer) -> Result<()> {
    let sd = StateDir::for_lab(lab);
    let keys = existing_keys(lab, &sd)?;
    let _lock = sd.lock("provision")?;
    let rt = runtime()?;
    let artifacts = rt.block_on(download_artifacts(lab, printer))?;
    rt.block_on(provision_nodes(lab, &sd, &keys, &artifacts, printer, std::time::Duration::from_secs(10)))?;
    summary(lab, printer);
    Ok(())
}

fn halt(lab: &Lab, printer: &Printer) -> Result<()> {
    let sd = StateDir::for_lab(lab);
    match lab.provider {
        Provider::Sandbox => {
            sandbox::preflight(lab)?;
            let _lock = sd.lock("halt")?;
            sandbox::halt(lab, &sd, printer)?;
            printer.info(&format!("lab {:?}: halted; disks kept (`lab up` starts it again)", lab.name));
            Ok(())
        }
        Provider::Virtualbox => {
            let _lock = sd.lock("halt")?;
            crate::vbox::halt(lab, printer)?;
            printer.info(&format!("lab {:?}: halted; disks kept (`lab up` starts it again)", lab.name));
            Ok(())
        }
        Provider::Existing => Err(Error::Usage("existing machines are not lab's to halt; `lab destroy` removes what lab installed".into())),
    }
}

fn status(lab: &Lab, printer: &Printer) -> Result<()> {
    let sd = StateDir::for_lab(lab);
    // What the provider sees; then, for every node, SSH with the pinned key and the daemon.
    let provider_state: Vec<(String, String)> = match lab.provider {
        Provider::Sandbox => sandbox::status(lab, &sd).into_iter().map(|n| (n.name, n.state.to_string())).collect(),
        Provider::Existing => lab.nodes.iter().map(|n| (n.name.clone(), "existing".to_string())).collect(),
        Provider::Virtualbox => crate::vbox::status(lab)?,
    };
    let keys = if sd.client_key_path().exists() { Some(sd.ensure_keys(lab)?) } else { None };
    let rt = runtime()?;
    let probes = rt.block_on(futures_util::future::join_all(lab.nodes.iter().map(|n| {
        let keys = keys.as_ref();
        let running = provider_state.iter().any(|(name, st)| name == &n.name && (st == "running" || st == "existing"));
        async move {
            let Some(keys) = keys.filter(|_| running) else { return (false, None) };
            let Ok(t) = crate::remote::Target::for_node(lab, keys, n) else { return (false, None) };
            let Ok(s) = crate::remote::Session::connect(&t, std::time::Duration::from_secs(3)).await else { return (false, None) };
            let class = if n.role == spec::Role::Master { "org.apache.spark.deploy.master.Master" } else { "org.apache.spark.deploy.worker.Worker" };
            let daemon = s.exec(&format!("[ -x /opt/spark/sbin/spark-daemon.sh ] || exit 3; cd /opt/spark && sbin/spark-daemon.sh status {class} 1")).await.ok().map(|o| o.status);
            s.close().await;
            (true, daemon)
        }
    })));
    let master = lab.master();
    let ui = format!("http://{}:{}", master.ip, crate::provision::MASTER_UI_PORT);
    let spark_word = |d: Option<u32>, role: spec::Role| match (d, role) {
        (Some(0), spec::Role::Master) => "Master running",
        (Some(0), spec::Role::Worker) => "Worker running",
        (Some(3), _) => "not installed",
        (Some(_), _) => "stopped",
        (None, _) => "-",
    };
    if printer.is_json() {
        printer.json(&json!({
            "lab": lab.name,
            "provider": provider_name(lab.provider),
            "master_ui": ui,
            "nodes": lab.nodes.iter().zip(&probes).map(|(n, (ssh, d))| json!({
                "name": n.name, "ip": n.ip.to_string(),
                "state": provider_state.iter().find(|(name, _)| name == &n.name).map(|(_, s)| s.clone()),
                "ssh": ssh, "spark": d.map(|c| c == 0),
            })).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    let mut out = format!("{:<12} {:<15} {:<12} {:<5} {}\n", "NODE", "ADDRESS", "STATE", "SSH", "SPARK");
    for (n, (ssh, d)) in lab.nodes.iter().zip(&probes) {
        let st = provider_state.iter().find(|(name, _)| name == &n.name).map_or("?", |(_, s)| s.as_str());
        out.push_str(&format!("{:<12} {:<15} {:<12} {:<5} {}\n", n.name, n.ip, st, if *ssh { "yes" } else { "no" }, spark_word(*d, n.role)));
    }
    out.push_str(&format!("master web UI: {ui}"));
    printer.out(&out);
    Ok(())
}

/// A lab is built, changed and destroyed by one provider.
fn same_provider(lab: &Lab, state: &State) -> Result<()> {
    if state.provider == provider_name(lab.provider) {
        return Ok(());
    }
    Err(Error::Other(format!(
        "lab {:?} was built with the {} provider; the lab file now says {}. Destroy it with the lab file it was built with, then build it anew",
        lab.name,
        state.provider,
        provider_name(lab.provider)
    )))
}

/// Adds what a provider created to the state's record of it.
fn record_created(sd: &StateDir, created: std::collections::BTreeMap<String, String>) -> Result<()> {
    let mut state = sd.load()?.unwrap_or_default();
    let before = state.clone();
    state.resources.extend(created);
    if state != before {
        sd.save(&state)?;
    }
    Ok(())
}

/// The provider-independent part of every lab: the state folder, its keys and the state file.
fn prepare_state(lab: &Lab, sd: &StateDir, printer: &Printer) -> Result<(State, crate::state::Keys)> {
    let task = printer.task(&format!("host: state in {}", sd.path().display()));
    let keys = sd.ensure_keys(lab)?;
    let state = match sd.load()? {
        Some(s) => s,
        None => {
            let s = State { version: STATE_VERSION, lab: lab.name.clone(), provider: provider_name(lab.provider).into(), ..State::default() };
            sd.save(&s)?;
            s
        }
    };
    same_provider(lab, &state)?;
    task.finish("ready");
    Ok((state, keys))
}

fn kickstart_cmd(lab: &Lab, node: &str, iso: Option<&Path>, printer: &Printer) -> Result<()> {
    let node = node_of(lab, node)?.clone();
    if lab.image.is_none() {
        return Err(Error::Usage(format!(
            "lab {:?} uses the {} provider: kickstarts are made only for virtualbox labs, whose VMs install an OS",
            lab.name,
            provider_name(lab.provider)
        )));
    }
    let sd = StateDir::for_lab(lab);
    let keys = {
        let _lock = sd.lock("kickstart")?;
        sd.ensure_keys(lab)?
    };
    let text = kickstart::render(lab, &node, &keys).map_err(Error::Other)?;
    if let Some(path) = iso {
        let image = kickstart::oemdrv::build(text.as_bytes(), kickstart::oemdrv::Timestamp::now()).map_err(Error::Other)?;
        crate::state::write_atomic(path, &image, 0o644)?;
        printer.info(&format!("wrote {} ({} bytes, label OEMDRV, ks.cfg at its root)", path.display(), image.len()));
    }
    printer.out(&text);
    Ok(())
}

/// The lab's keys, for commands that need a built lab (they never create keys).
fn existing_keys(lab: &Lab, sd: &StateDir) -> Result<crate::state::Keys> {
    if !sd.client_key_path().exists() {
        return Err(Error::Other(format!("lab {:?} has not been built here: run `lab up` first", lab.name)));
    }
    sd.ensure_keys(lab)
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the async runtime", e))
}

fn ssh(lab: &Lab, node: &str, command: &[String]) -> Result<()> {
    let n = node_of(lab, node)?.clone();
    let sd = StateDir::for_lab(lab);
    let keys = existing_keys(lab, &sd)?;
    let target = crate::remote::Target::for_node(lab, &keys, &n)?;
    let rt = runtime()?;
    let status = rt.block_on(async {
        let session = crate::remote::Session::connect(&target, std::time::Duration::from_secs(10)).await?;
        let status = if command.is_empty() {
            crate::remote::interactive::shell(&session).await?
        } else {
            crate::remote::interactive::run(&session, &crate::remote::interactive::command_line(command)).await?
        };
        session.close().await;
        Ok::<u32, Error>(status)
    })?;
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    crate::report_peak_memory();
    // The remote command's status is lab's status (255 when it ended by a signal).
    std::process::exit(i32::try_from(status).unwrap_or(255));
}

fn ssh_config(lab: &Lab, printer: &Printer) -> Result<()> {
    let sd = StateDir::for_lab(lab);
    if !sd.client_key_path().exists() {
        return Err(Error::Other(format!("lab {:?} has no keys yet: run `lab up` first", lab.name)));
    }
    let mut out = String::new();
    for n in &lab.nodes {
        out.push_str(&format!(
            "Host lab-{lab}-{node}\n  HostName {ip}\n  User {user}\n  IdentityFile {key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {known}\n  StrictHostKeyChecking yes\n  HostKeyAlias {node}\n\n",
            lab = lab.name,
            node = n.name,
            ip = n.ip,
            user = lab.user,
            key = sd.client_key_path().display(),
            known = sd.known_hosts_path().display(),
        ));
    }
    printer.out(out.trim_end());
    Ok(())
}

fn destroy(lab: &Lab, yes: bool, printer: &Printer) -> Result<()> {
    let sd = StateDir::for_lab(lab);
    // The state folder may be gone while namespaces remain: look at what exists too.
    let leftovers = lab.provider == Provider::Sandbox && sandbox::has_leftovers(lab, &sd);
    if !sd.exists() && !leftovers {
        printer.info(&format!("lab {:?}: nothing to destroy", lab.name));
        return Ok(());
    }
    if lab.provider == Provider::Sandbox {
        sandbox::preflight(lab)?;
    }
    let _lock = sd.lock("destroy")?;
    let state = sd.load()?;
    if let Some(s) = &state {
        same_provider(lab, s)?;
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::Usage("lab destroy asks for confirmation; pass --yes when there is no terminal".into()));
        }
        eprint!("Destroy lab {:?} (remove {})? [y/N] ", lab.name, sd.path().display());
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).map_err(|e| Error::io("reading the answer", e))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            printer.info("nothing removed");
            return Ok(());
        }
    }
    match lab.provider {
        Provider::Sandbox => sandbox::destroy(lab, &sd, printer)?,
        Provider::Existing => {
            let created = state.as_ref().map(|s| s.resources.clone()).unwrap_or_default();
            runtime()?.block_on(crate::existing::destroy(lab, &sd, &created, printer))?;
        }
        Provider::Virtualbox => {
            let created = state.as_ref().map(|s| s.resources.clone()).unwrap_or_default();
            crate::vbox::destroy(lab, &sd, &created, printer)?;
        }
    }
    sd.remove()?;
    printer.info(&format!("lab {:?}: removed {}", lab.name, sd.path().display()));
    Ok(())
}
