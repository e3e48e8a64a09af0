//! `/etc/hosts`: every node by name on its lab address (lab's block), and the node's own name off
//! the loopback lines (with it there, Spark binds to 127.0.0.1 and workers cannot reach the
//! master). Everything else in the file is kept.

use super::{NodeCx, Owner};
use crate::error::Result;
use crate::files;
use crate::script::{Sh, sh};
use crate::ui::Outcome;

pub fn check() -> Sh {
    sh("cat /etc/hosts", &[])
}

pub fn ensure(n: &NodeCx<'_>) -> Result<Outcome> {
    let current = n.fact(crate::plan::ids::HOSTS_FILE)?;
    let desired = files::merge_hosts(&current, n.cx.lab, n.name());
    if desired == current {
        return Ok(Outcome::Satisfied);
    }
    n.put_file("/etc/hosts", &desired, 0o644, &Owner::root())
}
