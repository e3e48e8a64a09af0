//! Ending a node's QEMU: the ACPI power button through QMP (the guest shuts down cleanly), then,
//! past the deadline, QMP's `quit`, then SIGKILL.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::provider::qemu::files::{self, Files, Records};
use crate::provider::qemu::qmp;
use crate::state::StateDir;
use crate::ui::Reporter;

fn pids(sd: &StateDir, node: &str) -> Vec<u32> {
    files::running(sd).into_iter().filter(|p| p.node == node).map(|p| p.pid).collect()
}

fn gone_by(sd: &StateDir, node: &str, deadline: Instant) -> bool {
    loop {
        if pids(sd, node).is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Ends `node`'s QEMU: gracefully within `grace` when `acpi`, else at once. Ok when none runs.
/// Its record says lab stopped it (a QEMU that ends otherwise is reported as stopped on its own).
pub fn stop(sd: &StateDir, node: &str, acpi: Option<Duration>, reporter: &dyn Reporter) -> Result<()> {
    if pids(sd, node).is_empty() {
        return stopped_by_lab(sd, node);
    }
    end(sd, node, acpi, reporter)?;
    stopped_by_lab(sd, node)
}

fn stopped_by_lab(sd: &StateDir, node: &str) -> Result<()> {
    // Nothing to note without a record saying it runs (also: no state file, or a damaged one,
    // which must not stop `destroy`).
    if !Records::up(sd, node) {
        return Ok(());
    }
    Records::update_vm(sd, node, |v| v.up = false)
}

fn end(sd: &StateDir, node: &str, acpi: Option<Duration>, reporter: &dyn Reporter) -> Result<()> {
    let f = Files::new(sd, node);
    if let Some(grace) = acpi {
        reporter.phase(node, "shutting down (ACPI power button)");
        if qmp::execute(&f.qmp, "system_powerdown", Duration::from_secs(5)).is_ok() && gone_by(sd, node, Instant::now() + grace) {
            return Ok(());
        }
        reporter.note(&format!("{node}: the guest did not power off within {} s; ending QEMU", grace.as_secs()));
    }
    let _ = qmp::execute(&f.qmp, "quit", Duration::from_secs(5));
    if gone_by(sd, node, Instant::now() + Duration::from_secs(10)) {
        return Ok(());
    }
    #[cfg(unix)]
    for pid in pids(sd, node) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
    }
    if gone_by(sd, node, Instant::now() + Duration::from_secs(10)) {
        Ok(())
    } else {
        Err(Error::node(node, format!("QEMU (pid {:?}) does not end, even killed", pids(sd, node))))
    }
}
