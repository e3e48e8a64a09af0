//! `lab submit APP [--class NAME] [-- ARGS...]`: a Spark application (`.jar` or `.py`) uploaded
//! to the master and run there with `spark-submit` against the cluster; its output streams here
//! and its exit status is lab's.

use std::path::Path;
use std::time::Duration;

use super::LabCx;
use crate::error::{Error, Result};
use crate::remote::{interactive, transfer};
use crate::script::{Words, sh};
use crate::spark;

pub fn run(cx: &LabCx<'_>, app: &Path, class: Option<&str>, conf: &[String], args: &[String]) -> Result<i32> {
    let ext = app.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !matches!(ext, "jar" | "py") {
        return Err(Error::Usage(format!("{} is neither a .jar nor a .py file", app.display())));
    }
    if !app.is_file() {
        return Err(Error::Usage(format!("{} does not exist", app.display())));
    }
    if ext == "py" && class.is_some() {
        return Err(Error::Usage("--class is for .jar applications".into()));
    }
    if let Some(bad) = conf.iter().find(|c| c.split_once('=').is_none_or(|(k, _)| k.is_empty())) {
        return Err(Error::Usage(format!("--conf {bad:?}: write it as KEY=VALUE, like spark.executor.memory=2g")));
    }
    let keys = cx.keys()?;
    let master = cx.lab.master();
    let lab = &cx.lab;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| Error::io("starting the async runtime", e))?;
    let status = rt.block_on(async {
        let s = cx.session(&keys, master, Duration::from_secs(10)).await?;
        let dir = s.check(&sh("mktemp -d /tmp/lab-submit.XXXXXXXX", &[])).await?.stdout.trim().to_string();
        let remote = transfer::upload(&s, app, &format!("{dir}/"), &mut |_, _| {}).await?;
        let mut argv: Vec<String> = vec![format!("{}/bin/spark-submit", spark::HOME), "--master".into(), spark::master_url(lab)];
        // lab's defaults first: a --conf the user gives later on the line wins.
        argv.extend(spark::job_conf(lab));
        for c in conf {
            argv.extend(["--conf".into(), c.clone()]);
        }
        if let Some(c) = class {
            argv.extend(["--class".into(), c.to_string()]);
        }
        argv.push(remote);
        argv.extend(args.iter().cloned());
        let command = sh(
            ". {{j}} 2>/dev/null; . {{s}} 2>/dev/null; {{argv}}; status=$?; rm -rf {{dir}}; exit $status",
            &[("j", &spark::JAVA_PROFILE), ("s", &spark::SPARK_PROFILE), ("argv", &Words(&argv)), ("dir", &dir)],
        );
        let status = interactive::run(&s, command.as_str()).await?;
        s.close().await;
        Ok::<u32, Error>(status)
    });
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(i32::try_from(status?).unwrap_or(255))
}
