//! Python 3 on every node, for PySpark (`lab submit app.py`, `lab pyspark`): the distribution's
//! package, unless the lab file says `spark.python: false`.

use crate::error::{Error, Result};
use crate::script::{Sh, sh};
use crate::state::Change;
use crate::steps::node::{NodeCx, package_install};
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub const ID: &str = "python_installed";

pub struct PythonInstalled {
    node: String,
    head: Head,
}

pub fn step(_: &crate::spec::Lab, node: &str) -> Box<dyn Step> {
    Box::new(PythonInstalled { node: node.to_string(), head: Head::node(ID, Stage::Nodes, node, "python3 for PySpark (the distribution's package)") })
}

impl Step for PythonInstalled {
    fn head(&self) -> &Head {
        &self.head
    }
    fn probes(&self, _: &Cx<'_>) -> Result<Vec<(String, Sh)>> {
        Ok(vec![(self.node.clone(), sh("command -v python3 >/dev/null 2>&1 && python3 --version 2>&1 || echo absent", &[]))])
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        Ok(if cx.fact(&self.node, ID)?.starts_with("Python 3") { Check::Satisfied } else { Check::Needed("no python3".into()) })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let n = NodeCx::new(cx, &self.node)?;
        let out = n.s.exec(&package_install("python3", "python3", "install python3 by hand, or set spark.python: false"))?;
        if !out.ok() {
            return Err(Error::node_hint(
                n.name(),
                format!("installing python3 failed: {}", out.stderr.trim()),
                "the node needs its distribution's repositories (internet through NAT); or set `spark.python: false` in the lab file",
            ));
        }
        n.track(Change::Package { name: "python3".into() })?;
        Ok(Outcome::Applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::fake::World;

    #[test]
    fn python3_is_installed_from_the_distribution_when_missing() {
        let w = World::sandbox();
        let plan = vec![step(&w.lab, "node2")];
        let cx = w.cx(&plan);
        let node = w.remote(&cx, "node2");
        node.probe(&[(ID, "Python 3.11.2\n")]);
        assert_eq!(plan[0].check(&cx).expect("check"), Check::Satisfied);

        let cx = w.cx(&plan);
        let node = w.remote(&cx, "node2");
        node.probe(&[(ID, "absent\n")]);
        assert!(matches!(plan[0].check(&cx).expect("check"), Check::Needed(_)));
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        assert!(node.ran_as_root("apt-get install -y -q python3") && node.ran_as_root("dnf -y -q install python3"), "{:?}", node.scripts());
        node.answer("/etc/os-release", 1, "");
        let e = plan[0].apply(&cx).expect_err("no repositories");
        assert!(e.to_string().contains("installing python3 failed"), "{e}");
    }
}
