//! After the VMs: the host-only interface lab made removed (when nothing else uses it), DHCP
//! servers lab turned off turned back on, the base's list of labs without this one.

use crate::error::Result;
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
    fn check(&self, _: &Cx<'_>) -> Result<Check> {
        Ok(Check::InApply)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let d = self.vb.driver()?;
        let resources = self.state.as_ref().map(|s| s.resources.clone()).unwrap_or_default();
        let mut outcome = Outcome::Satisfied;
        if let Some(name) = resources.get("base") {
            base::remove_user(name, cx.sd);
            let others = base::users(name).len();
            let why = if others > 0 { format!("{others} other lab(s) use it") } else { "the next lab starts from it".into() };
            cx.reporter.note(&format!("base {name} kept ({why}); `lab base list` shows bases, `lab base prune` removes those no lab uses"));
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
        if let Some(ifname) = resources.get("hostonlyif")
            && self.vb.remove_hostonly(d, cx.lab, ifname, resources.get("hostonlyif_addr"), cx.reporter)?
        {
            outcome = Outcome::Applied;
        }
        for (k, _) in resources.iter().filter(|(k, _)| k.starts_with("dhcp_disabled:")) {
            let ifname = &k["dhcp_disabled:".len()..];
            if d.hostonly()?.iter().any(|h| h.name == ifname) {
                d.set_dhcp(ifname, true)?;
                cx.reporter.note(&format!("DHCP server of {ifname} turned back on"));
                outcome = Outcome::Applied;
            }
        }
        Ok(outcome)
    }
}
