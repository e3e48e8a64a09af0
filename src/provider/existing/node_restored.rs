//! A machine lab did not make is as lab found it: the Spark daemons stopped, then every change
//! lab recorded undone, newest first, each crossed off the state as soon as it is undone (so an
//! interrupted destroy undoes only what is left).

use std::time::Duration;

use crate::error::{Error, Result};
use crate::provider::existing::{describe, host_keys_of, login_target, undo};
use crate::remote::Session;
use crate::spec::Node;
use crate::state::Change;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct NodeRestored {
    node: String,
    changes: Vec<Change>,
    head: Head,
}

pub fn step(n: &Node, changes: Vec<Change>) -> Box<dyn Step> {
    Box::new(NodeRestored {
        node: n.name.clone(),
        head: Head::node("restored", Stage::Machines, &n.name, format!("the {} changes lab made undone", changes.len())),
        changes,
    })
}

impl Step for NodeRestored {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, _: &Cx<'_>) -> Result<Check> {
        // Cannot look first: the daemons are stopped even when lab recorded no change.
        Ok(Check::InApply)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let (lab, sd) = (cx.lab, cx.sd);
        let n = cx.node(&self.node)?;
        let keys = host_keys_of(lab, sd)?.remove(&n.name).unwrap_or_default();
        let s = cx.block_on(Session::connect(&login_target(lab, sd, n, keys), Duration::from_secs(15)))?;
        let r = (|| {
            cx.block_on(s.sudo_check(&crate::spark::stop_all(&lab.user)))?;
            for c in self.changes.iter().rev() {
                cx.block_on(s.sudo_check(&undo(c)))
                    .map_err(|e| Error::node_hint(&n.name, format!("undoing \"{}\": {e}", describe(c)), "run `lab destroy` again; it undoes what is left"))?;
                sd.update(|st| {
                    if let Some(ns) = st.nodes.get_mut(&n.name) {
                        ns.changes.retain(|x| x != c);
                    }
                })?;
            }
            Ok::<_, Error>(())
        })();
        cx.block_on(s.close());
        r?;
        cx.reporter.note(&format!("{}: {} changes undone", n.name, self.changes.len()));
        Ok(Outcome::Applied)
    }
}
