//! A stand-in for `VBoxManage`, written apart from lab's driver (it shares no code with it) so
//! that one bug cannot hide another. It parses arguments the way VBoxManage does (`--opt value`
//! and `--opt=value`), keeps its machines on disk under `$VBOXSTANDIN_HOME`, prints VBoxManage's
//! output formats and error lines, refuses what VBoxManage refuses, logs every call to
//! `calls.log`, and fails a call on demand (each line of `$VBOXSTANDIN_HOME/fail` is a piece of
//! argv; the next call containing it fails once with a session-lock error).
//!
//! Guests live like real VMs: booted from an empty disk with an install ISO and an OEMDRV disc,
//! a guest "installs" for `$VBOXSTANDIN_INSTALL_SECONDS` (default 2), writes what it read in
//! ks.cfg (host name, static address of the host-only NIC, user, key, SSH host key) onto its disk
//! and powers off; booted from an installed disk it runs as a Linux network namespace with sshd
//! on the host-only interface (a Linux bridge named vboxnetN); with nothing bootable it runs and
//! does nothing. Needs root, like VirtualBox's own drivers.

/// What VBoxManage writes, in the encoding it writes it in (see [`encode`]).
macro_rules! out {
    ($($t:tt)*) => { $crate::emit(false, &format!($($t)*)) };
}
macro_rules! outln {
    () => { $crate::emit(false, "\n") };
    ($($t:tt)*) => { $crate::emit(false, &(format!($($t)*) + "\n")) };
}
macro_rules! errln {
    ($($t:tt)*) => { $crate::emit(true, &(format!($($t)*) + "\n")) };
}

mod anaconda;
mod appliance;
mod guest;
mod iso;
mod media;
mod mirror;

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Default, Clone, Debug)]
pub struct Attachment {
    pub kind: String,
    pub medium: String,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug)]
pub struct Controller {
    pub name: String,
    pub bus: String,
    pub ctype: String,
    pub portcount: u32,
    pub bootable: bool,
    /// "port-device" -> attachment
    pub attachments: BTreeMap<String, Attachment>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug)]
pub struct Nic {
    pub kind: String,
    pub hostonly: String,
    pub mac: String,
    pub nictype: String,
    pub cable: bool,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug)]
pub struct Vm {
    pub name: String,
    pub uuid: String,
    pub folder: String,
    pub groups: String,
    pub ostype: String,
    pub description: String,
    pub memory: u32,
    pub cpus: u32,
    pub ioapic: bool,
    pub firmware: String,
    pub boot: Vec<String>,
    pub nics: BTreeMap<u32, Nic>,
    pub controllers: Vec<Controller>,
    pub state: String,
    pub pid: Option<i32>,
    pub other: BTreeMap<String, String>,
    /// Until this time (ms since the epoch) the VM's session is still being unlocked after a
    /// power-off: calls that lock the machine fail as VirtualBox's do.
    #[serde(default)]
    pub unlock_at: u64,
    #[serde(default)]
    pub arch: String,
    /// When the VM entered its state (ms since the epoch): `VMStateChangeTime`.
    #[serde(default)]
    pub since: u64,
    #[serde(default)]
    pub snapshots: Vec<media::Snapshot>,
    #[serde(default)]
    pub current_snapshot: Option<String>,
}

impl Vm {
    /// Moves the VM to `state`, noting when.
    pub fn enter(&mut self, state: &str) {
        if self.state != state {
            self.state = state.to_string();
            self.since = now_ms();
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmm000000` (UTC) for ms since the epoch.
fn iso_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (i64::try_from(secs / 86_400).unwrap_or(0), secs % 86_400);
    // Civil date from days since 1970-01-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}000000", rem / 3600, rem % 3600 / 60, rem % 60, ms % 1000)
}

#[derive(Serialize, Deserialize, Default, Clone, Debug)]
pub struct HostOnlyIf {
    pub name: String,
    pub ip: String,
    pub mask: String,
    /// The Linux bridge behind it (the name itself on a Linux host).
    #[serde(default)]
    pub bridge: String,
}

/// A host-only *network* (macOS builds of 7.x, on Apple's vmnet).
#[derive(Serialize, Deserialize, Default, Clone, Debug)]
pub struct HostOnlyNet {
    pub name: String,
    pub mask: String,
    pub lower: String,
    pub upper: String,
    pub enabled: bool,
    pub bridge: String,
}

/// Writes `text` to stdout or stderr as VBoxManage does on this host. On Windows, IPRT's
/// stream code (`src/VBox/Runtime/r3/stream.cpp`, `rtStrmWriteLocked`) converts its UTF-8 to
/// the current code page with `RTStrUtf8ToCurrentCP` unless the stream is a console (then it
/// writes UTF-16 with `WriteConsoleW`); on Windows the current code page is the ANSI one
/// (`src/VBox/Runtime/r3/win/...`, `WideCharToMultiByte(CP_ACP, ...)`), and characters it lacks
/// become `?`, the system's default character. A test's pipe is never a console. Elsewhere it
/// writes the locale's codeset, UTF-8 under the locales lab sets.
pub fn emit(to_stderr: bool, text: &str) {
    use std::io::Write as _;
    let bytes = encode(text);
    if to_stderr {
        let _ = std::io::stderr().write_all(&bytes);
    } else {
        let _ = std::io::stdout().write_all(&bytes);
    }
}

/// The ANSI code page of the Windows personality (`$VBOXSTANDIN_ACP`, 1252 by default: Western
/// European Windows, Portuguese among them; 65001 plays the "Unicode UTF-8" system option).
fn ansi_codepage() -> u32 {
    std::env::var("VBOXSTANDIN_ACP").ok().and_then(|v| v.parse().ok()).unwrap_or(1252)
}

fn encode(text: &str) -> Vec<u8> {
    if host_os() != "windows" || ansi_codepage() == 65001 {
        return text.as_bytes().to_vec();
    }
    // Code page 1252: Latin-1 but for 0x80-0x9F, where Microsoft placed these (the table
    // Microsoft publishes as bestfit1252.txt / cp1252.txt; unassigned: 81 8D 8F 90 9D).
    const HIGH: [(u8, char); 27] = [
        (0x80, '€'),
        (0x82, '‚'),
        (0x83, 'ƒ'),
        (0x84, '„'),
        (0x85, '…'),
        (0x86, '†'),
        (0x87, '‡'),
        (0x88, 'ˆ'),
        (0x89, '‰'),
        (0x8A, 'Š'),
        (0x8B, '‹'),
        (0x8C, 'Œ'),
        (0x8E, 'Ž'),
        (0x91, '‘'),
        (0x92, '’'),
        (0x93, '“'),
        (0x94, '”'),
        (0x95, '•'),
        (0x96, '–'),
        (0x97, '—'),
        (0x98, '˜'),
        (0x99, '™'),
        (0x9A, 'š'),
        (0x9B, '›'),
        (0x9C, 'œ'),
        (0x9E, 'ž'),
        (0x9F, 'Ÿ'),
    ];
    text.chars()
        .map(|c| match u32::from(c) {
            n @ (0..=0x7F | 0xA0..=0xFF) => n as u8,
            _ => HIGH.iter().find(|(_, h)| *h == c).map_or(b'?', |(b, _)| *b),
        })
        .collect()
}

/// The host system this VirtualBox runs on (`$VBOXSTANDIN_HOST`: linux, windows or macos).
pub fn host_os() -> String {
    std::env::var("VBOXSTANDIN_HOST").unwrap_or_else(|_| "linux".into())
}

/// Host-only networks exist, and host-only interfaces no longer can be made: macOS, 7.x.
fn has_hostonlynets() -> bool {
    host_os() == "macos" && major_minor().0 >= 7
}

/// The Linux bridge behind a host-only interface or network of this name.
pub fn bridge_of(world: &World, name: &str) -> Option<String> {
    world
        .hostonlyifs
        .iter()
        .find(|i| i.name == name)
        .map(|i| if i.bridge.is_empty() { i.name.clone() } else { i.bridge.clone() })
        .or_else(|| world.hostonlynets.iter().find(|n| n.name == name).map(|n| n.bridge.clone()))
}

#[derive(Serialize, Deserialize, Default, Clone, Debug)]
pub struct Dhcp {
    pub network: String,
    pub enabled: bool,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug)]
pub struct World {
    pub vms: Vec<Vm>,
    pub hostonlyifs: Vec<HostOnlyIf>,
    #[serde(default)]
    pub hostonlynets: Vec<HostOnlyNet>,
    pub dhcp: Vec<Dhcp>,
    pub disks: BTreeMap<String, String>,
    /// Differencing disk -> its parent.
    #[serde(default)]
    pub parents: BTreeMap<String, String>,
    pub counter: u64,
}

pub fn home() -> PathBuf {
    PathBuf::from(std::env::var("VBOXSTANDIN_HOME").unwrap_or_else(|_| "/tmp/vboxmanage-standin".into()))
}

fn version_string() -> String {
    std::env::var("VBOXSTANDIN_VERSION").unwrap_or_else(|_| "7.1.4r165100".into())
}

fn major_minor() -> (u32, u32) {
    let v = version_string();
    let mut it = v.split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse().ok());
    (it.next().unwrap_or(7), it.next().unwrap_or(1))
}

/// Holds the world's lock for the whole call; released at exit.
pub struct Locked {
    _file: fs::File,
    pub world: World,
}

pub fn lock_world() -> Locked {
    let h = home();
    let _ = fs::create_dir_all(&h);
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(h.join("lock")).expect("lock file");
    file.lock().expect("lock");
    let world = fs::read_to_string(h.join("state.json")).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    Locked { _file: file, world }
}

pub fn save(world: &World) {
    let h = home();
    let tmp = h.join("state.json.tmp");
    fs::write(&tmp, serde_json::to_string_pretty(world).expect("json")).expect("write state");
    fs::rename(tmp, h.join("state.json")).expect("rename state");
}

/// Set when this call is the one after which the test wants lab killed.
static KILL_PARENT: AtomicBool = AtomicBool::new(false);

/// Ends the call. When the test asked for it (`$VBOXSTANDIN_KILL_PARENT_AFTER=k` and this is
/// the k-th call in `calls.log`), the caller, lab, is killed with SIGKILL first: lab dies right
/// after the k-th call, whatever it returned.
pub fn exit(code: i32) -> ! {
    if KILL_PARENT.load(Ordering::SeqCst) {
        let _ = std::io::stdout().flush();
        let parent = std::os::unix::process::parent_id();
        let _ = std::process::Command::new("kill").args(["-KILL", &parent.to_string()]).status();
    }
    std::process::exit(code)
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
}

/// How long a session stays locked after a power-off (`$VBOXSTANDIN_UNLOCK_MS`, default 400).
pub fn unlock_ms() -> u64 {
    std::env::var("VBOXSTANDIN_UNLOCK_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(400)
}

/// Whether the process runs under a UTF-8 locale (LC_ALL, else LC_CTYPE, else LANG).
fn utf8_locale() -> bool {
    let v = ["LC_ALL", "LC_CTYPE", "LANG"].iter().find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty())).unwrap_or_default().to_ascii_lowercase();
    v.contains("utf-8") || v.contains("utf8")
}

/// VirtualBox translates its messages since 7.0, following the GUI's language setting
/// (`$VBOXSTANDIN_LANGUAGE`, as `GUI/LanguageID` would) over the environment. Machine-readable
/// output, error codes and the `VBoxManage: error:` prefix are never translated.
pub fn tr(english: &str) -> String {
    let lang = std::env::var("VBOXSTANDIN_LANGUAGE").ok().or_else(|| std::env::var("LANGUAGE").ok()).unwrap_or_default();
    if major_minor().0 < 7 || !lang.starts_with("pt") {
        return english.to_string();
    }
    const PT: &[(&str, &str)] = &[
        ("Virtual machine '", "A máquina virtual '"),
        ("' is created and registered.", "' foi criada e registrada."),
        ("' is created.", "' foi criada."),
        ("Settings file: ", "Arquivo de configurações: "),
        ("Waiting for VM \"", "Aguardando a VM \""),
        ("\" to power on...", "\" ligar..."),
        ("\" has been successfully started.", "\" foi iniciada com sucesso."),
        ("Interface '", "A interface '"),
        ("' was successfully created", "' foi criada com sucesso"),
        ("Medium created. UUID: ", "Mídia criada. UUID: "),
        ("Could not find a registered machine named '", "Não foi possível encontrar uma máquina registrada com o nome '"),
        ("is already locked for a session (or being unlocked)", "já está bloqueada por uma sessão (ou sendo desbloqueada)"),
        ("is already locked by a session (or being locked or unlocked)", "já está bloqueada por uma sessão (ou sendo bloqueada ou desbloqueada)"),
        ("Machine settings file '", "O arquivo de configurações da máquina '"),
        ("' already exists", "' já existe"),
        ("is not currently running", "não está em execução"),
        ("Could not find a host interface named '", "Não foi possível encontrar uma interface de host com o nome '"),
        ("Could not find file for the medium '", "Não foi possível encontrar o arquivo da mídia '"),
        ("cannot be closed because it is still attached to", "não pode ser fechada porque ainda está conectada a"),
    ];
    PT.iter().fold(english.to_string(), |t, (en, pt)| t.replace(en, pt))
}

fn logo() {
    errln!("Oracle VirtualBox Command Line Management Interface Version {}", version_string().split('r').next().unwrap_or(""));
    errln!("Copyright (C) 2005-2026 Oracle and/or its affiliates\n");
}

/// A syntax error: logo, the message, exit 2.
fn syntax(msg: &str) -> ! {
    logo();
    errln!("VBoxManage: error: {msg}");
    exit(2)
}

/// A COM error: the three-line format, exit 1.
pub fn com_error(msg: &str, code: &str, hex: &str, component: &str, interface: &str, context: &str) -> ! {
    errln!("VBoxManage: error: {}", tr(msg));
    errln!("VBoxManage: error: Details: code {code} ({hex}), component {component}, interface {interface}, callee nsISupports");
    errln!("VBoxManage: error: Context: \"{context}\" at line 1 of file VBoxManageStandin.cpp");
    exit(1)
}

fn not_found(vm: &str) -> ! {
    com_error(
        &format!("Could not find a registered machine named '{vm}'"),
        "VBOX_E_OBJECT_NOT_FOUND",
        "0x80bb0001",
        "VirtualBoxWrap",
        "IVirtualBox",
        "FindMachine(Bstr(a->argv[0]).raw(), machine.asOutParam())",
    )
}

fn locked(vm: &str) -> ! {
    com_error(
        &format!("The machine '{vm}' is already locked for a session (or being unlocked)"),
        "VBOX_E_INVALID_OBJECT_STATE",
        "0x80bb0007",
        "MachineWrap",
        "IMachine",
        "LockMachine(a->session, LockType_Write)",
    )
}

/// Parses `--opt value`, `--opt=value` and positional arguments.
struct Args {
    opts: Vec<(String, String)>,
    pos: Vec<String>,
}

fn parse(args: &[String], flags: &[&str]) -> Args {
    let mut opts = Vec::new();
    let mut pos = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if let Some(rest) = a.strip_prefix("--") {
            if let Some((k, v)) = rest.split_once('=') {
                opts.push((format!("--{k}"), v.to_string()));
            } else if flags.contains(&a.as_str()) {
                opts.push((a.clone(), String::new()));
            } else {
                let Some(v) = args.get(i + 1) else { syntax(&format!("Missing argument to '{a}'")) };
                opts.push((a.clone(), v.clone()));
                i += 1;
            }
        } else {
            pos.push(a.clone());
        }
        i += 1;
    }
    Args { opts, pos }
}

impl Args {
    fn get(&self, k: &str) -> Option<&str> {
        self.opts.iter().rev().find(|(o, _)| o == k).map(|(_, v)| v.as_str())
    }
    fn has(&self, k: &str) -> bool {
        self.opts.iter().any(|(o, _)| o == k)
    }
}

fn new_uuid(world: &mut World) -> String {
    world.counter += 1;
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let mix = |x: u128| (x.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835) >> 64) as u64;
    let h = format!("{:016x}{:016x}", mix(t ^ u128::from(std::process::id())), mix(t.rotate_left(17) ^ u128::from(world.counter)));
    format!("{}-{}-4{}-8{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

pub fn find_vm<'a>(world: &'a mut World, key: &str) -> Option<&'a mut Vm> {
    world.vms.iter_mut().find(|v| v.name == key || v.uuid == key)
}

/// A VM powered off a moment ago still has its session being unlocked.
fn session_busy(vm: &Vm) -> bool {
    now_ms() < vm.unlock_at
}

fn onoff(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn on(v: &str, opt: &str) -> bool {
    match v {
        "on" => true,
        "off" => false,
        _ => syntax(&format!("Invalid {opt} argument '{v}'")),
    }
}

fn check_fault(args: &[String]) {
    let path = home().join("fail");
    let Ok(text) = fs::read_to_string(&path) else { return };
    let joined = args.join(" ");
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if let Some(i) = lines.iter().position(|l| joined.contains(l.trim())) {
        lines.remove(i);
        let _ = fs::write(&path, lines.iter().map(|l| format!("{l}\n")).collect::<String>());
        let vm = args.get(1).cloned().unwrap_or_default();
        locked(&vm);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(first) = args.first() {
        // Guest processes the stand-in starts for itself.
        match first.as_str() {
            "__guest-install" => return guest::install(&args[1]),
            "__guest-run" => return guest::run(&args[1]),
            "__guest-idle" => return guest::idle(),
            _ => {}
        }
    }
    let _ = fs::create_dir_all(home());
    {
        let _l = lock_world();
        if let Ok(mut log) = OpenOptions::new().create(true).append(true).open(home().join("calls.log")) {
            let _ = writeln!(log, "{}", args.join(" "));
        }
        if let Some(k) = std::env::var("VBOXSTANDIN_KILL_PARENT_AFTER").ok().and_then(|k| k.parse::<usize>().ok()) {
            let n = fs::read_to_string(home().join("calls.log")).map(|t| t.lines().count()).unwrap_or(0);
            KILL_PARENT.store(n == k, Ordering::SeqCst);
        }
    }
    // Linux's VBoxManage converts its arguments from the locale's codepage to UTF-8 (IPRT's
    // RTR3InitExe): under C or POSIX any byte above 127 has no translation.
    if !utf8_locale() && args.iter().any(|a| !a.is_ascii()) {
        errln!("VBoxManage: error: RTR3InitExe failed: VERR_NO_TRANSLATION (-58): could not convert the command line to UTF-8");
        exit(1);
    }
    let args: Vec<String> = args.into_iter().filter(|a| a != "-q" && a != "--nologo").collect();
    let Some(cmd) = args.first().cloned() else { syntax("No command given") };
    if cmd == "--version" || cmd == "-v" || cmd == "-V" {
        outln!("{}", version_string());
        exit(0);
    }
    check_fault(&args);
    let rest = &args[1..];
    match cmd.as_str() {
        "list" => list(rest),
        "createvm" => createvm(rest),
        "modifyvm" => modifyvm(rest),
        "createmedium" | "createhd" | "createvdi" => createmedium(rest),
        "storagectl" => storagectl(rest),
        "storageattach" => storageattach(rest),
        "startvm" => startvm(rest),
        "controlvm" => controlvm(rest),
        "showvminfo" => showvminfo(rest),
        "unregistervm" => unregistervm(rest),
        "hostonlyif" => hostonlyif(rest),
        "hostonlynet" if has_hostonlynets() => hostonlynet(rest),
        "dhcpserver" => dhcpserver(rest),
        "closemedium" => closemedium(rest),
        "clonevm" => media::clonevm(rest),
        "snapshot" => media::snapshot(rest),
        "export" => appliance::export(rest),
        "import" => appliance::import(rest),
        other => syntax(&format!("Invalid command '{other}'")),
    }
    exit(0)
}

/// The guest OS types this version knows, as `list ostypes` prints them (ID, description): a
/// slice of `Global::sOSTypes` (`src/VBox/Main/src-all/Global.cpp`). In the 7.1.4-era table
/// (`$Id: Global.cpp 106320 2024-10-15`) Red Hat has x86 entries only, while Oracle Linux,
/// Fedora, Debian and Ubuntu have ARM 64-bit ones (`VBOX_LINUX_SUBTYPE_*_A64`) and "Other" has
/// `Other_arm64`; `RedHat9_arm64` and `RedHat10_arm64` came later in 7.1 (present by 7.1.18).
/// 6.1 and 7.0 know no ARM guests.
pub fn ostypes() -> Vec<(&'static str, &'static str)> {
    let mut t = vec![
        ("Other", "Other/Unknown"),
        ("Other_64", "Other/Unknown (64-bit)"),
        ("Linux26_64", "Linux 2.6 / 3.x / 4.x / 5.x (64-bit)"),
        ("Oracle_64", "Oracle Linux (64-bit)"),
        ("Oracle9_64", "Oracle Linux 9.x (64-bit)"),
        ("RedHat_64", "Red Hat (64-bit)"),
        ("RedHat7_64", "Red Hat 7.x (64-bit)"),
        ("RedHat9_64", "Red Hat 9.x (64-bit)"),
    ];
    let (major, minor) = major_minor();
    if (major, minor) >= (7, 1) {
        t.extend([
            ("Other_arm64", "Other/Unknown (ARM 64-bit)"),
            ("Oracle_arm64", "Oracle Linux (ARM 64-bit)"),
            ("Oracle9_arm64", "Oracle Linux 9.x (ARM 64-bit)"),
            ("Fedora_arm64", "Fedora (ARM 64-bit)"),
        ]);
        let patch: u32 = version_string().split(['.', 'r', '_']).nth(2).and_then(|p| p.parse().ok()).unwrap_or(0);
        if (major, minor, patch) >= (7, 1, 18) || (major, minor) >= (7, 2) {
            t.extend([
                ("RedHat9_arm64", "Red Hat 9.x (ARM 64-bit)"),
                ("RedHat10_64", "Red Hat 10.x (64-bit)"),
                ("RedHat10_arm64", "Red Hat 10.x (ARM 64-bit)"),
            ]);
        }
    }
    t
}

fn list(rest: &[String]) {
    let mut l = lock_world();
    guest::refresh(&mut l.world);
    save(&l.world);
    match rest.iter().find(|a| !a.starts_with('-')).map(String::as_str) {
        Some("vms") => {
            for v in &l.world.vms {
                outln!("\"{}\" {{{}}}", v.name, v.uuid);
            }
        }
        Some("ostypes") => {
            for (id, desc) in ostypes() {
                let family = if id.starts_with("Other") { "Other" } else { "Linux" };
                let arch = if id.ends_with("_arm64") { "ARM64" } else { "x86" };
                outln!("{}:          {id}\n{}: {desc}\n{}:   {family}\nArchitecture: {arch}\n", tr("ID"), tr("Description"), tr("Family ID"));
            }
        }
        Some("runningvms") => {
            for v in l.world.vms.iter().filter(|v| matches!(v.state.as_str(), "running" | "paused")) {
                outln!("\"{}\" {{{}}}", v.name, v.uuid);
            }
        }
        Some("hostonlyifs") => {
            for i in &l.world.hostonlyifs {
                let dhcp = l.world.dhcp.iter().any(|d| d.network == format!("HostInterfaceNetworking-{}", i.name) && d.enabled);
                out!(
                    "Name:            {n}\nGUID:            786f6276-656e-4074-8000-0a0027000000\nDHCP:            {d}\nIPAddress:       {ip}\nNetworkMask:     {m}\nIPV6Address:     \nIPV6NetworkMaskPrefixLength: 0\nHardwareAddress: 0a:00:27:00:00:00\nMediumType:      Ethernet\nWireless:        No\nStatus:          Up\nVBoxNetworkName: HostInterfaceNetworking-{n}\n\n",
                    n = i.name,
                    d = if dhcp { "Enabled" } else { "Disabled" },
                    ip = i.ip,
                    m = i.mask
                );
            }
        }
        Some("dhcpservers") => {
            for (k, d) in l.world.dhcp.iter().enumerate() {
                if k > 0 {
                    outln!();
                }
                out!(
                    "NetworkName:    {}\nDhcpd IP:       192.168.56.100\nLowerIPAddress: 192.168.56.101\nUpperIPAddress: 192.168.56.254\nNetworkMask:    255.255.255.0\nEnabled:        {}\n",
                    d.network,
                    if d.enabled { "Yes" } else { "No" }
                );
            }
        }
        Some("systemproperties") => outln!("Default machine folder:          {}", home().join("VirtualBox VMs").display()),
        // Only macOS builds of 7.x know host-only networks.
        Some("hostonlynets") if !has_hostonlynets() => syntax("Invalid parameter 'hostonlynets'"),
        Some("hostonlynets") => {
            for n in &l.world.hostonlynets {
                out!(
                    "Name:            {}\nGUID:            5e5f0f9b-4c28-4a4b-9a84-5f8a5c1e2d3f\n\nState:           {}\nNetworkMask:     {}\nLowerIP:         {}\nUpperIP:         {}\nVBoxNetworkName: hostonly-{}\n\n",
                    n.name,
                    if n.enabled { "Enabled" } else { "Disabled" },
                    n.mask,
                    n.lower,
                    n.upper,
                    n.name
                );
            }
        }
        Some(other) => syntax(&format!("Invalid parameter '{other}'")),
        None => syntax("Missing command argument"),
    }
}

fn createvm(rest: &[String]) {
    let a = parse(rest, &["--register", "--default"]);
    if a.has("--platform-architecture") && major_minor() < (7, 1) {
        syntax("Unknown option: --platform-architecture");
    }
    let Some(name) = a.get("--name") else { syntax("Parameter --name is required") };
    let base = a.get("--basefolder").map_or_else(|| home().join("VirtualBox VMs"), PathBuf::from);
    // The first group is a folder level: `--groups /g --basefolder B` gives `B/g/<name>/`.
    let group = a.get("--groups").unwrap_or("/").split(',').next().unwrap_or("/").trim_start_matches('/').to_string();
    let folder = if group.is_empty() { base.join(name) } else { base.join(&group).join(name) };
    let cfg = folder.join(format!("{name}.vbox"));
    let mut l = lock_world();
    if cfg.exists() || l.world.vms.iter().any(|v| v.name == name) {
        com_error(
            &format!("Machine settings file '{}' already exists", cfg.display()),
            "VBOX_E_FILE_ERROR",
            "0x80bb0004",
            "MachineWrap",
            "IMachine",
            "CreateMachine(bstrSettingsFile.raw(), bstrName.raw(), ComSafeArrayAsInParam(groups), bstrOsTypeId.raw(), createFlags.raw(), machine.asOutParam())",
        );
    }
    // `CreateMachine` looks the type up (`VirtualBox::getGuestOSType`, VirtualBoxImpl.cpp): an
    // unknown one is "'%s' is not a valid Guest OS type" (E_INVALIDARG).
    if let Some(os) = a.get("--ostype").filter(|os| !ostypes().iter().any(|(id, _)| id.eq_ignore_ascii_case(os))) {
        com_error(
            &format!("'{os}' is not a valid Guest OS type"),
            "E_INVALIDARG",
            "0x80070057",
            "VirtualBoxWrap",
            "IVirtualBox",
            "CreateMachine(bstrSettingsFile.raw(), bstrName.raw(), ComSafeArrayAsInParam(groups), bstrOsTypeId.raw(), createFlags.raw(), machine.asOutParam())",
        );
    }
    let uuid = match a.get("--uuid") {
        Some(u) => {
            let u = u.trim_matches(|c| c == '{' || c == '}').to_lowercase();
            if u.len() != 36 || !u.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
                syntax(&format!("Invalid UUID '{u}'"));
            }
            if l.world.vms.iter().any(|v| v.uuid == u) {
                com_error(
                    &format!("A machine with UUID {{{u}}} already exists"),
                    "VBOX_E_OBJECT_IN_USE",
                    "0x80bb000c",
                    "VirtualBoxWrap",
                    "IVirtualBox",
                    "RegisterMachine(machine)",
                );
            }
            u
        }
        None => new_uuid(&mut l.world),
    };
    fs::create_dir_all(&folder).expect("vm folder");
    fs::write(&cfg, format!("<?xml version=\"1.0\"?>\n<!-- stand-in settings for {name} -->\n")).expect("settings");
    let vm = Vm {
        name: name.into(),
        uuid: uuid.clone(),
        folder: folder.display().to_string(),
        groups: a.get("--groups").unwrap_or("/").into(),
        ostype: a.get("--ostype").unwrap_or("Other").into(),
        memory: 128,
        cpus: 1,
        firmware: "BIOS".into(),
        boot: vec!["floppy".into(), "dvd".into(), "disk".into(), "none".into()],
        state: "poweroff".into(),
        since: now_ms(),
        arch: a.get("--platform-architecture").unwrap_or("x86").to_string(),
        ..Vm::default()
    };
    if a.has("--register") {
        l.world.vms.push(vm);
        save(&l.world);
        outln!("{}", tr(&format!("Virtual machine '{name}' is created and registered.")));
    } else {
        outln!("{}", tr(&format!("Virtual machine '{name}' is created.")));
    }
    outln!("UUID: {uuid}");
    outln!("{}", tr(&format!("Settings file: '{}'", cfg.display())));
}

/// An ARM VM (7.1+) has no x86 devices or firmware, and an x86 VM no ARM chipset: VirtualBox
/// refuses such settings for the VM's platform.
fn platform_allows(vm: &Vm, option: &str, value: &str) {
    let arm = vm.arch.eq_ignore_ascii_case("arm");
    let wrong = if arm {
        match option {
            "--ioapic" | "--pae" | "--hpet" | "--longmode" | "--long-mode" | "--x2apic" | "--hwvirtex" | "--nested-paging" => true,
            "--firmware" => !value.eq_ignore_ascii_case("efi"),
            "--chipset" => value != "armv8virtual",
            "--graphicscontroller" | "--graphics-controller" => !matches!(value, "qemuramfb" | "none"),
            "--mouse" => value == "ps2",
            "--keyboard" => value == "ps2",
            _ => false,
        }
    } else {
        matches!(option, "--chipset") && value == "armv8virtual"
    };
    if wrong {
        com_error(
            &format!("The setting '{option} {value}' is not supported by the {} platform of this VM", if arm { "ARM" } else { "x86" }),
            "VBOX_E_PLATFORM_ARCH_NOT_SUPPORTED",
            "0x80bb0012",
            "MachineWrap",
            "IMachine",
            "COMSETTER(Setting)",
        );
    }
}

/// 7.x's dashed spellings, which 6.1 does not know.
const DASHED: &[&str] =
    &["--audio-enabled", "--audio-driver", "--host-only-adapter", "--nic-type", "--cable-connected", "--mac-address", "--rtc-use-utc", "--nat-pf"];

/// `--uart<N> <I/O base> <IRQ>` and `--uartmode<N> file <path>` take two values
/// (VBoxManageModifyVM.cpp, MODIFYVM_UART / MODIFYVM_UARTMODE: the second is fetched with
/// RTGetOptFetchValue unless the first is `off`, or `disconnected`): joined here into one.
fn join_uart_values(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let two = (a.starts_with("--uart") && !a.starts_with("--uartmode") && !a.starts_with("--uarttype") && args.get(i + 1).is_some_and(|v| v != "off"))
            || (a.starts_with("--uartmode") && args.get(i + 1).is_some_and(|v| v != "disconnected"));
        if two {
            let Some(second) = args.get(i + 2) else { syntax(&format!("Missing argument to '{a}'")) };
            out.extend([a.clone(), format!("{} {second}", args[i + 1])]);
            i += 3;
        } else {
            out.push(a.clone());
            i += 1;
        }
    }
    out
}

fn modifyvm(rest: &[String]) {
    let Some(vmname) = rest.first() else { syntax("VM name or UUID required") };
    let a = parse(&join_uart_values(&rest[1..]), &[]);
    if major_minor().0 < 7
        && let Some((o, _)) = a.opts.iter().find(|(o, _)| DASHED.iter().any(|d| o.starts_with(d)))
    {
        syntax(&format!("Unknown option: {o}"));
    }
    let mut l = lock_world();
    guest::refresh(&mut l.world);
    let Some(vm) = find_vm(&mut l.world, vmname) else { not_found(vmname) };
    if vm.state != "poweroff" && vm.state != "aborted" || session_busy(vm) {
        locked(&vm.name);
    }
    for (o, v) in &a.opts {
        platform_allows(vm, o, v);
        let idx = |p: &str| o.strip_prefix(p).and_then(|n| n.parse::<u32>().ok());
        match o.as_str() {
            "--memory" => vm.memory = v.parse().unwrap_or_else(|_| syntax("Invalid memory")),
            "--cpus" => vm.cpus = v.parse().unwrap_or_else(|_| syntax("Invalid cpus")),
            "--ioapic" => vm.ioapic = on(v, o),
            "--firmware" => vm.firmware = v.to_uppercase(),
            "--description" => vm.description = v.clone(),
            "--groups" => vm.groups = v.clone(),
            "--ostype" | "--os-type" => vm.ostype = v.clone(),
            _ if idx("--boot").is_some() => {
                let n = idx("--boot").unwrap_or(1) as usize;
                if !(1..=4).contains(&n) || !["none", "floppy", "dvd", "disk", "net"].contains(&v.as_str()) {
                    syntax(&format!("Invalid boot device '{v}'"));
                }
                vm.boot[n - 1] = v.clone();
            }
            _ if idx("--nic").is_some() => {
                let n = idx("--nic").unwrap_or(1);
                let known = ["none", "null", "nat", "bridged", "intnet", "hostonly", "generic", "natnetwork"];
                if !(known.contains(&v.as_str()) || v == "hostonlynet" && has_hostonlynets()) {
                    errln!("VBoxManage: error: Invalid type '{v}' specfied for NIC {n}");
                    exit(1);
                }
                vm.nics.entry(n).or_default().kind = v.clone();
            }
            _ if has_hostonlynets() && idx("--host-only-net").or(idx("--hostonlynet")).is_some() => {
                let n = idx("--host-only-net").or(idx("--hostonlynet")).unwrap_or(1);
                vm.nics.entry(n).or_default().hostonly = v.clone();
            }
            _ if idx("--hostonlyadapter").or(idx("--host-only-adapter")).is_some() => {
                let n = idx("--hostonlyadapter").or(idx("--host-only-adapter")).unwrap_or(1);
                vm.nics.entry(n).or_default().hostonly = v.clone();
            }
            _ if idx("--macaddress").or(idx("--mac-address")).is_some() => {
                let n = idx("--macaddress").or(idx("--mac-address")).unwrap_or(1);
                let ok = v.len() == 12 && v.chars().all(|c| c.is_ascii_hexdigit()) && u8::from_str_radix(&v[1..2], 16).is_ok_and(|d| d % 2 == 0);
                if !ok && v != "auto" {
                    syntax(&format!("Invalid MAC address '{v}'"));
                }
                vm.nics.entry(n).or_default().mac = v.to_uppercase();
            }
            _ if idx("--nictype").or(idx("--nic-type")).is_some() => {
                let n = idx("--nictype").or(idx("--nic-type")).unwrap_or(1);
                vm.nics.entry(n).or_default().nictype = v.clone();
            }
            _ if idx("--cableconnected").or(idx("--cable-connected")).is_some() => {
                let n = idx("--cableconnected").or(idx("--cable-connected")).unwrap_or(1);
                vm.nics.entry(n).or_default().cable = on(v, o);
            }
            "--rtcuseutc"
            | "--rtc-use-utc"
            | "--graphicscontroller"
            | "--vram"
            | "--mouse"
            | "--usb"
            | "--audio"
            | "--audio-enabled"
            | "--audio-driver"
            | "--chipset"
            | "--keyboard"
            | "--usbxhci"
            | "--acpi"
            | "--pae" => {
                vm.other.insert(o.trim_start_matches('-').replace('-', ""), v.clone());
            }
            _ if idx("--uartmode").is_some() => {
                let n = idx("--uartmode").unwrap_or(1);
                match v.split_once(' ') {
                    Some(("file", path)) => vm.other.insert(format!("uartmode{n}"), format!("file,{path}")),
                    _ if v == "disconnected" => vm.other.insert(format!("uartmode{n}"), "disconnected".into()),
                    _ => syntax(&format!("Invalid UART mode '{v}'")),
                };
            }
            _ if idx("--uart").is_some() => {
                let n = idx("--uart").unwrap_or(1);
                if v == "off" {
                    vm.other.remove(&format!("uart{n}"));
                } else {
                    let (base, irq) = v.split_once(' ').unwrap_or_else(|| syntax("Missing argument to '--uart'"));
                    let base = u32::from_str_radix(base.trim_start_matches("0x").trim_start_matches("0X"), 16).unwrap_or_else(|_| syntax("Invalid I/O base"));
                    vm.other.insert(format!("uart{n}"), format!("{base:#06x},{irq}"));
                }
            }
            other => syntax(&format!("Unknown option: {other}")),
        }
    }
    save(&l.world);
}

fn createmedium(rest: &[String]) {
    let a = parse(rest, &[]);
    let Some(file) = a.get("--filename") else { syntax("Parameters --filename is required") };
    let size = a.get("--size").or(a.get("--sizebyte")).unwrap_or_else(|| syntax("Parameter --size is required"));
    let _ = size;
    let mut l = lock_world();
    if let Some(uuid) = l.world.disks.get(file) {
        com_error(
            &format!("Cannot register the hard disk '{file}' {{{uuid}}} because a hard disk '{file}' with UUID {{{uuid}}} already exists"),
            "VBOX_E_OBJECT_IN_USE",
            "0x80bb000c",
            "VirtualBoxWrap",
            "IVirtualBox",
            "CreateMedium(Bstr(format).raw(), Bstr(pszFilename).raw(), AccessMode_ReadWrite, DeviceType_HardDisk, pMedium.asOutParam())",
        );
    }
    if Path::new(file).exists() {
        errln!("0%...");
        errln!("VBoxManage: error: Failed to create medium");
        errln!("VBoxManage: error: Could not create the medium storage unit '{file}'.");
        errln!("VBoxManage: error: VDI: cannot create image '{file}' (VERR_ALREADY_EXISTS)");
        exit(1);
    }
    if let Some(dir) = Path::new(file).parent() {
        let _ = fs::create_dir_all(dir);
    }
    fs::write(file, "{\"installed\": false}\n").expect("disk");
    let uuid = new_uuid(&mut l.world);
    l.world.disks.insert(file.to_string(), uuid.clone());
    save(&l.world);
    errln!("0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%");
    outln!("{}", tr(&format!("Medium created. UUID: {uuid}")));
}

/// `closemedium [disk|dvd|floppy] <uuid|filename> [--delete]`: unregisters a medium (and
/// deletes its file), refused while a VM has it attached.
fn closemedium(rest: &[String]) {
    let a = parse(rest, &["--delete"]);
    let Some(target) = a.pos.iter().find(|p| !["disk", "dvd", "floppy"].contains(&p.as_str())) else { syntax("Missing medium") };
    let mut l = lock_world();
    let path = l.world.disks.iter().find(|(p, u)| *p == target || *u == target).map(|(p, _)| p.clone());
    let path = match path {
        Some(p) => p,
        None if Path::new(target).exists() => target.clone(),
        None => com_error(
            &format!("Could not find file for the medium '{target}' (VERR_FILE_NOT_FOUND)"),
            "VBOX_E_FILE_ERROR",
            "0x80bb0004",
            "MediumWrap",
            "IMedium",
            "OpenMedium(Bstr(pszFilenameOrUuid).raw(), enmDevType, enmAccessMode, fForceNewUuidOnOpen, pMedium.asOutParam())",
        ),
    };
    media::refuse_close_with_children(&l.world, &path);
    let users: Vec<String> =
        l.world.vms.iter().filter(|v| v.controllers.iter().any(|c| c.attachments.values().any(|x| x.medium == path))).map(|v| v.name.clone()).collect();
    if !users.is_empty() {
        com_error(
            &format!("Medium '{path}' cannot be closed because it is still attached to {} virtual machines", users.len()),
            "VBOX_E_OBJECT_IN_USE",
            "0x80bb000c",
            "MediumWrap",
            "IMedium",
            "Close()",
        );
    }
    l.world.disks.remove(&path);
    l.world.parents.remove(&path);
    if a.has("--delete") {
        errln!("0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%");
        let _ = fs::remove_file(&path);
        let _ = fs::remove_dir_all(media::layer(&path));
    }
    save(&l.world);
}

fn storagectl(rest: &[String]) {
    let Some(vmname) = rest.first() else { syntax("VM name or UUID required") };
    let a = parse(&rest[1..], &["--remove"]);
    let Some(name) = a.get("--name") else { syntax("Storage controller name not specified") };
    let mut l = lock_world();
    guest::refresh(&mut l.world);
    let Some(vm) = find_vm(&mut l.world, vmname) else { not_found(vmname) };
    if vm.state != "poweroff" && vm.state != "aborted" || session_busy(vm) {
        locked(&vm.name);
    }
    if let Some(bus) = a.get("--add") {
        if vm.arch.eq_ignore_ascii_case("arm") && matches!(bus, "ide" | "floppy" | "sas") {
            com_error(
                &format!("The storage bus '{bus}' does not exist on the ARM platform"),
                "VBOX_E_PLATFORM_ARCH_NOT_SUPPORTED",
                "0x80bb0012",
                "SessionMachine",
                "IMachine",
                "AddStorageController(Bstr(pszCtl).raw(), StorageBus_IDE, ctl.asOutParam())",
            );
        }
        if vm.controllers.iter().any(|c| c.name == name) {
            com_error(
                &format!("Storage controller named '{name}' already exists"),
                "VBOX_E_OBJECT_IN_USE",
                "0x80bb000c",
                "SessionMachine",
                "IMachine",
                "AddStorageController(Bstr(pszCtl).raw(), StorageBus_SATA, ctl.asOutParam())",
            );
        }
        vm.controllers.push(Controller {
            name: name.into(),
            bus: bus.into(),
            ctype: a.get("--controller").unwrap_or(if bus == "sata" { "IntelAhci" } else { "PIIX4" }).into(),
            portcount: a.get("--portcount").and_then(|p| p.parse().ok()).unwrap_or(if bus == "sata" { 30 } else { 2 }),
            bootable: a.get("--bootable").is_none_or(|b| on(b, "--bootable")),
            attachments: BTreeMap::new(),
        });
    } else if a.has("--remove") {
        vm.controllers.retain(|c| c.name != name);
    }
    save(&l.world);
}

fn storageattach(rest: &[String]) {
    let Some(vmname) = rest.first() else { syntax("VM name or UUID required") };
    let a = parse(&rest[1..], &["--forceunmount"]);
    let Some(ctl) = a.get("--storagectl") else { syntax("Storage controller name not specified") };
    let port = a.get("--port").unwrap_or_else(|| syntax("Port not specified"));
    let device = a.get("--device").unwrap_or("0");
    let Some(medium) = a.get("--medium") else { syntax("Medium not specified") };
    let kind = a.get("--type").unwrap_or("");
    if !kind.is_empty() && !["dvddrive", "hdd", "fdd"].contains(&kind) {
        syntax(&format!("Invalid --type argument '{kind}'"));
    }
    let mut l = lock_world();
    guest::refresh(&mut l.world);
    // A disk attached by path is opened and registered, as VirtualBox does.
    let known = l.world.disks.contains_key(medium);
    let mut register = false;
    let Some(vm) = find_vm(&mut l.world, vmname) else { not_found(vmname) };
    if session_busy(vm) {
        locked(&vm.name);
    }
    let running = vm.state == "running";
    let vmname = vm.name.clone();
    let Some(c) = vm.controllers.iter_mut().find(|c| c.name == ctl) else {
        errln!("VBoxManage: error: Could not find a controller named '{ctl}'");
        exit(1);
    };
    let key = format!("{port}-{device}");
    if running && kind == "hdd" {
        locked(&vmname);
    }
    if medium != "none" && medium != "emptydrive" && !Path::new(medium).exists() {
        com_error(
            &format!("Could not find file for the medium '{medium}' (VERR_FILE_NOT_FOUND)"),
            "VBOX_E_FILE_ERROR",
            "0x80bb0004",
            "MediumWrap",
            "IMedium",
            "OpenMedium(Bstr(pszMedium).raw(), devTypeRequested, accessMode, fForceNewUuidOnOpen, pMedium.asOutParam())",
        );
    }
    match medium {
        "none" => {
            c.attachments.remove(&key);
        }
        _ => {
            let prev_kind = c.attachments.get(&key).map(|x| x.kind.clone()).unwrap_or_default();
            let kind = if kind.is_empty() { prev_kind } else { kind.to_string() };
            register = kind == "hdd" && !known;
            if port.parse::<u32>().is_ok_and(|p| p >= c.portcount) {
                c.portcount = port.parse::<u32>().unwrap_or(0) + 1;
            }
            c.attachments.insert(key, Attachment { kind, medium: medium.to_string() });
        }
    }
    if register {
        let uuid = new_uuid(&mut l.world);
        l.world.disks.insert(medium.to_string(), uuid);
    }
    save(&l.world);
}

fn startvm(rest: &[String]) {
    let a = parse(rest, &[]);
    let mut l = lock_world();
    guest::refresh(&mut l.world);
    for name in &a.pos {
        let ifs: Vec<String> = l.world.hostonlyifs.iter().map(|i| i.name.clone()).chain(l.world.hostonlynets.iter().map(|n| n.name.clone())).collect();
        let Some(vm) = find_vm(&mut l.world, name) else { not_found(name) };
        if session_busy(vm) {
            locked(&vm.name);
        }
        let host_arch = std::env::var("VBOXSTANDIN_HOST_ARCH").unwrap_or_else(|_| "x86".into());
        if !vm.arch.is_empty() && vm.arch.to_lowercase() != host_arch.to_lowercase() {
            com_error(
                &format!("Cannot run the machine because its platform architecture {} is not supported on {host_arch}", vm.arch),
                "VBOX_E_PLATFORM_ARCH_NOT_SUPPORTED",
                "0x80bb0012",
                "MachineWrap",
                "IMachine",
                "LaunchVMProcess(a->session, sessionType.raw(), ComSafeArrayAsInParam(aBstrEnv), progress.asOutParam())",
            );
        }
        if vm.state == "running" {
            com_error(
                &format!("The machine '{}' is already locked by a session (or being locked or unlocked)", vm.name),
                "VBOX_E_INVALID_OBJECT_STATE",
                "0x80bb0007",
                "MachineWrap",
                "IMachine",
                "LaunchVMProcess(a->session, sessionType.raw(), ComSafeArrayAsInParam(aBstrEnv), progress.asOutParam())",
            );
        }
        if let Some(nic) = vm.nics.values().find(|n| n.kind == "hostonly" || n.kind == "hostonlynet")
            && !ifs.contains(&nic.hostonly)
        {
            com_error(
                &format!("Nonexistent host networking interface, name '{}' (VERR_INTERNAL_ERROR)", nic.hostonly),
                "NS_ERROR_FAILURE",
                "0x80004005",
                "ConsoleWrap",
                "IConsole",
                "PowerUp",
            );
        }
        let vm = find_vm(&mut l.world, name).expect("just found");
        outln!("{}", tr(&format!("Waiting for VM \"{}\" to power on...", vm.name)));
        guest::boot(vm);
        outln!("{}", tr(&format!("VM \"{}\" has been successfully started.", vm.name)));
    }
    save(&l.world);
}

fn controlvm(rest: &[String]) {
    let (Some(vmname), Some(action)) = (rest.first(), rest.get(1)) else { syntax("Not enough parameters") };
    let mut l = lock_world();
    guest::refresh(&mut l.world);
    let Some(vm) = find_vm(&mut l.world, vmname) else { not_found(vmname) };
    if !matches!(vm.state.as_str(), "running" | "paused" | "gurumeditation") {
        errln!("VBoxManage: error: {}", tr(&format!("Machine '{}' is not currently running.", vm.name)));
        exit(1);
    }
    match action.as_str() {
        "poweroff" => {
            errln!("0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%");
            guest::stop(vm, true);
            vm.unlock_at = now_ms() + unlock_ms();
        }
        "acpipowerbutton" if vm.state == "running" => guest::stop(vm, false),
        "pause" if vm.state == "running" => vm.enter("paused"),
        "resume" if vm.state == "paused" => vm.enter("running"),
        "acpipowerbutton" | "pause" | "resume" => {
            com_error(&format!("Invalid machine state: {}", vm.state), "VBOX_E_INVALID_VM_STATE", "0x80bb0002", "ConsoleWrap", "IConsole", "Pause()")
        }
        "keyboardputscancode" => {
            // The guest's keyboard: the codes are kept for the boot menu to read.
            let codes: Vec<&str> = rest[2..].iter().map(String::as_str).collect();
            if codes.is_empty() || codes.iter().any(|c| c.len() != 2 || u8::from_str_radix(c, 16).is_err()) {
                syntax("Error: '<hex>' is not a hex byte!");
            }
            let keys = vm.other.entry("keys".into()).or_default();
            keys.push_str(&codes.join(" "));
            keys.push(' ');
        }
        "keyboardputstring" => {}
        other => syntax(&format!("Invalid parameter '{other}'")),
    }
    save(&l.world);
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

fn showvminfo(rest: &[String]) {
    let Some(vmname) = rest.first() else { syntax("VM name or UUID required") };
    let mut l = lock_world();
    guest::refresh(&mut l.world);
    save(&l.world);
    let disks = l.world.disks.clone();
    let Some(vm) = find_vm(&mut l.world, vmname) else {
        com_error(
            &format!("Could not find a registered machine named '{vmname}'"),
            "VBOX_E_OBJECT_NOT_FOUND",
            "0x80bb0001",
            "VirtualBoxWrap",
            "IVirtualBox",
            "FindMachine(Bstr(VMNameOrUuid).raw(), machine.asOutParam())",
        )
    };
    if !rest.iter().any(|a| a == "--machinereadable" || a == "-m") {
        outln!("Name:                        {}\nState:                       {}", vm.name, vm.state);
        return;
    }
    let (major, minor) = major_minor();
    let mut o = String::new();
    o += &format!("name=\"{}\"\n", esc(&vm.name));
    if (major, minor) >= (7, 1) {
        o += "encryption=\"disabled\"\n";
    } else if major == 7 {
        o += "Encryption:     disabled\n";
    }
    o += &format!("groups=\"{}\"\n", esc(&vm.groups));
    if (major, minor) >= (7, 1) {
        o += &format!("platformArchitecture=\"{}\"\n", if vm.arch.eq_ignore_ascii_case("arm") { "ARM" } else { "x86" });
    }
    let ostype = if vm.ostype == "RedHat_64" { "Red Hat (64-bit)".to_string() } else { vm.ostype.clone() };
    o += &format!("ostype=\"{ostype}\"\nUUID=\"{}\"\nCfgFile=\"{}/{}.vbox\"\n", vm.uuid, esc(&vm.folder), esc(&vm.name));
    o += &format!("memory={}\nvram=16\ncpus={}\nfirmware=\"{}\"\n", vm.memory, vm.cpus, vm.firmware);
    for (i, b) in vm.boot.iter().enumerate() {
        o += &format!("boot{}=\"{b}\"\n", i + 1);
    }
    o += &format!("ioapic=\"{}\"\nVMState=\"{}\"\nVMStateChangeTime=\"{}\"\n", onoff(vm.ioapic), vm.state, iso_utc(vm.since));
    for (i, c) in vm.controllers.iter().enumerate() {
        o += &format!(
            "storagecontrollername{i}=\"{}\"\nstoragecontrollertype{i}=\"{}\"\nstoragecontrollerinstance{i}=\"0\"\nstoragecontrollermaxportcount{i}=\"30\"\nstoragecontrollerportcount{i}=\"{}\"\nstoragecontrollerbootable{i}=\"{}\"\n",
            c.name,
            c.ctype,
            c.portcount,
            onoff(c.bootable)
        );
    }
    for c in &vm.controllers {
        for p in 0..c.portcount {
            match c.attachments.get(&format!("{p}-0")) {
                Some(att) => {
                    o += &format!("\"{}-{p}-0\"=\"{}\"\n", c.name, esc(&att.medium));
                    if att.medium != "emptydrive" {
                        o += &format!(
                            "\"{}-ImageUUID-{p}-0\"=\"{}\"\n",
                            c.name,
                            disks.get(&att.medium).cloned().unwrap_or_else(|| "00000000-0000-0000-0000-000000000000".into())
                        );
                    }
                    if att.kind == "dvddrive" {
                        o += &format!("\"{}-tempeject-{p}-0\"=\"off\"\n\"{}-IsEjected-{p}-0\"=\"off\"\n", c.name, c.name);
                    }
                }
                None => o += &format!("\"{}-{p}-0\"=\"none\"\n", c.name),
            }
        }
    }
    for n in 1..=8u32 {
        match vm.nics.get(&n).filter(|x| x.kind != "none" && !x.kind.is_empty()) {
            Some(nic) => {
                if nic.kind == "nat" {
                    o += &format!("natnet{n}=\"nat\"\n");
                } else if nic.kind == "hostonly" {
                    o += &format!("hostonlyadapter{n}=\"{}\"\n", nic.hostonly);
                } else if nic.kind == "hostonlynet" {
                    o += &format!("hostonly-network{n}=\"{}\"\n", nic.hostonly);
                }
                o += &format!(
                    "macaddress{n}=\"{}\"\ncableconnected{n}=\"{}\"\nnic{n}=\"{}\"\nnictype{n}=\"{}\"\nnicspeed{n}=\"0\"\n",
                    nic.mac,
                    onoff(nic.cable),
                    if nic.kind == "hostonlynet" { "hostonlynetwork" } else { &nic.kind },
                    if nic.nictype.is_empty() { "82540EM" } else { &nic.nictype }
                );
            }
            None => o += &format!("nic{n}=\"none\"\n"),
        }
    }
    // Serial ports as VBoxManageInfo.cpp prints them machine-readably: `uart1="0x03f8,4"`,
    // `uartmode1="file,<path>"`, or `uart1="off"`.
    for n in 1..=2 {
        match vm.other.get(&format!("uart{n}")) {
            Some(u) => {
                o += &format!("uart{n}=\"{u}\"\n");
                o += &format!("uartmode{n}=\"{}\"\n", esc(vm.other.get(&format!("uartmode{n}")).map_or("disconnected", String::as_str)));
            }
            None => o += &format!("uart{n}=\"off\"\n"),
        }
    }
    if !vm.description.is_empty() {
        o += &format!("description=\"{}\"\n", esc(&vm.description));
    }
    o += &media::tree(vm, true);
    out!("{o}");
}

fn unregistervm(rest: &[String]) {
    let Some(vmname) = rest.first() else { syntax("VM name or UUID required") };
    let delete = rest.iter().any(|a| a == "--delete" || a == "--delete-all");
    let mut l = lock_world();
    guest::refresh(&mut l.world);
    let Some(vm) = find_vm(&mut l.world, vmname).cloned() else { not_found(vmname) };
    if session_busy(&vm) {
        locked(&vm.name);
    }
    if matches!(vm.state.as_str(), "running" | "paused" | "gurumeditation" | "stopping") {
        com_error(
            &format!("Cannot unregister the machine '{}' while it is locked", vm.name),
            "VBOX_E_INVALID_OBJECT_STATE",
            "0x80bb0007",
            "MachineWrap",
            "IMachine",
            "Unregister(CleanupMode_DetachAllReturnHardDisksOnly, ComSafeArrayAsOutParam(aMedia))",
        );
    }
    if delete {
        // Refused, before anything goes, while another VM's disk is a child of one of its own.
        media::delete_all(&mut l.world, &vm);
    }
    l.world.vms.retain(|v| v.uuid != vm.uuid);
    if delete {
        errln!("0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%");
        guest::forget(&vm);
        let _ = fs::remove_dir_all(&vm.folder);
    }
    save(&l.world);
}

fn networks_conf_allows(ip: &str) -> bool {
    let path = std::env::var("VBOXSTANDIN_NETWORKS_CONF").unwrap_or_else(|_| "/etc/vbox/networks.conf".into());
    allowed_by(ip, fs::read_to_string(&path).ok().as_deref())
}

/// VirtualBox's rule: without networks.conf only 192.168.56.0/21; with it, its `*` lines.
fn allowed_by(ip: &str, conf: Option<&str>) -> bool {
    let to_u32 = |s: &str| -> Option<u32> {
        let p: Vec<u32> = s.split('.').filter_map(|x| x.parse().ok()).collect();
        (p.len() == 4).then(|| (p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3])
    };
    let Some(addr) = to_u32(ip) else { return false };
    let ranges: Vec<(u32, u32)> = match conf {
        Some(text) => text
            .lines()
            .filter_map(|l| l.trim().strip_prefix('*'))
            .flat_map(|r| r.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .filter_map(|c| {
                let (a, p) = c.split_once('/')?;
                let p: u32 = p.parse().ok()?;
                Some((to_u32(a)?, p))
            })
            .collect(),
        None => vec![(to_u32("192.168.56.0").unwrap_or(0), 21)],
    };
    ranges.iter().any(|(net, p)| {
        let mask = if *p == 0 { 0 } else { u32::MAX << (32 - p) };
        addr & mask == net & mask
    })
}

fn hostonlyif(rest: &[String]) {
    let Some(sub) = rest.first() else { syntax("Not enough parameters") };
    let mut l = lock_world();
    match sub.as_str() {
        "create" if has_hostonlynets() => {
            // macOS 7.x: interfaces are gone (no vboxnetadp driver); networks replace them.
            errln!("0%...");
            errln!("VBoxManage: error: Failed to create the host-only adapter");
            errln!("VBoxManage: error: VBoxNetAdpCtl: Error while adding new interface: failed to open /dev/vboxnetctl: No such file or directory");
            errln!("VBoxManage: error: Details: code NS_ERROR_FAILURE (0x80004005), component HostNetworkInterfaceWrap, interface IHostNetworkInterface");
            exit(1);
        }
        "create" => {
            // The lowest free vboxnetN; another stand-in (another test) may take one meanwhile.
            // Windows names its adapters "VirtualBox Host-Only Ethernet Adapter", then " #2".
            let mut n = 0;
            let display = |n: usize| match (host_os().as_str(), n) {
                ("windows", 0) => "VirtualBox Host-Only Ethernet Adapter".to_string(),
                ("windows", n) => format!("VirtualBox Host-Only Ethernet Adapter #{}", n + 1),
                (_, n) => format!("vboxnet{n}"),
            };
            let bridge = loop {
                let bridge = format!("vboxnet{n}");
                let taken =
                    l.world.hostonlyifs.iter().any(|i| i.name == display(n) || i.bridge == bridge) || Path::new(&format!("/sys/class/net/{bridge}")).exists();
                if !taken && guest::sh(&format!("ip link add {bridge} type bridge")) {
                    break bridge;
                }
                n += 1;
                if n > 64 {
                    break String::new();
                }
            };
            let name = display(n);
            if bridge.is_empty() || !guest::sh(&format!("ip link set {bridge} up")) {
                errln!("0%...");
                errln!("VBoxManage: error: Failed to create the host-only adapter");
                errln!("VBoxManage: error: VBoxNetAdpCtl: Error while adding new interface: failed to open /dev/vboxnetctl: No such file or directory");
                exit(1);
            }
            let ip = format!("192.168.{}.1", 56 + n);
            guest::sh(&format!("ip addr add {ip}/24 dev {bridge}"));
            l.world.hostonlyifs.push(HostOnlyIf { name: name.clone(), ip, mask: "255.255.255.0".into(), bridge });
            l.world.dhcp.push(Dhcp { network: format!("HostInterfaceNetworking-{name}"), enabled: n == 0 });
            save(&l.world);
            errln!("0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%");
            outln!("{}", tr(&format!("Interface '{name}' was successfully created")));
        }
        "ipconfig" => {
            let Some(name) = rest.get(1) else { syntax("Not enough parameters") };
            let a = parse(&rest[2..], &["--dhcp"]);
            let Some(ip) = a.get("--ip") else { syntax("Neither -dhcp nor -ip nor -ipv6 was specfified") };
            let mask = a.get("--netmask").unwrap_or("255.255.255.0").to_string();
            let Some(i) = l.world.hostonlyifs.iter_mut().find(|i| &i.name == name) else {
                com_error(
                    &format!("Could not find a host interface named '{name}'"),
                    "E_INVALIDARG",
                    "0x80070057",
                    "HostWrap",
                    "IHost",
                    "FindHostNetworkInterfaceByName(name.raw(), hif.asOutParam())",
                );
            };
            if !networks_conf_allows(ip) {
                errln!("VBoxManage: error: Code E_ACCESSDENIED (0x80070005) - Access denied (extended info not available)");
                errln!(
                    "VBoxManage: error: Context: \"EnableStaticIPConfig(Bstr(pszIp).raw(), Bstr(pszNetmask).raw())\" at line 242 of file VBoxManageHostonly.cpp"
                );
                exit(1);
            }
            let prefix = mask.split('.').filter_map(|x| x.parse::<u8>().ok()).map(u8::count_ones).sum::<u32>();
            let bridge = if i.bridge.is_empty() { i.name.clone() } else { i.bridge.clone() };
            guest::sh(&format!("ip addr flush dev {bridge} && ip addr add {ip}/{prefix} dev {bridge}"));
            i.ip = ip.to_string();
            i.mask = mask;
            save(&l.world);
        }
        "remove" => {
            let Some(name) = rest.get(1) else { syntax("Not enough parameters") };
            if !l.world.hostonlyifs.iter().any(|i| &i.name == name) {
                com_error(
                    &format!("Could not find a host interface named '{name}'"),
                    "E_INVALIDARG",
                    "0x80070057",
                    "HostWrap",
                    "IHost",
                    "FindHostNetworkInterfaceByName(name.raw(), hif.asOutParam())",
                );
            }
            let bridge = bridge_of(&l.world, name).unwrap_or_else(|| name.clone());
            guest::sh(&format!("ip link del {bridge}"));
            l.world.hostonlyifs.retain(|i| &i.name != name);
            l.world.dhcp.retain(|d| d.network != format!("HostInterfaceNetworking-{name}"));
            save(&l.world);
            errln!("0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%");
        }
        other => syntax(&format!("Invalid parameter '{other}'")),
    }
}

/// `hostonlynet add|modify|remove` (macOS, 7.x). The host takes the network's lower address.
fn hostonlynet(rest: &[String]) {
    let Some(sub) = rest.first() else { syntax("Not enough parameters") };
    let a = parse(&rest[1..], &["--enable", "--disable"]);
    let Some(name) = a.get("--name").map(str::to_string) else { syntax("Missing --name") };
    let mut l = lock_world();
    match sub.as_str() {
        "add" => {
            if l.world.hostonlynets.iter().any(|n| n.name == name) {
                com_error(
                    &format!("Host-only network '{name}' already exists"),
                    "E_INVALIDARG",
                    "0x80070057",
                    "VirtualBoxWrap",
                    "IVirtualBox",
                    "CreateHostOnlyNetwork(bstrNetworkName.raw(), hostOnlyNetwork.asOutParam())",
                );
            }
            let (Some(mask), Some(lower), Some(upper)) = (a.get("--netmask"), a.get("--lower-ip"), a.get("--upper-ip")) else {
                syntax("A network mask, lower and upper IP address are required")
            };
            let bridge = (0..64)
                .map(|n| format!("vbxnet{n}"))
                .find(|b| !Path::new(&format!("/sys/class/net/{b}")).exists() && guest::sh(&format!("ip link add {b} type bridge")));
            let Some(bridge) = bridge else {
                errln!("VBoxManage: error: Failed to create the host-only network");
                exit(1);
            };
            let prefix = mask.split('.').filter_map(|x| x.parse::<u8>().ok()).map(u8::count_ones).sum::<u32>();
            guest::sh(&format!("ip addr add {lower}/{prefix} dev {bridge} && ip link set {bridge} up"));
            l.world.hostonlynets.push(HostOnlyNet {
                name,
                mask: mask.to_string(),
                lower: lower.to_string(),
                upper: upper.to_string(),
                enabled: a.has("--enable"),
                bridge,
            });
        }
        "remove" => {
            let Some(n) = l.world.hostonlynets.iter().position(|n| n.name == name) else {
                com_error(
                    &format!("Could not find a host-only network named '{name}'"),
                    "VBOX_E_OBJECT_NOT_FOUND",
                    "0x80bb0001",
                    "VirtualBoxWrap",
                    "IVirtualBox",
                    "FindHostOnlyNetworkByName(bstrNetworkName.raw(), hostOnlyNetwork.asOutParam())",
                );
            };
            let net = l.world.hostonlynets.remove(n);
            guest::sh(&format!("ip link del {}", net.bridge));
        }
        other => syntax(&format!("Invalid parameter '{other}'")),
    }
    save(&l.world);
}

fn dhcpserver(rest: &[String]) {
    let Some(sub) = rest.first() else { syntax("Not enough parameters") };
    let a = parse(&rest[1..], &["--disable", "--enable"]);
    let net = a
        .get("--network")
        .or(a.get("--netname"))
        .map(str::to_string)
        .or_else(|| a.get("--interface").or(a.get("--ifname")).map(|i| format!("HostInterfaceNetworking-{i}")));
    let Some(net) = net else { syntax("You need to specify either --network or --interface to identify the DHCP server") };
    let mut l = lock_world();
    match sub.as_str() {
        "modify" => match l.world.dhcp.iter_mut().find(|d| d.network == net) {
            Some(d) => {
                if a.has("--disable") {
                    d.enabled = false;
                }
                if a.has("--enable") {
                    d.enabled = true;
                }
            }
            None => com_error(
                &format!("DHCP server does not exist ({net})"),
                "E_INVALIDARG",
                "0x80070057",
                "VirtualBoxWrap",
                "IVirtualBox",
                "FindDHCPServerByNetworkName",
            ),
        },
        "remove" => l.world.dhcp.retain(|d| d.network != net),
        other => syntax(&format!("Invalid parameter '{other}'")),
    }
    save(&l.world);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_take_both_spellings() {
        let args: Vec<String> = ["vm1", "--memory", "2048", "--cpus=2", "--register"].iter().map(|s| (*s).to_string()).collect();
        let a = parse(&args, &["--register"]);
        assert_eq!(a.pos, vec!["vm1"]);
        assert_eq!(a.get("--memory"), Some("2048"));
        assert_eq!(a.get("--cpus"), Some("2"));
        assert!(a.has("--register"));
    }

    #[test]
    fn state_times_are_utc() {
        assert_eq!(iso_utc(1_795_511_702_500), "2026-11-24T09:15:02.500000000");
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000000000");
        assert_eq!(iso_utc(951_868_800_000), "2000-03-01T00:00:00.000000000");
    }

    #[test]
    fn hostonly_ranges_follow_networks_conf() {
        assert!(allowed_by("192.168.56.1", None));
        assert!(allowed_by("192.168.63.254", None));
        assert!(!allowed_by("192.168.64.1", None));
        assert!(!allowed_by("10.0.0.1", None));
        assert!(allowed_by("10.0.0.1", Some("* 10.0.0.0/8 192.168.0.0/16\n")));
        assert!(!allowed_by("192.168.56.1", Some("* 10.0.0.0/8\n")));
    }
}
