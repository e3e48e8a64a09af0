//! What VBoxManage prints, read into lab's vocabulary: VM state and settings from
//! `showvminfo --machinereadable`, and the `list` outputs (read by position where their labels
//! are translated).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Arch;
/// A VM's state, from `VMState` (every spelling VirtualBox prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmState {
    PowerOff,
    Running,
    Paused,
    Saved,
    /// The VM process died (`aborted`, `aborted-saved`).
    Aborted,
    /// `gurumeditation`: the VM hit a fatal error and is stuck.
    Stuck,
    /// On its way somewhere: starting, stopping, saving, restoring, snapshotting, ...
    Transitional(String),
    Other(String),
}

impl VmState {
    fn parse(s: &str) -> Self {
        match s {
            "poweroff" => Self::PowerOff,
            "running" => Self::Running,
            "paused" => Self::Paused,
            "saved" => Self::Saved,
            "aborted" | "aborted-saved" => Self::Aborted,
            "gurumeditation" => Self::Stuck,
            "starting"
            | "stopping"
            | "saving"
            | "restoring"
            | "settingup"
            | "snapshotting"
            | "onlinesnapshotting"
            | "livesnapshotting"
            | "deletingsnapshot"
            | "deletingsnapshotlive"
            | "deletingsnapshotlivepaused"
            | "restoringsnapshot"
            | "teleporting"
            | "teleportingin"
            | "teleportingpausedvm" => Self::Transitional(s.to_string()),
            other => Self::Other(other.to_string()),
        }
    }

    /// The word shown to users.
    pub fn word(&self) -> &str {
        match self {
            Self::PowerOff => "poweroff",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Saved => "saved",
            Self::Aborted => "aborted",
            Self::Stuck => "gurumeditation",
            Self::Transitional(s) | Self::Other(s) => s,
        }
    }

    /// The VM's process runs (it holds the session lock).
    pub fn is_on(&self) -> bool {
        matches!(self, Self::Running | Self::Paused | Self::Stuck | Self::Transitional(_))
    }
}

/// What a storage slot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Medium {
    /// No device at that port.
    None,
    /// A DVD drive with no disc.
    Empty,
    Image(PathBuf),
}

/// A network adapter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nic {
    /// `nat`, `hostonly`, `hostonlynetwork`, ...
    pub kind: String,
    /// The host-only interface or network it is attached to.
    pub hostonly: String,
    pub mac: String,
}

/// A registered VM, as `showvminfo --machinereadable` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmInfo {
    pub name: String,
    pub uuid: String,
    pub state: VmState,
    pub description: String,
    pub cfg_file: PathBuf,
    pub arch: Arch,
    /// The ports of lab's storage controller (`SATA`, or `VirtIO` on arm64), absent when there
    /// is no such controller.
    pub sata: Option<BTreeMap<u32, Medium>>,
    pub nics: BTreeMap<u32, Nic>,
    /// Snapshot names, in tree order.
    pub snapshots: Vec<String>,
    pub current_snapshot: Option<String>,
    /// When the VM entered its state (`VMStateChangeTime`, UTC), when VirtualBox says.
    pub state_since: Option<std::time::SystemTime>,
    /// The first boot device (`boot1`: `disk`, `dvd`, ...).
    pub boot_first: Option<String>,
    /// The file the first serial port writes to (`uart1` on, `uartmode1="file,PATH"`).
    pub serial_file: Option<PathBuf>,
}

/// `2026-11-24T09:15:02.123000000` (UTC, as `VMStateChangeTime` gives it).
pub fn parse_utc(s: &str) -> Option<std::time::SystemTime> {
    let (date, time) = s.trim().trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (h, mi, se) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Days from 1970-01-01 to the date (Howard Hinnant's days_from_civil).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + h * 3600 + mi * 60 + se).ok()?;
    let nanos: u32 = format!("{:0<9}", &frac[..frac.len().min(9)]).parse().ok()?;
    Some(std::time::UNIX_EPOCH + Duration::new(secs, nanos))
}

impl VmInfo {
    pub fn port(&self, port: u32) -> Medium {
        self.sata.as_ref().and_then(|p| p.get(&port).cloned()).unwrap_or(Medium::None)
    }
    /// The VM's own folder (where `Logs/VBox.log` is).
    pub fn folder(&self) -> PathBuf {
        self.cfg_file.parent().map(Path::to_path_buf).unwrap_or_default()
    }
    pub fn log(&self) -> PathBuf {
        self.folder().join("Logs").join("VBox.log")
    }
}

/// A host-only interface (Linux, Windows, macOS before 7.0) or host-only network (macOS 7.x).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostOnly {
    pub name: String,
    pub ip: Option<Ipv4Addr>,
    pub mask: Option<Ipv4Addr>,
}

/// What a VM is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hardware {
    pub cpus: u32,
    pub memory_mib: u32,
    /// `080027AABBCC` for NIC1 (NAT) and NIC2 (host-only).
    pub mac_nat: String,
    pub mac_hostonly: String,
    /// The host-only interface (or, on macOS with 7.x, host-only network).
    pub hostonly: String,
    pub description: String,
    pub arch: Arch,
}

/// Splits `showvminfo --machinereadable` into keys and values (quotes removed, `\\` and `\"`
/// unescaped; lines without `=` skipped).
pub fn parse_machinereadable(text: &str) -> BTreeMap<String, String> {
    let unquote = |s: &str| -> String {
        let s = s.trim();
        let inner = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s);
        inner.replace("\\\"", "\"").replace("\\\\", "\\")
    };
    let mut out = BTreeMap::new();
    for line in text.lines() {
        // Keys may be quoted and contain '='; split after a closing quote when there is one.
        let split = match line.strip_prefix('"') {
            Some(rest) => rest.find("\"=").map(|i| i + 2),
            None => line.find('='),
        };
        if let Some(i) = split {
            out.insert(unquote(&line[..i]), unquote(&line[i + 1..]));
        }
    }
    out
}

/// `showvminfo --machinereadable` as lab reads it.
pub fn parse_vminfo(text: &str) -> VmInfo {
    vm_info(&parse_machinereadable(text))
}

pub(super) fn vm_info(m: &BTreeMap<String, String>) -> VmInfo {
    let get = |k: &str| m.get(k).cloned().unwrap_or_default();
    let mut sata = None;
    for i in 0..8 {
        let name = m.get(&format!("storagecontrollername{i}")).cloned().unwrap_or_default();
        if name == "SATA" || name == "VirtIO" {
            let count: u32 = m.get(&format!("storagecontrollerportcount{i}")).and_then(|c| c.parse().ok()).unwrap_or(0);
            let mut ports = BTreeMap::new();
            for p in 0..count.max(3) {
                let medium = match m.get(&format!("{name}-{p}-0")).map(String::as_str) {
                    None | Some("none") => Medium::None,
                    Some("emptydrive") => Medium::Empty,
                    Some(path) => Medium::Image(PathBuf::from(path)),
                };
                ports.insert(p, medium);
            }
            sata = Some(ports);
        }
    }
    let mut nics = BTreeMap::new();
    for n in 1..=8u32 {
        let kind = get(&format!("nic{n}"));
        if kind.is_empty() || kind == "none" {
            continue;
        }
        let hostonly = m.get(&format!("hostonlyadapter{n}")).or_else(|| m.get(&format!("hostonly-network{n}"))).cloned().unwrap_or_default();
        nics.insert(n, Nic { kind, hostonly, mac: get(&format!("macaddress{n}")) });
    }
    let mut snapshots: Vec<(String, String)> = m.iter().filter(|(k, _)| k.starts_with("SnapshotName")).map(|(k, v)| (k.clone(), v.clone())).collect();
    snapshots.sort();
    VmInfo {
        name: get("name"),
        uuid: get("UUID"),
        state: VmState::parse(&get("VMState")),
        description: get("description"),
        cfg_file: PathBuf::from(get("CfgFile")),
        arch: if get("platformArchitecture").eq_ignore_ascii_case("arm") || get("platformArchitecture").eq_ignore_ascii_case("ARM") {
            Arch::Aarch64
        } else {
            Arch::X86_64
        },
        sata,
        nics,
        snapshots: snapshots.into_iter().map(|(_, v)| v).collect(),
        current_snapshot: m.get("CurrentSnapshotName").cloned(),
        state_since: m.get("VMStateChangeTime").and_then(|t| parse_utc(t)),
        boot_first: m.get("boot1").cloned(),
        serial_file: m.get("uart1").filter(|u| *u != "off").and_then(|_| m.get("uartmode1")).and_then(|mode| mode.strip_prefix("file,")).map(PathBuf::from),
    }
}

/// `list vms`: `"name" {uuid}` lines.
pub fn parse_list_vms(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix('"')?;
            let (name, rest) = rest.rsplit_once("\" {")?;
            Some((name.to_string(), rest.trim_end_matches('}').to_string()))
        })
        .collect()
}

/// The blocks of a `list` output (blank-line separated), each as its values in order. Labels
/// are translated under other languages, so values are taken by position (the label is what
/// stands before the first `:`).
fn blocks(text: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut cur: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        cur.push(line.split_once(':').map_or("", |(_, v)| v).trim().to_string());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `list hostonlyifs` (Name, GUID, DHCP, IPAddress, NetworkMask, ...) or, with `nets`,
/// `list hostonlynets` (Name, GUID, State, NetworkMask, LowerIP, UpperIP, ...). VirtualBox prints
/// a blank line after each network's GUID, inside its record: there a record is the two-line
/// block (name, GUID) and the block after it.
pub fn parse_hostonly(text: &str, nets: bool) -> Vec<HostOnly> {
    let mut records: Vec<Vec<String>> = Vec::new();
    for b in blocks(text) {
        match records.last_mut() {
            Some(head) if nets && head.len() == 2 => head.extend(b),
            _ => records.push(b),
        }
    }
    records
        .into_iter()
        .filter(|b| !b.is_empty())
        .map(|b| {
            let at = |i: usize| b.get(i).and_then(|v| v.parse::<Ipv4Addr>().ok());
            if nets { HostOnly { name: b[0].clone(), ip: at(4), mask: at(3) } } else { HostOnly { name: b[0].clone(), ip: at(3), mask: at(4) } }
        })
        .collect()
}

/// `list dhcpservers`: per network name, whether its server is enabled (`None` when the answer
/// is in a language lab cannot read).
pub fn parse_dhcp(text: &str) -> BTreeMap<String, Option<bool>> {
    blocks(text)
        .into_iter()
        .filter(|b| !b.is_empty())
        .map(|b| {
            let enabled = b.iter().skip(1).find_map(|v| match v.as_str() {
                "Yes" => Some(Some(true)),
                "No" => Some(Some(false)),
                _ => None,
            });
            (b[0].clone(), enabled.flatten())
        })
        .collect()
}

/// The type IDs `list ostypes` prints: the first line of each record (the labels are
/// translated since 7.0, so the ID is read by its place, after the label's colon).
pub fn parse_ostypes(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|record| record.lines().find(|l| !l.trim().is_empty()))
        .filter_map(|l| l.split_once(':').map(|(_, v)| v.trim().to_string()))
        .filter(|id| !id.is_empty())
        .collect()
}

/// `wanted` where VirtualBox knows it; else the nearest it knows: for Red Hat N on ARM, Oracle
/// Linux N (the same system, rebuilt), then any Oracle Linux, then "Other"; for x86, Red Hat
/// (64-bit). A list VirtualBox did not give (empty) changes nothing.
pub fn pick_ostype(wanted: &str, known: &[String]) -> String {
    let has = |id: &str| known.iter().any(|k| k.eq_ignore_ascii_case(id));
    if known.is_empty() || has(wanted) {
        return wanted.to_string();
    }
    let version: String = wanted.trim_end_matches("_arm64").trim_end_matches("_64").chars().filter(char::is_ascii_digit).collect();
    let candidates: Vec<String> = if wanted.ends_with("_arm64") {
        vec![format!("Oracle{version}_arm64"), "Oracle_arm64".into(), "Other_arm64".into()]
    } else {
        vec![format!("Oracle{version}_64"), "RedHat_64".into(), "Linux26_64".into(), "Other_64".into()]
    };
    candidates.into_iter().find(|c| has(c)).unwrap_or_else(|| wanted.to_string())
}
