//! How a qemu lab's nodes join the lab network (NIC2), and how this computer reaches them.
//!
//! - `bridge` (Linux, lab running as root): a tap per node on the lab's bridge, which holds
//!   `network.host`, like VirtualBox's host-only network: this computer reaches every node at its
//!   static address, as with the other providers.
//! - `switch` (no root: Linux as an ordinary user, macOS): the nodes' NIC2 on lab's own switch
//!   (`switch.rs`); this computer is not on the lab network and reaches each node's SSH through a
//!   forward QEMU's user network makes from a port on 127.0.0.1 (`hostfwd`), recorded per node and
//!   used by every command. The web UIs and Spark Connect are reached through lab's SSH
//!   (`lab ui --forward`), never forwarded by QEMU: a port on 127.0.0.1 is open to every account
//!   of this computer, and Spark's UIs ask for no key.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The environment variable that chooses by hand.
pub const ENV: &str = "LAB_QEMU_NETWORK";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Net {
    Bridge,
    Switch,
}

impl Net {
    pub fn word(self) -> &'static str {
        match self {
            Self::Bridge => "bridge",
            Self::Switch => "switch",
        }
    }

    /// What it means for the user, in a line.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Bridge => "a bridge and taps (root): this computer reaches the nodes at their static addresses",
            Self::Switch => "lab's switch (no root): SSH through forwards on 127.0.0.1, the web UIs and Spark Connect through `lab ui --forward`",
        }
    }
}

/// The network for this run: `LAB_QEMU_NETWORK` when set, else a bridge where lab runs as root
/// on Linux and lab's switch everywhere else.
pub fn decide(env: Option<&str>, linux_root: bool) -> Result<Net> {
    match env.map(|v| v.trim().to_ascii_lowercase()) {
        Some(v) if v == "bridge" && linux_root => Ok(Net::Bridge),
        Some(v) if v == "bridge" => Err(Error::Preflight {
            problem: format!("{ENV}=bridge: a bridge and taps need Linux and root"),
            fix: format!("run lab as root (sudo), or use {ENV}=switch (no root)"),
        }),
        Some(v) if v == "switch" => Ok(Net::Switch),
        Some(v) if !v.is_empty() => {
            Err(Error::Preflight { problem: format!("{ENV}={v} is not a network lab knows"), fix: format!("use {ENV}=bridge or {ENV}=switch") })
        }
        _ => Ok(if linux_root { Net::Bridge } else { Net::Switch }),
    }
}

/// This computer's facts: whether lab runs as root on Linux.
pub fn linux_root() -> bool {
    #[cfg(target_os = "linux")]
    return nix::unistd::geteuid().is_root();
    #[cfg(not(target_os = "linux"))]
    return false;
}

/// A port on 127.0.0.1 free now (the system picks it).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).map_err(|e| Error::io("finding a free port on 127.0.0.1", e))?;
    l.local_addr().map(|a| a.port()).map_err(|e| Error::io("finding a free port on 127.0.0.1", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_on_linux_gets_a_bridge_everyone_else_the_switch_and_the_variable_chooses() {
        assert_eq!(decide(None, true).ok(), Some(Net::Bridge));
        assert_eq!(decide(None, false).ok(), Some(Net::Switch));
        assert_eq!(decide(Some("switch"), true).ok(), Some(Net::Switch));
        assert_eq!(decide(Some(" Bridge "), true).ok(), Some(Net::Bridge));
        assert_eq!(decide(Some(""), false).ok(), Some(Net::Switch));
        let e = decide(Some("bridge"), false).expect_err("a bridge without root");
        assert!(e.to_string().contains("root") && e.hint().is_some_and(|h| h.contains("LAB_QEMU_NETWORK=switch")), "{e}: {:?}", e.hint());
        let e = decide(Some("vde"), true).expect_err("unknown");
        assert!(e.hint().is_some_and(|h| h.contains("bridge") && h.contains("switch")), "{:?}", e.hint());
    }
}
