//! Files and folders between this computer and a node, streamed through SSH in constant memory:
//! a file as its bytes, a folder as a tar stream (built and unpacked on the fly), modes kept.
//! Like `cp -r`: into an existing folder the item keeps its name; otherwise it takes the
//! destination's name. What arrives is written beside its destination and renamed into place.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Session;
use crate::error::{Error, Result};
use crate::script::sh;

/// Copies as long as it takes (a user's copy).
const NO_LIMIT: Duration = Duration::from_secs(60 * 60 * 24 * 7);

fn base_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "copy".into())
}

#[cfg(unix)]
fn mode_of(m: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(m: &std::fs::Metadata) -> u32 {
    if m.permissions().readonly() { 0o444 } else { 0o644 }
}

/// Sends a tar stream of a folder, built on a thread, as an `AsyncRead`.
struct ChunkReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    buf: Vec<u8>,
    pos: usize,
}

impl tokio::io::AsyncRead for ChunkReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        out: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        loop {
            if self.pos < self.buf.len() {
                let n = (self.buf.len() - self.pos).min(out.remaining());
                let start = self.pos;
                out.put_slice(&self.buf[start..start + n]);
                self.pos += n;
                return std::task::Poll::Ready(Ok(()));
            }
            match self.rx.poll_recv(cx) {
                std::task::Poll::Ready(Some(Ok(chunk))) => {
                    self.buf = chunk;
                    self.pos = 0;
                }
                std::task::Poll::Ready(Some(Err(e))) => return std::task::Poll::Ready(Err(e)),
                std::task::Poll::Ready(None) => return std::task::Poll::Ready(Ok(())),
                std::task::Poll::Pending => return std::task::Poll::Pending,
            }
        }
    }
}

struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
    sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.tx.blocking_send(Ok(data.to_vec())).map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the copy ended"))?;
        self.sent.fetch_add(data.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map_or(0, |entries| entries.flatten().map(|e| e.metadata().map_or(0, |m| if m.is_dir() { dir_size(&e.path()) } else { m.len() })).sum())
}

/// Copies `local` (a file or a folder) to `dst` on the node; returns where it landed.
pub async fn upload(s: &Session, local: &Path, dst: &str, progress: &mut (dyn FnMut(u64, Option<u64>) + Send)) -> Result<String> {
    let meta = std::fs::metadata(local).map_err(|e| Error::io(format!("reading {}", local.display()), e))?;
    let name = base_name(local);
    let node = s.target.node.clone();
    let out = if meta.is_dir() {
        let total = dir_size(local);
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let writer = ChunkWriter { tx: tx.clone(), sent: sent.clone() };
        let root = local.to_path_buf();
        let top = name.clone();
        let builder = std::thread::spawn(move || {
            let mut b = tar::Builder::new(writer);
            b.follow_symlinks(false);
            let r = b.append_dir_all(&top, &root).and_then(|()| b.finish());
            if let Err(e) = r {
                let _ = tx.blocking_send(Err(e));
            }
        });
        let mut reader = ChunkReader { rx, buf: Vec::new(), pos: 0 };
        let script = sh(
            "set -e; dst={{dst}}; case \"$dst\" in */) mkdir -p \"$dst\" ;; esac; \
             if [ -d \"$dst\" ]; then cd \"$dst\"; tar xf - --no-same-owner; printf '%s\\n' \"${dst%/}/\"{{name}}; \
             else mkdir -p \"$dst\"; cd \"$dst\"; tar xf - --no-same-owner --strip-components=1; printf '%s\\n' \"$dst\"; fi",
            &[("dst", &dst), ("name", &name)],
        );
        let mut report = |_: bool, _: &[u8]| progress(sent.load(std::sync::atomic::Ordering::Relaxed), Some(total));
        let out = s.exec_with(&script, Some(&mut reader), NO_LIMIT, &mut report).await;
        let _ = builder.join();
        progress(sent.load(std::sync::atomic::Ordering::Relaxed), Some(total));
        out?
    } else {
        let total = meta.len();
        let file = tokio::fs::File::open(local).await.map_err(|e| Error::io(format!("opening {}", local.display()), e))?;
        let mut counted = Progress { inner: file, done: 0, total, report: progress };
        let script = sh(
            "set -e; dst={{dst}}; case \"$dst\" in */) mkdir -p \"$dst\" ;; esac; \
             if [ -d \"$dst\" ]; then t=\"${dst%/}/\"{{name}}; else t=\"$dst\"; mkdir -p \"$(dirname \"$t\")\"; fi; \
             tmp=$(mktemp \"$(dirname \"$t\")/.lab-copy.XXXXXX\"); cat > \"$tmp\"; chmod {{mode}} \"$tmp\"; mv -f \"$tmp\" \"$t\"; printf '%s\\n' \"$t\"",
            &[("dst", &dst), ("name", &name), ("mode", &format!("{:o}", mode_of(&meta)))],
        );
        s.exec_with(&script, Some(&mut counted), NO_LIMIT, &mut |_, _| {}).await?
    };
    if !out.ok() {
        return Err(Error::node(&node, format!("copying {} to {dst} failed: {}", local.display(), out.stderr.trim())));
    }
    Ok(out.stdout.lines().last().unwrap_or(dst).to_string())
}

/// Copies `src` (a file or a folder on the node) to `local`; returns where it landed.
pub async fn download(s: &Session, src: &str, local: &Path, progress: &mut (dyn FnMut(u64, Option<u64>) + Send)) -> Result<PathBuf> {
    let node = s.target.node.clone();
    let what = s.exec(&sh("if [ -d {{p}} ]; then echo dir; elif [ -e {{p}} ]; then stat -c 'file %a %s' {{p}}; else echo missing; fi", &[("p", &src)])).await?;
    let kind: Vec<&str> = what.stdout.split_whitespace().collect();
    let name = Path::new(src.trim_end_matches('/')).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "copy".into());
    let target = if local.is_dir() { local.join(&name) } else { local.to_path_buf() };
    let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    match kind.first().copied() {
        Some("file") => {
            let mode = u32::from_str_radix(kind.get(1).unwrap_or(&"644"), 8).unwrap_or(0o644);
            let total = kind.get(2).and_then(|t| t.parse().ok());
            let mut tmp = tempfile::Builder::new()
                .prefix(".lab-copy-")
                .tempfile_in(&parent)
                .map_err(|e| Error::io(format!("creating a file in {}", parent.display()), e))?;
            let mut done = 0u64;
            let mut failed = None;
            let out = s
                .exec_with(&sh("cat {{p}}", &[("p", &src)]), None, NO_LIMIT, &mut |is_err, data| {
                    if !is_err && failed.is_none() {
                        if let Err(e) = tmp.write_all(data) {
                            failed = Some(e);
                        }
                        done += data.len() as u64;
                        progress(done, total);
                    }
                })
                .await?;
            if let Some(e) = failed {
                return Err(Error::io(format!("writing {}", target.display()), e));
            }
            if !out.ok() {
                return Err(Error::node(&node, format!("reading {src} failed: {}", out.stderr.trim())));
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode));
            }
            #[cfg(not(unix))]
            let _ = mode;
            tmp.persist(&target).map_err(|e| Error::io(format!("replacing {}", target.display()), e.error))?;
        }
        Some("dir") => {
            let staging = tempfile::Builder::new()
                .prefix(".lab-copy-")
                .tempdir_in(&parent)
                .map_err(|e| Error::io(format!("creating a folder in {}", parent.display()), e))?;
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(16);
            let into = staging.path().to_path_buf();
            let unpacker = std::thread::spawn(move || {
                let mut a = tar::Archive::new(ChannelRead { rx, buf: Vec::new(), pos: 0 });
                a.set_preserve_permissions(true);
                a.unpack(&into)
            });
            let mut done = 0u64;
            let parent_dir = Path::new(src.trim_end_matches('/')).parent().map_or_else(|| "/".to_string(), |p| p.display().to_string());
            let script =
                sh("tar cf - -C {{parent}} {{name}}", &[("parent", &if parent_dir.is_empty() { ".".to_string() } else { parent_dir }), ("name", &name)]);
            let out = s
                .exec_with(&script, None, NO_LIMIT, &mut |is_err, data| {
                    if !is_err {
                        done += data.len() as u64;
                        progress(done, None);
                        let _ = tx.send(data.to_vec());
                    }
                })
                .await;
            drop(tx);
            let unpacked = unpacker.join().map_err(|_| Error::Internal("the unpacking thread panicked".into()))?;
            let out = out?;
            if !out.ok() {
                return Err(Error::node(&node, format!("reading {src} failed: {}", out.stderr.trim())));
            }
            unpacked.map_err(|e| Error::io(format!("unpacking into {}", target.display()), e))?;
            if target.exists() {
                return Err(Error::Exists { file: target });
            }
            std::fs::rename(staging.path().join(&name), &target).map_err(|e| Error::io(format!("moving into {}", target.display()), e))?;
        }
        _ => return Err(Error::node(&node, format!("{src} does not exist"))),
    }
    Ok(target)
}

/// Reads the chunks a channel delivers.
struct ChannelRead {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for ChannelRead {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.buf = chunk;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = (self.buf.len() - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Reports the bytes a file upload has sent.
struct Progress<'a, R> {
    inner: R,
    done: u64,
    total: u64,
    report: &'a mut (dyn FnMut(u64, Option<u64>) + Send),
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Progress<'_, R> {
    fn poll_read(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut this.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            this.done += n as u64;
            (this.report)(this.done, Some(this.total));
        }
        poll
    }
}
