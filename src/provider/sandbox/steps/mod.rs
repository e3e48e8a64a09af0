//! The sandbox's part of `lab up`: the lab's bridge, then each node's namespaces running sshd.

mod bridge;
mod bridge_removed;
mod node_halted;
mod node_removed;
mod node_running;
pub mod snapshot;

use crate::spec::Lab;
use crate::state::StateDir;
use crate::steps::Steps;

pub use bridge::step as bridge_step;
pub use bridge_removed::step as bridge_removed_step;

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

/// The steps that stop every node, keeping its disk.
pub fn halt(lab: &Lab) -> Steps<'static> {
    lab.nodes.iter().map(node_halted::step).collect()
}

/// The steps that remove what lab made: every node found (of the lab file, of its state, or by
/// its mark), then the bridge.
pub fn destroy(nodes: &[String]) -> Steps<'static> {
    let mut steps: Steps<'static> = nodes.iter().map(|n| node_removed::step(n)).collect();
    steps.push(bridge_removed::step());
    steps
}
