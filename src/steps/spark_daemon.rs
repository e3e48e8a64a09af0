//! A Spark daemon runs: the master on the master, a worker on each worker, started through
//! `sbin/spark-daemon.sh` (which every distribution of Spark has, the pyspark package
//! included). A running daemon is left alone unless what it runs changed (the release, or
//! `spark-env.sh`) since lab started it; a stale pid file is recovered by spark-daemon.sh itself.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::script::{Sh, sh};
use crate::spark::{self, Daemon};
use crate::spec::Lab;
use crate::steps::node::NodeCx;
use crate::steps::{Check, Cx, Stage, Step};
use crate::ui::Outcome;

pub const MASTER: &str = "spark_master_running";
pub const WORKER: &str = "spark_worker_running";

pub struct SparkDaemon {
    node: String,
    daemon: Daemon,
    goal: String,
}

/// The master's daemon.
pub fn master(lab: &Lab) -> Box<dyn Step> {
    Box::new(SparkDaemon {
        node: lab.master().name.clone(),
        daemon: Daemon::Master,
        goal: format!("Spark master at {}, web UI {}", spark::master_url(lab), spark::master_ui(lab)),
    })
}

/// A worker's daemon.
pub fn worker(_: &Lab, node: &str) -> Box<dyn Step> {
    Box::new(SparkDaemon { node: node.to_string(), daemon: Daemon::Worker, goal: "Spark worker running".into() })
}

/// A daemon's failure, with the last lines of its log.
pub fn failure(cx: &Cx<'_>, node: &str, problem: &str) -> Error {
    let d = cx.lab.node(node).map_or(Daemon::Worker, Daemon::of);
    let tail = cx.remote(node).and_then(|r| r.exec(&spark::log_tail(d, 25))).map(|o| o.stdout).unwrap_or_default();
    Error::node_hint(
        node,
        format!("the Spark {} daemon: {problem}\n--- last lines of its log on {node}:\n{}", d.short(), tail.trim_end()),
        format!("the whole log: lab ssh {node} -- 'cat {}'", d.log_glob()),
    )
}

impl SparkDaemon {
    /// What the daemon runs: the release and spark-env.sh lab installed.
    fn fingerprint(&self, cx: &Cx<'_>) -> String {
        format!("{}:{}", cx.current(&self.node, "spark").unwrap_or_default(), cx.current(&self.node, "spark_env").unwrap_or_default())
    }

    fn runs(&self, cx: &Cx<'_>) -> Result<bool> {
        Ok(cx.fact(&self.node, self.id())?.lines().any(|l| l.trim() == "status=0"))
    }

    fn wait_master(&self, cx: &Cx<'_>, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if cx.master_json().is_ok_and(|j| j.status == "ALIVE") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(failure(cx, &self.node, &format!("{}/json/ did not show ALIVE within {} s", spark::master_ui(cx.lab), within.as_secs())));
            }
            cx.reporter.phase(&self.node, "waiting for the master's web UI");
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Step for SparkDaemon {
    fn id(&self) -> &'static str {
        if self.daemon == Daemon::Master { MASTER } else { WORKER }
    }
    fn stage(&self) -> Stage {
        if self.daemon == Daemon::Master { Stage::Cluster } else { Stage::Workers }
    }
    fn target(&self) -> &str {
        &self.node
    }
    fn goal(&self) -> String {
        self.goal.clone()
    }
    fn probes(&self, cx: &Cx<'_>) -> Result<Vec<(String, Sh)>> {
        // Whether the node's daemon runs (`status=0`).
        Ok(vec![(self.node.clone(), sh("( {{status}} ); echo \"status=$?\"", &[("status", &spark::status(self.daemon, &cx.lab.user))]))])
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        if !self.runs(cx)? {
            return Ok(Check::Needed("it does not run".into()));
        }
        if cx.current(&self.node, "daemon").as_deref() != Some(self.fingerprint(cx).as_str()) {
            return Ok(Check::Needed("Spark or its settings changed since it started".into()));
        }
        if self.daemon == Daemon::Master {
            self.wait_master(cx, Duration::from_secs(90))?;
        }
        Ok(Check::Satisfied)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let n = NodeCx::new(cx, &self.node)?;
        let user = &cx.lab.user;
        if self.runs(cx)? {
            n.s.exec(&spark::stop(self.daemon, user))?;
        }
        let out = n.s.exec(&spark::start(cx.lab, self.daemon))?;
        if !out.ok() {
            return Err(failure(cx, &self.node, &format!("starting it failed: {}{}", out.stdout.trim(), out.stderr.trim())));
        }
        cx.record(&self.node, "daemon", &self.fingerprint(cx))?;
        if self.daemon == Daemon::Master {
            self.wait_master(cx, Duration::from_secs(90))?;
        }
        Ok(Outcome::Applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spark::MasterJson;
    use crate::steps::fake::World;

    fn alive(cx: &Cx<'_>) {
        *cx.web.lock().expect("web") = Some(Box::new(|| Ok(MasterJson { url: String::new(), status: "ALIVE".into(), workers: Vec::new() })));
    }

    #[test]
    fn a_running_master_that_runs_what_lab_installed_is_left_alone() {
        let w = World::sandbox();
        let plan = vec![master(&w.lab)];
        let cx = w.cx(&plan);
        alive(&cx);
        cx.record("master", "spark", "abc").expect("record");
        cx.record("master", "spark_env", "def").expect("record");
        cx.record("master", "daemon", "abc:def").expect("record");
        let node = w.remote(&cx, "master");
        node.probe(&[(MASTER, "status=0\n")]);
        assert_eq!(plan[0].check(&cx).expect("check"), Check::Satisfied);
        assert_eq!(node.scripts().len(), 1);
    }

    #[test]
    fn a_daemon_whose_spark_changed_is_restarted_and_one_that_does_not_run_is_started() {
        let w = World::sandbox();
        let plan = vec![master(&w.lab), worker(&w.lab, "node1")];
        let cx = w.cx(&plan);
        alive(&cx);
        cx.record("master", "spark", "new").expect("record");
        cx.record("master", "daemon", "old:").expect("record");
        let m = w.remote(&cx, "master");
        m.probe(&[(MASTER, "status=0\n")]);
        assert!(matches!(plan[0].check(&cx).expect("check"), Check::Needed(ref why) if why.contains("changed")));
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        let scripts = m.scripts();
        let stop = scripts.iter().position(|s| s.contains("spark-daemon.sh stop org.apache.spark.deploy.master.Master")).expect("stopped");
        let start = scripts.iter().position(|s| s.contains("spark-daemon.sh start org.apache.spark.deploy.master.Master")).expect("started");
        assert!(stop < start, "{scripts:?}");
        assert_eq!(cx.current("master", "daemon").as_deref(), Some("new:"));

        let n1 = w.remote(&cx, "node1");
        n1.probe(&[(WORKER, "status=1\n")]);
        assert!(matches!(plan[1].check(&cx).expect("check"), Check::Needed(_)));
        assert_eq!(plan[1].apply(&cx).expect("apply"), Outcome::Applied);
        assert!(n1.scripts().iter().any(|s| s.contains("spark-daemon.sh start org.apache.spark.deploy.worker.Worker 1") && s.contains("spark://")));
        assert!(!n1.scripts().iter().any(|s| s.contains("spark-daemon.sh stop")), "nothing ran: nothing stopped");
    }

    #[test]
    fn a_start_that_fails_shows_the_daemons_log() {
        let w = World::sandbox();
        let plan = vec![worker(&w.lab, "node2")];
        let cx = w.cx(&plan);
        let n = w.remote(&cx, "node2");
        n.probe(&[(WORKER, "status=1\n")]);
        n.answer("spark-daemon.sh start", 1, "");
        n.answer("tail -n 25", 0, "java.net.BindException: Cannot assign requested address\n");
        let e = plan[0].apply(&cx).expect_err("start fails").to_string();
        assert!(e.contains("starting it failed") && e.contains("BindException"), "{e}");
    }
}
