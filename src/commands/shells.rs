//! `lab spark-shell` and `lab pyspark`: Spark's interactive shells on the master, attached to
//! the cluster, in a pseudo-terminal.

use std::time::Duration;

use super::LabCx;
use crate::error::{Error, Result};
use crate::remote::interactive;
use crate::script::{Words, sh};
use crate::spark;

#[derive(Debug, Clone, Copy)]
pub enum Shell {
    Scala,
    Python,
}

pub fn run(cx: &LabCx<'_>, which: Shell) -> Result<i32> {
    let keys = cx.keys()?;
    let program = format!(
        "{}/bin/{}",
        spark::HOME,
        match which {
            Shell::Scala => "spark-shell",
            Shell::Python => "pyspark",
        }
    );
    let command = sh(
        ". {{j}} 2>/dev/null; . {{s}} 2>/dev/null; exec {{program}} --master {{url}} {{conf}}",
        &[
            ("j", &spark::JAVA_PROFILE),
            ("s", &spark::SPARK_PROFILE),
            ("program", &program),
            ("url", &spark::master_url(&cx.lab)),
            ("conf", &Words(&spark::job_conf(&cx.lab))),
        ],
    );
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| Error::io("starting the async runtime", e))?;
    let status = rt.block_on(async {
        let s = cx.session(&keys, cx.lab.master(), Duration::from_secs(10)).await?;
        let status = interactive::terminal(&s, Some(&command)).await?;
        s.close().await;
        Ok::<u32, Error>(status)
    });
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(i32::try_from(status?).unwrap_or(255))
}
