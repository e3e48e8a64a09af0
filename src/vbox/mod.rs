//! The VirtualBox provider: a host-only network, one VM per node installed unattended from the
//! OS ISO and a per-node kickstart disc, then booted from its disk. Every step looks at what
//! VirtualBox reports first, so an interrupted `lab up` continues where it stopped.

pub mod driver;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use driver::{Driver, Hardware};

use crate::error::{Error, Result};
use crate::spec::{Lab, Node};
use crate::state::{Keys, StateDir};
use crate::ui::{Outcome, Reporter};

/// What `up` created, for `destroy` (kind -> name).
pub type Created = BTreeMap<String, String>;

pub fn vm_name(lab: &Lab, node: &str) -> String {
    format!("lab-{}-{node}", lab.name)
}

fn group(lab: &Lab) -> String {
    format!("/lab-{}", lab.name)
}

/// The mark in every VM's description: only VMs carrying it are lab's.
pub fn mark(sd: &StateDir) -> String {
    format!("lab:{}", sd.path().display())
}

fn install_timeout() -> Duration {
    Duration::from_secs(std::env::var("LAB_INSTALL_TIMEOUT").ok().and_then(|v| v.parse().ok()).unwrap_or(3600))
}

fn boot_timeout() -> Duration {
    Duration::from_secs(std::env::var("LAB_BOOT_TIMEOUT").ok().and_then(|v| v.parse().ok()).unwrap_or(600))
}

/// Makes a host-only interface hold the lab's host address (reusing one that has it), with no
/// DHCP server on it. Returns its name and whether lab created it.
fn ensure_hostonly(d: &Driver, lab: &Lab) -> Result<(String, bool)> {
    let host = lab.network.host.to_string();
    let mask = lab.network.cidr.netmask().to_string();
    if d.uses_hostonlynet() {
        let nets = d.hostonly_ifs()?;
        if let Some(n) = nets.iter().find(|n| n.get("LowerIP") == Some(&host) && n.get("NetworkMask") == Some(&mask)) {
            return Ok((n.get("Name").cloned().unwrap_or_default(), false));
        }
        let name = format!("lab-{}", lab.name);
        d.run(&d.argv_hostonlynet_add(&name, &mask, &host, &host))?;
        return Ok((name, true));
    }
    let ifs = d.hostonly_ifs()?;
    let name = match ifs.iter().find(|i| i.get("IPAddress") == Some(&host) && i.get("NetworkMask") == Some(&mask)) {
        Some(i) => (i.get("Name").cloned().unwrap_or_default(), false),
        None => {
            let out = d.run_retry(&d.argv_hostonly_create())?;
            let name = out
                .lines()
                .find_map(|l| l.strip_prefix("Interface '").and_then(|r| r.split('\'').next()))
                .map(str::to_string)
                .ok_or_else(|| Error::Other(format!("cannot read the new host-only interface's name from {out:?}")))?;
            d.run_retry(&d.argv_hostonly_ipconfig(&name, &host, &mask))?;
            (name, true)
        }
    };
    // Static addresses only: a DHCP server on the interface would hand out others.
    let net = format!("HostInterfaceNetworking-{}", name.0);
    for s in d.dhcp_servers()? {
        if s.get("NetworkName") == Some(&net) && s.get("Enabled").is_some_and(|e| e == "Yes") {
            d.run_retry(&d.argv_dhcp_disable(&name.0))?;
        }
    }
    Ok(name)
}

fn media_attached(info: &BTreeMap<String, String>) -> bool {
    ["SATA-1-0", "SATA-2-0"].iter().any(|k| info.get(*k).is_some_and(|m| m != "emptydrive" && m != "none"))
}

fn state_of(info: &BTreeMap<String, String>) -> String {
    info.get("VMState").cloned().unwrap_or_default()
}

struct NodeCtx<'a> {
    d: &'a Driver,
    lab: &'a Lab,
    sd: &'a StateDir,
    keys: &'a Keys,
    iso: &'a Path,
    hostonly: &'a str,
    reporter: &'a dyn Reporter,
}

impl NodeCtx<'_> {
    fn info(&self, vm: &str) -> Result<Option<BTreeMap<String, String>>> {
        self.d.vm_info(vm)
    }

    fn phase(&self, node: &str, name: &str, start: Instant) {
        self.reporter.step_done(node, name, &Outcome::Applied, start.elapsed());
    }

    fn create(&self, node: &Node, vm: &str) -> Result<()> {
        let base = self.sd.path().join("vms");
        let folder = base.join(vm);
        if folder.exists() {
            // A folder without a registered VM: left by an interrupted create, inside lab's state.
            std::fs::remove_dir_all(&folder).map_err(|e| Error::io(format!("removing {}", folder.display()), e))?;
        }
        let image = self.lab.image.as_ref().ok_or_else(|| Error::Other("no image".into()))?;
        self.d.run(&self.d.argv_createvm(vm, &group(self.lab), &image.ostype, &base))?;
        let (nat, host_only) = crate::identity::macs(self.lab, &node.name);
        record(self.sd, &format!("mac:{}", node.name), &format!("{},{}", nat.vbox(), host_only.vbox()))?;
        let hw = Hardware {
            cpus: node.cpus,
            memory_mib: node.memory_mib,
            mac_nat: nat.vbox(),
            mac_hostonly: host_only.vbox(),
            hostonly: self.hostonly.to_string(),
            description: mark(self.sd),
        };
        self.d.run_retry(&self.d.argv_modifyvm(vm, &hw))?;
        let disk = folder.join(format!("{vm}.vdi"));
        self.d.run(&self.d.argv_createdisk(&disk, u64::from(node.disk_gib) * 1024))?;
        self.d.run_retry(&self.d.argv_storagectl(vm))?;
        self.d.run_retry(&self.d.argv_attach(vm, 0, "hdd", &disk.display().to_string()))?;
        self.d.run_retry(&self.d.argv_attach(vm, 1, "dvddrive", &self.iso.display().to_string()))?;
        let ks = crate::kickstart::render(self.lab, node, self.keys).map_err(Error::Other)?;
        let image = crate::kickstart::oemdrv::build(ks.as_bytes(), crate::kickstart::oemdrv::Timestamp::now()).map_err(Error::Other)?;
        let oem = self.oemdrv_path(&node.name);
        if let Some(dir) = oem.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        crate::state::write_atomic(&oem, &image, 0o600)?;
        self.d.run_retry(&self.d.argv_attach(vm, 2, "dvddrive", &oem.display().to_string()))?;
        Ok(())
    }

    fn oemdrv_path(&self, node: &str) -> PathBuf {
        self.sd.path().join("nodes").join(node).join("oemdrv.iso")
    }

    fn eject(&self, vm: &str) -> Result<()> {
        self.d.run_retry(&self.d.argv_attach(vm, 1, "dvddrive", "emptydrive"))?;
        self.d.run_retry(&self.d.argv_attach(vm, 2, "dvddrive", "emptydrive"))?;
        Ok(())
    }

    /// Waits for the VM to reach `want` states, or for SSH to answer (an installed system).
    fn wait(&self, vm: &str, ip: Ipv4Addr, until: Instant, want_ssh: bool) -> Result<String> {
        loop {
            let info = self.info(vm)?.ok_or_else(|| Error::Other(format!("VM {vm} disappeared")))?;
            let st = state_of(&info);
            match st.as_str() {
                "poweroff" | "aborted" | "gurumeditation" if !want_ssh => return Ok(st),
                "aborted" | "gurumeditation" => {
                    return Err(Error::Node {
                        node: vm.into(),
                        problem: format!("the VM stopped unexpectedly ({st})"),
                        hint: Some("look at the VM in the VirtualBox GUI or its log in the VM folder; hardware virtualization must be available".into()),
                    });
                }
                _ => {}
            }
            if crate::remote::ssh_answers(ip, Duration::from_millis(300)) {
                return Ok("ssh".into());
            }
            if Instant::now() > until {
                return Err(Error::Node {
                    node: vm.into(),
                    problem: format!("still {st} after the time allowed"),
                    hint: Some("raise LAB_INSTALL_TIMEOUT / LAB_BOOT_TIMEOUT on a slow machine, or open the VM in the VirtualBox GUI to see what it waits for".into()),
                });
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Drives one node's VM from whatever state it is in to "installed, running, SSH answers".
    fn ensure(&self, node: &Node) -> Result<(Outcome, bool)> {
        let vm = vm_name(self.lab, &node.name);
        let start = Instant::now();
        let mut created = false;
        let mut did = false;
        let info = match self.info(&vm)? {
            Some(i) => i,
            None => {
                self.reporter.step_start(&node.name, "vm_created");
                record(self.sd, &format!("vm:{}", node.name), &vm)?;
                self.create(node, &vm)?;
                created = true;
                did = true;
                self.phase(&node.name, &format!("vm_created ({vm})"), start);
                self.info(&vm)?.ok_or_else(|| Error::Other(format!("VM {vm} vanished after creation")))?
            }
        };
        if info.get("description") != Some(&mark(self.sd)) {
            return Err(Error::Preflight {
                problem: format!("a VM named {vm} exists and lab did not create it for this lab"),
                fix: "rename or remove that VM in VirtualBox, or rename the lab".into(),
            });
        }
        let mut st = state_of(&info);
        if media_attached(&info) {
            if st != "running" {
                self.d.run_retry(&self.d.argv_startvm(&vm))?;
            }
            let t = Instant::now();
            self.reporter.step_start(&node.name, "os_installed");
            match self.wait(&vm, node.ip, Instant::now() + install_timeout(), false)?.as_str() {
                "ssh" => {
                    // Already installed (boot order: disk first): just empty the drives.
                    self.eject(&vm)?;
                    return Ok((Outcome::Applied, created));
                }
                _ => {
                    self.phase(&node.name, "os_installed", t);
                    self.eject(&vm)?;
                    st = "poweroff".into();
                    did = true;
                }
            }
        }
        if st != "running" {
            let t = Instant::now();
            self.d.run_retry(&self.d.argv_startvm(&vm))?;
            self.wait(&vm, node.ip, Instant::now() + boot_timeout(), true)?;
            self.phase(&node.name, "vm_running", t);
            did = true;
        } else if !crate::remote::ssh_answers(node.ip, Duration::from_millis(500)) {
            self.wait(&vm, node.ip, Instant::now() + boot_timeout(), true)?;
        }
        Ok((if did { Outcome::Applied } else { Outcome::Satisfied }, created))
    }
}

/// Writes down at once that lab created something, so an interrupted run still knows.
fn record(sd: &StateDir, key: &str, value: &str) -> Result<()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().map_err(|_| Error::Other("state lock poisoned".into()))?;
    let mut st = sd.load()?.unwrap_or_default();
    if st.resources.get(key).map(String::as_str) != Some(value) {
        st.resources.insert(key.into(), value.into());
        sd.save(&st)?;
    }
    Ok(())
}

/// Brings every VM of the lab up; returns what lab created.
pub fn up(lab: &Lab, sd: &StateDir, keys: &Keys, iso: &Path, reporter: &dyn Reporter) -> Result<Created> {
    let d = Driver::detect()?;
    let start = Instant::now();
    let (hostonly, made) = ensure_hostonly(&d, lab)?;
    reporter.step_done("host", &format!("host-only network {hostonly}"), if made { &Outcome::Applied } else { &Outcome::Satisfied }, start.elapsed());
    let mut created = Created::new();
    if made {
        record(sd, "hostonlyif", &hostonly)?;
        created.insert("hostonlyif".into(), hostonly.clone());
    }
    let ctx = NodeCtx { d: &d, lab, sd, keys, iso, hostonly: &hostonly, reporter };
    let results: Vec<Result<(Outcome, bool)>> = std::thread::scope(|s| {
        let hs: Vec<_> = lab.nodes.iter().map(|n| s.spawn(|| ctx.ensure(n))).collect();
        hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Error::Other("a VM thread panicked".into())))).collect()
    });
    for (n, r) in lab.nodes.iter().zip(results) {
        let (_, made) = r?;
        if made {
            created.insert(format!("vm:{}", n.name), vm_name(lab, &n.name));
        }
    }
    Ok(created)
}

/// ACPI shutdown, then power off what is still running after `grace`.
pub fn halt(lab: &Lab, reporter: &dyn Reporter) -> Result<()> {
    let d = Driver::detect()?;
    let grace = Duration::from_secs(std::env::var("LAB_HALT_TIMEOUT").ok().and_then(|v| v.parse().ok()).unwrap_or(60));
    std::thread::scope(|s| {
        let hs: Vec<_> = lab
            .nodes
            .iter()
            .map(|n| {
                let d = &d;
                s.spawn(move || -> Result<()> {
                    let vm = vm_name(lab, &n.name);
                    let start = Instant::now();
                    let Some(info) = d.vm_info(&vm)? else { return Ok(()) };
                    if state_of(&info) != "running" {
                        reporter.step_done(&n.name, "halted", &Outcome::Satisfied, start.elapsed());
                        return Ok(());
                    }
                    let _ = d.run(&d.argv_controlvm(&vm, "acpipowerbutton"));
                    while start.elapsed() < grace {
                        if d.vm_info(&vm)?.is_some_and(|i| state_of(&i) != "running") {
                            reporter.step_done(&n.name, "halted", &Outcome::Applied, start.elapsed());
                            return Ok(());
                        }
                        std::thread::sleep(Duration::from_millis(500));
                    }
                    d.run_retry(&d.argv_controlvm(&vm, "poweroff"))?;
                    reporter.step_done(&n.name, "halted (powered off after the ACPI timeout)", &Outcome::Applied, start.elapsed());
                    Ok(())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Error::Other("panicked".into())))).collect::<Result<Vec<_>>>()
    })
    .map(drop)
}

/// Each node's VM state as VirtualBox reports it.
pub fn status(lab: &Lab) -> Result<Vec<(String, String)>> {
    let d = Driver::detect()?;
    lab.nodes
        .iter()
        .map(|n| Ok((n.name.clone(), d.vm_info(&vm_name(lab, &n.name))?.map_or_else(|| "not created".to_string(), |i| state_of(&i)))))
        .collect()
}

/// Powers off and deletes the lab's VMs and disks, and the host-only interface when lab created
/// it and no other VM uses it. Touches nothing without the lab's mark.
pub fn destroy(lab: &Lab, sd: &StateDir, created: &Created, reporter: &dyn Reporter) -> Result<()> {
    let d = match Driver::detect() {
        Ok(d) => d,
        // Nothing was ever made in VirtualBox: there is nothing to look at there.
        Err(_) if !created.keys().any(|k| k.starts_with("vm:") || k == "hostonlyif") => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut names: Vec<String> = lab.nodes.iter().map(|n| n.name.clone()).collect();
    names.extend(created.keys().filter_map(|k| k.strip_prefix("vm:")).filter(|n| !names.contains(&(*n).to_string())).map(str::to_string).collect::<Vec<_>>());
    for n in &names {
        let vm = vm_name(lab, n);
        let start = Instant::now();
        let Some(info) = d.vm_info(&vm)? else { continue };
        if info.get("description") != Some(&mark(sd)) {
            reporter.step_done(n, &format!("{vm} left alone: lab did not create it"), &Outcome::Satisfied, start.elapsed());
            continue;
        }
        if state_of(&info) == "running" || state_of(&info) == "paused" {
            let _ = d.run(&d.argv_controlvm(&vm, "poweroff"));
            let until = Instant::now() + Duration::from_secs(60);
            while d.vm_info(&vm)?.is_some_and(|i| state_of(&i) == "running" || state_of(&i) == "stopping") && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(300));
            }
        }
        d.run_retry(&d.argv_unregister(&vm))?;
        reporter.step_done(n, &format!("VM {vm} and its disk deleted"), &Outcome::Applied, start.elapsed());
    }
    if let Some(ifname) = created.get("hostonlyif") {
        // Only when no other VM is attached to it.
        let users: Vec<String> = d
            .list_vms()?
            .into_iter()
            .filter(|(name, _)| d.vm_info(name).ok().flatten().is_some_and(|i| i.iter().any(|(k, v)| k.starts_with("hostonlyadapter") && v == ifname)))
            .map(|(name, _)| name)
            .collect();
        if users.is_empty() {
            if d.uses_hostonlynet() {
                d.run_retry(&["hostonlynet".to_string(), "remove".into(), "--name".into(), ifname.clone()])?;
            } else {
                d.run_retry(&d.argv_hostonly_remove(ifname))?;
            }
            reporter.step_done("host", &format!("host-only network {ifname} removed"), &Outcome::Applied, Duration::ZERO);
        } else {
            reporter.step_done("host", &format!("host-only network {ifname} kept: used by {}", users.join(", ")), &Outcome::Satisfied, Duration::ZERO);
        }
    }
    Ok(())
}
