//! After the VMs: the host-only interface lab made removed (when nothing else uses it), DHCP
//! servers lab turned off turned back on, the base's list of labs without this one.

use crate::error::Result;
use crate::provider::virtualbox::records::Records;
use crate::provider::virtualbox::{VirtualBox, base};
use crate::state::State;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct NetworkReleased<'a> {
    vb: &'a VirtualBox,
    state: Option<State>,
    head: Head,
}

pub fn step<'a>(vb: &'a VirtualBox, state: Option<&State>) -> Box<dyn Step + 'a> {
    Box::new(NetworkReleased {
        vb,
        state: state.cloned(),
        head: Head::host("network_released", Stage::Cleanup, "the host-only network lab made is gone, DHCP servers it stopped run again"),
    })
}

impl Step for NetworkReleased<'_> {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let Some(state) = &self.state else {
            return Ok(Check::Needed("lab's records are gone: an interface holding the lab's address is named, not removed".into()));
        };
        let records = Records::of(Some(state));
        let d = self.vb.driver()?;
        let present: Vec<String> = d.hostonly()?.into_iter().map(|h| h.name).collect();
        if let Some(name) = records.base.as_deref().filter(|b| base::listed(b, cx.sd)) {
            return Ok(Check::Needed(format!("this lab is still listed among base {name}'s users")));
        }
        if let Some(name) = records.hostonly().filter(|n| present.iter().any(|p| p == n)) {
            return Ok(Check::Needed(format!("the host-only interface lab made, {name}, is still there")));
        }
        if let Some(name) = records.dhcp_disabled.iter().find(|n| present.contains(n)) {
            return Ok(Check::Needed(format!("the DHCP server of {name}, which lab turned off, is still off")));
        }
        Ok(Check::Satisfied)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let d = self.vb.driver()?;
        let records = Records::of(self.state.as_ref());
        let mut outcome = Outcome::Satisfied;
        if let Some(name) = &records.base {
            base::remove_user(name, cx.sd);
            let finished = d.vm(name)?.is_some_and(|i| i.snapshots.iter().any(|s| s == base::SNAPSHOT));
            let others = base::users(name).len();
            if finished {
                let why = if others > 0 { format!("{others} other lab(s) use it") } else { "the next lab starts from it".into() };
                cx.reporter.note(&format!("base {name} kept ({why}); `lab base list` shows bases, `lab base prune` removes those no lab uses"));
            } else {
                cx.reporter.note(&format!("base {name} failed: its install did not finish; the next `lab up` installs it anew, `lab base prune` removes it"));
            }
        }
        if self.state.is_none() {
            // Without the state lab cannot tell whether it made an interface: it names it.
            let want = (Some(cx.lab.network.host), Some(cx.lab.network.cidr.netmask()));
            for h in d.hostonly()?.into_iter().filter(|h| (h.ip, h.mask) == want) {
                cx.reporter.note(&format!(
                    "host-only network {} holds the lab's address {}; without .lab/ lab cannot tell whether it made it, so it is left. If nothing else uses it: {}",
                    h.name,
                    cx.lab.network.host,
                    d.remove_hostonly_command(&h.name)
                ));
            }
        }
        if let Some(net) = &records.network
            && self.vb.remove_hostonly(d, cx.lab, net, cx.reporter)?
        {
            outcome = Outcome::Applied;
        }
        for ifname in &records.dhcp_disabled {
            if d.hostonly()?.iter().any(|h| h.name == *ifname) {
                d.set_dhcp(ifname, true)?;
                cx.reporter.note(&format!("DHCP server of {ifname} turned back on"));
                outcome = Outcome::Applied;
            }
        }
        Ok(outcome)
    }
}
