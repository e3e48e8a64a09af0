//! `lab ui [--open] [--forward]`: the master's and workers' web UIs, the history server and the
//! Spark Connect server: their addresses, the master's UI opened in the browser, or local ports
//! forwarded to them over SSH for machines this computer cannot reach directly.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::LabCx;
use crate::error::{Error, Result};
use crate::spark::{MASTER_UI_PORT, WORKER_UI_PORT};
use crate::spec::Role;

/// Opens `url` in the browser, the way the desktop does.
fn open_url(url: &str) -> Result<()> {
    let mut cmd = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    cmd.arg(url).stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().map_err(|e| Error::io(format!("opening {url} in the browser"), e))?;
    std::thread::spawn(move || child.wait());
    Ok(())
}

pub fn run(cx: &LabCx<'_>, open: bool, forward: bool) -> Result<i32> {
    let lab = &cx.lab;
    // (what, node index, address, port, scheme)
    let m = lab.master();
    let at = |name: &str| lab.nodes.iter().position(|n| n.name == name).unwrap_or(0);
    let mut uis: Vec<(String, usize, std::net::Ipv4Addr, u16, &str)> = lab
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.clone(), i, n.ip, if n.role == Role::Master { MASTER_UI_PORT } else { WORKER_UI_PORT }, "http"))
        .collect();
    if let Some(p) = lab.spark.history_port {
        uis.push(("history".into(), at(&m.name), m.ip, p, "http"));
    }
    if let Some(c) = &lab.spark.connect {
        uis.push(("connect".into(), at(&m.name), m.ip, c.port, "sc"));
    }
    // Spark Connect is reached through lab's SSH (`--forward`), never at the master's address.
    let listed = |u: &&(String, usize, std::net::Ipv4Addr, u16, &str)| u.4 != "sc";
    let direct = cx.provider.reaches_nodes(lab, &cx.sd);
    // The qemu provider without root: the nodes' addresses are on lab's switch, which this
    // computer is not on; `--open` forwards first.
    let forward = forward || (open && !direct);
    if !forward && !direct {
        if cx.printer.is_json() {
            cx.printer.json(&json!({ "master": null, "history_ui": null, "connect": crate::spark::connect_url(lab), "nodes": [] }));
        } else {
            let lines: Vec<String> = uis.iter().map(|(n, _, _, _, _)| format!("{n:<12} {}", super::status::THROUGH_FORWARD)).collect();
            cx.printer.out(&lines.join("\n"));
        }
        return Ok(0);
    }
    if !forward {
        let master = crate::spark::master_ui(lab);
        if cx.printer.is_json() {
            cx.printer.json(&json!({
                "master": master,
                "history_ui": crate::spark::history_ui(lab),
                "connect": crate::spark::connect_url(lab),
                "nodes": uis.iter().filter(|u| u.4 == "http" && u.0 != "history").map(|(n, _, ip, p, _)| json!({"node": n, "url": format!("http://{ip}:{p}")})).collect::<Vec<_>>(),
            }));
        } else {
            let mut lines: Vec<String> = uis.iter().filter(listed).map(|(n, _, ip, p, scheme)| format!("{n:<12} {scheme}://{ip}:{p}")).collect();
            if lab.spark.connect.is_some() {
                lines.push(format!("{:<12} through `lab ui --forward` (on the master's loopback, with the lab's token)", "connect"));
            }
            cx.printer.out(&lines.join("\n"));
        }
        if open {
            open_url(&master)?;
        }
        return Ok(0);
    }
    let keys = cx.keys()?;
    let token = if lab.spark.connect.is_some() { cx.sd.connect_token()? } else { String::new() };
    let rt = cx.rt()?;
    rt.block_on(async {
        let mut sessions = Vec::new();
        for n in &lab.nodes {
            sessions.push(Arc::new(cx.session(&keys, n, Duration::from_secs(10)).await?));
        }
        let mut lines = Vec::new();
        let mut master_local = String::new();
        for (name, node, ip, port, scheme) in &uis {
            let s = sessions[*node].clone();
            if *scheme == "sc" {
                // Spark Connect listens on the master's loopback: its own port here when free,
                // so the client's address stays the same from one day to the next.
                let local = crate::remote::forward::listen(s, *port, "127.0.0.1", *port).await?;
                let url = crate::spark::connect_client_url(local.port(), &token);
                lines.push(format!("{name:<12} {url}  ->  {}'s 127.0.0.1:{port} (over SSH)", m.name));
                continue;
            }
            let local = crate::remote::forward::listen(s, 0, &ip.to_string(), *port).await?;
            let url = format!("{scheme}://{local}");
            if *port == MASTER_UI_PORT && *node == at(&m.name) {
                master_local.clone_from(&url);
            }
            lines.push(format!("{name:<12} {url}  ->  {ip}:{port} (over SSH)"));
        }
        cx.printer.out(&lines.join("\n"));
        cx.printer.info("forwarding until Ctrl-C");
        if open {
            open_url(&master_local)?;
        }
        let _ = tokio::signal::ctrl_c().await;
        Ok::<_, Error>(())
    })?;
    Ok(0)
}
