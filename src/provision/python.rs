//! Python 3 on every node, for PySpark (`lab submit app.py`, `lab pyspark`): the distribution's
//! package, unless the lab file says `spark.python: false`.

use super::NodeCx;
use crate::error::{Error, Result};
use crate::script::{Sh, sh};
use crate::state::Change;
use crate::ui::Outcome;

pub fn check() -> Sh {
    sh("command -v python3 >/dev/null 2>&1 && python3 --version 2>&1 || echo absent", &[])
}

pub fn ensure(n: &NodeCx<'_>) -> Result<Outcome> {
    if n.fact(crate::plan::ids::PYTHON)?.starts_with("Python 3") {
        return Ok(Outcome::Satisfied);
    }
    let install = sh(
        ". /etc/os-release; case \" $ID $ID_LIKE \" in \
         *' rhel '*|*' centos '*|*' fedora '*|*' rocky '*|*' almalinux '*) if command -v dnf >/dev/null; then dnf -y -q install python3; else yum -y -q install python3; fi ;; \
         *' debian '*|*' ubuntu '*) DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 >/dev/null ;; \
         *) echo \"unknown distribution $ID: install python3 by hand, or set spark.python: false\" >&2; exit 3 ;; esac",
        &[],
    );
    let out = n.run(n.s.exec(&install.sudo()))?;
    if !out.ok() {
        return Err(Error::node_hint(
            n.name(),
            format!("installing python3 failed: {}", out.stderr.trim()),
            "the node needs its distribution's repositories (internet through NAT); or set `spark.python: false` in the lab file",
        ));
    }
    n.track(Change::Package { name: "python3".into() })?;
    Ok(Outcome::Applied)
}
