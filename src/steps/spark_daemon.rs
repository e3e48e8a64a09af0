//! A Spark daemon runs: the master on the master, a worker on each worker, started through
//! `sbin/spark-daemon.sh` (which every distribution of Spark has, the pyspark package
//! included). A running daemon is left alone unless what it runs changed (the release, or
//! `spark-env.sh`) since lab started it; a stale pid file is recovered by spark-daemon.sh itself.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::script::{Sh, sh};
use crate::spark::{self, Daemon, master_json};
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
            if cx.block_on(master_json(cx.lab)).is_ok_and(|j| j.status == "ALIVE") {
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
