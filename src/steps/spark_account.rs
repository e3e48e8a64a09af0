//! The system account Spark's daemons run as (`spark::DAEMON_USER`): no password, no login
//! shell, no sudo, in no group but its own. Code that reaches a daemon (a job, a Connect
//! session) runs as this account and cannot become root; the lab user, who logs in and
//! submits jobs, keeps its sudo. An account of that name that can become root is refused, never
//! changed.

use crate::error::{Error, Result};
use crate::script::{Sh, sh};
use crate::spark::{self, DAEMON_USER};
use crate::spec::Lab;
use crate::state::Change;
use crate::steps::node::NodeCx;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub const ID: &str = "spark_account";

/// Groups that give sudo (or root's files) on the distributions lab supports.
const ROOT_GROUPS: &[&str] = &["wheel", "sudo", "admin", "root"];

pub struct SparkAccount {
    node: String,
    head: Head,
}

pub fn step(_: &Lab, node: &str) -> Box<dyn Step> {
    Box::new(SparkAccount {
        node: node.to_string(),
        head: Head::node(ID, Stage::Nodes, node, format!("system account {DAEMON_USER} for Spark's daemons: no login, no sudo")),
    })
}

/// What the probe saw: `None` when there is no such account, else its shell and groups.
fn seen(fact: &str) -> Option<(String, Vec<String>)> {
    let get = |k: &str| fact.lines().find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix('=')));
    let shell = get("shell").filter(|s| !s.is_empty())?;
    Some((shell.to_string(), get("groups").unwrap_or("").split_whitespace().map(String::from).collect()))
}

/// Why the account as seen may become root or log in (none: it is as lab wants it).
fn unsafe_because(shell: &str, groups: &[String]) -> Option<String> {
    if let Some(g) = groups.iter().find(|g| ROOT_GROUPS.contains(&g.as_str())) {
        Some(format!("it is in group {g}"))
    } else if !(shell.ends_with("/nologin") || shell.ends_with("/false")) {
        Some(format!("it has the login shell {shell}"))
    } else {
        None
    }
}

impl Step for SparkAccount {
    fn head(&self) -> &Head {
        &self.head
    }
    fn probes(&self, _: &Cx<'_>) -> Result<Vec<(String, Sh)>> {
        Ok(vec![(
            self.node.clone(),
            sh("echo \"shell=$(getent passwd {{u}} | cut -d: -f7)\"; echo \"groups=$(id -nG {{u}} 2>/dev/null)\"", &[("u", &DAEMON_USER)]),
        )])
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        match seen(&cx.fact(&self.node, ID)?) {
            None => Ok(Check::Needed(format!("no account {DAEMON_USER}"))),
            Some((shell, groups)) => match unsafe_because(&shell, &groups) {
                Some(why) => Err(refusal(&self.node, &why)),
                None => Ok(Check::Satisfied),
            },
        }
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let n = NodeCx::new(cx, &self.node)?;
        let out = n.s.sudo_check(&sh(
            "if id -u {{u}} >/dev/null 2>&1; then echo exists; else useradd --system --user-group --no-create-home --home-dir {{home}} --shell \"$(command -v nologin || echo /bin/false)\" {{u}} && echo created; fi",
            &[("u", &DAEMON_USER), ("home", &spark::PID_DIR)],
        ))?;
        if out.stdout.trim() == "created" {
            n.track(Change::User { name: DAEMON_USER.into() })?;
        }
        Ok(Outcome::Applied)
    }
}

fn refusal(node: &str, why: &str) -> Error {
    Error::node_hint(
        node,
        format!("an account {DAEMON_USER} exists and could become root or log in ({why}); lab runs Spark's daemons as an account that cannot"),
        format!(
            "on {node}: remove {DAEMON_USER} from that group or give it the shell nologin (`sudo usermod -s /usr/sbin/nologin {DAEMON_USER}`), or remove the account if it is not used"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::fake::World;

    #[test]
    fn the_account_is_made_once_and_one_that_could_become_root_is_refused() {
        let w = World::with(include_str!("../../labs/sandbox.yaml"), true);
        let plan = vec![step(&w.lab, "node1")];
        let check = |fact: &str| {
            let cx = w.cx(&plan);
            w.remote(&cx, "node1").probe(&[(ID, fact)]);
            plan[0].check(&cx)
        };
        assert_eq!(check("shell=/usr/sbin/nologin\ngroups=sparkd\n").expect("check"), Check::Satisfied);
        assert_eq!(check("shell=\ngroups=\n").expect("check"), Check::Needed("no account sparkd".into()));
        for (fact, why) in [("shell=/usr/sbin/nologin\ngroups=sparkd wheel\n", "group wheel"), ("shell=/bin/bash\ngroups=sparkd\n", "login shell /bin/bash")] {
            let e = check(fact).expect_err("refused").to_string();
            assert!(e.contains(why) && e.contains("cannot"), "{e}");
        }
        let cx = w.cx(&plan);
        let node = w.remote(&cx, "node1");
        node.probe(&[(ID, "shell=\ngroups=\n")]);
        node.answer("useradd", 0, "created\n");
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        assert!(node.ran_as_root("useradd --system --user-group --no-create-home --home-dir /var/lib/lab-spark"), "{:?}", node.scripts());
        let st = w.sd.load().expect("load").expect("state");
        assert_eq!(st.nodes["node1"].changes, [Change::User { name: "sparkd".into() }], "destroy removes it on machines lab did not make");
    }
}
