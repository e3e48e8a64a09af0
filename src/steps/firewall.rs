//! firewalld, where it runs, trusts the lab network (Spark picks ports at random).

use crate::error::{Error, Result};
use crate::script::{Sh, sh};
use crate::spec::Lab;
use crate::state::Change;
use crate::steps::node::NodeCx;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub const ID: &str = "firewall";

pub struct Firewall {
    node: String,
    head: Head,
}

pub fn step(lab: &Lab, node: &str) -> Box<dyn Step> {
    Box::new(Firewall { node: node.to_string(), head: Head::node(ID, Stage::Nodes, node, format!("firewalld (where it runs) trusts {}", lab.network.cidr)) })
}

impl Step for Firewall {
    fn head(&self) -> &Head {
        &self.head
    }
    fn probes(&self, _: &Cx<'_>) -> Result<Vec<(String, Sh)>> {
        // Whether firewalld is there at all (no sudo needed to tell).
        Ok(vec![(self.node.clone(), sh("if command -v firewall-cmd >/dev/null 2>&1; then echo present; else echo absent; fi", &[]))])
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        Ok(if cx.fact(&self.node, ID)?.trim() == "absent" {
            Check::Satisfied
        } else {
            // Cannot look first: its zones are root's to read, and the probe runs as the lab
            // user; `firewall-cmd` asked as root changes only what differs.
            Check::InApply
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let n = NodeCx::new(cx, &self.node)?;
        let cidr = cx.lab.network.cidr;
        let script = sh(
            "if command -v firewall-cmd >/dev/null 2>&1 && firewall-cmd --state >/dev/null 2>&1; then \
               if firewall-cmd --zone=trusted --query-source={{cidr}} >/dev/null 2>&1; then echo same; \
               else firewall-cmd --permanent --zone=trusted --add-source={{cidr}} >/dev/null && firewall-cmd --reload >/dev/null && echo changed; fi; \
             else echo absent; fi",
            &[("cidr", &cidr)],
        );
        let out = n.s.exec(&script.sudo())?;
        if !out.ok() {
            return Err(Error::node(n.name(), format!("trusting {cidr} in firewalld failed: {}", out.stderr.trim())));
        }
        if out.stdout.trim() == "changed" {
            n.track(Change::FirewallSource { cidr: cidr.to_string() })?;
            return Ok(Outcome::Applied);
        }
        Ok(Outcome::Satisfied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::fake::World;

    #[test]
    fn no_firewalld_needs_nothing() {
        let w = World::sandbox();
        let plan = vec![step(&w.lab, "node1")];
        let cx = w.cx(&plan);
        let node = w.remote(&cx, "node1");
        node.probe(&[(ID, "absent\n")]);
        assert_eq!(plan[0].check(&cx).expect("check"), Check::Satisfied);
        assert_eq!(node.scripts().len(), 1);
    }

    #[test]
    fn firewalld_trusts_the_lab_network_and_the_change_is_recorded_where_tracked() {
        let w = World::with(include_str!("../../labs/sandbox.yaml"), true);
        let plan = vec![step(&w.lab, "node1")];
        let cx = w.cx(&plan);
        let node = w.remote(&cx, "node1");
        node.probe(&[(ID, "present\n")]);
        assert_eq!(plan[0].check(&cx).expect("check"), Check::InApply);
        node.answer("firewall-cmd", 0, "changed\n");
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        assert!(node.ran_as_root("firewall-cmd --permanent --zone=trusted --add-source=192.168.57.0/24"), "{:?}", node.scripts());
        let st = w.sd.load().expect("load").expect("state");
        assert_eq!(st.nodes["node1"].changes, [Change::FirewallSource { cidr: "192.168.57.0/24".into() }]);
        node.answer("firewall-cmd", 0, "same\n");
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Satisfied);
        node.answer("firewall-cmd", 1, "");
        assert!(plan[0].apply(&cx).expect_err("failed").to_string().contains("trusting 192.168.57.0/24 in firewalld failed"));
    }
}
