//! The `existing` provider: machines that already run sshd. lab logs in as `existing.login`
//! (default: the lab user) with `existing.identity_file` (default: the lab key), makes sure the
//! lab user exists with the lab key and passwordless sudo, and then provisions as on any other
//! provider. Host keys come from `existing.known_hosts`, or were recorded on a first connection
//! the user confirmed with `--accept-host-keys`; they are never learned silently.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::provision::remote_files::{Owner, put_file};
use crate::remote::{Session, Target, shell_quote};
use crate::spec::{Lab, Node};
use crate::state::{KeyPair, StateDir};
use crate::ui::{Outcome, Reporter};

fn recorded_path(sd: &StateDir, node: &str) -> PathBuf {
    sd.path().join("hostkeys").join(node).join("recorded.pub")
}

/// The host key known for `node`: from `existing.known_hosts` (plain host names or addresses,
/// `[addr]:port` for other ports), else the one recorded earlier.
pub fn known_key(lab: &Lab, sd: &StateDir, node: &Node) -> Option<String> {
    if let Some(file) = &lab.existing.known_hosts {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let port = lab.existing.port;
        let wanted: Vec<String> = if port == 22 {
            vec![node.ip.to_string(), node.name.clone()]
        } else {
            vec![format!("[{}]:{port}", node.ip), format!("[{}]:{port}", node.name)]
        };
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            let mut parts = line.split_whitespace();
            let (Some(hosts), Some(alg), Some(b64)) = (parts.next(), parts.next(), parts.next()) else { continue };
            if hosts.split(',').any(|h| wanted.iter().any(|w| w == h)) {
                return Some(format!("{alg} {b64}"));
            }
        }
    }
    std::fs::read_to_string(recorded_path(sd, &node.name)).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The host keys of every node that has one, as [`KeyPair`]s without a private half.
pub fn host_keys(lab: &Lab, sd: &StateDir) -> BTreeMap<String, KeyPair> {
    lab.nodes
        .iter()
        .filter_map(|n| known_key(lab, sd, n).map(|k| (n.name.clone(), KeyPair { private_path: PathBuf::new(), public_line: k })))
        .collect()
}

fn login_target(lab: &Lab, sd: &StateDir, node: &Node, host_key: String) -> Target {
    Target {
        node: node.name.clone(),
        addr: SocketAddr::from((node.ip, lab.existing.port)),
        user: lab.existing.login.clone().unwrap_or_else(|| lab.user.clone()),
        key: lab.existing.identity_file.clone().unwrap_or_else(|| sd.client_key_path()),
        host_key,
    }
}

/// Records the host keys of nodes that have none yet, when the user said so.
async fn record_host_keys(lab: &Lab, sd: &StateDir, accept: bool, reporter: &dyn Reporter) -> Result<()> {
    let unknown: Vec<&Node> = lab.nodes.iter().filter(|n| known_key(lab, sd, n).is_none()).collect();
    if unknown.is_empty() {
        return Ok(());
    }
    if !accept {
        return Err(Error::Preflight {
            problem: format!("no host key is known for {}", unknown.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ")),
            fix: "list them in a file named by existing.known_hosts, or run `lab up --accept-host-keys` once to record the keys the machines present (their fingerprints are printed)".into(),
        });
    }
    for n in unknown {
        let t = login_target(lab, sd, n, String::new());
        let key = crate::remote::presented_host_key(&t, Duration::from_secs(10)).await?;
        let path = recorded_path(sd, &n.name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        crate::state::write_atomic(&path, format!("{key}\n").as_bytes(), 0o644)?;
        reporter.step_done(&n.name, &format!("host key recorded: {}", crate::remote::fingerprint(&key)), &Outcome::Applied, Duration::ZERO);
    }
    Ok(())
}

/// Makes every machine ready for provisioning: host keys known, the lab user present with the
/// lab key and passwordless sudo. Returns what lab created, for `destroy`.
pub async fn up(lab: &Lab, sd: &StateDir, accept: bool, reporter: &dyn Reporter) -> Result<BTreeMap<String, String>> {
    record_host_keys(lab, sd, accept, reporter).await?;
    let public = std::fs::read_to_string(sd.client_key_path().with_extension("pub")).map_err(|e| Error::io("reading the lab's public key", e))?;
    let public = public.trim().to_string();
    let mut created = BTreeMap::new();
    let results = futures_util::future::join_all(lab.nodes.iter().map(|n| {
        let public = public.clone();
        async move {
            let key = known_key(lab, sd, n).unwrap_or_default();
            let t = login_target(lab, sd, n, key);
            let s = Session::connect(&t, Duration::from_secs(15)).await.map_err(|e| match e {
                Error::Node { node, problem, hint: None } => Error::Node {
                    node,
                    problem,
                    hint: Some(format!("lab logs in as {} with {}; set existing.login and existing.identity_file", t.user, t.key.display())),
                },
                other => other,
            })?;
            let start = std::time::Instant::now();
            let r = ensure_lab_user(lab, &s, &public).await;
            s.close().await;
            let made = r?;
            reporter.step_done(&n.name, "lab_user", if made.is_some() { &Outcome::Applied } else { &Outcome::Satisfied }, start.elapsed());
            Ok::<_, Error>((n.name.clone(), made))
        }
    }))
    .await;
    for r in results {
        if let (node, Some(what)) = r? {
            created.insert(format!("user:{node}"), what);
        }
    }
    Ok(created)
}

/// The lab user exists, holds the lab key, and has passwordless sudo. Returns `Some("created")`
/// when lab created the account (with no password rather than a locked one: sshd refuses keys
/// for locked accounts when it does not use PAM).
async fn ensure_lab_user(lab: &Lab, s: &Session, public: &str) -> Result<Option<String>> {
    let user = &lab.user;
    let out = s.sudo_check(&format!("if id -u {user} >/dev/null 2>&1; then echo exists; else useradd -m {user} && usermod -p '*' {user} && echo created; fi")).await?;
    let created = out.stdout.trim() == "created";
    let home = s.sudo_check(&format!("getent passwd {user} | cut -d: -f6")).await?.stdout.trim().to_string();
    let current = s.sudo(&format!("cat {}/.ssh/authorized_keys 2>/dev/null", shell_quote(&home))).await?.stdout;
    s.sudo_check(&format!("install -d -m 0700 -o {user} -g {user} {}/.ssh", shell_quote(&home))).await?;
    put_file(s, &format!("{home}/.ssh/authorized_keys"), &crate::files::with_line(&current, public), 0o600, &Owner::user(user)).await?;
    s.sudo(&format!("command -v restorecon >/dev/null && restorecon -R {}/.ssh || true", shell_quote(&home))).await?;
    put_file(s, &format!("/etc/sudoers.d/90-lab-{user}"), &format!("{user} ALL=(ALL) NOPASSWD: ALL\n"), 0o440, &Owner::root()).await?;
    Ok(created.then(|| "created".to_string()))
}

/// Undoes what lab installed, leaving the machines running: Spark daemons stopped, Spark, the
/// JDK lab unpacked, lab's profile scripts, pid folder, /etc/hosts block and firewalld source
/// removed; the lab user removed only where lab created it.
pub async fn destroy(lab: &Lab, sd: &StateDir, created: &BTreeMap<String, String>, reporter: &dyn Reporter) -> Result<()> {
    let results = futures_util::future::join_all(lab.nodes.iter().map(|n| async move {
        let start = std::time::Instant::now();
        let Some(key) = known_key(lab, sd, n) else { return Ok::<_, Error>(()) };
        let s = Session::connect(&login_target(lab, sd, n, key), Duration::from_secs(15)).await?;
        let cidr = lab.network.cidr;
        let script = format!(
            "for c in org.apache.spark.deploy.master.Master org.apache.spark.deploy.worker.Worker; do \
               [ -x /opt/spark/sbin/spark-daemon.sh ] && SPARK_PID_DIR={pid} /opt/spark/sbin/spark-daemon.sh stop $c 1 >/dev/null 2>&1; done; \
             for t in java javac jps jstack jcmd; do case \"$(readlink /usr/local/bin/$t)\" in /opt/jdk-*) rm -f /usr/local/bin/$t ;; esac; done; \
             rm -rf /opt/spark {spark_dirs} /opt/jdk-* {pid} /etc/profile.d/lab-java.sh /etc/profile.d/lab-spark.sh; \
             sed -i '/^# BEGIN lab {name} /,/^# END lab {name}$/d' /etc/hosts; \
             if command -v firewall-cmd >/dev/null 2>&1 && firewall-cmd --state >/dev/null 2>&1; then \
               firewall-cmd --permanent --zone=trusted --remove-source={cidr} >/dev/null 2>&1; firewall-cmd --reload >/dev/null 2>&1; fi; true",
            pid = crate::provision::PID_DIR,
            spark_dirs = lab.spark.install_dir(),
            name = lab.name,
        );
        s.sudo_check(&script).await?;
        if created.get(&format!("user:{}", n.name)).is_some_and(|v| v == "created") {
            let remove = format!(
                "pkill -KILL -u {u} || true; for i in $(seq 50); do pgrep -u {u} >/dev/null || break; sleep 0.1; done; \
                 userdel -r {u} 2>/dev/null || userdel {u}; rm -f /etc/sudoers.d/90-lab-{u}; ! id -u {u} >/dev/null 2>&1",
                u = lab.user
            );
            s.sudo_check(&remove).await?;
        }
        s.close().await;
        reporter.step_done(&n.name, "lab's software removed", &Outcome::Applied, start.elapsed());
        Ok(())
    }))
    .await;
    results.into_iter().collect::<Result<Vec<_>>>().map(drop)
}
