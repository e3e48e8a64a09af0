//! firewalld, where it runs, trusts the lab network (Spark picks ports at random).

use super::NodeCx;
use crate::error::{Error, Result};
use crate::script::{Sh, sh};
use crate::state::Change;
use crate::ui::Outcome;

/// Whether firewalld is there at all (no sudo needed to tell).
pub fn check() -> Sh {
    sh("if command -v firewall-cmd >/dev/null 2>&1; then echo present; else echo absent; fi", &[])
}

pub fn ensure(n: &NodeCx<'_>) -> Result<Outcome> {
    if n.fact(crate::plan::ids::FIREWALL)?.trim() == "absent" {
        return Ok(Outcome::Satisfied);
    }
    let cidr = n.cx.lab.network.cidr;
    let script = sh(
        "if command -v firewall-cmd >/dev/null 2>&1 && firewall-cmd --state >/dev/null 2>&1; then \
           if firewall-cmd --zone=trusted --query-source={{cidr}} >/dev/null 2>&1; then echo same; \
           else firewall-cmd --permanent --zone=trusted --add-source={{cidr}} >/dev/null && firewall-cmd --reload >/dev/null && echo changed; fi; \
         else echo absent; fi",
        &[("cidr", &cidr)],
    );
    let out = n.run(n.s.exec(&script.sudo()))?;
    if !out.ok() {
        return Err(Error::node(n.name(), format!("trusting {cidr} in firewalld failed: {}", out.stderr.trim())));
    }
    if out.stdout.trim() == "changed" {
        n.track(Change::FirewallSource { cidr: cidr.to_string() })?;
        return Ok(Outcome::Applied);
    }
    Ok(Outcome::Satisfied)
}
