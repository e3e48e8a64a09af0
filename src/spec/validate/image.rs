//! `image`, `iso`, `offline`, `mirror` and `insecure_mirror`: which installer a VirtualBox lab
//! boots and where its packages come from.

use super::software::{self, checksum, url};
use super::{Check, DEFAULT_IMAGE};
use crate::spec::{Artifact, Checksum, ChecksumAlgo, FieldPath, ProviderKind, images, raw};

pub(super) fn image(c: &mut Check<'_>, provider: ProviderKind, arch: crate::spec::Arch) -> Option<images::Image> {
    let path = FieldPath::root().key("image");
    let name: Option<String> = c.get(&path);
    // What only an install from an ISO takes (VirtualBox's).
    if provider != ProviderKind::Virtualbox {
        for key in ["iso", "offline", "mirror", "insecure_mirror"] {
            if c.doc.has(&FieldPath::root().key(key)) {
                let (problem, fix) = if provider == ProviderKind::Qemu {
                    (format!("`{key}` is for installing from an ISO, and the qemu provider boots the image's cloud image"), "remove it")
                } else {
                    (format!("`{key}` is used only by the virtualbox provider"), "remove it, or set `provider: virtualbox`")
                };
                c.error(&FieldPath::root().key(key), problem, Some(fix));
            }
        }
    }
    if provider == ProviderKind::Qemu {
        // The lab's own image replaces the catalog's unless the lab names both.
        if name.is_none() && c.doc.has(&FieldPath::root().key("qemu").key("image")) {
            return None;
        }
        let name = name.unwrap_or_else(|| DEFAULT_IMAGE.into());
        return match images::find(&name, arch) {
            Ok(img) => Some(img),
            Err(_) => {
                let hint = format!("use one of: {}, or name your own in `qemu.image`", images::names_for(arch).join(", "));
                c.error(&path, format!("unknown image {name:?} for {}", arch.name()), Some(&hint));
                None
            }
        };
    }
    if provider != ProviderKind::Virtualbox {
        if name.is_some() {
            c.error(&path, "`image` is used only by the virtualbox provider", Some("remove it, or set `provider: virtualbox`"));
        }
        return None;
    }
    let name = name.unwrap_or_else(|| DEFAULT_IMAGE.into());
    match images::find(&name, arch) {
        Ok(mut img) => {
            // A network install (the boot ISO, packages from the mirror) where the image has
            // one, unless the lab asks to install offline from the image's own ISO.
            let offline_path = FieldPath::root().key("offline");
            let mirror_path = FieldPath::root().key("mirror");
            let offline = c.get::<bool>(&offline_path).unwrap_or(false);
            let mirror: Option<String> = c.get(&mirror_path);
            if let Some(m) = &mirror {
                url(c, &mirror_path, m);
            }
            let insecure_path = FieldPath::root().key("insecure_mirror");
            let insecure = c.get::<bool>(&insecure_path).unwrap_or(false);
            match &mirror {
                // The installer takes the mirror's packages unsigned-checked (Anaconda installs
                // from its `url`/`repo` sources without verifying signatures): over plain
                // http://, whoever sits on the way chooses what the nodes run.
                Some(m) if software::plain_http_elsewhere(m) && !insecure => c.error(
                    &mirror_path,
                    "a mirror over plain http:// lets anyone on the way (the campus network, its Wi-Fi) serve the installer other packages",
                    Some("use the mirror's https:// address; if it has none and you trust the network, add `insecure_mirror: true`"),
                ),
                Some(m) if !software::plain_http_elsewhere(m) && insecure => {
                    c.error(&insecure_path, "`insecure_mirror` is for a mirror over plain http://, and this one is not", Some("remove `insecure_mirror`"))
                }
                None if insecure => {
                    c.error(&insecure_path, "`insecure_mirror` says a `mirror` over plain http:// is accepted, and there is no `mirror`", Some("remove it"))
                }
                _ => {}
            }
            match img.over_network(mirror.as_deref()) {
                Some(net) if !offline => img = net,
                Some(_) => {
                    if mirror.is_some() {
                        c.error(
                            &mirror_path,
                            "`mirror` is for network installs, and this lab installs offline from the image's own ISO",
                            Some("remove `mirror`, or `offline: true`"),
                        );
                    }
                }
                None => {
                    if mirror.is_some() {
                        c.error(&mirror_path, format!("{} has no network install", img.title), Some("remove `mirror`; this image installs from its ISO"));
                    }
                }
            }
            let ip = FieldPath::root().key("iso");
            if let Some(raw) = c.get::<raw::Iso>(&ip) {
                let ok = url(c, &ip.key("url"), &raw.url);
                let sum = match (&raw.sha256, &raw.checksum_url) {
                    (Some(h), None) => checksum(c, &ip.key("sha256"), h, ChecksumAlgo::Sha256),
                    (None, Some(u)) => url(c, &ip.key("checksum_url"), u).then(|| Checksum::File { algo: ChecksumAlgo::Sha256, url: u.clone() }),
                    _ => {
                        c.error(&ip, "give exactly one of `sha256` and `checksum_url`", Some("the ISO is verified before use, like every download"));
                        None
                    }
                };
                if let (true, Some(checksum)) = (ok, sum) {
                    img.iso = Artifact { url: raw.url, checksum };
                }
            }
            Some(img)
        }
        Err(arches) if arches.is_empty() => {
            let names = images::names().join(", ");
            let hint = format!("use one of the images in images/: {names}");
            c.error(&path, format!("unknown image {name:?}"), Some(&hint));
            None
        }
        Err(arches) => {
            let have: Vec<&str> = arches.iter().map(|a| a.name()).collect();
            let hint = format!("VirtualBox runs only {} guests on this computer; use one of: {}", arch.name(), images::names_for(arch).join(", "));
            c.error(&path, format!("image {name:?} exists for {} only, and this computer is {}", have.join(", "), arch.name()), Some(&hint));
            None
        }
    }
}

/// The `qemu:` section: the cloud image every node's disk is an overlay on (the lab's own, else
/// the catalog image's for this computer's architecture) and whether the guests reach out.
pub(super) fn qemu(c: &mut Check<'_>, provider: ProviderKind, image: Option<&images::Image>, arch: crate::spec::Arch) -> crate::spec::QemuOptions {
    let p = FieldPath::root().key("qemu");
    let raw = c.get::<raw::Qemu>(&p);
    if raw.is_some() && provider != ProviderKind::Qemu {
        c.error(&p, "`qemu` settings are used only by the qemu provider", Some("remove them, or set `provider: qemu`"));
    }
    let raw = raw.unwrap_or_default();
    let mut opts = crate::spec::QemuOptions { internet: raw.internet.unwrap_or(true), ..Default::default() };
    if provider != ProviderKind::Qemu {
        return opts;
    }
    let ip = p.key("image");
    match (raw.image, image) {
        (Some(own), _) => {
            // A file on this computer: a path (relative to the lab file) or a file:// URL.
            let url = if own.url.contains("://") {
                own.url.clone()
            } else {
                let path = std::path::Path::new(&own.url);
                let path = if path.is_absolute() { path.to_path_buf() } else { c.doc.file().parent().unwrap_or(std::path::Path::new(".")).join(path) };
                format!("file://{}", path.display())
            };
            let ok = url.starts_with("file://") || self::url(c, &ip.key("url"), &url);
            let sum = match (&own.sha256, &own.checksum_url) {
                (Some(h), None) => checksum(c, &ip.key("sha256"), h, ChecksumAlgo::Sha256),
                (None, Some(u)) => self::url(c, &ip.key("checksum_url"), u).then(|| Checksum::File { algo: ChecksumAlgo::Sha256, url: u.clone() }),
                _ => {
                    c.error(&ip, "give exactly one of `sha256` and `checksum_url`", Some("the image is verified before use, like every download"));
                    None
                }
            };
            if let (true, Some(checksum)) = (ok, sum) {
                opts.title = url.rsplit('/').next().unwrap_or(&url).to_string();
                opts.image = Some(Artifact { url, checksum });
            }
        }
        (None, Some(img)) => match &img.cloud {
            Some(cloud) => {
                opts.title = format!("{} cloud image", img.title);
                opts.size_mib = Some(cloud.size_mib);
                opts.image = Some(cloud.image.clone());
            }
            None => c.error(
                &FieldPath::root().key("image"),
                format!("{} has no cloud image for {}", img.title, arch.name()),
                Some("choose an image with a `cloud:` entry (centos-stream-9, centos-stream-10, rocky-9, almalinux-9), or name your own in `qemu.image`"),
            ),
        },
        (None, None) => {}
    }
    opts
}
