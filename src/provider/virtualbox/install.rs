//! The install and the first boot: the installer runs until it powers the VM off (the boot
//! menu's keys typed in time, every VM state handled), the drives are emptied, and the VM is
//! booted from its disk until it answers SSH with the host key lab pinned.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::driver::{Medium, VmState};
use super::observe::{Install, install_state};
use super::records::Records;
use super::{VirtualBox, boot_timeout, clock, install_timeout};
use crate::error::{Error, Result};
use crate::remote::Session;
use crate::spec::{Lab, Node};
use crate::steps::{Cx, Machines};
use crate::ui::Outcome;

/// Up arrow, then Enter: the menus of EL7 (isolinux), EL9 and EL10 (GRUB) list "Install" first
/// and preselect "Test this media & install", below it.
const INSTALL_KEYS: &[&str] = &["e0", "48", "e0", "c8", "1c", "9c"];

/// How long the install DVD's boot menu waits before it takes its default entry.
const BOOT_MENU_TIMEOUT: Duration = Duration::from_secs(60);

/// The file in the VM's folder that its first serial port writes to during the install.
const SERIAL_LOG: &str = "installer-serial.log";

/// Keys typed later than this before the menu's timeout could land after it (in the media
/// check or the installer): lab stops a little before.
fn typed_too_late(elapsed: Duration) -> bool {
    elapsed + Duration::from_secs(3) >= BOOT_MENU_TIMEOUT
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

/// What the installer wrote on the serial port (the kickstart's `%pre` and `%onerror`
/// scripts): that it started, and the installer's last words when it failed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct InstallerReport {
    pub started: bool,
    pub failed: Option<String>,
}

impl InstallerReport {
    pub fn read(path: &Path) -> Self {
        std::fs::read(path).map(|b| Self::parse(&String::from_utf8_lossy(&b))).unwrap_or_default()
    }

    /// A failure counts once its report is complete (`lab-install: end`), so lab shows all of it.
    pub fn parse(text: &str) -> Self {
        let started = text.lines().any(|l| l.trim_end() == "lab-install: started");
        let failed = text.split_once("lab-install: failed").and_then(|(_, rest)| rest.split_once("lab-install: end")).map(|(words, _)| {
            let words: Vec<&str> = words.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect();
            words.join("\n")
        });
        Self { started, failed }
    }
}

/// How long a whole install usually takes, for the display.
const TYPICAL_INSTALL: Duration = Duration::from_secs(8 * 60);

impl VirtualBox {
    /// Runs the installer until it powers the VM off, then empties both DVD drives and boots
    /// from the disk. While the install discs are attached the DVD boots first, so a VM powered
    /// off before lab saw its install end (lab killed, the user's power button) installs again
    /// rather than booting a system lab cannot tell from a half-made one. Installs the OS into
    /// `vm` (a node's, or a base: `who` is what the display names).
    pub(super) fn install(&self, cx: &Cx<'_>, who: &str, vm: &str, disk: &Path, seed: &Path) -> Result<Outcome> {
        let d = self.driver()?;
        let vm = vm.to_string();
        let info = d.vm(&vm)?.ok_or_else(|| Error::node(who, format!("VM {vm} disappeared")))?;
        if install_state(&info, disk, None, seed) == Install::Done {
            // Finish an interrupted eject, and the boot order after it.
            let mut outcome = Outcome::Satisfied;
            for port in [1, 2] {
                if info.port(port) != Medium::Empty {
                    d.attach(&vm, info.arch, port, &Medium::Empty, false)?;
                    outcome = Outcome::Applied;
                }
            }
            if info.boot_first.as_deref().is_some_and(|b| b != "disk") {
                d.boot_from_disk(&vm)?;
                outcome = Outcome::Applied;
            }
            return Ok(outcome);
        }
        let mut start = Instant::now();
        let mut typed = false;
        let mut menu_passed = false;
        // The installer reports on the first serial port (kickstart %pre / %onerror), which
        // VirtualBox writes to this file; a VM made before lab did this gets it now.
        let serial = info.serial_file.clone().unwrap_or_else(|| info.folder().join(SERIAL_LOG));
        if info.serial_file.is_none() && matches!(info.state, VmState::PowerOff | VmState::Aborted) {
            // Best effort: without it a failed install is noticed only at the timeout.
            if let Err(e) = d.serial_to_file(&vm, &serial) {
                cx.reporter.note(&format!("{who}: no serial port for the installer's reports ({e}); a failed install shows only at the timeout"));
            }
        }
        match info.state {
            VmState::Paused => d.resume(&vm)?,
            VmState::PowerOff | VmState::Saved | VmState::Aborted => d.start(&vm)?,
            _ => {
                // Already running (a `lab up` was interrupted): the boot menu may still wait
                // for its keys. VirtualBox says since when the VM runs; the menu's timeout is
                // 60 s, so keys are typed only within it (later they would reach the installer).
                let ran = info.state_since.and_then(|t| std::time::SystemTime::now().duration_since(t).ok());
                match ran {
                    Some(ran) if ran < BOOT_MENU_TIMEOUT.saturating_sub(Duration::from_secs(5)) => {
                        start = Instant::now().checked_sub(ran).unwrap_or(start);
                    }
                    _ => {
                        typed = true;
                        menu_passed = true;
                    }
                }
            }
        }
        let deadline = start + install_timeout();
        let mut keys_at = self.boot_keys_delay;
        let mut started = false;
        loop {
            let info = d.vm(&vm)?.ok_or_else(|| Error::node(who, format!("VM {vm} disappeared")))?;
            let elapsed = start.elapsed();
            match &info.state {
                VmState::PowerOff => break,
                VmState::Aborted | VmState::Stuck => {
                    return Err(Error::node_hint(
                        who,
                        format!("the VM stopped during the install ({}); VirtualBox's log: {}", info.state.word(), info.log().display()),
                        "run `lab up` again: lab makes the VM anew. If it fails again, the log says why (hardware virtualization, memory)",
                    ));
                }
                VmState::Paused => {
                    d.resume(&vm)?;
                }
                _ => {}
            }
            let report = InstallerReport::read(&serial);
            if let Some(words) = report.failed {
                // Lab saw this install fail: the VM is powered off, and the next `lab up`
                // installs again (its discs are still attached).
                let kept = info.log().with_file_name("install-failed.log");
                let _ = std::fs::write(&kept, &words);
                let _ = d.power_off(&vm);
                return Err(Error::node_hint(
                    who,
                    format!("the installer stopped with an error after {}:\n{}", clock(elapsed), indent(&words)),
                    format!(
                        "the installer's words above say why (kept in {}): for missing packages use an image whose ISO carries them (the distribution's DVD) or `install: per-node`; for a mirror that fails, `mirror:` another copy of the distribution's tree or `offline: true` (the image's own ISO); then run `lab up` again, which installs anew",
                        kept.display()
                    ),
                ));
            }
            started |= report.started;
            // The boot menu may not show yet when the keys come (a slow host, a late USB
            // keyboard): they are typed again until the installer says it runs, while the
            // menu can still take them (its timeout picks the media check).
            if !started && !menu_passed && elapsed >= keys_at && !typed_too_late(elapsed) {
                let _ = d.type_scancodes(&vm, INSTALL_KEYS);
                typed = true;
                keys_at = elapsed + self.boot_keys_delay.max(self.poll);
            }
            let phase = if started {
                match cx.lab.image.as_ref().map(|i| &i.source) {
                    Some(crate::spec::images::Source::Network { repos, packages_mib }) => {
                        let mirror = repos.first().map_or_else(|| "the mirror".to_string(), |(_, u)| u.split('/').take(3).collect::<Vec<_>>().join("/"));
                        format!("installing over the network: about {packages_mib} MiB of packages from {mirror}")
                    }
                    _ => "installing from the ISO".to_string(),
                }
            } else if elapsed < self.boot_keys_delay {
                "booting the installer".to_string()
            } else if elapsed < BOOT_MENU_TIMEOUT + Duration::from_secs(30) || !typed {
                "starting the installer".to_string()
            } else {
                "no word from the installer yet: the DVD's media check may be running (Esc in the VM's window skips it)".to_string()
            };
            cx.reporter.phase(who, &format!("{phase} ({} of about {} min)", clock(elapsed), TYPICAL_INSTALL.as_secs() / 60));
            if Instant::now() > deadline {
                return Err(Error::node_hint(
                    who,
                    format!("the install did not finish within {} min (VM {})", install_timeout().as_secs() / 60, info.state.word()),
                    format!(
                        "open the VM in the VirtualBox GUI to see what it waits for, or raise LAB_INSTALL_TIMEOUT; VirtualBox's log: {}",
                        info.log().display()
                    ),
                ));
            }
            std::thread::sleep(self.poll);
        }
        cx.reporter.phase(who, "installed; powered off; emptying the DVD drives");
        d.attach(&vm, info.arch, 1, &Medium::Empty, false)?;
        d.attach(&vm, info.arch, 2, &Medium::Empty, false)?;
        d.boot_from_disk(&vm)?;
        Ok(Outcome::Applied)
    }

    /// The installed VM runs and answers SSH with the host key lab pinned (no other machine at
    /// its address is taken for it).
    pub(super) fn boot(&self, cx: &Cx<'_>, node: &Node) -> Result<Outcome> {
        let d = self.driver()?;
        let vm = cx.lab.machine_name(&node.name);
        let info = d.vm(&vm)?.ok_or_else(|| Error::node(&node.name, format!("VM {vm} disappeared")))?;
        let mut outcome = Outcome::Satisfied;
        match info.state {
            VmState::Running => {}
            VmState::Paused => {
                d.resume(&vm)?;
                outcome = Outcome::Applied;
            }
            VmState::Stuck => {
                d.power_off(&vm)?;
                d.start(&vm)?;
                outcome = Outcome::Applied;
            }
            _ => {
                d.start(&vm)?;
                outcome = Outcome::Applied;
            }
        }
        if outcome == Outcome::Applied {
            cx.reporter.phase(&node.name, "first boot: waiting for SSH with the pinned host key");
        }
        let keys = cx.keys()?;
        let target = self.target(cx.lab, cx.sd, &keys, node)?;
        let session = cx.block_on(Session::wait(&target, Instant::now() + boot_timeout())).map_err(|e| match e {
            Error::Node { node: n, problem, hint: _ } => {
                Error::Node { node: n, problem, hint: Some(format!("is the VM running? `lab status` shows it; VirtualBox's log: {}", info.log().display())) }
            }
            other => other,
        })?;
        cx.put_remote(&node.name, std::sync::Arc::new(crate::remote::seam::Ssh::new(session, cx.rt.clone())));
        // From now on the VM's disk may hold the user's work: lab never deletes it unasked.
        if !Records::load(cx.sd)?.booted(&node.name) {
            Records::update(cx.sd, |r| {
                if let Some(v) = r.vms.get_mut(&node.name) {
                    v.booted = true;
                }
            })?;
        }
        Ok(outcome)
    }

    /// Nodes whose VM does not exist yet must not have their address taken by another machine:
    /// lab would otherwise configure that machine instead of its node.
    pub(super) fn addresses_free(&self, lab: &Lab) -> Result<()> {
        let d = self.driver()?;
        // Only a host-only network on the lab's subnet can hold another machine at a node's
        // address; without one, nothing is probed (and nothing leaves this computer).
        let reachable = d.hostonly()?.iter().any(|h| h.ip.is_some_and(|ip| lab.network.cidr.contains(ip)));
        if !reachable {
            return Ok(());
        }
        let existing: Vec<String> = d.list_vms()?.into_iter().map(|(n, _)| n).collect();
        let fresh: Vec<&Node> = lab.nodes.iter().filter(|n| !existing.contains(&lab.machine_name(&n.name))).collect();
        let taken: Vec<String> = std::thread::scope(|s| {
            let hs: Vec<_> = fresh
                .iter()
                .map(|n| {
                    s.spawn(move || {
                        crate::remote::ssh_answers(SocketAddr::from((n.ip, 22)), Duration::from_millis(700)).then(|| format!("{} ({})", n.ip, n.name))
                    })
                })
                .collect();
            hs.into_iter().filter_map(|h| h.join().ok().flatten()).collect()
        });
        if taken.is_empty() {
            return Ok(());
        }
        Err(Error::Preflight {
            problem: format!("another machine already answers SSH at {}: the lab's address is taken", taken.join(", ")),
            fix: "stop that machine (another lab, a Vagrant VM?), or give the lab another network in the lab file (network.cidr); nothing was created".into(),
        })
    }
}

#[cfg(test)]
mod report_tests {
    use super::InstallerReport;

    #[test]
    fn the_installer_s_report_is_read_once_complete() {
        assert_eq!(InstallerReport::parse(""), InstallerReport::default());
        let started = InstallerReport::parse("lab-install: started\r\n");
        assert!(started.started && started.failed.is_none());
        // Half a report: wait for its end.
        assert!(InstallerReport::parse("lab-install: started\nlab-install: failed\n==> /tmp/packaging.log <==\n").failed.is_none());
        let r = InstallerReport::parse(
            "lab-install: started\nlab-install: failed\n==> /tmp/packaging.log <==\nDEBUG:dnf:No match for argument: cloud-init\n\nlab-install: end\n",
        );
        assert_eq!(r.failed.as_deref(), Some("==> /tmp/packaging.log <==\nDEBUG:dnf:No match for argument: cloud-init"));
    }
}
