//! The host-only network: one interface (or, on macOS with 7.x, network) holding the lab's
//! host address, found before it is made, and removed only while it is still the lab's.

use super::VirtualBox;
use super::driver::Driver;
use crate::error::Result;
use crate::spec::Lab;
use crate::steps::Cx;
use crate::ui::{Outcome, Reporter};

impl VirtualBox {
    /// The host-only interface this run uses (made now if the host-only step has not yet).
    pub(super) fn hostonly_name(&self, cx: &Cx<'_>) -> Result<String> {
        self.hostonly.get_or_make(|| Ok(self.ensure_hostonly(cx)?.0))
    }

    /// Makes a host-only interface hold the lab's host address (reusing one that has it), with
    /// no DHCP server on it (a reused interface's server is turned back on by `destroy`).
    pub(super) fn ensure_hostonly(&self, cx: &Cx<'_>) -> Result<(String, Outcome)> {
        let d = self.driver()?;
        let lab = cx.lab;
        let (host, mask) = (lab.network.host, lab.network.cidr.netmask());
        let all = d.hostonly()?;
        let names: Vec<String> = all.iter().map(|h| h.name.clone()).collect();
        let resources = cx.sd.load()?.map(|s| s.resources).unwrap_or_default();
        // The interface lab made: recorded, or made by a run interrupted before it could record
        // the name (new since the list lab noted first, and used by no VM). A fresh interface
        // may already hold the lab's address (VirtualBox gives vboxnet0 192.168.56.1): it is
        // still lab's, and `destroy` removes it.
        let mut ours = resources.get("hostonlyif").filter(|n| names.contains(n)).cloned();
        if ours.is_none()
            && let Some(before) = resources.get("hostonlyif_before")
        {
            let before: Vec<&str> = before.split(',').collect();
            let mut used = Vec::new();
            for (_, uuid) in d.list_vms()? {
                used.extend(d.vm(&uuid)?.into_iter().flat_map(|i| i.nics.into_values().map(|n| n.hostonly)));
            }
            ours = names.iter().find(|n| !before.contains(&n.as_str()) && !used.contains(n)).cloned();
        }
        let holding = all.iter().find(|h| h.ip == Some(host) && h.mask == Some(mask)).map(|h| h.name.clone());
        let (name, outcome) = match (ours, holding) {
            (Some(name), holding) => {
                let mut outcome = Outcome::Satisfied;
                if resources.get("hostonlyif") != Some(&name) || resources.contains_key("hostonlyif_before") {
                    cx.sd.record("hostonlyif", &name)?;
                    cx.sd.record("hostonlyif_addr", &format!("{host}/{mask}"))?;
                    cx.sd.forget("hostonlyif_before")?;
                    outcome = Outcome::Applied;
                }
                if holding.as_ref() != Some(&name) {
                    d.configure_hostonly(&name, host, mask)?;
                    outcome = Outcome::Applied;
                }
                (name, outcome)
            }
            // Someone else's interface already holds the lab's address: used, never removed.
            (None, Some(name)) => (name, Outcome::Satisfied),
            (None, None) => {
                cx.sd.record("hostonlyif_before", &names.join(","))?;
                let name = d.create_hostonly(host, mask, &lab.tag(), &names)?;
                cx.sd.record("hostonlyif", &name)?;
                cx.sd.record("hostonlyif_addr", &format!("{host}/{mask}"))?;
                cx.sd.forget("hostonlyif_before")?;
                d.configure_hostonly(&name, host, mask)?;
                (name, Outcome::Applied)
            }
        };
        let mut outcome = outcome;
        if d.dhcp_enabled(&name)? == Some(true) {
            let created = cx.sd.load()?.is_some_and(|s| s.resources.get("hostonlyif") == Some(&name));
            if !created {
                cx.sd.record(&format!("dhcp_disabled:{name}"), "1")?;
            }
            d.set_dhcp(&name, false)?;
            outcome = Outcome::Applied;
        }
        Ok((name, outcome))
    }

    /// Removes the host-only interface lab created, when it still holds the lab's address (the
    /// name may have been reused by VirtualBox for another interface) and no VM uses it.
    pub(super) fn remove_hostonly(&self, d: &Driver, lab: &Lab, ifname: &str, addr: Option<&String>, reporter: &dyn Reporter) -> Result<bool> {
        let want = format!("{}/{}", lab.network.host, lab.network.cidr.netmask());
        let Some(h) = d.hostonly()?.into_iter().find(|h| h.name == ifname) else { return Ok(false) };
        let holds = h.ip.zip(h.mask).map(|(i, m)| format!("{i}/{m}"));
        if holds.as_ref() != Some(addr.unwrap_or(&want)) {
            reporter.note(&format!("host-only network {ifname} now holds {}, not the lab's address: left alone", holds.unwrap_or_else(|| "no address".into())));
            return Ok(false);
        }
        let mut users = Vec::new();
        for (name, uuid) in d.list_vms()? {
            if d.vm(&uuid)?.is_some_and(|i| i.nics.values().any(|n| n.hostonly == ifname)) {
                users.push(name);
            }
        }
        if users.is_empty() {
            d.remove_hostonly(ifname)?;
            reporter.note(&format!("host-only network {ifname} removed"));
            return Ok(true);
        } else {
            reporter.note(&format!(
                "host-only network {ifname} kept: used by {}. Once nothing uses it: {}",
                users.join(", "),
                d.remove_hostonly_command(ifname)
            ));
        }
        Ok(false)
    }
}
