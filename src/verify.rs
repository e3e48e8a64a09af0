//! `lab verify`: proves the cluster works. Every check returns a result the caller judges (pass
//! or fail, time, evidence), never just prints. The Spark job starts first, since it takes the
//! longest; the other checks run while it does, and a cluster they find broken stops the job.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde::Serialize;

use crate::remote::Session;
use crate::script::{Sh, Words, sh};
use crate::spark::master_json_at;
use crate::spark::{self, Daemon};
use crate::spec::{Lab, Node};

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

/// The Scala job (see the file for how its result is found).
pub const JOB: &str = include_str!("verify-job.scala");
/// The same job in Java, for a master whose JDK compiles it.
pub const JOB_JAVA: &str = include_str!("verify-job.java");
const MARK: &str = "#LABRESULT#";

fn profiles() -> Sh {
    sh(". {{j}} 2>/dev/null; . {{s}} 2>/dev/null", &[("j", &spark::JAVA_PROFILE), ("s", &spark::SPARK_PROFILE)])
}

/// The job's result, wherever it stands in the shell's output: `(hosts, sum)`.
pub fn job_result(stdout: &str) -> Option<(Vec<String>, String)> {
    let body = job_body(stdout)?;
    let mut hosts = Vec::new();
    let mut sum = String::new();
    for part in body.split(';') {
        if let Some(h) = part.strip_prefix("hosts=") {
            hosts = h.split(',').filter(|x| !x.is_empty()).map(str::to_string).collect();
        } else if let Some(s) = part.strip_prefix("sum=") {
            sum = s.to_string();
        }
    }
    Some((hosts, sum))
}

fn job_body(stdout: &str) -> Option<&str> {
    let start = stdout.find(&format!("{MARK}hosts="))? + MARK.len();
    let rest = &stdout[start..];
    Some(&rest[..rest.find(MARK)?])
}

/// The job's application id, as it printed it (the history server lists it by that id).
pub fn job_app(stdout: &str) -> Option<String> {
    job_body(stdout)?.split(';').find_map(|p| p.strip_prefix("app=")).filter(|a| !a.is_empty()).map(str::to_string)
}

/// The Spark Connect server answers a gRPC call from this computer with the lab's release, the
/// way a client is told to reach it (`lab ui --forward`): through lab's SSH to the master's
/// loopback, with the lab's token.
async fn connect_check(lab: &Lab, master: Option<&Arc<Session>>, token: &str, patience: u32) -> Result<String, String> {
    let (Some(c), Some(url)) = (&lab.spark.connect, spark::connect_url(lab)) else { return Err("the lab has no Spark Connect server".into()) };
    let m = &lab.master().name;
    let Some(s) = master else { return Err(format!("{url}: no SSH session to {m} to forward it through")) };
    let addr = crate::remote::forward::listen(s.clone(), 0, "127.0.0.1", c.port).await.map_err(|e| e.to_string())?;
    // A server on an emulated guest, its one CPU busy with the verify job, answers late.
    match crate::sparkconnect::spark_version(addr, &lab.user, Some(token), Duration::from_secs(20) * patience).await {
        Ok(v) if v == lab.spark.version.to_string() => Ok(format!("{url} answers over gRPC through lab's SSH with the lab's token: Spark {v}")),
        Ok(v) => Err(format!("{url} answers with Spark {v}, not the lab's {}; `lab up` restarts it on the lab's release", lab.spark.version)),
        Err(e) => Err(format!("{url} (forwarded over SSH): {e}. `lab up` starts the server again; its log: lab logs {m} --daemon connect")),
    }
}

/// Whether the history server's `/api/v1/applications/<id>` document shows an attempt completed.
fn completed(json: &str) -> bool {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    v["attempts"].as_array().is_some_and(|a| a.iter().any(|x| x["completed"] == true))
}

/// The history server lists the verify job (once its event log is complete), or, with no job to
/// look for, answers.
async fn history_check(lab: &Lab, ui: Option<&str>, app: Option<String>, patience: u32) -> Result<String, String> {
    let Some(ui) = ui else { return Err("the lab has no history server".into()) };
    let m = &lab.master().name;
    let hint = format!("`lab up` starts it again; its log: lab logs {m} --daemon history");
    let Some(app) = app else {
        return crate::http::get_text(&format!("{ui}/api/v1/applications?limit=1")).await.map(|_| format!("{ui} answers")).map_err(|e| format!("{e}; {hint}"));
    };
    let url = format!("{ui}/api/v1/applications/{app}");
    let deadline = Instant::now() + Duration::from_secs(60) * patience;
    loop {
        let last = match crate::http::get_text(&url).await {
            Ok(text) if completed(&text) => return Ok(format!("{ui} lists the verify job {app}, completed")),
            Ok(_) => format!("{ui} lists {app} but not as completed"),
            Err(e) => format!("{e}"),
        };
        if Instant::now() > deadline {
            return Err(format!("the verify job {app} is not listed as completed at {ui} after 60 s ({last}); {hint}"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// names, java and jps of one node, in one round trip (jps as the daemon account: a JVM shows
/// only to its own account).
async fn node_checks(lab: &Lab, n: &Node, s: &Session) -> Vec<Check> {
    let t = Instant::now();
    let all: Vec<String> = lab.nodes.iter().map(|n| n.name.clone()).collect();
    let script = sh(
        "{{profiles}}; echo '== names'; for n in {{all}}; do getent ahostsv4 \"$n\" | awk -v n=\"$n\" 'NR==1{print n\"=\"$1}'; done; \
         echo '== java'; java -version 2>&1 | head -n 1; echo '== jps'; sudo -n -u {{daemon}} \"$JAVA_HOME/bin/jps\" 2>&1; echo '== python'; python3 --version 2>&1; true",
        &[("profiles", &profiles()), ("all", &Words(&all)), ("daemon", &crate::spark::DAEMON_USER)],
    );
    let out = match s.exec(&script).await {
        Ok(o) => o.stdout,
        Err(e) => return ["names", "java", "jps"].iter().map(|c| done(c, &n.name, t, Err(e.to_string()))).collect(),
    };
    let section = |name: &str| -> Vec<&str> {
        let head = format!("== {name}");
        out.lines().skip_while(|l| *l != head).skip(1).take_while(|l| !l.starts_with("== ")).collect()
    };
    // names
    let got: HashMap<&str, &str> = section("names").into_iter().filter_map(|l| l.split_once('=')).collect();
    let wrong: Vec<String> = lab
        .nodes
        .iter()
        .filter(|x| got.get(x.name.as_str()) != Some(&x.ip.to_string().as_str()))
        .map(|x| format!("{} -> {} (expected {})", x.name, got.get(x.name.as_str()).unwrap_or(&"nothing"), x.ip))
        .collect();
    let names = if wrong.is_empty() { Ok(section("names").join(" ")) } else { Err(wrong.join(", ")) };
    // java
    let line = section("java").first().copied().unwrap_or("").trim().to_string();
    let version = line.split('"').nth(1).unwrap_or("");
    let major = match version.split('.').collect::<Vec<_>>()[..] {
        ["1", m, ..] => m.parse::<u32>().ok(),
        [m, ..] => m.parse::<u32>().ok(),
        _ => None,
    };
    let java = if major == Some(lab.java.version) { Ok(line) } else { Err(format!("expected Java {}, found: {line}", lab.java.version)) };
    // jps
    // The node's own daemon (the Connect and history servers are checked from this computer).
    let want = Daemon::of(n).short();
    let procs: Vec<&str> = section("jps").into_iter().filter_map(|l| l.split_whitespace().nth(1)).filter(|p| *p != "Jps").collect();
    let jps = if procs.contains(&want) {
        Ok(format!("jps: {}", procs.join(", ")))
    } else {
        Err(format!("no {want} JVM; jps shows: {}", if procs.is_empty() { "nothing".into() } else { procs.join(", ") }))
    };
    let mut checks = vec![done("names", &n.name, t, names), done("java", &n.name, t, java), done("jps", &n.name, t, jps)];
    if lab.spark.python {
        let py = section("python").first().copied().unwrap_or("").trim().to_string();
        checks.push(done("python", &n.name, t, if py.starts_with("Python 3") { Ok(py) } else { Err(format!("no python3 for PySpark: {py}")) }));
    }
    checks
}

/// Passwordless SSH from the master to each worker, in one round trip.
async fn master_to_workers(lab: &Lab, s: &Session) -> Vec<Check> {
    let t = Instant::now();
    let m = lab.master();
    let workers: Vec<String> = lab.workers().map(|w| w.name.clone()).collect();
    let script = sh(
        "for w in {{workers}}; do e=$(mktemp); h=$(ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=5 \"$w\" hostname 2>\"$e\"); \
         printf '%s=%s|%s\\n' \"$w\" \"$h\" \"$(tr '\\n' ' ' < \"$e\")\"; rm -f \"$e\"; done",
        &[("workers", &Words(&workers))],
    );
    let out = s.exec(&script).await.map(|o| o.stdout).unwrap_or_default();
    workers
        .iter()
        .map(|w| {
            let line = out.lines().find_map(|l| l.strip_prefix(&format!("{w}="))).unwrap_or("");
            let (got, err) = line.split_once('|').unwrap_or((line, ""));
            let r = if got.trim() == w {
                Ok(format!("ssh -o BatchMode=yes {w} hostname -> {w}"))
            } else {
                Err(format!("ssh -o BatchMode=yes {w} failed: {} {}", got.trim(), err.trim()))
            };
            done("master_ssh", &format!("{}->{w}", m.name), t, r)
        })
        .collect()
}

async fn master_ui(lab: &Lab, ui: &str) -> Result<String, String> {
    let j = master_json_at(ui).await.map_err(|e| e.to_string())?;
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

/// Where the master keeps the compiled job: in Spark's own folder (the lab user's, removed with
/// Spark), named by the source it was compiled from.
fn job_jar() -> String {
    use sha2::{Digest, Sha256};
    let key = format!("{:x}", Sha256::digest(JOB_JAVA.as_bytes()));
    format!("{}/lab/verify-{}.jar", spark::HOME, &key[..16])
}

/// The Spark job on the master. Where the master's JDK has `javac`, the Java job is compiled once
/// and run with spark-submit (seconds faster than the Scala shell's start); otherwise (a runtime
/// without a compiler) the same job runs in spark-shell. Its output and log stay in a folder on
/// the master, named in the evidence.
async fn spark_job(lab: Lab, s: Arc<Session>) -> Result<(String, Option<String>), String> {
    let workers: Vec<String> = lab.workers().map(|w| w.name.clone()).collect();
    let t = lab.verify.timeout_secs;
    let script = sh(
        "{{profiles}}; ls -dt /tmp/lab-verify.* 2>/dev/null | tail -n +4 | while IFS= read -r old; do \
           case \"$old\" in /tmp/lab-verify.[A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9]) ;; *) continue ;; esac; \
           [ -d \"$old\" ] && [ ! -L \"$old\" ] && [ -O \"$old\" ] && rm -rf -- \"$old\"; \
         done; \
         d=$(mktemp -d /tmp/lab-verify.XXXXXXXX); printf 'dir=%s\\n' \"$d\"; cat > \"$d/job.scala\"; jar={{jar}}; \
         if [ ! -s \"$jar\" ] && [ -x \"$JAVA_HOME/bin/javac\" ] && [ -x \"$JAVA_HOME/bin/jar\" ]; then \
           mkdir -p \"$d/classes\" && printf '%s' {{java}} > \"$d/LabVerify.java\" \
           && \"$JAVA_HOME/bin/javac\" -nowarn -d \"$d/classes\" -cp {{home}}'/jars/*' \"$d/LabVerify.java\" > \"$d/javac.log\" 2>&1 \
           && \"$JAVA_HOME/bin/jar\" cf \"$d/verify.jar\" -C \"$d/classes\" . && mkdir -p \"${jar%/*}\" && mv -f \"$d/verify.jar\" \"$jar\" \
           || echo 'javac failed: running the job in spark-shell' >> \"$d/javac.log\"; \
         fi; \
         set -- --master {{url}} --driver-java-options \"-Dlab.verify.dir=$d -XX:TieredStopAtLevel=1 -XX:+UseSerialGC\" \
           --conf spark.executor.extraJavaOptions=-XX:TieredStopAtLevel=1 \
           --conf spark.scheduler.minRegisteredResourcesRatio=1.0 --conf spark.scheduler.maxRegisteredResourcesWaitingTime=60s \
           --conf spark.executor.memory={{mem}} --conf spark.ui.enabled=false; \
         if [ -s \"$jar\" ]; then echo how=spark-submit; \
           LAB_WORKERS={{n}} timeout {{t}} {{home}}/bin/spark-submit \"$@\" --class LabVerify \"$jar\" > \"$d/out.log\" 2> \"$d/job.log\"; \
         else echo how=spark-shell; \
           LAB_WORKERS={{n}} timeout {{t}} {{home}}/bin/spark-shell \"$@\" < \"$d/job.scala\" > \"$d/out.log\" 2> \"$d/job.log\"; \
         fi; echo \"exit=$?\"; cat \"$d/out.log\"",
        &[
            ("profiles", &profiles()),
            ("n", &workers.len()),
            ("t", &t),
            ("home", &spark::HOME),
            ("jar", &job_jar()),
            ("java", &JOB_JAVA),
            ("url", &spark::master_url(&lab)),
            ("mem", &spark::small_executor_memory(&lab)),
        ],
    );
    let out = s.exec_with(&script, Some(&mut JOB.as_bytes()), Duration::from_secs(t + 30), &mut |_, _| {}).await.map_err(|e| e.to_string())?;
    let dir = out.stdout.lines().find_map(|l| l.strip_prefix("dir=")).unwrap_or("/tmp/lab-verify.*").to_string();
    let status = out.stdout.lines().find_map(|l| l.strip_prefix("exit=")).unwrap_or("?").to_string();
    let how = out.stdout.lines().find_map(|l| l.strip_prefix("how=")).unwrap_or("spark-shell").to_string();
    let mut expected = workers.clone();
    expected.sort();
    match job_result(&out.stdout) {
        Some((hosts, sum)) if sum == "5000050000" && hosts == expected => {
            Ok((format!("sum 5000050000; tasks ran on {} ({how})", hosts.join(", ")), job_app(&out.stdout)))
        }
        Some((hosts, sum)) if sum == "5000050000" => {
            Err(format!("tasks ran on {hosts:?}, expected every worker {expected:?} (log: {dir}/job.log on {})", lab.master().name))
        }
        found => {
            let printed: Vec<&str> =
                out.stdout.lines().filter(|l| !l.starts_with("dir=") && !l.starts_with("exit=") && !l.starts_with("how=") && !l.trim().is_empty()).collect();
            let tail = printed[printed.len().saturating_sub(8)..].join("\n");
            let what = match found {
                Some((_, sum)) => format!("the job returned sum {sum}, not 5000050000"),
                None if status == "124" => format!("the job did not finish within {t} s"),
                None => format!("the job printed no result ({how} exit {status})"),
            };
            Err(format!(
                "{what}; it printed:\n{}\nfull log: {dir}/job.log on {} (lab ssh {} -- cat {dir}/job.log)",
                if tail.is_empty() { "(nothing)" } else { &tail },
                lab.master().name,
                lab.master().name
            ))
        }
    }
}

/// Stops a job started by `spark_job` (when the cluster turned out broken). The bracket keeps
/// the pattern from matching this very command line.
fn cancel_job() -> Sh {
    sh("pkill -f -- {{pat}} 2>/dev/null; true", &[("pat", &"[-]Dlab.verify.dir=/tmp/lab-verify.")])
}

/// Runs every check. `sessions` holds one SSH session per node that could be reached; a node
/// missing from it fails its SSH check with `ssh_errors[node]`. `patience` stretches the waits
/// for the servers' answers (the provider's: guests under software emulation answer late).
pub async fn run(
    lab: &Lab,
    sessions: &HashMap<String, Arc<Session>>,
    ssh_errors: &HashMap<String, (String, f64)>,
    connect_token: &str,
    patience: u32,
    direct: bool,
) -> Vec<Check> {
    let m = lab.master();
    let uis = uis(lab, sessions.get(&m.name), direct).await;
    let job_start = Instant::now();
    let job = match (lab.verify.spark_shell, sessions.get(&m.name)) {
        (true, Some(ms)) => Some(tokio::spawn(spark_job(lab.clone(), ms.clone()))),
        _ => None,
    };
    let mut checks = Vec::new();
    for n in &lab.nodes {
        match (sessions.get(&n.name), ssh_errors.get(&n.name)) {
            (Some(s), _) => checks.push(Check {
                check: "ssh".into(),
                node: n.name.clone(),
                ok: true,
                seconds: 0.0,
                evidence: format!("{}@{} with the pinned host key", s.target.user, s.target.addr),
            }),
            (None, Some((e, secs))) => checks.push(Check { check: "ssh".into(), node: n.name.clone(), ok: false, seconds: *secs, evidence: e.clone() }),
            (None, None) => {}
        }
    }
    let per_node = join_all(lab.nodes.iter().filter_map(|n| sessions.get(&n.name).map(|s| (n, s))).map(|(n, s)| node_checks(lab, n, s)));
    let cluster = async {
        match sessions.get(&m.name) {
            Some(ms) => master_to_workers(lab, ms).await,
            None => Vec::new(),
        }
    };
    let ui = async {
        let t = Instant::now();
        done("master_ui", &m.name, t, master_ui(lab, &uis.master).await)
    };
    let connect = async {
        let t = Instant::now();
        match lab.spark.connect {
            Some(_) => Some(done("spark_connect", &m.name, t, connect_check(lab, sessions.get(&m.name), connect_token, patience).await)),
            None => None,
        }
    };
    let (per_node, cluster, ui, connect) = tokio::join!(per_node, cluster, ui, connect);
    checks.extend(per_node.into_iter().flatten());
    checks.extend(cluster);
    checks.push(ui);
    checks.extend(connect);
    let mut app = None;
    if lab.verify.spark_shell {
        // The job needs the master and workers, not the servers that serve users.
        let broken: Vec<String> = checks.iter().filter(|c| !c.ok && c.check != "spark_connect").map(|c| format!("{} on {}", c.check, c.node)).collect();
        match job {
            // A job on a broken cluster would only wait for executors that cannot come.
            Some(handle) if !broken.is_empty() => {
                handle.abort();
                if let Some(ms) = sessions.get(&m.name) {
                    let _ = ms.exec(&cancel_job()).await;
                }
                checks.push(Check {
                    check: "spark_job".into(),
                    node: m.name.clone(),
                    ok: false,
                    seconds: 0.0,
                    evidence: format!("stopped: the cluster is not healthy ({})", broken.join(", ")),
                });
            }
            Some(handle) => {
                let r = handle.await.unwrap_or_else(|e| Err(format!("the job's task failed: {e}")));
                app = r.as_ref().ok().and_then(|(_, a)| a.clone());
                checks.push(done("spark_job", &m.name, job_start, r.map(|(evidence, _)| evidence)));
            }
            None => checks.push(Check {
                check: "spark_job".into(),
                node: m.name.clone(),
                ok: false,
                seconds: 0.0,
                evidence: "not run: no SSH session to the master".into(),
            }),
        }
    }
    if lab.spark.history_port.is_some() {
        let t = Instant::now();
        checks.push(done("history_server", &m.name, t, history_check(lab, uis.history.as_deref(), app, patience).await));
    }
    checks
}

mod uis;
use uis::uis;

#[cfg(test)]
mod tests;
