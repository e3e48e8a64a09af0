//! `lab logs NODE [--follow] [--daemon master|worker|history|connect]`: a Spark daemon's log on
//! a node.

use std::time::Duration;

use super::LabCx;
use crate::cli::DaemonArg;
use crate::error::{Error, Result};
use crate::remote::interactive;
use crate::script::{Sh, sh};
use crate::spark::Daemon;

pub fn run(cx: &LabCx<'_>, node: &str, follow: bool, daemon: Option<DaemonArg>, lines: u32) -> Result<i32> {
    let n = cx.node(node)?.clone();
    let d = match daemon {
        Some(DaemonArg::Master) => Daemon::Master,
        Some(DaemonArg::Worker) => Daemon::Worker,
        Some(DaemonArg::History) => Daemon::History,
        Some(DaemonArg::Connect) => Daemon::Connect,
        None => Daemon::of(&n),
    };
    let keys = cx.keys()?;
    let command = sh(
        "f=$(ls -t {{glob}} 2>/dev/null | head -n 1); if [ -z \"$f\" ]; then echo \"no {{which}} log on this node (is the daemon installed here?)\" >&2; exit 1; fi; exec tail -n {{n}} {{follow}} \"$f\"",
        &[
            ("glob", &Sh::user_command(d.log_glob())),
            ("which", &d.short()),
            ("n", &lines),
            ("follow", &Sh::user_command(if follow { "-F".into() } else { String::new() })),
        ],
    );
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| Error::io("starting the async runtime", e))?;
    let status = rt.block_on(async {
        let s = cx.session(&keys, &n, Duration::from_secs(10)).await?;
        let status = interactive::run(&s, command.as_str()).await?;
        s.close().await;
        Ok::<u32, Error>(status)
    });
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(i32::try_from(status?).unwrap_or(255))
}
