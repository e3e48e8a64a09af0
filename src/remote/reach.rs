//! Whether a node answers SSH at all, and the host key it presents (for the user to confirm).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::Disconnect;
use russh::client;

use super::{Client, Target, config, key_core};
use crate::error::{Error, Result};

/// The host keys a machine presents, without logging in: for recording keys the user confirmed
/// with `--accept-host-keys`.
pub async fn presented_host_key(target: &Target, timeout: Duration) -> Result<String> {
    let presented = Arc::new(Mutex::new(None));
    let handler = Client { expected: Vec::new(), accept_any: true, presented: presented.clone() };
    let connect = client::connect(config(&[]), target.addr, handler);
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(h)) => {
            let _ = h.disconnect(Disconnect::ByApplication, "", "en").await;
        }
        Ok(Err(e)) => return Err(Error::node(&target.node, format!("no SSH at {}: {e}", target.addr))),
        Err(_) => return Err(Error::node(&target.node, format!("no answer from {} within {timeout:?}", target.addr))),
    }
    let key = presented.lock().ok().and_then(|p| p.clone()).ok_or_else(|| Error::node(&target.node, "the server sent no host key"))?;
    Ok(key_core(&key))
}

/// True when an SSH server answers on `ip:port` with its banner (no login: a cheap probe for
/// "sshd is up", used while a sandbox node boots).
pub fn ssh_answers(addr: SocketAddr, timeout: Duration) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, timeout) else { return false };
    let _ = s.set_read_timeout(Some(timeout));
    let mut buf = [0u8; 4];
    std::io::Read::read_exact(&mut s, &mut buf).is_ok() && &buf == b"SSH-"
}

/// Waits until `addr` answers with an SSH banner, up to `deadline`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the sandbox provider (Linux only) uses it
pub fn wait_ssh(addr: SocketAddr, deadline: Instant) -> bool {
    let mut pause = Duration::from_millis(20);
    loop {
        if ssh_answers(addr, Duration::from_millis(500)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(300));
    }
}
