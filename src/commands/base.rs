//! `lab base list|rm|prune`: the base images lab keeps for every lab on this computer (the OS
//! installed once; each VirtualBox node is a linked clone of one).

use std::sync::Arc;

use serde_json::json;

use crate::cli::BaseCmd;
use crate::error::{Error, Result};
use crate::provider::virtualbox::base;
use crate::provider::virtualbox::driver::Driver;
use crate::ui::Printer;

fn mib(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let m = bytes as f64 / 1_048_576.0;
    if m >= 1024.0 { format!("{:.1} GiB", m / 1024.0) } else { format!("{m:.0} MiB") }
}

fn remove(d: &Driver, printer: &Printer, name: &str) -> Result<()> {
    let users = base::users(name);
    if !users.is_empty() {
        let labs: Vec<String> = users.iter().map(|u| format!("{} ({})", u.lab, u.state.trim_start_matches("lab:"))).collect();
        return Err(Error::Preflight {
            problem: format!("base {name} is used by {}", labs.join(", ")),
            fix: "`lab destroy` those labs first; a base goes only when no lab uses it".into(),
        });
    }
    let network = base::remove(d, name)?;
    printer.info(&format!("base {name} removed"));
    if let Some(n) = network {
        printer.info(&n);
    }
    Ok(())
}

pub fn run(printer: &Printer, cmd: &BaseCmd) -> Result<i32> {
    let records = base::records();
    match cmd {
        BaseCmd::List => {
            let rows: Vec<(base::Record, u64, Vec<base::User>)> = records.into_iter().map(|r| (r.clone(), base::size(&r.name), base::users(&r.name))).collect();
            if printer.is_json() {
                printer.json(&json!(rows
                    .iter()
                    .map(|(r, size, users)| json!({"name": r.name, "image": r.image, "arch": r.arch, "size_bytes": size, "labs": users.iter().map(|u| json!({"lab": u.lab, "folder": u.state.trim_start_matches("lab:")})).collect::<Vec<_>>()}))
                    .collect::<Vec<_>>()));
            } else if rows.is_empty() {
                printer.info("no base images yet (`lab up` makes one the first time a lab needs it)");
            } else {
                let mut out = format!("{:<48} {:<18} {:<8} {:>9}  LABS\n", "NAME", "IMAGE", "ARCH", "SIZE");
                for (r, size, users) in &rows {
                    let labs = if users.is_empty() {
                        "none (`lab base prune` removes it)".to_string()
                    } else {
                        users.iter().map(|u| u.lab.clone()).collect::<Vec<_>>().join(", ")
                    };
                    out.push_str(&format!("{:<48} {:<18} {:<8} {:>9}  {labs}\n", r.name, r.image, r.arch, mib(*size)));
                }
                printer.out(out.trim_end());
            }
        }
        BaseCmd::Rm { name } => {
            if !records.iter().any(|r| &r.name == name) {
                return Err(Error::Usage(format!("no base named {name:?}; `lab base list` shows them")));
            }
            let d = Driver::detect(Arc::new(crate::proc::System))?;
            remove(&d, printer, name)?;
        }
        BaseCmd::Export { name, file } => {
            let d = Driver::detect(Arc::new(crate::proc::System))?;
            let (sha256, size) = base::export(&d, name, file, &|m| printer.info(m))?;
            if printer.is_json() {
                printer.json(&json!({"name": name, "file": file.display().to_string(), "sha256": sha256, "size_bytes": size}));
            } else {
                printer.out(&format!(
                    "{}  {}  sha256 {sha256}\n`lab base import {}` on another computer of the same architecture",
                    file.display(),
                    mib(size),
                    file.display()
                ));
            }
        }
        BaseCmd::Import { file } => {
            let d = Driver::detect(Arc::new(crate::proc::System))?;
            let (name, new) = base::import(&d, file, &|m| printer.info(m))?;
            if printer.is_json() {
                printer.json(&json!({"name": name, "imported": new}));
            } else if new {
                printer.out(&format!("base {name} imported; `lab up` of a lab with this base clones it (no ISO, no install)"));
            } else {
                printer.out(&format!("base {name} is here already"));
            }
        }
        BaseCmd::Prune => {
            let unused: Vec<&base::Record> = records.iter().filter(|r| base::users(&r.name).is_empty()).collect();
            if unused.is_empty() {
                printer.info("every base is used by a lab; nothing to remove");
                return Ok(0);
            }
            let d = Driver::detect(Arc::new(crate::proc::System))?;
            for r in unused {
                remove(&d, printer, &r.name)?;
            }
        }
    }
    Ok(0)
}
