//! `lab run [--nodes a,b | --master | --workers] -- CMD...`: one command on several nodes at
//! once. Output lines come as they are written, each prefixed with its node; `--json` gives each
//! node's stdout, stderr and status; lab exits with the worst status.

use std::time::Duration;

use serde_json::json;

use super::LabCx;
use crate::error::{Error, Result};
use crate::remote::interactive;
use crate::script::Sh;
use crate::spec::{Node, Role};

/// The nodes a selection names, in the lab file's order.
pub fn select<'l>(cx: &'l LabCx<'_>, names: &[String], master: bool, workers: bool) -> Result<Vec<&'l Node>> {
    if !names.is_empty() {
        for n in names {
            cx.node(n)?;
        }
        return Ok(cx.lab.nodes.iter().filter(|n| names.contains(&n.name)).collect());
    }
    Ok(cx.lab.nodes.iter().filter(|n| (!master || n.role == Role::Master) && (!workers || n.role == Role::Worker)).collect())
}

/// Splits streamed output into whole lines, each printed with the node's name in front.
struct Lines {
    node: String,
    partial: [Vec<u8>; 2],
}

impl Lines {
    fn feed(&mut self, is_err: bool, data: &[u8], emit: &mut dyn FnMut(bool, String)) {
        let buf = &mut self.partial[usize::from(is_err)];
        buf.extend_from_slice(data);
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            emit(is_err, format!("{}: {}", self.node, String::from_utf8_lossy(&line[..line.len() - 1])));
        }
    }
    fn flush(&mut self, emit: &mut dyn FnMut(bool, String)) {
        for (i, buf) in self.partial.iter_mut().enumerate() {
            if !buf.is_empty() {
                emit(i == 1, format!("{}: {}", self.node, String::from_utf8_lossy(buf)));
                buf.clear();
            }
        }
    }
}

fn print(is_err: bool, line: String) {
    use std::io::Write;
    if is_err {
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "{line}");
    } else {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{line}");
        let _ = o.flush();
    }
}

pub fn run(cx: &LabCx<'_>, names: &[String], master: bool, workers: bool, command: &[String]) -> Result<i32> {
    let chosen = select(cx, names, master, workers)?;
    if chosen.is_empty() {
        return Err(Error::Usage("no node matches the selection".into()));
    }
    let keys = cx.keys()?;
    let line = Sh::user_command(interactive::command_line(command));
    let json = cx.printer.is_json();
    let forever = Duration::from_secs(60 * 60 * 24 * 365);
    let results = cx.rt()?.block_on(futures_util::future::join_all(chosen.iter().map(|n| {
        let line = line.clone();
        let keys = &keys;
        async move {
            let s = cx.session(keys, n, Duration::from_secs(10)).await?;
            let mut lines = Lines { node: n.name.clone(), partial: [Vec::new(), Vec::new()] };
            let out = s
                .exec_with(&line, None, forever, &mut |is_err, data| {
                    if !json {
                        lines.feed(is_err, data, &mut print);
                    }
                })
                .await;
            if !json {
                lines.flush(&mut print);
            }
            s.close().await;
            out
        }
    })));
    let mut worst = 0;
    let mut per_node = Vec::new();
    for (n, r) in chosen.iter().zip(results) {
        match r {
            Ok(o) => {
                worst = worst.max(i32::try_from(o.status).unwrap_or(255));
                per_node.push(json!({"node": n.name, "status": o.status, "stdout": o.stdout, "stderr": o.stderr}));
            }
            Err(e) => {
                worst = 255;
                if !json {
                    print(true, format!("{}: error: {e}", n.name));
                }
                per_node.push(json!({"node": n.name, "status": 255, "error": e.to_string()}));
            }
        }
    }
    if json {
        cx.printer.json(&json!({"lab": cx.lab.name, "status": worst, "nodes": per_node}));
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_comes_as_whole_prefixed_lines() {
        let mut l = Lines { node: "node1".into(), partial: [Vec::new(), Vec::new()] };
        let mut got = Vec::new();
        let mut emit = |e: bool, s: String| got.push((e, s));
        l.feed(false, b"a\nb", &mut emit);
        l.feed(true, b"oops\n", &mut emit);
        l.feed(false, b"c\n", &mut emit);
        l.feed(false, b"tail", &mut emit);
        l.flush(&mut emit);
        assert_eq!(got, vec![(false, "node1: a".into()), (true, "node1: oops".into()), (false, "node1: bc".into()), (false, "node1: tail".into())]);
    }
}
