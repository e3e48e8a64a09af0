//! An in-process VBoxManage for fast unit tests of the driver and the provider's decisions: a
//! small stateful simulator (VMs, media registry, host-only interfaces, DHCP servers, guests
//! that install and boot), not a call recorder. The out-of-process stand-in in
//! `tests/vboxmanage-standin` is the independent one; this one is here for speed.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::error::Result;
use crate::proc::{Cmd, Output, Runner};

#[derive(Debug, Clone, Default)]
pub struct Vm {
    pub name: String,
    pub uuid: String,
    pub folder: String,
    pub description: String,
    pub state: String,
    pub sata: Option<BTreeMap<u32, String>>,
    pub nic2: String,
    /// showvminfo calls left until a running installer powers the VM off.
    pub installing: Option<u32>,
    pub installed: bool,
    pub keys_typed: bool,
    /// Snapshot names, oldest first.
    pub snapshots: Vec<String>,
}

#[derive(Debug, Default)]
pub struct World {
    pub vms: Vec<Vm>,
    pub media: Vec<String>,
    /// (name, ip, mask, dhcp enabled)
    pub hostonly: Vec<(String, String, String, bool)>,
    pub calls: Vec<String>,
    /// Labels of list outputs in another language (as a GUI language setting makes them).
    pub translated: bool,
    /// Fail the next call whose argv contains this text with a session-lock error.
    pub lock_once: Option<String>,
    /// showvminfo polls an install takes.
    pub install_polls: u32,
}

pub struct FakeVBox {
    pub world: Mutex<World>,
}

fn ok(stdout: impl Into<String>) -> Result<Output> {
    Ok(Output { code: Some(0), stdout: stdout.into(), stderr: String::new() })
}

fn err(code: i32, stderr: &str) -> Result<Output> {
    Ok(Output { code: Some(code), stdout: String::new(), stderr: stderr.to_string() })
}

fn opt<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

impl FakeVBox {
    pub fn new() -> Self {
        Self { world: Mutex::new(World { install_polls: 2, ..World::default() }) }
    }

    pub fn calls(&self, prefix: &str) -> usize {
        self.world.lock().expect("lock").calls.iter().filter(|c| c.starts_with(prefix)).count()
    }
}

const NOT_FOUND: &str = "VBoxManage: error: Could not find a registered machine named 'x'\nVBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component VirtualBoxWrap, interface IVirtualBox, callee nsISupports";
const LOCKED: &str = "VBoxManage: error: The machine is already locked for a session (or being unlocked)\nVBoxManage: error: Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007), component MachineWrap, interface IMachine, callee nsISupports";

impl Runner for FakeVBox {
    #[allow(clippy::too_many_lines)]
    fn run_raw(&self, cmd: &Cmd) -> Result<crate::proc::RawOutput> {
        self.answer(cmd).map(Into::into)
    }
}

impl FakeVBox {
    #[allow(clippy::too_many_lines)]
    fn answer(&self, cmd: &Cmd) -> Result<Output> {
        let a = cmd.arg_strings();
        let mut w = self.world.lock().expect("lock");
        let line = a.join(" ");
        w.calls.push(line.clone());
        if w.lock_once.as_ref().is_some_and(|l| line.contains(l.as_str())) {
            w.lock_once = None;
            return err(1, LOCKED);
        }
        let find = |w: &World, key: &str| w.vms.iter().position(|v| v.name == key || v.uuid == key);
        match (a.first().map(String::as_str), a.get(1).map(String::as_str)) {
            (Some("--version"), _) => ok("7.1.4r165100\n"),
            (Some("list"), Some("ostypes")) => {
                ok("ID:          RedHat_64\nDescription: Red Hat (64-bit)\n\nID:          Oracle9_arm64\nDescription: Oracle Linux 9.x (ARM 64-bit)\n\n")
            }
            (Some("list"), Some("vms")) => ok(w.vms.iter().map(|v| format!("\"{}\" {{{}}}\n", v.name, v.uuid)).collect::<String>()),
            (Some("list"), Some("hostonlyifs")) => {
                let (n, ip, mask, dhcp) =
                    if w.translated { ("Nome:", "Endereço IP:", "Máscara de rede:", "DHCP:") } else { ("Name:", "IPAddress:", "NetworkMask:", "DHCP:") };
                ok(w.hostonly
                    .iter()
                    .map(|(name, a, m, d)| {
                        format!("{n:<17}{name}\nGUID:            786f\n{dhcp:<17}{}\n{ip:<17}{a}\n{mask:<17}{m}\n\n", if *d { "Enabled" } else { "Disabled" })
                    })
                    .collect::<String>())
            }
            (Some("list"), Some("dhcpservers")) => {
                let yes = |d: bool| {
                    if w.translated {
                        if d { "Sim" } else { "Não" }
                    } else if d {
                        "Yes"
                    } else {
                        "No"
                    }
                };
                ok(w.hostonly
                    .iter()
                    .map(|(name, _, _, d)| {
                        format!("NetworkName:    HostInterfaceNetworking-{name}\nDhcpd IP:       192.168.56.100\nEnabled:        {}\n\n", yes(*d))
                    })
                    .collect::<String>())
            }
            (Some("createvm"), _) => {
                let name = opt(&a, "--name").unwrap_or("").to_string();
                if find(&w, &name).is_some() {
                    return err(1, "VBoxManage: error: Machine settings file exists\nVBoxManage: error: Details: code VBOX_E_FILE_ERROR (0x80bb0004)");
                }
                let uuid = opt(&a, "--uuid").unwrap_or("00000000-0000-4000-8000-000000000001").to_string();
                let group = opt(&a, "--groups").unwrap_or("/").trim_start_matches('/').to_string();
                let folder = format!("{}/{group}/{name}", opt(&a, "--basefolder").unwrap_or("/vms"));
                w.vms.push(Vm { name, uuid, folder, state: "poweroff".into(), ..Vm::default() });
                ok("")
            }
            (Some("showvminfo"), Some(key)) => {
                let Some(i) = find(&w, key) else { return err(1, NOT_FOUND) };
                let vm = &mut w.vms[i];
                if let Some(left) = vm.installing {
                    if left == 0 {
                        vm.installing = None;
                        vm.installed = true;
                        vm.state = "poweroff".into();
                    } else {
                        vm.installing = Some(left - 1);
                    }
                }
                let mut o = format!("name=\"{}\"\nUUID=\"{}\"\nCfgFile=\"{}/{}.vbox\"\nVMState=\"{}\"\n", vm.name, vm.uuid, vm.folder, vm.name, vm.state);
                if let Some(ports) = &vm.sata {
                    o += "storagecontrollername0=\"SATA\"\nstoragecontrollerportcount0=\"3\"\n";
                    for p in 0..3 {
                        o += &format!("\"SATA-{p}-0\"=\"{}\"\n", ports.get(&p).map_or("none", String::as_str));
                    }
                }
                if !vm.nic2.is_empty() {
                    o += &format!("nic1=\"nat\"\nhostonlyadapter2=\"{}\"\nnic2=\"hostonly\"\n", vm.nic2);
                }
                if !vm.description.is_empty() {
                    o += &format!("description=\"{}\"\n", vm.description);
                }
                // As showvminfo lists the snapshot tree: SnapshotName, SnapshotName-1, ...
                for (i, s) in vm.snapshots.iter().enumerate() {
                    o += &if i == 0 { format!("SnapshotName=\"{s}\"\n") } else { format!("SnapshotName-{i}=\"{s}\"\n") };
                }
                if let Some(last) = vm.snapshots.last() {
                    o += &format!("CurrentSnapshotName=\"{last}\"\n");
                }
                ok(o)
            }
            (Some("snapshot"), Some(key)) => {
                let Some(i) = find(&w, key) else { return err(1, NOT_FOUND) };
                let name = a.get(3).cloned().unwrap_or_default();
                let vm = &mut w.vms[i];
                let has = vm.snapshots.contains(&name);
                match a.get(2).map(String::as_str) {
                    Some("take") => vm.snapshots.push(name),
                    Some("delete" | "restore") if !has => return err(1, "VBoxManage: error: Could not find a snapshot named"),
                    Some("delete") => vm.snapshots.retain(|s| *s != name),
                    _ => {}
                }
                ok("")
            }
            (Some("modifyvm"), Some(key)) => {
                let Some(i) = find(&w, key) else { return err(1, NOT_FOUND) };
                if w.vms[i].state != "poweroff" && w.vms[i].state != "aborted" {
                    return err(1, LOCKED);
                }
                if let Some(d) = opt(&a, "--description") {
                    w.vms[i].description = d.to_string();
                }
                if let Some(h) = opt(&a, "--hostonlyadapter2") {
                    w.vms[i].nic2 = h.to_string();
                }
                ok("")
            }
            (Some("createmedium"), _) => {
                let file = opt(&a, "--filename").unwrap_or("").to_string();
                if w.media.contains(&file) {
                    return err(
                        1,
                        "VBoxManage: error: Cannot register the hard disk because a hard disk with that path already exists\nVBoxManage: error: Details: code NS_ERROR_INVALID_ARG (0x80070057)",
                    );
                }
                w.media.push(file);
                ok("Medium created. UUID: 1\n")
            }
            (Some("closemedium"), _) => {
                let file = a.get(2).cloned().unwrap_or_default();
                if !w.media.contains(&file) {
                    return err(1, "VBoxManage: error: Could not find file for the medium\nVBoxManage: error: Details: code VBOX_E_FILE_ERROR (0x80bb0004)");
                }
                w.media.retain(|m| *m != file);
                ok("")
            }
            (Some("storagectl"), Some(key)) => {
                let Some(i) = find(&w, key) else { return err(1, NOT_FOUND) };
                w.vms[i].sata = Some(BTreeMap::new());
                ok("")
            }
            (Some("storageattach"), Some(key)) => {
                let Some(i) = find(&w, key) else { return err(1, NOT_FOUND) };
                let port: u32 = opt(&a, "--port").and_then(|p| p.parse().ok()).unwrap_or(0);
                let medium = opt(&a, "--medium").unwrap_or("none").to_string();
                let Some(ports) = w.vms[i].sata.as_mut() else { return err(1, "VBoxManage: error: Could not find a controller named 'SATA'") };
                if medium == "none" {
                    ports.remove(&port);
                } else {
                    ports.insert(port, medium);
                }
                ok("")
            }
            (Some("startvm"), Some(key)) => {
                let Some(i) = find(&w, key) else { return err(1, NOT_FOUND) };
                let polls = w.install_polls;
                let vm = &mut w.vms[i];
                if vm.state == "running" {
                    return err(1, LOCKED);
                }
                vm.state = "running".into();
                let dvd = vm.sata.as_ref().is_some_and(|p| p.get(&1).is_some_and(|m| m != "emptydrive"));
                if !vm.installed && dvd {
                    vm.installing = Some(polls);
                }
                ok(format!("Waiting for VM \"{0}\" to power on...\nVM \"{0}\" has been successfully started.\n", vm.name))
            }
            (Some("controlvm"), Some(key)) => {
                let Some(i) = find(&w, key) else { return err(1, NOT_FOUND) };
                let vm = &mut w.vms[i];
                if vm.state != "running" && vm.state != "paused" {
                    return err(1, "VBoxManage: error: Machine is not currently running.");
                }
                match a.get(2).map(String::as_str) {
                    Some("poweroff" | "acpipowerbutton") => {
                        vm.state = "poweroff".into();
                        vm.installing = None;
                    }
                    Some("resume") => vm.state = "running".into(),
                    Some("keyboardputscancode") => vm.keys_typed = true,
                    _ => return err(2, "VBoxManage: error: Invalid parameter"),
                }
                ok("")
            }
            (Some("unregistervm"), Some(key)) => {
                let Some(i) = find(&w, key) else { return err(1, NOT_FOUND) };
                if w.vms[i].state == "running" {
                    return err(1, LOCKED);
                }
                let vm = w.vms.remove(i);
                if let Some(disk) = vm.sata.as_ref().and_then(|p| p.get(&0)) {
                    w.media.retain(|m| m != disk);
                }
                ok("")
            }
            (Some("hostonlyif"), Some("create")) => {
                let n = (0..).find(|n| !w.hostonly.iter().any(|h| h.0 == format!("vboxnet{n}"))).unwrap_or(0);
                w.hostonly.push((format!("vboxnet{n}"), format!("192.168.{}.1", 56 + n), "255.255.255.0".into(), n == 0));
                ok(format!("Interface 'vboxnet{n}' was successfully created\n"))
            }
            (Some("hostonlyif"), Some("ipconfig")) => {
                let name = a.get(2).cloned().unwrap_or_default();
                let (ip, mask) = (opt(&a, "--ip").unwrap_or("").to_string(), opt(&a, "--netmask").unwrap_or("").to_string());
                match w.hostonly.iter_mut().find(|h| h.0 == name) {
                    Some(h) => {
                        h.1 = ip;
                        h.2 = mask;
                        ok("")
                    }
                    None => err(1, "VBoxManage: error: Could not find a host interface\nVBoxManage: error: Details: code E_INVALIDARG (0x80070057)"),
                }
            }
            (Some("hostonlyif"), Some("remove")) => {
                let name = a.get(2).cloned().unwrap_or_default();
                w.hostonly.retain(|h| h.0 != name);
                ok("")
            }
            (Some("dhcpserver"), Some("modify")) => {
                let name = opt(&a, "--ifname").unwrap_or("").to_string();
                let on = a.iter().any(|x| x == "--enable");
                if let Some(h) = w.hostonly.iter_mut().find(|h| h.0 == name) {
                    h.3 = on;
                }
                ok("")
            }
            _ => err(2, &format!("VBoxManage: error: the fake does not know `{line}`")),
        }
    }
}
