//! The one step runner: executes a plan stage by stage (this computer's steps of a stage first,
//! then the targets of the stage side by side, the steps of one target in order), checks each
//! step and applies it only when needed, and reports each step's start, outcome and time.
//! It knows steps only through [`Step`].

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::steps::{Check, Cx, HOST, Stage, Step};
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
        let stage = steps[i].stage();
        let end = steps[i..].iter().position(|s| s.stage() != stage).map_or(steps.len(), |p| i + p);
        let started = Instant::now();
        // This computer's steps of a stage come first (the nodes' steps use what they make).
        let host: Vec<&dyn Step> = steps[i..end].iter().filter(|s| s.target() == HOST).map(|s| s.as_ref()).collect();
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
        let mut targets: Vec<(&str, Vec<&dyn Step>)> = Vec::new();
        for s in steps[i..end].iter().filter(|s| s.target() != HOST) {
            match targets.iter_mut().find(|(t, _)| *t == s.target()) {
                Some((_, v)) => v.push(s.as_ref()),
                None => targets.push((s.target(), vec![s.as_ref()])),
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
        cx.reporter.step_start(s.target(), s.id());
        match converge(cx, *s) {
            Ok(o) => {
                cx.reporter.step_done(s.target(), s.id(), &o, start.elapsed());
                outcomes.push(o);
            }
            Err(e) => {
                cx.reporter.step_failed(s.target(), s.id(), &e, start.elapsed());
                return Err(e);
            }
        }
    }
    Ok(outcomes)
}

/// Check, then apply what the check did not find so. A node a step changed (or failed on) is
/// probed again before the next step looks at it.
fn converge(cx: &Cx<'_>, step: &dyn Step) -> Result<Outcome> {
    let outcome = match step.check(cx) {
        Ok(Check::Satisfied) => Ok(Outcome::Satisfied),
        Ok(Check::Needed(_) | Check::InApply) => step.apply(cx),
        Err(e) => Err(e),
    };
    if !matches!(outcome, Ok(Outcome::Satisfied)) && step.target() != HOST {
        cx.forget_facts(step.target());
    }
    outcome
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::steps::fake::World;

    /// A step that records what the runner asked of it, in one log shared by a plan.
    struct Probe<'l> {
        id: &'static str,
        stage: Stage,
        target: String,
        check: Check,
        fails: bool,
        log: &'l Mutex<Vec<String>>,
    }

    impl Step for Probe<'_> {
        fn id(&self) -> &'static str {
            self.id
        }
        fn stage(&self) -> Stage {
            self.stage
        }
        fn target(&self) -> &str {
            &self.target
        }
        fn goal(&self) -> String {
            String::new()
        }
        fn check(&self, _: &Cx<'_>) -> Result<Check> {
            self.log.lock().expect("log").push(format!("check {} {}", self.target, self.id));
            Ok(self.check.clone())
        }
        fn apply(&self, _: &Cx<'_>) -> Result<Outcome> {
            self.log.lock().expect("log").push(format!("apply {} {}", self.target, self.id));
            if self.fails { Err(Error::node(&self.target, "broken")) } else { Ok(Outcome::Applied) }
        }
    }

    fn step<'l>(log: &'l Mutex<Vec<String>>, stage: Stage, target: &str, id: &'static str, check: Check) -> Box<dyn Step + 'l> {
        Box::new(Probe { id, stage, target: target.into(), check, fails: false, log })
    }

    #[test]
    fn satisfied_steps_are_not_applied_and_stages_run_in_order_host_first() {
        let w = World::sandbox();
        let log = Mutex::new(Vec::new());
        let plan = vec![
            step(&log, Stage::Host, HOST, "a", Check::Satisfied),
            step(&log, Stage::Machines, "node1", "b", Check::Needed("x".into())),
            step(&log, Stage::Machines, HOST, "c", Check::InApply),
            step(&log, Stage::Nodes, "master", "d", Check::Satisfied),
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
            Box::new(Probe { id: "a", stage: Stage::Nodes, target: "node1".into(), check: Check::Needed("x".into()), fails: true, log: &log }),
            step(&log, Stage::Nodes, "node1", "b", Check::Needed("x".into())),
            step(&log, Stage::Nodes, "node2", "c", Check::Needed("x".into())),
            step(&log, Stage::Cluster, "master", "d", Check::Needed("x".into())),
        ];
        let cx = w.cx(&plan);
        let e = run(&cx, &plan).expect_err("node1 fails");
        assert!(e.to_string().contains("broken"), "{e}");
        let log = log.lock().expect("log").clone();
        assert!(log.contains(&"apply node2 c".to_string()), "the stage's other target finished: {log:?}");
        assert!(!log.iter().any(|l| l.ends_with("node1 b") || l.ends_with("master d")), "nothing after the failure on its target or in later stages: {log:?}");
    }
}
