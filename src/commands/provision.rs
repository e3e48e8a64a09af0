//! `lab provision`: re-runs only the provisioning (hosts, Java, Spark, SSH, daemons) on running
//! nodes, through the same plan and runner as `lab up`.

use std::time::Duration;

use super::{LabCx, up};
use crate::error::Result;
use crate::plan;

pub fn run(cx: &LabCx<'_>) -> Result<i32> {
    cx.keys()?; // a lab that was never built has nothing to provision
    cx.provider.available(&cx.lab)?;
    let _lock = cx.sd.lock("provision")?;
    let steps = plan::provision(&cx.lab);
    up::execute(cx, &steps, false, Duration::from_secs(10))?;
    Ok(0)
}
