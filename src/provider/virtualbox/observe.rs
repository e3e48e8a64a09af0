//! What lab sees of a node's VM, and what it decides from that: pure functions of one
//! `showvminfo` and lab's records, so every step's check says what it found (`lab up -v`) and
//! every case is a unit test on captured output. Steps observe, decide, and only then act.

use std::path::{Path, PathBuf};

use super::driver::{Medium, VmInfo, VmState};
use super::records::{Made, VmRecord};

/// What the lab file and lab's folders say the node's VM should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub vm: String,
    pub made: Made,
    /// The VM's disk (an installed VM's; a clone's disk is its own differencing image).
    pub disk: PathBuf,
    /// The disc lab attaches: the kickstart's OEMDRV disc, or a clone's cloud-init seed.
    pub seed: PathBuf,
    /// Whether that disc is still in lab's folder.
    pub seed_on_disk: bool,
    /// The ISO this run installs from, when it has it.
    pub iso: Option<PathBuf>,
    /// The host-only interface the lab's NIC2 must be on, when known.
    pub hostonly: Option<String>,
}

/// Where an install from the ISO stands, as the VM's drives show it: lab empties both DVD drives
/// only after an install powered the VM off by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Install {
    /// Disk, OS ISO and kickstart disc attached: installing or about to.
    Pending,
    /// Both drives emptied: installed.
    Done,
    /// Something is missing (creation was interrupted): the VM must be made again.
    Incomplete(String),
}

/// The install as the drives show it (`iso`: the ISO lab attached, when known).
pub fn install_state(info: &VmInfo, disk: &Path, iso: Option<&Path>, seed: &Path) -> Install {
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

/// A node's VM as lab sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// No VM of that name.
    Missing,
    /// A VM of that name that lab did not make for this lab (no mark, another UUID).
    Foreign,
    /// Lab's, made the other way than the lab file says now.
    OtherWay(Made),
    /// Lab's, half-made (why); `finished`: it finished its install or booted as lab's node, so
    /// its disk may hold the user's work.
    Incomplete { why: String, finished: bool },
    /// Lab's and whole; its NIC2 on another host-only interface than the lab's (the VM off),
    /// when it is.
    Whole { stale_nic: Option<String> },
}

/// Looks at the node's VM: `info` is its `showvminfo` (none: no such VM), `marked` whether
/// its description is this lab's mark, `record` what lab recorded of it.
pub fn observe(info: Option<&VmInfo>, marked: bool, record: Option<&VmRecord>, want: &Want) -> Seen {
    let Some(info) = info else { return Seen::Missing };
    let by_uuid = record.is_some_and(|r| r.uuid.eq_ignore_ascii_case(&info.uuid));
    if !marked && !by_uuid {
        return Seen::Foreign;
    }
    if let Some(r) = record.filter(|r| r.made != want.made) {
        return Seen::OtherWay(r.made);
    }
    let booted = record.is_some_and(|r| r.booted);
    let not_marked = "its description is not lab's mark (its settings were never written, or were changed)";
    let (why, finished) = match want.made {
        Made::PerNode => {
            let install = install_state(info, &want.disk, want.iso.as_deref(), &want.seed);
            // Both DVD drives empty: lab saw the install end (it empties them only then).
            let installed = booted || matches!(info.port(1), Medium::Empty) && matches!(info.port(2), Medium::Empty);
            let why = match install {
                Install::Incomplete(why) => Some(why),
                _ if !marked => Some(not_marked.to_string()),
                Install::Pending if matches!(info.state, VmState::Aborted | VmState::Stuck) => Some(format!("its install failed ({})", info.state.word())),
                _ => None,
            };
            (why, installed)
        }
        Made::Base => {
            let why = if info.sata.is_none() || !matches!(info.port(0), Medium::Image(_)) {
                Some("it has no disk".to_string())
            } else if !marked {
                Some(not_marked.to_string())
            } else if info.port(1) != Medium::Image(want.seed.clone()) || !want.seed_on_disk {
                Some("its seed disc is not attached".into())
            } else {
                None
            };
            (why, booted)
        }
    };
    if let Some(why) = why {
        return Seen::Incomplete { why, finished };
    }
    let stale_nic = match (&want.hostonly, info.nics.get(&2)) {
        (Some(want), Some(nic)) if nic.hostonly != *want && !info.state.is_on() => Some(nic.hostonly.clone()),
        _ => None,
    };
    Seen::Whole { stale_nic }
}

/// What lab does about a node's VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// It is as the lab file says.
    Keep,
    /// Made now (there is none), with why.
    Create(String),
    /// Removed and made again, with why (half-made, or `--recreate`).
    Remake(String),
    /// Its NIC2 moved onto the lab's host-only interface.
    Reconnect(String),
}

/// Why lab stops instead: the VM is not lab's, was made the other way, or finished its install
/// and now looks other than lab made it (lab deletes no installed VM on its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Foreign,
    OtherWay(Made),
    Changed(String),
}

/// Decides from what was seen; `recreate`: the user asked `lab up --recreate NODE`.
pub fn decide(seen: &Seen, want: &Want, recreate: bool) -> Result<Decision, Refusal> {
    Ok(match seen {
        Seen::Missing => Decision::Create(format!("VM {} does not exist", want.vm)),
        Seen::Foreign => return Err(Refusal::Foreign),
        Seen::OtherWay(made) => return Err(Refusal::OtherWay(*made)),
        _ if recreate => Decision::Remake("--recreate asks for it".into()),
        Seen::Incomplete { why, finished: true } => return Err(Refusal::Changed(why.clone())),
        Seen::Incomplete { why, finished: false } => Decision::Remake(format!("VM {} is incomplete ({why})", want.vm)),
        Seen::Whole { stale_nic: Some(on) } => {
            Decision::Reconnect(format!("its host-only NIC is on {on}, the lab's network is {}", want.hostonly.as_deref().unwrap_or("another")))
        }
        Seen::Whole { stale_nic: None } => Decision::Keep,
    })
}

/// Where a VM installed from the ISO stands once it exists: what `os_installed` must still do.
pub fn install_needed(info: &VmInfo, disk: &Path, seed: &Path) -> Option<String> {
    match install_state(info, disk, None, seed) {
        Install::Done if info.port(1) != Medium::Empty || info.port(2) != Medium::Empty => Some("the install ended; a DVD drive still holds its disc".into()),
        Install::Done if info.boot_first.as_deref().is_some_and(|b| b != "disk") => {
            Some(format!("the install ended; the VM boots from its {} first", info.boot_first.as_deref().unwrap_or("?")))
        }
        Install::Done => None,
        Install::Pending => Some(format!("the OS is not installed yet (install discs attached, VM {})", info.state.word())),
        Install::Incomplete(why) => Some(format!("the install cannot start: {why}")),
    }
}

/// What `vm_running` must still do for a VM that exists.
pub fn run_needed(info: &VmInfo, booted: bool) -> Option<String> {
    if info.state != VmState::Running {
        return Some(format!("VM {} is {}", info.name, info.state.word()));
    }
    (!booted).then(|| format!("VM {} runs; lab has not yet seen it answer SSH as its node", info.name))
}

#[cfg(test)]
mod tests;
