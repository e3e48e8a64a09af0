//! The Spark daemons, started through `sbin/spark-daemon.sh` (which every distribution of Spark
//! has, the pyspark package included): a running daemon is left alone unless what it runs
//! changed (the release, or `spark-env.sh`) since lab started it; a stale pid file is recovered
//! by spark-daemon.sh itself. Then the master's `/json/` must list every worker ALIVE.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::NodeCx;
use crate::error::{Error, Result};
use crate::spark::{self, Daemon};
use crate::spec::{Lab, Node};
use crate::ui::Outcome;

/// The master's `/json/` document, the parts lab reads (the same in Spark 2.x to 4.x).
#[derive(Debug, Deserialize)]
pub struct MasterJson {
    #[serde(default)]
    pub url: String,
    pub status: String,
    #[serde(default)]
    pub workers: Vec<WorkerJson>,
}

#[derive(Debug, Deserialize)]
pub struct WorkerJson {
    pub host: String,
    pub state: String,
}

impl MasterJson {
    pub fn alive_worker(&self, w: &Node) -> bool {
        self.workers.iter().any(|x| x.state == "ALIVE" && (x.host == w.ip.to_string() || x.host == w.name))
    }
    pub fn alive_hosts(&self) -> Vec<String> {
        let mut v: Vec<String> = self.workers.iter().filter(|w| w.state == "ALIVE").map(|w| w.host.clone()).collect();
        v.sort();
        v
    }
}

/// GET the master's `/json/` from this machine.
pub async fn master_json(lab: &Lab) -> Result<MasterJson> {
    let url = format!("{}/json/", spark::master_ui(lab));
    let text = crate::http::get_text(&url).await?;
    serde_json::from_str(&text).map_err(|e| Error::Download { url, problem: format!("not the master's JSON: {e}") })
}

fn failure(n: &NodeCx<'_>, problem: &str) -> Error {
    let d = Daemon::of(n.node);
    let tail = n.run(n.s.exec(&spark::log_tail(d, 25))).map(|o| o.stdout).unwrap_or_default();
    Error::node_hint(
        n.name(),
        format!("the Spark {} daemon: {problem}\n--- last lines of its log on {}:\n{}", d.short(), n.name(), tail.trim_end()),
        format!("the whole log: lab ssh {} -- 'cat {}'", n.name(), d.log_glob()),
    )
}

/// Whether the node's daemon runs (`status=0`).
pub fn check(node: &Node, user: &str) -> crate::script::Sh {
    crate::script::sh("( {{status}} ); echo \"status=$?\"", &[("status", &spark::status(Daemon::of(node), user))])
}

/// The node's daemon runs what lab installed and configured.
pub fn running(n: &NodeCx<'_>) -> Result<Outcome> {
    let d = Daemon::of(n.node);
    let fp = format!("{}:{}", n.cx.current(n.name(), "spark").unwrap_or_default(), n.cx.current(n.name(), "spark_env").unwrap_or_default());
    let runs = n.fact(crate::plan::ids::MASTER)?.lines().any(|l| l.trim() == "status=0");
    let up_to_date = n.cx.current(n.name(), "daemon").as_deref() == Some(fp.as_str());
    if runs && up_to_date {
        if d == Daemon::Master {
            wait_master(n, Duration::from_secs(90))?;
        }
        return Ok(Outcome::Satisfied);
    }
    if runs {
        n.run(n.s.exec(&spark::stop(d, &n.cx.lab.user)))?;
    }
    let out = n.run(n.s.exec(&spark::start(n.cx.lab, d)))?;
    if !out.ok() {
        return Err(failure(n, &format!("starting it failed: {}{}", out.stdout.trim(), out.stderr.trim())));
    }
    n.cx.record(n.name(), "daemon", &fp)?;
    if d == Daemon::Master {
        wait_master(n, Duration::from_secs(90))?;
    }
    Ok(Outcome::Applied)
}

fn wait_master(n: &NodeCx<'_>, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if n.run(master_json(n.cx.lab)).is_ok_and(|j| j.status == "ALIVE") {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(failure(n, &format!("{}/json/ did not show ALIVE within {} s", spark::master_ui(n.cx.lab), within.as_secs())));
        }
        n.cx.reporter.phase(n.name(), "waiting for the master's web UI");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The master lists exactly the lab's workers as ALIVE (a replaced worker's old registration
/// stays until the master notices it is gone).
pub fn registered(n: &NodeCx<'_>) -> Result<Outcome> {
    let lab = n.cx.lab;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut waited = false;
    loop {
        let j = n.run(master_json(lab)).ok();
        let missing: Vec<&Node> = lab.workers().filter(|w| !j.as_ref().is_some_and(|j| j.alive_worker(w))).collect();
        let exact = j.as_ref().is_some_and(|j| j.alive_hosts().len() == lab.workers().count());
        if missing.is_empty() && exact {
            return Ok(if waited { Outcome::Applied } else { Outcome::Satisfied });
        }
        if Instant::now() > deadline {
            return match missing.first() {
                Some(w) => {
                    let ws = n.cx.session(&w.name)?;
                    let wn = NodeCx { cx: n.cx, node: w, s: ws };
                    Err(failure(&wn, "it did not register with the master as ALIVE within 120 s"))
                }
                None => Err(Error::node(n.name(), format!("the master lists other workers than the lab's: {:?}", j.map(|j| j.alive_hosts())))),
            };
        }
        let names: Vec<&str> = missing.iter().map(|w| w.name.as_str()).collect();
        n.cx.reporter.phase(
            n.name(),
            &format!("waiting for workers to register: {}", if names.is_empty() { "old registrations to expire".to_string() } else { names.join(", ") }),
        );
        waited = true;
        std::thread::sleep(Duration::from_millis(300));
    }
}
