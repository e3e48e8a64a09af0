//! The one step runner: executes a plan stage by stage (this computer's steps of a stage first,
//! then the targets of the stage side by side, the steps of one target in order), checks each
//! step and applies it only when needed, and reports each step's start, outcome and time.
//! It knows steps only through [`Step`].

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::steps::{Check, Cx, Stage, Step, Target};
use crate::ui::Outcome;

/// How a run went: the time each stage took.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub stages: Vec<(Stage, Duration)>,
    pub applied: usize,
    pub satisfied: usize,
}

/// Runs `steps` in order of their stages. A failed step stops its target; the stage's other
/// targets finish, then the run stops with the first failure.
pub fn run(cx: &Cx<'_>, steps: &[Box<dyn Step + '_>]) -> Result<Summary> {
    let mut summary = Summary::default();
    let mut i = 0;
    while i < steps.len() {
        let stage = steps[i].head().stage;
        let end = steps[i..].iter().position(|s| s.head().stage != stage).map_or(steps.len(), |p| i + p);
        let started = Instant::now();
        // This computer's steps of a stage come first (the nodes' steps use what they make).
        let host: Vec<&dyn Step> = steps[i..end].iter().filter(|s| s.head().target == Target::Host).map(|s| s.as_ref()).collect();
        if !host.is_empty() {
            match run_target(cx, &host) {
                Ok(outcomes) => {
                    summary.applied += outcomes.iter().filter(|o| **o == Outcome::Applied).count();
                    summary.satisfied += outcomes.iter().filter(|o| **o == Outcome::Satisfied).count();
                }
                Err(e) => {
                    summary.stages.push((stage, started.elapsed()));
                    return Err(e);
                }
            }
        }
        let mut targets: Vec<(&Target, Vec<&dyn Step>)> = Vec::new();
        for s in steps[i..end].iter().filter(|s| s.head().target != Target::Host) {
            let target = &s.head().target;
            match targets.iter_mut().find(|(t, _)| *t == target) {
                Some((_, v)) => v.push(s.as_ref()),
                None => targets.push((target, vec![s.as_ref()])),
            }
        }
        let results: Vec<Result<Vec<Outcome>>> = if targets.is_empty() {
            Vec::new()
        } else if targets.len() == 1 {
            vec![run_target(cx, &targets[0].1)]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = targets.iter().map(|(_, list)| scope.spawn(|| run_target(cx, list))).collect();
                handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Error::Internal("a step panicked".into())))).collect()
            })
        };
        let mut first_error = None;
        for r in results {
            match r {
                Ok(outcomes) => {
                    summary.applied += outcomes.iter().filter(|o| **o == Outcome::Applied).count();
                    summary.satisfied += outcomes.iter().filter(|o| **o == Outcome::Satisfied).count();
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        summary.stages.push((stage, started.elapsed()));
        if let Some(e) = first_error {
            return Err(e);
        }
        i = end;
    }
    Ok(summary)
}

fn run_target(cx: &Cx<'_>, steps: &[&dyn Step]) -> Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    for s in steps {
        let start = Instant::now();
        let h = s.head();
        cx.reporter.step_start(h.target.label(), h.id);
        match converge(cx, *s) {
            Ok(o) => {
                cx.reporter.step_done(h.target.label(), h.id, &o, start.elapsed());
                outcomes.push(o);
            }
            Err(e) => {
                cx.reporter.step_failed(h.target.label(), h.id, &e, start.elapsed());
                return Err(e);
            }
        }
    }
    Ok(outcomes)
}

/// Check, then apply what the check did not find so (saying why: `lab up -v` prints it). A node
/// a step changed (or failed on) is probed again before the next step looks at it.
fn converge(cx: &Cx<'_>, step: &dyn Step) -> Result<Outcome> {
    let h = step.head();
    let outcome = match step.check(cx) {
        Ok(Check::Satisfied) => Ok(Outcome::Satisfied),
        Ok(Check::Needed(why)) => {
            cx.reporter.step_needed(h.target.label(), h.id, &why);
            step.apply(cx)
        }
        Ok(Check::InApply) => step.apply(cx),
        Err(e) => Err(e),
    };
    if !matches!(outcome, Ok(Outcome::Satisfied))
        && let Some(node) = h.target.node()
    {
        cx.forget_facts(node);
    }
    outcome
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::steps::Head;
    use crate::steps::fake::World;

    /// A step that records what the runner asked of it, in one log shared by a plan.
    struct Probe<'l> {
        head: Head,
        check: Check,
        fails: bool,
        log: &'l Mutex<Vec<String>>,
    }

    impl Probe<'_> {
        fn name(&self) -> String {
            format!("{} {}", self.head.target.label(), self.head.id)
        }
    }

    impl Step for Probe<'_> {
        fn head(&self) -> &Head {
            &self.head
        }
        fn check(&self, _: &Cx<'_>) -> Result<Check> {
            self.log.lock().expect("log").push(format!("check {}", self.name()));
            Ok(self.check.clone())
        }
        fn apply(&self, _: &Cx<'_>) -> Result<Outcome> {
            self.log.lock().expect("log").push(format!("apply {}", self.name()));
            if self.fails { Err(Error::node(self.head.target.label(), "broken")) } else { Ok(Outcome::Applied) }
        }
    }

    fn head(stage: Stage, target: Option<&str>, id: &'static str) -> Head {
        match target {
            Some(n) => Head::node(id, stage, n, ""),
            None => Head::host(id, stage, ""),
        }
    }

    fn step<'l>(log: &'l Mutex<Vec<String>>, stage: Stage, target: Option<&str>, id: &'static str, check: Check) -> Box<dyn Step + 'l> {
        Box::new(Probe { head: head(stage, target, id), check, fails: false, log })
    }

    #[test]
    fn satisfied_steps_are_not_applied_and_stages_run_in_order_host_first() {
        let w = World::sandbox();
        let log = Mutex::new(Vec::new());
        let plan = vec![
            step(&log, Stage::Host, None, "a", Check::Satisfied),
            step(&log, Stage::Machines, Some("node1"), "b", Check::Needed("x".into())),
            step(&log, Stage::Machines, None, "c", Check::InApply),
            step(&log, Stage::Nodes, Some("master"), "d", Check::Satisfied),
        ];
        let cx = w.cx(&plan);
        let summary = run(&cx, &plan).expect("run");
        assert_eq!((summary.applied, summary.satisfied), (2, 2));
        assert_eq!(summary.stages.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [Stage::Host, Stage::Machines, Stage::Nodes]);
        let log = log.lock().expect("log").clone();
        assert_eq!(
            log,
            ["check host a", "check host c", "apply host c", "check node1 b", "apply node1 b", "check master d"],
            "this computer's steps of a stage come first"
        );
    }

    #[test]
    fn a_failed_step_stops_its_target_the_stages_other_targets_finish_then_the_run_stops() {
        let w = World::sandbox();
        let log = Mutex::new(Vec::new());
        let plan: Vec<Box<dyn Step + '_>> = vec![
            Box::new(Probe { head: head(Stage::Nodes, Some("node1"), "a"), check: Check::Needed("x".into()), fails: true, log: &log }),
            step(&log, Stage::Nodes, Some("node1"), "b", Check::Needed("x".into())),
            step(&log, Stage::Nodes, Some("node2"), "c", Check::Needed("x".into())),
            step(&log, Stage::Cluster, Some("master"), "d", Check::Needed("x".into())),
        ];
        let cx = w.cx(&plan);
        let e = run(&cx, &plan).expect_err("node1 fails");
        assert!(e.to_string().contains("broken"), "{e}");
        let log = log.lock().expect("log").clone();
        assert!(log.contains(&"apply node2 c".to_string()), "the stage's other target finished: {log:?}");
        assert!(!log.iter().any(|l| l.ends_with("node1 b") || l.ends_with("master d")), "nothing after the failure on its target or in later stages: {log:?}");
    }
}
