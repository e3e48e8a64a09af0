//! `.lab/<name>/` with the lab's client key, each node's host key and known_hosts: what every
//! later step that logs in needs ([`Cx::keys`] makes them; this step makes them first, and
//! says whether they were new).

use crate::error::Result;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub const ID: &str = "state";

pub struct StateFolder {
    head: Head,
}

pub fn step(lab: &crate::spec::Lab) -> Box<dyn Step> {
    Box::new(StateFolder { head: Head::host(ID, Stage::Host, format!(".lab/{} holds the lab key and each node's SSH host key", lab.name)) })
}

impl Step for StateFolder {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, _: &Cx<'_>) -> Result<Check> {
        // Cannot look first: the keys are read (and the provider's host keys gathered) by
        // applying, every time; what it makes is every later step's input.
        Ok(Check::InApply)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let existed = cx.sd.client_key_path().is_file() && cx.sd.path().join("state.json").is_file();
        cx.keys()?;
        Ok(if existed { Outcome::Satisfied } else { Outcome::Applied })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::fake::World;

    #[test]
    fn makes_the_key_once() {
        let w = World::sandbox();
        let plan = vec![step(&w.lab)];
        let cx = w.cx_without_keys(&plan);
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        assert!(w.sd.client_key_path().is_file());
        let keys = cx.keys().expect("keys");
        assert_eq!(keys.hosts.len(), 3);
        assert!(w.sd.known_hosts_path().is_file());
        let again = w.cx_without_keys(&plan);
        assert_eq!(plan[0].apply(&again).expect("apply"), Outcome::Satisfied);
        assert_eq!(again.keys().expect("keys").client.public_line, keys.client.public_line, "the same key, not a new one");
    }
}
