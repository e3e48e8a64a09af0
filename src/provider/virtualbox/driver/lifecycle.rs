//! A VM's life: started headless, resumed, asked to shut down, powered off, booted from its
//! disk, its serial port written to a file, keys typed, deleted with its disks.

use std::path::Path;

use super::{Driver, s};
use crate::error::Result;

impl Driver {
    pub fn start(&self, vm: &str) -> Result<()> {
        self.run_retry(&s(&["startvm", vm, "--type", "headless"])).map(drop)
    }

    pub fn resume(&self, vm: &str) -> Result<()> {
        self.run_retry(&s(&["controlvm", vm, "resume"])).map(drop)
    }

    /// Presses the ACPI power button (the guest shuts down by itself).
    pub fn acpi_power_button(&self, vm: &str) -> Result<()> {
        self.run(&s(&["controlvm", vm, "acpipowerbutton"])).map(drop)
    }

    /// Pulls the plug.
    pub fn power_off(&self, vm: &str) -> Result<()> {
        self.run_retry(&s(&["controlvm", vm, "poweroff"])).map(drop)
    }

    /// Boots from the disk only (after the install: the DVD drives are empty by then).
    pub fn boot_from_disk(&self, vm: &str) -> Result<()> {
        self.run_retry(&s(&["modifyvm", vm, "--boot1", "disk", "--boot2", "none", "--boot3", "none", "--boot4", "none"])).map(drop)
    }

    /// The VM's first serial port (COM1; the UART at 0x3F8, IRQ 4) written to `path` on the host:
    /// the installer's kickstart scripts report there. VirtualBox opens the file anew at each
    /// power-on.
    pub fn serial_to_file(&self, vm: &str, path: &Path) -> Result<()> {
        let mut v = s(&["modifyvm", vm, "--uart1", "0x3F8", "4", "--uartmode1", "file"]);
        v.push(path.display().to_string());
        self.run_retry(&v).map(drop)
    }

    /// Types PC scancodes (hex bytes) on the VM's keyboard.
    pub fn type_scancodes(&self, vm: &str, codes: &[&str]) -> Result<()> {
        let mut v = s(&["controlvm", vm, "keyboardputscancode"]);
        v.extend(codes.iter().map(|c| (*c).to_string()));
        self.run(&v).map(drop)
    }

    /// Unregisters the VM and deletes its files and disks.
    pub fn delete_vm(&self, vm: &str) -> Result<()> {
        self.run_retry(&s(&["unregistervm", vm, "--delete"])).map(drop)
    }
}
