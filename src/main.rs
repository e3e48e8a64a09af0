//! `lab`: one YAML file in, a working multi-node Apache Spark cluster out.

mod cli;
mod commands;
mod doctor;
mod download;
mod error;
mod files;
mod fsx;
mod hash;
mod host;
mod http;
mod identity;
mod kickstart;
mod plan;
mod proc;
mod provider;
mod remote;
mod runner;
mod script;
mod seed;
mod spark;
mod sparkconnect;
mod spec;
mod state;
mod steps;
mod ui;
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
    let g = &cli.global;
    let printer = ui::Printer::new(g.quiet, g.verbose, g.json, g.no_progress, g.color);
    let code = match commands::run(cli, &printer) {
        Ok(code) => code,
        Err(e) => {
            printer.error(&e);
            e.exit_code()
        }
    };
    printer.finish();
    report_peak_memory();
    std::process::exit(code);
}

/// With `LAB_REPORT_PEAK_MEMORY` set, prints the process's peak resident memory (for the
/// memory benchmark and tests).
fn report_peak_memory() {
    if std::env::var_os("LAB_REPORT_PEAK_MEMORY").is_some() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if let Some(hwm) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
            eprintln!("lab: peak memory {}", hwm.trim());
        }
    }
}
