//! Spark provisioning over SSH, the same on every provider: each step checks the node, then
//! changes only what differs, and reports whether it did anything. Steps of different nodes run
//! in parallel; the order between steps is the order a person would follow by hand.

pub mod remote_files;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::files;
use crate::remote::{Session, shell_quote};
use crate::spec::{JavaInstall, Lab, Node, Role};
use crate::state::Keys;
use crate::ui::{Outcome, Reporter};
use remote_files::{Owner, put_file};

/// Where Spark daemons keep their pid files: outside /tmp, which is cleaned on reboot (and is a
/// fresh tmpfs on sandbox nodes), so `lab up` recognises daemons that still run.
pub const PID_DIR: &str = "/var/lib/lab-spark";
const MASTER_CLASS: &str = "org.apache.spark.deploy.master.Master";
const WORKER_CLASS: &str = "org.apache.spark.deploy.worker.Worker";
pub const MASTER_PORT: u16 = 7077;
pub const MASTER_UI_PORT: u16 = 8080;

/// Artifacts already verified in the host's cache.
pub struct Artifacts {
    pub spark: PathBuf,
    pub jdk: Option<PathBuf>,
}

/// The checksum part of a cache file name (`sha512-<hex>`), used to fingerprint installs.
fn digest_of(path: &Path) -> String {
    path.file_name().and_then(|n| n.to_str()).and_then(|n| n.split_once('-')).map_or_else(String::new, |(_, h)| h.to_string())
}

pub struct Provisioner<'a> {
    pub lab: &'a Lab,
    pub keys: &'a Keys,
    pub sessions: &'a HashMap<String, Session>,
    pub artifacts: &'a Artifacts,
    pub reporter: &'a dyn Reporter,
    /// Fingerprints recorded by earlier runs: node -> step -> fingerprint.
    pub recorded: BTreeMap<String, BTreeMap<String, String>>,
}

/// What a provisioning run changed, per node and step, to be recorded in state.
pub type Fingerprints = BTreeMap<String, BTreeMap<String, String>>;

impl Provisioner<'_> {
    fn session(&self, node: &str) -> Result<&Session> {
        self.sessions.get(node).ok_or_else(|| Error::Other(format!("no SSH session to {node}")))
    }

    /// Where a tarball JDK is unpacked: named after its checksum, so a new JDK gets a new folder.
    pub fn java_home(&self) -> String {
        let d = self.artifacts.jdk.as_deref().map(digest_of).unwrap_or_default();
        format!("/opt/jdk-{}", &d[..d.len().min(12)])
    }

    async fn step<F, Fut>(&self, node: &str, name: &str, f: F) -> Result<Outcome>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Outcome>>,
    {
        let start = Instant::now();
        self.reporter.step_start(node, name);
        let r = f().await;
        match &r {
            Ok(o) => self.reporter.step_done(node, name, o, start.elapsed()),
            Err(e) => self.reporter.step_done(node, name, &Outcome::Failed(e.to_string()), start.elapsed()),
        }
        r
    }

    /// Runs every step on every node. Returns the fingerprints to record.
    pub async fn run(&self) -> Result<Fingerprints> {
        let lab = self.lab;
        let mut fps: Fingerprints = BTreeMap::new();
        // 1. Per node, in parallel: names, Java, Spark, firewall.
        let per_node = join_all(lab.nodes.iter().map(|n| self.node_base(n))).await;
        let mut java_homes = HashMap::new();
        let mut spark_changed = HashMap::new();
        for (n, r) in lab.nodes.iter().zip(per_node) {
            let (java_home, changed, fp) = r?;
            java_homes.insert(n.name.clone(), java_home);
            spark_changed.insert(n.name.clone(), changed);
            fps.insert(n.name.clone(), fp);
        }
        // 2. Spark's configuration on every node (needs JAVA_HOME).
        let conf = join_all(lab.nodes.iter().map(|n| self.spark_conf(n, &java_homes[&n.name]))).await;
        for (n, r) in lab.nodes.iter().zip(conf) {
            let (changed, fp) = r?;
            if changed {
                spark_changed.insert(n.name.clone(), true);
            }
            fps.entry(n.name.clone()).or_default().insert("spark_conf".into(), fp);
        }
        // 3. The master: workers file and passwordless SSH to the workers.
        let master = lab.master();
        self.step(&master.name, "workers_file", || self.workers_file(master)).await?;
        self.step(&master.name, "cluster_ssh", || self.cluster_ssh(master)).await?;
        // 4. Daemons: the master, then the workers.
        let daemon_fps: HashMap<String, String> = lab
            .nodes
            .iter()
            .map(|n| {
                let f = fps.get(&n.name);
                let get = |k: &str| f.and_then(|f| f.get(k)).cloned().unwrap_or_default();
                (n.name.clone(), format!("{}:{}", get("spark"), get("spark_conf")))
            })
            .collect();
        let restart = |n: &Node| {
            spark_changed.get(&n.name).copied().unwrap_or(false) || self.recorded.get(&n.name).and_then(|s| s.get("daemon")) != daemon_fps.get(&n.name)
        };
        self.step(&master.name, "spark_master_running", || self.daemon(master, restart(master))).await?;
        self.wait_master().await?;
        let workers: Vec<&Node> = lab.workers().collect();
        let started = join_all(workers.iter().map(|w| self.step(&w.name, "spark_worker_running", || self.daemon(w, restart(w))))).await;
        for r in started {
            r?;
        }
        for (n, fp) in daemon_fps {
            fps.entry(n).or_default().insert("daemon".into(), fp);
        }
        self.wait_workers().await?;
        Ok(fps)
    }

    async fn node_base(&self, n: &Node) -> Result<(String, bool, BTreeMap<String, String>)> {
        let s = self.session(&n.name)?;
        let mut fp = BTreeMap::new();
        self.step(&n.name, "hosts_file", || self.hosts_file(s, n)).await?;
        let mut java_home = String::new();
        self.step(&n.name, "java_installed", || async {
            let (home, outcome) = self.java(s).await?;
            java_home = home;
            Ok(outcome)
        })
        .await?;
        fp.insert("java".into(), java_home.clone());
        let spark = self.step(&n.name, "spark_installed", || self.spark(s)).await?;
        fp.insert("spark".into(), digest_of(&self.artifacts.spark));
        self.step(&n.name, "firewall", || self.firewall(s)).await?;
        Ok((java_home, spark == Outcome::Applied, fp))
    }

    async fn hosts_file(&self, s: &Session, n: &Node) -> Result<Outcome> {
        let current = s.check("cat /etc/hosts").await?.stdout;
        let desired = files::merge_hosts(&current, self.lab, &n.name);
        put_file(s, "/etc/hosts", &desired, 0o644, &Owner::root()).await
    }

    /// Java: returns JAVA_HOME on the node.
    async fn java(&self, s: &Session) -> Result<(String, Outcome)> {
        let v = self.lab.java.version;
        let (home, mut outcome) = match &self.lab.java.install {
            JavaInstall::Tarball(_) => {
                let home = self.java_home();
                let present = s.exec(&format!("test -x {home}/bin/java && test -x {home}/bin/jps")).await?.ok();
                if present {
                    (home, Outcome::Satisfied)
                } else {
                    let jdk = self.artifacts.jdk.as_deref().ok_or_else(|| Error::Other("the JDK tarball was not downloaded".into()))?;
                    self.unpack(s, jdk, &home).await?;
                    (home, Outcome::Applied)
                }
            }
            JavaInstall::Package => self.java_package(s, v).await?,
        };
        let profile = format!(
            "# Written by lab: Java for login shells.\nexport JAVA_HOME={home}\ncase \":$PATH:\" in *\":$JAVA_HOME/bin:\"*) ;; *) export PATH=\"$JAVA_HOME/bin:$PATH\" ;; esac\n"
        );
        if put_file(s, "/etc/profile.d/lab-java.sh", &profile, 0o644, &Owner::root()).await? == Outcome::Applied {
            outcome = Outcome::Applied;
        }
        // Commands run over SSH get no login profile: put the JDK's tools where every shell
        // looks (`lab ssh node -- jps`).
        let tools = ["java", "javac", "jps", "jstack", "jcmd"];
        let check = tools.iter().map(|t| format!("[ \"$(readlink /usr/local/bin/{t})\" = {home}/bin/{t} ] || [ ! -e {home}/bin/{t} ]")).collect::<Vec<_>>().join(" && ");
        if !s.exec(&check).await?.ok() {
            let link = tools.iter().map(|t| format!("if [ -e {home}/bin/{t} ]; then ln -sfn {home}/bin/{t} /usr/local/bin/{t}; fi")).collect::<Vec<_>>().join("; ");
            s.sudo_check(&format!("mkdir -p /usr/local/bin; {link}")).await?;
            outcome = Outcome::Applied;
        }
        Ok((home, outcome))
    }

    /// The distribution's JDK package (the one that ships `jps`), with dnf, yum or apt-get.
    async fn java_package(&self, s: &Session, v: u32) -> Result<(String, Outcome)> {
        let find = format!(
            "for d in /usr/lib/jvm/java-{v}-openjdk* /usr/lib/jvm/java-1.{v}.0-openjdk* /usr/lib/jvm/temurin-{v}-jdk*; do \
             if [ -x \"$d/bin/jps\" ] && [ -x \"$d/bin/java\" ]; then echo \"$d\"; exit 0; fi; done; exit 1"
        );
        let found = s.exec(&find).await?;
        if found.ok() {
            return Ok((found.stdout.lines().next().unwrap_or("").to_string(), Outcome::Satisfied));
        }
        let install = format!(
            ". /etc/os-release; case \" $ID $ID_LIKE \" in \
             *' rhel '*|*' centos '*|*' fedora '*|*' rocky '*|*' almalinux '*) \
               if command -v dnf >/dev/null; then dnf -y -q install java-{dnf}-openjdk-devel; else yum -y -q install java-{dnf}-openjdk-devel; fi ;; \
             *' debian '*|*' ubuntu '*) DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-{v}-jdk-headless ;; \
             *) echo \"unknown distribution $ID: install a JDK {v} with jps by hand, or use java.install: tarball\" >&2; exit 3 ;; esac",
            dnf = if v == 8 { "1.8.0".to_string() } else { v.to_string() },
        );
        let out = s.sudo(&install).await?;
        if !out.ok() {
            return Err(Error::Node {
                node: s.target.node.clone(),
                problem: format!("installing the Java {v} package failed: {}", out.stderr.trim()),
                hint: Some("the node needs its distribution's repositories (internet through NAT); or use `java.install: tarball`".into()),
            });
        }
        let found = s.check(&find).await?;
        Ok((found.stdout.lines().next().unwrap_or("").to_string(), Outcome::Applied))
    }

    /// Pushes a tarball and unpacks it into `dir` (atomically: a new folder, then a rename).
    async fn unpack(&self, s: &Session, tarball: &Path, dir: &str) -> Result<()> {
        let name = tarball.file_name().and_then(|n| n.to_str()).unwrap_or("artifact");
        let tmp = format!("/tmp/lab-{}.tgz", &name[..name.len().min(40)]);
        let node = s.target.node.clone();
        let label = format!("{node}: {}", Path::new(dir).file_name().and_then(|n| n.to_str()).unwrap_or(dir));
        let total = std::fs::metadata(tarball).map(|m| m.len()).ok();
        let reporter = self.reporter;
        s.upload(tarball, &tmp, 0o600, false, &mut |done| reporter.bytes(&label, done, total)).await?;
        let user = &self.lab.user;
        let script = format!(
            "set -e; rm -rf {d}.lab-new; mkdir -p {d}.lab-new; tar xzf {tmp} -C {d}.lab-new --strip-components=1 --no-same-owner; \
             rm -rf {d}; mv {d}.lab-new {d}; rm -f {tmp}; chown -R {user}:{user} {d}",
            d = shell_quote(dir),
            tmp = shell_quote(&tmp),
        );
        s.sudo_check(&script).await.map(drop)
    }

    async fn spark(&self, s: &Session) -> Result<Outcome> {
        let dir = self.lab.spark.install_dir();
        let digest = digest_of(&self.artifacts.spark);
        let check = format!("cat {dir}/.lab-sha512 2>/dev/null; echo; readlink /opt/spark");
        let out = s.exec(&check).await?;
        let mut lines = out.stdout.lines();
        let marker = lines.next().unwrap_or("").trim().to_string();
        let link = lines.find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
        let mut outcome = Outcome::Satisfied;
        if marker != digest {
            self.stop_daemons(s).await?;
            self.unpack(s, &self.artifacts.spark, &dir).await?;
            s.sudo_check(&format!("echo {digest} > {dir}/.lab-sha512")).await?;
            outcome = Outcome::Applied;
        }
        if link != dir {
            s.sudo_check(&format!("ln -sfn {dir} /opt/spark")).await?;
            outcome = Outcome::Applied;
        }
        let user = &self.lab.user;
        let dirs = s.exec(&format!("test -d {PID_DIR} && [ \"$(stat -c %U {PID_DIR})\" = {user} ]")).await?;
        if !dirs.ok() {
            s.sudo_check(&format!("mkdir -p {PID_DIR} && chown {user}:{user} {PID_DIR}")).await?;
            outcome = Outcome::Applied;
        }
        let profile = "# Written by lab: Spark for login shells.\nexport SPARK_HOME=/opt/spark\ncase \":$PATH:\" in *\":$SPARK_HOME/bin:\"*) ;; *) export PATH=\"$PATH:$SPARK_HOME/bin:$SPARK_HOME/sbin\" ;; esac\n";
        if put_file(s, "/etc/profile.d/lab-spark.sh", profile, 0o644, &Owner::root()).await? == Outcome::Applied {
            outcome = Outcome::Applied;
        }
        Ok(outcome)
    }

    /// conf/spark-env.sh; returns whether it changed and its fingerprint.
    async fn spark_conf(&self, n: &Node, java_home: &str) -> Result<(bool, String)> {
        let s = self.session(&n.name)?;
        let text = files::spark_env(self.lab, n, java_home, PID_DIR);
        let path = format!("{}/conf/spark-env.sh", self.lab.spark.install_dir());
        let owner = Owner::user(&self.lab.user);
        let outcome = self.step(&n.name, "spark_env", || put_file(s, &path, &text, 0o755, &owner)).await?;
        Ok((outcome == Outcome::Applied, files::short_hash(&text)))
    }

    async fn workers_file(&self, master: &Node) -> Result<Outcome> {
        let s = self.session(&master.name)?;
        let list: String = self.lab.workers().map(|w| format!("{}\n", w.name)).collect();
        let dir = self.lab.spark.install_dir();
        let owner = Owner::user(&self.lab.user);
        let mut outcome = put_file(s, &format!("{dir}/conf/workers"), &list, 0o644, &owner).await?;
        if self.lab.spark.uses_slaves_file() && put_file(s, &format!("{dir}/conf/slaves"), &list, 0o644, &owner).await? == Outcome::Applied {
            outcome = Outcome::Applied;
        }
        Ok(outcome)
    }

    /// Passwordless SSH from the master to every worker for the lab user: a key pair on the
    /// master, its public key in each worker's authorized_keys (modes 700/600, SELinux labels
    /// restored), and the master's known_hosts seeded with the workers' real host keys.
    async fn cluster_ssh(&self, master: &Node) -> Result<Outcome> {
        let s = self.session(&master.name)?;
        let user = &self.lab.user;
        let keygen = format!(
            "set -e; umask 077; mkdir -p ~/.ssh; chmod 700 ~/.ssh; \
             if [ ! -f ~/.ssh/id_ed25519 ]; then ssh-keygen -q -t ed25519 -N '' -C {user}@{m} -f ~/.ssh/id_ed25519; echo generated; fi; cat ~/.ssh/id_ed25519.pub",
            m = master.name
        );
        let out = s.check(&keygen).await?;
        let mut outcome = if out.stdout.starts_with("generated") { Outcome::Applied } else { Outcome::Satisfied };
        let master_key = out.stdout.lines().last().unwrap_or("").trim().to_string();
        if !master_key.starts_with("ssh-ed25519 ") {
            return Err(Error::Node { node: master.name.clone(), problem: format!("unexpected public key {master_key:?}"), hint: None });
        }
        let owner = Owner::user(user);
        let results = join_all(self.lab.workers().map(|w| {
            let master_key = master_key.clone();
            let owner = owner.clone();
            async move {
                let ws = self.session(&w.name)?;
                let got = ws.check("mkdir -p ~/.ssh && chmod 700 ~/.ssh && printf '%s\\n' \"$HOME\" && cat ~/.ssh/authorized_keys 2>/dev/null; true").await?.stdout;
                let (whome, current) = got.split_once('\n').unwrap_or((got.as_str(), ""));
                let desired = files::with_line(current, &master_key);
                let o = put_file(ws, &format!("{whome}/.ssh/authorized_keys"), &desired, 0o600, &owner).await?;
                if o == Outcome::Applied {
                    ws.exec("command -v restorecon >/dev/null && restorecon -R ~/.ssh || true").await?;
                }
                Ok::<_, Error>(o)
            }
        }))
        .await;
        for r in results {
            if r? == Outcome::Applied {
                outcome = Outcome::Applied;
            }
        }
        let got = s.check("printf '%s\\n' \"$HOME\"; cat ~/.ssh/known_hosts 2>/dev/null; true").await?.stdout;
        let (home, known_now) = got.split_once('\n').unwrap_or((got.as_str(), ""));
        let entries: Vec<(String, String)> = self
            .lab
            .nodes
            .iter()
            .filter_map(|n| self.keys.hosts.get(&n.name).map(|k| (format!("{},{}", n.name, n.ip), k.public_line.split_whitespace().take(2).collect::<Vec<_>>().join(" "))))
            .collect();
        let known = files::known_hosts(known_now, &entries);
        if put_file(s, &format!("{home}/.ssh/known_hosts"), &known, 0o644, &owner).await? == Outcome::Applied {
            outcome = Outcome::Applied;
        }
        Ok(outcome)
    }

    async fn firewall(&self, s: &Session) -> Result<Outcome> {
        let cidr = self.lab.network.cidr;
        let script = format!(
            "if command -v firewall-cmd >/dev/null 2>&1 && firewall-cmd --state >/dev/null 2>&1; then \
               if firewall-cmd --zone=trusted --query-source={cidr} >/dev/null 2>&1; then echo same; \
               else firewall-cmd --permanent --zone=trusted --add-source={cidr} >/dev/null && firewall-cmd --reload >/dev/null && echo changed; fi; \
             else echo absent; fi"
        );
        let out = s.sudo(&script).await?;
        if !out.ok() {
            return Err(Error::Node { node: s.target.node.clone(), problem: format!("trusting {cidr} in firewalld failed: {}", out.stderr.trim()), hint: None });
        }
        Ok(if out.stdout.trim() == "changed" { Outcome::Applied } else { Outcome::Satisfied })
    }

    fn daemon_args(&self, n: &Node) -> (&'static str, String) {
        let m = self.lab.master();
        match n.role {
            Role::Master => (MASTER_CLASS, format!("--host {} --port {MASTER_PORT} --webui-port {MASTER_UI_PORT}", m.name)),
            Role::Worker => (WORKER_CLASS, format!("--webui-port 8081 spark://{}:{MASTER_PORT}", m.name)),
        }
    }

    async fn stop_daemons(&self, s: &Session) -> Result<()> {
        // Stop through the pid files whatever Spark installation is there now.
        let script = format!(
            "[ -x /opt/spark/sbin/spark-daemon.sh ] || exit 0; cd /opt/spark; for c in {MASTER_CLASS} {WORKER_CLASS}; do \
             SPARK_PID_DIR={PID_DIR} sbin/spark-daemon.sh status $c 1 >/dev/null 2>&1 && SPARK_PID_DIR={PID_DIR} sbin/spark-daemon.sh stop $c 1 >/dev/null 2>&1; done; true"
        );
        s.exec(&script).await.map(drop)
    }

    /// The node's Spark daemon runs (started through sbin/spark-daemon.sh, which every
    /// distribution has); a running one is left alone unless `restart`; a stale pid file is
    /// recovered by spark-daemon.sh itself.
    async fn daemon(&self, n: &Node, restart: bool) -> Result<Outcome> {
        let s = self.session(&n.name)?;
        let (class, args) = self.daemon_args(n);
        let status = s.exec(&format!("cd /opt/spark && sbin/spark-daemon.sh status {class} 1")).await?;
        if status.ok() && !restart {
            return Ok(Outcome::Satisfied);
        }
        if status.ok() {
            s.exec(&format!("cd /opt/spark && sbin/spark-daemon.sh stop {class} 1")).await?;
        }
        let out = s.exec(&format!("cd /opt/spark && sbin/spark-daemon.sh start {class} 1 {args}")).await?;
        if !out.ok() {
            return Err(self.daemon_failure(n, &format!("starting it failed: {}{}", out.stdout.trim(), out.stderr.trim())).await);
        }
        Ok(Outcome::Applied)
    }

    async fn daemon_failure(&self, n: &Node, problem: &str) -> Error {
        let which = if n.role == Role::Master { "Master" } else { "Worker" };
        let tail = match self.session(&n.name) {
            Ok(s) => s.exec(&format!("tail -n 25 /opt/spark/logs/*{which}*.out 2>/dev/null")).await.map(|o| o.stdout).unwrap_or_default(),
            Err(_) => String::new(),
        };
        Error::Node {
            node: n.name.clone(),
            problem: format!("the Spark {which} daemon: {problem}\n--- last lines of its log on {}:\n{}", n.name, tail.trim_end()),
            hint: Some(format!("the whole log: lab ssh {} -- 'cat /opt/spark/logs/*{which}*.out'", n.name)),
        }
    }

    async fn wait_master(&self) -> Result<()> {
        let m = self.lab.master();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(j) = master_json(self.lab).await {
                if j.status == "ALIVE" {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(self.daemon_failure(m, &format!("http://{}:{MASTER_UI_PORT}/json/ did not show ALIVE within 90 s", m.ip)).await);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn wait_workers(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let j = master_json(self.lab).await.ok();
            let missing: Vec<&Node> = self.lab.workers().filter(|w| !j.as_ref().is_some_and(|j| j.alive_worker(w))).collect();
            // Also wait out entries of workers that were replaced (a killed worker's old
            // registration stays until the master notices).
            let exact = j.as_ref().is_some_and(|j| j.alive_hosts().len() == self.lab.workers().count());
            if missing.is_empty() && exact {
                return Ok(());
            }
            if Instant::now() > deadline {
                return match missing.first() {
                    Some(w) => Err(self.daemon_failure(w, "it did not register with the master as ALIVE within 120 s").await),
                    None => Err(Error::Other(format!("the master lists other workers than the lab's: {:?}", j.map(|j| j.alive_hosts())))),
                };
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// The master's `/json/` document, the parts lab reads.
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

/// GET http://<master>:8080/json/ from this machine.
pub async fn master_json(lab: &Lab) -> Result<MasterJson> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let m = lab.master();
    let url = format!("http://{}:{MASTER_UI_PORT}/json/", m.ip);
    let client = CLIENT.get_or_init(|| reqwest::Client::builder().timeout(Duration::from_secs(5)).no_proxy().build().unwrap_or_default());
    let resp = client.get(&url).send().await.map_err(|e| Error::Other(format!("{url}: {e}")))?;
    let text = resp.text().await.map_err(|e| Error::Other(format!("{url}: {e}")))?;
    serde_json::from_str(&text).map_err(|e| Error::Other(format!("{url}: not the master's JSON: {e}")))
}
