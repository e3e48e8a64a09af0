//! `lab verify`: every check on every node, one line each (or `--json`); exit 1 when any fails.

use std::time::Duration;

use serde_json::json;

use super::LabCx;
use crate::error::{Error, Result};
use crate::ui::Color;

pub fn run(cx: &LabCx<'_>) -> Result<i32> {
    let lab = &cx.lab;
    let keys = cx.keys()?;
    let (sessions, errors) = cx.connect_all(&keys, Duration::from_secs(10))?;
    let token = if lab.spark.connect.is_some() { cx.sd.connect_token()? } else { String::new() };
    let checks = cx.rt()?.block_on(crate::verify::run(lab, &sessions, &errors, &token, cx.provider.patience(lab), cx.provider.reaches_nodes(lab, &cx.sd)));
    cx.close(sessions);
    let failed: Vec<&crate::verify::Check> = checks.iter().filter(|c| !c.ok).collect();
    let p = cx.printer.paint();
    if cx.printer.is_json() {
        cx.printer.json(&json!({ "lab": lab.name, "ok": failed.is_empty(), "checks": checks }));
    } else {
        let mut out = String::new();
        for c in &checks {
            let evidence = c.evidence.replace('\n', "\n      ");
            let word = if c.ok { p.paint(Color::Green, "PASS") } else { p.paint(Color::Red, "FAIL") };
            out.push_str(&format!("{word} {:<11} {:<14} {:>5.1}s  {}\n", c.check, c.node, c.seconds, evidence));
        }
        if failed.is_empty() {
            out.push_str(&format!("lab verify: all {} checks passed", checks.len()));
        } else {
            out.push_str(&format!("lab verify: {} of {} checks failed", failed.len(), checks.len()));
        }
        cx.printer.out(&out);
    }
    if failed.is_empty() {
        Ok(0)
    } else {
        Err(Error::VerifyFailed { failed: failed.len(), total: checks.len(), names: failed.iter().map(|c| format!("{} on {}", c.check, c.node)).collect() })
    }
}
