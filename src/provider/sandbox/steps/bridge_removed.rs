//! After the nodes: the lab's bridge is gone (only one carrying the lab's mark, with nothing
//! else plugged in).

use crate::error::{Error, Result};
use crate::proc::System;
use crate::provider::sandbox::Names;
use crate::provider::sandbox::net::Ip;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct BridgeRemoved {
    head: Head,
}

pub fn step() -> Box<dyn Step> {
    Box::new(BridgeRemoved { head: Head::host("bridge_removed", Stage::Cleanup, "the lab's bridge is gone") })
}

impl Step for BridgeRemoved {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, _: &Cx<'_>) -> Result<Check> {
        // Cannot look first: whether the bridge is lab's is read from its alias by the same `ip`
        // call that removes it (found by lab's mark, even without the state file).
        Ok(Check::InApply)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let (names, ip) = (Names::new(cx.lab, cx.sd), Ip::new(&System));
        let ifaces = ip.ifaces(None)?;
        match ifaces.iter().find(|i| i.name == names.bridge) {
            Some(b) if b.alias.as_deref() == Some(names.mark.as_str()) => {
                let plugged: Vec<&str> = ifaces.iter().filter(|i| i.master.as_deref() == Some(names.bridge.as_str())).map(|i| i.name.as_str()).collect();
                if !plugged.is_empty() {
                    return Err(Error::Preflight {
                        problem: format!("bridge {} still has {} plugged in", names.bridge, plugged.join(", ")),
                        fix: "lab leaves interfaces it did not make; remove them, then run `lab destroy` again".into(),
                    });
                }
                ip.del_link(&names.bridge)?;
                Ok(Outcome::Applied)
            }
            _ => Ok(Outcome::Satisfied),
        }
    }
}
