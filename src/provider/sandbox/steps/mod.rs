//! The sandbox's part of `lab up`: the lab's bridge, then each node's namespaces running sshd.

mod bridge;
mod node_running;

use crate::spec::Lab;
use crate::state::StateDir;
use crate::steps::Steps;

/// The steps that make every node run. The plan is pure: names depend only on where the lab
/// file is.
pub fn up(lab: &Lab) -> Steps<'static> {
    let names = super::Names::new(lab, &StateDir::for_lab(lab));
    let mut steps: Steps<'static> = vec![bridge::step(lab, &names)];
    for n in &lab.nodes {
        steps.push(node_running::step(&names, n));
    }
    steps
}
