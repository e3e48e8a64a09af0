//! `lab status`: each node as its provider sees it now, whether it answers SSH with its pinned
//! key, and its Spark daemon; the master's web UI. Observed, never remembered.

use std::time::Duration;

use serde_json::json;

use super::LabCx;
use crate::error::Result;
use crate::spark::{self, Daemon};

/// Logs in to node `n` and asks about its Spark daemon: whether it answered SSH, and the exit
/// code of [`spark::status`] (0 running, 3 not installed, else stopped).
pub(super) async fn probe(cx: &LabCx<'_>, keys: &crate::state::Keys, n: &crate::spec::Node) -> (bool, Option<u32>) {
    let Ok(s) = cx.session(keys, n, Duration::from_secs(3)).await else { return (false, None) };
    let daemon = s.exec(&spark::status(Daemon::of(n), &cx.lab.user)).await.ok().map(|o| o.status);
    s.close().await;
    (true, daemon)
}

pub fn run(cx: &LabCx<'_>) -> Result<i32> {
    let lab = &cx.lab;
    cx.provider.available(lab)?;
    let machines = cx.provider.status(lab, &cx.sd)?;
    let keys = cx.keys().ok();
    let rt = cx.rt()?;
    let probes: Vec<(bool, Option<u32>)> = rt.block_on(futures_util::future::join_all(lab.nodes.iter().map(|n| {
        let keys = keys.as_ref();
        let reachable = machines.iter().any(|m| m.node == n.name && m.reachable);
        async move {
            match keys.filter(|_| reachable) {
                Some(keys) => probe(cx, keys, n).await,
                None => (false, None),
            }
        }
    })));
    let ui = spark::master_ui(lab);
    let word = |d: Option<u32>, n: &crate::spec::Node| match d {
        Some(0) => format!("{} running", Daemon::of(n).short()),
        Some(3) => "not installed".to_string(),
        Some(_) => "stopped".to_string(),
        None => "-".to_string(),
    };
    let state_of = |name: &str| machines.iter().find(|m| m.node == name).map_or_else(|| "?".to_string(), |m| m.state.word().to_string());
    if cx.printer.is_json() {
        cx.printer.json(&json!({
            "lab": lab.name,
            "provider": lab.provider.name(),
            "master_ui": ui,
            "nodes": lab.nodes.iter().zip(&probes).map(|(n, (ssh, d))| json!({
                "name": n.name, "ip": n.ip.to_string(), "state": state_of(&n.name), "ssh": ssh, "spark": d.map(|c| c == 0),
            })).collect::<Vec<_>>(),
        }));
        return Ok(0);
    }
    let mut out = format!("{:<12} {:<15} {:<12} {:<5} {}\n", "NODE", "ADDRESS", "STATE", "SSH", "SPARK");
    for (n, (ssh, d)) in lab.nodes.iter().zip(&probes) {
        out.push_str(&format!("{:<12} {:<15} {:<12} {:<5} {}\n", n.name, n.ip, state_of(&n.name), if *ssh { "yes" } else { "no" }, word(*d, n)));
    }
    out.push_str(&format!("master web UI: {ui}"));
    cx.printer.out(&out);
    Ok(0)
}
