//! Integration tests: the real `lab` binary, run in temporary folders.

mod support;

mod broken_labs;
mod cli;
mod kickstart;
mod sandbox;
mod state;
