//! Spark (and the JDK tarballs a lab file names) in the download cache, checksums verified:
//! what the nodes' Java and Spark steps push. Downloads only what is missing. [`spark`] and
//! [`jdks`] are how later steps get them.

use std::collections::BTreeMap;

use crate::download::{Cached, Downloader};
use crate::error::Result;
use crate::spec::{JavaInstall, Lab};
use crate::steps::{Check, Cx, Head, Jdks, Stage, Step};
use crate::ui::Outcome;

pub const ID: &str = "artifacts";

pub struct Artifacts {
    head: Head,
}

pub fn step(lab: &Lab) -> Box<dyn Step> {
    let jdk = match &lab.java.install {
        JavaInstall::Tarball(t) => match t.needed(lab.machine_arch()).as_slice() {
            [] => String::new(),
            [(_, a)] => format!(", the JDK ({})", a.file_name()),
            many => format!(", the JDKs ({})", many.iter().map(|(_, a)| a.file_name()).collect::<Vec<_>>().join(", ")),
        },
        JavaInstall::Package => String::new(),
    };
    Box::new(Artifacts {
        head: Head::host(
            ID,
            Stage::Host,
            format!("Spark {} ({}){jdk} in the download cache, checksums verified", lab.spark.version, lab.spark.artifact.file_name()),
        ),
    })
}

/// The Spark release in the cache (downloaded now if this run has not yet).
pub fn spark(cx: &Cx<'_>) -> Result<Cached> {
    cx.spark.get_or_make(|| cx.block_on(Downloader::new(cx.reporter)?.fetch(&cx.lab.spark.artifact, &mut false)))
}

/// The JDK tarballs the lab's machines need, by architecture (none with `java.install: package`).
pub fn jdks(cx: &Cx<'_>) -> Result<Jdks> {
    cx.jdks.get_or_make(|| fetch_jdks(cx, &mut false))
}

fn fetch_jdks(cx: &Cx<'_>, fetched: &mut bool) -> Result<Jdks> {
    let mut jdk = BTreeMap::new();
    if let JavaInstall::Tarball(t) = &cx.lab.java.install {
        let dl = Downloader::new(cx.reporter)?;
        for (arch, a) in t.needed(cx.lab.machine_arch()) {
            jdk.insert(arch, cx.block_on(dl.fetch(a, fetched))?);
        }
    }
    Ok(jdk)
}

impl Step for Artifacts {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, _: &Cx<'_>) -> Result<Check> {
        // Cannot look first: the cache is checked file by file as the downloader goes, and a
        // digest from a checksum URL is known only once that URL is read (a download of its own).
        Ok(Check::InApply)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let mut fetched = false;
        cx.spark.get_or_make(|| cx.block_on(Downloader::new(cx.reporter)?.fetch(&cx.lab.spark.artifact, &mut fetched)))?;
        cx.jdks.get_or_make(|| fetch_jdks(cx, &mut fetched))?;
        Ok(if fetched { Outcome::Applied } else { Outcome::Satisfied })
    }
}
