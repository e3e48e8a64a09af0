//! The live display on a terminal: a row per target at work (step, spinner, time spent, what it
//! waits for), a bar under it per transfer in flight. Result lines go above the rows, into the
//! scrollback, once each; rows and bars are cleared when their work ends, so nothing unfinished
//! or repeated is ever left on the screen.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Paint;

struct Row {
    spinner: ProgressBar,
    step: String,
    bars: Vec<(String, ProgressBar)>,
}

pub struct Live {
    multi: MultiProgress,
    paint: Paint,
    rows: Mutex<Vec<(String, Row)>>,
    width: Mutex<usize>,
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {wide_msg} {elapsed:>4}").unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("    {msg:20!} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl Live {
    pub fn new(paint: Paint, _verbose: u8) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8));
        Self { multi, paint, rows: Mutex::new(Vec::new()), width: Mutex::new(6) }
    }

    fn label(&self, target: &str, step: &str, phase: Option<&str>) -> String {
        let w = self.width.lock().map(|mut w| {
            *w = (*w).max(target.len());
            *w
        });
        let w = w.unwrap_or(6);
        match phase {
            Some(p) => format!("{target:<w$}  {step}: {}", self.paint.paint(super::Color::Dim, p)),
            None => format!("{target:<w$}  {step}"),
        }
    }

    pub fn start(&self, target: &str, step: &str) {
        let Ok(mut rows) = self.rows.lock() else { return };
        let label = self.label(target, step, None);
        if let Some((_, r)) = rows.iter_mut().find(|(t, _)| t == target) {
            r.step = step.to_string();
            r.spinner.set_message(label);
            r.spinner.reset_elapsed();
            return;
        }
        let pb = self.multi.add(ProgressBar::new_spinner());
        pb.set_style(spinner_style());
        pb.set_message(label);
        pb.enable_steady_tick(Duration::from_millis(120));
        rows.push((target.to_string(), Row { spinner: pb, step: step.to_string(), bars: Vec::new() }));
    }

    pub fn phase(&self, target: &str, what: &str) {
        let Ok(rows) = self.rows.lock() else { return };
        if let Some((_, r)) = rows.iter().find(|(t, _)| t == target) {
            r.spinner.set_message(self.label(target, &r.step, Some(what)));
        }
    }

    /// The step of `target` ended: its result line (if any) goes to the scrollback, its row and
    /// bars go away.
    pub fn done(&self, target: &str, line: Option<&str>) {
        if let Ok(mut rows) = self.rows.lock()
            && let Some(i) = rows.iter().position(|(t, _)| t == target)
        {
            let (_, r) = rows.remove(i);
            for (_, b) in r.bars {
                b.finish_and_clear();
                self.multi.remove(&b);
            }
            r.spinner.finish_and_clear();
            self.multi.remove(&r.spinner);
        }
        if let Some(l) = line {
            let _ = self.multi.println(l);
        }
    }

    pub fn progress(&self, target: &str, what: &str, done: u64, total: Option<u64>) {
        let Ok(mut rows) = self.rows.lock() else { return };
        if !rows.iter().any(|(t, _)| t == target) {
            drop(rows);
            self.start(target, "transfer");
            let Ok(r) = self.rows.lock() else { return };
            rows = r;
        }
        let Some((_, row)) = rows.iter_mut().find(|(t, _)| t == target) else { return };
        let finished = total.is_some_and(|t| done >= t);
        if let Some(i) = row.bars.iter().position(|(w, _)| w == what) {
            let b = &row.bars[i].1;
            b.set_position(done);
            if finished {
                let (_, b) = row.bars.remove(i);
                b.finish_and_clear();
                self.multi.remove(&b);
            }
            return;
        }
        if finished {
            return;
        }
        let after = row.bars.last().map_or(&row.spinner, |(_, b)| b).clone();
        let b = self.multi.insert_after(&after, total.map_or_else(ProgressBar::new_spinner, ProgressBar::new));
        b.set_style(bar_style());
        b.set_message(what.to_string());
        b.set_position(done);
        row.bars.push((what.to_string(), b));
    }

    /// A line above the rows.
    pub fn line(&self, text: &str) {
        let _ = self.multi.println(text);
    }

    /// Runs `f` with the display hidden (for output to stdout, or a question).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.multi.suspend(f)
    }

    /// Removes every row and bar from the screen.
    pub fn clear(&self) {
        if let Ok(mut rows) = self.rows.lock() {
            for (_, r) in rows.drain(..) {
                for (_, b) in r.bars {
                    b.finish_and_clear();
                }
                r.spinner.finish_and_clear();
            }
        }
        let _ = self.multi.clear();
    }
}
