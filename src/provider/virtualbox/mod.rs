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
pub mod seed;

use install::{Install, install_state};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use driver::{Arch, Driver, Hardware, Medium, VmInfo, VmState};

use super::{Machine, Provider};
use crate::error::{Error, Result};
use crate::plan::{HOST, Stage, Step};
use crate::remote::Session;
use crate::runner::StepCx;
use crate::spec::{InstallMode, Lab, Node};
use crate::state::{HostKey, State, StateDir};
use crate::ui::{Outcome, Reporter};

const ISO: &str = "iso_downloaded";
const HOSTONLY: &str = "hostonly_network";
const VM_CREATED: &str = "vm_created";
const OS_INSTALLED: &str = "os_installed";
const VM_RUNNING: &str = "vm_running";
const BASE: &str = "base_image";

/// The VM of `node`: `lab-<lab>-<node>`.
pub fn vm_name(lab: &Lab, node: &str) -> String {
    format!("lab-{}-{node}", lab.name)
}

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
    hostonly: Mutex<Option<String>>,
    /// When to type the boot menu's keys, and how often to look at a VM that works.
    boot_keys_delay: Duration,
    poll: Duration,
}

impl VirtualBox {
    pub fn new() -> Self {
        Self { driver: OnceLock::new(), hostonly: Mutex::new(None), boot_keys_delay: boot_keys_delay(), poll: Duration::from_secs(1) }
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
    fn check_ours(cx: &StepCx<'_>, info: &VmInfo, state: Option<&State>, node: &Node, install: &str) -> Result<()> {
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
    fn recreate_asked(cx: &StepCx<'_>, node: &str) -> bool {
        cx.opts.recreate.iter().any(|n| n == node)
    }

    fn recorded_uuid(state: Option<&State>, node: &str) -> Option<String> {
        state.and_then(|s| s.resources.get(&format!("vmuuid:{node}")).cloned())
    }

    fn image_arch(lab: &Lab) -> Arch {
        lab.image.as_ref().map_or(Arch::X86_64, |i| i.arch)
    }

    fn hostonly_name(&self) -> Result<String> {
        self.hostonly.lock().ok().and_then(|h| h.clone()).ok_or_else(|| Error::Internal("the host-only network step did not run".into()))
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

    fn create_vm(&self, cx: &StepCx<'_>, node: &Node) -> Result<()> {
        let d = self.driver()?;
        let lab = cx.lab;
        let vm = vm_name(lab, &node.name);
        let image = lab.image.as_ref().ok_or_else(|| Error::Internal("a virtualbox lab without an image".into()))?;
        let iso = cx.artifacts.lock().ok().and_then(|a| a.iso.clone()).ok_or_else(|| Error::Internal("the ISO step did not run".into()))?;
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
    fn ensure_vm(&self, cx: &StepCx<'_>, node: &Node) -> Result<Outcome> {
        let d = self.driver()?;
        let vm = vm_name(cx.lab, &node.name);
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
        let iso = cx.artifacts.lock().ok().and_then(|a| a.iso.as_ref().map(|i| i.path.clone()));
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
        let want = self.hostonly_name()?;
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

impl Provider for VirtualBox {
    fn name(&self) -> &'static str {
        "virtualbox"
    }

    fn available(&self, _: &Lab) -> Result<()> {
        self.driver().map(drop)
    }

    fn warnings(&self, _: &Lab) -> Vec<String> {
        running_as_root_for().map_or_else(Vec::new, |user| {
            vec![format!(
                "lab runs as root (sudo): the VMs are registered in root's VirtualBox and {user}'s VirtualBox window will not show them; run lab as {user}, without sudo"
            )]
        })
    }

    fn preflight(&self, lab: &Lab) -> Result<()> {
        let d = self.driver()?;
        let arch = Self::image_arch(lab);
        if !d.runs(arch) {
            let image = lab.image.as_ref().map_or("the image", |i| i.name.as_str());
            return Err(Error::Preflight {
                problem: format!("VirtualBox {} on this {} computer cannot run {} guests ({image})", d.version, d.host_arch.name(), arch.name()),
                fix: if d.host_arch == Arch::Aarch64 && d.version < (driver::Version { major: 7, minor: 1, patch: 0 }) {
                    "install VirtualBox 7.1 or later, which runs arm64 guests on Apple Silicon".into()
                } else {
                    format!(
                        "remove `image:` from the lab file (lab then chooses the {} image), or write one built for {}",
                        d.host_arch.name(),
                        d.host_arch.name()
                    )
                },
            });
        }
        self.addresses_free(lab)
    }

    fn host_keys(&self, cx: &StepCx<'_>, _: bool) -> Result<BTreeMap<String, HostKey>> {
        cx.sd.ensure_host_keys(cx.lab)
    }

    fn known_host_keys(&self, lab: &Lab, sd: &StateDir) -> Result<BTreeMap<String, HostKey>> {
        sd.generated_host_keys(lab)
    }

    fn plan(&self, lab: &Lab) -> Vec<Step> {
        let mut steps = Vec::new();
        let base = (lab.install == InstallMode::Base).then(|| base::spec(lab).ok()).flatten();
        if let Some(img) = &lab.image {
            let when = if base.is_some() { " (only while the base is made)" } else { "" };
            steps.push(Step::new(
                Stage::Machines,
                HOST,
                ISO,
                format!("{} ISO ({}) in the download cache, checksum verified{when}", img.title, img.arch.name()),
            ));
        }
        steps.push(Step::new(
            Stage::Machines,
            HOST,
            HOSTONLY,
            format!("a host-only interface holds {}/{}, no DHCP server on it", lab.network.host, lab.network.cidr.prefix()),
        ));
        if let Some(b) = &base {
            steps.push(Step::new(
                Stage::Machines,
                HOST,
                BASE,
                format!("base {}: {} installed once for every lab, snapshot `{}`", b.name, b.title, base::SNAPSHOT),
            ));
            for n in &lab.nodes {
                let vm = vm_name(lab, &n.name);
                steps.push(Step::new(
                    Stage::Machines,
                    &n.name,
                    VM_CREATED,
                    format!(
                        "VM {vm}: linked clone of the base, {} CPU, {} MiB, NAT + host-only NIC, seed disc: host name {}, {}",
                        n.cpus, n.memory_mib, n.name, n.ip
                    ),
                ));
                steps.push(Step::new(Stage::Machines, &n.name, VM_RUNNING, "booted, set up by cloud-init from its seed, SSH answers with the pinned host key"));
            }
            return steps;
        }
        for n in &lab.nodes {
            let vm = vm_name(lab, &n.name);
            steps.push(Step::new(
                Stage::Machines,
                &n.name,
                VM_CREATED,
                format!("VM {vm}: {} CPU, {} MiB, {} GiB disk, NAT + host-only NIC", n.cpus, n.memory_mib, n.disk_gib),
            ));
            steps.push(Step::new(Stage::Machines, &n.name, OS_INSTALLED, format!("kickstart install: host name {}, {} on the host-only NIC", n.name, n.ip)));
            steps.push(Step::new(Stage::Machines, &n.name, VM_RUNNING, "booted from disk, SSH answers with the pinned host key"));
        }
        steps
    }

    fn apply(&self, cx: &StepCx<'_>, step: &Step) -> Result<Outcome> {
        let node = || cx.lab.node(&step.target).ok_or_else(|| Error::Internal(format!("no node {}", step.target)));
        match step.id {
            ISO => {
                let img = cx.lab.image.as_ref().ok_or_else(|| Error::Internal("no image".into()))?;
                if cx.lab.install == InstallMode::Base && self.base_ready(&base::spec(cx.lab)?)? {
                    return Ok(Outcome::Satisfied);
                }
                let dl = crate::download::Downloader::new(cx.reporter)?;
                let mut fetched = false;
                let iso = cx.block_on(dl.fetch(&img.iso, &mut fetched))?;
                if let Ok(mut a) = cx.artifacts.lock() {
                    a.iso = Some(iso);
                }
                Ok(if fetched { Outcome::Applied } else { Outcome::Satisfied })
            }
            HOSTONLY => self.ensure_hostonly(cx),
            BASE => self.ensure_base(cx),
            VM_CREATED if cx.lab.install == InstallMode::Base => self.ensure_clone(cx, node()?),
            VM_CREATED => self.ensure_vm(cx, node()?),
            OS_INSTALLED => self.ensure_installed(cx, node()?),
            VM_RUNNING => self.ensure_running(cx, node()?),
            other => Err(Error::Internal(format!("the virtualbox provider has no step {other}"))),
        }
    }

    fn halt(&self, lab: &Lab, sd: &StateDir, reporter: &dyn Reporter) -> Result<()> {
        let d = self.driver()?;
        let state = sd.load().ok().flatten();
        std::thread::scope(|s| {
            let hs: Vec<_> = lab
                .nodes
                .iter()
                .map(|n| {
                    let state = state.as_ref();
                    s.spawn(move || -> Result<()> {
                        let vm = vm_name(lab, &n.name);
                        let start = Instant::now();
                        reporter.step_start(&n.name, "halted");
                        let Some(info) = d.vm(&vm)? else {
                            reporter.step_done(&n.name, "halted", &Outcome::Satisfied, start.elapsed());
                            return Ok(());
                        };
                        if !is_ours(&info, sd, Self::recorded_uuid(state, &n.name).as_deref()) {
                            reporter.note(&format!("{}: VM {vm} is not this lab's (no lab mark); left alone", n.name));
                            return Ok(());
                        }
                        if !info.state.is_on() {
                            reporter.step_done(&n.name, "halted", &Outcome::Satisfied, start.elapsed());
                            return Ok(());
                        }
                        let _ = d.acpi_power_button(&vm);
                        while start.elapsed() < halt_timeout() {
                            if d.vm(&vm)?.is_some_and(|i| !i.state.is_on()) {
                                reporter.step_done(&n.name, "halted", &Outcome::Applied, start.elapsed());
                                return Ok(());
                            }
                            reporter.phase(&n.name, "shutting down");
                            std::thread::sleep(Duration::from_millis(500));
                        }
                        d.power_off(&vm)?;
                        reporter.step_done(&n.name, "halted (powered off after the ACPI timeout)", &Outcome::Applied, start.elapsed());
                        Ok(())
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Error::Internal("halt panicked".into())))).collect::<Result<Vec<_>>>()
        })
        .map(drop)
    }

    fn status(&self, lab: &Lab, _: &StateDir) -> Result<Vec<Machine>> {
        let d = self.driver()?;
        lab.nodes
            .iter()
            .map(|n| {
                let info = d.vm(&vm_name(lab, &n.name))?;
                Ok(Machine {
                    node: n.name.clone(),
                    state: info.as_ref().map_or_else(|| "not created".to_string(), |i| i.state.word().to_string()),
                    reachable: info.is_some_and(|i| i.state == VmState::Running),
                })
            })
            .collect()
    }

    fn snapshot_save(&self, lab: &Lab, sd: &StateDir, name: &str, live: bool) -> Result<()> {
        let d = self.driver()?;
        for n in &lab.nodes {
            d.take_snapshot(&self.node_vm(d, lab, sd, &n.name)?, name, &format!("lab snapshot of lab {}", lab.name), live)?;
        }
        Ok(())
    }

    fn snapshot_restore(&self, lab: &Lab, sd: &StateDir, name: &str) -> Result<()> {
        let d = self.driver()?;
        for n in &lab.nodes {
            d.restore_snapshot(&self.node_vm(d, lab, sd, &n.name)?, name)?;
        }
        Ok(())
    }

    fn snapshot_delete(&self, lab: &Lab, sd: &StateDir, name: &str) -> Result<()> {
        let d = self.driver()?;
        for n in &lab.nodes {
            let vm = self.node_vm(d, lab, sd, &n.name)?;
            if d.vm(&vm)?.is_some_and(|i| i.snapshots.iter().any(|s| s == name)) {
                d.delete_snapshot(&vm, name)?;
            }
        }
        Ok(())
    }

    fn snapshot_list(&self, lab: &Lab, sd: &StateDir) -> Result<Vec<String>> {
        let d = self.driver()?;
        let mut lists = Vec::new();
        for n in &lab.nodes {
            let vm = self.node_vm(d, lab, sd, &n.name)?;
            lists.push(d.vm(&vm)?.map(|i| i.snapshots).unwrap_or_default());
        }
        // A snapshot of the lab is one every node has.
        let first = lists.first().cloned().unwrap_or_default();
        Ok(first.into_iter().filter(|s| lists.iter().all(|l| l.contains(s))).collect())
    }

    fn leftovers(&self, lab: &Lab, sd: &StateDir, state: Option<&State>) -> Result<Vec<String>> {
        let d = match self.driver() {
            Ok(d) => d,
            Err(_) => return Ok(Vec::new()),
        };
        Ok(self.our_vms(d, lab, sd, state)?.into_iter().map(|i| format!("VM {} ({})", i.name, i.state.word())).collect())
    }

    fn destroy(&self, lab: &Lab, sd: &StateDir, state: Option<&State>, reporter: &dyn Reporter, _: &tokio::runtime::Handle) -> Result<()> {
        let d = match self.driver() {
            Ok(d) => d,
            // Nothing was ever made in VirtualBox: there is nothing to look at there.
            Err(_) if state.is_none_or(|s| !s.resources.keys().any(|k| k.starts_with("vm") || k.starts_with("hostonlyif"))) => return Ok(()),
            Err(e) => return Err(e),
        };
        for info in self.our_vms(d, lab, sd, state)? {
            let start = Instant::now();
            let node = info.name.strip_prefix(&format!("lab-{}-", lab.name)).unwrap_or(&info.name).to_string();
            reporter.step_start(&node, "removed");
            Self::remove_vm(d, &info)?;
            reporter.step_done(&node, &format!("VM {} and its disk deleted", info.name), &Outcome::Applied, start.elapsed());
        }
        let resources = state.map(|s| s.resources.clone()).unwrap_or_default();
        if let Some(name) = resources.get("base") {
            base::remove_user(name, sd);
            let others = base::users(name).len();
            let why = if others > 0 { format!("{others} other lab(s) use it") } else { "the next lab starts from it".into() };
            reporter.note(&format!("base {name} kept ({why}); `lab base list` shows bases, `lab base prune` removes those no lab uses"));
        }
        if state.is_none() {
            // Without the state lab cannot tell whether it made an interface: it names it.
            let want = (Some(lab.network.host), Some(lab.network.cidr.netmask()));
            for h in d.hostonly()?.into_iter().filter(|h| (h.ip, h.mask) == want) {
                reporter.note(&format!(
                    "host-only network {} holds the lab's address {}; without .lab/ lab cannot tell whether it made it, so it is left. If nothing else uses it: {}",
                    h.name,
                    lab.network.host,
                    d.remove_hostonly_command(&h.name)
                ));
            }
        }
        if let Some(ifname) = resources.get("hostonlyif") {
            self.remove_hostonly(d, lab, ifname, resources.get("hostonlyif_addr"), reporter)?;
        }
        for (k, _) in resources.iter().filter(|(k, _)| k.starts_with("dhcp_disabled:")) {
            let ifname = &k["dhcp_disabled:".len()..];
            if d.hostonly()?.iter().any(|h| h.name == ifname) {
                d.set_dhcp(ifname, true)?;
                reporter.step_done(HOST, &format!("DHCP server of {ifname} turned back on"), &Outcome::Applied, Duration::ZERO);
            }
        }
        Ok(())
    }
}

impl VirtualBox {
    /// The VM of a node, when it exists and is lab's.
    fn node_vm(&self, d: &Driver, lab: &Lab, sd: &StateDir, node: &str) -> Result<String> {
        let vm = vm_name(lab, node);
        let state = sd.load().ok().flatten();
        match d.vm(&vm)? {
            Some(info) if is_ours(&info, sd, Self::recorded_uuid(state.as_ref(), node).as_deref()) => Ok(vm),
            Some(_) => Err(Error::node(node, format!("VM {vm} is not this lab's (no lab mark)"))),
            None => Err(Error::node_hint(node, format!("VM {vm} does not exist"), "run `lab up` first")),
        }
    }

    /// The lab's VMs, found by their mark or recorded UUID (also when `.lab/` is gone).
    fn our_vms(&self, d: &Driver, lab: &Lab, sd: &StateDir, state: Option<&State>) -> Result<Vec<VmInfo>> {
        let prefix = format!("lab-{}-", lab.name);
        let uuids: Vec<String> =
            state.map(|s| s.resources.iter().filter(|(k, _)| k.starts_with("vmuuid:")).map(|(_, v)| v.to_lowercase()).collect()).unwrap_or_default();
        let mut out = Vec::new();
        for (name, uuid) in d.list_vms()? {
            if !name.starts_with(&prefix) && !uuids.contains(&uuid.to_lowercase()) {
                continue;
            }
            if let Some(info) = d.vm(&uuid)?
                && is_ours(&info, sd, uuids.iter().find(|u| **u == uuid.to_lowercase()).map(String::as_str))
            {
                out.push(info);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
