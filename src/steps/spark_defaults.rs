//! `conf/spark-defaults.conf`: every application started on the lab (`lab verify`'s job,
//! `lab submit`, the shells) writes its event log to the events folder, where a history
//! server finds finished applications.

use crate::error::Result;
use crate::script::{Sh, sh};
use crate::spark;
use crate::spec::Lab;
use crate::steps::node::{NodeCx, Owner};
use crate::steps::spark_env::file_check;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub const ID: &str = "spark_defaults";

pub fn path(lab: &Lab) -> String {
    format!("{}/conf/spark-defaults.conf", spark::install_dir(lab.spark.version))
}

fn text() -> String {
    format!(
        "# Written by lab: settings of every application started on this lab.\nspark.eventLog.enabled true\nspark.eventLog.dir file:{}\n",
        spark::EVENTS_DIR
    )
}

pub struct SparkDefaults {
    node: String,
    head: Head,
}

pub fn step(_: &Lab, node: &str) -> Box<dyn Step> {
    Box::new(SparkDefaults {
        node: node.to_string(),
        head: Head::node(ID, Stage::Nodes, node, format!("conf/spark-defaults.conf: event logs in {}", spark::EVENTS_DIR)),
    })
}

impl Step for SparkDefaults {
    fn head(&self) -> &Head {
        &self.head
    }
    fn probes(&self, cx: &Cx<'_>) -> Result<Vec<(String, Sh)>> {
        let check = sh("stat -c events=%U {{d}} 2>/dev/null || echo events=; {{file}}", &[("d", &spark::EVENTS_DIR), ("file", &file_check(&path(cx.lab)))]);
        Ok(vec![(self.node.clone(), check)])
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let fact = cx.fact(&self.node, ID)?;
        let (events, file) = fact.split_once('\n').unwrap_or((fact.as_str(), ""));
        if events != format!("events={}", cx.lab.user) {
            return Ok(Check::Needed(format!("no {} owned by {}", spark::EVENTS_DIR, cx.lab.user)));
        }
        if file != format!("644:{0}:{0}\n{1}", cx.lab.user, text()) {
            return Ok(Check::Needed(format!("{} does not turn event logs on", path(cx.lab))));
        }
        Ok(Check::Satisfied)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let n = NodeCx::new(cx, &self.node)?;
        // The folder is inside lab's own (made by the Spark step, the lab user's): no root needed.
        n.s.check(&sh("mkdir -p {{d}}", &[("d", &spark::EVENTS_DIR)]))?;
        let fact = cx.fact(&self.node, ID)?;
        let file = fact.split_once('\n').map_or("", |(_, f)| f);
        n.put_file_unless(file, &path(cx.lab), &text(), 0o644, &Owner::user(&cx.lab.user))?;
        Ok(Outcome::Applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::fake::World;

    #[test]
    fn event_logs_go_to_the_events_folder_of_the_lab_user() {
        let w = World::sandbox();
        let plan = vec![step(&w.lab, "master")];
        let cx = w.cx(&plan);
        let node = w.remote(&cx, "master");
        node.probe(&[(ID, &format!("events=spark\n644:spark:spark\n{}", text()))]);
        assert_eq!(plan[0].check(&cx).expect("check"), Check::Satisfied);

        let cx = w.cx(&plan);
        let node = w.remote(&cx, "master");
        node.probe(&[(ID, "events=\n")]);
        assert!(matches!(plan[0].check(&cx).expect("check"), Check::Needed(ref why) if why.contains("/var/lib/lab-spark/events")));
        node.answer("mktemp", 0, "created\n");
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        let scripts = node.scripts();
        assert!(scripts[1].contains("mkdir -p /var/lib/lab-spark/events") && !node.ran_as_root("mkdir -p /var/lib/lab-spark/events"), "{scripts:?}");
        let (script, input) = node.last();
        assert!(script.contains("/opt/spark-4.3.0/conf/spark-defaults.conf"), "{script}");
        assert!(String::from_utf8(input).expect("utf-8").contains("spark.eventLog.dir file:/var/lib/lab-spark/events\n"));
    }
}
