//! The host-only network: one interface (or, on macOS with 7.x, network) holding the lab's
//! host address, found before it is made, and removed only while it is still the lab's.

use super::driver::Driver;
use super::records::{NetworkRecord, Records};
use super::{VirtualBox, base};
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
        let records = Records::load(cx.sd)?;
        let addr = format!("{host}/{mask}");
        // The interface lab made: recorded, or made by a run interrupted before it could record
        // the name (new since the list lab noted first, and used by no VM). A fresh interface
        // may already hold the lab's address (VirtualBox gives vboxnet0 192.168.56.1): it is
        // still lab's, and `destroy` removes it.
        let mut ours = records.hostonly().filter(|n| names.iter().any(|x| x == n)).map(str::to_string);
        if ours.is_none()
            && let Some(before) = records.network.as_ref().and_then(|n| n.before.clone())
        {
            let mut used = Vec::new();
            for (_, uuid) in d.list_vms()? {
                used.extend(d.vm(&uuid)?.into_iter().flat_map(|i| i.nics.into_values().map(|n| n.hostonly)));
            }
            ours = names.iter().find(|n| !before.contains(n) && !used.contains(n)).cloned();
        }
        let holding = all.iter().find(|h| h.ip == Some(host) && h.mask == Some(mask)).map(|h| h.name.clone());
        let mine = |name: &str| NetworkRecord { name: Some(name.to_string()), addr: addr.clone(), before: None };
        let (name, mut outcome) = match (ours, holding) {
            (Some(name), holding) => {
                let mut outcome = Outcome::Satisfied;
                if records.network.as_ref() != Some(&mine(&name)) {
                    Records::update(cx.sd, |r| r.network = Some(mine(&name)))?;
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
                Records::update(cx.sd, |r| r.network = Some(NetworkRecord { name: None, addr: addr.clone(), before: Some(names.clone()) }))?;
                let name = d.create_hostonly(host, mask, &lab.tag(), &names)?;
                Records::update(cx.sd, |r| r.network = Some(mine(&name)))?;
                d.configure_hostonly(&name, host, mask)?;
                (name, Outcome::Applied)
            }
        };
        if d.dhcp_enabled(&name)? == Some(true) {
            let created = Records::load(cx.sd)?.hostonly() == Some(name.as_str());
            if !created {
                Records::update(cx.sd, |r| {
                    if !r.dhcp_disabled.contains(&name) {
                        r.dhcp_disabled.push(name.clone());
                    }
                })?;
            }
            d.set_dhcp(&name, false)?;
            outcome = Outcome::Applied;
        }
        Ok((name, outcome))
    }

    /// What the host-only step must still do, from the interfaces VirtualBox lists and lab's
    /// records (`None`: nothing; a run interrupted while it made one is left to apply).
    pub(super) fn hostonly_needed(&self, cx: &Cx<'_>) -> Result<Option<String>> {
        let d = self.driver()?;
        let (host, mask) = (cx.lab.network.host, cx.lab.network.cidr.netmask());
        let all = d.hostonly()?;
        let records = Records::load(cx.sd)?;
        let holding = all.iter().find(|h| h.ip == Some(host) && h.mask == Some(mask)).map(|h| h.name.clone());
        let ours = records.hostonly().filter(|n| all.iter().any(|h| h.name == *n));
        let name = match (ours, holding) {
            (Some(o), Some(h)) if o == h => h,
            (Some(o), _) => return Ok(Some(format!("the host-only interface lab made, {o}, does not hold {host}/{mask}"))),
            (None, _) if records.network.as_ref().is_some_and(|n| n.before.is_some()) => {
                return Ok(Some("an earlier run was making a host-only interface when it stopped".into()));
            }
            (None, Some(h)) => h,
            (None, None) => return Ok(Some(format!("no host-only interface holds {host}/{mask}"))),
        };
        if d.dhcp_enabled(&name)? == Some(true) {
            return Ok(Some(format!("{name} holds {host}/{mask} and its DHCP server is on")));
        }
        Ok(None)
    }

    /// Gives back the host-only interface lab created for the lab, when it still holds the
    /// lab's address (the name may have been reused by VirtualBox for another interface) and no
    /// VM uses it. When only unfinished bases use it (an install that failed keeps its NIC),
    /// it goes with them: `lab base rm|prune` removes it with the last of them.
    pub(super) fn remove_hostonly(&self, d: &Driver, lab: &Lab, net: &NetworkRecord, reporter: &dyn Reporter) -> Result<bool> {
        let Some(ifname) = net.name.as_deref() else { return Ok(false) };
        let addr = if net.addr.is_empty() { format!("{}/{}", lab.network.host, lab.network.cidr.netmask()) } else { net.addr.clone() };
        match release(d, ifname, &addr)? {
            Released::Removed => {
                reporter.note(&format!("host-only network {ifname} removed"));
                Ok(true)
            }
            Released::Gone => Ok(false),
            Released::Moved(holds) => {
                reporter.note(&format!("host-only network {ifname} now holds {holds}, not the lab's address: left alone"));
                Ok(false)
            }
            Released::Used(users) => {
                let bases: Vec<&String> = users.iter().filter(|u| u.starts_with(base::PREFIX)).collect();
                if bases.len() == users.len() {
                    for b in &bases {
                        base::hand_network(b, &NetworkRecord { addr: addr.clone(), ..net.clone() })?;
                    }
                    let names: Vec<&str> = bases.iter().map(|b| b.as_str()).collect();
                    reporter.note(&format!(
                        "host-only network {ifname} kept: base {} still uses it; it goes with the base (`lab base prune` removes both)",
                        names.join(", ")
                    ));
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
    }
}

/// What became of an interface lab gave back.
pub(super) enum Released {
    Removed,
    /// It no longer exists.
    Gone,
    /// It holds another address now (not lab's any more).
    Moved(String),
    /// These VMs use it.
    Used(Vec<String>),
}

/// Removes interface `ifname` when it holds `addr` (`ip/mask`) and no VM uses it.
pub(super) fn release(d: &Driver, ifname: &str, addr: &str) -> Result<Released> {
    let Some(h) = d.hostonly()?.into_iter().find(|h| h.name == ifname) else { return Ok(Released::Gone) };
    let holds = h.ip.zip(h.mask).map(|(i, m)| format!("{i}/{m}"));
    if holds.as_deref() != Some(addr) {
        return Ok(Released::Moved(holds.unwrap_or_else(|| "no address".into())));
    }
    let mut users = Vec::new();
    for (name, uuid) in d.list_vms()? {
        if d.vm(&uuid)?.is_some_and(|i| i.nics.values().any(|n| n.hostonly == ifname)) {
            users.push(name);
        }
    }
    if !users.is_empty() {
        return Ok(Released::Used(users));
    }
    d.remove_hostonly(ifname)?;
    Ok(Released::Removed)
}
