//! The one printer. Data goes to stdout; progress, notes and errors go to stderr. Deep code
//! reports through the [`Reporter`] trait and never prints or draws bars itself.
//!
//! On a terminal the display is live: one line per target working now (its step, a spinner and
//! the time spent), a bar under it while it transfers, and, when a step ends, one plain result
//! line in the scrollback; finished or abandoned bars are cleared, never left behind, and every
//! line printed while the display is live goes through it. Elsewhere (pipes, CI,
//! `--no-progress`) the same events are plain lines.

mod color;
mod live;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use serde_json::json;

pub use color::{Color, Paint};

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Errors only.
    Quiet,
    /// One plain line per event (not a terminal, or `--no-progress`).
    Plain,
    /// Spinners and progress bars on a terminal.
    Live,
    /// Machine-readable output on stdout; stderr carries only JSON errors.
    Json,
}

/// The target of steps and transfers that happen on this computer.
pub const HOST: &str = "host";

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Already true; nothing done.
    Satisfied,
    /// Made true now.
    Applied,
}

/// Progress reporting for long work: steps on targets (nodes, the host), phases of long waits,
/// byte counts, and notes.
pub trait Reporter: Send + Sync {
    fn step_start(&self, target: &str, step: &str);
    /// Why a step is applied: what its check observed (shown with `-v`).
    fn step_needed(&self, target: &str, step: &str, why: &str);
    fn step_done(&self, target: &str, step: &str, outcome: &Outcome, elapsed: Duration);
    fn step_failed(&self, target: &str, step: &str, error: &Error, elapsed: Duration);
    /// What a long step waits for now (`installing`, `waiting for SSH`), shown beside it.
    fn phase(&self, target: &str, what: &str);
    /// `done` of `total` bytes of `what` moved for `target` (total unknown: `None`).
    fn progress(&self, target: &str, what: &str, done: u64, total: Option<u64>);
    /// A line for people (hidden with `-q` and `--json`).
    fn note(&self, text: &str);
    /// A line shown in every mode, even `-q` and `--json` (host key fingerprints lab records).
    fn always(&self, text: &str);
    /// Asks a question on the terminal; the answer (empty without a terminal).
    fn ask(&self, question: &str) -> String;
}

pub struct Printer {
    mode: Mode,
    verbose: u8,
    paint: Paint,
    live: Option<live::Live>,
    /// Plain mode: the last quarter of each transfer printed, the last phase of each target.
    plain: std::sync::Mutex<PlainMemory>,
}

#[derive(Default)]
struct PlainMemory {
    quarters: std::collections::HashMap<String, u64>,
    phases: std::collections::HashMap<String, (String, std::time::Instant)>,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl Printer {
    pub fn new(quiet: bool, verbose: u8, json: bool, no_progress: bool, color: ColorChoice) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let mode = if json {
            Mode::Json
        } else if quiet {
            Mode::Quiet
        } else if no_progress || !terminal || std::env::var_os("CI").is_some() {
            Mode::Plain
        } else {
            Mode::Live
        };
        let colored = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        };
        let paint = Paint { on: colored };
        let live = (mode == Mode::Live).then(|| live::Live::new(paint, verbose));
        Self { mode, verbose, paint, live, plain: std::sync::Mutex::new(PlainMemory::default()) }
    }

    pub fn is_json(&self) -> bool {
        self.mode == Mode::Json
    }

    pub fn paint(&self) -> Paint {
        self.paint
    }

    /// Data the command exists to print (a table, a kickstart, a config block).
    pub fn out(&self, text: &str) {
        let write = || {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(text.as_bytes());
            if !text.ends_with('\n') {
                let _ = o.write_all(b"\n");
            }
            let _ = o.flush();
        };
        match &self.live {
            Some(l) => l.suspend(write),
            None => write(),
        }
    }

    pub fn json(&self, value: &serde_json::Value) {
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
        self.out(&text);
    }

    /// A line of progress or a result for people.
    pub fn info(&self, msg: &str) {
        match (&self.live, self.mode) {
            (Some(l), _) => l.line(msg),
            (None, Mode::Plain) => eprintln!("{msg}"),
            _ => {}
        }
    }

    /// Ends the live display: nothing of it stays on the screen.
    pub fn finish(&self) {
        if let Some(l) = &self.live {
            l.clear();
        }
    }

    /// Renders an error, its details and its hint. Shown in every mode.
    pub fn error(&self, err: &Error) {
        self.finish();
        if self.mode == Mode::Json {
            let mut v = json!({ "error": err.to_string(), "exit_code": err.exit_code() });
            if let Some(h) = err.hint() {
                v["hint"] = json!(h);
            }
            if let Error::Spec { diagnostics, .. } = err {
                v["problems"] = json!(diagnostics.iter().map(diagnostic_json).collect::<Vec<_>>());
            }
            eprintln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            return;
        }
        let p = self.paint;
        if let Error::Spec { diagnostics, .. } = err {
            for d in diagnostics {
                eprintln!("{} {d}", p.paint(Color::Red, "error:"));
            }
        }
        eprintln!("{} {err}", p.paint(Color::Red, "error:"));
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            if !err.to_string().contains(&s.to_string()) {
                eprintln!("  caused by: {s}");
            }
            source = s.source();
        }
        if let Some(h) = err.hint() {
            eprintln!("  {} {h}", p.paint(Color::Cyan, "hint:"));
        }
    }
}

impl Drop for Printer {
    fn drop(&mut self) {
        self.finish();
    }
}

pub fn diagnostic_json(d: &crate::spec::Diagnostic) -> serde_json::Value {
    json!({
        "file": d.file.display().to_string(),
        "line": d.pos.line,
        "column": d.pos.col,
        "field": d.path.to_string(),
        "message": d.message,
        "hint": d.hint,
    })
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

impl Reporter for Printer {
    fn step_start(&self, target: &str, step: &str) {
        match (&self.live, self.mode) {
            (Some(l), _) => l.start(target, step),
            (None, Mode::Plain) if self.verbose > 0 => eprintln!("{target}: {step} ..."),
            _ => {}
        }
    }

    fn step_needed(&self, target: &str, step: &str, why: &str) {
        if self.verbose == 0 {
            return;
        }
        let line = format!("{target}: {step}: {} {why}", self.paint.paint(Color::Dim, "needed:"));
        match (&self.live, self.mode) {
            (Some(l), _) => l.line(&line),
            (None, Mode::Plain) => eprintln!("{line}"),
            _ => {}
        }
    }

    fn step_done(&self, target: &str, step: &str, outcome: &Outcome, elapsed: Duration) {
        let p = self.paint;
        let line = match outcome {
            Outcome::Satisfied if self.verbose == 0 => None,
            Outcome::Satisfied => Some(format!("{target}: {step}: {} ({})", p.paint(Color::Dim, "ok"), secs(elapsed))),
            Outcome::Applied => Some(format!("{target}: {step}: {} ({})", p.paint(Color::Green, "done"), secs(elapsed))),
        };
        match (&self.live, self.mode) {
            (Some(l), _) => l.done(target, line.as_deref()),
            (None, Mode::Plain) => {
                if let Some(line) = line {
                    eprintln!("{line}");
                }
            }
            _ => {}
        }
    }

    fn step_failed(&self, target: &str, step: &str, error: &Error, elapsed: Duration) {
        let first = error.to_string().lines().next().unwrap_or("").to_string();
        let line = format!("{target}: {step}: {} ({}): {first}", self.paint.paint(Color::Red, "FAILED"), secs(elapsed));
        match (&self.live, self.mode) {
            (Some(l), _) => l.done(target, Some(&line)),
            (None, Mode::Plain) => eprintln!("{line}"),
            _ => {}
        }
    }

    fn phase(&self, target: &str, what: &str) {
        match (&self.live, self.mode) {
            (Some(l), _) => l.phase(target, what),
            (None, Mode::Plain) => {
                // A line when the phase changes, and a reminder every minute of a long one.
                let Ok(mut m) = self.plain.lock() else { return };
                let now = std::time::Instant::now();
                let kind: String = what.split(" (").next().unwrap_or(what).to_string();
                let print = match m.phases.get(target) {
                    Some((k, at)) => *k != kind || now.duration_since(*at) >= Duration::from_secs(60),
                    None => true,
                };
                if print {
                    m.phases.insert(target.to_string(), (kind, now));
                    eprintln!("{target}: {what}");
                }
            }
            _ => {}
        }
    }

    fn progress(&self, target: &str, what: &str, done: u64, total: Option<u64>) {
        match (&self.live, self.mode) {
            (Some(l), _) => l.progress(target, what, done, total),
            (None, Mode::Plain) => {
                let Some(t) = total.filter(|t| *t > 0) else { return };
                let quarter = done.saturating_mul(4) / t;
                let Ok(mut m) = self.plain.lock() else { return };
                let key = format!("{target}: {what}");
                let last = m.quarters.entry(key.clone()).or_insert(0);
                if quarter > *last {
                    *last = quarter;
                    #[allow(clippy::cast_precision_loss)]
                    let mb = t as f64 / 1e6;
                    eprintln!("{key}: {}% of {mb:.1} MB", quarter * 25);
                }
            }
            _ => {}
        }
    }

    fn note(&self, text: &str) {
        self.info(text);
    }

    fn always(&self, text: &str) {
        match &self.live {
            Some(l) => l.line(text),
            None => eprintln!("{text}"),
        }
    }

    fn ask(&self, question: &str) -> String {
        // Steps on several nodes may ask at once: one question at a time.
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let read = || {
            eprint!("{question}");
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            let _ = std::io::stdin().read_line(&mut answer);
            answer
        };
        match &self.live {
            Some(l) => l.suspend(read),
            None => read(),
        }
    }
}

/// A reporter that shows nothing (tests).
#[cfg(test)]
pub struct Silent;

#[cfg(test)]
impl Reporter for Silent {
    fn step_start(&self, _: &str, _: &str) {}
    fn step_needed(&self, _: &str, _: &str, _: &str) {}
    fn step_done(&self, _: &str, _: &str, _: &Outcome, _: Duration) {}
    fn step_failed(&self, _: &str, _: &str, _: &Error, _: Duration) {}
    fn phase(&self, _: &str, _: &str) {}
    fn progress(&self, _: &str, _: &str, _: u64, _: Option<u64>) {}
    fn note(&self, _: &str) {}
    fn always(&self, _: &str) {}
    fn ask(&self, _: &str) -> String {
        String::new()
    }
}
