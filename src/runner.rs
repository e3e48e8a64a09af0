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
