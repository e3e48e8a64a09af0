//! `lab copy SRC DST`: files and folders to nodes (`node1:/path`, `all:/path`, `workers:/path`,
//! `master:/path`) or from one node to this computer; streamed in constant memory, modes kept,
//! progress for large files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::LabCx;
use crate::error::{Error, Result};
use crate::remote::transfer;
use crate::spec::{Node, Role};
use crate::ui::Reporter;

/// One end of a copy.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Local(PathBuf),
    /// Nodes (a name, `all`, `workers` or `master`) and a path on them.
    Nodes(String, String),
}

fn parse(s: &str) -> End {
    // `C:\...` on Windows is local: node names are lowercase and longer than one letter, or
    // contain a digit or '-'.
    if let Some((who, path)) = s.split_once(':') {
        let node_like = !who.is_empty() && who.len() > 1 && who.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if node_like && !path.starts_with('\\') {
            return End::Nodes(who.to_string(), path.to_string());
        }
    }
    End::Local(PathBuf::from(s))
}

fn nodes<'l>(cx: &'l LabCx<'_>, who: &str) -> Result<Vec<&'l Node>> {
    Ok(match who {
        "all" => cx.lab.nodes.iter().collect(),
        "workers" => cx.lab.workers().collect(),
        "master" if cx.lab.node("master").is_none() => cx.lab.nodes.iter().filter(|n| n.role == Role::Master).collect(),
        name => vec![cx.node(name)?],
    })
}

pub fn run(cx: &LabCx<'_>, src: &str, dst: &str) -> Result<i32> {
    let keys = cx.keys()?;
    let reporter: &dyn Reporter = cx.printer;
    let rt = cx.rt()?;
    match (parse(src), parse(dst)) {
        (End::Local(local), End::Nodes(who, path)) => {
            if !local.exists() {
                return Err(Error::Usage(format!("{} does not exist", local.display())));
            }
            let targets = nodes(cx, &who)?;
            let label = local.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let results = rt.block_on(futures_util::future::join_all(targets.iter().map(|n| {
                let (keys, local, path, label) = (&keys, &local, &path, &label);
                async move {
                    let s = cx.session(keys, n, Duration::from_secs(10)).await?;
                    let big = std::fs::metadata(local).is_ok_and(|m| m.is_dir() || m.len() > 1 << 20);
                    let mut progress = |done: u64, total: Option<u64>| {
                        if big {
                            reporter.progress(&n.name, label, done, total);
                        }
                    };
                    let r = transfer::upload(&s, local, path, &mut progress).await;
                    s.close().await;
                    r.map(|at| (n.name.clone(), at))
                }
            })));
            cx.printer.finish();
            let mut failed = None;
            for r in results {
                match r {
                    Ok((node, at)) => cx.printer.info(&format!("{node}: {at}")),
                    Err(e) => {
                        cx.printer.info(&format!("error: {e}"));
                        failed.get_or_insert(e);
                    }
                }
            }
            failed.map_or(Ok(0), Err)
        }
        (End::Nodes(who, path), End::Local(local)) => {
            let from = nodes(cx, &who)?;
            let [n] = from.as_slice() else {
                return Err(Error::Usage(format!("copy from one node at a time; {who:?} names {}", from.len())));
            };
            let at = rt.block_on(async {
                let s = cx.session(&keys, n, Duration::from_secs(10)).await?;
                let label = Path::new(&path).file_name().map(|x| x.to_string_lossy().into_owned()).unwrap_or_default();
                let mut progress = |done: u64, total: Option<u64>| {
                    if total.is_none_or(|t| t > 1 << 20) {
                        reporter.progress(&n.name, &label, done, total);
                    }
                };
                let r = transfer::download(&s, &path, &local, &mut progress).await;
                s.close().await;
                r
            });
            cx.printer.finish();
            cx.printer.info(&format!("{}: {path} -> {}", n.name, at?.display()));
            Ok(0)
        }
        (End::Local(_), End::Local(_)) => {
            Err(Error::Usage("one side of a copy must be a node: NODE:PATH (NODE: a node's name, all, workers or master)".into()))
        }
        (End::Nodes(..), End::Nodes(..)) => {
            Err(Error::Usage("copy between nodes goes through this computer: copy from one node here, then to the others".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends() {
        assert_eq!(parse("node1:/tmp/x"), End::Nodes("node1".into(), "/tmp/x".into()));
        assert_eq!(parse("all:data"), End::Nodes("all".into(), "data".into()));
        assert_eq!(parse("data.csv"), End::Local("data.csv".into()));
        assert_eq!(parse("C:\\Users\\João\\data.csv"), End::Local("C:\\Users\\João\\data.csv".into()));
        assert_eq!(parse("c:\\x"), End::Local("c:\\x".into()));
        assert_eq!(parse("./a:b"), End::Local("./a:b".into()));
    }
}
