//! The cloud image in the download cache, its checksum verified.

use crate::download::{Cached, Downloader};
use crate::error::{Error, Result};
use crate::provider::qemu::Qemu;
use crate::spec::{Artifact, Lab};
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct ImageReady<'a> {
    q: &'a Qemu,
    head: Head,
}

pub fn step<'a>(q: &'a Qemu, lab: &Lab) -> Box<dyn crate::steps::Step + 'a> {
    Box::new(ImageReady { q, head: Head::host("image_ready", Stage::Machines, format!("{} in the download cache, checksum verified", lab.qemu.title)) })
}

fn artifact(lab: &Lab) -> Result<&Artifact> {
    lab.qemu
        .image
        .as_ref()
        .ok_or_else(|| Error::Preflight { problem: "the lab names no cloud image".into(), fix: "name one in `image:` or `qemu.image`".into() })
}

impl Qemu {
    /// The image in the cache (downloaded now if this run has not yet).
    pub(in crate::provider::qemu) fn image(&self, cx: &Cx<'_>) -> Result<Cached> {
        self.image.get_or_make(|| cx.block_on(Downloader::new(cx.reporter)?.fetch(artifact(cx.lab)?, &mut false)))
    }
}

impl Step for ImageReady<'_> {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let dl = Downloader::new(cx.reporter)?;
        let art = artifact(cx.lab)?;
        Ok(match dl.known_digest(art) {
            Some((algo, hex)) if dl.cached_path(&algo, &hex).is_file() => {
                self.q.image.set(Cached { path: dl.cached_path(&algo, &hex), digest: format!("{algo}-{hex}") });
                Check::Satisfied
            }
            Some(_) => Check::Needed("not in the download cache".into()),
            None => Check::Needed("its digest is read from its checksum file first".into()),
        })
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let mut fetched = false;
        let c = cx.block_on(Downloader::new(cx.reporter)?.fetch(artifact(cx.lab)?, &mut fetched))?;
        self.q.image.set(c);
        Ok(if fetched { Outcome::Applied } else { Outcome::Satisfied })
    }
}
