//! The one place that knows Spark's layout on a node: where a release is unpacked, the
//! `/opt/spark` link, its configuration files, the daemons' classes, pid files and logs, and the
//! ports. Install, status, verify, logs and destroy all read it from here, so they cannot drift.

use crate::script::{Sh, sh};
use crate::spec::{Lab, Node, Role, Version};

/// `SPARK_HOME` on every node: a link to the installed release.
pub const HOME: &str = "/opt/spark";
/// Where Spark daemons keep their pid files: outside /tmp, which is cleaned on reboot (and is a
/// fresh tmpfs on sandbox nodes), so `lab up` recognises daemons that still run.
pub const PID_DIR: &str = "/var/lib/lab-spark";
pub const LOG_DIR: &str = "/opt/spark/logs";
pub const MASTER_PORT: u16 = 7077;
pub const MASTER_UI_PORT: u16 = 8080;
pub const WORKER_UI_PORT: u16 = 8081;
/// Login-shell profile scripts lab writes.
pub const JAVA_PROFILE: &str = "/etc/profile.d/lab-java.sh";
pub const SPARK_PROFILE: &str = "/etc/profile.d/lab-spark.sh";
/// The JDK tools lab links into /usr/local/bin for non-login shells (`lab ssh node -- jps`).
pub const JDK_TOOLS: &[&str] = &["java", "javac", "jps", "jstack", "jcmd"];

/// The daemon a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    Master,
    Worker,
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
        }
    }

    /// The name `jps` shows.
    pub fn short(self) -> &'static str {
        match self {
            Self::Master => "Master",
            Self::Worker => "Worker",
        }
    }

    /// `spark-daemon.sh`'s pid file for `user` (instance 1).
    pub fn pid_file(self, user: &str) -> String {
        format!("{PID_DIR}/spark-{user}-{}-1.pid", self.class())
    }

    /// A glob matching the daemon's `.out` logs.
    pub fn log_glob(self) -> String {
        format!("{LOG_DIR}/spark-*-{}-1-*.out", self.class())
    }

    /// The arguments `spark-daemon.sh start CLASS 1` takes for this daemon in `lab`.
    fn start_args(self, lab: &Lab) -> Vec<String> {
        let m = lab.master();
        match self {
            Self::Master => vec!["--host".into(), m.name.clone(), "--port".into(), MASTER_PORT.to_string(), "--webui-port".into(), MASTER_UI_PORT.to_string()],
            Self::Worker => vec!["--webui-port".into(), WORKER_UI_PORT.to_string(), master_url(lab)],
        }
    }
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

/// Status of `user`'s daemon: exit 0 running, 1 not running, 3 Spark not installed. Read
/// straight from its pid file and /proc, as `spark-daemon.sh status` does, without its cost.
pub fn status(d: Daemon, user: &str) -> Sh {
    sh(
        "[ -x {{home}}/sbin/spark-daemon.sh ] || exit 3; pid=$(cat {{pidfile}} 2>/dev/null) && [ -n \"$pid\" ] && tr '\\0' ' ' < /proc/$pid/cmdline 2>/dev/null | grep -qF {{class}} || exit 1",
        &[("home", &HOME), ("pidfile", &d.pid_file(user)), ("class", &d.class())],
    )
}

/// Starts a daemon (as the lab user).
pub fn start(lab: &Lab, d: Daemon) -> Sh {
    sh(
        "cd {{home}} && SPARK_PID_DIR={{pids}} SPARK_IDENT_STRING={{user}} sbin/spark-daemon.sh start {{class}} 1 {{args}}",
        &[("home", &HOME), ("pids", &PID_DIR), ("user", &lab.user), ("class", &d.class()), ("args", &crate::script::Words(&d.start_args(lab)))],
    )
}

/// Stops a daemon, if it runs, that `user` started; the pid file carries the user's name, so this works as root
/// too (lab destroy on machines lab did not create).
pub fn stop(d: Daemon, user: &str) -> Sh {
    sh(
        "[ -x {{home}}/sbin/spark-daemon.sh ] || exit 0; cd {{home}} && export SPARK_PID_DIR={{pids}} SPARK_IDENT_STRING={{user}}; \
         if sbin/spark-daemon.sh status {{class}} 1 >/dev/null 2>&1; then sbin/spark-daemon.sh stop {{class}} 1 >/dev/null 2>&1; fi; true",
        &[("home", &HOME), ("pids", &PID_DIR), ("class", &d.class()), ("user", &user)],
    )
}

/// Stops both daemons, whatever Spark release `/opt/spark` points at now.
pub fn stop_all(user: &str) -> Sh {
    stop(Daemon::Master, user).then(&stop(Daemon::Worker, user))
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
    let url = format!("{}/json/", master_ui(lab));
    let text = crate::http::get_text(&url).await?;
    serde_json::from_str(&text).map_err(|e| crate::error::Error::Download { url, problem: format!("not the master's JSON: {e}") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{HostFacts, parse};
    use std::path::Path;

    #[test]
    fn layout() {
        let lab = parse(Path::new("x"), include_str!("../labs/sandbox.yaml"), &HostFacts::default()).expect("valid");
        assert_eq!(Daemon::Worker.pid_file("spark"), "/var/lib/lab-spark/spark-spark-org.apache.spark.deploy.worker.Worker-1.pid");
        assert_eq!(master_url(&lab), "spark://master:7077");
        assert_eq!(workers_files(Version(2, 3, 2)), ["conf/workers", "conf/slaves"]);
        assert_eq!(workers_files(Version(4, 0, 1)), ["conf/workers"]);
        assert!(start(&lab, Daemon::Worker).as_str().ends_with("org.apache.spark.deploy.worker.Worker 1 --webui-port 8081 spark://master:7077"));
    }
}
