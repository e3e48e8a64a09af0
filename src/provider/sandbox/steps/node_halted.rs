//! The node's processes have ended (its namespaces and disk stay).

use crate::error::Result;
use crate::provider::sandbox::{HALT_GRACE, Names, node};
use crate::spec::Node;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct NodeHalted {
    node: String,
    head: Head,
}

pub fn step(n: &Node) -> Box<dyn Step> {
    Box::new(NodeHalted { node: n.name.clone(), head: Head::node("halted", Stage::Machines, &n.name, "no process of the node runs; its disk is kept") })
}

impl Step for NodeHalted {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let ns = Names::new(cx.lab, cx.sd).netns(&self.node);
        Ok(if node::processes(&ns).0.is_empty() { Check::Satisfied } else { Check::Needed(format!("namespace {ns} runs processes")) })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        node::stop(&Names::new(cx.lab, cx.sd).netns(&self.node), HALT_GRACE)?;
        Ok(Outcome::Applied)
    }
}
