//! `conf/spark-defaults.conf`: every application started on the lab (`lab verify`'s job,
//! `lab submit`, the shells) writes its event log to the events folder, where a history
//! server finds finished applications; and every Spark process (the master, the workers, the
//! history server, the Connect server, every application) authenticates with the lab's secret
//! (`spark.authenticate`: Spark's standalone mode reads it from this file on each node), so
//! nobody without it can run code on the cluster through 7077. The lab user's jobs read
//! `conf/spark-defaults.conf` (the lab user's alone, 0600); the daemons, which run as the daemon
//! account, read the same settings from `spark::DAEMON_CONF` (that account's alone, 0600).

use crate::error::Result;
use crate::script::{Sh, sh};
use crate::spark;
use crate::spec::Lab;
use crate::steps::node::{NodeCx, Owner};
use crate::steps::spark_env::file_check;
use crate::steps::{Check, Cx, Fingerprint, Head, Stage, Step};
use crate::ui::Outcome;

pub const ID: &str = "spark_defaults";

/// The spark-defaults.conf lab wrote on the node (its hash: the daemons run with its secret).
pub const WRITTEN: Fingerprint = Fingerprint::new("spark_defaults");

pub fn path(lab: &Lab) -> String {
    format!("{}/conf/spark-defaults.conf", spark::install_dir(lab.spark.version))
}

fn text(secret: &str, token: Option<&str>) -> String {
    let connect =
        token.map_or(String::new(), |t| format!("# Spark Connect clients present this token (the server reads it).\nspark.connect.authenticate.token {t}\n"));
    format!(
        "# Written by lab: settings of every Spark process on this lab.\nspark.eventLog.enabled true\nspark.eventLog.dir file:{}\n\
         # One file per application, made in the shared folder (which gives it the history server's group); Spark 4's\n\
         # rolling logs make a folder of their own (0770, without that group) the history server cannot read.\n\
         spark.eventLog.rolling.enabled false\n\
         # Only holders of the lab's secret reach the master, the workers and the applications.\nspark.authenticate true\nspark.authenticate.secret {secret}\n\
         # Fixed ports (the next free one above each), so the firewall opens only these.\n\
         spark.driver.port {}\nspark.blockManager.port {}\nspark.port.maxRetries {}\n{connect}",
        spark::EVENTS_DIR,
        spark::DRIVER_PORT,
        spark::BLOCK_MANAGER_PORT,
        spark::PORT_RETRIES
    )
}

fn wanted(cx: &Cx<'_>) -> Result<String> {
    let token = if cx.lab.spark.connect.is_some() { Some(cx.sd.connect_token()?) } else { None };
    Ok(text(&cx.sd.spark_secret()?, token.as_deref()))
}

pub struct SparkDefaults {
    node: String,
    head: Head,
}

pub fn step(_: &Lab, node: &str) -> Box<dyn Step> {
    Box::new(SparkDefaults {
        node: node.to_string(),
        head: Head::node(ID, Stage::Nodes, node, format!("conf/spark-defaults.conf: event logs in {}", spark::EVENTS_DIR)),
    })
}

/// The probe's separator between the lab user's file and the daemons' (a line no file holds).
const DAEMON_PART: &str = "@@lab-daemon-conf@@";

/// What the probe saw: the events folder (`owner:group:mode`), the lab user's file and the
/// daemons' (each `mode:owner:group` then the text).
struct Seen<'f> {
    events: &'f str,
    jobs: &'f str,
    daemons: &'f str,
}

impl<'f> Seen<'f> {
    fn read(fact: &'f str) -> Self {
        let (head, daemons) = fact.split_once(&format!("{DAEMON_PART}\n")).unwrap_or((fact, ""));
        let (events, jobs) = head.split_once('\n').unwrap_or((head, ""));
        Self { events: events.strip_prefix("events=").unwrap_or(""), jobs, daemons }
    }
}

/// The events folder: the lab user's jobs and the daemon account's Connect server write there,
/// the history server reads (its group is the daemon account's; new files keep it: setgid).
fn events_wanted(lab: &Lab) -> String {
    format!("{}:{}:2770", lab.user, spark::DAEMON_USER)
}

/// Why a file seen as `file` is not `want` owned by `owner` alone, in words.
fn file_wrong(file: &str, owner: &str, want: &str) -> Option<&'static str> {
    if file == format!("600:{owner}:{owner}\n{want}") {
        None
    } else if !file.contains("spark.authenticate true") {
        Some("does not make Spark authenticate with the lab's secret")
    } else if !file.starts_with(&format!("600:{owner}:{owner}\n")) {
        Some("is readable by others than its account")
    } else {
        Some("differs")
    }
}

impl Step for SparkDefaults {
    fn head(&self) -> &Head {
        &self.head
    }
    fn probes(&self, cx: &Cx<'_>) -> Result<Vec<(String, Sh)>> {
        // The daemons' file is theirs alone: the lab user reads it through sudo.
        let check = sh(
            "stat -c events=%U:%G:%a {{d}} 2>/dev/null || echo events=; {{file}}; echo {{part}}; sudo -n stat -c %a:%U:%G {{dc}} 2>/dev/null && sudo -n cat {{dc}}",
            &[("d", &spark::EVENTS_DIR), ("file", &file_check(&path(cx.lab))), ("part", &DAEMON_PART), ("dc", &spark::DAEMON_CONF)],
        );
        Ok(vec![(self.node.clone(), check)])
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let fact = cx.fact(&self.node, ID)?;
        let seen = Seen::read(&fact);
        if seen.events != events_wanted(cx.lab) {
            return Ok(Check::Needed(format!("no {} shared by {} and {} (setgid)", spark::EVENTS_DIR, cx.lab.user, spark::DAEMON_USER)));
        }
        let want = wanted(cx)?;
        if let Some(why) = file_wrong(seen.jobs, &cx.lab.user, &want) {
            return Ok(Check::Needed(format!("{} {why}", path(cx.lab))));
        }
        if let Some(why) = file_wrong(seen.daemons, spark::DAEMON_USER, &want) {
            return Ok(Check::Needed(format!("{} {why}", spark::DAEMON_CONF)));
        }
        cx.record(&self.node, WRITTEN, &crate::files::short_hash(&want))?;
        Ok(Check::Satisfied)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let n = NodeCx::new(cx, &self.node)?;
        let (user, daemon) = (&cx.lab.user, spark::DAEMON_USER);
        // Inside lab's own folder (made by the Spark step). Logs an older lab wrote join the
        // group, so the history server still shows them.
        n.s.sudo_check(&sh(
            "mkdir -p {{d}} && chown {{o}} {{d}} && chmod 2770 {{d}} && chgrp -R {{g}} {{d}} && chmod -R g+rwX {{d}}",
            &[("d", &spark::EVENTS_DIR), ("o", &format!("{user}:{daemon}")), ("g", &daemon)],
        ))?;
        let fact = cx.fact(&self.node, ID)?;
        let seen = Seen::read(&fact);
        let want = wanted(cx)?;
        n.put_file_unless(seen.jobs, &path(cx.lab), &want, 0o600, &Owner::user(user))?;
        n.put_file_unless(seen.daemons, spark::DAEMON_CONF, &want, 0o600, &Owner::user(daemon))?;
        cx.record(&self.node, WRITTEN, &crate::files::short_hash(&want))?;
        Ok(Outcome::Applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::fake::World;

    /// The probe's text for a node whose events folder is `events`, the lab user's file
    /// `jobs` and the daemons' `daemons`.
    fn seen(events: &str, jobs: &str, daemons: &str) -> String {
        format!("events={events}\n{jobs}{DAEMON_PART}\n{daemons}")
    }

    #[test]
    fn event_logs_go_to_a_folder_the_lab_user_and_the_daemons_share_and_each_has_its_own_secret_file() {
        let w = World::sandbox();
        let plan = vec![step(&w.lab, "master")];
        let cx = w.cx(&plan);
        let node = w.remote(&cx, "master");
        let secret = w.sd.spark_secret().expect("secret");
        let t = text(&secret, Some(&w.sd.connect_token().expect("token")));
        node.probe(&[(ID, &seen("spark:sparkd:2770", &format!("600:spark:spark\n{t}"), &format!("600:sparkd:sparkd\n{t}")))]);
        assert_eq!(plan[0].check(&cx).expect("check"), Check::Satisfied);

        // A lab made before the daemon account: the folder and the file are the lab user's.
        let cx = w.cx(&plan);
        let node = w.remote(&cx, "master");
        node.probe(&[(ID, &seen("spark:spark:755", &format!("600:spark:spark\n{t}"), ""))]);
        assert!(matches!(plan[0].check(&cx).expect("check"), Check::Needed(ref why) if why.contains("/var/lib/lab-spark/events shared by spark and sparkd")));
        node.answer("mktemp", 0, "created\n");
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        assert!(node.ran_as_root("chown spark:sparkd /var/lib/lab-spark/events && chmod 2770"), "{:?}", node.scripts());
        let (script, input) = node.last();
        assert!(script.contains("/var/lib/lab-spark/daemon.conf") && script.contains("chown sparkd:sparkd") && script.contains("chmod 600"), "{script}");
        let written = String::from_utf8(input).expect("utf-8");
        assert!(written.contains("spark.eventLog.dir file:/var/lib/lab-spark/events\n"), "{written}");
        assert!(written.contains(&format!("spark.authenticate true\nspark.authenticate.secret {secret}\n")), "{written}");
        assert!(written.contains("spark.driver.port 7100\nspark.blockManager.port 7200\n"), "{written}");
        assert_eq!(cx.current("master", WRITTEN), Some(crate::files::short_hash(&written)), "the daemons restart with it");
    }

    #[test]
    fn a_file_without_the_secret_or_readable_by_others_is_needed_saying_so() {
        let w = World::sandbox();
        let plan = vec![step(&w.lab, "master")];
        // Asked by every node's step at once: one secret for the lab.
        let secrets: Vec<String> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8).map(|_| s.spawn(|| w.sd.spark_secret().expect("secret"))).collect();
            hs.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        let secret = secrets[0].clone();
        assert!(secrets.iter().all(|s| *s == secret), "{secrets:?}");
        assert_eq!(w.sd.spark_secret().expect("again"), secret, "made once");
        assert_eq!(secret.len(), 64);
        let old = "# Written by lab: settings of every application started on this lab.\nspark.eventLog.enabled true\nspark.eventLog.dir file:/var/lib/lab-spark/events\n";
        let t = text(&secret, Some(&w.sd.connect_token().expect("token")));
        let ok_daemons = format!("600:sparkd:sparkd\n{t}");
        for (jobs, daemons, why) in [
            (format!("644:spark:spark\n{old}"), ok_daemons.clone(), "conf/spark-defaults.conf does not make Spark authenticate"),
            (format!("644:spark:spark\n{t}"), ok_daemons.clone(), "conf/spark-defaults.conf is readable by others"),
            (format!("600:spark:spark\n{t}"), format!("600:spark:spark\n{t}"), "daemon.conf is readable by others"),
            (format!("600:spark:spark\n{t}"), String::new(), "daemon.conf does not make Spark authenticate"),
        ] {
            let cx = w.cx(&plan);
            w.remote(&cx, "master").probe(&[(ID, &seen("spark:sparkd:2770", &jobs, &daemons))]);
            assert!(matches!(plan[0].check(&cx).expect("check"), Check::Needed(ref w) if w.contains(why)), "{why}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(w.sd.path().join("spark-secret")).expect("secret file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
