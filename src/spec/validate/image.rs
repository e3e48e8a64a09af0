//! `image`, `iso`, `offline`, `mirror` and `insecure_mirror`: which installer a VirtualBox lab
//! boots and where its packages come from.

use super::software::{self, checksum, url};
use super::{Check, DEFAULT_IMAGE};
use crate::spec::{Artifact, Checksum, ChecksumAlgo, FieldPath, ProviderKind, images, raw};

pub(super) fn image(c: &mut Check<'_>, provider: ProviderKind, arch: crate::spec::Arch) -> Option<images::Image> {
    let path = FieldPath::root().key("image");
    let name: Option<String> = c.get(&path);
    if provider != ProviderKind::Virtualbox {
        if name.is_some() {
            c.error(&path, "`image` is used only by the virtualbox provider", Some("remove it, or set `provider: virtualbox`"));
        }
        for key in ["iso", "offline", "mirror", "insecure_mirror"] {
            if c.doc.has(&FieldPath::root().key(key)) {
                c.error(
                    &FieldPath::root().key(key),
                    format!("`{key}` is used only by the virtualbox provider"),
                    Some("remove it, or set `provider: virtualbox`"),
                );
            }
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
