//! The OS ISO in the download cache, checksum verified (for a base: only while it is made).

use crate::download::{Cached, Downloader};
use crate::error::Result;
use crate::provider::virtualbox::{VirtualBox, base};
use crate::spec::InstallMode;
use crate::spec::images::Image;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct IsoDownloaded<'a> {
    vb: &'a VirtualBox,
    head: Head,
}

pub fn step<'a>(vb: &'a VirtualBox, img: &Image, for_base: bool) -> Box<dyn Step + 'a> {
    let when = if for_base { " (only while the base is made)" } else { "" };
    Box::new(IsoDownloaded {
        vb,
        head: Head::host("iso_downloaded", Stage::Machines, format!("{} ISO ({}) in the download cache, checksum verified{when}", img.title, img.arch.name())),
    })
}

impl VirtualBox {
    /// The ISO in the cache (downloaded now if this run has not yet).
    pub(in crate::provider::virtualbox) fn iso(&self, cx: &Cx<'_>) -> Result<Cached> {
        self.iso.get_or_make(|| fetch(cx, &mut false))
    }
}

fn fetch(cx: &Cx<'_>, fetched: &mut bool) -> Result<Cached> {
    let img =
        cx.lab.image.as_ref().ok_or_else(|| crate::error::Error::Preflight { problem: "the lab has no image".into(), fix: "name one in `image:`".into() })?;
    cx.block_on(Downloader::new(cx.reporter)?.fetch(&img.iso, fetched))
}

impl Step for IsoDownloaded<'_> {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        if cx.lab.install == InstallMode::Base {
            let spec = base::spec(cx.lab)?;
            // A base here, or one exported into a LAB_CACHE_PATH folder (imported instead of
            // installed): no ISO.
            if self.vb.base_ready(&spec)? || crate::download::shelf::base_with(&spec.fingerprint).is_some() {
                return Ok(Check::Satisfied);
            }
        }
        // Cannot look first: the cache is checked as the downloader goes, and a digest from a
        // checksum URL is known only once that URL is read.
        Ok(Check::InApply)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let mut fetched = false;
        self.vb.iso.get_or_make(|| fetch(cx, &mut fetched))?;
        Ok(if fetched { Outcome::Applied } else { Outcome::Satisfied })
    }
}
