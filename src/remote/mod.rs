//! SSH to the nodes, on russh: the only module that knows SSH.
//!
//! Every connection authenticates with the lab key and checks the server's host key against the
//! one lab generated (or recorded) for that node; a different key is refused, never learned.

pub mod interactive;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::client::{self, Handle};
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg};
use russh::{ChannelMsg, Disconnect};

use crate::error::{Error, Result};

impl Target {
    /// The node as lab built it (sandbox or VirtualBox): its lab address, port 22, the lab user
    /// and key, and the host key lab generated for it.
    pub fn for_node(lab: &crate::spec::Lab, keys: &crate::state::Keys, node: &crate::spec::Node) -> Result<Self> {
        let host = keys.hosts.get(&node.name).ok_or_else(|| Error::Other(format!("no host key is known for node {}", node.name)))?;
        let port = if lab.provider == crate::spec::Provider::Existing { lab.existing.port } else { 22 };
        Ok(Self {
            node: node.name.clone(),
            addr: SocketAddr::from((node.ip, port)),
            user: lab.user.clone(),
            key: keys.client.private_path.clone(),
            host_key: host.public_line.clone(),
        })
    }
}

/// Where and how to reach one node.
#[derive(Debug, Clone)]
pub struct Target {
    pub node: String,
    pub addr: SocketAddr,
    pub user: String,
    pub key: PathBuf,
    /// The host key the node must present: `ssh-ed25519 AAAA...` (a comment is ignored).
    pub host_key: String,
}

/// Just the algorithm and base64 of an OpenSSH public key line.
fn key_core(line: &str) -> String {
    line.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// The SHA-256 fingerprint of an OpenSSH public key line, as `ssh-keygen -l` prints it.
pub fn fingerprint(line: &str) -> String {
    use sha2::{Digest, Sha256};
    let b64 = line.split_whitespace().nth(1).unwrap_or("");
    match decode_b64(b64) {
        Some(bytes) => {
            let digest = Sha256::digest(bytes);
            format!("SHA256:{}", encode_b64_nopad(&digest))
        }
        None => "(unreadable key)".into(),
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = u32::try_from(B64.iter().position(|x| *x == c)?).ok()?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

fn encode_b64_nopad(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

struct Client {
    expected: String,
    /// Only for [`presented_host_key`]: learn the key, then hang up.
    accept_any: bool,
    presented: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &russh::keys::PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let line = match key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => key.to_openssh().unwrap_or_default(),
            russh::keys::PublicKeyOrCertificate::Certificate(_) => String::from("certificate"),
        };
        let ok = self.accept_any || key_core(&line) == key_core(&self.expected);
        if let Ok(mut p) = self.presented.lock() {
            *p = Some(line);
        }
        Ok(ok)
    }
}

/// Why a connection attempt failed, and whether trying again can help.
#[derive(Debug)]
enum Attempt {
    /// Refused, timed out, reset: the node may still be booting.
    Transient(String),
    /// The node presented another host key.
    HostKey { presented: String },
    /// Anything else (authentication refused, protocol error): final.
    Final(String),
}

/// One SSH connection to a node, reused for every command of a run.
pub struct Session {
    pub target: Target,
    handle: Handle<Client>,
}

/// What a command did.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub status: u32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.status == 0
    }
}

fn node_error(node: &str, problem: impl Into<String>, hint: Option<String>) -> Error {
    Error::Node { node: node.to_string(), problem: problem.into(), hint }
}

/// Quotes `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:@+,".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn config() -> Arc<client::Config> {
    // AES-GCM first: hardware-accelerated on x86-64 and arm64, several times faster than
    // ChaCha20 for the large uploads (JDK, Spark) lab makes.
    let preferred = russh::Preferred {
        cipher: std::borrow::Cow::Borrowed(&[russh::cipher::AES_256_GCM, russh::cipher::CHACHA20_POLY1305, russh::cipher::AES_256_CTR]),
        ..russh::Preferred::default()
    };
    Arc::new(client::Config {
        preferred,
        inactivity_timeout: Some(Duration::from_secs(3600)),
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_max: 4,
        nodelay: true,
        ..client::Config::default()
    })
}

impl Session {
    async fn attempt(target: &Target, key: Arc<PrivateKey>, timeout: Duration) -> std::result::Result<Self, Attempt> {
        let presented = Arc::new(Mutex::new(None));
        let handler = Client { expected: target.host_key.clone(), accept_any: false, presented: presented.clone() };
        let connect = client::connect(config(), target.addr, handler);
        let mut handle = match tokio::time::timeout(timeout, connect).await {
            Err(_) => return Err(Attempt::Transient(format!("no answer from {} within {timeout:?}", target.addr))),
            Ok(Err(e)) => {
                let seen = presented.lock().ok().and_then(|p| p.clone());
                if let Some(line) = seen {
                    if key_core(&line) != key_core(&target.host_key) {
                        return Err(Attempt::HostKey { presented: line });
                    }
                }
                return Err(match e {
                    russh::Error::IO(io) => Attempt::Transient(io.to_string()),
                    russh::Error::Disconnect | russh::Error::ConnectionTimeout => Attempt::Transient(e.to_string()),
                    other => Attempt::Final(other.to_string()),
                });
            }
            Ok(Ok(h)) => h,
        };
        let auth = tokio::time::timeout(timeout, handle.authenticate_publickey(&target.user, PrivateKeyWithHashAlg::new(key, None))).await;
        match auth {
            Err(_) => Err(Attempt::Transient("authentication timed out".into())),
            Ok(Err(e)) => Err(Attempt::Transient(e.to_string())),
            Ok(Ok(r)) if r.success() => Ok(Self { target: target.clone(), handle }),
            Ok(Ok(_)) => Err(Attempt::Final(format!("the node refused the lab key for user {}", target.user))),
        }
    }

    fn load_key(target: &Target) -> Result<Arc<PrivateKey>> {
        russh::keys::load_secret_key(&target.key, None)
            .map(Arc::new)
            .map_err(|e| Error::Other(format!("reading the SSH key {}: {e}", target.key.display())))
    }

    fn host_key_error(target: &Target, presented: &str) -> Error {
        node_error(
            &target.node,
            format!(
                "host key mismatch at {}: the node presented {} ({}), but lab pinned {} for it",
                target.addr,
                fingerprint(presented),
                presented.split_whitespace().next().unwrap_or("?"),
                fingerprint(&target.host_key),
            ),
            Some("the machine at that address is not the node lab built (it was rebuilt outside lab, or another host took its address); lab refuses to log in. If you rebuilt it, run `lab destroy` and `lab up`".into()),
        )
    }

    /// Connects once.
    pub async fn connect(target: &Target, timeout: Duration) -> Result<Self> {
        let key = Self::load_key(target)?;
        Self::attempt(target, key, timeout).await.map_err(|a| match a {
            Attempt::HostKey { presented } => Self::host_key_error(target, &presented),
            Attempt::Transient(e) | Attempt::Final(e) => node_error(&target.node, format!("cannot log in at {} as {}: {e}", target.addr, target.user), None),
        })
    }

    /// Connects, retrying with backoff what is worth retrying (refused, timed out, a host key
    /// not installed yet) until `deadline`.
    pub async fn wait(target: &Target, deadline: Instant) -> Result<Self> {
        let key = Self::load_key(target)?;
        let mut pause = Duration::from_millis(100);
        loop {
            let last;
            let left = deadline.saturating_duration_since(Instant::now());
            match Self::attempt(target, key.clone(), left.clamp(Duration::from_secs(1), Duration::from_secs(10))).await {
                Ok(s) => return Ok(s),
                Err(Attempt::Final(e)) => return Err(node_error(&target.node, format!("cannot log in at {} as {}: {e}", target.addr, target.user), None)),
                Err(Attempt::HostKey { presented }) => {
                    // A node that is still installing may answer with a temporary key; one that
                    // keeps presenting a wrong key by the deadline is refused.
                    if Instant::now() + pause >= deadline {
                        return Err(Self::host_key_error(target, &presented));
                    }
                    last = format!("host key {}", fingerprint(&presented));
                }
                Err(Attempt::Transient(e)) => last = e,
            }
            if Instant::now() + pause >= deadline {
                return Err(node_error(
                    &target.node,
                    format!("no SSH at {} by the deadline (last: {last})", target.addr),
                    Some("is the node running? `lab status` shows what exists".into()),
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Runs `command` (a shell command line) as the login user. `stdin` is sent and closed;
    /// `on_output` sees output as it arrives (`true` for stderr). Output is also collected, up to
    /// 1 MiB per stream.
    pub async fn exec_with(
        &self,
        command: &str,
        stdin: Option<&mut (dyn tokio::io::AsyncRead + Unpin + Send)>,
        timeout: Option<Duration>,
        on_output: &mut (dyn FnMut(bool, &[u8]) + Send),
    ) -> Result<Output> {
        let node = &self.target.node;
        let channel = self.handle.channel_open_session().await.map_err(|e| node_error(node, format!("opening an SSH channel: {e}"), None))?;
        channel.exec(true, command).await.map_err(|e| node_error(node, format!("starting `{command}`: {e}"), None))?;
        let (mut rx, tx) = channel.split();
        let send = async {
            if let Some(input) = stdin {
                tx.data(input).await.map_err(|e| node_error(node, format!("sending input to `{command}`: {e}"), None))?;
            }
            tx.eof().await.map_err(|e| node_error(node, format!("closing input of `{command}`: {e}"), None))
        };
        let receive = async {
            let mut out = Output::default();
            let (mut so, mut se) = (Vec::new(), Vec::new());
            let mut status = None;
            while let Some(msg) = rx.wait().await {
                match msg {
                    ChannelMsg::Data { data } => {
                        on_output(false, &data);
                        if so.len() < (1 << 20) {
                            so.extend_from_slice(&data);
                        }
                    }
                    ChannelMsg::ExtendedData { data, .. } => {
                        on_output(true, &data);
                        if se.len() < (1 << 20) {
                            se.extend_from_slice(&data);
                        }
                    }
                    ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                    ChannelMsg::ExitSignal { .. } => status = Some(255),
                    _ => {}
                }
            }
            out.status = status.unwrap_or(255);
            out.stdout = String::from_utf8_lossy(&so).into_owned();
            out.stderr = String::from_utf8_lossy(&se).into_owned();
            Ok::<_, Error>(out)
        };
        let both = async {
            let (sent, got) = tokio::join!(send, receive);
            sent?;
            got
        };
        match timeout {
            Some(t) => tokio::time::timeout(t, both).await.map_err(|_| node_error(node, format!("`{command}` did not finish within {} s", t.as_secs()), None))?,
            None => both.await,
        }
    }

    /// Runs `command` and collects its output.
    pub async fn exec(&self, command: &str) -> Result<Output> {
        self.exec_with(command, None, None, &mut |_, _| {}).await
    }

    /// Runs `command` as root through sudo.
    pub async fn sudo(&self, command: &str) -> Result<Output> {
        self.exec(&format!("sudo -n sh -c {}", shell_quote(command))).await
    }

    /// Runs `command` and fails unless it exits 0; the error carries its stderr.
    pub async fn check(&self, command: &str) -> Result<Output> {
        let out = self.exec(command).await?;
        if out.ok() {
            Ok(out)
        } else {
            Err(node_error(
                &self.target.node,
                format!("`{command}` exited {}: {}", out.status, out.stderr.trim()),
                None,
            ))
        }
    }

    pub async fn sudo_check(&self, command: &str) -> Result<Output> {
        self.check(&format!("sudo -n sh -c {}", shell_quote(command))).await
    }

    /// Copies `local` to `remote` with `mode`, streaming through `cat` (constant memory): into a
    /// temporary name next to the target, then renamed. With `sudo`, written as root.
    pub async fn upload(&self, local: &Path, remote: &str, mode: u32, sudo: bool, progress: &mut (dyn FnMut(u64) + Send)) -> Result<()> {
        let tmp = format!("{remote}.lab-part");
        let script = format!(
            "set -e; umask 077; cat > {t}; chmod {mode:o} {t}; mv -f {t} {r}",
            t = shell_quote(&tmp),
            r = shell_quote(remote),
        );
        let command = if sudo { format!("sudo -n sh -c {}", shell_quote(&script)) } else { format!("sh -c {}", shell_quote(&script)) };
        let file = tokio::fs::File::open(local).await.map_err(|e| Error::io(format!("opening {}", local.display()), e))?;
        let mut counted = Counting { inner: file, done: 0, report: progress };
        let out = self.exec_with(&command, Some(&mut counted), None, &mut |_, _| {}).await?;
        if !out.ok() {
            return Err(node_error(&self.target.node, format!("writing {remote} failed: {}", out.stderr.trim()), None));
        }
        Ok(())
    }

    pub async fn close(self) {
        let _ = self.handle.disconnect(Disconnect::ByApplication, "", "en").await;
    }

}

/// The host key a machine presents, without logging in: for recording keys the user confirmed
/// with `--accept-host-keys`.
pub async fn presented_host_key(target: &Target, timeout: Duration) -> Result<String> {
    let presented = Arc::new(Mutex::new(None));
    let handler = Client { expected: String::new(), accept_any: true, presented: presented.clone() };
    let connect = client::connect(config(), target.addr, handler);
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(h)) => {
            let _ = h.disconnect(Disconnect::ByApplication, "", "en").await;
        }
        Ok(Err(e)) => return Err(node_error(&target.node, format!("no SSH at {}: {e}", target.addr), None)),
        Err(_) => return Err(node_error(&target.node, format!("no answer from {} within {timeout:?}", target.addr), None)),
    }
    let key = presented.lock().ok().and_then(|p| p.clone()).ok_or_else(|| node_error(&target.node, "the server sent no host key", None))?;
    Ok(key_core(&key))
}

/// True when an SSH server answers on `ip:22` with its banner (no login: a cheap probe for
/// "has the node booted", before a real session with the pinned key).
pub fn ssh_answers(ip: std::net::Ipv4Addr, timeout: Duration) -> bool {
    let addr = SocketAddr::from((ip, 22));
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, timeout) else { return false };
    let _ = s.set_read_timeout(Some(timeout));
    let mut buf = [0u8; 4];
    std::io::Read::read_exact(&mut s, &mut buf).is_ok() && &buf == b"SSH-"
}

/// Waits until `ip:22` answers, up to `deadline`.
pub fn wait_ssh(ip: std::net::Ipv4Addr, deadline: Instant) -> bool {
    let mut pause = Duration::from_millis(20);
    loop {
        if ssh_answers(ip, Duration::from_millis(500)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(300));
    }
}

/// An `AsyncRead` that reports how many bytes went through.
struct Counting<'a, R> {
    inner: R,
    done: u64,
    report: &'a mut (dyn FnMut(u64) + Send),
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counting<'_, R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        if n > 0 {
            self.done += n;
            let done = self.done;
            (self.report)(done);
        }
        poll
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("abc-1.2/x"), "abc-1.2/x");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn fingerprints_match_openssh() {
        let line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOCch6LldDJRBN335LAX0NYYW1gySJU1QV8goN7W9hRL node1@lab-spark";
        // What `ssh-keygen -lf` prints for this key.
        assert_eq!(fingerprint(line), "SHA256:w6g/dju2tYbotLP0hijsiOtEb1QqRVi4/3cUBucM0JI");
        let raw = decode_b64("AAAAC3NzaC1lZDI1NTE5AAAAIOCch6LldDJRBN335LAX0NYYW1gySJU1QV8goN7W9hRL").expect("b64");
        assert_eq!(raw.len(), 51);
        assert_eq!(&raw[4..15], b"ssh-ed25519");
    }
}
