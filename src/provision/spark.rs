//! Spark on a node: the release unpacked in `/opt/spark-<version>` with `/opt/spark` pointing at
//! it, the pid folder, a login-shell profile, `conf/spark-env.sh`, and on the master the workers
//! file(s).

use super::{NodeCx, Owner, backup_of};
use crate::error::{Error, Result};
use crate::files;
use crate::script::{Sh, sh};
use crate::spark;
use crate::spec::Lab;
use crate::state::Change;
use crate::ui::Outcome;

const PROFILE: &str = "# Written by lab: Spark for login shells.\nexport SPARK_HOME=/opt/spark\ncase \":$PATH:\" in *\":$SPARK_HOME/bin:\"*) ;; *) export PATH=\"$PATH:$SPARK_HOME/bin:$SPARK_HOME/sbin\" ;; esac\n";

/// The release's marker, the link, the pid folder's owner, the profile.
pub fn check(lab: &Lab) -> Sh {
    sh(
        "cat {{marker}} 2>/dev/null; echo; if [ -L {{home}} ]; then echo \"link=$(readlink {{home}})\"; elif [ -e {{home}} ]; then echo link=other; else echo link=; fi; \
         stat -c owner=%U {{pids}} 2>/dev/null || echo owner=; echo ---; cat {{profile}} 2>/dev/null; true",
        &[("marker", &spark::marker(lab.spark.version)), ("home", &spark::HOME), ("pids", &spark::PID_DIR), ("profile", &spark::SPARK_PROFILE)],
    )
}

/// A file as `put_file_unless` compares it: its `stat -c %a:%U:%G` line, then its content.
fn file_check(path: &str) -> Sh {
    sh("stat -c %a:%U:%G {{p}} 2>/dev/null && cat {{p}}", &[("p", &path)])
}

pub fn env_path(lab: &Lab) -> String {
    format!("{}/conf/spark-env.sh", spark::install_dir(lab.spark.version))
}

pub fn env_check(lab: &Lab) -> Sh {
    file_check(&env_path(lab))
}

/// Every workers file, each after a line naming it.
pub fn workers_check(lab: &Lab) -> Sh {
    let dir = spark::install_dir(lab.spark.version);
    let mut s = sh("true", &[]);
    for f in spark::workers_files(lab.spark.version) {
        s = s.then(&sh("echo {{name}}; {{file}}", &[("name", &format!("=== {f}")), ("file", &file_check(&format!("{dir}/{f}")))]));
    }
    s
}

pub fn install(n: &NodeCx<'_>) -> Result<Outcome> {
    let lab = n.cx.lab;
    let v = lab.spark.version;
    let dir = spark::install_dir(v);
    let tarball = n.cx.artifacts.lock().ok().and_then(|a| a.spark.clone()).ok_or_else(|| Error::Internal("Spark was not downloaded".into()))?;
    let user = &lab.user;
    let out = n.fact(crate::plan::ids::SPARK)?;
    let (head, profile) = out.split_once("---\n").unwrap_or((out.as_str(), ""));
    let mut lines = head.lines();
    let marker = lines.next().unwrap_or("").trim().to_string();
    let rest: Vec<&str> = lines.collect();
    let field = |k: &str| rest.iter().find_map(|l| l.strip_prefix(k)).unwrap_or("").trim().to_string();
    let (link, owner) = (field("link="), field("owner="));
    let mut outcome = Outcome::Satisfied;
    if marker != tarball.hex() {
        // Whatever runs now runs from the old files: stop it before they change.
        n.run(n.s.exec(&spark::stop_all(&n.cx.lab.user)))?;
        n.unpack(&tarball, &dir)?;
        n.run(n.s.sudo_check(&sh("printf '%s\\n' {{d}} > {{m}}", &[("d", &tarball.hex().to_string()), ("m", &spark::marker(v))])))?;
        outcome = Outcome::Applied;
    }
    if link != dir {
        // A real /opt/spark that lab did not make is kept aside, never removed.
        let keep = link == "other" || (!link.is_empty() && n.cx.provider.tracks_changes() && !n.made(spark::HOME));
        let script = sh(
            "if [ {{keep}} = yes ] && [ ! -e {{b}} ] && [ ! -L {{b}} ]; then mv {{home}} {{b}}; echo replaced; elif [ -z {{old}} ]; then echo created; fi; ln -sfn {{dir}} {{home}}",
            &[("keep", &if keep { "yes" } else { "no" }), ("b", &backup_of(spark::HOME)), ("home", &spark::HOME), ("old", &link), ("dir", &dir)],
        );
        match n.run(n.s.sudo_check(&script))?.stdout.trim() {
            "replaced" => n.track(Change::Replaced { path: spark::HOME.into(), backup: backup_of(spark::HOME) })?,
            "created" => n.track(Change::Created { path: spark::HOME.into() })?,
            _ => {}
        }
        outcome = Outcome::Applied;
    }
    if owner != *user {
        let existed = !owner.is_empty();
        n.run(n.s.sudo_check(&sh("mkdir -p {{d}} && chown {{o}} {{d}}", &[("d", &spark::PID_DIR), ("o", &format!("{user}:{user}"))])))?;
        if !existed {
            n.track(Change::Created { path: spark::PID_DIR.into() })?;
        }
        outcome = Outcome::Applied;
    }
    if profile != PROFILE && n.put_file(spark::SPARK_PROFILE, PROFILE, 0o644, &Owner::root())? == Outcome::Applied {
        outcome = Outcome::Applied;
    }
    n.cx.record(n.name(), "spark", tarball.hex())?;
    Ok(outcome)
}

/// `conf/spark-env.sh`: JAVA_HOME, the master, this node's own lab address (never the NAT
/// address every VM shares), worker resources, pid files outside /tmp.
pub fn env(n: &NodeCx<'_>) -> Result<Outcome> {
    let lab = n.cx.lab;
    let java_home = n.cx.current(n.name(), "java").ok_or_else(|| Error::Internal("JAVA_HOME is not known before spark_env".into()))?;
    let text = files::spark_env(lab, n.node, &java_home);
    let fact = n.fact(crate::plan::ids::SPARK_ENV)?;
    let o = n.put_file_unless(&fact, &env_path(lab), &text, 0o755, &Owner::user(&lab.user))?;
    n.cx.record(n.name(), "spark_env", &files::short_hash(&text))?;
    Ok(o)
}

/// The master's `conf/workers` (and `conf/slaves` before Spark 3.1): one worker per line.
pub fn workers_file(n: &NodeCx<'_>) -> Result<Outcome> {
    let lab = n.cx.lab;
    let list: String = lab.workers().map(|w| format!("{}\n", w.name)).collect();
    let dir = spark::install_dir(lab.spark.version);
    let mut outcome = Outcome::Satisfied;
    let fact = n.fact(crate::plan::ids::WORKERS_FILE)?;
    for f in spark::workers_files(lab.spark.version) {
        let head = format!("=== {f}\n");
        let current = fact.split_inclusive('\n').skip_while(|l| *l != head).skip(1).take_while(|l| !l.starts_with("=== ")).collect::<String>();
        if n.put_file_unless(&current, &format!("{dir}/{f}"), &list, 0o644, &Owner::user(&lab.user))? == Outcome::Applied {
            outcome = Outcome::Applied;
        }
    }
    Ok(outcome)
}
