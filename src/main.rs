//! `lab`: one YAML file in, a working multi-node Apache Spark cluster out.

mod app;
mod cli;
mod download;
mod error;
mod existing;
mod files;
mod identity;
mod images;
mod kickstart;
mod plan;
mod proc;
mod provision;
mod remote;
mod sandbox;
mod spec;
mod state;
mod templates;
mod ui;
mod vbox;
mod verify;

use clap::Parser;

fn main() {
    // TLS for downloads uses ring, like SSH; install it before any client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap prints help and version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            std::process::exit(if e.use_stderr() { error::EXIT_USAGE } else { 0 });
        }
    };
    let printer = ui::Printer::new(cli.global.quiet, cli.global.verbose, cli.global.json, cli.global.no_progress);
    let result = app::run(cli, &printer);
    report_peak_memory();
    if let Err(e) = result {
        printer.error(&e);
        std::process::exit(e.exit_code());
    }
}

/// With `LAB_REPORT_PEAK_MEMORY` set, prints the process's peak resident memory (for the
/// memory benchmark and tests).
pub fn report_peak_memory() {
    if std::env::var_os("LAB_REPORT_PEAK_MEMORY").is_some() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if let Some(hwm) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
            eprintln!("lab: peak memory {}", hwm.trim());
        }
    }
}
