//! Host-only interfaces (and, from 7.0 on macOS, host-only networks) and their DHCP servers.

use std::net::Ipv4Addr;

use super::{Driver, s};
use crate::error::{Error, Result};

impl Driver {
    /// Makes a host-only interface (or, on macOS with 7.x, network) and returns its name. The
    /// name is found by comparing the list with `before`, never by reading a sentence. Its
    /// address is set by `configure_hostonly`.
    pub fn create_hostonly(&self, ip: Ipv4Addr, mask: Ipv4Addr, name_hint: &str, before: &[String]) -> Result<String> {
        if self.uses_hostonlynet() {
            let (ip, mask) = (ip.to_string(), mask.to_string());
            self.run_retry(&s(&["hostonlynet", "add", "--name", name_hint, "--netmask", &mask, "--lower-ip", &ip, "--upper-ip", &ip, "--enable"]))?;
            return Ok(name_hint.to_string());
        }
        self.run_retry(&s(&["hostonlyif", "create"]))?;
        self.hostonly()?.into_iter().map(|h| h.name).find(|n| !before.contains(n)).ok_or_else(|| Error::VBox {
            argv: "VBoxManage hostonlyif create".into(),
            stderr: "no new host-only interface appeared".into(),
            hint: None,
        })
    }

    /// Gives a host-only interface `ip/mask` (host-only networks get theirs when made).
    pub fn configure_hostonly(&self, name: &str, ip: Ipv4Addr, mask: Ipv4Addr) -> Result<()> {
        if self.uses_hostonlynet() {
            return Ok(());
        }
        self.run_retry(&s(&["hostonlyif", "ipconfig", name, "--ip", &ip.to_string(), "--netmask", &mask.to_string()])).map(drop)
    }

    pub fn remove_hostonly(&self, name: &str) -> Result<()> {
        self.run_retry(&self.remove_hostonly_argv(name)).map(drop)
    }

    fn remove_hostonly_argv(&self, name: &str) -> Vec<String> {
        if self.uses_hostonlynet() { s(&["hostonlynet", "remove", "--name", name]) } else { s(&["hostonlyif", "remove", name]) }
    }

    /// The command a user types to remove host-only interface (or network) `name`.
    pub fn remove_hostonly_command(&self, name: &str) -> String {
        let words = self.remove_hostonly_argv(name).into_iter().map(|w| if w.contains(' ') { format!("\"{w}\"") } else { w });
        std::iter::once("VBoxManage".to_string()).chain(words).collect::<Vec<_>>().join(" ")
    }

    pub fn set_dhcp(&self, ifname: &str, enabled: bool) -> Result<()> {
        self.run_retry(&s(&["dhcpserver", "modify", "--ifname", ifname, if enabled { "--enable" } else { "--disable" }])).map(drop)
    }
}
