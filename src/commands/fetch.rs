//! `lab fetch`: downloads and verifies the lab's artifacts into the cache, touching no node.

use serde_json::json;

use super::LabCx;
use crate::download::Downloader;
use crate::error::{Error, Result};
use crate::spec::JavaInstall;

pub fn run(cx: &LabCx<'_>) -> Result<i32> {
    let lab = &cx.lab;
    let printer = cx.printer;
    let mut wanted = Vec::new();
    if let Some(img) = &lab.image {
        wanted.push(("ISO", img.iso.clone()));
    }
    if let JavaInstall::Tarball(t) = &lab.java.install {
        for (_, a) in t.needed(lab.machine_arch()) {
            wanted.push(("JDK", a.clone()));
        }
    }
    wanted.push(("Spark", lab.spark.artifact.clone()));
    let paths = cx.rt()?.block_on(async {
        let dl = Downloader::new(printer)?;
        let mut paths = Vec::new();
        for (what, a) in wanted {
            let mut fetched = false;
            let c = dl.fetch(&a, &mut fetched).await?;
            paths.push((what, a.url.clone(), c.path));
        }
        Ok::<_, Error>(paths)
    })?;
    printer.finish();
    if printer.is_json() {
        printer.json(&json!(paths.iter().map(|(w, u, p)| json!({"artifact": w, "url": u, "path": p.display().to_string()})).collect::<Vec<_>>()));
    } else {
        for (what, url, path) in &paths {
            printer.out(&format!("{what:<6} {}  ({url})", path.display()));
        }
    }
    Ok(0)
}
