//! The master's `/json/` lists exactly the lab's workers as ALIVE (a replaced worker's old
//! registration stays until the master notices it is gone).

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::spark::MasterJson;
use crate::spec::{Lab, Node};
use crate::steps::spark_daemon::failure;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub const ID: &str = "workers_registered";

pub struct WorkersRegistered {
    node: String,
    head: Head,
}

pub fn step(lab: &Lab) -> Box<dyn Step> {
    Box::new(WorkersRegistered {
        node: lab.master().name.clone(),
        head: Head::node(ID, Stage::Ready, &lab.master().name, format!("the master lists exactly the {} workers as ALIVE", lab.workers().count())),
    })
}

/// The workers the master does not list as ALIVE, and whether it lists exactly the lab's.
fn missing<'l>(lab: &'l Lab, j: Option<&MasterJson>) -> (Vec<&'l Node>, bool) {
    let missing = lab.workers().filter(|w| !j.is_some_and(|j| j.alive_worker(w))).collect();
    (missing, j.is_some_and(|j| j.alive_hosts().len() == lab.workers().count()))
}

impl Step for WorkersRegistered {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let j = cx.master_json().ok();
        Ok(match missing(cx.lab, j.as_ref()) {
            (m, true) if m.is_empty() => Check::Satisfied,
            (m, _) => Check::Needed(format!("not ALIVE yet: {}", m.iter().map(|w| w.name.as_str()).collect::<Vec<_>>().join(", "))),
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let lab = cx.lab;
        let within = Duration::from_secs(120) * cx.machines.patience(lab);
        let deadline = Instant::now() + within;
        loop {
            let j = cx.master_json().ok();
            let (missing, exact) = missing(lab, j.as_ref());
            if missing.is_empty() && exact {
                return Ok(Outcome::Applied);
            }
            if Instant::now() > deadline {
                return match missing.first() {
                    Some(w) => Err(failure(cx, &w.name, &format!("it did not register with the master as ALIVE within {} s", within.as_secs()))),
                    None => Err(Error::node(&self.node, format!("the master lists other workers than the lab's: {:?}", j.map(|j| j.alive_hosts())))),
                };
            }
            let names: Vec<&str> = missing.iter().map(|w| w.name.as_str()).collect();
            cx.reporter.phase(
                &self.node,
                &format!("waiting for workers to register: {}", if names.is_empty() { "old registrations to expire".to_string() } else { names.join(", ") }),
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::spark::WorkerJson;
    use std::sync::Arc;

    use crate::steps::fake::{FakeWeb, World};

    fn json(hosts: &[&str]) -> MasterJson {
        MasterJson {
            url: String::new(),
            status: "ALIVE".into(),
            workers: hosts.iter().map(|h| WorkerJson { host: (*h).into(), state: "ALIVE".into() }).collect(),
        }
    }

    #[test]
    fn satisfied_when_exactly_the_labs_workers_are_alive_and_waits_until_they_are() {
        let w = World::sandbox();
        let plan = vec![step(&w.lab)];
        let mut cx = w.cx(&plan);
        cx.web = Arc::new(FakeWeb(|| Ok(json(&["192.168.57.11", "192.168.57.12"]))));
        assert_eq!(plan[0].check(&cx).expect("check"), Check::Satisfied);

        let calls = std::sync::Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        cx.web = Arc::new(FakeWeb(move || Ok(if c.fetch_add(1, Ordering::SeqCst) < 2 { json(&["192.168.57.11"]) } else { json(&["192.168.57.11", "node2"]) })));
        assert!(matches!(plan[0].check(&cx).expect("check"), Check::Needed(ref why) if why.contains("node2")));
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        assert!(calls.load(Ordering::SeqCst) >= 3, "it waited");
    }
}
