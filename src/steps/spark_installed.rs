//! Spark on a node: the release unpacked in `/opt/spark-<version>` (marked with its checksum)
//! with `/opt/spark` pointing at it, the daemons' folder (pid files, logs, the workers'
//! application folders) owned by the daemon account, a login-shell profile.

use crate::download::Cached;
use crate::error::Result;
use crate::script::{Sh, sh};
use crate::spark;
use crate::spec::Lab;
use crate::state::Change;
use crate::steps::node::{NodeCx, Owner, backup_of};
use crate::steps::{Check, Cx, Fingerprint, Head, Stage, Step, artifacts};
use crate::ui::Outcome;

pub const ID: &str = "spark_installed";

/// The release the node has: its tarball's digest (what the daemons run).
pub const RELEASE: Fingerprint = Fingerprint::new("spark");

const PROFILE: &str = "# Written by lab: Spark for login shells.\nexport SPARK_HOME=/opt/spark\ncase \":$PATH:\" in *\":$SPARK_HOME/bin:\"*) ;; *) export PATH=\"$PATH:$SPARK_HOME/bin:$SPARK_HOME/sbin\" ;; esac\n";

pub struct SparkInstalled {
    node: String,
    head: Head,
}

pub fn step(lab: &Lab, node: &str) -> Box<dyn Step> {
    Box::new(SparkInstalled {
        node: node.to_string(),
        head: Head::node(ID, Stage::Nodes, node, format!("{} with {} pointing at it", spark::install_dir(lab.spark.version), spark::HOME)),
    })
}

/// What the probe showed: the release's marker, the link, the pid folder's owner, the profile.
struct Seen {
    marker: String,
    link: String,
    owner: String,
    profile: String,
}

impl Seen {
    fn read(cx: &Cx<'_>, node: &str) -> Result<Self> {
        let out = cx.fact(node, ID)?;
        let (head, profile) = out.split_once("---\n").unwrap_or((out.as_str(), ""));
        let mut lines = head.lines();
        let marker = lines.next().unwrap_or("").trim().to_string();
        let rest: Vec<&str> = lines.collect();
        let field = |k: &str| rest.iter().find_map(|l| l.strip_prefix(k)).unwrap_or("").trim().to_string();
        Ok(Self { marker, link: field("link="), owner: field("owner="), profile: profile.to_string() })
    }

    /// What differs from a node with `tarball` installed, in words (none: nothing).
    fn wrong(&self, lab: &Lab, tarball: &Cached) -> Option<String> {
        let dir = spark::install_dir(lab.spark.version);
        if self.marker != tarball.hex() {
            Some(format!("{dir} does not hold this Spark release"))
        } else if self.link != dir {
            Some(format!("{} does not point at {dir}", spark::HOME))
        } else if self.owner != spark::DAEMON_USER {
            Some(format!("{} is not {}'s", spark::PID_DIR, spark::DAEMON_USER))
        } else if self.profile != PROFILE {
            Some(format!("{} is not lab's", spark::SPARK_PROFILE))
        } else {
            None
        }
    }
}

impl Step for SparkInstalled {
    fn head(&self) -> &Head {
        &self.head
    }
    fn probes(&self, cx: &Cx<'_>) -> Result<Vec<(String, Sh)>> {
        let lab = cx.lab;
        let check = sh(
            "cat {{marker}} 2>/dev/null; echo; if [ -L {{home}} ]; then echo \"link=$(readlink {{home}})\"; elif [ -e {{home}} ]; then echo link=other; else echo link=; fi; \
             echo \"owner=$(stat -c %U {{pids}} {{logs}} {{work}} 2>/dev/null | sort -u | tr '\\n' ' ' | sed 's/ $//')\"; echo ---; cat {{profile}} 2>/dev/null; true",
            &[
                ("marker", &spark::marker(lab.spark.version)),
                ("home", &spark::HOME),
                ("pids", &spark::PID_DIR),
                ("logs", &spark::LOG_DIR),
                ("work", &spark::WORK_DIR),
                ("profile", &spark::SPARK_PROFILE),
            ],
        );
        Ok(vec![(self.node.clone(), check)])
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let tarball = artifacts::spark(cx)?;
        Ok(match Seen::read(cx, &self.node)?.wrong(cx.lab, &tarball) {
            Some(why) => Check::Needed(why),
            None => {
                cx.record(&self.node, RELEASE, tarball.hex())?;
                Check::Satisfied
            }
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let n = NodeCx::new(cx, &self.node)?;
        let lab = cx.lab;
        let v = lab.spark.version;
        let dir = spark::install_dir(v);
        let tarball = artifacts::spark(cx)?;
        let user = &lab.user;
        let seen = Seen::read(cx, &self.node)?;
        let mut outcome = Outcome::Satisfied;
        if seen.marker != tarball.hex() {
            // Whatever runs now runs from the old files: stop it before they change.
            n.s.exec(&spark::stop_all(user).sudo())?;
            n.unpack(&tarball, &dir)?;
            n.s.sudo_check(&sh("printf '%s\\n' {{d}} > {{m}}", &[("d", &tarball.hex().to_string()), ("m", &spark::marker(v))]))?;
            outcome = Outcome::Applied;
        }
        if seen.link != dir {
            // A real /opt/spark that lab did not make is kept aside, never removed.
            let keep = seen.link == "other" || (!seen.link.is_empty() && cx.machines.tracks_changes() && !n.made(spark::HOME));
            let script = sh(
                "if [ {{keep}} = yes ] && [ ! -e {{b}} ] && [ ! -L {{b}} ]; then mv {{home}} {{b}}; echo replaced; elif [ -z {{old}} ]; then echo created; fi; ln -sfn {{dir}} {{home}}",
                &[("keep", &if keep { "yes" } else { "no" }), ("b", &backup_of(spark::HOME)), ("home", &spark::HOME), ("old", &seen.link), ("dir", &dir)],
            );
            match n.s.sudo_check(&script)?.stdout.trim() {
                "replaced" => n.track(Change::Replaced { path: spark::HOME.into(), backup: backup_of(spark::HOME) })?,
                "created" => n.track(Change::Created { path: spark::HOME.into() })?,
                _ => {}
            }
            outcome = Outcome::Applied;
        }
        if seen.owner != spark::DAEMON_USER {
            let daemon = spark::DAEMON_USER;
            n.s.sudo_check(&sh(
                "mkdir -p {{d}} {{logs}} {{work}} && chown {{o}} {{d}} {{logs}} {{work}} && chmod 0755 {{d}} {{logs}} {{work}}",
                &[("d", &spark::PID_DIR), ("logs", &spark::LOG_DIR), ("work", &spark::WORK_DIR), ("o", &format!("{daemon}:{daemon}"))],
            ))?;
            if seen.owner.is_empty() {
                n.track(Change::Created { path: spark::PID_DIR.into() })?;
            }
            outcome = Outcome::Applied;
        }
        if seen.profile != PROFILE && n.put_file(spark::SPARK_PROFILE, PROFILE, 0o644, &Owner::root())? == Outcome::Applied {
            outcome = Outcome::Applied;
        }
        cx.record(n.name(), RELEASE, tarball.hex())?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::fake::World;

    fn tarball() -> Cached {
        Cached { path: "/cache/spark-4.3.0-bin-hadoop3.tgz".into(), digest: "sha512-abc123".into() }
    }

    #[test]
    fn the_release_marked_linked_and_owned_is_satisfied() {
        let w = World::sandbox();
        let plan = vec![step(&w.lab, "master")];
        let cx = w.cx(&plan);
        cx.spark.set(tarball());
        let node = w.remote(&cx, "master");
        node.probe(&[(ID, &format!("abc123\nlink=/opt/spark-4.3.0\nowner=sparkd\n---\n{PROFILE}"))]);
        assert_eq!(plan[0].check(&cx).expect("check"), Check::Satisfied);
        assert_eq!(cx.current("master", RELEASE).as_deref(), Some("abc123"), "what the daemons run is recorded");
        // A lab made before the daemon account: its folder is the lab user's, and becomes the
        // daemon account's (with the logs and work folders).
        let cx = w.cx(&plan);
        cx.spark.set(tarball());
        let node = w.remote(&cx, "master");
        node.probe(&[(ID, &format!("abc123\nlink=/opt/spark-4.3.0\nowner=spark\n---\n{PROFILE}"))]);
        assert_eq!(plan[0].check(&cx).expect("check"), Check::Needed("/var/lib/lab-spark is not sparkd's".into()));
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        assert!(node.ran_as_root("chown sparkd:sparkd /var/lib/lab-spark /var/lib/lab-spark/logs /var/lib/lab-spark/work"), "{:?}", node.scripts());
    }

    #[test]
    fn another_release_stops_the_daemons_then_is_unpacked_marked_and_linked() {
        let w = World::sandbox();
        let plan = vec![step(&w.lab, "master")];
        let cx = w.cx(&plan);
        cx.spark.set(tarball());
        let node = w.remote(&cx, "master");
        node.probe(&[(ID, "old999\nlink=/opt/spark-3.5.7\nowner=sparkd\n---\n")]);
        assert!(matches!(plan[0].check(&cx).expect("check"), Check::Needed(ref why) if why.contains("/opt/spark-4.3.0")));
        node.answer("mktemp", 0, "created\n");
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        let scripts = node.scripts();
        let at = |text: &str| scripts.iter().position(|s| s.contains(text)).unwrap_or_else(|| panic!("no {text} in {scripts:?}"));
        assert!(at("spark-daemon.sh stop") < at("tar xzf"), "daemons stop before their files change");
        assert!(node.ran_as_root(&format!("abc123 > {}", spark::marker(w.lab.spark.version))), "{:?}", node.scripts());
        assert!(node.ran_as_root("ln -sfn /opt/spark-4.3.0 /opt/spark"));
        assert!(!scripts.iter().any(|s| s.contains("chown sparkd:sparkd")), "the daemons' folder's owner was right");
        assert!(node.ran_as_root("spark-daemon.sh stop"), "the daemons are the daemon account's: root stops them");
    }
}
