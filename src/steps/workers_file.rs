//! The master's `conf/workers` (and `conf/slaves` before Spark 3.1): one worker per line.

use crate::error::Result;
use crate::script::{Sh, sh};
use crate::spark;
use crate::spec::Lab;
use crate::steps::node::{NodeCx, Owner};
use crate::steps::spark_env::file_check;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub const ID: &str = "workers_file";

pub struct WorkersFile {
    node: String,
    head: Head,
}

pub fn step(lab: &Lab) -> Box<dyn Step> {
    let workers: Vec<&str> = lab.workers().map(|w| w.name.as_str()).collect();
    let files = spark::workers_files(lab.spark.version);
    let verb = if files.len() == 1 { "lists" } else { "list" };
    Box::new(WorkersFile {
        node: lab.master().name.clone(),
        head: Head::node(ID, Stage::Cluster, &lab.master().name, format!("{} {verb} {}", files.join(" and "), workers.join(", "))),
    })
}

impl WorkersFile {
    /// Each workers file: its path, what the probe saw (mode line, then content), what it must hold.
    fn files(&self, cx: &Cx<'_>) -> Result<Vec<(String, String, String)>> {
        let lab = cx.lab;
        let list: String = lab.workers().map(|w| format!("{}\n", w.name)).collect();
        let dir = spark::install_dir(lab.spark.version);
        let fact = cx.fact(&self.node, ID)?;
        Ok(spark::workers_files(lab.spark.version)
            .iter()
            .map(|f| {
                let head = format!("=== {f}\n");
                let seen = fact.split_inclusive('\n').skip_while(|l| *l != head).skip(1).take_while(|l| !l.starts_with("=== ")).collect::<String>();
                (format!("{dir}/{f}"), seen, list.clone())
            })
            .collect())
    }
}

impl Step for WorkersFile {
    fn head(&self) -> &Head {
        &self.head
    }
    fn probes(&self, cx: &Cx<'_>) -> Result<Vec<(String, Sh)>> {
        let dir = spark::install_dir(cx.lab.spark.version);
        let mut s = sh("true", &[]);
        for f in spark::workers_files(cx.lab.spark.version) {
            s = s.then(&sh("echo {{name}}; {{file}}", &[("name", &format!("=== {f}")), ("file", &file_check(&format!("{dir}/{f}")))]));
        }
        Ok(vec![(self.node.clone(), s)])
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let want_mode = format!("644:{0}:{0}\n", cx.lab.user);
        for (path, seen, list) in self.files(cx)? {
            if seen.strip_prefix(want_mode.as_str()) != Some(list.as_str()) {
                return Ok(Check::Needed(format!("{path} does not list the lab's workers")));
            }
        }
        Ok(Check::Satisfied)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let n = NodeCx::new(cx, &self.node)?;
        let mut outcome = Outcome::Satisfied;
        for (path, seen, list) in self.files(cx)? {
            if n.put_file_unless(&seen, &path, &list, 0o644, &Owner::user(&cx.lab.user))? == Outcome::Applied {
                outcome = Outcome::Applied;
            }
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::fake::World;

    #[test]
    fn lists_the_workers_one_per_line() {
        let w = World::sandbox();
        let plan = vec![step(&w.lab)];
        let cx = w.cx(&plan);
        let master = w.remote(&cx, "master");
        master.probe(&[(ID, "=== conf/workers\n644:spark:spark\nnode1\nnode2\n")]);
        assert_eq!(plan[0].check(&cx).expect("check"), Check::Satisfied);

        let cx = w.cx(&plan);
        let master = w.remote(&cx, "master");
        master.probe(&[(ID, "=== conf/workers\n644:spark:spark\nlocalhost\n")]);
        assert!(matches!(plan[0].check(&cx).expect("check"), Check::Needed(ref why) if why.contains("conf/workers")));
        master.answer("mktemp", 0, "changed\n");
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        let (script, input) = master.last();
        assert!(script.contains("/opt/spark-4.3.0/conf/workers"), "{script}");
        assert_eq!(input, b"node1\nnode2\n");
    }
}
