//! The VirtualBox provider: a host-only network, one VM per node installed unattended from the
//! OS ISO and a per-node kickstart disc, then booted from its disk. Every step looks at what
//! VirtualBox reports first, so an interrupted `lab up` continues where it stopped; the state
//! file only says which VMs are lab's (by UUID, chosen before the VM is registered).

pub mod base;
mod build;
pub mod driver;
#[cfg(test)]
mod fake;
mod hostonly;
mod install;
mod observe;
mod provider;
pub mod records;
mod steps;

use observe::{Decision, Refusal, Seen, Want};
use records::{Made, Records};

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use driver::{Arch, Driver, VmInfo};

use crate::download::Cached;
use crate::error::{Error, Result};
use crate::spec::{Lab, Node};
use crate::state::StateDir;
use crate::steps::{Cx, Slot};
use crate::ui::Outcome;

fn group(lab: &Lab) -> String {
    format!("/lab-{}", lab.name)
}

fn seconds(var: &str, default: u64) -> Duration {
    Duration::from_secs(std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default))
}

fn install_timeout() -> Duration {
    seconds("LAB_INSTALL_TIMEOUT", 3600)
}

fn boot_timeout() -> Duration {
    seconds("LAB_BOOT_TIMEOUT", 600)
}

fn halt_timeout() -> Duration {
    seconds("LAB_HALT_TIMEOUT", 60)
}

/// How long after the installer's start lab types the keys that pick the boot menu's plain
/// "Install" entry (the default entry checks the whole DVD first).
fn boot_keys_delay() -> Duration {
    seconds("LAB_BOOT_KEYS_DELAY", 10)
}

/// A VM is lab's when it carries this lab's mark, or has the UUID lab recorded for it.
fn is_ours(info: &VmInfo, sd: &StateDir, records: &Records, node: &str) -> bool {
    sd.marks(&info.description) || records.uuid(node).is_some_and(|u| u.eq_ignore_ascii_case(&info.uuid))
}

pub struct VirtualBox {
    driver: OnceLock<Driver>,
    /// The host-only interface and the ISO of this run (`hostonly_name`, `iso`).
    hostonly: Slot<String>,
    iso: Slot<Cached>,
    /// When to type the boot menu's keys, and how often to look at a VM that works.
    boot_keys_delay: Duration,
    poll: Duration,
}

impl VirtualBox {
    pub fn new() -> Self {
        Self { driver: OnceLock::new(), hostonly: Slot::new(None), iso: Slot::new(None), boot_keys_delay: boot_keys_delay(), poll: Duration::from_secs(1) }
    }

    #[cfg(test)]
    fn with_driver(d: Driver) -> Self {
        let me = Self { boot_keys_delay: Duration::ZERO, poll: Duration::from_millis(1), ..Self::new() };
        let _ = me.driver.set(d);
        me
    }

    fn driver(&self) -> Result<&Driver> {
        if let Some(d) = self.driver.get() {
            return Ok(d);
        }
        let d = Driver::detect(Arc::new(crate::proc::System))?;
        Ok(self.driver.get_or_init(|| d))
    }

    fn basefolder(sd: &StateDir) -> PathBuf {
        sd.path().join("vms")
    }

    /// `createvm --groups /g --basefolder B` puts the VM in `B/g/<vm>/`.
    fn vm_folder(lab: &Lab, sd: &StateDir, vm: &str) -> PathBuf {
        Self::basefolder(sd).join(group(lab).trim_start_matches('/')).join(vm)
    }

    fn disk_path(lab: &Lab, sd: &StateDir, vm: &str) -> PathBuf {
        Self::vm_folder(lab, sd, vm).join(format!("{vm}.vdi"))
    }

    fn seed_path(sd: &StateDir, node: &str) -> PathBuf {
        sd.node_dir(node).join("oemdrv.iso")
    }

    /// Removes a VM lab made, whatever state it is in.
    fn remove_vm(d: &Driver, info: &VmInfo) -> Result<()> {
        if info.state.is_on() {
            let _ = d.power_off(&info.name);
            let until = Instant::now() + Duration::from_secs(60);
            while d.vm(&info.name)?.is_some_and(|i| i.state.is_on()) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(300));
            }
        }
        d.delete_vm(&info.name)
    }

    fn image_arch(lab: &Lab) -> Arch {
        lab.image.as_ref().map_or(Arch::X86_64, |i| i.arch)
    }

    /// What the node's VM should be, as this run knows it.
    fn want(&self, cx: &Cx<'_>, node: &str, made: Made) -> Want {
        let vm = cx.lab.machine_name(node);
        let seed = match made {
            Made::PerNode => Self::seed_path(cx.sd, node),
            Made::Base => Self::cloud_seed_path(cx.sd, node),
        };
        Want {
            disk: Self::disk_path(cx.lab, cx.sd, &vm),
            vm,
            made,
            seed_on_disk: seed.is_file(),
            seed,
            iso: self.iso.peek().map(|i| i.path),
            hostonly: self.hostonly.peek(),
        }
    }

    /// Looks at the node's VM: one `showvminfo` and lab's records.
    fn observe_vm(&self, cx: &Cx<'_>, node: &str, made: Made) -> Result<(Option<VmInfo>, Seen, Want)> {
        let want = self.want(cx, node, made);
        let info = self.driver()?.vm(&want.vm)?;
        let records = Records::load(cx.sd)?;
        let seen = observe::observe(info.as_ref(), info.as_ref().is_some_and(|i| cx.sd.marks(&i.description)), records.vms.get(node), &want);
        Ok((info, seen, want))
    }

    /// What lab says when it will not go on with a node's VM.
    fn refusal(node: &str, want: &Want, r: &Refusal) -> Error {
        match r {
            Refusal::Foreign => Error::Preflight {
                problem: format!("a VM named {} exists and lab did not create it for this lab", want.vm),
                fix: "rename or remove that VM in VirtualBox, or rename the lab".into(),
            },
            // A VM made one way is never silently made again the other way (its disk holds
            // the user's work).
            Refusal::OtherWay(made) => Error::Preflight {
                problem: format!("node {node} was made with `install: {}`, and the lab file now says `install: {}`", made.word(), want.made.word()),
                fix: format!("put back `install: {}`, or `lab destroy` and `lab up` to make the lab anew with `install: {}`", made.word(), want.made.word()),
            },
            // Lab may be wrong about what it sees, and the disk holds the user's work.
            Refusal::Changed(why) => Error::Preflight {
                problem: format!("node {node}: VM {} is installed, but {why}; lab deletes no installed VM on its own", want.vm),
                fix: format!(
                    "put the VM back as lab made it (or undo what changed it), or run `lab up --recreate {node}` to make the node anew (what is on its disk is lost)"
                ),
            },
        }
    }

    /// What lab does about the node's VM, and why (`vm_created`'s check and apply).
    fn decision(&self, cx: &Cx<'_>, node: &str, made: Made) -> Result<(Option<VmInfo>, Decision, Want)> {
        let (info, seen, want) = self.observe_vm(cx, node, made)?;
        let recreate = cx.opts.recreate.iter().any(|n| n == node);
        let decision = observe::decide(&seen, &want, recreate).map_err(|r| Self::refusal(node, &want, &r))?;
        Ok((info, decision, want))
    }

    /// Carries out a decision about the node's VM.
    fn act(&self, cx: &Cx<'_>, node: &Node, made: Made, info: Option<&VmInfo>, decision: &Decision) -> Result<Outcome> {
        let d = self.driver()?;
        match decision {
            Decision::Keep => Ok(Outcome::Satisfied),
            Decision::Create(_) => {
                self.create(cx, node, made)?;
                Ok(Outcome::Applied)
            }
            Decision::Remake(why) => {
                cx.reporter.note(&format!("{}: making VM {} anew: {why}", node.name, cx.lab.machine_name(&node.name)));
                if let Some(info) = info {
                    Self::remove_vm(d, info)?;
                }
                self.create(cx, node, made)?;
                Ok(Outcome::Applied)
            }
            Decision::Reconnect(_) => {
                d.configure(&cx.lab.machine_name(&node.name), &self.hardware(cx, node)?)?;
                Ok(Outcome::Applied)
            }
        }
    }
}

/// The user who ran `sudo lab`, when lab runs as root through sudo.
fn running_as_root_for() -> Option<String> {
    #[cfg(unix)]
    if nix::unistd::geteuid().is_root() {
        return std::env::var("SUDO_USER").ok().filter(|u| !u.is_empty() && u != "root");
    }
    None
}

fn clock(d: Duration) -> String {
    format!("{}:{:02}", d.as_secs() / 60, d.as_secs() % 60)
}

#[cfg(test)]
mod tests;
