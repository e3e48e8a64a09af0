//! The lab's bridge holds the host's lab address, marked as lab's.

use crate::error::{Error, Result};
use crate::proc::System;
use crate::provider::sandbox::Names;
use crate::provider::sandbox::net::{self, Ip};
use crate::spec::Lab;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct Bridge {
    head: Head,
}

pub fn step(lab: &Lab, names: &Names) -> Box<dyn Step> {
    Box::new(Bridge {
        head: Head::host("bridge", Stage::Machines, format!("bridge {} holds {}/{}", names.bridge, lab.network.host, lab.network.cidr.prefix())),
    })
}

impl Step for Bridge {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, _: &Cx<'_>) -> Result<Check> {
        // Cannot look first: the bridge's presence, its address and its alias come from one
        // `ip` conversation that sets what differs as it reads it.
        Ok(Check::InApply)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let names = Names::new(cx.lab, cx.sd);
        let o = ensure_bridge(&Ip::new(&System), cx.lab, &names)?;
        cx.sd.record("bridge", &names.bridge)?;
        Ok(o)
    }
}

/// Makes the lab's bridge exist with the host's address. Returns whether anything was done.
fn ensure_bridge(ip: &Ip<'_>, lab: &Lab, names: &Names) -> Result<Outcome> {
    let ifaces = ip.ifaces(None)?;
    let prefix = lab.network.cidr.prefix();
    let clashes = net::conflicts(&ifaces, &lab.network.cidr, &[names.bridge.as_str()]);
    if !clashes.is_empty() {
        return Err(Error::Preflight {
            problem: format!("the lab network {} is already in use on this machine: {}", lab.network.cidr, clashes.join(", ")),
            fix: "choose another network.cidr for the lab (two interfaces holding one subnet break routing)".into(),
        });
    }
    match ifaces.iter().find(|i| i.name == names.bridge) {
        Some(b) if b.alias.as_deref() != Some(names.mark.as_str()) => Err(Error::Preflight {
            problem: format!(
                "an interface named {} exists and lab does not own it ({})",
                names.bridge,
                b.alias.as_deref().map_or("no lab mark".to_string(), |a| format!("marked {a:?}"))
            ),
            fix: format!("remove it (ip link del {}) if it is a leftover, or move the lab", names.bridge),
        }),
        Some(b) => {
            let mut changed = ip.ensure_addr(&names.bridge, None, lab.network.host, prefix, &b.v4)?;
            if !b.up {
                ip.set_up(&names.bridge, None)?;
                changed = true;
            }
            Ok(if changed { Outcome::Applied } else { Outcome::Satisfied })
        }
        None => {
            ip.add_bridge(&names.bridge, &names.mark, lab.network.host, prefix)?;
            Ok(Outcome::Applied)
        }
    }
}
