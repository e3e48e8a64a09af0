//! The cloud image in the download cache, its checksum verified.

use crate::download::{Cached, Downloader};
use crate::error::{Error, Result};
use crate::provider::qemu::Qemu;
use crate::spec::artifact::ChecksumAlgo;
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

/// The image in the download cache, when its digest is known here (pinned, or read from its
/// checksum file before) and the file with that digest is there.
fn cached(dl: &Downloader, art: &Artifact) -> Option<Cached> {
    dl.known_digest(art).and_then(|(algo, hex)| in_cache(dl, &algo, &hex))
}

/// The file of digest `algo-hex` in the download cache, when it is there.
fn in_cache(dl: &Downloader, algo: &ChecksumAlgo, hex: &str) -> Option<Cached> {
    let path = dl.cached_path(algo, hex);
    path.is_file().then(|| Cached { path, digest: format!("{algo}-{hex}") })
}

impl Qemu {
    /// The image in the cache (downloaded now if it is not there yet).
    pub(in crate::provider::qemu) fn image(&self, cx: &Cx<'_>) -> Result<Cached> {
        self.image.get_or_make(|| {
            let dl = Downloader::new(cx.reporter)?;
            let art = artifact(cx.lab)?;
            match cached(&dl, art) {
                Some(c) => Ok(c),
                None => cx.block_on(dl.fetch(art, &mut false)),
            }
        })
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
            Some((algo, hex)) if in_cache(&dl, &algo, &hex).is_some() => Check::Satisfied,
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
