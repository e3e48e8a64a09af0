//! The VirtualBox provider: a host-only network, one VM per node installed unattended from the
//! OS ISO and a per-node kickstart disc, then booted from its disk. Every step looks at what
//! VirtualBox reports first, so an interrupted `lab up` continues where it stopped; the state
//! file only says which VMs are lab's (by UUID, chosen before the VM is registered).

pub mod base;
mod clone;
pub mod driver;
#[cfg(test)]
mod fake;
mod hostonly;
mod install;
mod lifecycle;
pub mod seed;
mod steps;

use install::{Install, install_state};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use driver::{Arch, Driver, Hardware, Medium, VmInfo, VmState};

use crate::download::Cached;
use crate::error::{Error, Result};
use crate::remote::Session;
use crate::spec::{Lab, Node};
use crate::state::{State, StateDir};
use crate::steps::Slot;
use crate::steps::{Cx, HOST, Machines};
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
fn is_ours(info: &VmInfo, sd: &StateDir, recorded_uuid: Option<&str>) -> bool {
    sd.marks(&info.description) || recorded_uuid.is_some_and(|u| u.eq_ignore_ascii_case(&info.uuid))
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

    /// The node's existing VM is lab's, made the way the lab file says (`install`).
    fn check_ours(cx: &Cx<'_>, info: &VmInfo, state: Option<&State>, node: &Node, install: &str) -> Result<()> {
        if !is_ours(info, cx.sd, Self::recorded_uuid(state, &node.name).as_deref()) {
            return Err(Error::Preflight {
                problem: format!("a VM named {} exists and lab did not create it for this lab", info.name),
                fix: "rename or remove that VM in VirtualBox, or rename the lab".into(),
            });
        }
        Self::same_install(state, node, install)
    }

    /// A VM made one way is never silently made again the other way (its disk holds the
    /// user's work): the lab file's `install` must match how the VM was made.
    fn same_install(state: Option<&State>, node: &Node, want: &str) -> Result<()> {
        match state.and_then(|s| s.resources.get(&format!("install:{}", node.name))) {
            Some(made) if made != want => Err(Error::Preflight {
                problem: format!("node {} was made with `install: {made}`, and the lab file now says `install: {want}`", node.name),
                fix: format!("put back `install: {made}`, or `lab destroy` and `lab up` to make the lab anew with `install: {want}`"),
            }),
            _ => Ok(()),
        }
    }

    /// Whether the node's VM ever answered SSH as lab's node (recorded at its first boot): from
    /// then on its disk may hold the user's work.
    fn finished(state: Option<&State>, node: &str) -> bool {
        state.is_some_and(|s| s.resources.contains_key(&format!("booted:{node}")))
    }

    /// What lab says instead of deleting a VM that finished its install and now looks other
    /// than lab made it: lab may be wrong about what it sees, and the disk holds the user's work.
    fn changed(node: &str, vm: &str, why: &str) -> Error {
        Error::Preflight {
            problem: format!("node {node}: VM {vm} is installed, but {why}; lab deletes no installed VM on its own"),
            fix: format!(
                "put the VM back as lab made it (or undo what changed it), or run `lab up --recreate {node}` to make the node anew (what is on its disk is lost)"
            ),
        }
    }

    /// `lab up --recreate NODE`: the VM goes, whatever it holds, and is made anew.
    fn recreate_asked(cx: &Cx<'_>, node: &str) -> bool {
        cx.opts.recreate.iter().any(|n| n == node)
    }

    fn recorded_uuid(state: Option<&State>, node: &str) -> Option<String> {
        state.and_then(|s| s.resources.get(&format!("vmuuid:{node}")).cloned())
    }

    fn image_arch(lab: &Lab) -> Arch {
        lab.image.as_ref().map_or(Arch::X86_64, |i| i.arch)
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

    fn create_vm(&self, cx: &Cx<'_>, node: &Node) -> Result<()> {
        let d = self.driver()?;
        let lab = cx.lab;
        let vm = lab.machine_name(&node.name);
        let image = lab.image.as_ref().ok_or_else(|| Error::Internal("a virtualbox lab without an image".into()))?;
        let iso = self.iso(cx)?;
        let folder = Self::vm_folder(lab, cx.sd, &vm);
        if folder.exists() {
            // A folder without a registered VM: left by an interrupted create, inside lab's state.
            std::fs::remove_dir_all(&folder).map_err(|e| Error::io(format!("removing {}", folder.display()), e))?;
        }
        let uuid = new_uuid();
        cx.sd.forget(&format!("booted:{}", node.name))?;
        cx.sd.record(&format!("vm:{}", node.name), &vm)?;
        cx.sd.record(&format!("vmuuid:{}", node.name), &uuid)?;
        cx.sd.record(&format!("install:{}", node.name), "per-node")?;
        d.create_vm(&vm, &uuid, &group(lab), &image.ostype, &Self::basefolder(cx.sd), image.arch)?;
        let hw = self.hardware(cx, node)?;
        cx.sd.record(&format!("mac:{}", node.name), &format!("{},{}", hw.mac_nat, hw.mac_hostonly))?;
        d.configure(&vm, &hw)?;
        let disk = Self::disk_path(lab, cx.sd, &vm);
        // A disk left registered by an interrupted create would make createmedium fail.
        let _ = d.delete_medium(&disk);
        let _ = std::fs::remove_file(&disk);
        d.create_disk(&disk, u64::from(node.disk_gib) * 1024)?;
        d.add_storage(&vm, image.arch)?;
        d.attach(&vm, image.arch, 0, &Medium::Image(disk), true)?;
        d.attach(&vm, image.arch, 1, &Medium::Image(iso.path.clone()), false)?;
        let keys = cx.keys()?;
        let ks = crate::kickstart::render(lab, node, &keys)?;
        let disc = crate::kickstart::oemdrv::build(ks.as_bytes(), crate::kickstart::oemdrv::Timestamp::now())?;
        let seed = Self::seed_path(cx.sd, &node.name);
        crate::fsx::private_dir(cx.sd.node_dir(&node.name).as_path())?;
        crate::fsx::write_atomic(&seed, &disc, crate::fsx::Access::Private)?;
        d.attach(&vm, image.arch, 2, &Medium::Image(seed), false)?;
        Ok(())
    }

    /// The VM exists, is lab's, and has everything attached; anything half-made is made again.
    fn ensure_vm(&self, cx: &Cx<'_>, node: &Node) -> Result<Outcome> {
        let d = self.driver()?;
        let vm = cx.lab.machine_name(&node.name);
        let state = cx.sd.load()?;
        let Some(info) = d.vm(&vm)? else {
            self.create_vm(cx, node)?;
            return Ok(Outcome::Applied);
        };
        Self::check_ours(cx, &info, state.as_ref(), node, "per-node")?;
        if Self::recreate_asked(cx, &node.name) {
            cx.reporter.note(&format!("{}: making VM {vm} anew (--recreate)", node.name));
            Self::remove_vm(d, &info)?;
            self.create_vm(cx, node)?;
            return Ok(Outcome::Applied);
        }
        let iso = self.iso.peek().map(|i| i.path);
        let disk = Self::disk_path(cx.lab, cx.sd, &vm);
        let install = install_state(&info, &disk, iso.as_deref(), &Self::seed_path(cx.sd, &node.name));
        // Both DVD drives empty: lab saw the install end (it empties them only then).
        let installed = Self::finished(state.as_ref(), &node.name) || matches!(info.port(1), Medium::Empty) && matches!(info.port(2), Medium::Empty);
        let reason = match install {
            Install::Incomplete(why) => Some(why),
            _ if !cx.sd.marks(&info.description) => Some("its description is not lab's mark (its settings were never written, or were changed)".into()),
            Install::Pending if matches!(info.state, VmState::Aborted | VmState::Stuck) => Some(format!("its install failed ({})", info.state.word())),
            _ => None,
        };
        if let Some(why) = reason {
            if installed {
                return Err(Self::changed(&node.name, &vm, &why));
            }
            cx.reporter.note(&format!("{}: VM {vm} is incomplete ({why}); making it again", node.name));
            Self::remove_vm(d, &info)?;
            self.create_vm(cx, node)?;
            return Ok(Outcome::Applied);
        }
        // The host-only interface may have been made anew since (another name).
        let want = self.hostonly_name(cx)?;
        if info.nics.get(&2).is_some_and(|n| n.hostonly != want) && !info.state.is_on() {
            d.configure(&vm, &self.hardware(cx, node)?)?;
            return Ok(Outcome::Applied);
        }
        Ok(Outcome::Satisfied)
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

/// A random version-4 UUID.
fn new_uuid() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom_fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn getrandom_fill(b: &mut [u8]) -> std::result::Result<(), rand_core::Error> {
    use rand_core::RngCore;
    rand_core::OsRng.try_fill_bytes(b)
}

#[cfg(test)]
mod tests;
