//! Local ports forwarded over a node's SSH session (`ssh -L`): `lab ui --forward` for the web
//! UIs and Spark Connect, `lab verify` for Spark Connect, which listens on the master's
//! loopback only and so is reached through lab's SSH or not at all.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use super::Session;
use crate::error::{Error, Result};

/// Listens on this computer's loopback at `port` (0, or a taken port: one the system picks)
/// and forwards every connection to `host:port` as the node of `s` reaches it, for as long as
/// the runtime runs. The same port is taken on `::1` too where it can be, since clients may
/// resolve `localhost` to either.
pub async fn listen(s: Arc<Session>, port: u16, host: &str, to_port: u16) -> Result<SocketAddr> {
    let listener = match tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
        Ok(l) => l,
        Err(_) if port != 0 => tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.map_err(|e| Error::io("listening on 127.0.0.1", e))?,
        Err(e) => return Err(Error::io("listening on 127.0.0.1", e)),
    };
    let local = listener.local_addr().map_err(|e| Error::io("listening on 127.0.0.1", e))?;
    let v6 = tokio::net::TcpListener::bind((Ipv6Addr::LOCALHOST, local.port())).await.ok();
    for l in std::iter::once(listener).chain(v6) {
        let (s, host) = (s.clone(), host.to_string());
        tokio::spawn(async move {
            while let Ok((mut conn, from)) = l.accept().await {
                let (s, host) = (s.clone(), host.clone());
                tokio::spawn(async move {
                    if let Ok(ch) = s.forward(&host, to_port, &from.ip().to_string(), from.port()).await {
                        let mut stream = ch.into_stream();
                        let _ = tokio::io::copy_bidirectional(&mut conn, &mut stream).await;
                    }
                });
            }
        });
    }
    Ok(local)
}
