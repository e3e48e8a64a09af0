//! A real HTTP/1.1 file server on 127.0.0.1 for download tests: serves a folder, honours
//! `Range: bytes=N-`, counts requests, and can be told to cut a response after some bytes.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Shared {
    /// Path -> number of GET requests served (any status).
    requests: HashMap<String, usize>,
    /// Path -> bytes after which the next response is cut (used once).
    cut_after: HashMap<String, u64>,
    /// Range headers received, in order.
    ranges: Vec<String>,
}

pub struct FileServer {
    pub port: u16,
    root: PathBuf,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
}

impl FileServer {
    pub fn start(root: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, stop2, root2) = (shared.clone(), stop.clone(), root.to_path_buf());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (s3, root3) = (s2.clone(), root2.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &root3, &s3);
                });
            }
        });
        Self { port, root: root.to_path_buf(), shared, stop }
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn requests(&self, name: &str) -> usize {
        self.shared.lock().expect("lock").requests.get(&format!("/{name}")).copied().unwrap_or(0)
    }

    pub fn ranges(&self) -> Vec<String> {
        self.shared.lock().expect("lock").ranges.clone()
    }

    /// The next response for `name` stops after `bytes` bytes of body.
    pub fn cut_next(&self, name: &str, bytes: u64) {
        self.shared.lock().expect("lock").cut_after.insert(format!("/{name}"), bytes);
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(conn: TcpStream, root: &Path, shared: &Mutex<Shared>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request)? == 0 {
            return Ok(());
        }
        let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut range = None;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("range")
            {
                range = Some(v.trim().to_string());
            }
        }
        let cut = {
            let mut s = shared.lock().expect("lock");
            *s.requests.entry(path.clone()).or_default() += 1;
            if let Some(r) = &range {
                s.ranges.push(r.clone());
            }
            s.cut_after.remove(&path)
        };
        let file = root.join(path.trim_start_matches('/'));
        let Ok(mut f) = std::fs::File::open(&file) else {
            out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?;
            continue;
        };
        let len = f.metadata()?.len();
        let start = range.as_deref().and_then(|r| r.strip_prefix("bytes=")).and_then(|r| r.trim_end_matches('-').parse::<u64>().ok()).unwrap_or(0);
        if start >= len && range.is_some() {
            out.write_all(format!("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\nContent-Length: 0\r\n\r\n").as_bytes())?;
            continue;
        }
        let head = if range.is_some() {
            format!("HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{len}\r\n\r\n", len - start, len - 1)
        } else {
            format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n")
        };
        out.write_all(head.as_bytes())?;
        f.seek(SeekFrom::Start(start))?;
        let mut left = cut.unwrap_or(u64::MAX);
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            let n = n.min(usize::try_from(left).unwrap_or(usize::MAX));
            out.write_all(&buf[..n])?;
            left -= n as u64;
            if left == 0 {
                // Cut: end the connection in the middle of the body.
                return Ok(());
            }
        }
    }
}
