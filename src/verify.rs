//! `lab verify`: proves the cluster works. Every check returns a result the caller judges
//! (pass or fail, time, evidence), never just prints.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde::Serialize;

use crate::provision::{MASTER_PORT, master_json};
use crate::remote::Session;
use crate::spec::{Lab, Node, Role};

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub check: String,
    pub node: String,
    pub ok: bool,
    pub seconds: f64,
    pub evidence: String,
}

fn done(check: &str, node: &str, start: Instant, r: Result<String, String>) -> Check {
    let (ok, evidence) = match r {
        Ok(e) => (true, e),
        Err(e) => (false, e),
    };
    Check { check: check.into(), node: node.into(), ok, seconds: start.elapsed().as_secs_f64(), evidence }
}

/// The Scala job: waits for every worker's executor, then collects the host names tasks ran on
/// and a sum whose value is known.
pub const JOB: &str = include_str!("verify-job.scala");

const PROFILE: &str = ". /etc/profile.d/lab-java.sh 2>/dev/null; . /etc/profile.d/lab-spark.sh 2>/dev/null;";

async fn names(lab: &Lab, s: &Session) -> Result<String, String> {
    let all: Vec<&str> = lab.nodes.iter().map(|n| n.name.as_str()).collect();
    let out = s.exec(&format!("for n in {}; do getent ahostsv4 $n | awk -v n=$n 'NR==1{{print n\"=\"$1}}'; done", all.join(" "))).await.map_err(|e| e.to_string())?;
    let got: HashMap<&str, &str> = out.stdout.lines().filter_map(|l| l.split_once('=')).collect();
    let wrong: Vec<String> = lab
        .nodes
        .iter()
        .filter(|n| got.get(n.name.as_str()) != Some(&n.ip.to_string().as_str()))
        .map(|n| format!("{} -> {} (expected {})", n.name, got.get(n.name.as_str()).unwrap_or(&"nothing"), n.ip))
        .collect();
    if wrong.is_empty() { Ok(out.stdout.lines().collect::<Vec<_>>().join(" ")) } else { Err(wrong.join(", ")) }
}

async fn java(lab: &Lab, s: &Session) -> Result<String, String> {
    let out = s.exec(&format!("{PROFILE} java -version 2>&1 | head -n 1")).await.map_err(|e| e.to_string())?;
    let line = out.stdout.trim().to_string();
    let version = line.split('"').nth(1).unwrap_or("");
    let major = match version.split('.').collect::<Vec<_>>()[..] {
        ["1", m, ..] => m.parse::<u32>().ok(),
        [m, ..] => m.parse::<u32>().ok(),
        _ => None,
    };
    if major == Some(lab.java.version) { Ok(line) } else { Err(format!("expected Java {}, found: {line}", lab.java.version)) }
}

async fn jps(n: &Node, s: &Session) -> Result<String, String> {
    let out = s.exec(&format!("{PROFILE} \"$JAVA_HOME/bin/jps\"")).await.map_err(|e| e.to_string())?;
    let want = if n.role == Role::Master { "Master" } else { "Worker" };
    let procs: Vec<&str> = out.stdout.lines().filter_map(|l| l.split_whitespace().nth(1)).filter(|p| *p != "Jps").collect();
    if procs.contains(&want) { Ok(format!("jps: {}", procs.join(", "))) } else { Err(format!("no {want} JVM; jps shows: {}", if procs.is_empty() { "nothing".into() } else { procs.join(", ") })) }
}

async fn master_to_worker(s: &Session, w: &Node) -> Result<String, String> {
    let out = s
        .exec(&format!("ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=5 {} hostname", w.name))
        .await
        .map_err(|e| e.to_string())?;
    if out.ok() && out.stdout.trim() == w.name {
        Ok(format!("ssh -o BatchMode=yes {} hostname -> {}", w.name, w.name))
    } else {
        Err(format!("ssh -o BatchMode=yes {} failed: {}", w.name, out.stderr.trim()))
    }
}

async fn master_ui(lab: &Lab) -> Result<String, String> {
    let j = master_json(lab).await.map_err(|e| e.to_string())?;
    let mut expected: Vec<String> = lab.workers().map(|w| w.ip.to_string()).collect();
    expected.sort();
    let alive = j.alive_hosts();
    if j.status != "ALIVE" {
        return Err(format!("master status {}", j.status));
    }
    if alive != expected {
        return Err(format!("alive workers {alive:?}, expected exactly {expected:?}"));
    }
    Ok(format!("{} ALIVE, workers ALIVE: {}", j.url, alive.join(", ")))
}

fn executor_memory(lab: &Lab) -> String {
    match &lab.spark.worker_memory {
        Some(m) => {
            let mib = m[..m.len() - 1].parse::<u64>().unwrap_or(512) * if m.ends_with(['g', 'G']) { 1024 } else { 1 };
            format!("{}m", mib.min(512))
        }
        None => "512m".into(),
    }
}

async fn spark_job(lab: &Lab, s: &Session) -> Result<String, String> {
    let m = lab.master();
    let workers: Vec<String> = lab.workers().map(|w| w.name.clone()).collect();
    let t = lab.verify.timeout_secs;
    let command = format!(
        "{PROFILE} LAB_WORKERS={n} timeout {t} /opt/spark/bin/spark-shell --master spark://{master}:{MASTER_PORT} \
         --conf spark.scheduler.minRegisteredResourcesRatio=1.0 --conf spark.scheduler.maxRegisteredResourcesWaitingTime=60s \
         --conf spark.executor.memory={mem} --conf spark.ui.enabled=false 2>/tmp/lab-verify-spark-shell.log",
        n = workers.len(),
        master = m.name,
        mem = executor_memory(lab),
    );
    let mut input = JOB.as_bytes();
    let out = s
        .exec_with(&command, Some(&mut input), Some(Duration::from_secs(t + 30)), &mut |_, _| {})
        .await
        .map_err(|e| e.to_string())?;
    let field = |k: &str| out.stdout.lines().find_map(|l| l.trim().strip_prefix(k)).map(str::trim).map(str::to_string);
    let sum = field("LAB_SUM=");
    let hosts = field("LAB_EXECUTOR_HOSTS=");
    let mut expected = workers.clone();
    expected.sort();
    let got: Vec<String> = hosts.as_deref().unwrap_or("").split(',').filter(|h| !h.is_empty()).map(str::to_string).collect();
    if sum.as_deref() != Some("5000050000") {
        let log = s.exec("tail -n 15 /tmp/lab-verify-spark-shell.log").await.map(|o| o.stdout).unwrap_or_default();
        return Err(format!("the job did not return 5000050000 (exit {}); spark-shell's log ends:\n{}", out.status, log.trim_end()));
    }
    if got != expected {
        return Err(format!("tasks ran on {got:?}, expected every worker {expected:?}"));
    }
    Ok(format!("sum 5000050000; tasks ran on {}", got.join(", ")))
}

/// Runs every check. `sessions` holds one SSH session per node that could be reached; a node
/// missing from it fails its SSH check with `ssh_errors[node]`.
pub async fn run(lab: &Lab, sessions: &HashMap<String, Session>, ssh_errors: &HashMap<String, (String, f64)>) -> Vec<Check> {
    let mut checks = Vec::new();
    for n in &lab.nodes {
        match (sessions.get(&n.name), ssh_errors.get(&n.name)) {
            (Some(s), _) => checks.push(Check { check: "ssh".into(), node: n.name.clone(), ok: true, seconds: 0.0, evidence: format!("{}@{} with the pinned host key", s.target.user, s.target.addr) }),
            (None, Some((e, secs))) => checks.push(Check { check: "ssh".into(), node: n.name.clone(), ok: false, seconds: *secs, evidence: e.clone() }),
            (None, None) => {}
        }
    }
    let per_node = join_all(lab.nodes.iter().filter_map(|n| sessions.get(&n.name).map(|s| (n, s))).map(|(n, s)| async move {
        let mut v = Vec::new();
        let t = Instant::now();
        v.push(done("names", &n.name, t, names(lab, s).await));
        let t = Instant::now();
        v.push(done("java", &n.name, t, java(lab, s).await));
        let t = Instant::now();
        v.push(done("jps", &n.name, t, jps(n, s).await));
        v
    }))
    .await;
    checks.extend(per_node.into_iter().flatten());
    let m = lab.master();
    if let Some(ms) = sessions.get(&m.name) {
        let cluster = join_all(lab.workers().map(|w| async move {
            let t = Instant::now();
            done("master_ssh", &format!("{}->{}", m.name, w.name), t, master_to_worker(ms, w).await)
        }))
        .await;
        checks.extend(cluster);
    }
    let t = Instant::now();
    checks.push(done("master_ui", &m.name, t, master_ui(lab).await));
    if lab.verify.spark_shell {
        let broken: Vec<String> = checks.iter().filter(|c| !c.ok).map(|c| format!("{} on {}", c.check, c.node)).collect();
        match sessions.get(&m.name) {
            // A job on a broken cluster would only wait for executors that cannot come.
            _ if !broken.is_empty() => checks.push(Check {
                check: "spark_job".into(),
                node: m.name.clone(),
                ok: false,
                seconds: 0.0,
                evidence: format!("not run: the cluster is not healthy ({})", broken.join(", ")),
            }),
            Some(ms) => {
                let t = Instant::now();
                checks.push(done("spark_job", &m.name, t, spark_job(lab, ms).await));
            }
            None => {}
        }
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{HostFacts, parse};
    use std::path::Path;

    #[test]
    fn executor_memory_fits_the_worker() {
        let mut lab = parse(Path::new("x"), include_str!("../labs/sandbox.yaml"), &HostFacts::default()).expect("valid");
        assert_eq!(executor_memory(&lab), "512m");
        lab.spark.worker_memory = Some("384m".into());
        assert_eq!(executor_memory(&lab), "384m");
        lab.spark.worker_memory = Some("2g".into());
        assert_eq!(executor_memory(&lab), "512m");
    }
}
