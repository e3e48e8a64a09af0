//! The host side of VBoxManage: where it is installed on each system, its version, the locale
//! it must run under, and what its error codes mean for the user.

use std::path::{Path, PathBuf};

use super::{HostOs, Version};
use crate::error::{Error, Result};

/// A failure of one VBoxManage call, classified by its error code (never its words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth another try (a session lock, a VM in a transitional state).
    Transient,
    /// Not found (`VBOX_E_OBJECT_NOT_FOUND`).
    NotFound,
    Final,
}

/// Classifies VBoxManage's stderr by the codes it carries.
pub fn classify(stderr: &str) -> Failure {
    if stderr.contains("VBOX_E_OBJECT_NOT_FOUND") {
        Failure::NotFound
    } else if stderr.contains("VBOX_E_INVALID_OBJECT_STATE") || stderr.contains("VBOX_E_INVALID_VM_STATE") {
        Failure::Transient
    } else {
        Failure::Final
    }
}

/// What to tell the user about a VBoxManage error (codes, not sentences, decide).
pub fn hint_for(stderr: &str) -> Option<String> {
    let h = if stderr.contains("VERR_VM_DRIVER_NOT_INSTALLED") || stderr.contains("/dev/vboxnetctl") || stderr.contains("-1908") {
        "VirtualBox's kernel modules are not loaded: run `sudo /sbin/vboxconfig` (sign them first under Secure Boot)"
    } else if stderr.contains("VERR_VMX_NO_VMX")
        || stderr.contains("VERR_SVM")
        || stderr.contains("VERR_NEM_NOT_AVAILABLE")
        || stderr.contains("VERR_VMX_IN_VMX_ROOT_MODE")
    {
        "hardware virtualization is unavailable: enable VT-x/AMD-V in the firmware, turn off Hyper-V/WSL2 (Windows) or unload KVM (Linux); or use `provider: sandbox` on Linux"
    } else if stderr.contains("VBOX_E_PLATFORM_ARCH_NOT_SUPPORTED") {
        "this VM's architecture cannot run on this computer (an x86 VM on an Apple Silicon Mac): run `lab destroy`, then `lab up` again, which chooses the image for this computer"
    } else if stderr.contains("E_ACCESSDENIED") {
        "VirtualBox refuses this host-only address: use 192.168.56.0/21, or allow the range in /etc/vbox/networks.conf (`* 10.0.0.0/8`)"
    } else if stderr.contains("VERR_NO_TRANSLATION") {
        "VBoxManage could not read a non-ASCII path under this locale: install a UTF-8 locale (C.UTF-8 or en_US.UTF-8)"
    } else if stderr.contains("VBOX_E_INVALID_OBJECT_STATE") {
        "another program (the VirtualBox GUI, or a VM still shutting down) holds the VM: close it and run the command again"
    } else if stderr.contains("VBOX_E_FILE_ERROR") || stderr.contains("VERR_ALREADY_EXISTS") {
        "a VM or VM folder with that name exists already: remove it in VirtualBox (or its folder), or rename the lab"
    } else if stderr.contains("VERR_INTNET_FLT_IF_NOT_FOUND") || stderr.contains("VERR_INTERNAL_ERROR") {
        "the host-only interface is missing or broken: run `lab up` again (lab recreates it); if it keeps failing, reinstall VirtualBox's network drivers"
    } else {
        return None;
    };
    Some(h.to_string())
}

/// Linux under WSL (the kernel's release names Microsoft; WSL sets `WSL_DISTRO_NAME`): its
/// VirtualBox is the Windows one, which a Linux program cannot drive (Windows paths, Windows
/// networking), and VirtualBox cannot run inside WSL itself.
pub fn wsl_problem(osrelease: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<Error> {
    let wsl = osrelease.to_lowercase().contains("microsoft") || env("WSL_DISTRO_NAME").is_some_and(|d| !d.is_empty());
    wsl.then(|| Error::Preflight {
        problem: "this is Linux under WSL: VirtualBox and its VMs belong to the Windows side, which lab on Linux cannot drive".into(),
        fix: "run the Windows build of lab (lab.exe, see README's \"Getting lab\") from PowerShell or cmd, in this same folder (\\\\wsl$\\... or C:\\...); or use `provider: existing` for machines you already have".into(),
    })
}

/// Reads `VBoxManage --version`: the last line that starts with a digit. Warning lines about the
/// kernel driver mean VMs cannot start.
pub fn parse_version(out: &str) -> Result<Version> {
    if out.lines().any(|l| l.starts_with("WARNING:")) {
        return Err(Error::Preflight {
            problem: "VirtualBox's kernel driver is not loaded".into(),
            fix: "run `sudo /sbin/vboxconfig` (under Secure Boot, sign the modules first), then try again".into(),
        });
    }
    let line = out.lines().rev().map(str::trim).find(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit())).unwrap_or("");
    let numeric: String = line.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let parts: Vec<u32> = numeric.split('.').filter_map(|p| p.parse().ok()).collect();
    match parts[..] {
        [major, minor, patch, ..] => Ok(Version { major, minor, patch }),
        _ => {
            Err(Error::Preflight { problem: format!("cannot read the VirtualBox version from {out:?}"), fix: "check that `VBoxManage --version` works".into() })
        }
    }
}

/// Where VBoxManage is: `$VBOXMANAGE`, PATH, the Windows installer's variables and folders, the
/// macOS application bundle.
pub fn find(env: &dyn Fn(&str) -> Option<String>, exists: &dyn Fn(&Path) -> bool, host: HostOs) -> Option<PathBuf> {
    if let Some(p) = env("VBOXMANAGE").map(PathBuf::from).filter(|p| exists(p)) {
        return Some(p);
    }
    let (exe, sep) = if host == HostOs::Windows { ("VBoxManage.exe", ';') } else { ("VBoxManage", ':') };
    let path = env("PATH").unwrap_or_default();
    for dir in path.split(sep).filter(|d| !d.is_empty()) {
        for name in [exe, "vboxmanage"] {
            let p = Path::new(dir).join(name);
            if exists(&p) {
                return Some(p);
            }
        }
    }
    match host {
        HostOs::Windows => {
            let mut dirs: Vec<String> = Vec::new();
            for var in ["VBOX_MSI_INSTALL_PATH", "VBOX_INSTALL_PATH"] {
                if let Some(v) = env(var) {
                    dirs.extend(v.split(';').filter(|d| !d.is_empty()).map(str::to_string));
                }
            }
            for var in ["ProgramFiles", "ProgramW6432", "ProgramFiles(x86)"] {
                if let Some(v) = env(var) {
                    dirs.push(format!("{v}\\Oracle\\VirtualBox"));
                }
            }
            dirs.push("C:\\Program Files\\Oracle\\VirtualBox".into());
            dirs.into_iter().map(|d| PathBuf::from(format!("{}\\{exe}", d.trim_end_matches('\\')))).find(|p| exists(p))
        }
        HostOs::Macos => ["/Applications/VirtualBox.app/Contents/MacOS/VBoxManage", "/usr/local/bin/VBoxManage", "/opt/homebrew/bin/VBoxManage"]
            .iter()
            .map(PathBuf::from)
            .find(|p| exists(p)),
        HostOs::Linux => ["/usr/bin/VBoxManage", "/usr/lib/virtualbox/VBoxManage", "/opt/VirtualBox/VBoxManage"].iter().map(PathBuf::from).find(|p| exists(p)),
    }
}

/// The UTF-8 locale VBoxManage runs under: with `C`/`POSIX` it cannot take non-ASCII arguments
/// (`VERR_NO_TRANSLATION`), and student folders are named `Área de Trabalho`.
pub fn utf8_locale(host: HostOs, exists: &dyn Fn(&Path) -> bool) -> &'static str {
    match host {
        HostOs::Macos => "en_US.UTF-8",
        HostOs::Windows => "C.UTF-8",
        HostOs::Linux => {
            let c = ["/usr/lib/locale/C.utf8", "/usr/lib/locale/C.UTF-8", "/usr/lib64/locale/C.utf8"];
            if c.iter().any(|p| exists(Path::new(p))) || !exists(Path::new("/usr/lib/locale/locale-archive")) { "C.UTF-8" } else { "en_US.UTF-8" }
        }
    }
}

/// The encoding of what VBoxManage writes to lab's pipes. On Windows, IPRT converts its UTF-8
/// output to the *ANSI code page* when the stream is not a console (`RTStrmWrite` ->
/// `RTStrUtf8ToCurrentCP`, `WideCharToMultiByte(CP_ACP)`): code page 1252 on a Portuguese
/// Windows, where `João` arrives as `4A 6F E3 6F`, and UTF-8 only where the system's "Unicode
/// UTF-8" option made the ANSI code page 65001. Elsewhere VBoxManage writes in the locale's
/// codeset, and lab runs it under a UTF-8 locale. `LAB_VBOXMANAGE_CODEPAGE` names a code page
/// instead (the tests play a Windows host with it).
pub fn output_encoding(host: HostOs, named: Option<&str>, ansi_codepage: &dyn Fn() -> Option<u16>) -> &'static encoding_rs::Encoding {
    let page = match named.and_then(|n| n.trim().parse::<u16>().ok()) {
        Some(p) => Some(p),
        None if host == HostOs::Windows => ansi_codepage(),
        None => None,
    };
    page.and_then(codepage::to_encoding).unwrap_or(encoding_rs::UTF_8)
}

/// Windows' ANSI code page, as `GetACP` answers it: the `ACP` value the system keeps under
/// `HKLM\SYSTEM\CurrentControlSet\Control\Nls\CodePage` (read safely through the registry).
#[cfg(windows)]
pub fn ansi_codepage() -> Option<u16> {
    let key = winreg::RegKey::predef(winreg::enums::HKEY_LOCAL_MACHINE).open_subkey(r"SYSTEM\CurrentControlSet\Control\Nls\CodePage").ok()?;
    let acp: String = key.get_value("ACP").ok()?;
    acp.trim().parse().ok()
}

#[cfg(not(windows))]
pub fn ansi_codepage() -> Option<u16> {
    None
}

/// Text VBoxManage wrote, decoded from `encoding`, with Windows' line ends made plain.
pub fn decode(bytes: &[u8], encoding: &'static encoding_rs::Encoding) -> String {
    encoding.decode_without_bom_handling(bytes).0.replace("\r\n", "\n")
}
