//! The install and the first boot: the installer runs until it powers the VM off (the boot
//! menu's keys typed in time, every VM state handled), the drives are emptied, and the VM is
//! booted from its disk until it answers SSH with the host key lab pinned.

use super::*;

/// Up arrow, then Enter: the menus of EL7 (isolinux), EL9 and EL10 (GRUB) list "Install" first
/// and preselect "Test this media & install", below it.
const INSTALL_KEYS: &[&str] = &["e0", "48", "e0", "c8", "1c", "9c"];

/// How long the install DVD's boot menu waits before it takes its default entry.
const BOOT_MENU_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a whole install usually takes, for the display.
const TYPICAL_INSTALL: Duration = Duration::from_secs(8 * 60);

/// Where the install stands, as the VM's drives show it: lab empties both DVD drives only after
/// an install powered the VM off by itself.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Install {
    /// Disk, OS ISO and kickstart disc attached: installing or about to.
    Pending,
    /// Both drives emptied: installed.
    Done,
    /// Something is missing (creation was interrupted): the VM must be made again.
    Incomplete(String),
}

pub(super) fn install_state(info: &VmInfo, disk: &Path, iso: Option<&Path>, seed: &Path) -> Install {
    if info.sata.is_none() {
        return Install::Incomplete("it has no SATA controller".into());
    }
    // After a snapshot the disk is a differencing image on top of it (in Snapshots/).
    let snapshotted = !info.snapshots.is_empty() && matches!(info.port(0), Medium::Image(_));
    if info.port(0) != Medium::Image(disk.to_path_buf()) && !snapshotted {
        return Install::Incomplete(format!("its disk is not attached ({:?})", info.port(0)));
    }
    match (info.port(1), info.port(2)) {
        (Medium::Empty, Medium::Empty | Medium::Image(_)) | (Medium::Image(_), Medium::Empty) => Install::Done,
        (Medium::Image(a), Medium::Image(b)) if iso.is_none_or(|i| a == i) && b == seed => Install::Pending,
        (a, b) => Install::Incomplete(format!("its install discs are not attached (port 1: {a:?}, port 2: {b:?})")),
    }
}

impl VirtualBox {
    /// Runs the installer until it powers the VM off, then empties both DVD drives and boots
    /// from the disk. While the install discs are attached the DVD boots first, so a VM powered
    /// off before lab saw its install end (lab killed, the user's power button) installs again
    /// rather than booting a system lab cannot tell from a half-made one.
    pub(super) fn ensure_installed(&self, cx: &StepCx<'_>, node: &Node) -> Result<Outcome> {
        let vm = vm_name(cx.lab, &node.name);
        let disk = Self::disk_path(cx.lab, cx.sd, &vm);
        self.install(cx, &node.name, &vm, &disk, &Self::seed_path(cx.sd, &node.name))
    }

    /// Installs the OS into `vm` (a node's, or a base: `who` is what the display names).
    pub(super) fn install(&self, cx: &StepCx<'_>, who: &str, vm: &str, disk: &Path, seed: &Path) -> Result<Outcome> {
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
                    _ => typed = true,
                }
            }
        }
        let deadline = start + install_timeout();
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
            if !typed && elapsed >= self.boot_keys_delay {
                // Best effort: a menu that ignores the keys only costs the media check.
                let _ = d.type_scancodes(&vm, INSTALL_KEYS);
                typed = true;
            }
            let phase = if elapsed < self.boot_keys_delay { "booting the installer".to_string() } else { "installing".to_string() };
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
    pub(super) fn ensure_running(&self, cx: &StepCx<'_>, node: &Node) -> Result<Outcome> {
        let d = self.driver()?;
        let vm = vm_name(cx.lab, &node.name);
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
        cx.put_session(&node.name, session);
        // From now on the VM's disk may hold the user's work: lab never deletes it unasked.
        let booted = format!("booted:{}", node.name);
        if !cx.sd.load()?.is_some_and(|s| s.resources.contains_key(&booted)) {
            cx.sd.record(&booted, "yes")?;
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
        let fresh: Vec<&Node> = lab.nodes.iter().filter(|n| !existing.contains(&vm_name(lab, &n.name))).collect();
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
