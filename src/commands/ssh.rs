//! `lab ssh NODE [-- CMD...]`: a shell on a node, or one command whose exit status is lab's.

use std::time::Duration;

use super::LabCx;
use crate::error::Result;
use crate::remote::interactive;

pub fn run(cx: &LabCx<'_>, node: &str, command: &[String]) -> Result<i32> {
    let n = cx.node(node)?.clone();
    let keys = cx.keys()?;
    // A runtime of its own: standard input is read on a blocking thread that must not hold up
    // the end of the command.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| crate::error::Error::io("starting the async runtime", e))?;
    let status = rt.block_on(async {
        let session = cx.session(&keys, &n, Duration::from_secs(10)).await?;
        let status =
            if command.is_empty() { interactive::shell(&session).await? } else { interactive::run(&session, &interactive::command_line(command)).await? };
        session.close().await;
        Ok::<u32, crate::error::Error>(status)
    });
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    let status = status?;
    // The remote command's status is lab's status (255 when it ended by a signal).
    Ok(i32::try_from(status).unwrap_or(255))
}
