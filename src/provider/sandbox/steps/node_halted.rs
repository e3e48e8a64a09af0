//! The node's processes have ended (its namespaces and disk stay).

use crate::error::Result;
use crate::provider::sandbox::{HALT_GRACE, Names, node};
use crate::spec::Node;
use crate::steps::{Check, Cx, Stage, Step};
use crate::ui::Outcome;

pub struct NodeHalted {
    node: String,
}

pub fn step(n: &Node) -> Box<dyn Step> {
    Box::new(NodeHalted { node: n.name.clone() })
}

impl Step for NodeHalted {
    fn id(&self) -> &'static str {
        "halted"
    }
    fn stage(&self) -> Stage {
        Stage::Machines
    }
    fn target(&self) -> &str {
        &self.node
    }
    fn goal(&self) -> String {
        "no process of the node runs; its disk is kept".into()
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
