//! The one place that knows Spark's layout on a node: where a release is unpacked, the
//! `/opt/spark` link, its configuration files, the daemons' classes, pid files and logs, and the
//! ports. Install, status, verify, logs and destroy all read it from here, so they cannot drift.

use crate::script::{Sh, sh};
use crate::spec::{Lab, Node, Role, Version};

/// `SPARK_HOME` on every node: a link to the installed release.
pub const HOME: &str = "/opt/spark";
/// The system account Spark's daemons run as: no password, no login shell, no sudo, so code
/// that reaches a daemon does not reach root. The lab user (who keeps its sudo) submits jobs.
pub const DAEMON_USER: &str = "sparkd";
/// The daemons' own folder (theirs): pid files, logs, the workers' application folders, and
/// their settings with the lab's secret. Outside /tmp, which is cleaned on reboot (and is a
/// fresh tmpfs on sandbox nodes), so `lab up` recognises daemons that still run.
pub const PID_DIR: &str = "/var/lib/lab-spark";
pub const LOG_DIR: &str = "/var/lib/lab-spark/logs";
pub const WORK_DIR: &str = "/var/lib/lab-spark/work";
/// The daemons' settings (`--properties-file`): the same as `conf/spark-defaults.conf`, which
/// is the lab user's (for its jobs); this one is the daemon account's alone (0600).
pub const DAEMON_CONF: &str = "/var/lib/lab-spark/daemon.conf";
pub const MASTER_PORT: u16 = 7077;
pub const MASTER_UI_PORT: u16 = 8080;
pub const WORKER_UI_PORT: u16 = 8081;
/// Ports Spark would otherwise pick at random, pinned so a firewall can open only them: the
/// worker's RPC port, every driver's RPC port and every block manager's (driver and executors).
pub const WORKER_PORT: u16 = 7078;
pub const DRIVER_PORT: u16 = 7100;
pub const BLOCK_MANAGER_PORT: u16 = 7200;
/// An application's web UI (Spark's default).
pub const APP_UI_PORT: u16 = 4040;
/// How many ports above a pinned one Spark tries when it is taken (`spark.port.maxRetries`,
/// Spark's default): a second application on the master takes the next driver port.
pub const PORT_RETRIES: u16 = 16;
/// Login-shell profile scripts lab writes.
pub const JAVA_PROFILE: &str = "/etc/profile.d/lab-java.sh";
pub const SPARK_PROFILE: &str = "/etc/profile.d/lab-spark.sh";
/// The JDK tools lab links into /usr/local/bin for non-login shells (`lab ssh node -- jps`).
pub const JDK_TOOLS: &[&str] = &["java", "javac", "jps", "jstack", "jcmd"];

/// A Spark daemon lab runs: the master and history server and Spark Connect server on the
/// master, a worker on each worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    Master,
    Worker,
    History,
    Connect,
}

impl Daemon {
    pub fn of(node: &Node) -> Self {
        match node.role {
            Role::Master => Self::Master,
            Role::Worker => Self::Worker,
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Self::Master => "org.apache.spark.deploy.master.Master",
            Self::Worker => "org.apache.spark.deploy.worker.Worker",
            Self::History => "org.apache.spark.deploy.history.HistoryServer",
            // What sbin/start-connect-server.sh submits (Spark 4.0+).
            Self::Connect => "org.apache.spark.sql.connect.service.SparkConnectServer",
        }
    }

    /// The name `jps` shows (the Connect server is an application: spark-submit's JVM).
    pub fn short(self) -> &'static str {
        match self {
            Self::Master => "Master",
            Self::Worker => "Worker",
            Self::History => "HistoryServer",
            Self::Connect => "SparkSubmit",
        }
    }

    /// What people call it.
    pub fn title(self) -> &'static str {
        match self {
            Self::Master => "Spark master",
            Self::Worker => "Spark worker",
            Self::History => "history server",
            Self::Connect => "Spark Connect server",
        }
    }

    /// `spark-daemon.sh`'s pid file for the daemon account (instance 1).
    pub fn pid(self) -> String {
        self.pid_file(DAEMON_USER)
    }

    /// `spark-daemon.sh`'s pid file for `user` (instance 1): lab before the daemon account ran
    /// them as the lab user.
    pub fn pid_file(self, user: &str) -> String {
        format!("{PID_DIR}/spark-{user}-{}-1.pid", self.class())
    }

    /// A glob matching the daemon's `.out` logs.
    pub fn log_glob(self) -> String {
        format!("{LOG_DIR}/spark-*-{}-1-*.out", self.class())
    }

    /// The arguments `spark-daemon.sh start CLASS 1` (`submit` for the Connect server) takes for
    /// this daemon in `lab`.
    fn start_args(self, lab: &Lab) -> Vec<String> {
        let m = lab.master();
        // Every daemon reads its settings (the secret) from the daemon account's own file.
        let props = || vec!["--properties-file".to_string(), DAEMON_CONF.to_string()];
        match self {
            Self::Master => {
                let mut v = props();
                v.extend(["--host".into(), m.name.clone(), "--port".into(), MASTER_PORT.to_string(), "--webui-port".into(), MASTER_UI_PORT.to_string()]);
                v
            }
            Self::Worker => {
                let mut v = props();
                v.extend(["--webui-port".into(), WORKER_UI_PORT.to_string(), "--work-dir".into(), WORK_DIR.into(), master_url(lab)]);
                v
            }
            Self::History => props(),
            Self::Connect => {
                let Some(c) = &lab.spark.connect else { return Vec::new() };
                let workers = lab.workers().count().to_string();
                // Executors come when a session runs work and go after 30 s idle, one core on
                // at most every worker: the server never keeps the cluster from other jobs.
                let conf = [
                    // The master's loopback: only lab's SSH (or someone on the master) reaches it,
                    // and then only with the lab's token (in the daemons' settings).
                    "spark.connect.grpc.binding.address=127.0.0.1".to_string(),
                    format!("spark.connect.grpc.binding.port={}", c.port),
                    format!("spark.executor.memory={}", small_executor_memory(lab)),
                    "spark.executor.cores=1".into(),
                    "spark.dynamicAllocation.enabled=true".into(),
                    "spark.dynamicAllocation.shuffleTracking.enabled=true".into(),
                    "spark.dynamicAllocation.minExecutors=0".into(),
                    format!("spark.dynamicAllocation.maxExecutors={workers}"),
                    "spark.dynamicAllocation.executorIdleTimeout=30s".into(),
                ];
                let mut args = props();
                args.extend(["--name".into(), "Spark Connect server".into(), "--master".into(), master_url(lab)]);
                args.extend(["--driver-memory".into(), c.memory.clone()]);
                for c in conf {
                    args.extend(["--conf".into(), c]);
                }
                args
            }
        }
    }

    /// The environment the daemon starts with: the history server's settings (it reads them
    /// from `SPARK_HISTORY_OPTS`).
    fn start_env(self, lab: &Lab) -> Vec<String> {
        match (self, lab.spark.history_port) {
            (Self::History, Some(port)) => vec![format!(
                "SPARK_HISTORY_OPTS=-Dspark.history.fs.logDirectory=file:{EVENTS_DIR} -Dspark.history.ui.port={port} -Dspark.history.fs.update.interval=5s"
            )],
            _ => Vec::new(),
        }
    }

    /// What the daemon runs with, beyond Spark and spark-env.sh: its arguments and environment.
    /// A running daemon whose settings differ from these is restarted.
    pub fn settings(self, lab: &Lab) -> String {
        let mut all = self.start_env(lab);
        all.extend(self.start_args(lab));
        all.join(" ")
    }
}

/// Where applications write their event logs and the history server reads them (inside lab's
/// own folder, owned by the lab user).
pub const EVENTS_DIR: &str = "/var/lib/lab-spark/events";

/// Executors for lab's own jobs and Connect sessions: at most 512 MiB, so they start on small
/// workers and leave room for others.
pub fn small_executor_memory(lab: &Lab) -> String {
    format!("{}m", worker_memory_mib(lab).unwrap_or(512).min(512))
}

/// `sc://localhost:15002`, when the lab runs a Spark Connect server: where a client on this
/// computer reaches it while `lab ui --forward` runs (the server listens on the master's
/// loopback; lab forwards its own port when it is free here).
pub fn connect_url(lab: &Lab) -> Option<String> {
    lab.spark.connect.as_ref().map(|c| format!("sc://localhost:{}", c.port))
}

/// What a Spark Connect client is given: the local end of lab's forward and the lab's token.
/// With the host `localhost`, PySpark's client sends the token over the plain connection
/// (gRPC local credentials) instead of asking for TLS (`python/pyspark/sql/connect/client/
/// core.py`, `DefaultChannelBuilder.toChannel`).
pub fn connect_client_url(port: u16, token: &str) -> String {
    format!("sc://localhost:{port}/;token={token}")
}

/// `http://<master address>:18080`, when the lab runs a history server.
pub fn history_ui(lab: &Lab) -> Option<String> {
    lab.spark.history_port.map(|p| format!("http://{}:{p}", lab.master().ip))
}

/// Memory a node's OS and sshd need beside Spark's JVMs (a minimal EL9 install uses ~300 MiB).
pub const OS_MIB: u64 = 512;
/// The heap of one application's driver on the master (`lab verify`'s job, `lab submit`, a
/// shell): Spark's default `spark.driver.memory`.
pub const DRIVER_MIB: u64 = 1024;

/// The most memory Spark's JVMs on `node` may take: its daemons' heaps, on a worker the
/// executors it offers (Spark's default: all but 1 GiB of the node), and on the master one
/// application's driver.
pub fn heap_mib(lab: &Lab, node: &Node) -> u64 {
    let mib = |s: &str| crate::spec::checks::memory_mib(s).unwrap_or(1024);
    let daemons: u64 = daemons(lab, node)
        .into_iter()
        .map(|d| match d {
            Daemon::Connect => lab.spark.connect.as_ref().map_or(0, |c| mib(&c.memory)),
            _ => mib(&lab.spark.daemon_memory),
        })
        .sum();
    match node.role {
        Role::Master => daemons + DRIVER_MIB,
        Role::Worker => daemons + worker_memory_mib(lab).unwrap_or_else(|| u64::from(node.memory_mib).saturating_sub(1024).max(1024)),
    }
}

/// The daemons of `node`, in the order they start.
pub fn daemons(lab: &Lab, node: &Node) -> Vec<Daemon> {
    match node.role {
        Role::Worker => vec![Daemon::Worker],
        Role::Master => {
            let mut v = vec![Daemon::Master];
            if lab.spark.history_port.is_some() {
                v.push(Daemon::History);
            }
            if lab.spark.connect.is_some() {
                v.push(Daemon::Connect);
            }
            v
        }
    }
}

/// The TCP ports Spark listens on at `node` (ranges where applications take the next free
/// one): what a firewall opens to the lab's own hosts.
pub fn ports(lab: &Lab, node: &Node) -> Vec<(u16, u16)> {
    let range = |p: u16| (p, p + PORT_RETRIES);
    let mut v = match node.role {
        Role::Master => {
            let mut v = vec![(MASTER_PORT, MASTER_PORT), (MASTER_UI_PORT, MASTER_UI_PORT), range(DRIVER_PORT), range(APP_UI_PORT)];
            // Spark Connect is not among them: it listens on the master's loopback.
            v.extend(lab.spark.history_port.map(|p| (p, p)));
            v
        }
        Role::Worker => vec![(WORKER_PORT, WORKER_PORT), (WORKER_UI_PORT, WORKER_UI_PORT)],
    };
    v.push(range(BLOCK_MANAGER_PORT));
    v.sort_unstable();
    v
}

/// `spark://master:7077`.
pub fn master_url(lab: &Lab) -> String {
    format!("spark://{}:{MASTER_PORT}", lab.master().name)
}

/// The memory each worker offers, when the lab file sets it.
pub fn worker_memory_mib(lab: &Lab) -> Option<u64> {
    lab.spark.worker_memory.as_deref().and_then(crate::spec::checks::memory_mib)
}

/// `spark.executor.memory` for jobs users run (`lab submit`, the shells): Spark's default of
/// 1g leaves a job waiting forever for executors on workers that offer less, so it is lowered
/// to what a worker offers.
pub fn job_conf(lab: &Lab) -> Vec<String> {
    match worker_memory_mib(lab) {
        Some(mib) if mib < 1024 => vec!["--conf".into(), format!("spark.executor.memory={mib}m")],
        _ => Vec::new(),
    }
}

/// `http://<master address>:8080`.
pub fn master_ui(lab: &Lab) -> String {
    format!("http://{}:{MASTER_UI_PORT}", lab.master().ip)
}

/// Where a release is unpacked on every node; `/opt/spark` points at it.
pub fn install_dir(v: Version) -> String {
    format!("/opt/spark-{v}")
}

/// Spark before 3.1 reads `conf/slaves`; later releases read `conf/workers`.
pub fn uses_slaves_file(v: Version) -> bool {
    v < Version(3, 1, 0)
}

/// The files listing the workers, relative to the install folder.
pub fn workers_files(v: Version) -> &'static [&'static str] {
    if uses_slaves_file(v) { &["conf/workers", "conf/slaves"] } else { &["conf/workers"] }
}

/// The marker file holding the checksum of the tarball a release folder was unpacked from.
pub fn marker(v: Version) -> String {
    format!("{}/.lab-sha512", install_dir(v))
}

/// Status of a daemon: exit 0 running, 1 not running, 3 Spark not installed. Read straight
/// from its pid file and /proc (both readable by anyone), as `spark-daemon.sh status` does,
/// without its cost.
pub fn status(d: Daemon) -> Sh {
    sh(
        "[ -x {{home}}/sbin/spark-daemon.sh ] || exit 3; pid=$(cat {{pidfile}} 2>/dev/null) && [ -n \"$pid\" ] && tr '\\0' ' ' < /proc/$pid/cmdline 2>/dev/null | grep -qF {{class}} || exit 1",
        &[("home", &HOME), ("pidfile", &d.pid()), ("class", &d.class())],
    )
}

/// Starts a daemon as the daemon account (run by the lab user, through its sudo).
pub fn start(lab: &Lab, d: Daemon) -> Sh {
    let mode = if d == Daemon::Connect { "submit" } else { "start" };
    sh(
        "cd {{home}} && sudo -n -u {{daemon}} env {{env}} SPARK_PID_DIR={{pids}} SPARK_LOG_DIR={{logs}} SPARK_IDENT_STRING={{daemon}} sbin/spark-daemon.sh {{mode}} {{class}} 1 {{args}}",
        &[
            ("home", &HOME),
            ("daemon", &DAEMON_USER),
            ("env", &crate::script::Words(&d.start_env(lab))),
            ("pids", &PID_DIR),
            ("logs", &LOG_DIR),
            ("mode", &mode),
            ("class", &d.class()),
            ("args", &crate::script::Words(&d.start_args(lab))),
        ],
    )
}

/// Stops a daemon, if it runs (as root: run it with `.sudo()`), whether the daemon account
/// started it or, before it had one, `user` (the lab user: an older lab's daemons, which an
/// upgrade stops so the daemon account's can take their ports). The pid file carries the
/// account's name.
pub fn stop(d: Daemon, user: &str) -> Sh {
    sh(
        "[ -x {{home}}/sbin/spark-daemon.sh ] || exit 0; cd {{home}} && export SPARK_PID_DIR={{pids}}; for who in {{daemon}} {{user}}; do export SPARK_IDENT_STRING=$who; \
         if sbin/spark-daemon.sh status {{class}} 1 >/dev/null 2>&1; then sbin/spark-daemon.sh stop {{class}} 1 >/dev/null 2>&1; fi; done; true",
        &[("home", &HOME), ("pids", &PID_DIR), ("class", &d.class()), ("daemon", &DAEMON_USER), ("user", &user)],
    )
}

/// Stops every daemon lab runs (applications first), whatever Spark release `/opt/spark`
/// points at now (as root).
pub fn stop_all(user: &str) -> Sh {
    [Daemon::History, Daemon::Worker, Daemon::Master].iter().fold(stop(Daemon::Connect, user), |all, d| all.then(&stop(*d, user)))
}

/// The last `lines` lines of a daemon's log.
pub fn log_tail(d: Daemon, lines: u32) -> Sh {
    sh("tail -n {{n}} $(ls -t {{glob}} 2>/dev/null | head -n 1) 2>/dev/null; true", &[("n", &lines), ("glob", &Sh::user_command(d.log_glob()))])
}

/// The master's `/json/` document, the parts lab reads (the same in Spark 2.x to 4.x).
#[derive(Debug, serde::Deserialize)]
pub struct MasterJson {
    #[serde(default)]
    pub url: String,
    pub status: String,
    #[serde(default)]
    pub workers: Vec<WorkerJson>,
}

#[derive(Debug, serde::Deserialize)]
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
pub async fn master_json(lab: &Lab) -> crate::error::Result<MasterJson> {
    master_json_at(&master_ui(lab)).await
}

/// GET `/json/` of the master's web UI at `ui` (its address, or a local forward to it).
pub async fn master_json_at(ui: &str) -> crate::error::Result<MasterJson> {
    let url = format!("{ui}/json/");
    let text = crate::http::get_text(&url).await?;
    serde_json::from_str(&text).map_err(|e| crate::error::Error::Download { url, problem: format!("not the master's JSON: {e}") })
}

#[cfg(test)]
mod tests;
