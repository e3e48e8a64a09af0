//! What the host says, gathered once: the only code of `lab doctor` that reads system files or
//! runs programs. Each field holds the host's own words (a file's text, a command's output), so
//! the checks can be tested against captured outputs of every OS.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::proc::{Cmd, Runner, System};
use crate::provider::virtualbox::driver::{HostOs, find};
use crate::provider::{MachineState, Provider};
use crate::spec::{Arch, Lab, ProviderKind};
use crate::state::StateDir;

/// PowerShell's answers on Windows, one `key=value` line each (one process for all of them).
pub const WINDOWS_QUERY: &str = "$ErrorActionPreference='SilentlyContinue'; \
$cs=Get-CimInstance Win32_ComputerSystem; $p=Get-CimInstance Win32_Processor | Select-Object -First 1; $os=Get-CimInstance Win32_OperatingSystem; \
\"HypervisorPresent=$($cs.HypervisorPresent)\"; \"VirtualizationFirmwareEnabled=$($p.VirtualizationFirmwareEnabled)\"; \
\"VBoxSup=$((Get-Service VBoxSup).Status)\"; \"TotalVisibleMemorySize=$($os.TotalVisibleMemorySize)\"; \"FreePhysicalMemory=$($os.FreePhysicalMemory)\"; \
\"DiskFree=$(([System.IO.DriveInfo]::new((Get-Location).Path)).AvailableFreeSpace)\"";

/// The lab doctor looks at: its file, state folder, provider, and an async runtime.
pub struct LabParts<'a> {
    pub lab: &'a Lab,
    pub sd: &'a StateDir,
    pub provider: &'a dyn Provider,
    pub rt: &'a tokio::runtime::Runtime,
}

/// Everything the checks look at.
#[derive(Debug, Clone)]
pub struct Signals {
    pub os: HostOs,
    pub arch: Arch,
    /// Linux under WSL.
    pub wsl: bool,
    pub vboxmanage: Option<PathBuf>,
    /// What `VBoxManage --version` printed (stdout, then stderr).
    pub vbox_version: Option<String>,
    /// Linux: `/proc/modules`, and the `flags` line of `/proc/cpuinfo`.
    pub linux_modules: Option<String>,
    pub cpuinfo_flags: Option<String>,
    /// macOS: `sysctl -n kern.hv_support`, `kmutil showloaded --list-only`.
    pub mac_hv_support: Option<String>,
    pub mac_kexts: Option<String>,
    /// Windows: PowerShell's answers to [`WINDOWS_QUERY`].
    pub windows: Option<String>,
    pub mem_total_mib: Option<u64>,
    pub mem_available_mib: Option<u64>,
    /// Free space of the drive holding the lab folder.
    pub disk_path: PathBuf,
    pub disk_free_mib: Option<u64>,
    pub cache_dir: PathBuf,
    pub cache_writable: Result<(), String>,
    pub networks_conf: Option<String>,
    /// Addresses of nodes not made yet that something on this computer's networks answers.
    pub taken: Vec<(String, Ipv4Addr)>,
    /// Whether a local network holds the lab's subnet (only then are addresses probed).
    pub addresses_checked: bool,
    /// The provider's own readiness (sandbox: root, programs; existing: its known_hosts).
    pub provider: Option<Result<(), (String, String)>>,
    /// The qemu provider's programs and accelerator (only for its labs).
    pub qemu: Option<super::qemu::QemuSignals>,
    /// existing: each node's answer (its host key among the known ones).
    pub ssh: Vec<(String, Result<(), String>)>,
    /// `--online`: each download's answer.
    pub downloads: Vec<(String, Result<(), String>)>,
}

fn run(cmd: Cmd) -> Option<String> {
    System.run(&cmd.timeout(Duration::from_secs(15))).ok().filter(|o| o.success()).map(|o| o.stdout)
}

/// `/proc/meminfo`'s MemTotal and MemAvailable, in MiB.
pub fn meminfo(text: &str) -> (Option<u64>, Option<u64>) {
    let kib = |key: &str| text.lines().find_map(|l| l.strip_prefix(key)?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()).map(|k| k / 1024);
    (kib("MemTotal:"), kib("MemAvailable:"))
}

/// macOS: `sysctl -n hw.memsize` (bytes) and `vm_stat` (free, inactive and speculative pages
/// are available), in MiB.
pub fn mac_memory(memsize: &str, vm_stat: &str) -> (Option<u64>, Option<u64>) {
    let total = memsize.trim().parse::<u64>().ok().map(|b| b / (1 << 20));
    let page =
        vm_stat.lines().next().and_then(|l| l.split("page size of ").nth(1)).and_then(|r| r.split_whitespace().next()).and_then(|n| n.parse::<u64>().ok());
    let pages = |key: &str| vm_stat.lines().find_map(|l| l.strip_prefix(key)?.trim().trim_end_matches('.').parse::<u64>().ok());
    let free =
        page.and_then(|p| Some((pages("Pages free:")? + pages("Pages inactive:").unwrap_or(0) + pages("Pages speculative:").unwrap_or(0)) * p / (1 << 20)));
    (total, free)
}

/// This computer's memory, total and available, in MiB (`windows`: the PowerShell query's answer).
fn memory(os: HostOs, windows: Option<&str>) -> (Option<u64>, Option<u64>) {
    match os {
        HostOs::Linux => meminfo(&std::fs::read_to_string("/proc/meminfo").unwrap_or_default()),
        HostOs::Macos => mac_memory(
            &run(Cmd::new("/usr/sbin/sysctl").args(["-n", "hw.memsize"])).unwrap_or_default(),
            &run(Cmd::new("/usr/bin/vm_stat")).unwrap_or_default(),
        ),
        HostOs::Windows => {
            let kib = |k: &str| {
                windows.and_then(|w| w.lines().find_map(|l| l.trim().strip_prefix(k)?.strip_prefix('=')?.trim().parse::<u64>().ok())).map(|v| v / 1024)
            };
            (kib("TotalVisibleMemorySize"), kib("FreePhysicalMemory"))
        }
    }
}

impl Signals {
    /// What `lab validate` measures a lab against: `for_up`'s signals and this computer's memory.
    pub fn for_validate(lab: &Lab) -> Self {
        let os = HostOs::current();
        let windows = (os == HostOs::Windows).then(|| run(Cmd::new("powershell").args(["-NoProfile", "-NonInteractive", "-Command", WINDOWS_QUERY]))).flatten();
        let (mem_total_mib, mem_available_mib) = memory(os, windows.as_deref());
        Self { mem_total_mib, mem_available_mib, ..Self::for_up(lab) }
    }

    /// Only what `lab up` checks before it creates or downloads anything: this computer's free
    /// space where the lab is, and whether the cache can be written.
    pub fn for_up(lab: &Lab) -> Self {
        let cache_dir = crate::download::cache_dir();
        let os = HostOs::current();
        let env = |k: &str| std::env::var(k).ok();
        let vbox = lab.provider == ProviderKind::Virtualbox;
        let vboxmanage = vbox.then(|| find(&env, &|p: &Path| p.is_file(), os)).flatten();
        Self {
            os,
            arch: crate::host::arch(),
            wsl: vbox && os == HostOs::Linux && wsl(&env),
            vbox_version: vboxmanage.as_deref().and_then(version),
            vboxmanage,
            linux_modules: None,
            cpuinfo_flags: None,
            mac_hv_support: None,
            mac_kexts: None,
            windows: None,
            mem_total_mib: None,
            mem_available_mib: None,
            disk_free_mib: free_space(lab.dir(), None),
            disk_path: lab.dir().to_path_buf(),
            cache_writable: writable(&cache_dir),
            cache_dir,
            networks_conf: std::fs::read_to_string("/etc/vbox/networks.conf").ok(),
            taken: Vec::new(),
            addresses_checked: false,
            provider: None,
            qemu: None,
            ssh: Vec::new(),
            downloads: Vec::new(),
        }
    }

    /// Asks this computer (and, with `online`, the lab's download hosts).
    pub fn gather(cx: Option<&LabParts<'_>>, online: bool) -> Self {
        let os = HostOs::current();
        let env = |k: &str| std::env::var(k).ok();
        let vboxmanage = find(&env, &|p: &Path| p.is_file(), os);
        let vbox_version = vboxmanage.as_deref().and_then(version);
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let linux = os == HostOs::Linux;
        let mac = os == HostOs::Macos;
        let windows = (os == HostOs::Windows).then(|| run(Cmd::new("powershell").args(["-NoProfile", "-NonInteractive", "-Command", WINDOWS_QUERY]))).flatten();
        let (mem_total_mib, mem_available_mib) = memory(os, windows.as_deref());
        let disk_path = cx.map_or_else(|| std::env::current_dir().unwrap_or_default(), |c| c.lab.dir().to_path_buf());
        let cache_dir = crate::download::cache_dir();
        let mut s = Self {
            os,
            arch: crate::host::arch(),
            wsl: linux && wsl(&env),
            vboxmanage,
            vbox_version,
            linux_modules: linux.then(|| read("/proc/modules")).flatten(),
            cpuinfo_flags: linux.then(|| read("/proc/cpuinfo")).flatten().and_then(|t| t.lines().find(|l| l.starts_with("flags")).map(str::to_string)),
            mac_hv_support: mac.then(|| run(Cmd::new("/usr/sbin/sysctl").args(["-n", "kern.hv_support"]))).flatten(),
            mac_kexts: mac.then(|| run(Cmd::new("/usr/bin/kmutil").args(["showloaded", "--list-only"]))).flatten(),
            disk_free_mib: free_space(&disk_path, windows.as_deref()),
            windows,
            mem_total_mib,
            mem_available_mib,
            disk_path,
            cache_writable: writable(&cache_dir),
            cache_dir,
            networks_conf: read("/etc/vbox/networks.conf"),
            taken: Vec::new(),
            addresses_checked: false,
            provider: None,
            qemu: None,
            ssh: Vec::new(),
            downloads: Vec::new(),
        };
        if let Some(cx) = cx {
            s.lab_signals(cx, online);
        }
        s
    }

    fn lab_signals(&mut self, cx: &LabParts<'_>, online: bool) {
        let lab = cx.lab;
        if lab.provider != ProviderKind::Virtualbox {
            self.provider = Some(cx.provider.available(lab).map_err(|e| (e.to_string(), e.hint().unwrap_or_default())));
        }
        if lab.provider == ProviderKind::Qemu {
            self.qemu = Some(super::qemu::QemuSignals::here(lab));
        }
        if lab.provider == ProviderKind::Existing {
            self.ssh = existing_answers(cx);
        } else {
            self.addresses(cx);
        }
        if online {
            let mut urls = vec![lab.spark.artifact.url.clone()];
            if let crate::spec::JavaInstall::Tarball(t) = &lab.java.install {
                urls.extend(t.needed(lab.machine_arch()).into_iter().map(|(_, a)| a.url.clone()));
            }
            if lab.provider == ProviderKind::Virtualbox
                && let Some(i) = &lab.image
            {
                urls.push(i.iso.url.clone());
            }
            self.downloads = urls.into_iter().map(|u| (u.clone(), cx.rt.block_on(crate::http::answers(&u)).map_err(|e| e.to_string()))).collect();
        }
    }

    /// Nodes not made yet whose address something already answers on a network of this computer.
    fn addresses(&mut self, cx: &LabParts<'_>) {
        let lab = cx.lab;
        let made: Vec<String> =
            cx.provider.status(lab, cx.sd).map(|m| m.into_iter().filter(|m| m.state != MachineState::NotCreated).map(|m| m.node).collect()).unwrap_or_default();
        let local = local_networks();
        // Only a network of this computer on the lab's subnet can hold another machine at a
        // node's address: without one nothing is probed, and nothing leaves this computer.
        if !local.iter().any(|(ip, _)| lab.network.cidr.contains(*ip)) {
            return;
        }
        self.addresses_checked = true;
        let fresh: Vec<(String, Ipv4Addr)> = lab.nodes.iter().filter(|n| !made.contains(&n.name)).map(|n| (n.name.clone(), n.ip)).collect();
        self.taken = std::thread::scope(|scope| {
            let hs: Vec<_> = fresh
                .iter()
                .map(|(n, ip)| {
                    let own = local.iter().any(|(l, _)| l == ip);
                    scope.spawn(move || (own || answers(*ip)).then(|| (n.clone(), *ip)))
                })
                .collect();
            hs.into_iter().filter_map(|h| h.join().ok().flatten()).collect()
        });
    }
}

/// What `VBoxManage --version` prints (stdout, then stderr: VirtualBox's wrapper warns there).
fn version(program: &Path) -> Option<String> {
    let out = System.run(&Cmd::new(program).args(["--version"]).timeout(Duration::from_secs(20))).ok()?;
    Some(format!("{}{}", out.stdout, out.stderr))
}

/// Linux under WSL.
fn wsl(env: &dyn Fn(&str) -> Option<String>) -> bool {
    crate::provider::virtualbox::driver::wsl_problem(&std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default(), env).is_some()
}

/// Whether something at `ip` answers TCP on port 22 (accepts, or refuses: a host is there).
fn answers(ip: Ipv4Addr) -> bool {
    match TcpStream::connect_timeout(&SocketAddr::from((ip, 22)), Duration::from_millis(700)) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
    }
}

/// This computer's IPv4 addresses (Linux: every interface; elsewhere: VirtualBox's host-only ones).
fn local_networks() -> Vec<(Ipv4Addr, u8)> {
    #[cfg(target_os = "linux")]
    {
        let ip = crate::provider::sandbox::net::Ip::new(&System);
        ip.ifaces(None).map(|ifs| ifs.into_iter().flat_map(|i| i.v4).collect()).unwrap_or_default()
    }
    #[cfg(not(target_os = "linux"))]
    {
        crate::provider::virtualbox::driver::Driver::detect(std::sync::Arc::new(System))
            .and_then(|d| d.hostonly())
            .map(|hs| hs.into_iter().filter_map(|h| Some((h.ip?, h.mask.map_or(24, |m| u32::from(m).count_ones() as u8)))).collect())
            .unwrap_or_default()
    }
}

/// existing: each node's presented host key among the ones lab knows for it.
fn existing_answers(cx: &LabParts<'_>) -> Vec<(String, Result<(), String>)> {
    let rt = cx.rt;
    let known = cx.provider.known_host_keys(cx.lab, cx.sd).unwrap_or_default();
    cx.lab
        .nodes
        .iter()
        .map(|n| {
            let target = crate::remote::Target {
                node: n.name.clone(),
                addr: SocketAddr::from((n.ip, cx.lab.ssh_port())),
                user: cx.lab.user.clone(),
                key: cx.sd.client_key_path(),
                host_keys: Vec::new(),
            };
            let r = match rt.block_on(crate::remote::presented_host_key(&target, Duration::from_secs(5))) {
                Err(e) => Err(e.to_string()),
                Ok(presented) => match known.get(&n.name) {
                    None => Err(format!(
                        "presents {}, and no host key is known for it (existing.known_hosts, or `lab up --accept-host-keys`)",
                        crate::remote::fingerprint(&presented)
                    )),
                    Some(k) if k.keys.iter().any(|x| crate::remote::key_core(x) == crate::remote::key_core(&presented)) => Ok(()),
                    Some(_) => Err(format!("presents {}, not the host key lab knows for it", crate::remote::fingerprint(&presented))),
                },
            };
            (n.name.clone(), r)
        })
        .collect()
}

/// Whether lab can write in `dir` (made if missing).
fn writable(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    tempfile::NamedTempFile::new_in(dir).map(drop).map_err(|e| e.to_string())
}

/// Free space of the drive holding `path`, in MiB.
fn free_space(path: &Path, windows: Option<&str>) -> Option<u64> {
    #[cfg(unix)]
    {
        let _ = windows;
        let st = nix::sys::statvfs::statvfs(path).ok()?;
        // fsblkcnt_t is 32 bits on macOS, 64 on Linux.
        #[allow(clippy::useless_conversion)]
        let (blocks, size) = (u64::from(st.blocks_available()), u64::from(st.fragment_size()));
        Some(blocks * size / (1 << 20))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        windows?.lines().find_map(|l| l.trim().strip_prefix("DiskFree=")?.trim().parse::<u64>().ok()).map(|b| b / (1 << 20))
    }
}
