//! The one printer. Data goes to stdout; progress, notes and errors go to stderr. Deep code
//! reports through the [`Reporter`] trait and never prints or draws bars itself.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Errors only.
    Quiet,
    /// One plain line per event (not a terminal, or `--no-progress`).
    Plain,
    /// Spinners and progress bars on a terminal.
    Bars,
    /// Machine-readable output on stdout; stderr carries only JSON errors.
    Json,
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Already true; nothing done.
    Satisfied,
    /// Made true now.
    Applied,
    Failed(String),
}

/// Progress reporting for long work: steps on targets (nodes, the host) and byte counts.
pub trait Reporter: Send + Sync {
    fn step_start(&self, target: &str, step: &str);
    fn step_done(&self, target: &str, step: &str, outcome: &Outcome, elapsed: Duration);
    /// `done` of `total` bytes of `what` (total unknown: `None`).
    fn bytes(&self, what: &str, done: u64, total: Option<u64>);
}

pub struct Printer {
    mode: Mode,
    verbose: u8,
    /// Byte progress per download or upload: a bar on a terminal, else the last quarter printed.
    transfers: std::sync::Mutex<std::collections::HashMap<String, Transfer>>,
    bars: indicatif::MultiProgress,
}

enum Transfer {
    Bar(ProgressBar),
    Quarter(u64),
}

impl Printer {
    pub fn new(quiet: bool, verbose: u8, json: bool, no_progress: bool) -> Self {
        let mode = if json {
            Mode::Json
        } else if quiet {
            Mode::Quiet
        } else if no_progress || !std::io::stderr().is_terminal() || std::env::var_os("CI").is_some() {
            Mode::Plain
        } else {
            Mode::Bars
        };
        Self { mode, verbose, transfers: std::sync::Mutex::new(std::collections::HashMap::new()), bars: indicatif::MultiProgress::new() }
    }

    pub fn is_json(&self) -> bool {
        self.mode == Mode::Json
    }

    /// Data the command exists to print (a table, a kickstart, a config block).
    pub fn out(&self, text: &str) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = o.write_all(b"\n");
        }
        let _ = o.flush();
    }

    pub fn json(&self, value: &serde_json::Value) {
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
        self.out(&text);
    }

    /// A line of progress or a result for people.
    pub fn info(&self, msg: &str) {
        if matches!(self.mode, Mode::Plain | Mode::Bars) {
            eprintln!("{msg}");
        }
    }

    /// Detail shown with `-v`.
    pub fn detail(&self, msg: &str) {
        if self.verbose > 0 {
            self.info(msg);
        }
    }

    /// Renders an error, its details and its hint. Shown in every mode.
    pub fn error(&self, err: &Error) {
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
        if let Error::Spec { diagnostics, .. } = err {
            for d in diagnostics {
                eprintln!("error: {d}");
            }
        }
        eprintln!("error: {err}");
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            if !err.to_string().contains(&s.to_string()) {
                eprintln!("  caused by: {s}");
            }
            source = s.source();
        }
        if let Some(h) = err.hint() {
            eprintln!("  hint: {h}");
        }
    }

    /// A spinner (terminal) or a start line (plain) for one piece of work.
    pub fn task(&self, label: &str) -> Task {
        let bar = match self.mode {
            Mode::Bars => {
                let pb = ProgressBar::new_spinner();
                pb.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
                pb.set_message(label.to_string());
                pb.enable_steady_tick(Duration::from_millis(120));
                Some(pb)
            }
            Mode::Plain => {
                eprintln!("{label} ...");
                None
            }
            Mode::Quiet | Mode::Json => None,
        };
        Task { bar, label: label.to_string(), start: Instant::now(), mode: self.mode }
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

pub struct Task {
    bar: Option<ProgressBar>,
    label: String,
    start: Instant,
    mode: Mode,
}

impl Task {
    pub fn finish(self, outcome: &str) {
        let line = format!("{}: {outcome} ({:.1}s)", self.label, self.start.elapsed().as_secs_f64());
        match (&self.bar, self.mode) {
            (Some(pb), _) => pb.finish_with_message(line),
            (None, Mode::Plain) => eprintln!("{line}"),
            _ => {}
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(pb) = &self.bar {
            if !pb.is_finished() {
                pb.abandon();
            }
        }
    }
}

impl Reporter for Printer {
    fn step_start(&self, target: &str, step: &str) {
        if self.verbose > 0 {
            self.info(&format!("{target}: {step} ..."));
        }
    }

    fn step_done(&self, target: &str, step: &str, outcome: &Outcome, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        match outcome {
            Outcome::Satisfied => self.detail(&format!("{target}: {step}: ok ({secs:.1}s)")),
            Outcome::Applied => self.info(&format!("{target}: {step}: done ({secs:.1}s)")),
            Outcome::Failed(e) => self.info(&format!("{target}: {step}: FAILED ({secs:.1}s): {e}")),
        }
    }

    fn bytes(&self, what: &str, done: u64, total: Option<u64>) {
        let Ok(mut map) = self.transfers.lock() else { return };
        match self.mode {
            Mode::Bars => {
                let entry = map.entry(what.to_string()).or_insert_with(|| {
                    let pb = self.bars.add(total.map_or_else(ProgressBar::new_spinner, ProgressBar::new));
                    let style = ProgressStyle::with_template("{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                        .map(|s| s.progress_chars("=> "))
                        .unwrap_or_else(|_| ProgressStyle::default_bar());
                    pb.set_style(style);
                    pb.set_message(what.to_string());
                    Transfer::Bar(pb)
                });
                if let Transfer::Bar(pb) = entry {
                    pb.set_position(done);
                    if total.is_some_and(|t| done >= t) {
                        pb.finish();
                    }
                }
            }
            Mode::Plain => {
                let Some(t) = total.filter(|t| *t > 0) else { return };
                let quarter = done.saturating_mul(4) / t;
                let entry = map.entry(what.to_string()).or_insert(Transfer::Quarter(0));
                if let Transfer::Quarter(last) = entry {
                    if quarter > *last {
                        *last = quarter;
                        eprintln!("{what}: {}% of {:.1} MB", quarter * 25, t as f64 / 1e6);
                    }
                }
            }
            Mode::Quiet | Mode::Json => {}
        }
    }
}
