//! QEMU's machine protocol (QMP) over the node's Unix socket, the one seam lab talks to a running
//! QEMU through: a greeting, `qmp_capabilities`, then one command and its answer, each a JSON
//! line; lines carrying `"event"` come in between and are skipped (QEMU's docs/interop/qmp-spec).

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};

/// Runs `command` and gives its `return` value.
#[cfg(unix)]
pub fn execute(socket: &Path, command: &str, timeout: Duration) -> Result<Value> {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;

    use serde_json::json;
    let fail = |e: std::io::Error| Error::io(format!("talking to QEMU through {}", socket.display()), e);
    let stream = UnixStream::connect(socket).map_err(fail)?;
    stream.set_read_timeout(Some(timeout)).map_err(fail)?;
    stream.set_write_timeout(Some(timeout)).map_err(fail)?;
    let mut reader = BufReader::new(stream.try_clone().map_err(fail)?);
    let mut writer = stream;
    let mut read = || -> Result<Value> {
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).map_err(fail)? == 0 {
                return Err(fail(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "QEMU closed the connection")));
            }
            let v: Value = serde_json::from_str(&line).map_err(|e| Error::Internal(format!("QEMU's QMP sent {line:?}: {e}")))?;
            if v.get("event").is_none() {
                return Ok(v);
            }
        }
    };
    read()?; // greeting
    for cmd in ["qmp_capabilities", command] {
        writer.write_all(format!("{}\n", json!({ "execute": cmd })).as_bytes()).map_err(fail)?;
        let answer = read()?;
        if let Some(e) = answer.get("error") {
            return Err(Error::Internal(format!("QEMU refused {cmd}: {e}")));
        }
        if cmd == command {
            return Ok(answer.get("return").cloned().unwrap_or(Value::Null));
        }
    }
    Ok(Value::Null)
}

#[cfg(not(unix))]
pub fn execute(socket: &Path, _command: &str, _timeout: Duration) -> Result<Value> {
    Err(Error::Internal(format!("QMP through {} needs a Unix socket", socket.display())))
}
