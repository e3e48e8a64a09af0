//! Facts about this computer that the lab file's checks and the providers need: its processor
//! (asked of the OS, also under Rosetta) and VirtualBox's `networks.conf`. The spec stays pure:
//! these are read here and handed to it.

use crate::spec::{Arch, HostFacts};

/// The facts validation needs, read now.
pub fn facts() -> HostFacts {
    HostFacts { networks_conf: std::fs::read_to_string("/etc/vbox/networks.conf").ok(), arch: arch(), linux: cfg!(target_os = "linux") }
}

/// This computer's processor. On a Mac it is the hardware's, also when lab runs translated by
/// Rosetta (an x86_64 build on Apple Silicon), where VirtualBox runs only arm64 guests.
pub fn arch() -> Arch {
    #[cfg(target_os = "macos")]
    if apple_silicon(&crate::proc::System) {
        return Arch::Aarch64;
    }
    Arch::current()
}

/// Whether macOS says this Mac has an Apple Silicon processor (`hw.optional.arm64` is 1 there,
/// whatever the calling program was built for; Intel Macs lack the key).
#[cfg_attr(not(target_os = "macos"), allow(dead_code))] // unit-tested everywhere
fn apple_silicon(runner: &dyn crate::proc::Runner) -> bool {
    let cmd = crate::proc::Cmd::new("/usr/sbin/sysctl").args(["-n", "hw.optional.arm64"]).timeout(std::time::Duration::from_secs(10));
    runner.run(&cmd).is_ok_and(|o| o.success() && o.stdout.trim() == "1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::{Cmd, Output, Runner};

    /// A Mac that answers `sysctl -n hw.optional.arm64` as given (`None`: the key is missing).
    struct Sysctl(Option<&'static str>);

    impl Runner for Sysctl {
        fn run_raw(&self, cmd: &Cmd) -> crate::error::Result<crate::proc::RawOutput> {
            assert_eq!(cmd.arg_strings(), ["-n", "hw.optional.arm64"]);
            Ok(match self.0 {
                Some(v) => Output { code: Some(0), stdout: format!("{v}\n"), stderr: String::new() },
                None => Output { code: Some(1), stdout: String::new(), stderr: "sysctl: unknown oid 'hw.optional.arm64'".into() },
            }
            .into())
        }
    }

    #[test]
    fn apple_silicon_is_found_even_from_a_translated_build() {
        assert!(apple_silicon(&Sysctl(Some("1"))));
        assert!(!apple_silicon(&Sysctl(Some("0"))));
        assert!(!apple_silicon(&Sysctl(None)), "Intel Macs lack the key");
    }
}
