//! `/etc/hosts`: every node by name on its lab address (lab's block), and the node's own name off
//! the loopback lines (with it there, Spark binds to 127.0.0.1 and workers cannot reach the
//! master). Everything else in the file is kept.

use crate::error::Result;
use crate::files;
use crate::script::{Sh, sh};
use crate::spec::Lab;
use crate::steps::node::{NodeCx, Owner};
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub const ID: &str = "hosts_file";

pub struct HostsFile {
    node: String,
    head: Head,
}

pub fn step(_: &Lab, node: &str) -> Box<dyn Step> {
    Box::new(HostsFile { node: node.to_string(), head: Head::node(ID, Stage::Nodes, node, "/etc/hosts maps every node name to its lab address") })
}

impl HostsFile {
    /// The file as it is and as it should be.
    fn files(&self, cx: &Cx<'_>) -> Result<(String, String)> {
        let current = cx.fact(&self.node, ID)?;
        let desired = files::merge_hosts(&current, cx.lab, &self.node);
        Ok((current, desired))
    }
}

impl Step for HostsFile {
    fn head(&self) -> &Head {
        &self.head
    }
    fn probes(&self, _: &Cx<'_>) -> Result<Vec<(String, Sh)>> {
        Ok(vec![(self.node.clone(), sh("cat /etc/hosts", &[]))])
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let (current, desired) = self.files(cx)?;
        Ok(if current == desired {
            Check::Satisfied
        } else if current.trim().is_empty() {
            Check::Needed("/etc/hosts is missing or empty".into())
        } else if !current.contains(files::hosts_block(cx.lab).trim_end()) {
            Check::Needed("/etc/hosts lacks lab's block of the nodes' addresses".into())
        } else {
            Check::Needed("/etc/hosts also maps a node's name elsewhere (a loopback line or an old address)".into())
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let (_, desired) = self.files(cx)?;
        NodeCx::new(cx, &self.node)?.put_file("/etc/hosts", &desired, 0o644, &Owner::root())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::fake::World;

    #[test]
    fn satisfied_when_the_file_has_the_lab_block_and_rewritten_when_not() {
        let w = World::sandbox();
        let plan = vec![step(&w.lab, "node1")];
        let good = files::merge_hosts("127.0.0.1 localhost\n", &w.lab, "node1");
        let cx = w.cx(&plan);
        let node1 = w.remote(&cx, "node1");
        node1.probe(&[(ID, &good)]);
        assert_eq!(plan[0].check(&cx).expect("check"), Check::Satisfied);
        assert_eq!(node1.scripts().len(), 1, "one round trip: the probe");

        let cx = w.cx(&plan);
        let node1 = w.remote(&cx, "node1");
        node1.probe(&[(ID, "127.0.0.1 localhost node1\n")]);
        assert_eq!(plan[0].check(&cx).expect("check"), Check::Needed("/etc/hosts lacks lab's block of the nodes' addresses".into()));
        node1.answer("/etc/hosts", 0, "changed\n");
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        let (script, input) = node1.last();
        assert!(script.contains("/etc/hosts") && node1.ran_as_root("mktemp"), "{script}");
        let written = String::from_utf8(input).expect("utf-8");
        assert!(!written.contains("127.0.0.1 localhost node1"), "{written}");
        for n in &w.lab.nodes {
            let line = [n.ip.to_string(), n.name.clone()];
            assert!(written.lines().any(|l| l.split_whitespace().eq(line.iter().map(String::as_str))), "{written}");
        }
    }

    #[test]
    fn a_missing_file_is_needed_saying_so_and_written_with_localhost() {
        let w = World::sandbox();
        let plan = vec![step(&w.lab, "node1")];
        let cx = w.cx(&plan);
        let node1 = w.remote(&cx, "node1");
        node1.probe(&[(ID, "")]);
        assert_eq!(plan[0].check(&cx).expect("check"), Check::Needed("/etc/hosts is missing or empty".into()));
        node1.answer("/etc/hosts", 0, "changed\n");
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        let written = String::from_utf8(node1.last().1).expect("utf-8");
        assert!(written.starts_with("127.0.0.1 localhost\n::1 localhost\n"), "{written}");
        assert!(written.ends_with('\n'), "{written}");
    }
}
