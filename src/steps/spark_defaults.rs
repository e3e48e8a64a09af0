//! `conf/spark-defaults.conf`: every application started on the lab (`lab verify`'s job,
//! `lab submit`, the shells) writes its event log to the events folder, where a history
//! server finds finished applications; and every Spark process (the master, the workers, the
//! history server, the Connect server, every application) authenticates with the lab's secret
//! (`spark.authenticate`: Spark's standalone mode reads it from this file on each node), so
//! nobody without it can run code on the cluster through 7077. The file is the Spark account's
//! alone (0600).

use crate::error::Result;
use crate::script::{Sh, sh};
use crate::spark;
use crate::spec::Lab;
use crate::steps::node::{NodeCx, Owner};
use crate::steps::spark_env::file_check;
use crate::steps::{Check, Cx, Fingerprint, Head, Stage, Step};
use crate::ui::Outcome;

pub const ID: &str = "spark_defaults";

/// The spark-defaults.conf lab wrote on the node (its hash: the daemons run with its secret).
pub const WRITTEN: Fingerprint = Fingerprint::new("spark_defaults");

pub fn path(lab: &Lab) -> String {
    format!("{}/conf/spark-defaults.conf", spark::install_dir(lab.spark.version))
}

fn text(secret: &str) -> String {
    format!(
        "# Written by lab: settings of every Spark process on this lab.\nspark.eventLog.enabled true\nspark.eventLog.dir file:{}\n\
         # Only holders of the lab's secret reach the master, the workers and the applications.\nspark.authenticate true\nspark.authenticate.secret {secret}\n\
         # Fixed ports (the next free one above each), so the firewall opens only these.\n\
         spark.driver.port {}\nspark.blockManager.port {}\nspark.port.maxRetries {}\n",
        spark::EVENTS_DIR,
        spark::DRIVER_PORT,
        spark::BLOCK_MANAGER_PORT,
        spark::PORT_RETRIES
    )
}

fn wanted(cx: &Cx<'_>) -> Result<String> {
    Ok(text(&cx.sd.spark_secret()?))
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
        let want = wanted(cx)?;
        if file != format!("600:{0}:{0}\n{1}", cx.lab.user, want) {
            let why = if !file.contains("spark.authenticate true") {
                "does not make Spark authenticate with the lab's secret"
            } else if !file.starts_with("600:") {
                "is readable by others than the Spark account"
            } else {
                "differs"
            };
            return Ok(Check::Needed(format!("{} {why}", path(cx.lab))));
        }
        cx.record(&self.node, WRITTEN, &crate::files::short_hash(&want))?;
        Ok(Check::Satisfied)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let n = NodeCx::new(cx, &self.node)?;
        // The folder is inside lab's own (made by the Spark step, the lab user's): no root needed.
        n.s.check(&sh("mkdir -p {{d}}", &[("d", &spark::EVENTS_DIR)]))?;
        let fact = cx.fact(&self.node, ID)?;
        let file = fact.split_once('\n').map_or("", |(_, f)| f);
        let want = wanted(cx)?;
        n.put_file_unless(file, &path(cx.lab), &want, 0o600, &Owner::user(&cx.lab.user))?;
        cx.record(&self.node, WRITTEN, &crate::files::short_hash(&want))?;
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
        let secret = w.sd.spark_secret().expect("secret");
        node.probe(&[(ID, &format!("events=spark\n600:spark:spark\n{}", text(&secret)))]);
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
        let written = String::from_utf8(input).expect("utf-8");
        assert!(written.contains("spark.eventLog.dir file:/var/lib/lab-spark/events\n"), "{written}");
        assert!(written.contains(&format!("spark.authenticate true\nspark.authenticate.secret {secret}\n")), "{written}");
        assert!(script.contains("chmod 600"), "only the Spark account reads the secret: {script}");
        assert_eq!(cx.current("master", WRITTEN), Some(crate::files::short_hash(&written)), "the daemons restart with it");
    }

    #[test]
    fn a_file_without_the_secret_or_readable_by_others_is_needed_saying_so() {
        let w = World::sandbox();
        let plan = vec![step(&w.lab, "master")];
        // Asked by every node's step at once: one secret for the lab.
        let secrets: Vec<String> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8).map(|_| s.spawn(|| w.sd.spark_secret().expect("secret"))).collect();
            hs.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        let secret = secrets[0].clone();
        assert!(secrets.iter().all(|s| *s == secret), "{secrets:?}");
        assert_eq!(w.sd.spark_secret().expect("again"), secret, "made once");
        assert_eq!(secret.len(), 64);
        let old = "# Written by lab: settings of every application started on this lab.\nspark.eventLog.enabled true\nspark.eventLog.dir file:/var/lib/lab-spark/events\n";
        for (file, why) in
            [(format!("644:spark:spark\n{old}"), "does not make Spark authenticate"), (format!("644:spark:spark\n{}", text(&secret)), "readable by others")]
        {
            let cx = w.cx(&plan);
            w.remote(&cx, "master").probe(&[(ID, &format!("events=spark\n{file}"))]);
            assert!(matches!(plan[0].check(&cx).expect("check"), Check::Needed(ref w) if w.contains(why)), "{why}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(w.sd.path().join("spark-secret")).expect("secret file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
