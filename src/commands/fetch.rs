//! `lab fetch`: downloads and verifies the lab's artifacts into the cache, touching no node;
//! `--into DIR` also copies them (and with `--base` the lab's base, exported) into a folder
//! other computers read through `LAB_CACHE_PATH`. Also the check `lab up --offline` makes
//! before anything runs.

use std::path::Path;

use serde_json::json;

use super::LabCx;
use crate::download::Downloader;
use crate::download::shelf::{BaseEntry, Entry, Manifest};
use crate::error::{Error, Result};
use crate::plan::{ArtifactKind, artifacts};
use crate::spec::Checksum;

/// `lab up --offline`: every file the run needs is in the cache or a LAB_CACHE_PATH folder,
/// or it fails now, naming each missing one. The ISO is not needed where the base is here or
/// in a folder.
pub fn offline_check(cx: &LabCx<'_>, provision: bool) -> Result<()> {
    let dl = Downloader::new(cx.printer)?;
    let vbox = cx.lab.provider == crate::spec::ProviderKind::Virtualbox;
    let base_at_hand = vbox
        && cx.lab.install == crate::spec::InstallMode::Base
        && cx.lab.image.is_some()
        && crate::provider::virtualbox::base::spec(&cx.lab).is_ok_and(|s| {
            crate::provider::virtualbox::base::records().iter().any(|r| r.fingerprint == s.fingerprint)
                || crate::download::shelf::base_with(&s.fingerprint).is_some()
        });
    let needed: Vec<_> = artifacts(&cx.lab)
        .into_iter()
        .filter(|(what, _)| provision || matches!(what, ArtifactKind::Iso | ArtifactKind::Image))
        .filter(|(what, _)| !(*what == ArtifactKind::Iso && base_at_hand))
        .filter(|(_, a)| !dl.available_offline(a))
        .collect();
    // A file whose checksum lab does not know here cannot be proven by a shelf either.
    let unknown: Vec<String> = needed
        .iter()
        .filter(|(_, a)| dl.known_digest(a).is_none())
        .map(|(what, a)| match &a.checksum {
            Checksum::File { algo, url } => format!("{what} {}: its {algo} is read from {url}", a.file_name()),
            Checksum::Pinned { .. } => format!("{what} {}", a.file_name()),
        })
        .collect();
    let missing: Vec<String> = needed.iter().map(|(what, a)| format!("{what} {} ({})", a.file_name(), a.url)).collect();
    // A network install reads the distribution's mirror while it installs: offline, only a
    // base at hand (made here or exported into a folder) spares it.
    let network_install = cx.lab.image.as_ref().filter(|_| vbox).and_then(|img| match &img.source {
        crate::spec::images::Source::Network { repos, .. } if !base_at_hand => repos.first().map(|(_, url)| url.clone()),
        _ => None,
    });
    if missing.is_empty() && network_install.is_none() {
        return Ok(());
    }
    let folders = crate::download::shelf::dirs();
    let where_not = if folders.is_empty() {
        " (LAB_CACHE_PATH names no folder)".to_string()
    } else {
        format!(" nor in {}", folders.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "))
    };
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!(
            "{} not in the download cache{where_not}:\n  {}",
            if missing.len() == 1 { "this file is" } else { "these files are" },
            missing.join("\n  ")
        ));
    }
    if !unknown.is_empty() {
        problems.push(format!(
            "no checksum that lab trusts is known on this computer for:\n  {}\n(a LAB_CACHE_PATH folder's list proves a file matches a checksum, it never supplies one)",
            unknown.join("\n  ")
        ));
    }
    if let Some(mirror) = &network_install {
        problems
            .push(format!("this lab's image installs its packages over the network (from {mirror}) and no base of this lab is on this computer{where_not}"));
    }
    Err(Error::Preflight {
        problem: format!("--offline, and {}", problems.join("\nand ")),
        fix: if !unknown.is_empty() && network_install.is_none() {
            "pin each checksum in the lab file (`sha256:`/`sha512:` instead of `checksum_url`; `lab fetch` prints them), or run once without --offline: with the files in a LAB_CACHE_PATH folder only the small checksum files are fetched. Files not in a folder: on a computer with network, `lab fetch --into DIR` with this lab file; then set LAB_CACHE_PATH=DIR here".into()
        } else if network_install.is_some() {
            "on a computer with network, `lab up` then `lab fetch --into DIR --base` with this lab file (the base made there spares the install here); then set LAB_CACHE_PATH=DIR here. Or `offline: true` in the lab file, to install from the image's own ISO (its DVD)".into()
        } else {
            "on a computer with network, `lab fetch --into DIR` with this lab file; then set LAB_CACHE_PATH=DIR here".into()
        },
    })
}

pub fn run(cx: &LabCx<'_>, into: Option<&Path>, base: bool) -> Result<i32> {
    let lab = &cx.lab;
    let printer = cx.printer;
    let wanted = artifacts(lab);
    let fetched = cx.rt()?.block_on(async {
        let dl = Downloader::new(printer)?;
        let mut out = Vec::new();
        for (what, a) in wanted {
            let mut fetched = false;
            let c = dl.fetch(&a, &mut fetched).await?;
            out.push((what, a, c));
        }
        Ok::<_, Error>(out)
    })?;
    let mut copied = Vec::new();
    if let Some(dir) = into {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let mut manifest = Manifest::read(dir)?;
        let dl = Downloader::new(printer)?;
        for (_, a, c) in &fetched {
            let target = dir.join(a.file_name());
            let size = std::fs::metadata(&c.path).map(|m| m.len()).unwrap_or(0);
            let (algo, digest) = c.digest.split_once('-').map_or(("sha256", c.hex()), |(a, _)| (a, c.hex()));
            let entry = Entry {
                file: a.file_name().to_string(),
                url: a.url.clone(),
                checksum_url: match &a.checksum {
                    Checksum::File { url, .. } => Some(url.clone()),
                    Checksum::Pinned { .. } => None,
                },
                algo: algo.to_string(),
                digest: digest.to_string(),
                size,
            };
            let same = manifest.files.iter().any(|e| e == &entry) && std::fs::metadata(&target).is_ok_and(|m| m.len() == size);
            if !same {
                printer.info(&format!("copying {} into {}", a.file_name(), dir.display()));
                let partial = dir.join(format!(".{}.partial", a.file_name()));
                dl.copy_local(&c.path, &partial, a.file_name())?;
                std::fs::rename(&partial, &target).map_err(|e| Error::io(format!("writing {}", target.display()), e))?;
            }
            manifest.put(entry);
            manifest.write(dir)?;
            copied.push(target);
        }
        if base {
            copied.push(export_base(cx, dir, &mut manifest)?);
            manifest.write(dir)?;
        }
    }
    printer.finish();
    if printer.is_json() {
        printer.json(&json!({
            "artifacts": fetched.iter().map(|(w, a, c)| json!({"artifact": w.to_string(), "url": a.url, "path": c.path.display().to_string()})).collect::<Vec<_>>(),
            "into": copied.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        }));
    } else {
        for (what, a, c) in &fetched {
            printer.out(&format!("{what:<6} {}  ({})", c.path.display(), a.url));
        }
        // What a lab file pins so `lab up --offline` needs no checksum URL.
        let unpinned: Vec<_> = fetched.iter().filter(|(_, a, _)| matches!(a.checksum, Checksum::File { .. })).collect();
        if !unpinned.is_empty() {
            printer.out("\nto use these offline, pin their checksums in the lab file (instead of `checksum_url`):");
            for (what, _, c) in unpinned {
                let algo = c.digest.split_once('-').map_or("sha256", |(a, _)| a);
                printer.out(&format!("  {}.{algo}: {}", what.key(), c.hex()));
            }
        }
        if let Some(dir) = into {
            printer.out(&format!(
                "\n{} holds {} file(s) and lab-cache.json; on another computer: LAB_CACHE_PATH={} lab up",
                dir.display(),
                copied.len(),
                dir.display()
            ));
        }
    }
    Ok(0)
}

/// The lab's base, exported into `dir` (VirtualBox labs whose base `lab up` made).
fn export_base(cx: &LabCx<'_>, dir: &Path, manifest: &mut Manifest) -> Result<std::path::PathBuf> {
    use crate::provider::virtualbox::base;
    if cx.lab.image.is_none() || cx.lab.install != crate::spec::InstallMode::Base {
        return Err(Error::Usage("--base is for VirtualBox labs with `install: base`".into()));
    }
    let spec = base::spec(&cx.lab)?;
    let file_name = format!("{}.labbase", spec.name);
    let target = dir.join(&file_name);
    if manifest.bases.iter().any(|b| b.fingerprint == spec.fingerprint && b.file == file_name) && target.is_file() {
        cx.printer.info(&format!("{file_name} is in {} already", dir.display()));
        return Ok(target);
    }
    if !base::records().iter().any(|r| r.name == spec.name) {
        return Err(Error::Preflight {
            problem: format!("this lab's base {} is not on this computer yet", spec.name),
            fix: "`lab up` makes it; then `lab fetch --into DIR --base` again".into(),
        });
    }
    let d = crate::provider::virtualbox::driver::Driver::detect(std::sync::Arc::new(crate::proc::System))?;
    let (sha256, size) = base::export(&d, &spec.name, &target, &|m| cx.printer.info(m))?;
    manifest.put_base(BaseEntry {
        file: file_name,
        name: spec.name.clone(),
        fingerprint: spec.fingerprint.clone(),
        arch: spec.arch.name().into(),
        image: spec.image.clone(),
        sha256,
        size,
    });
    Ok(target)
}
