//! `lab status`: each node as its provider sees it now, whether it answers SSH with its pinned
//! key, and its Spark daemons; the addresses to use (the master's web UI, Spark Connect's
//! `sc://`, the history server). Observed, never remembered.

use std::time::Duration;

use serde_json::json;

use super::LabCx;
use crate::error::Result;
use crate::spark::{self, Daemon};

/// Whether a node answered SSH, and each of its daemons' status code.
pub(super) type Probe = (bool, Vec<(Daemon, Option<u32>)>);

/// Logs in to node `n` and asks about its Spark daemons: whether it answered SSH, and for each
/// daemon the exit code of [`spark::status`] (0 running, 3 not installed, else stopped).
pub(super) async fn probe(cx: &LabCx<'_>, keys: &crate::state::Keys, n: &crate::spec::Node) -> Probe {
    let daemons = spark::daemons(&cx.lab, n);
    let Ok(s) = cx.session(keys, n, Duration::from_secs(3)).await else { return (false, daemons.into_iter().map(|d| (d, None)).collect()) };
    let mut found = Vec::new();
    for d in daemons {
        found.push((d, s.exec(&spark::status(d)).await.ok().map(|o| o.status)));
    }
    s.close().await;
    (true, found)
}

/// What stands for a UI's address when this computer is not on the lab network.
pub const THROUGH_FORWARD: &str = "through `lab ui --forward` (this computer is not on the lab network)";

pub fn run(cx: &LabCx<'_>) -> Result<i32> {
    let lab = &cx.lab;
    cx.provider.available(lab)?;
    let machines = cx.provider.status(lab, &cx.sd)?;
    let keys = cx.keys().ok();
    let rt = cx.rt()?;
    let probes: Vec<Probe> = rt.block_on(futures_util::future::join_all(lab.nodes.iter().map(|n| {
        let keys = keys.as_ref();
        let reachable = machines.iter().any(|m| m.node == n.name && m.reachable);
        async move {
            match keys.filter(|_| reachable) {
                Some(keys) => probe(cx, keys, n).await,
                None => (false, spark::daemons(lab, n).into_iter().map(|d| (d, None)).collect()),
            }
        }
    })));
    // Off the lab network (the qemu provider without root), the UIs are reached through
    // `lab ui --forward`: no address of theirs opens from this computer.
    let direct = cx.provider.reaches_nodes(lab, &cx.sd);
    let ui = direct.then(|| spark::master_ui(lab));
    let word = |d: Daemon, code: Option<u32>| match code {
        Some(0) => format!("{} running", d.short()),
        Some(3) => "not installed".to_string(),
        Some(_) => format!("{} stopped", d.short()),
        None => "-".to_string(),
    };
    let words = |ds: &[(Daemon, Option<u32>)]| {
        let mut v: Vec<String> = ds.iter().map(|(d, c)| word(*d, *c)).collect();
        v.dedup();
        v.join(", ")
    };
    // What a Spark Connect client is given: the local end of `lab ui --forward` (the lab's own
    // port) and the lab's token; a lab not built yet has no token, and status makes nothing.
    let connect = match (&lab.spark.connect, &keys) {
        (Some(c), Some(_)) => Some(spark::connect_client_url(c.port, &cx.sd.connect_token()?)),
        (Some(_), None) => spark::connect_url(lab),
        (None, _) => None,
    };
    let history = spark::history_ui(lab).map(|h| if direct { h } else { THROUGH_FORWARD.to_string() });
    let state_of = |name: &str| machines.iter().find(|m| m.node == name).map_or_else(|| "?".to_string(), |m| m.state.word().to_string());
    let note_of = |name: &str| machines.iter().find(|m| m.node == name).and_then(|m| m.note.clone());
    if cx.printer.is_json() {
        cx.printer.json(&json!({
            "lab": lab.name,
            "provider": lab.provider.name(),
            "master_ui": ui,
            "connect": connect,
            "history_ui": history.as_ref().filter(|_| direct),
            "nodes": lab.nodes.iter().zip(&probes).map(|(n, (ssh, ds))| json!({
                "name": n.name, "ip": n.ip.to_string(), "state": state_of(&n.name), "note": note_of(&n.name), "ssh": ssh,
                "spark": ds.first().and_then(|(_, c)| c.map(|c| c == 0)),
                "daemons": ds.iter().map(|(d, c)| (d.short().to_string(), json!(c.map(|c| c == 0)))).collect::<serde_json::Map<_, _>>(),
            })).collect::<Vec<_>>(),
        }));
        return Ok(0);
    }
    let mut out = format!("{:<12} {:<15} {:<12} {:<5} {}\n", "NODE", "ADDRESS", "STATE", "SSH", "SPARK");
    for (n, (ssh, ds)) in lab.nodes.iter().zip(&probes) {
        out.push_str(&format!("{:<12} {:<15} {:<12} {:<5} {}\n", n.name, n.ip, state_of(&n.name), if *ssh { "yes" } else { "no" }, words(ds)));
    }
    for n in &lab.nodes {
        if let Some(note) = note_of(&n.name) {
            out.push_str(&format!("{}: {note}\n", n.name));
        }
    }
    out.push_str(&format!("master web UI:  {}", ui.as_deref().unwrap_or(THROUGH_FORWARD)));
    if let Some(h) = &history {
        out.push_str(&format!("\nhistory server: {h}"));
    }
    if let Some(c) = &connect {
        out.push_str(&format!(
            "\nSpark Connect:  {c}\n                while `lab ui --forward` runs (PySpark on this computer: SparkSession.builder.remote(\"{c}\"))"
        ));
    }
    cx.printer.out(&out);
    Ok(0)
}
