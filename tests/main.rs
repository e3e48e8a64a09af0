//! Integration tests: the real `lab` binary, run in temporary folders.

mod support;

mod broken_labs;
mod cli;
mod display;
mod doctor;
mod downloads;
mod existing;
mod kickstart;
mod qemu;
mod sandbox;
mod spark;
mod ssh;
mod state;
mod vbox;
mod vbox_base;
mod vbox_hosts;
mod windows;
