//! `lab doctor`: every reason a first `lab up` fails before a VM exists, found from the host's
//! own signals, each with its fix in the student's terms. [`signals`] is the only code that asks
//! the OS anything (files, `VBoxManage --version`, `sysctl`, PowerShell); [`checks`] turns what
//! it gathered into findings, purely, so each is unit-tested against captured real outputs.

pub mod checks;
pub mod qemu;
pub mod signals;
#[cfg(test)]
mod tests;

use serde::Serialize;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Ok,
    /// `lab up` goes on, but the user should know.
    Warning,
    /// `lab up` would fail: it stops before it creates or downloads anything.
    Problem,
    /// The host did not say (a missing tool, Wine): not held against the lab.
    Unknown,
}

/// One check's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub level: Level,
    /// What was found, in a line.
    pub found: String,
    /// What to do (problems and warnings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    pub fn ok(check: &'static str, found: impl Into<String>) -> Self {
        Self { check, level: Level::Ok, found: found.into(), fix: None }
    }
    pub fn warning(check: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { check, level: Level::Warning, found: found.into(), fix: Some(fix.into()) }
    }
    pub fn problem(check: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { check, level: Level::Problem, found: found.into(), fix: Some(fix.into()) }
    }
    pub fn unknown(check: &'static str, found: impl Into<String>) -> Self {
        Self { check, level: Level::Unknown, found: found.into(), fix: None }
    }
}

/// Doctor's memory check of `lab` against this computer now (`lab validate` shows it).
pub fn memory_of(lab: &crate::spec::Lab) -> Finding {
    checks::memory(&signals::Signals::for_validate(lab), Some(lab))
}

/// Whether anything found stops the lab.
pub fn blocks(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.level == Level::Problem)
}

/// The findings as text: one line each, then the fix indented under it.
pub fn render(findings: &[Finding]) -> String {
    let width = findings.iter().map(|f| f.check.len()).max().unwrap_or(8);
    let mut out = String::new();
    for f in findings {
        let word = match f.level {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Problem => "PROBLEM",
            Level::Unknown => "unknown",
        };
        out.push_str(&format!("{word:<8} {:<width$}  {}\n", f.check, f.found));
        if let Some(fix) = &f.fix {
            out.push_str(&format!("{:<8} {:<width$}  -> {fix}\n", "", ""));
        }
    }
    out
}
