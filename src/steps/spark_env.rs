//! `conf/spark-env.sh`: JAVA_HOME, the master, this node's own lab address (never the NAT
//! address every VM shares), worker resources, pid files outside /tmp.

use crate::error::Result;
use crate::files;
use crate::script::{Sh, sh};
use crate::spark;
use crate::spec::Lab;
use crate::steps::node::{NodeCx, Owner};
use crate::steps::{Check, Cx, Fingerprint, Head, Stage, Step, java_installed};
use crate::ui::Outcome;

pub const ID: &str = "spark_env";

/// The spark-env.sh lab wrote on the node (its hash: what the daemons run with).
pub const WRITTEN: Fingerprint = Fingerprint::new("spark_env");

pub struct SparkEnv {
    node: String,
    head: Head,
}

pub fn step(lab: &Lab, node: &str) -> Box<dyn Step> {
    let ip = lab.node(node).map(|n| n.ip.to_string()).unwrap_or_default();
    Box::new(SparkEnv {
        node: node.to_string(),
        head: Head::node(ID, Stage::Nodes, node, format!("conf/spark-env.sh: JAVA_HOME, the master, SPARK_LOCAL_IP {ip}")),
    })
}

pub fn path(lab: &Lab) -> String {
    format!("{}/conf/spark-env.sh", spark::install_dir(lab.spark.version))
}

/// A file as `NodeCx::put_file_unless` compares it: its `stat -c %a:%U:%G` line, then its content.
pub fn file_check(path: &str) -> Sh {
    sh("stat -c %a:%U:%G {{p}} 2>/dev/null && cat {{p}}", &[("p", &path)])
}

impl SparkEnv {
    fn text(&self, cx: &Cx<'_>) -> Result<String> {
        Ok(files::spark_env(cx.lab, cx.node(&self.node)?, &java_installed::home(cx, &self.node)?))
    }
}

impl Step for SparkEnv {
    fn head(&self) -> &Head {
        &self.head
    }
    fn probes(&self, cx: &Cx<'_>) -> Result<Vec<(String, Sh)>> {
        Ok(vec![(self.node.clone(), file_check(&path(cx.lab)))])
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let text = self.text(cx)?;
        let want = format!("755:{0}:{0}\n{text}", cx.lab.user);
        if cx.fact(&self.node, ID)? == want {
            cx.record(&self.node, WRITTEN, &files::short_hash(&text))?;
            return Ok(Check::Satisfied);
        }
        Ok(Check::Needed(format!("{} differs", path(cx.lab))))
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let text = self.text(cx)?;
        let fact = cx.fact(&self.node, ID)?;
        let o = NodeCx::new(cx, &self.node)?.put_file_unless(&fact, &path(cx.lab), &text, 0o755, &Owner::user(&cx.lab.user))?;
        cx.record(&self.node, WRITTEN, &files::short_hash(&text))?;
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::fake::World;

    #[test]
    fn written_with_the_nodes_java_home_and_address_unless_it_already_is() {
        let w = World::sandbox();
        let plan = vec![step(&w.lab, "node2")];
        let cx = w.cx(&plan);
        cx.java_homes.set("node2", "/usr/lib/jvm/java-17".into());
        let text = files::spark_env(&w.lab, w.lab.node("node2").expect("node2"), "/usr/lib/jvm/java-17");
        assert!(text.contains("JAVA_HOME=/usr/lib/jvm/java-17") && text.contains("192.168.57.12"), "{text}");
        assert!(text.contains("SPARK_MASTER_OPTS=\"-Dspark.master.rest.enabled=false\""), "the REST submission server is off: {text}");
        let node = w.remote(&cx, "node2");
        node.probe(&[(ID, &format!("755:spark:spark\n{text}"))]);
        assert_eq!(plan[0].check(&cx).expect("check"), Check::Satisfied);
        assert_eq!(cx.current("node2", WRITTEN), Some(files::short_hash(&text)));

        let cx = w.cx(&plan);
        cx.java_homes.set("node2", "/usr/lib/jvm/java-17".into());
        let node = w.remote(&cx, "node2");
        node.probe(&[(ID, &format!("644:root:root\n{text}"))]);
        assert!(matches!(plan[0].check(&cx).expect("check"), Check::Needed(_)), "wrong mode and owner");
        node.answer("mktemp", 0, "changed\n");
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        let (script, input) = node.last();
        assert!(script.contains("chmod 755") && script.contains("chown spark:spark") && script.contains(&path(&w.lab)), "{script}");
        assert_eq!(String::from_utf8(input).expect("utf-8"), text);
    }
}
