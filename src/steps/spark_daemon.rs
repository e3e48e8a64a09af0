//! A Spark daemon runs: the master on the master, a worker on each worker, and on the master the
//! history server and the Spark Connect server where the lab has them, all started through
//! `sbin/spark-daemon.sh` (which every distribution of Spark has, the pyspark package included;
//! the Connect server is `spark-daemon.sh submit`, as `sbin/start-connect-server.sh` does). A
//! running daemon is left alone unless what it runs changed (the release, `spark-env.sh`, or its
//! own settings such as the Connect port) since lab started it; a stale pid file is recovered by
//! spark-daemon.sh itself.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::files::short_hash;
use crate::script::{Sh, sh};
use crate::spark::{self, Daemon};
use crate::spec::Lab;
use crate::steps::node::NodeCx;
use crate::steps::{Check, Cx, Fingerprint, Head, Stage, Step, spark_defaults, spark_env, spark_installed};
use crate::ui::Outcome;

/// What a running daemon was started with (the release, spark-env.sh, its own settings).
pub const RUNS: Fingerprint = Fingerprint::new("daemon");
pub const HISTORY_RUNS: Fingerprint = Fingerprint::new("daemon.history");
pub const CONNECT_RUNS: Fingerprint = Fingerprint::new("daemon.connect");

pub const MASTER: &str = "spark_master_running";
pub const WORKER: &str = "spark_worker_running";
pub const HISTORY: &str = "history_server_running";
pub const CONNECT: &str = "spark_connect_running";

pub struct SparkDaemon {
    node: String,
    daemon: Daemon,
    head: Head,
}

/// A daemon step's header: its id and stage follow from the daemon.
fn head(daemon: Daemon, node: &str, goal: impl Into<String>) -> Head {
    let (id, stage) = match daemon {
        Daemon::Master => (MASTER, Stage::Cluster),
        Daemon::History => (HISTORY, Stage::Cluster),
        Daemon::Worker => (WORKER, Stage::Workers),
        // Its sessions need the workers.
        Daemon::Connect => (CONNECT, Stage::Ready),
    };
    Head::node(id, stage, node, goal)
}

/// The master's daemon.
pub fn master(lab: &Lab) -> Box<dyn Step> {
    Box::new(SparkDaemon {
        node: lab.master().name.clone(),
        daemon: Daemon::Master,
        head: head(Daemon::Master, &lab.master().name, format!("Spark master at {}, web UI {}", spark::master_url(lab), spark::master_ui(lab))),
    })
}

/// A worker's daemon.
pub fn worker(_: &Lab, node: &str) -> Box<dyn Step> {
    Box::new(SparkDaemon { node: node.to_string(), daemon: Daemon::Worker, head: head(Daemon::Worker, node, "Spark worker running") })
}

/// The history server on the master, when the lab has one: finished applications' event logs.
pub fn history(lab: &Lab) -> Option<Box<dyn Step>> {
    let ui = spark::history_ui(lab)?;
    Some(Box::new(SparkDaemon {
        node: lab.master().name.clone(),
        daemon: Daemon::History,
        head: head(Daemon::History, &lab.master().name, format!("history server at {ui}, reading {}", spark::EVENTS_DIR)),
    }))
}

/// The Spark Connect server on the master, when the lab has one, attached to the master.
pub fn connect(lab: &Lab) -> Option<Box<dyn Step>> {
    let c = lab.spark.connect.as_ref()?;
    let memory = &c.memory;
    Some(Box::new(SparkDaemon {
        node: lab.master().name.clone(),
        daemon: Daemon::Connect,
        head: head(
            Daemon::Connect,
            &lab.master().name,
            format!("Spark Connect server on the master's 127.0.0.1:{} with the lab's token ({memory} heap), its work on the workers", c.port),
        ),
    }))
}

/// A daemon's failure, with the last lines of its log.
pub fn failure(cx: &Cx<'_>, node: &str, problem: &str) -> Error {
    let d = cx.lab.node(node).map_or(Daemon::Worker, Daemon::of);
    daemon_failure(cx, node, d, problem)
}

fn daemon_failure(cx: &Cx<'_>, node: &str, d: Daemon, problem: &str) -> Error {
    let tail = cx.remote(node).and_then(|r| r.exec(&spark::log_tail(d, 25))).map(|o| o.stdout).unwrap_or_default();
    Error::node_hint(
        node,
        format!("the {}: {problem}\n--- last lines of its log on {node}:\n{}", d.title(), tail.trim_end()),
        format!("the whole log: lab ssh {node} -- 'cat {}'", d.log_glob()),
    )
}

/// Whether something listens on `ip:port`, seen from the node itself.
fn listening(ip: std::net::Ipv4Addr, port: u16) -> Sh {
    sh("timeout 2 bash -c 'exec 3<>/dev/tcp/$0/$1' {{ip}} {{port}} 2>/dev/null && echo open || echo closed", &[("ip", &ip), ("port", &port)])
}

impl SparkDaemon {
    /// Where lab records what the running daemon runs (`daemon` for a node's own daemon).
    fn key(&self) -> Fingerprint {
        match self.daemon {
            Daemon::Master | Daemon::Worker => RUNS,
            Daemon::History => HISTORY_RUNS,
            Daemon::Connect => CONNECT_RUNS,
        }
    }

    /// What the daemon runs: the release and spark-env.sh lab installed, and its own settings.
    fn fingerprint(&self, cx: &Cx<'_>) -> String {
        let base = format!(
            "{}:{}:{}",
            cx.current(&self.node, spark_installed::RELEASE).unwrap_or_default(),
            cx.current(&self.node, spark_env::WRITTEN).unwrap_or_default(),
            cx.current(&self.node, spark_defaults::WRITTEN).unwrap_or_default()
        );
        match self.daemon {
            // Their arguments follow from the lab's nodes, which spark-env.sh already carries.
            Daemon::Master | Daemon::Worker => base,
            Daemon::History | Daemon::Connect => format!("{base}:{}", short_hash(&self.daemon.settings(cx.lab))),
        }
    }

    fn runs(&self, cx: &Cx<'_>) -> Result<bool> {
        Ok(cx.fact(&self.node, self.head.id)?.lines().any(|l| l.trim() == "status=0"))
    }

    /// Waits until the daemon serves: the master's JSON says ALIVE; the history server's and the
    /// Connect server's ports answer on the master's lab address.
    fn wait_ready(&self, cx: &Cx<'_>, within: Duration) -> Result<()> {
        let port = match self.daemon {
            Daemon::Worker => return Ok(()),
            Daemon::Master => None,
            Daemon::History => cx.lab.spark.history_port,
            Daemon::Connect => cx.lab.spark.connect.as_ref().map(|c| c.port),
        };
        // The Connect server listens on the master's loopback.
        let ip = if self.daemon == Daemon::Connect { std::net::Ipv4Addr::LOCALHOST } else { cx.lab.master().ip };
        let deadline = Instant::now() + within;
        loop {
            let ready = match port {
                None => cx.master_json().is_ok_and(|j| j.status == "ALIVE"),
                Some(p) => cx.remote(&self.node)?.exec(&listening(ip, p))?.stdout.trim() == "open",
            };
            if ready {
                return Ok(());
            }
            let what = match port {
                None => format!("{}/json/ did not show ALIVE", spark::master_ui(cx.lab)),
                Some(p) => format!("nothing listened on {ip}:{p}"),
            };
            if Instant::now() > deadline {
                return Err(daemon_failure(cx, &self.node, self.daemon, &format!("{what} within {} s", within.as_secs())));
            }
            let s = cx.remote(&self.node)?.exec(&spark::status(self.daemon))?;
            if s.status == 1 {
                return Err(daemon_failure(cx, &self.node, self.daemon, "it stopped right after it started"));
            }
            cx.reporter.phase(&self.node, &format!("waiting for the {}", self.daemon.title()));
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Step for SparkDaemon {
    fn head(&self) -> &Head {
        &self.head
    }
    fn probes(&self, _: &Cx<'_>) -> Result<Vec<(String, Sh)>> {
        // Whether the daemon runs (`status=0`).
        Ok(vec![(self.node.clone(), sh("( {{status}} ); echo \"status=$?\"", &[("status", &spark::status(self.daemon))]))])
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        if !self.runs(cx)? {
            return Ok(Check::Needed("it does not run".into()));
        }
        if cx.current(&self.node, self.key()).as_deref() != Some(self.fingerprint(cx).as_str()) {
            return Ok(Check::Needed("Spark or its settings changed since it started".into()));
        }
        self.wait_ready(cx, Duration::from_secs(90) * cx.machines.patience(cx.lab))?;
        Ok(Check::Satisfied)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let n = NodeCx::new(cx, &self.node)?;
        // Stopped whether it runs as the daemon account or, started by an older lab, as the
        // lab user (whose daemon holds the ports): root stops either.
        n.s.exec(&spark::stop(self.daemon, &cx.lab.user).sudo())?;
        let out = n.s.exec(&spark::start(cx.lab, self.daemon))?;
        if !out.ok() {
            return Err(daemon_failure(cx, &self.node, self.daemon, &format!("starting it failed: {}{}", out.stdout.trim(), out.stderr.trim())));
        }
        cx.record(&self.node, self.key(), &self.fingerprint(cx))?;
        self.wait_ready(cx, Duration::from_secs(120) * cx.machines.patience(cx.lab))?;
        Ok(Outcome::Applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spark::MasterJson;
    use std::sync::Arc;

    use crate::steps::fake::{FakeWeb, World};

    fn alive(cx: &mut Cx<'_>) {
        cx.web = Arc::new(FakeWeb(|| Ok(MasterJson { url: String::new(), status: "ALIVE".into(), workers: Vec::new() })));
    }

    #[test]
    fn a_running_master_that_runs_what_lab_installed_is_left_alone() {
        let w = World::sandbox();
        let plan = vec![master(&w.lab)];
        let mut cx = w.cx(&plan);
        alive(&mut cx);
        cx.record("master", spark_installed::RELEASE, "abc").expect("record");
        cx.record("master", spark_env::WRITTEN, "def").expect("record");
        cx.record("master", spark_defaults::WRITTEN, "ghi").expect("record");
        cx.record("master", RUNS, "abc:def:ghi").expect("record");
        let node = w.remote(&cx, "master");
        node.probe(&[(MASTER, "status=0\n")]);
        assert_eq!(plan[0].check(&cx).expect("check"), Check::Satisfied);
        assert_eq!(node.scripts().len(), 1);
    }

    #[test]
    fn a_daemon_whose_spark_changed_is_restarted_and_one_that_does_not_run_is_started() {
        let w = World::sandbox();
        let plan = vec![master(&w.lab), worker(&w.lab, "node1")];
        let mut cx = w.cx(&plan);
        alive(&mut cx);
        cx.record("master", spark_installed::RELEASE, "new").expect("record");
        cx.record("master", RUNS, "old:").expect("record");
        let m = w.remote(&cx, "master");
        m.probe(&[(MASTER, "status=0\n")]);
        assert!(matches!(plan[0].check(&cx).expect("check"), Check::Needed(ref why) if why.contains("changed")));
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        let scripts = m.scripts();
        let stop = scripts.iter().position(|s| s.contains("spark-daemon.sh stop org.apache.spark.deploy.master.Master")).expect("stopped");
        let start = scripts.iter().position(|s| s.contains("spark-daemon.sh start org.apache.spark.deploy.master.Master")).expect("started");
        assert!(stop < start, "{scripts:?}");
        assert_eq!(cx.current("master", RUNS).as_deref(), Some("new::"));

        let n1 = w.remote(&cx, "node1");
        n1.probe(&[(WORKER, "status=1\n")]);
        assert!(matches!(plan[1].check(&cx).expect("check"), Check::Needed(_)));
        assert_eq!(plan[1].apply(&cx).expect("apply"), Outcome::Applied);
        assert!(n1.scripts().iter().any(|s| s.contains("spark-daemon.sh start org.apache.spark.deploy.worker.Worker 1") && s.contains("spark://")));
        // Stopped first in any case, as root: an older lab's worker ran as the lab user.
        let stop = n1.scripts().iter().position(|s| s.contains("for who in sparkd spark")).expect("stopped as either account");
        assert!(n1.ran_as_root("for who in sparkd spark"), "{:?}", n1.scripts());
        assert!(stop < n1.scripts().iter().position(|s| s.contains("spark-daemon.sh start")).expect("started"));
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

    #[test]
    fn the_connect_server_is_submitted_bound_to_the_masters_loopback_and_restarted_when_its_port_changes() {
        let w = World::sandbox();
        let plan: Vec<Box<dyn Step>> = connect(&w.lab).into_iter().collect();
        assert_eq!(plan.len(), 1, "Spark 4.3.0 carries the Connect server");
        assert!(plan[0].head().goal.contains("127.0.0.1:15002 with the lab's token"), "{}", plan[0].head().goal);
        let cx = w.cx(&plan);
        let m = w.remote(&cx, "master");
        m.probe(&[(CONNECT, "status=1\n")]);
        assert!(matches!(plan[0].check(&cx).expect("check"), Check::Needed(ref why) if why.contains("does not run")));
        m.answer("/dev/tcp", 0, "open\n");
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        let start = m.scripts().into_iter().find(|s| s.contains("spark-daemon.sh submit")).expect("submitted");
        for want in [
            "org.apache.spark.sql.connect.service.SparkConnectServer 1",
            "--master spark://master:7077",
            "spark.connect.grpc.binding.address=127.0.0.1",
            "spark.connect.grpc.binding.port=15002",
            "--driver-memory 768m",
            "spark.dynamicAllocation.maxExecutors=2",
            "SPARK_IDENT_STRING=sparkd",
            "sudo -n -u sparkd env",
            "--properties-file /var/lib/lab-spark/daemon.conf",
        ] {
            assert!(start.contains(want), "{want} missing from {start}");
        }
        assert!(!m.ran_as_root("spark-daemon.sh submit"), "the daemon account runs it, not root");
        assert!(m.scripts().iter().any(|s| s.contains("/dev/tcp") && s.contains("127.0.0.1 15002")), "ready when the loopback port answers: {:?}", m.scripts());
        // Running with the same settings: left alone.
        m.probe(&[(CONNECT, "status=0\n")]);
        let cx2 = w.cx(&plan);
        let m2 = w.remote(&cx2, "master");
        m2.probe(&[(CONNECT, "status=0\n")]);
        m2.answer("/dev/tcp", 0, "open\n");
        assert_eq!(plan[0].check(&cx2).expect("check"), Check::Satisfied);
        // Another port in the lab file: restarted.
        let moved =
            World::with(&include_str!("../../labs/sandbox.yaml").replace("  connect_memory: 768m", "  connect_memory: 768m\n  connect_port: 15003"), false);
        let plan3: Vec<Box<dyn Step>> = connect(&moved.lab).into_iter().collect();
        let cx3 = moved.cx(&plan3);
        cx3.record("master", CONNECT_RUNS, &cx.current("master", CONNECT_RUNS).expect("recorded")).expect("record");
        moved.remote(&cx3, "master").probe(&[(CONNECT, "status=0\n")]);
        assert!(matches!(plan3[0].check(&cx3).expect("check"), Check::Needed(ref why) if why.contains("settings changed")));
    }

    #[test]
    fn the_history_server_reads_the_event_logs_on_its_port_and_a_server_that_dies_at_once_says_so() {
        let w = World::sandbox();
        let plan: Vec<Box<dyn Step>> = history(&w.lab).into_iter().collect();
        let cx = w.cx(&plan);
        let m = w.remote(&cx, "master");
        m.probe(&[(HISTORY, "status=1\n")]);
        assert!(matches!(plan[0].check(&cx).expect("check"), Check::Needed(_)));
        m.answer("/dev/tcp", 0, "closed\n");
        m.answer("/proc/$pid/cmdline", 1, "");
        m.answer("tail -n 25", 0, "java.net.BindException: Address already in use\n");
        let e = plan[0].apply(&cx).expect_err("it dies").to_string();
        assert!(e.contains("history server") && e.contains("stopped right after it started") && e.contains("BindException"), "{e}");
        let start = m.scripts().into_iter().find(|s| s.contains("spark-daemon.sh start")).expect("started");
        assert!(start.contains("org.apache.spark.deploy.history.HistoryServer 1"), "{start}");
        assert!(start.contains("-Dspark.history.fs.logDirectory=file:/var/lib/lab-spark/events") && start.contains("-Dspark.history.ui.port=18080"), "{start}");
    }

    #[test]
    fn a_spark_3_lab_has_no_connect_server_and_stop_all_stops_every_daemon() {
        let w = World::sandbox_3_5();
        assert!(connect(&w.lab).is_none());
        assert!(history(&w.lab).is_some(), "every line has a history server");
        let all = spark::stop_all("spark");
        let order: Vec<usize> = [Daemon::Connect, Daemon::History, Daemon::Worker, Daemon::Master]
            .iter()
            .map(|d| all.as_str().find(&format!("stop {} 1", d.class())).expect("stopped"))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "applications first: {order:?}");
    }
}
